"""Scores with their reasons: those of online requests (with the claims they scored) and those
loaded from a batch run for the triage queue."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import pandas as pd
import sqlalchemy as sa

from riskml.bands import FLAGGED_BANDS
from riskml.clock import local_now
from riskml.store.audit import AuditEntry
from riskml.store.core import chunks
from riskml.store.versions import ClaimConflict, VersionStore

#: Scores per upsert statement when a batch run's scores are loaded.
SCORE_LOAD_CHUNK = 5_000


class ScoreStore(VersionStore):
    """Writes and reads of the ``scores`` table."""

    def record_scoring(
        self,
        claims: pd.DataFrame,
        items: pd.DataFrame | None,
        scores: list[dict[str, Any]],
        audit: Sequence[AuditEntry],
    ) -> None:
        """Persist one scored request atomically: the claims (upserted by ``claim_id``, their
        items replaced), the scores (upserted by claim and model version) and the audit rows.

        Raises :class:`~riskml.store.versions.ClaimConflict` (and writes nothing) if one of the
        claims is stored with other content: a re-send never rewrites history.
        """
        ids = claims["claim_id"].astype(str).tolist()
        ci = self.tables["claim_items"]
        with self._claims_write() as conn:
            diffs = self._diffs(conn, claims, items)
            if diffs:
                raise ClaimConflict(diffs)
            self._upsert_rows(conn, "claims", claims)
            for part in chunks(ids):
                conn.execute(sa.delete(ci).where(ci.c.claim_id.in_(part)))
            if items is not None:
                self._upsert_rows(conn, "claim_items", items)
            if scores:
                self._upsert_records(conn, "scores", scores)
            self._append_audit(conn, audit)

    def record_scores(self, scores: list[dict[str, Any]], audit: Sequence[AuditEntry]) -> None:
        """Upsert scores of stored claims (by claim and model version) with their audit rows."""
        with self._write() as conn:
            if scores:
                self._upsert_records(conn, "scores", scores)
            self._append_audit(conn, audit)

    def record_batch_scores(self, scores: pd.DataFrame, actor: str = "batch") -> int:
        """Load batch scores (``riskml score`` output) of flagged claims for the triage queue.

        Only the flagged bands (:data:`riskml.bands.FLAGGED_BANDS`, the queue's) are kept,
        upserted by claim and model version, with one audit row per load (persons stay out of
        it: the batch is the subject). Returns the number of scores stored.
        """
        flagged = scores.loc[scores["risk_band"].isin(FLAGGED_BANDS)]
        now = local_now()
        records = [
            {
                "claim_id": cid,
                "model_version": version,
                "risk_score": score,
                "risk_band": band,
                "reasons": json.loads(reasons) if isinstance(reasons, str) else reasons,
                "scored_at": now,
            }
            for cid, version, score, band, reasons in zip(
                flagged["claim_id"].astype(str).tolist(),
                flagged["model_version"].astype(str).tolist(),
                flagged["risk_score"].astype("float64").tolist(),
                flagged["risk_band"].astype(str).tolist(),
                flagged["reasons"].tolist(),
                strict=True,
            )
        ]
        versions = sorted(flagged["model_version"].astype(str).unique().tolist())
        with self._write() as conn:
            for part in chunks(records, SCORE_LOAD_CHUNK):
                self._upsert_records(conn, "scores", list(part))
            self._append_audit(
                conn,
                [
                    AuditEntry(
                        actor=actor,
                        role="admin",
                        action="load_batch_scores",
                        outcome=f"{len(records)} flagged scores",
                        model_version=",".join(versions) or None,
                        at=now,
                    )
                ],
            )
        return len(records)

    def scores_of(self, claim_ids: Sequence[str]) -> pd.DataFrame:
        """Every stored score of these claims (all model versions)."""
        s = self.tables["scores"]
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(s).where(s.c.claim_id.in_(list(claim_ids)))).fetchall()
        return pd.DataFrame.from_records(rows, columns=[c.name for c in s.columns])
