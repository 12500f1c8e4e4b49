"""A data directory read a slice at a time: what batch scoring uses instead of loading it whole.

:class:`DataDirReader` checks the whole directory against the contract in one streaming pass
(record batches of :data:`BATCH_ROWS` rows: every value, rule, key and reference that
:func:`riskml.data.load_data_dir` checks, with only key columns kept across batches), then
serves the claims of one chunk of a backlog with exactly the history their features read
(:mod:`riskml.reach`, cut by :func:`riskml.features.history_for`): claims from
:data:`riskml.reach.REACH_DAYS` before the chunk. While scoring, memory is one chunk and its
reach, whatever the length of the backlog; the checking pass before it holds one record batch
plus, per claim, its key columns (for the references and the chunk plan) and 64-bit hashes of
the keys of the claims, items and contributions (about 170 bytes a claim at peak). Batch
scoring takes the keys once (:meth:`DataDirReader.pop_claim_keys`) and drops them when the
chunks are planned.
"""

from __future__ import annotations

import contextlib
import ctypes
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, overload

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.dataset as pads

from riskml.contract import TABLES, TableSpec
from riskml.data import (
    READ_ERRORS,
    ClaimsData,
    check_key,
    check_references,
    coerce_column,
    empty_table,
    isin,
    plausibility_for,
    read_dataset,
    table_dataset,
    unreadable,
    validate_frame,
)
from riskml.errors import DataContractError
from riskml.features.history import history_for
from riskml.location import Location
from riskml.reach import CONTRIBUTION_RELATIONS, contribution_reach_start, reach_before

#: Rows per record batch read from a table.
BATCH_ROWS = 262_144
SMALL_TABLES = ("persons", "employers", "providers")
Predicate = Callable[[pd.DataFrame], np.ndarray]


def release_memory() -> None:
    """Hand memory freed by Arrow and by the C allocator back to the system.

    Both allocators keep freed pages for reuse; between chunks of a long batch run that would
    hold the high-water mark of every earlier chunk (measured: 990 MB resident for 460 MB live
    after the checking pass of a 1M-claim directory).
    """
    pa.default_memory_pool().release_unused()
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError):  # not glibc (e.g. musl): nothing to trim
            ctypes.CDLL("libc.so.6").malloc_trim(0)


def _batches(dataset: pads.Dataset, spec: TableSpec) -> Iterator[pa.RecordBatch]:
    try:
        for batch in dataset.to_batches(batch_size=BATCH_ROWS):
            if batch.num_rows:
                yield batch
    except READ_ERRORS as exc:
        raise unreadable(spec.name, exc) from exc


def _coerced(batch: pa.RecordBatch, spec: TableSpec, columns: list[str]) -> pd.DataFrame:
    """``columns`` of ``batch`` in contract dtypes (for predicates; not validated further)."""
    return pd.DataFrame(
        {c: coerce_column(batch.column(c), spec.column(c), spec.name) for c in columns}
    )


def _key_hash(frame: pd.DataFrame, spec: TableSpec) -> np.ndarray:
    """A 64-bit hash of each row's key (the columns of ``spec.key`` present)."""
    key = [k for k in spec.key if k in frame.columns]
    return np.asarray(pd.util.hash_pandas_object(frame[key], index=False), dtype=np.uint64)


@dataclass(frozen=True)
class ChunkBounds:
    """Claims with ``(submitted_at, claim_id)`` in ``(after, upto]`` (``after`` None: no lower
    bound) and, with ``since``, submitted at or after it."""

    after: tuple[pd.Timestamp, str] | None
    upto: tuple[pd.Timestamp, str]
    since: pd.Timestamp | None = None


if TYPE_CHECKING:
    from riskml.location import Location


@overload
def work_folder(out: Path) -> Path: ...
@overload
def work_folder(out: Location) -> Location: ...
@overload
def work_folder(out: Path | Location) -> Path | Location: ...


def work_folder(out: Path | Location) -> Path | Location:
    """The folder beside ``out`` (a path of this machine, or a URL's location with the Spark
    engine) that holds a batch run's checkpoint and committed parts: the pandas engine's
    chunks, the Spark engine's waves."""
    return out.parent / f".{out.name}.parts"


