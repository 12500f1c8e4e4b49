"""Stored claims are history: append-only in meaning.

A claim sent again with the same content changes nothing; one whose content differs from the
stored claim is refused (:class:`ClaimConflict`, the service answers 409 naming the fields) unless
it comes as a correction (:meth:`VersionStore.correct_claim`), which keeps the earlier version in
``claim_versions`` (append-only), writes the new one and audits it in one transaction.

Content is every contract column of the claim and of its line items; an optional column a
request does not send counts as null, so a re-send must say what the stored claim says.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from riskml.clock import local_now
from riskml.contract import TABLES
from riskml.data import null_column
from riskml.reach import CLAIM_RELATIONS, ITEM_RELATIONS, REACH_DAYS
from riskml.store.audit import AuditEntry, AuditLog
from riskml.store.core import chunks
from riskml.store.history import HistoryStore

#: Any constant: the key of PostgreSQL's transaction-level advisory lock that serialises the
#: writers of claims, so two first sends of one claim_id cannot both pass the conflict check.
_CLAIM_WRITE_LOCK = 0x72697363  # "risc"


@dataclass(frozen=True)
class ClaimDiff:
    """A request's claim (at ``position``) that differs from the stored claim in ``fields``
    (claim columns, and ``items[line_no=N]`` or ``items[line_no=N].column`` for line items)."""

    position: int
    claim_id: str
    fields: tuple[str, ...]


class ClaimConflict(Exception):
    """Claims already stored with other content: history is not rewritten by a re-send."""

    def __init__(self, diffs: Sequence[ClaimDiff]) -> None:
        super().__init__(
            "; ".join(f"claim {d.claim_id!r} differs in {', '.join(d.fields)}" for d in diffs)
        )
        self.diffs = list(diffs)


@dataclass(frozen=True)
class Correction:
    """A corrected claim: its current ``version`` (1 = as first stored) and what changed."""

    claim_id: str
    version: int
    fields: tuple[str, ...]


def _records(frame: pd.DataFrame, table: str) -> list[dict[str, Any]]:
    """Rows with every contract column of ``table`` (absent optional ones as None), nulls as
    None, dates and timestamps as ``pd.Timestamp``; built column by column (``to_dict`` costs
    more than the queries on the path of every re-sent claim)."""
    columns = list(TABLES[table].column_names)
    n = len(frame)
    values: list[list[Any]] = []
    for name in columns:
        if name not in frame.columns:
            values.append([None] * n)
            continue
        column = frame[name]
        got = column.tolist()
        null = column.isna().to_numpy()
        if null.any():
            got = [None if missing else v for v, missing in zip(got, null, strict=True)]
        values.append(got)
    return [dict(zip(columns, row, strict=True)) for row in zip(*values, strict=True)]


def _jsonable(record: dict[str, Any], table: str) -> dict[str, Any]:
    """A record of :func:`_records` as JSON values (dates ``YYYY-MM-DD``, timestamps ISO)."""
    spec = TABLES[table]
    out: dict[str, Any] = {}
    for name, value in record.items():
        kind = spec.column(name).kind
        if value is not None and kind == "date":
            value = pd.Timestamp(value).date().isoformat()
        elif value is not None and kind == "timestamp":
            value = pd.Timestamp(value).isoformat()
        elif value is not None and kind in ("int", "float", "bool"):
            value = {"int": int, "float": float, "bool": bool}[kind](value)
        out[name] = value
    return out


def differing_fields(
    new: dict[str, Any],
    stored: dict[str, Any],
    new_items: Sequence[dict[str, Any]],
    stored_items: Sequence[dict[str, Any]],
) -> tuple[str, ...]:
    """The fields in which a claim (records of :func:`_records`) differs from the stored one."""
    fields = [c for c in TABLES["claims"].column_names if new.get(c) != stored.get(c)]
    by_line_new = {r["line_no"]: r for r in new_items}
    by_line_old = {r["line_no"]: r for r in stored_items}
    for line in sorted(set(by_line_new) | set(by_line_old)):
        a, b = by_line_new.get(line), by_line_old.get(line)
        if a is None or b is None:
            fields.append(f"items[line_no={line}]")
            continue
        fields.extend(
            f"items[line_no={line}].{c}"
            for c in TABLES["claim_items"].column_names
            if c not in ("claim_id", "line_no") and a.get(c) != b.get(c)
        )
    return tuple(fields)


def full_columns(frame: pd.DataFrame, table: str) -> pd.DataFrame:
    """``frame`` with every contract column of ``table``, absent optional ones as nulls (so an
    upsert overwrites what the stored row had there)."""
    spec = TABLES[table]
    missing = [c for c in spec.column_names if c not in frame.columns]
    if not missing:
        return frame
    extra = {c: null_column(spec.column(c).kind, frame.index) for c in missing}
    return pd.concat([frame, pd.DataFrame(extra, index=frame.index)], axis=1)[
        list(spec.column_names)
    ]


class VersionStore(HistoryStore, AuditLog):
    """Conflict checks on writes of claims, corrections, and the versions they keep."""

    @contextmanager
    def _claims_write(self) -> Iterator[Connection]:
        """A write transaction in which claims may be checked and written without a race."""
        with self._write() as conn:
            if self.dialect == "postgresql":  # SQLite's BEGIN IMMEDIATE serialises already
                conn.execute(sa.select(sa.func.pg_advisory_xact_lock(_CLAIM_WRITE_LOCK)))
            yield conn

    def _stored(
        self, conn: Connection, claim_ids: Sequence[str]
    ) -> tuple[pd.DataFrame, pd.DataFrame]:
        """The stored rows of these claims and their items."""
        c = self.tables["claims"]
        ci = self.tables["claim_items"]
        ids = list(claim_ids)
        claims = self._select_many(
            conn, "claims", [c.c.claim_id.in_(p) for p in chunks(ids)], [], ("claim_id",)
        )
        found = claims["claim_id"].astype(str).tolist()
        items = self._select_many(
            conn,
            "claim_items",
            [ci.c.claim_id.in_(p) for p in chunks(found)],
            [],
            ("claim_id", "line_no"),
        )
        return claims, items

    def _diffs(
        self, conn: Connection, claims: pd.DataFrame, items: pd.DataFrame | None
    ) -> list[ClaimDiff]:
        c = self.tables["claims"]
        ids = claims["claim_id"].astype(str).tolist()
        known: set[str] = set()
        for part in chunks(ids):  # the common case, new claims only, costs this one query
            known.update(
                conn.execute(sa.select(c.c.claim_id).where(c.c.claim_id.in_(part))).scalars()
            )
        if not known:
            return []
        stored, stored_items = self._stored(conn, sorted(known))
        old = {r["claim_id"]: r for r in _records(stored, "claims")}
        old_items = _by_claim(_records(stored_items, "claim_items"))
        resent = [i for i, cid in enumerate(ids) if cid in known]
        new_items: dict[str, list[dict[str, Any]]] = {}
        if items is not None and len(items):
            lines = items.loc[items["claim_id"].astype(str).isin(known)]
            new_items = _by_claim(_records(lines, "claim_items"))
        out = []
        for pos, row in zip(resent, _records(claims.iloc[resent], "claims"), strict=True):
            cid = str(row["claim_id"])
            fields = differing_fields(row, old[cid], new_items.get(cid, []), old_items.get(cid, []))
            if fields:
                out.append(ClaimDiff(pos, cid, fields))
        return out

    def stored_claim(self, claim_id: str) -> tuple[pd.DataFrame, pd.DataFrame]:
        """The stored row of one claim and its items (empty frames if it is not stored)."""
        with self.engine.connect() as conn:
            return self._stored(conn, [claim_id])

    def claim_conflicts(
        self, claims: pd.DataFrame, items: pd.DataFrame | None = None
    ) -> list[ClaimDiff]:
        """The claims of a request already stored with other content (empty: none)."""
        with self.engine.connect() as conn:
            return self._diffs(conn, claims, items)

    def correct_claim(
        self,
        claim: pd.DataFrame,
        items: pd.DataFrame,
        *,
        actor: str,
        role: str,
        reason: str,
        subject: Callable[[str], str],
    ) -> Correction | None:
        """Replace a stored claim (one row, with its items) by a corrected version.

        The stored version is kept in ``claim_versions``; the claim row (every column) and its
        items are replaced; an audit row names the changed fields. Returns None if the claim is
        not stored; a correction that changes nothing writes nothing.
        """
        cid = str(claim["claim_id"].iloc[0])
        v = self.tables["claim_versions"]
        ci = self.tables["claim_items"]
        with self._claims_write() as conn:
            stored, stored_items = self._stored(conn, [cid])
            if stored.empty:
                return None
            kept = conn.execute(
                sa.select(sa.func.count()).select_from(v).where(v.c.claim_id == cid)
            ).scalar_one()
            old = _records(stored, "claims")[0]
            old_items = _records(stored_items, "claim_items")
            fields = differing_fields(
                _records(claim, "claims")[0], old, _records(items, "claim_items"), old_items
            )
            if not fields:
                return Correction(cid, int(kept) + 1, ())
            now = local_now()
            conn.execute(
                sa.insert(v),
                {
                    "claim_id": cid,
                    "version": int(kept) + 1,
                    "claim": _jsonable(old, "claims"),
                    "items": [_jsonable(r, "claim_items") for r in old_items],
                    "superseded_at": now,
                    "superseded_by": actor,
                    "superseded_role": role,
                    "reason": reason,
                },
            )
            self._upsert_rows(conn, "claims", full_columns(claim, "claims"))
            conn.execute(sa.delete(ci).where(ci.c.claim_id == cid))
            self._upsert_rows(conn, "claim_items", full_columns(items, "claim_items"))
            self._append_audit(
                conn,
                [
                    AuditEntry(
                        actor,
                        role,
                        action="correct",
                        outcome=f"version {int(kept) + 2}: {', '.join(fields)}",
                        claim_id=cid,
                        subject=subject(str(claim["person_id"].iloc[0])),
                        at=now,
                    )
                ],
            )
        return Correction(cid, int(kept) + 2, fields)

    def claim_versions(self, claim_id: str) -> list[dict[str, Any]]:
        """The earlier versions of a claim, oldest first."""
        v = self.tables["claim_versions"]
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(v).where(v.c.claim_id == claim_id).order_by(v.c.version)
            ).fetchall()
        return [dict(r._mapping) for r in rows]

    def scored_readers(
        self, versions: Sequence[pd.DataFrame], items: Sequence[pd.DataFrame]
    ) -> tuple[pd.DataFrame, pd.DataFrame]:
        """Stored claims with a stored score whose features read a claim in any of its
        ``versions`` (before and after a correction), with their items: the claims submitted
        after it within :data:`~riskml.reach.REACH_DAYS` that share one of its relations
        (:mod:`riskml.reach`). Their scores change when the claim does.
        """
        rows = pd.concat(list(versions), ignore_index=True)
        lines = pd.concat(list(items), ignore_index=True)
        first = rows.sort_values(["submitted_at", "claim_id"]).iloc[0]
        until = pd.Timestamp(rows["submitted_at"].max()) + pd.Timedelta(days=REACH_DAYS)
        c = self.tables["claims"]
        ci = self.tables["claim_items"]
        s = self.tables["scores"]

        def values(frame: pd.DataFrame, column: str) -> list[str]:
            if column not in frame.columns:
                return []
            return frame[column].dropna().astype(str).unique().tolist()

        shared = [
            c.c[col].in_(part) for col in CLAIM_RELATIONS for part in chunks(values(rows, col))
        ] + [
            c.c.claim_id.in_(sa.select(ci.c.claim_id).where(ci.c[col].in_(part)))
            for col in ITEM_RELATIONS
            for part in chunks(values(lines, col))
        ]
        at, cid = pd.Timestamp(first["submitted_at"]).to_pydatetime(), str(first["claim_id"])
        later = sa.or_(c.c.submitted_at > at, sa.and_(c.c.submitted_at == at, c.c.claim_id > cid))
        own = rows["claim_id"].astype(str).unique().tolist()
        cond = sa.and_(
            later,
            c.c.claim_id.notin_(own),
            c.c.submitted_at <= until.to_pydatetime(),
            sa.or_(*shared),
            sa.exists().where(s.c.claim_id == c.c.claim_id),
        )
        with self.engine.connect() as conn:
            readers = self._select_contract(conn, "claims", [cond])
            reader_ids = readers["claim_id"].astype(str).tolist()
            reader_items = self._select_many(
                conn,
                "claim_items",
                [ci.c.claim_id.in_(p) for p in chunks(reader_ids)],
                [],
                ("claim_id", "line_no"),
            )
        return readers, reader_items


def _by_claim(records: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for r in records:
        out.setdefault(str(r["claim_id"]), []).append(r)
    return out
