"""The Scorer: the one object batch scoring, Spark and the service use to score claims.

A Scorer wraps one registered model version (``load_scorer(uri)``): the fitted feature builder,
the booster, the calibrator and the fixed risk-band cut-offs. It turns claims plus their history
into calibrated risk scores, risk bands and reasons.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd

from riskml.defaults import DEFAULT_MODEL_URI
from riskml.explain import Reason, top_reasons, tree_contributions
from riskml.monitor import Reference

if TYPE_CHECKING:
    from riskml.bundle import ModelBundle
    from riskml.data import ClaimsData

log = logging.getLogger(__name__)

Explain = Literal["flagged", "all", "none"]


@dataclass(frozen=True)
class ScoreResult:
    """The answer for one claim."""

    claim_id: str
    risk_score: float
    risk_band: str
    reasons: list[Reason] = field(default_factory=list)
    inputs: np.ndarray | None = field(default=None, compare=False, repr=False)
    """The claim's feature vector in the model's ``feature_names`` order, kept so the service can
    watch the drift of what it scores (:mod:`riskml.monitor`); never part of an answer."""

    def as_dict(self) -> dict[str, Any]:
        return {
            "claim_id": self.claim_id,
            "risk_score": self.risk_score,
            "risk_band": self.risk_band,
            "reasons": [r.as_dict() for r in self.reasons],
        }


class Scorer:
    """Score claims with one model version; explain the ones people will read.

    ``num_threads`` is LightGBM's per call: 1 on the online path (a second OpenMP thread on a busy
    machine waits for a core far longer than one small prediction takes), more for large batches.
    """

    def __init__(self, bundle: ModelBundle, num_threads: int = 1, top_k: int = 5) -> None:
        self.bundle = bundle
        self.num_threads = num_threads
        self.top_k = top_k

    @property
    def model_name(self) -> str:
        return self.bundle.model_name

    @property
    def model_version(self) -> str:
        return str(self.bundle.model_version)

    @property
    def feature_names(self) -> list[str]:
        return list(self.bundle.feature_names)

    def drift_reference(self) -> Reference | None:
        """The training reference :mod:`riskml.monitor` compares scored claims with (None for a
        version trained before there was one)."""
        if not hasattr(self, "_reference"):
            raw = getattr(self.bundle, "reference", None)
            self._reference = Reference.from_dict(raw) if raw else None
        return self._reference

    def model_info(self) -> dict[str, Any]:
        """What ``GET /v1/model`` answers."""
        return {
            "name": self.model_name,
            "version": self.model_version,
            "alias": getattr(self.bundle, "alias", None),
            "trained_at": str(self.bundle.trained_at),
            "features": self.feature_names,
            "metrics": self.bundle.metrics,
            "band_thresholds": dict(self.bundle.band_thresholds),
        }

    def features(self, data: ClaimsData, claims: pd.DataFrame | None = None) -> pd.DataFrame:
        """Point-in-time features of ``claims`` (default: all of ``data``), ``data`` as history."""
        return self.bundle.feature_builder.transform(data, claims)

    def score_matrix(
        self, matrix: np.ndarray, explain: Explain = "flagged"
    ) -> tuple[np.ndarray, np.ndarray, list[list[Reason]]]:
        """Scores, bands and reasons for a finished feature matrix (rows in claim order)."""
        scores = self.bundle.predict_risk(matrix, num_threads=self.num_threads)
        bands = self.bundle.band(scores)  # cut-offs fixed at training, never per backlog
        reasons: list[list[Reason]] = [[] for _ in range(len(scores))]
        if explain != "none":
            rows = np.arange(len(scores)) if explain == "all" else np.flatnonzero(bands != "low")
            if rows.size:
                contrib = tree_contributions(
                    self.bundle.booster, matrix[rows], num_threads=self.num_threads
                )
                for row, rs in zip(
                    rows,
                    top_reasons(contrib, matrix[rows], self.feature_names, self.top_k),
                    strict=True,
                ):
                    reasons[row] = rs
        return scores, bands, reasons

    def unseen(self, data: ClaimsData, claims: pd.DataFrame | None = None) -> pd.DataFrame:
        """Claims with a benefit type, diagnosis group or provider type the model never saw."""
        builder = self.bundle.feature_builder
        if not hasattr(builder, "unseen"):
            return pd.DataFrame({"claim_id": [], "kind": [], "value": []}, dtype=object)
        return builder.unseen(data, data.claims if claims is None else claims)

    def _score(
        self, data: ClaimsData, claims: pd.DataFrame | None, explain: Explain
    ) -> tuple[pd.Index, np.ndarray, np.ndarray, list[list[Reason]], np.ndarray]:
        """Claim ids, scores, bands, reasons and the feature matrix: features, then
        :meth:`_score_features`."""
        feats = self.features(data, claims)
        return self._score_features(feats, data, data.claims if claims is None else claims, explain)

    def _score_features(
        self, feats: pd.DataFrame, data: ClaimsData, claims: pd.DataFrame, explain: Explain
    ) -> tuple[pd.Index, np.ndarray, np.ndarray, list[list[Reason]], np.ndarray]:
        """:meth:`score_matrix` of finished features (index ``claim_id``); a claim of a value the
        model never saw also gets a reason that says so (cold start). ``data`` is read only for
        its providers (their type)."""
        matrix = feats[self.feature_names].to_numpy(dtype=np.float64)
        scores, bands, reasons = self.score_matrix(matrix, explain)
        if explain != "none":
            unseen = self.unseen(data, claims).drop_duplicates(["claim_id", "kind"])
            if len(unseen):
                rows = pd.Series(np.arange(len(feats)), index=feats.index.astype(str))
                rows = rows.loc[rows.index.isin(unseen["claim_id"])]
                for cid, kind, value in unseen.itertuples(index=False):
                    reason = cold_start_reason(str(kind), str(value))
                    for pos in rows.loc[[cid]].to_numpy() if cid in rows.index else ():
                        reasons[pos] = [*reasons[pos], reason]
        return feats.index, scores, bands, reasons, matrix

    def score(
        self, data: ClaimsData, claims: pd.DataFrame | None = None, explain: Explain = "all"
    ) -> list[ScoreResult]:
        """Score ``claims`` against the history in ``data``; results in the order of ``claims``."""
        ids, scores, bands, reasons, matrix = self._score(data, claims, explain)
        return [
            ScoreResult(str(cid), float(s), str(b), r, inputs=row)
            for cid, s, b, r, row in zip(ids, scores, bands, reasons, matrix, strict=True)
        ]

    def score_frame(
        self, data: ClaimsData, claims: pd.DataFrame | None = None, explain: Explain = "flagged"
    ) -> pd.DataFrame:
        """The batch output of CONTRACT.md section 2 (``reasons`` as a JSON list per claim)."""
        return self._frame(*self._score(data, claims, explain)[:4])

    def score_features_frame(
        self, feats: pd.DataFrame, data: ClaimsData, claims: pd.DataFrame, explain: Explain
    ) -> pd.DataFrame:
        """:meth:`score_frame` of features computed elsewhere (index ``claim_id``, rows of
        ``claims`` in the same order): the Spark engine builds them per entity bucket."""
        return self._frame(*self._score_features(feats, data, claims, explain)[:4])

    def _frame(
        self, ids: pd.Index, scores: np.ndarray, bands: np.ndarray, reasons: list[list[Reason]]
    ) -> pd.DataFrame:
        return pd.DataFrame(
            {
                "claim_id": ids.astype(str),
                "risk_score": scores,
                "risk_band": bands.astype(str),
                "model_version": self.model_version,
                "reasons": [
                    json.dumps([x.as_dict() for x in r], ensure_ascii=False) for r in reasons
                ],
            }
        )


COLD_START_LABELS = {
    "benefit_type": "benefit type",
    "diagnosis_group": "diagnosis group",
    "provider_type": "provider type",
}


def cold_start_reason(kind: str, value: str) -> Reason:
    """The reason a claim carries when the model never saw one of its values in training."""
    return Reason(
        feature=f"unseen_{kind}",
        value=None,
        contribution=0.0,
        text=f"{COLD_START_LABELS.get(kind, kind)} {value!r} was not in the model's training "
        "data: the features compared with its peers are missing and the score rests on the rest",
    )


def load_scorer(uri: str = DEFAULT_MODEL_URI, num_threads: int = 1) -> Scorer:
    """The one entry point from a model URI to something that scores."""
    from riskml.registry import load_model_bundle

    return Scorer(load_model_bundle(uri), num_threads=num_threads)