def chunk_bounds(
    keys: pd.DataFrame, chunk_size: int, since: pd.Timestamp | None = None
) -> list[ChunkBounds]:
    """The chunk plan of a backlog: each chunk of ``chunk_size`` claims (the last one smaller) as
    the ``(submitted_at, claim_id)`` range of its claims.

    ``keys`` holds the backlog's ``submitted_at`` and ``claim_id`` in that order (the claims to
    score, after any ``since``); ``since`` is recorded in every bound, so a chunk's claims are
    also cut at it. The pandas engine (:func:`riskml.batch.score_backlog`) and the Spark engine
    (:mod:`riskml.spark.engine`) both plan their chunks with this one function, so a chunk holds
    the same claims in either.
    """
    sub = keys["submitted_at"].to_numpy()
    cid = keys["claim_id"].to_numpy()
    lasts = list(range(chunk_size - 1, len(keys), chunk_size))
    if len(keys) and (not lasts or lasts[-1] != len(keys) - 1):
        lasts.append(len(keys) - 1)
    bounds: list[ChunkBounds] = []
    after: tuple[pd.Timestamp, str] | None = None
    for last in lasts:
        upto = (pd.Timestamp(sub[last]), str(cid[last]))
        bounds.append(ChunkBounds(after=after, upto=upto, since=since))
        after = upto
    return bounds


def _key_at_or_before(frame: pd.DataFrame, bound: tuple[pd.Timestamp, str]) -> np.ndarray:
    sub, cid = frame["submitted_at"], frame["claim_id"]
    return np.asarray((sub < bound[0]) | ((sub == bound[0]) & (cid <= bound[1])))


class DataDirReader:
    """A contract-checked data directory, read per chunk (see the module docstring)."""

    def __init__(self, directory: Path | str | Location) -> None:
        """``directory``: a path of this machine, or a :class:`~riskml.location.Location` (a
        URL, every table read through its file system)."""
        self.directory = directory if isinstance(directory, Location) else Path(directory)
        if not self.directory.is_dir():
            raise DataContractError(
                "data", None, f"data directory {str(self.directory)!r} does not exist"
            )
        self.sources: dict[str, pads.Dataset] = {}
        self.rules = plausibility_for(self.directory)
        for name, spec in TABLES.items():
            if name == "labels":
                continue  # labels are not read for scoring
            src = table_dataset(self.directory, spec)
            if src is None:
                if spec.required:
                    raise DataContractError(
                        name, None, f"table is missing: no {name}.parquet or {name}/ in {directory}"
                    )
                continue
            self.sources[name] = src
        small: dict[str, pd.DataFrame] = {}
        for name in SMALL_TABLES:
            if name not in self.sources:  # an optional table (employers) that is absent
                small[name] = empty_table(name)
                continue
            small[name] = validate_frame(
                read_dataset(self.sources[name], TABLES[name]), name, plausibility=self.rules
            )
        self.persons = small["persons"]
        self.employers = small["employers"]
        self.providers = small["providers"]
        # what references are checked against: the small tables, then the claims' keys
        self._parents = dict(small)
        self._claim_keys: pd.DataFrame | None = self._check("claims", ["claim_id", "submitted_at"])
        self._parents["claims"] = self._claim_keys
        for name in ("contributions", "claim_items"):
            if name in self.sources:
                self._check(name, [])
        del self._parents  # only the checks need it
        release_memory()

    def pop_claim_keys(self) -> pd.DataFrame:
        """``claim_id`` and ``submitted_at`` of every claim, for planning the chunks; handed over
        once, so that the reader holds nothing per claim while the chunks are scored."""
        if self._claim_keys is None:
            raise RuntimeError("the claim keys were already taken")
        keys, self._claim_keys = self._claim_keys, None
        return keys

    # -- the checking pass ----------------------------------------------------------------

    def _check(self, name: str, keep: list[str]) -> pd.DataFrame:
        """Validate every batch of ``name``; check its key and references across batches.

        The key is checked by a 64-bit hash per row (8 bytes a row, not the key's strings); rows
        whose hash repeats are read again and compared by value, so a hash collision is never
        reported as a duplicate. Returns the columns ``keep`` of the whole table.
        """
        spec = TABLES[name]
        hashes: list[np.ndarray] = []
        kept: list[pd.DataFrame] = []
        for batch in _batches(self.sources[name], spec):
            frame = validate_frame(pa.Table.from_batches([batch]), spec, plausibility=self.rules)
            check_references({**self._parents, name: frame})
            hashes.append(_key_hash(frame, spec))
            if keep:
                kept.append(frame[keep])
            del frame
            release_memory()
        if hashes:
            ordered = np.concatenate(hashes)
            hashes.clear()  # one copy of the hashes at a time: concatenated, then sorted in place
            ordered.sort()
            repeated = np.unique(ordered[1:][ordered[1:] == ordered[:-1]])
            if repeated.size:
                self._raise_duplicate(name, repeated)
        if not keep:
            return pd.DataFrame()
        if not kept:
            return empty_table(name)[keep]
        return pd.concat(kept, ignore_index=True)

    def _raise_duplicate(self, name: str, repeated: np.ndarray) -> None:
        """Raise for the first key of ``name`` held by two rows, among rows hashed to
        ``repeated``; return if those rows only collide."""
        spec = TABLES[name]
        candidates = []
        for batch in _batches(self.sources[name], spec):
            frame = validate_frame(pa.Table.from_batches([batch]), spec, plausibility=self.rules)
            candidates.append(frame.loc[np.isin(_key_hash(frame, spec), repeated)])
        check_key(pd.concat(candidates, ignore_index=True), spec)

    # -- reading --------------------------------------------------------------------------

    def read(self, name: str, predicate: Predicate, columns: list[str]) -> pd.DataFrame:
        """Rows of table ``name`` where ``predicate`` (on ``columns`` in contract dtypes) holds."""
        spec = TABLES[name]
        if name not in self.sources:
            return empty_table(name)
        parts: list[pa.RecordBatch] = []
        for batch in _batches(self.sources[name], spec):
            mask = predicate(_coerced(batch, spec, columns))
            if mask.any():
                parts.append(batch.filter(pa.array(mask)))
        if not parts:
            return empty_table(name)
        return validate_frame(pa.Table.from_batches(parts), spec, plausibility=self.rules)

    def chunk(self, bounds: ChunkBounds) -> tuple[ClaimsData, pd.DataFrame]:
        """The claims of one chunk and the history their features read.

        One scan of the claims reads the chunk and its history together: every claim up to the
        chunk's end within the reach (:func:`reach_before`) of the chunk's lower bound, a little
        more than the exact reach, which :func:`history_for` then cuts.
        """
        after = bounds.after[0] if bounds.after is not None else None
        lows = [b for b in (after, bounds.since) if b is not None]
        lower = reach_before(max(lows)) if lows else None

        def upto(f: pd.DataFrame) -> np.ndarray:
            mask = _key_at_or_before(f, bounds.upto)
            if lower is not None:
                mask = mask & np.asarray(f["submitted_at"] >= lower)
            return mask

        hist = self.read("claims", upto, ["submitted_at", "claim_id"])
        items = self.read(
            "claim_items", lambda f: isin(f["claim_id"], hist["claim_id"]), ["claim_id"]
        )
        related_to = chunk_claims(hist, bounds)
        month0 = contribution_reach_start(related_to)

        def contributing(f: pd.DataFrame) -> np.ndarray:
            related = np.zeros(len(f), dtype=bool)
            for column in CONTRIBUTION_RELATIONS:
                related |= isin(f[column], related_to[column])
            return related & np.asarray(f["month"] >= month0)

        contributions = self.read("contributions", contributing, [*CONTRIBUTION_RELATIONS, "month"])
        return assemble_chunk(
            bounds, hist, items, contributions, self.persons, self.employers, self.providers
        )


