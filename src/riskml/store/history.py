"""The store's history: the contract tables, loaded by ingest and read back for online scoring.

:meth:`HistoryStore.history_for` reads what the features of a set of claims read
(:mod:`riskml.reach`), with the loader's dtypes, so the service scores a claim in the same world
a batch run over a data directory would.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from riskml.contract import TABLES
from riskml.data import ClaimsData, isin
from riskml.reach import (
    CLAIM_RELATIONS,
    CONTRIBUTION_RELATIONS,
    ITEM_RELATIONS,
    contribution_reach_start,
    reach_start,
)
from riskml.store.core import chunks
from riskml.store.rows import frame_from_result
from riskml.store.upsert import Upserts

#: Ingest order: referenced tables before the tables that refer to them.
INGEST_ORDER = (
    "persons",
    "employers",
    "providers",
    "contributions",
    "claims",
    "claim_items",
    "labels",
)
#: Seconds a cached small table (providers, employers) is served before it is read again.
SMALL_TABLE_TTL = 30.0

ProgressFn = Callable[[str, int, int], None]


class HistoryStore(Upserts):
    """Ingest of data directories and the reads that online scoring needs."""

    def upsert_frame(
        self,
        table: str,
        frame: pd.DataFrame,
        *,
        chunk_rows: int = 50_000,
        progress: ProgressFn | None = None,
    ) -> int:
        """Upsert a validated contract frame by its key, one transaction per chunk of rows.

        Columns absent from ``frame`` (optional ones) keep their stored values.
        """
        done = 0
        for start in range(0, len(frame), chunk_rows):
            part = frame.iloc[start : start + chunk_rows]
            with self._write() as conn:
                self._upsert_rows(conn, table, part)
            done += len(part)
            if progress is not None:
                progress(table, done, len(frame))
        return done

    def ingest(
        self, data: ClaimsData, *, chunk_rows: int = 50_000, progress: ProgressFn | None = None
    ) -> dict[str, int]:
        """Upsert every table of a validated data directory; returns rows written per table.

        Ends with ``ANALYZE`` so the query planner knows the new sizes (without it, PostgreSQL
        plans the history reads right after a bulk load for empty tables).
        """
        tables = data.tables()
        counts: dict[str, int] = {}
        for name in INGEST_ORDER:
            if name in tables:
                counts[name] = self.upsert_frame(
                    name, tables[name], chunk_rows=chunk_rows, progress=progress
                )
        with self.engine.connect() as conn:
            conn.exec_driver_sql("ANALYZE")
            conn.commit()
        return counts

    def count(self, table: str) -> int:
        with self.engine.connect() as conn:
            return int(
                conn.execute(
                    sa.select(sa.func.count()).select_from(self.tables[table])
                ).scalar_one()
            )

    def unknown_reference(self, claims: pd.DataFrame) -> tuple[int, str, str] | None:
        """First claim (position, column, value) whose person, provider or employer is unknown."""
        refs = (
            ("person_id", "persons"),
            ("provider_id", "providers"),
            ("employer_id", "employers"),
        )
        first: tuple[int, str, str] | None = None
        with self.engine.connect() as conn:
            for column, table in refs:
                if column not in claims.columns:
                    continue
                values = claims[column].dropna().astype(str).unique().tolist()
                known: set[str] = set()
                key = self.tables[table].c[column]
                for part in chunks(values):
                    known.update(conn.execute(sa.select(key).where(key.in_(part))).scalars())
                bad = claims[column].notna() & ~claims[column].isin(list(known))
                if bad.any():
                    pos = int(np.flatnonzero(bad.to_numpy())[0])
                    if first is None or pos < first[0]:
                        first = (pos, column, str(claims[column].iloc[pos]))
        return first

    def _optional_columns_present(self, conn: Connection, table: str) -> set[str]:
        """Optional contract columns of ``table`` with at least one stored value (cached)."""
        present = set()
        for col in TABLES[table].columns:
            if not col.optional:
                continue
            key = (table, col.name)
            if key not in self._optional_present:
                c = self.tables[table].c[col.name]
                probe = sa.select(sa.literal(1)).where(c.is_not(None)).limit(1)
                self._optional_present[key] = conn.execute(probe).first() is not None
            if self._optional_present[key]:
                present.add(col.name)
        return present

    def _read_column(self, table: sa.Table, name: str, kind: str) -> sa.ColumnElement[Any]:
        """A column to select; dates and timestamps come back as ISO text, parsed in bulk by
        pandas instead of one Python object at a time by the driver and SQLAlchemy."""
        col = table.c[name]
        if kind not in ("date", "timestamp"):
            return col
        if self.dialect == "sqlite":  # stored as text already
            return sa.type_coerce(col, sa.String()).label(name)
        return sa.cast(col, sa.String()).label(name)

    def _select_contract(
        self, conn: Connection, table: str, where: Sequence[sa.ColumnElement[bool]] = ()
    ) -> pd.DataFrame:
        spec = TABLES[table]
        t = self.tables[table]
        optional = self._optional_columns_present(conn, table)
        cols = [
            self._read_column(t, c.name, c.kind)
            for c in spec.columns
            if not c.optional or c.name in optional
        ]
        stmt = sa.select(*cols)
        for cond in where:
            stmt = stmt.where(cond)
        return frame_from_result(conn.execute(stmt), spec)

    def _select_many(
        self,
        conn: Connection,
        table: str,
        conditions: Sequence[sa.ColumnElement[bool]],
        extra: Sequence[sa.ColumnElement[bool]],
        key: Sequence[str],
    ) -> pd.DataFrame:
        """Union of one query per condition (each an IN over a chunk of ids), without duplicates."""
        frames = [self._select_contract(conn, table, [cond, *extra]) for cond in conditions]
        if not frames:
            frames = [self._select_contract(conn, table, [sa.false()])]
        if len(frames) == 1:  # one query of one table: no row twice (every table has a key)
            return frames[0]
        frames = [f for f in frames if len(f)] or frames[:1]
        out = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
        return out.drop_duplicates(subset=list(key), ignore_index=True)

    def _small_table(self, conn: Connection, table: str) -> pd.DataFrame:
        """A small reference table (providers, employers), cached for ``SMALL_TABLE_TTL`` s.

        Upserts through this store clear the cache at once; an ingest by another process is
        seen within the TTL.
        """
        now = time.monotonic()
        hit = self._small_cache.get(table)
        if hit is not None and now - hit[0] < SMALL_TABLE_TTL:
            return hit[1]
        frame = self._select_contract(conn, table)
        self._small_cache[table] = (now, frame)
        return frame

    def history_for(self, claims: pd.DataFrame, items: pd.DataFrame | None = None) -> ClaimsData:
        """What the feature builder needs to score ``claims``, as the store holds it now.

        The selection of :mod:`riskml.reach`, as :func:`riskml.features.history_for` makes it
        from a data directory: every stored claim (with its items) submitted from
        :func:`~riskml.reach.reach_start` of ``claims`` to the latest of them (the feature
        builder keeps, per claim, only those strictly before it) that shares one of
        :data:`~riskml.reach.CLAIM_RELATIONS` with one of them, or bills a drug trace code that
        ``items`` (the request's line items) bill, except stored claims with the same
        ``claim_id`` as one of ``claims`` (a retry never sees itself); the contributions of
        :data:`~riskml.reach.CONTRIBUTION_RELATIONS` from
        :func:`~riskml.reach.contribution_reach_start`; the persons appearing in any of these
        rows; and all providers and employers (small tables). Dtypes are those of
        :func:`riskml.data.load_data_dir`; ``labels`` is None.
        """

        def ids(frame: pd.DataFrame | None, column: str) -> list[str]:
            if frame is None or column not in frame.columns:
                return []
            return frame[column].dropna().astype(str).unique().tolist()

        until = pd.Timestamp(claims["submitted_at"].max()).to_pydatetime()
        exclude = set(claims["claim_id"].astype(str))
        c = self.tables["claims"]
        ci = self.tables["claim_items"]
        co = self.tables["contributions"]
        with self.engine.connect() as conn:
            # one query for all relations: a claim related several ways is read once
            shared = [
                c.c[column].in_(part)
                for column in CLAIM_RELATIONS
                for part in chunks(ids(claims, column))
            ] + [
                c.c.claim_id.in_(sa.select(ci.c.claim_id).where(ci.c[column].in_(part)))
                for column in ITEM_RELATIONS
                for part in chunks(ids(items, column))
            ]
            since = reach_start(claims).to_pydatetime()
            claim_conds: list[sa.ColumnElement[bool]] = (
                [sa.and_(c.c.submitted_at >= since, sa.or_(*shared))] if shared else []
            )
            hist = self._select_many(
                conn, "claims", claim_conds, [c.c.submitted_at <= until], ("claim_id",)
            )
            # membership by hash lookups (Series.isin of Arrow strings converts value by value)
            excluded = isin(hist["claim_id"], pd.Series(sorted(exclude), dtype="str"))
            if excluded.any():
                hist = hist.loc[~excluded].reset_index(drop=True)
            # the items of exactly these claims, by the items' own key index (a join repeating
            # the claims' selection is slower than the claims' query itself)
            hist_ids = hist["claim_id"].astype(str).tolist()
            items = self._select_many(
                conn,
                "claim_items",
                [ci.c.claim_id.in_(p) for p in chunks(hist_ids)],
                [],
                ("claim_id", "line_no"),
            )
            month0 = contribution_reach_start(claims).to_pydatetime()
            contrib_conds = [
                sa.and_(co.c.month >= month0, co.c[column].in_(part))
                for column in CONTRIBUTION_RELATIONS
                for part in chunks(ids(claims, column))
            ]
            contributions = self._select_many(
                conn,
                "contributions",
                contrib_conds,
                [co.c.month <= until],
                ("person_id", "employer_id", "month"),
            )
            involved = (
                pd.concat([claims["person_id"], hist["person_id"], contributions["person_id"]])
                .dropna()
                .astype(str)
                .unique()
                .tolist()
            )
            p = self.tables["persons"]
            persons = self._select_many(
                conn,
                "persons",
                [p.c.person_id.in_(part) for part in chunks(involved)],
                [],
                ("person_id",),
            )
            providers = self._small_table(conn, "providers")
            employers = self._small_table(conn, "employers")
        return ClaimsData(
            persons=persons,
            employers=employers,
            providers=providers,
            contributions=contributions,
            claims=hist,
            claim_items=items,
            labels=None,
        )
