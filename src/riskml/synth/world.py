"""The generator's working state and the small tools every stage shares.

Inside the generator every entity is an integer index and every date an integer day offset
from the window start (``config.start``); strings, ids and real dates appear only in the
writer. Claims carry hidden ground-truth columns (``typ``, ``tclass``, ``unit``, ``improper``,
``look``) that the writer turns into ``ground_truth.parquet`` and drops from ``claims``.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from riskml.contract import BENEFIT_TYPES, CHANNELS, TYPOLOGIES
from riskml.synth.config import SynthConfig

NO_DAY = 10_000_000  # "no date" sentinel for death and report days (far after any window)
BENEFIT = {name: i for i, name in enumerate(BENEFIT_TYPES)}
CHANNEL = {name: i for i, name in enumerate(CHANNELS)}
TYPOLOGY = {name: i for i, name in enumerate(TYPOLOGIES)}
CLASSES = ("fraud", "abuse", "error")
CLASS = {name: i for i, name in enumerate(CLASSES)}
LOOKALIKES = (
    "chronic",
    "chemo",
    "long_stay",
    "migrant",
    "late_death",
    "readmission",
    "infusion_series",
    "repeat_exam",
)
LOOK = {name: i for i, name in enumerate(LOOKALIKES)}
# item modes: how the line items of a claim are drawn
MODE_NORMAL, MODE_SPARSE, MODE_RESELL = 0, 1, 2

CLAIM_COLUMNS: dict[str, str] = {
    "pid": "int64",
    "benefit": "int8",
    "prid": "int64",
    "eid": "int64",
    "region": "int64",
    "sub_s": "int64",  # submitted_at, seconds after the window start
    "start": "int64",  # service_start, day offset
    "end": "int64",  # service_end, day offset
    "dx": "int64",  # index into reference.DIAGNOSES, -1 for none
    "item_dx": "int64",  # diagnosis the line items treat (differs when upcoded)
    "amount": "float64",  # target amount (medical: items decide the final one)
    "channel": "int8",
    "doctor": "int64",  # -1 for none
    "mode": "int8",
    "typ": "int8",  # -1: honest
    "tclass": "int8",  # -1: honest
    "unit": "int64",  # ground-truth unit number within the typology, -1: none
    "improper_share": "float64",  # share of the final amount that is improper
    "look": "int8",  # look-alike kind, -1: none
    "supply": "int64",  # drug lines: days of supply dispensed (0: dose-based)
    "drug": "int64",  # a forced drug item (drug reselling), -1: none
    "unbundle": "int8",  # 1: package billed as components, 2: + a duplicated line
    "los": "int64",  # length of stay in days (inpatient-like claims)
    "key": "int64",  # stable claim number inside the generator
    "copy_of": "int64",  # key of the claim whose line items this one repeats, -1: none
    "locked": "int8",  # 1: part of an injected unit although honest itself (not to be reused)
}


def stage_rng(seed: int, stage: str) -> np.random.Generator:
    """An independent random stream per stage, stable across code changes in other stages."""
    return np.random.default_rng([seed, zlib.crc32(stage.encode())])


_MINUS_ONE = (
    "prid",
    "eid",
    "dx",
    "item_dx",
    "doctor",
    "typ",
    "tclass",
    "unit",
    "look",
    "drug",
    "copy_of",
)


def empty_claims(n: int = 0) -> pd.DataFrame:
    """A claims frame of ``n`` rows with honest defaults."""
    out = {}
    for name, dtype in CLAIM_COLUMNS.items():
        fill = -1 if name in _MINUS_ONE else 0
        out[name] = np.full(n, fill, dtype=dtype)
    return pd.DataFrame(out)


def make_claims(n: int, **cols: object) -> pd.DataFrame:
    """Claims with the given columns (arrays or scalars) and defaults elsewhere."""
    frame = empty_claims(n)
    for name, value in cols.items():
        if name not in CLAIM_COLUMNS:
            raise KeyError(name)
        frame[name] = np.broadcast_to(np.asarray(value), (n,)).astype(CLAIM_COLUMNS[name])
    if "item_dx" not in cols and "dx" in cols:
        frame["item_dx"] = frame["dx"]
    return frame


@dataclass
class Timeline:
    """Day offsets of the window's months (history months before the window are negative)."""

    start: np.datetime64
    months: int
    history_months: int = 12

    @property
    def n_days(self) -> int:
        return int(self.month_start(self.months))

    def month_start(self, m: np.ndarray | int) -> np.ndarray:
        first = self.start.astype("datetime64[M]") + np.asarray(m)
        return np.asarray((first.astype("datetime64[D]") - self.start).astype(np.int64))

    def month_of(self, day: np.ndarray) -> np.ndarray:
        d = self.start + np.asarray(day).astype("timedelta64[D]")
        return np.asarray(
            (d.astype("datetime64[M]") - self.start.astype("datetime64[M]")).astype(np.int64)
        )


