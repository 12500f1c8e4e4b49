"""The audit log: who did what to which claim, with which model, and how it ended.

:class:`AuditEntry` is the one place an audit row is built, by the service's routes and the
store's own writes alike; the subject is a keyed-hash pseudonym, never a person id. The table is
append-only (revision 0002's triggers refuse UPDATE and DELETE).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from riskml.clock import local_now
from riskml.store.core import StoreCore


@dataclass(frozen=True)
class AuditEntry:
    """One row of the audit log."""

    actor: str
    role: str
    action: str
    outcome: str
    claim_id: str | None = None
    subject: str | None = None
    model_version: str | None = None
    at: dt.datetime = field(default_factory=local_now)
    detail: str | None = None
    """Free text the outcome cannot hold (a supervisor's justification of a gate override)."""

    def row(self) -> dict[str, object]:
        return asdict(self)


class AuditLog(StoreCore):
    """Appending to the audit log and reading it back."""

    def _append_audit(self, conn: Connection, entries: Sequence[AuditEntry]) -> None:
        """Append ``entries`` inside the caller's transaction."""
        if entries:
            conn.execute(sa.insert(self.tables["audit_log"]), [e.row() for e in entries])

    def audit(self, entries: Sequence[AuditEntry]) -> None:
        """Append ``entries`` to the audit log in their own transaction."""
        if entries:
            with self._write() as conn:
                self._append_audit(conn, entries)

    def audit_log(self, actions: Sequence[str] | None = None) -> pd.DataFrame:
        """The audit log, oldest first (for audits and tests); only ``actions`` if given."""
        a = self.tables["audit_log"]
        query = sa.select(a).order_by(a.c.audit_id)
        if actions is not None:
            query = query.where(a.c.action.in_(list(actions)))
        with self.engine.connect() as conn:
            rows = conn.execute(query).fetchall()
        return pd.DataFrame.from_records(rows, columns=[c.name for c in a.columns])
