"""The workspace's store modules on SQLite and PostgreSQL: decisions and their chain, the queue
under the kill switch and approved cut-offs, random audits, the labels export."""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa

from riskml.store import Store, casefile, decisions, workspace
from riskml.store.labels import export_labels
from tests.serve.support import tiny_world

NOTE = "Checked the ward register against the invoices."


def _scores(store: Store, rows: dict[str, tuple[float, str]], version: str = "v1") -> None:
    frame = pd.DataFrame(
        {
            "claim_id": list(rows),
            "model_version": version,
            "risk_score": [v[0] for v in rows.values()],
            "risk_band": [v[1] for v in rows.values()],
            "reasons": [
                json.dumps([{"feature": "length_of_stay_days", "value": 9.0, "contribution": 1.0,
                             "text": "stayed 9 days in hospital"}])
            ] * len(rows),
        }
    )  # fmt: skip
    store.record_batch_scores(frame)


@pytest.fixture
def world(store: Store) -> Store:
    store.ingest(tiny_world())
    _scores(store, {"C1": (0.9, "high"), "C2": (0.6, "medium"), "C3": (0.55, "medium")})
    return store


def _ids(store: Store, **filters: object) -> list[str]:
    rows, _ = workspace.queue(store, "ann", workspace.QueueFilters(**filters))  # type: ignore[arg-type]
    return [r["claim_id"] for r in rows]


def test_note_rules() -> None:
    assert decisions.clean_note("  Two identical invoices,\r\nsame day.  ") == (
        "Two identical invoices,\nsame day."
    )
    assert decisions.clean_note("重复报销已核实") == "重复报销已核实"
    for bad in [
        "",
        "   ",
        "aaaaaaaaaa",
        "ok ok ok",
        "note\x00with a null",
        "rtl \u202e trick here",
    ]:
        with pytest.raises(decisions.DecisionInvalid) as err:
            decisions.clean_note(bad)
        assert err.value.field == "note"


def test_one_first_decision_then_reviews_that_reference_the_final_one(world: Store) -> None:
    record = lambda d: decisions.record(world, "C1", d, "ann", "investigator", lambda p: "s")  # noqa: E731
    with pytest.raises(decisions.DecisionInvalid):
        record(decisions.DecisionInput("fraud", NOTE))  # no typology
    first = record(decisions.DecisionInput("fraud", NOTE, "upcoding", 500.0))
    assert first["kind"] == "decision"
    with pytest.raises(decisions.DecisionConflict):
        record(decisions.DecisionInput("unfounded", NOTE))
    with pytest.raises(decisions.DecisionConflict):
        record(
            decisions.DecisionInput(
                "error", NOTE, kind="review", review_of=first["decision_id"] + 99
            )
        )
    review = record(
        decisions.DecisionInput("error", NOTE, kind="review", review_of=first["decision_id"])
    )
    chain = decisions.decisions_of(world, "C1")
    assert [d["kind"] for d in chain] == ["decision", "review"]
    assert chain[1]["review_of"] == first["decision_id"] == chain[0]["decision_id"]
    assert review["decision_id"] == chain[1]["decision_id"]
    assert chain[0]["model_version"] == "v1"  # the version the claim was scored with
    # the database itself refuses a second first decision
    with world.engine.connect() as conn, pytest.raises(sa.exc.IntegrityError), conn.begin():
        conn.execute(
            sa.insert(world.tables["decision_details"]),
            {"decision_id": 999, "claim_id": "C1", "kind": "decision", "review_of": 0},
        )
    with pytest.raises(decisions.ClaimUnknown):
        decisions.record(world, "NOPE", decisions.DecisionInput("error", ""), "a", "b", str)


