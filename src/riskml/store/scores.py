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

    def record_shadow_scores(self, records: list[dict[str, Any]]) -> None:
        """Upsert the challenger's shadow scores (by claim and challenger version): each record
        has ``claim_id``, ``model_version``, ``risk_score``, ``risk_band``, the champion's
        ``champion_version``, ``champion_score``, ``champion_band`` and ``scored_at``. No audit
        row: a shadow score reaches nobody."""
        if records:
            with self._write() as conn:
                self._upsert_records(conn, "shadow_scores", records)

    def shadow_scores(self) -> pd.DataFrame:
        """Every stored shadow score, oldest first."""
        s = self.tables["shadow_scores"]
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(s).order_by(s.c.scored_at, s.c.claim_id)).fetchall()
        return pd.DataFrame.from_records(rows, columns=[c.name for c in s.columns])

    def shadow_comparison(self) -> list[dict[str, Any]]:
        """Champion against challenger on the same live claims, per pair of versions: claims,
        mean scores, mean absolute difference, band agreement, claims each flagged (the queue's
        bands) and both flagged; and, for claims with a decision, how many each flagged were
        confirmed fraud or abuse (the latest decision counts)."""
        shadow = self.shadow_scores()
        if shadow.empty:
            return []
        decided = self._latest_outcomes(shadow["claim_id"].astype(str).unique().tolist())
        shadow["confirmed"] = shadow["claim_id"].map(decided).isin(["fraud", "abuse"])
        shadow["decided"] = shadow["claim_id"].isin(list(decided))
        out = []
        for (champion, challenger), g in shadow.groupby(
            ["champion_version", "model_version"], sort=True
        ):
            diff = (g["risk_score"] - g["champion_score"]).abs()
            ch_flag = g["champion_band"].isin(FLAGGED_BANDS)
            sh_flag = g["risk_band"].isin(FLAGGED_BANDS)
            out.append(
                {
                    "champion_version": str(champion),
                    "challenger_version": str(challenger),
                    "claims": len(g),
                    "champion_mean_score": float(g["champion_score"].mean()),
                    "challenger_mean_score": float(g["risk_score"].mean()),
                    "mean_abs_difference": float(diff.mean()),
                    "band_agreement": float((g["risk_band"] == g["champion_band"]).mean()),
                    "champion_flagged": int(ch_flag.sum()),
                    "challenger_flagged": int(sh_flag.sum()),
                    "both_flagged": int((ch_flag & sh_flag).sum()),
                    "decided": int(g["decided"].sum()),
                    "champion_flagged_confirmed": int((ch_flag & g["confirmed"]).sum()),
                    "challenger_flagged_confirmed": int((sh_flag & g["confirmed"]).sum()),
                    "first_scored_at": str(g["scored_at"].min()),
                    "last_scored_at": str(g["scored_at"].max()),
                }
            )
        return out

    def _latest_outcomes(self, claim_ids: Sequence[str]) -> dict[str, str]:
        """The latest decision's outcome of each of these claims that has one."""
        d = self.tables["decisions"]
        found: dict[str, tuple[int, str]] = {}
        with self.engine.connect() as conn:
            for part in chunks(list(claim_ids)):
                rows = conn.execute(
                    sa.select(d.c.claim_id, d.c.decision_id, d.c.outcome).where(
                        d.c.claim_id.in_(list(part))
                    )
                ).fetchall()
                for cid, did, outcome in rows:
                    if cid not in found or did > found[cid][0]:
                        found[cid] = (did, outcome)
        return {cid: outcome for cid, (_, outcome) in found.items()}

    def scores_of(self, claim_ids: Sequence[str]) -> pd.DataFrame:
        """Every stored score of these claims (all model versions)."""
        s = self.tables["scores"]
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(s).where(s.c.claim_id.in_(list(claim_ids)))).fetchall()
        return pd.DataFrame.from_records(rows, columns=[c.name for c in s.columns])
