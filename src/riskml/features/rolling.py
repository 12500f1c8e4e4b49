"""An entity against its own past: how much is known about it, and its recent window against the
window before.

Nothing here is fitted. A provider, doctor or employer is described by the rolling history before
each claim (at most :data:`~riskml.reach.LOOKBACK_DAYS` back), so an entity first seen after
training has real values from its first claims on, and a provider whose billing changes is
compared with itself as it was.

**Windows.** The *year* is the lookback ending just before the claim; the *recent* window is its
last ``recent_days``; the *past* window is the rest of the year, from the entity's first claim in
it. Expected counts in the recent window are the past window's rate times the recent window's
length, and are missing while the past window is shorter than :data:`MIN_PAST_DAYS` (an entity
this new has no past to compare with: :func:`how_much_is_known` says so instead).
"""

from __future__ import annotations

import numpy as np

from riskml.features.context import DAY_S, Groups
from riskml.features.history import LOOKBACK_S
from riskml.features.norms import safe_ratio

#: The shortest past window a recent window is compared with.
MIN_PAST_DAYS = 30


def how_much_is_known(g: Groups, time: np.ndarray) -> dict[str, np.ndarray]:
    """Per row of ``g``: the group's earlier rows in the year (``claims``) and the days since the
    first of them (``days``, 0 when there is none; at most a year)."""
    first = g.window_first_time(time, LOOKBACK_S)
    days = np.where(np.isnan(first), 0.0, (np.asarray(time, dtype="float64") - first) / DAY_S)
    claims = g.window_count(time, LOOKBACK_S)
    return {"claims": claims, "days": np.where(np.isnan(claims), np.nan, days)}


def own_past_expected(
    recent: np.ndarray, year: np.ndarray, days_known: np.ndarray, recent_days: float
) -> np.ndarray:
    """Rows the entity would have in its recent window at the rate of its past window.

    ``recent`` and ``year`` are the counts of earlier rows in the recent window and in the year,
    ``days_known`` the days since the first of them. Missing when the past window is shorter
    than :data:`MIN_PAST_DAYS`.
    """
    past_days = np.asarray(days_known, dtype="float64") - recent_days
    past = np.asarray(year, dtype="float64") - np.asarray(recent, dtype="float64")
    span = np.where(past_days >= MIN_PAST_DAYS, past_days, np.nan)
    return safe_ratio(past * recent_days, span)


def recent_vs_past_mean(
    g: Groups, values: np.ndarray, time: np.ndarray, recent_days: int
) -> np.ndarray:
    """Mean of ``values`` over the group's earlier rows in the recent window against their mean
    over the past window (the rest of the year); NaN where either has no value.

    Sums are the exact sums of :meth:`Groups.window_sum`, so the ratio has the same bits in a
    chunk as in one pass.
    """
    v = np.asarray(values, dtype="float64")
    ok = np.isfinite(v).astype("float64")
    v0 = np.where(ok > 0, v, 0.0)
    recent_sum = g.window_sum(v0, time, recent_days * DAY_S)
    recent_n = g.window_sum(ok, time, recent_days * DAY_S)
    year_sum = g.window_sum(v0, time, LOOKBACK_S)
    year_n = g.window_sum(ok, time, LOOKBACK_S)
    recent_mean = safe_ratio(recent_sum, recent_n)
    past_mean = safe_ratio(year_sum - recent_sum, year_n - recent_n)
    return safe_ratio(recent_mean, past_mean)
