"""Probability calibration of the booster's raw score, stored as plain numbers (no pickle).

The calibrator maps LightGBM's raw log-odds score to a probability of fraud. It is fitted on the
labelled claims of the calibration window, after the booster was trained, so that a class
re-weighting chosen for ranking (``scale_pos_weight``) does not leak into the probabilities.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression

from riskml.config import CalibrationMethod
from riskml.errors import RiskmlError


@dataclass(frozen=True)
class Calibrator:
    """``platt``: ``1 / (1 + exp(-(a * raw + b)))``; ``isotonic``: piecewise-linear steps."""

    method: CalibrationMethod
    params: dict[str, Any] = field(default_factory=dict)

    def __call__(self, raw: np.ndarray) -> np.ndarray:
        raw = np.asarray(raw, dtype=np.float64)
        if self.method == "platt":
            z = float(self.params["a"]) * raw + float(self.params["b"])
            return np.asarray(1.0 / (1.0 + np.exp(-z)), dtype=np.float64)
        x = np.asarray(self.params["x"], dtype=np.float64)
        y = np.asarray(self.params["y"], dtype=np.float64)
        return np.asarray(np.interp(raw, x, y), dtype=np.float64)

    def to_dict(self) -> dict[str, Any]:
        return {"method": self.method, "params": self.params}

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> Calibrator:
        method = raw.get("method")
        if method not in ("platt", "isotonic"):
            raise RiskmlError(f"model bundle: calibrator.method {method!r} is not known")
        return cls(method=method, params=dict(raw.get("params", {})))


def fit_calibrator(raw: np.ndarray, y: np.ndarray, method: CalibrationMethod) -> Calibrator:
    """Fit the calibrator on raw scores and 0/1 labels of the calibration window."""
    raw = np.asarray(raw, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if len(np.unique(y)) < 2:
        raise RiskmlError(
            "calibration window: needs labelled fraud and non-fraud claims, "
            f"found {int((y == 1).sum())} fraud of {len(y)} labelled"
        )
    if method == "platt":
        lr = LogisticRegression(C=1e6, max_iter=1000)
        lr.fit(raw.reshape(-1, 1), y)
        return Calibrator("platt", {"a": float(lr.coef_[0, 0]), "b": float(lr.intercept_[0])})
    iso = IsotonicRegression(out_of_bounds="clip", y_min=0.0, y_max=1.0)
    iso.fit(raw, y)
    return Calibrator(
        "isotonic",
        {"x": [float(v) for v in iso.X_thresholds_], "y": [float(v) for v in iso.y_thresholds_]},
    )
