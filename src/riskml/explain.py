"""Reasons for a score: exact TreeSHAP contributions turned into sentences investigators read.

LightGBM's own ``pred_contrib`` is exact TreeSHAP (path-dependent, on the raw log-odds score) and
measured faster here than ``shap.TreeExplainer`` for the same model while agreeing to float
precision (see ``benchmarks/bench_scoring.py`` and ``tests/model/test_explain.py``). Contributions
plus the base value sum to the booster's raw score; the calibrated probability is a monotone map of
that raw score, so the ranking of reasons is the ranking of what pushed the risk up.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import lightgbm as lgb
import numpy as np

TOP_REASONS = 5


@dataclass(frozen=True)
class Reason:
    """One SHAP contribution: the feature, its value for this claim, its push on the raw score."""

    feature: str
    value: float | None
    contribution: float
    text: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def tree_contributions(
    booster: lgb.Booster, features: np.ndarray, num_threads: int = 1
) -> np.ndarray:
    """Exact TreeSHAP values, shape (rows, features + 1); the last column is the base value."""
    if features.shape[0] == 0:
        return np.zeros((0, features.shape[1] + 1))
    out = booster.predict(features, pred_contrib=True, num_threads=num_threads)
    return np.asarray(out, dtype=np.float64)


def reason_eligibility(features: np.ndarray, feature_names: list[str]) -> np.ndarray:
    """Which (row, feature) contributions may become a reason (:func:`reason_mask`): known
    values that mean something for the claim's benefit type (read from the ``benefit_type_code``
    feature when the model has it) and do not read 0 once rounded. Vectorised per feature."""
    from riskml.features import FEATURES
    from riskml.features.registry import reason_mask

    benefit_types = None
    if "benefit_type_code" in feature_names:
        codes = features[:, feature_names.index("benefit_type_code")]
        labels = np.asarray(FEATURES["benefit_type_code"].labels or (), dtype=object)
        known = np.isfinite(codes) & (codes >= 0) & (codes < len(labels))
        benefit_types = np.full(len(codes), None, dtype=object)
        benefit_types[known] = labels[codes[known].astype(np.int64)]
    out = np.ones(features.shape, dtype=bool)
    for col, name in enumerate(feature_names):
        if name in FEATURES:  # an unregistered column (a stand-in model) is left as it is
            out[:, col] = reason_mask(name, features[:, col], benefit_types)
    return out


def top_reasons(
    contributions: np.ndarray,
    features: np.ndarray,
    feature_names: list[str],
    k: int = TOP_REASONS,
) -> list[list[Reason]]:
    """The ``k`` largest positive contributions of each row that read right, largest first, with
    their sentences.

    Only contributions that raise the risk are reasons, and only those that mean something for
    the claim (:func:`reason_eligibility`: not "0.0 inpatient days per bed" on an outpatient
    visit, not "by 0.00 per item", not a missing value); a claim the model finds unremarkable
    may therefore have fewer than ``k`` reasons, or none. ``value`` keeps full precision; the
    text rounds for people.
    """
    from riskml.features import reason_text

    n_features = len(feature_names)
    contrib = contributions[:, :n_features]
    if contrib.shape[0] == 0:
        return []
    keep = (contrib > 0) & reason_eligibility(features, feature_names)
    ranked = np.where(keep, contrib, -np.inf)
    k = min(k, n_features)
    # argpartition then a sort of the k kept columns: O(rows * features), no per-row Python sort
    part = np.argpartition(-ranked, kth=k - 1, axis=1)[:, :k]
    kept = np.take_along_axis(ranked, part, axis=1)
    order = np.argsort(-kept, axis=1, kind="stable")
    idx = np.take_along_axis(part, order, axis=1)
    vals = np.take_along_axis(kept, order, axis=1)
    out: list[list[Reason]] = []
    for row, (cols, cs) in enumerate(zip(idx, vals, strict=True)):
        reasons = []
        for col, c in zip(cols, cs, strict=True):
            if not c > 0:  # -inf: no further contribution that reads right
                break
            value = features[row, col]
            name = feature_names[col]
            v = None if np.isnan(value) else float(value)
            reasons.append(Reason(name, v, float(c), reason_text(name, value)))
        out.append(reasons)
    return out