def chunk_claims(hist: pd.DataFrame, bounds: ChunkBounds) -> pd.DataFrame:
    """The claims of ``hist`` in the chunk ``bounds`` (its targets), in ``hist``'s order."""
    in_chunk = np.ones(len(hist), dtype=bool)
    if bounds.after is not None:
        in_chunk &= ~_key_at_or_before(hist, bounds.after)
    in_chunk &= _key_at_or_before(hist, bounds.upto)
    if bounds.since is not None:
        in_chunk &= np.asarray(hist["submitted_at"] >= bounds.since)
    return hist.loc[in_chunk].reset_index(drop=True)


def assemble_chunk(
    bounds: ChunkBounds,
    hist: pd.DataFrame,
    items: pd.DataFrame,
    contributions: pd.DataFrame,
    persons: pd.DataFrame,
    employers: pd.DataFrame,
    providers: pd.DataFrame,
) -> tuple[ClaimsData, pd.DataFrame]:
    """The claims of one chunk and the history their features read, from rows read for it.

    ``hist``, ``items`` and ``contributions`` may hold more than the chunk needs (any superset of
    the claims up to the chunk's end within its reach, their line items, and the contributions
    of its claimants and employers from :func:`contribution_reach_start`): :func:`history_for`
    cuts them to exactly what the features read. The pandas reader and the Spark engine
    (:mod:`riskml.spark`) both hand their rows to this one function.
    """
    claims = chunk_claims(hist, bounds)
    world = ClaimsData(
        persons=persons,
        employers=employers,
        providers=providers,
        contributions=contributions,
        claims=hist.loc[_key_at_or_before(hist, bounds.upto)],
        claim_items=items,
        labels=None,
    )
    return history_for(world, claims), claims