def test_queue_kill_switch_and_approved_cutoffs(world: Store) -> None:
    assert _ids(world) == ["C1", "C3", "C2"]  # high first, then by amount at stake
    assert _ids(world, band="high") == ["C1"]
    workspace.set_kill_switch(world, True, "sue", "supervisor", "drift")
    time.sleep(1.1)
    _scores(world, {"C4": (0.95, "high")}, version="v2")  # scored while engaged
    time.sleep(1.1)
    workspace.set_kill_switch(world, False, "sue", "supervisor", "explained")
    assert "C4" not in _ids(world) and "C1" in _ids(world)
    pid = workspace.propose_cutoffs(world, "v1", 0.95, 0.58, "capacity halved", "sue", "supervisor")
    with pytest.raises(workspace.NotAllowed):
        workspace.decide_proposal(world, pid, True, "sue", "supervisor")
    assert set(_ids(world)) == {"C1", "C2", "C3"}
    workspace.decide_proposal(world, pid, True, "bob", "supervisor")
    rows, _ = workspace.queue(world, "ann", workspace.QueueFilters())
    assert {r["claim_id"]: r["band"] for r in rows} == {"C1": "medium", "C2": "medium"}
    log = world.audit_log()
    assert {"kill_switch", "propose_cutoffs", "approve_cutoffs"} <= set(log["action"])


def test_unflagged_scores_join_the_population_not_the_queue(world: Store) -> None:
    frame = pd.DataFrame(
        {
            "claim_id": ["C4", "C5", "C1"],
            "model_version": "v1",
            "risk_score": [0.1, 0.2, 0.05],
            "risk_band": ["low", "low", "low"],
        }
    )
    assert workspace.record_unflagged_scores(world, frame) == 3
    population = {p["claim_id"]: p["risk_band"] for p in workspace.scored_population(world)}
    assert population == {"C1": "high", "C2": "medium", "C3": "medium", "C4": "low", "C5": "low"}
    assert _ids(world) == ["C1", "C3", "C2"]


def test_random_audits_export_with_their_probability(world: Store, tmp_path: Path) -> None:
    population = workspace.scored_population(world)
    picked = workspace.draw_random_audits(
        world, population, 2, "sue", "supervisor", rng=np.random.default_rng(1)
    )
    assert len(picked) == 2 and set(picked) <= {"C1", "C2", "C3"}
    assert not set(picked) & set(_ids(world))  # not among the scored referrals
    assert [
        r["claim_id"] for r in workspace.audit_queue(world, "ann", workspace.QueueFilters())
    ] == sorted(picked)
    for cid in picked:
        decisions.record(
            world, cid, decisions.DecisionInput("unfounded", NOTE), "ann", "investigator", str
        )
    other = next(c for c in ("C1", "C2", "C3") if c not in picked)
    decisions.record(
        world,
        other,
        decisions.DecisionInput("abuse", NOTE, "unbundling"),
        "ann",
        "investigator",
        str,
    )
    done = export_labels(
        tmp_path / "labels.parquet", world.engine.url.render_as_string(hide_password=False)
    )
    labels = pd.read_parquet(tmp_path / "labels.parquet").set_index("claim_id")
    assert done.labels == 3 and done.random_audits == 2 and done.reviewed == 0
    assert (labels.loc[picked, "source"] == "random_audit").all()
    assert labels.loc[picked, "selection_probability"].tolist() == pytest.approx([2 / 3, 2 / 3])
    assert labels.loc[other, "source"] == "investigation" and bool(labels.loc[other, "is_fraud"])
    with pytest.raises(workspace.WorkspaceError):
        workspace.draw_random_audits(world, population, 2, "sue", "supervisor")  # none left


def test_case_file_and_dashboard(world: Store) -> None:
    case = casefile.case_file(world, "C1")
    assert case is not None and case["score"]["band"] == "high"
    assert [i["line_no"] for i in case["line_items"]] == [1, 2]
    assert {t["claim_id"] for t in case["timeline"]} == {"C1", "C2"}
    decisions.record(
        world,
        "C2",
        decisions.DecisionInput("fraud", NOTE, "upcoding", 99.0),
        "ann",
        "investigator",
        str,
    )
    figures = casefile.dashboard(world, 100, workspace.now())
    assert figures["open"] == 2 and figures["decided"] == 1
    assert figures["by_band"] == [
        {
            "band": "medium",
            "decided": 1,
            "fraud_or_abuse": 1,
            "error": 0,
            "hit_rate": 1.0,
            "amount_found": 99.0,
        }
    ]
    assert casefile.case_file(world, "NOPE") is None
