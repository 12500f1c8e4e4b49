"""Triage: the queue of flagged claims awaiting a decision, investigators' decisions, and the
labels those decisions become for the next training run."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import pandas as pd
import sqlalchemy as sa

from riskml.bands import FLAGGED_BANDS
from riskml.clock import local_now
from riskml.data import validate_frame
from riskml.store.audit import AuditEntry, AuditLog


class TriageStore(AuditLog):
    """The queue, the ``decisions`` table and the labels derived from it."""

    def _latest_scores(self) -> sa.Subquery:
        s = self.tables["scores"]
        rn = (
            sa.func.row_number()
            .over(
                partition_by=s.c.claim_id, order_by=(s.c.scored_at.desc(), s.c.model_version.desc())
            )
            .label("rn")
        )
        return sa.select(s, rn).subquery("latest")

    def queue(
        self,
        limit: int = 50,
        region: str | None = None,
        benefit_type: str | None = None,
        bands: Sequence[str] = FLAGGED_BANDS,
    ) -> list[dict[str, Any]]:
        """Flagged claims without a decision: highest risk first, then the largest amount."""
        latest = self._latest_scores()
        c = self.tables["claims"]
        d = self.tables["decisions"]
        stmt = (
            sa.select(
                c.c.claim_id,
                c.c.person_id,
                c.c.benefit_type,
                c.c.provider_id,
                c.c.region_code,
                c.c.submitted_at,
                c.c.amount_claimed,
                latest.c.risk_score,
                latest.c.risk_band,
                latest.c.model_version,
                latest.c.reasons,
                latest.c.scored_at,
            )
            .join(latest, latest.c.claim_id == c.c.claim_id)
            .where(latest.c.rn == 1)
            .where(latest.c.risk_band.in_(list(bands)))
            .where(~sa.exists().where(d.c.claim_id == c.c.claim_id))
            .order_by(latest.c.risk_score.desc(), c.c.amount_claimed.desc(), c.c.claim_id)
            .limit(limit)
        )
        if region is not None:
            stmt = stmt.where(c.c.region_code == region)
        if benefit_type is not None:
            stmt = stmt.where(c.c.benefit_type == benefit_type)
        with self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(stmt)]

    def record_decision(
        self,
        claim_id: str,
        outcome: str,
        note: str,
        typology: str | None,
        decided_by: str,
        decided_role: str,
        subject: Callable[[str], str],
    ) -> dict[str, Any] | None:
        """Record a decision and its audit row in one transaction; None if the claim is unknown.

        ``subject`` maps the claim's person id to its pseudonym for the audit log.
        """
        c = self.tables["claims"]
        now = local_now().replace(microsecond=0)
        with self._write() as conn:
            person = conn.execute(
                sa.select(c.c.person_id).where(c.c.claim_id == claim_id)
            ).scalar_one_or_none()
            if person is None:
                return None
            row = {
                "claim_id": claim_id,
                "outcome": outcome,
                "typology": typology,
                "note": note,
                "decided_by": decided_by,
                "decided_role": decided_role,
                "decided_at": now,
            }
            decision_id = conn.execute(
                sa.insert(self.tables["decisions"]).returning(
                    self.tables["decisions"].c.decision_id
                ),
                row,
            ).scalar_one()
            self._append_audit(
                conn,
                [
                    AuditEntry(
                        actor=decided_by,
                        role=decided_role,
                        action="decide",
                        outcome=outcome,
                        claim_id=claim_id,
                        subject=subject(person),
                        at=now,
                    )
                ],
            )
        return {"decision_id": int(decision_id), **row}

    def decisions(self) -> pd.DataFrame:
        """Every recorded decision, oldest first."""
        d = self.tables["decisions"]
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(d).order_by(d.c.decision_id)).fetchall()
        return pd.DataFrame.from_records(rows, columns=[c.name for c in d.columns])

    def labels_frame(self) -> pd.DataFrame:
        """The latest decision per claim as a contract ``labels`` table (source investigation).

        ``is_fraud`` is true for fraud and abuse; error and unfounded are not fraud (DOMAIN: error
        and fraud are kept apart through ``outcome``).
        """
        d = self.tables["decisions"]
        rn = (
            sa.func.row_number()
            .over(
                partition_by=d.c.claim_id, order_by=(d.c.decided_at.desc(), d.c.decision_id.desc())
            )
            .label("rn")
        )
        sub = sa.select(d, rn).subquery()
        stmt = (
            sa.select(sub.c.claim_id, sub.c.outcome, sub.c.typology, sub.c.decided_at)
            .where(sub.c.rn == 1)
            .order_by(sub.c.claim_id)
        )
        with self.engine.connect() as conn:
            rows = conn.execute(stmt).fetchall()
        frame = pd.DataFrame.from_records(
            rows, columns=["claim_id", "outcome", "typology", "decided_at"]
        )
        is_fraud = frame["outcome"].isin(["fraud", "abuse"])
        labels = pd.DataFrame(
            {
                "claim_id": frame["claim_id"].astype(object),
                "is_fraud": is_fraud.astype(bool),
                "typology": frame["typology"].astype(object).where(is_fraud, None),
                "decided_at": pd.to_datetime(frame["decided_at"]),
                "source": "investigation",
                "outcome": frame["outcome"].astype(object),
            }
        )
        return validate_frame(labels, "labels")
