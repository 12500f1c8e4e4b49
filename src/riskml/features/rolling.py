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
this new has no past to compare with: its claims in the year and days since first seen, declared
with :func:`rolling_feature`, say so instead).

**Declared rolling features.** A feature whose whole definition is one aggregate of an entity's
earlier claims in a window (a provider's claims in 365 days, a doctor's in 48 hours) is declared
with :func:`rolling_feature`: the declaration is the definition, and :func:`rolling_value`, one
generic function over :class:`Groups`, evaluates it on an :class:`EntityHistory`.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from riskml.features.context import DAY_S, Context, Groups, combine
from riskml.features.history import LOOKBACK_S
from riskml.features.norms import safe_ratio
from riskml.features.registry import (
    FEATURES,
    Aggregate,
    Entity,
    FeatureFn,
    FeatureSpec,
    Window,
    feature,
)

#: The shortest past window a recent window is compared with.
MIN_PAST_DAYS = 30


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


class EntityHistory:
    """The claims of the entities of the target claims (``entity``: a code column of the
    context's claims, such as ``"provider"`` or ``"doctor"``), in history order and grouped by
    the entity, and how to read a value of those claims at each target.

    Every window of the entity's family is a window of these rows; building them once per
    family call shares the slice and the sort of :attr:`groups` between its features.
    """

    def __init__(self, ctx: Context, entity: str) -> None:
        self.entity = entity
        self.rows, self.claims = ctx.entity_claims(entity)
        self.n_targets = len(ctx.targets)
        local = pd.Series(np.arange(len(self.rows)), index=self.rows).reindex(ctx.targets)
        position = local.to_numpy()
        self._target_known = ~np.isnan(position)
        self._target_position = np.nan_to_num(position, nan=0).astype("int64")
        self.codes = self.claims[entity].to_numpy()
        self.rank = self.claims["rank"].to_numpy()
        #: submission time in seconds: the time axis of every window
        self.time = self.claims["sub_s"].to_numpy()
        self.groups = Groups(self.codes, self.rank, self.time)
        self._grouped: dict[str, Groups] = {}

    def __len__(self) -> int:
        return len(self.rows)

    def grouped_by(self, *parts: np.ndarray, name: str | None = None) -> Groups:
        """The rows grouped by the entity and the finer key ``parts`` (integer codes of the
        rows, -1 for a row in no group). A ``name`` keeps the grouping for the next call with
        that name (a sort of the rows saved for every window over the same key)."""
        if name is not None and name in self._grouped:
            return self._grouped[name]
        groups = Groups(combine(self.codes, *parts), self.rank, self.time)
        if name is not None:
            self._grouped[name] = groups
        return groups

    def at_targets(self, values: np.ndarray) -> np.ndarray:
        """``values`` (one per row) at each target claim; NaN for a target without the entity."""
        if len(values) == 0:
            return np.full(self.n_targets, np.nan)
        return np.where(
            self._target_known, np.asarray(values, dtype="float64")[self._target_position], np.nan
        )


def window_seconds(window: Window) -> int:
    """``window`` in seconds of submission time (calendar months have no fixed length)."""
    if window.seconds is None:
        raise ValueError(f"a rolling window over claims needs hours or days, not {window}")
    return window.seconds


def rolling_value(history: EntityHistory, window: Window, aggregate: Aggregate) -> np.ndarray:
    """The aggregate of each target's entity's earlier claims in ``window``, per target:
    ``count`` the claims, ``first`` the days since the earliest of them (0 when there is none).
    NaN for a target without the entity."""
    width = window_seconds(window)
    if aggregate is Aggregate.COUNT:
        return history.at_targets(history.groups.window_count(history.time, width))
    if aggregate is Aggregate.FIRST:
        first = history.groups.window_first_time(history.time, width)
        elapsed = (np.asarray(history.time, dtype="float64") - first) / DAY_S
        return history.at_targets(np.where(np.isnan(first), 0.0, elapsed))
    raise ValueError(f"no rolling evaluation of {aggregate.value!r} over an entity's claims")


#: The rolling features declared with :func:`rolling_feature`, by the entity code column whose
#: history they read.
ROLLING: dict[str, list[str]] = {}
_ENTITY_COLUMNS = {Entity.PROVIDER: "provider", Entity.DOCTOR: "doctor", Entity.PERSON: "person"}


def rolling_feature(
    family: str,
    *,
    entity: Entity,
    window: Window,
    aggregate: Aggregate,
    reason: str,
    unit: str,
) -> Callable[[Callable[[], None]], FeatureFn]:
    """Register a feature whose declaration is its whole definition: ``aggregate`` over the
    claims of ``entity`` submitted in ``window`` before the claim. The decorated function has
    only its docstring (the meaning); its family's ``prepare`` evaluates every such feature with
    :func:`prepare_rolling` into a column of the feature's name."""
    column = _ENTITY_COLUMNS[entity]
    window_seconds(window)

    def register(declared: Callable[[], None]) -> FeatureFn:
        name = declared.__name__

        def read(prepared: pd.DataFrame) -> np.ndarray:
            return prepared[name].to_numpy(dtype="float64")

        read.__name__ = name
        read.__doc__ = declared.__doc__
        read.__module__ = declared.__module__
        read.__qualname__ = declared.__qualname__
        fn = feature(
            family, entity=entity, window=window, aggregate=aggregate, reason=reason, unit=unit
        )(read)
        ROLLING.setdefault(column, []).append(name)
        return fn

    return register


def rolling_specs(entity_column: str) -> list[FeatureSpec]:
    """The declared rolling features over the history of ``entity_column``."""
    return [FEATURES[name] for name in ROLLING.get(entity_column, [])]


def prepare_rolling(history: EntityHistory) -> dict[str, np.ndarray]:
    """Every declared rolling feature over ``history``'s entity, evaluated at the targets."""
    out = {}
    for spec in rolling_specs(history.entity):
        assert spec.window is not None
        out[spec.name] = rolling_value(history, spec.window, spec.aggregate)
    return out
