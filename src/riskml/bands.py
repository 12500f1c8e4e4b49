"""Risk bands: ``high`` and ``medium`` are flagged for review, ``low`` is not.

The cut-offs are calibrated scores fixed once at training from the unit's capacity (the share of
claims each band should hold), never recomputed per backlog.

Scores tie: a small model (few trees) or an isotonic calibrator gives whole blocks of claims the
same score. A cut-off inside such a block would put all of it in the band (a quantile cut-off
put 8.8% of a test window in ``medium`` instead of 4%), so each cut-off is the lowest score that
keeps its band *at or under* its share; the claims of a block that does not fit go to the band
below. When ties leave a band well short of its share, a warning says so and by how much.
"""

from __future__ import annotations

import logging

import numpy as np

from riskml.errors import RiskmlError

log = logging.getLogger(__name__)

BANDS: tuple[str, ...] = ("high", "medium", "low")
FLAGGED_BANDS: tuple[str, ...] = ("high", "medium")
#: A band short of its target count by more than this share of it (and by more than one claim)
#: because of tied scores is warned about.
SHORTFALL_WARNING = 0.10


def _count(share: float, n: int) -> int:
    """The whole number of claims a share of ``n`` allows (float error never adds a claim)."""
    return int(np.floor(share * n + 1e-9))


def _cut(ascending: np.ndarray, k: int) -> float:
    """The lowest score ``v`` with at most ``k`` scores ``>= v`` (``ascending`` sorted).

    With ``t`` the (k+1)-th largest score, that is the smallest score above ``t``: every score
    ``<= t`` (at least ``n - k`` of them) stays out, and no lower cut-off keeps ``k``. Above
    the largest score when even the top tie block holds more than ``k`` (the band is empty).
    """
    n = ascending.size
    if k >= n:
        return float(ascending[0])
    t = ascending[n - 1 - k]
    idx = int(np.searchsorted(ascending, t, side="right"))
    if idx < n:
        return float(ascending[idx])
    return float(np.nextafter(ascending[-1], np.inf))


def band_thresholds(scores: np.ndarray, high_share: float, medium_share: float) -> dict[str, float]:
    """Calibrated-score cut-offs so that ``high`` holds at most the top ``high_share`` of the
    claims and ``medium`` at most the next ``medium_share`` (computed once, on the calibration
    window's claims); as close to those shares as tied scores allow, with a warning when ties
    leave a band more than :data:`SHORTFALL_WARNING` short."""
    s = np.asarray(scores, dtype=np.float64)
    if s.size == 0:
        raise RiskmlError("calibration window: no claims to place the risk bands on")
    if np.isnan(s).any():
        raise RiskmlError("calibration window: scores hold NaN; the risk bands cannot be placed")
    ascending = np.sort(s)
    n = s.size
    want_high, want_medium = _count(high_share, n), _count(medium_share, n)
    high = _cut(ascending, want_high)
    got_high = n - int(np.searchsorted(ascending, high, side="left"))
    medium = min(_cut(ascending, got_high + want_medium), high)
    thresholds = {"high": high, "medium": medium}
    for note in tie_shortfalls(s, thresholds, high_share, medium_share):
        log.warning("%s", note)
    return thresholds


def tie_shortfalls(
    scores: np.ndarray, thresholds: dict[str, float], high_share: float, medium_share: float
) -> list[str]:
    """What the model card and the training summary say when tied ``scores`` (those the
    cut-offs were placed on) leave a band more than :data:`SHORTFALL_WARNING` short of its
    share: the band, the share it achieved and the one wanted; empty when the shares hold."""
    s = np.asarray(scores, dtype=np.float64)
    n = s.size
    if n == 0:
        return []
    got_high = int((s >= thresholds["high"]).sum())
    got_medium = int((s >= thresholds["medium"]).sum()) - got_high
    notes = []
    wanted = (
        ("high", _count(high_share, n), got_high),
        ("medium", _count(medium_share, n), got_medium),
    )
    for band, want, got in wanted:
        if want - got > max(1, SHORTFALL_WARNING * want):
            notes.append(
                f"risk band {band!r} holds {100 * got / n:.2f}% of the calibration claims instead "
                f"of {100 * want / n:.2f}% ({got:,d} of {want:,d} wanted): {np.unique(s).size:,d} "
                f"distinct scores for {n:,d} claims, and a block of tied scores at the cut-off "
                "would overfill the band; a model with more trees or a finer calibrator "
                "separates them"
            )
    return notes


def band_shares(scores: np.ndarray, thresholds: dict[str, float]) -> dict[str, float]:
    """The share of ``scores`` in each band under ``thresholds``."""
    bands = assign_bands(np.asarray(scores, dtype=np.float64), thresholds)
    n = max(len(bands), 1)
    return {band: float((bands == band).sum() / n) for band in BANDS}


def assign_bands(scores: np.ndarray, thresholds: dict[str, float]) -> np.ndarray:
    """The band of each score under fixed cut-offs (a score on a cut-off belongs to the band)."""
    return np.where(
        scores >= thresholds["high"],
        "high",
        np.where(scores >= thresholds["medium"], "medium", "low"),
    )