@dataclass
class World:
    """Everything generated so far; stages return an updated copy."""

    config: SynthConfig
    timeline: Timeline
    persons: pd.DataFrame
    employers: pd.DataFrame = field(default_factory=pd.DataFrame)
    providers: pd.DataFrame = field(default_factory=pd.DataFrame)
    contributions: pd.DataFrame = field(default_factory=pd.DataFrame)
    months: pd.DataFrame = field(default_factory=pd.DataFrame)  # person-month states
    claims: pd.DataFrame = field(default_factory=empty_claims)
    extra_items: pd.DataFrame = field(default_factory=pd.DataFrame)
    units: list[pd.DataFrame] = field(default_factory=list)  # unit-level ground truth
    candidates: dict[str, int] = field(default_factory=dict)  # candidate units per typology


class RegionalSampler:
    """Draw an item (provider, employer) within a given region, proportionally to a weight.

    Items are sorted by region and their weights normalised per region and stacked as
    ``region + cumulative share``, so one ``searchsorted`` serves any mix of regions.
    """

    def __init__(self, item_ids: np.ndarray, regions: np.ndarray, weights: np.ndarray, n: int):
        order = np.lexsort((item_ids, regions))
        self.ids = np.asarray(item_ids)[order]
        reg = np.asarray(regions)[order]
        w = np.asarray(weights, dtype=float)[order]
        totals = np.bincount(reg, weights=w, minlength=n)
        self.has = totals > 0
        share = w / np.where(totals[reg] > 0, totals[reg], 1.0)
        cum = np.zeros_like(share)
        for r in range(n):
            sel = reg == r
            cum[sel] = np.cumsum(share[sel])
        self.edges = reg + np.minimum(cum, 1.0 - 1e-12)
        self.edges[np.r_[reg[1:] != reg[:-1], True]] = reg[np.r_[reg[1:] != reg[:-1], True]] + 1.0

    def sample(self, rng: np.random.Generator, regions: np.ndarray) -> np.ndarray:
        regions = np.asarray(regions)
        if len(regions) and not self.has[regions].all():
            missing = int(regions[~self.has[regions]][0])
            raise ValueError(f"no item to sample in region index {missing}")
        u = regions + rng.random(len(regions))
        idx = np.searchsorted(self.edges, u, side="right")
        return np.asarray(self.ids[np.minimum(idx, len(self.ids) - 1)])


def add_claims(world: World, new: pd.DataFrame) -> pd.DataFrame:
    """``world.claims`` with ``new`` appended under fresh keys."""
    base = world.claims
    start = int(base["key"].max()) + 1 if len(base) else 0
    new = new.assign(key=np.arange(start, start + len(new), dtype=np.int64))
    return pd.concat([base, new], ignore_index=True)


def day_seconds(rng: np.random.Generator, n: int) -> np.ndarray:
    """Time of day in seconds, mostly office hours."""
    hours = np.clip(rng.normal(12.5, 2.8, n), 0, 23.99)
    return np.asarray((hours * 3600).astype(np.int64))


def submit_after(rng: np.random.Generator, end: np.ndarray, channel: np.ndarray) -> np.ndarray:
    """``submitted_at`` in seconds: provider_direct same or next day, counter/online later."""
    n = len(end)
    direct = channel == CHANNEL["provider_direct"]
    lag = np.where(
        direct,
        rng.integers(0, 2, n),
        np.ceil(rng.lognormal(np.log(10), 0.7, n)).astype(np.int64),
    )
    return np.asarray((end + lag) * 86_400 + day_seconds(rng, n))


def ages_at(birth: np.ndarray, day: np.ndarray | int) -> np.ndarray:
    """Age in whole years (approximate: 365.25-day years) at a day offset."""
    return np.asarray(np.floor((np.asarray(day) - np.asarray(birth)) / 365.25).astype(np.int64))
