"""The promotion gate: a new version becomes ``champion`` only if it is no worse and fair.

:func:`gate` is the pure decision on two metrics JSONs of the same test window;
:func:`promote_if_better` measures the current champion on the new run's test window, applies
the gate, moves the alias when it passes and records the decision on the run and the version.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from mlflow.exceptions import MlflowException

from riskml.bundle import ModelBundle
from riskml.defaults import CHAMPION
from riskml.evaluate import fairness_frame, fairness_violations
from riskml.registry import RegisteredVersion, load_model_bundle
from riskml.tracking import client
from riskml.train import score_window

if TYPE_CHECKING:
    from riskml.config import TrainConfig
    from riskml.data import ClaimsData
    from riskml.train import TrainResult

log = logging.getLogger(__name__)


@dataclass
class GateDecision:
    promoted: bool
    reasons: list[str]
    new_metrics: dict[str, Any]
    champion_metrics: dict[str, Any] | None = None
    champion_version: str | None = None
    basis: str = ""
    """How the champion's metrics were obtained (see :func:`champion_metrics_on`)."""
    evidence: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Per gated attribute: what the counts say about the false-positive-rate bound."""

    @property
    def notes(self) -> list[str]:
        """The gated attributes whose bound the counts could not decide, with point ratios."""
        return [
            f"fairness by {attr}: not enough evidence (point false-positive-rate ratio "
            f"{_ratio(e['point_ratio'])}, {e['supported_groups']} of {e['groups']} groups with "
            "enough labelled non-fraud claims)"
            for attr, e in self.evidence.items()
            if e["status"] == "not enough evidence"
        ]


def _ratio(value: float | None) -> str:
    return "undefined" if value is None else f"{value:.2f}"


def gate(
    new: dict[str, Any],
    champion: dict[str, Any] | None,
    config: TrainConfig,
) -> tuple[bool, list[str]]:
    """Pure decision of the promotion gate on two metrics JSONs of the same test window.

    Returns (passes, reasons). Quality may not drop beyond the tolerances; the fairness bounds
    (false-positive-rate ratio, per-group precision floor) apply to the new model always.
    """
    g, fc = config.gate, config.fairness
    reasons: list[str] = []
    if champion is not None:
        for key, tol in (
            ("auc_pr", g.auc_pr_tolerance),
            ("recall_at_capacity", g.recall_tolerance),
        ):
            n, c = new.get(key), champion.get(key)
            if n is None:
                reasons.append(f"{key} of the new model is undefined on the test window")
            elif c is not None and n < c - tol:
                reasons.append(
                    f"{key} {n:.4f} is worse than the champion's {c:.4f} by more than {tol}"
                )
    table = fairness_frame(new)
    if not table.empty:
        table = table[table["attribute"].isin(g.attributes)]
    if table.empty:
        reasons.append("no fairness table in the new model's metrics")
    else:
        precision = new.get("precision_at_capacity")
        reasons += fairness_violations(
            table,
            float("nan") if precision is None else float(precision),
            max_fpr_ratio=g.max_fpr_ratio,
            min_group_precision_ratio=g.min_group_precision_ratio,
            min_group_negatives=fc.min_group_negatives,
            min_group_flagged=fc.min_group_flagged,
            alpha=g.alpha,
        )
    return (not reasons), reasons


def champion_metrics_on(
    bundle: ModelBundle, data: ClaimsData, result: TrainResult
) -> tuple[dict[str, Any], str]:
    """The champion's metrics to compare the new version with, and how they were obtained.

    A champion trained before the new test window began is scored on that window: the same
    claims and labels, out of time for both. A champion that learned from labels of the window
    (it was refit later than the window's start) would look better there than it is, so its own
    recorded metrics (the backtest of its procedure on its own test window) are compared instead.
    """
    if bundle.trained_as_of > result.windows.test_start:
        return bundle.metrics, (
            f"champion version {bundle.model_version} learned from labels up to "
            f"{bundle.trained_as_of.date()}, after the new test window began "
            f"({result.windows.test_start.date()}): compared by its recorded metrics"
        )
    return _scored_on_test_window(bundle, data, result), (
        f"champion version {bundle.model_version} scored on the new test window"
    )


def _scored_on_test_window(
    bundle: ModelBundle, data: ClaimsData, result: TrainResult
) -> dict[str, Any]:
    test = result.test_frame
    claims = data.claims[data.claims["claim_id"].astype(str).isin(test.index)]
    feats = bundle.feature_builder.transform(data, claims).reindex(test.index)
    scores = bundle.predict_risk(feats, num_threads=result.config.lightgbm.num_threads)
    return score_window(test, scores, result.config, probability=True)


def promote_if_better(
    registered: RegisteredVersion, data: ClaimsData, result: TrainResult
) -> GateDecision:
    """Move ``champion`` to the new version only if it passes the gate; say why otherwise."""
    mc = client()
    name = registered.model_name
    champion: ModelBundle | None = None
    try:
        mv = mc.get_model_version_by_alias(name, CHAMPION)
        champion = load_model_bundle(f"models:/{name}/{mv.version}")
    except MlflowException:
        champion = None
    champ_metrics, basis = (
        champion_metrics_on(champion, data, result) if champion else (None, "no champion yet")
    )
    ok, reasons = gate(result.metrics, champ_metrics, result.config)
    decision = GateDecision(
        promoted=ok,
        reasons=reasons,
        new_metrics=result.metrics,
        champion_metrics=champ_metrics,
        champion_version=champion.model_version if champion else None,
        basis=basis,
        evidence=dict(result.metrics.get("fairness", {}).get("evidence", {})),
    )
    if ok:
        mc.set_registered_model_alias(name, CHAMPION, registered.version)
        was = f" (was version {decision.champion_version})" if champion else ""
        decision.reasons = [f"promoted version {registered.version} to {CHAMPION}{was}"]
        log.info("%s", decision.reasons[0])
    else:
        log.warning(
            "version %s not promoted; %s stays with version %s: %s",
            registered.version,
            CHAMPION,
            decision.champion_version,
            "; ".join(reasons),
        )
    mc.set_tag(registered.run_id, "gate_basis", basis[:4000])
    if decision.notes:
        mc.set_tag(registered.run_id, "gate_notes", "; ".join(decision.notes)[:4000])
        mc.set_model_version_tag(
            name, registered.version, "gate_notes", "; ".join(decision.notes)[:4000]
        )
    for note in decision.notes:
        log.warning("%s", note)
    mc.set_tag(registered.run_id, "gate", "passed" if ok else "refused")
    mc.set_tag(registered.run_id, "gate_reasons", "; ".join(decision.reasons)[:4000])
    mc.set_model_version_tag(name, registered.version, "gate", "passed" if ok else "refused")
    mc.set_model_version_tag(name, registered.version, "gate_reasons", "; ".join(reasons)[:4000])
    return decision
