"""Risk bands: ``high`` and ``medium`` are flagged for review, ``low`` is not.

The cut-offs are calibrated scores fixed once at training from the unit's capacity (the share of
claims each band should hold), never recomputed per backlog.
"""

from __future__ import annotations

import numpy as np

from riskml.errors import RiskmlError

BANDS: tuple[str, ...] = ("high", "medium", "low")
FLAGGED_BANDS: tuple[str, ...] = ("high", "medium")


def band_thresholds(scores: np.ndarray, high_share: float, medium_share: float) -> dict[str, float]:
    """Calibrated-score cut-offs so that ``high`` holds the top ``high_share`` of the claims and
    ``medium`` the next ``medium_share`` (computed once, on the calibration window's claims)."""
    s = np.asarray(scores, dtype=np.float64)
    if s.size == 0:
        raise RiskmlError("calibration window: no claims to place the risk bands on")
    high = float(np.quantile(s, 1 - high_share, method="higher"))
    medium = float(np.quantile(s, 1 - high_share - medium_share, method="higher"))
    return {"high": high, "medium": min(medium, high)}


def assign_bands(scores: np.ndarray, thresholds: dict[str, float]) -> np.ndarray:
    """The band of each score under fixed cut-offs (a score on a cut-off belongs to the band)."""
    return np.where(
        scores >= thresholds["high"],
        "high",
        np.where(scores >= thresholds["medium"], "medium", "low"),
    )
