"""Stored claims are history: what counts as the same content, and what a correction keeps."""

from __future__ import annotations

import pandas as pd
import pytest

from riskml.data import validate_frame
from riskml.store import ClaimConflict, Store
from tests.serve.support import tiny_world


def _claim(claim_id: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    world = tiny_world()
    claims = validate_frame(world.claims, "claims")
    items = validate_frame(world.claim_items, "claim_items")
    return (
        claims.loc[claims["claim_id"] == claim_id].reset_index(drop=True),
        items.loc[items["claim_id"] == claim_id].reset_index(drop=True),
    )


def test_same_content_is_no_conflict_and_other_content_names_the_fields(store: Store) -> None:
    store.ingest(tiny_world())
    claim, items = _claim("C1")
    assert store.claim_conflicts(claim, items) == []
    # a column the request does not send counts as null: the same, since C1 has no doctor
    assert store.claim_conflicts(claim.drop(columns=["doctor_id"], errors="ignore"), items) == []
    changed = claim.assign(amount_claimed=1.0, channel="online")
    fewer = items.iloc[:1]
    [diff] = store.claim_conflicts(changed, fewer)
    assert diff.claim_id == "C1" and diff.position == 0
    assert diff.fields == ("amount_claimed", "channel", "items[line_no=2]")
    # a new claim is never a conflict
    assert store.claim_conflicts(claim.assign(claim_id="NEW"), items.assign(claim_id="NEW")) == []


def test_a_conflicting_write_is_refused_whole(store: Store) -> None:
    store.ingest(tiny_world())
    claim, items = _claim("C1")
    new, new_items = _claim("C2")
    both = pd.concat([new.assign(claim_id="N1"), claim.assign(person_id="P2")], ignore_index=True)
    with pytest.raises(ClaimConflict, match="person_id"):
        store.record_scoring(both, pd.concat([new_items.assign(claim_id="N1"), items]), [], [])
    assert store.stored_claim("N1")[0].empty
    assert store.stored_claim("C1")[0]["person_id"].tolist() == ["P1"]


def test_a_correction_keeps_the_earlier_version_and_replaces_every_column(store: Store) -> None:
    world = tiny_world()
    world.claims["doctor_id"] = ["D1", None, None, None, None]
    store.ingest(world)
    claim, items = _claim("C1")  # without doctor_id: the correction clears it
    fixed = claim.assign(amount_claimed=11000.0)
    done = store.correct_claim(
        fixed, items.iloc[:1], actor="root", role="admin", reason="typo", subject=lambda p: "s"
    )
    assert done is not None and done.version == 2
    assert done.fields == ("amount_claimed", "doctor_id", "items[line_no=2]")
    stored, stored_items = store.stored_claim("C1")
    assert stored["amount_claimed"].tolist() == [11000.0]
    assert "doctor_id" not in stored or stored["doctor_id"].isna().all()
    assert stored_items["line_no"].tolist() == [1]
    [kept] = store.claim_versions("C1")
    assert kept["version"] == 1 and kept["claim"]["doctor_id"] == "D1"
    assert kept["claim"]["submitted_at"] == "2024-02-01T09:00:00"
    assert [r["line_no"] for r in kept["items"]] == [1, 2]
    audit = store.audit_log()
    assert audit["action"].tolist()[-1] == "correct"
    assert (
        store.correct_claim(
            claim.assign(claim_id="NOPE"), items, actor="a", role="admin", reason="x", subject=str
        )
        is None
    )


def test_concurrent_writers_of_one_new_claim_cannot_both_store_it(store: Store) -> None:
    """Several processes of the service write at once: the check and the write of a claim are
    one serialised step (BEGIN IMMEDIATE on SQLite, an advisory lock on PostgreSQL)."""
    import threading

    store.ingest(tiny_world())
    claim, items = _claim("C2")
    persons = ["P1", "P2", "P3"] * 2
    outcomes: list[str] = []
    start = threading.Barrier(len(persons))

    def write(person: str) -> None:
        mine = claim.assign(claim_id="RACE", person_id=person)
        start.wait()
        try:
            store.record_scoring(mine, items.assign(claim_id="RACE"), [], [])
            outcomes.append(person)
        except ClaimConflict:
            outcomes.append("409")

    threads = [threading.Thread(target=write, args=(p,)) for p in persons]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    [stored] = store.stored_claim("RACE")[0]["person_id"].tolist()
    assert sorted(outcomes) == sorted([stored] * 2 + ["409"] * 4)
