"""Revision 0006 on SQLite and PostgreSQL: shadow scores compared with the champion's on the same
claims (with the decisions investigators recorded on them), and the audit log's ``detail``
column, which keeps a promotion override's justification and leaves the log append-only."""

from __future__ import annotations

import datetime as dt
import json

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from riskml.cli import app
from riskml.store import AuditEntry, Store
from tests.serve.support import tiny_world


def _row(cid: str, version: str, score: float, band: str, ch: float, ch_band: str) -> dict:
    return {
        "claim_id": cid,
        "model_version": version,
        "risk_score": score,
        "risk_band": band,
        "champion_version": "1",
        "champion_score": ch,
        "champion_band": ch_band,
        "scored_at": dt.datetime(2024, 5, 1, 9, 0),
    }


def test_shadow_scores_upsert_and_compare_with_the_champion(store: Store, store_url: str) -> None:
    store.ingest(tiny_world())
    store.record_shadow_scores(
        [
            _row("C1", "2", 0.9, "high", 0.6, "medium"),
            _row("C2", "2", 0.1, "low", 0.2, "low"),
            _row("C3", "2", 0.7, "medium", 0.1, "low"),
        ]
    )
    store.record_shadow_scores([_row("C3", "2", 0.4, "low", 0.1, "low")])  # a retry: upserted
    assert len(store.shadow_scores()) == 3
    store.record_decision("C1", "fraud", "confirmed", "upcoding", "ann", "investigator", str)
    store.record_decision("C2", "unfounded", "fine", None, "ann", "investigator", str)
    (pair,) = store.shadow_comparison()
    assert (pair["champion_version"], pair["challenger_version"], pair["claims"]) == ("1", "2", 3)
    assert pair["mean_abs_difference"] == pytest.approx((0.3 + 0.1 + 0.3) / 3)
    assert pair["band_agreement"] == pytest.approx(2 / 3)
    assert pair["champion_flagged"] == pair["challenger_flagged"] == pair["both_flagged"] == 1
    assert pair["decided"] == 2
    assert pair["champion_flagged_confirmed"] == pair["challenger_flagged_confirmed"] == 1
    assert store.scores_of(["C1", "C2", "C3"]).empty  # nothing of the shadow reaches scores
    res = CliRunner().invoke(app, ["shadow", "--store", store_url])
    assert res.exit_code == 0, res.output
    assert json.loads(res.output.strip().splitlines()[-1]) == [pair]


def test_the_audit_detail_keeps_a_justification_and_the_log_stays_append_only(
    store: Store,
) -> None:
    why = "justification: the backlog needs it; fairness reviewed by hand"
    store.audit([AuditEntry("Zhang Min", "supervisor", "promote_override", "champion -> 4",
                            model_version="4", detail=why)])  # fmt: skip
    store.audit([AuditEntry("ops", "operator", "promote", "champion -> 3")])
    rows = store.audit_log(["promote_override"]).to_dict("records")
    assert [r["detail"] for r in rows] == [why]
    assert store.audit_log(["promote"])["detail"].isna().all()
    t = store.tables["audit_log"]
    with pytest.raises(sa.exc.DatabaseError, match="append-only"), store.engine.begin() as c:
        c.execute(sa.update(t).values({"detail": "rewritten"}))
