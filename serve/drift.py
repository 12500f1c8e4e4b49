"""Drift gauges on ``/metrics``: what ``riskml monitor`` says, over the claims scored lately.

:class:`DriftWindow` keeps the last ``size`` claims the champion scored (their feature vector,
raw amount, score and band) in fixed-size arrays, so its memory is bounded whatever the traffic;
a swap to another model version starts a new window (the reference is the version's own).
:class:`DriftCollector` computes, at each scrape, :func:`riskml.monitor.compare` of that window
against the answering model's training reference, the one PSI ``riskml monitor`` computes, and
exports it as gauges:

- ``riskml_drift_feature_psi{feature}``: PSI of each model input and of ``amount_claimed``;
- ``riskml_drift_score_psi``: PSI of the calibrated score;
- ``riskml_drift_band_share{band}`` and ``riskml_drift_band_target{band}``;
- ``riskml_drift_alerts{kind}``: the report's alerts by kind (``too_few_claims`` while the window
  holds fewer claims than the monitoring config's ``min_claims``);
- ``riskml_drift_window_claims``: claims in the window (all gauges labelled ``model_version``).
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from riskml.config import MonitorConfig
from riskml.monitor import Reference, compare
from riskml.scoring import ScoreResult
from serve.scoring import ModelSlot

AMOUNT = "amount_claimed"


class DriftWindow:
    """The last ``size`` claims scored by one model version, in ring buffers."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.version: str | None = None
        self._lock = threading.Lock()
        self._inputs: np.ndarray | None = None
        self._amounts = np.empty(size)
        self._scores = np.empty(size)
        self._bands = np.empty(size, dtype=object)
        self._next = 0
        self._count = 0

    def add(self, version: str, results: Sequence[ScoreResult], amounts: Sequence[float]) -> None:
        """Add a request's results (and its claims' amounts) scored by ``version``."""
        if not results:
            return
        with self._lock:
            if version != self.version:
                self.version, self._inputs, self._next, self._count = version, None, 0, 0
            for r, amount in zip(results, amounts, strict=True):
                i = self._next
                if r.inputs is not None:
                    if self._inputs is None or self._inputs.shape[1] != len(r.inputs):
                        self._inputs = np.full((self.size, len(r.inputs)), np.nan)
                    self._inputs[i] = r.inputs
                elif self._inputs is not None:
                    self._inputs[i] = np.nan
                self._amounts[i] = amount
                self._scores[i] = r.risk_score
                self._bands[i] = r.risk_band
                self._next = (i + 1) % self.size
                self._count = min(self._count + 1, self.size)

    def snapshot(self) -> tuple[str | None, np.ndarray | None, np.ndarray, np.ndarray, np.ndarray]:
        """(version, inputs, amounts, scores, bands) of the claims in the window, copied."""
        with self._lock:
            n = self._count
            inputs = None if self._inputs is None else self._inputs[:n].copy()
            return (
                self.version,
                inputs,
                self._amounts[:n].copy(),
                self._scores[:n].copy(),
                self._bands[:n].astype(str),
            )


class DriftCollector(Collector):
    """Prometheus collector of the drift gauges (see the module doc), computed at scrape time."""

    def __init__(self, window: DriftWindow, slot: ModelSlot, config: MonitorConfig) -> None:
        self.window = window
        self.slot = slot
        self.config = config

    def report(self) -> tuple[str, int, dict[str, Any] | None]:
        """(model version, claims in the window, :func:`riskml.monitor.compare` report or None
        when the answering model has no reference or the window belongs to another version)."""
        version, inputs, amounts, scores, bands = self.window.snapshot()
        model = self.slot.current
        if model is None or version != str(model.model_version):
            return str(version or ""), 0 if version is None else len(scores), None
        reference: Reference | None = getattr(model, "drift_reference", lambda: None)()
        if reference is None or not len(scores):
            return version, len(scores), None
        columns: dict[str, np.ndarray] = {AMOUNT: amounts}
        names = list(getattr(model, "feature_names", []))
        if inputs is not None and inputs.shape[1] == len(names):
            columns.update({name: inputs[:, j] for j, name in enumerate(names)})
        report = compare(
            reference,
            columns,
            scores,
            bands,
            psi_warn=self.config.psi_warn,
            psi_alert=self.config.psi_alert,
            band_share_tolerance=self.config.band_share_tolerance,
            min_claims=self.config.min_claims,
        )
        return version, len(scores), report

    def collect(self) -> Iterator[GaugeMetricFamily]:
        version, n, report = self.report()
        claims = GaugeMetricFamily(
            "riskml_drift_window_claims",
            "claims in the window the drift gauges are computed over",
            labels=["model_version"],
        )
        claims.add_metric([version], n)
        yield claims
        if report is None:
            return
        feature = GaugeMetricFamily(
            "riskml_drift_feature_psi",
            "PSI of a model input over the window against the training reference",
            labels=["model_version", "feature"],
        )
        for name, row in sorted(report["features"].items()):
            feature.add_metric([version, name], row["psi"])
        yield feature
        score = GaugeMetricFamily(
            "riskml_drift_score_psi",
            "PSI of the risk score over the window against the training reference",
            labels=["model_version"],
        )
        score.add_metric([version], report["score"]["psi"])
        yield score
        share = GaugeMetricFamily(
            "riskml_drift_band_share",
            "share of the window's claims in each risk band",
            labels=["model_version", "band"],
        )
        target = GaugeMetricFamily(
            "riskml_drift_band_target",
            "target share of each risk band (what its cut-offs were fixed for)",
            labels=["model_version", "band"],
        )
        for band, row in report["bands"].items():
            share.add_metric([version, band], row["share"])
            if row["target"] is not None:
                target.add_metric([version, band], row["target"])
        yield share
        yield target
        alerts = GaugeMetricFamily(
            "riskml_drift_alerts",
            "alerts of the monitoring report over the window, by kind",
            labels=["model_version", "kind"],
        )
        kinds = Counter(a["kind"] for a in report["alerts"])
        for kind in ("too_few_claims", "feature_drift", "score_drift", "band_share"):
            alerts.add_metric([version, kind], kinds.get(kind, 0))
        yield alerts
