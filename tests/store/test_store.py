"""The service store: migrations match the metadata, ingest upserts, history has loader dtypes."""

from __future__ import annotations

import pandas as pd
import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from riskml.contract import TABLES
from riskml.data import ClaimsData, load_data_dir, validate_frame
from riskml.store import Store, open_store
from riskml.store.schema import METADATA
from tests.serve.support import tiny_world


def test_migrated_schema_equals_the_metadata_built_from_the_contract(store: Store) -> None:
    with store.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), METADATA)
    assert diff == []
    for name, spec in TABLES.items():
        assert set(spec.column_names) <= set(METADATA.tables[name].c.keys())


def test_migrate_twice_is_harmless(store_url: str) -> None:
    open_store(store_url).close()
    s = open_store(store_url)
    assert s.ping()
    s.close()


def test_ingest_twice_duplicates_nothing_and_updates_late_facts(store: Store) -> None:
    world = tiny_world()
    store.ingest(world)
    store.ingest(world)
    for name, frame in world.tables().items():
        assert store.count(name) == len(frame), name
    # a later extract: the death of P3 is now reported, and a new claim arrived
    persons = world.persons.copy()
    persons.loc[persons["person_id"] == "P3", "death_reported_on"] = pd.Timestamp("2024-03-20")
    new_claim = world.claims.iloc[[3]].assign(
        claim_id="C6", submitted_at=pd.Timestamp("2024-04-02 08:00")
    )
    later = ClaimsData(
        persons=persons,
        employers=world.employers,
        providers=world.providers,
        contributions=world.contributions,
        claims=pd.concat([world.claims, new_claim], ignore_index=True),
        claim_items=world.claim_items,
    )
    store.ingest(later)
    assert store.count("claims") == 6
    assert store.count("persons") == 3
    hist = store.history_for(new_claim.assign(claim_id="X"))
    p3 = hist.persons.set_index("person_id").loc["P3"]
    assert p3["death_reported_on"] == pd.Timestamp("2024-03-20")


def test_contributions_with_null_employer_upsert_by_key(store: Store) -> None:
    world = tiny_world()
    store.ingest(world)
    changed = world.contributions.assign(
        contribution_base=world.contributions.contribution_base + 1
    )
    store.upsert_frame("contributions", changed)
    assert store.count("contributions") == len(world.contributions)
    got = store.history_for(world.claims.loc[world.claims.person_id == "P2"]).contributions
    p2 = changed.loc[changed["person_id"] == "P2"]
    merged = got.merge(p2, on=["person_id", "employer_id", "month"], how="outer")
    assert len(merged) == 3
    assert (merged["contribution_base_x"] == merged["contribution_base_y"]).all()


def test_history_has_loader_dtypes_and_only_what_was_before(store: Store, tmp_path) -> None:
    world = tiny_world()
    store.ingest(world)
    world.write(tmp_path / "data")
    loaded = load_data_dir(tmp_path / "data")
    # score C2 (P1 at H1, 2024-03-05) as if it arrived now
    claims = loaded.claims.loc[loaded.claims.claim_id == "C2"]
    hist = store.history_for(claims)
    for name, frame in hist.tables().items():
        ref = getattr(loaded, name)
        common = [c for c in ref.columns if c in frame.columns]
        assert list(frame.columns) == common, name
        assert frame.dtypes.to_dict() == ref[common].dtypes.to_dict(), name
    # never itself, never a later claim; the earlier claim of the same person and provider
    assert hist.claims["claim_id"].tolist() == ["C1"]
    # values round-trip exactly (nulls, dates, nullable ints)
    for name in ("claims", "claim_items", "persons", "providers", "employers"):
        got = getattr(hist, name).sort_values(list(TABLES[name].key)).reset_index(drop=True)
        ref = getattr(loaded, name)
        key = TABLES[name].key[0]
        ref = ref.loc[ref[key].isin(got[key]), list(got.columns)]
        ref = ref.sort_values(list(TABLES[name].key)).reset_index(drop=True)
        pd.testing.assert_frame_equal(got, ref, check_exact=True)
    assert sorted(hist.claim_items["claim_id"]) == ["C1", "C1"]
    assert set(hist.persons["person_id"]) == {"P1"}
    assert set(hist.providers["provider_id"]) == {"H1", "H2"}
    # a claim tied to an employer sees that employer's contributions
    c3 = loaded.claims.loc[loaded.claims.claim_id == "C3"]
    h3 = store.history_for(c3)
    assert set(h3.contributions["employer_id"].dropna()) == {"E1"}
    assert len(h3.contributions) == 3  # P2's contributions of months up to 2024-03-01


def test_history_of_the_same_claim_again_excludes_the_stored_copy(store: Store) -> None:
    world = tiny_world()
    store.ingest(world)
    c5 = world.claims.loc[world.claims.claim_id == "C5"]
    hist = store.history_for(c5)
    assert "C5" not in set(hist.claims["claim_id"])
    assert "C3" in set(hist.claims["claim_id"])


def test_optional_columns_appear_only_when_stored(store: Store) -> None:
    world = tiny_world()
    store.ingest(world)
    c2 = world.claims.loc[world.claims.claim_id == "C2"]
    assert "doctor_id" not in store.history_for(c2).claims.columns
    with_doctor = world.claims.assign(doctor_id=["D1", None, None, None, None])
    store.upsert_frame("claims", validate_frame(with_doctor, "claims"))
    hist = store.history_for(c2)
    assert hist.claims.set_index("claim_id").loc["C1", "doctor_id"] == "D1"


def test_unknown_reference_names_the_first_bad_claim(store: Store) -> None:
    store.ingest(tiny_world())
    claims = tiny_world().claims.copy()
    claims.loc[2, "employer_id"] = "NOPE"
    claims.loc[4, "provider_id"] = "NOWHERE"
    assert store.unknown_reference(claims) == (2, "employer_id", "NOPE")
    assert store.unknown_reference(tiny_world().claims) is None


def test_labels_frame_is_a_valid_labels_table_with_latest_decision(store: Store) -> None:
    store.ingest(tiny_world())
    ids = iter(range(100))

    def subject(person: str) -> str:
        return f"s{next(ids)}"

    assert store.record_decision("C1", "unfounded", "ok", None, "ann", "investigator", subject)
    assert store.record_decision(
        "C1", "fraud", "on review", "upcoding", "sue", "supervisor", subject
    )
    assert store.record_decision("C2", "error", "typo", None, "ann", "investigator", subject)
    assert store.record_decision("NOPE", "error", "x", None, "ann", "investigator", subject) is None
    labels = store.labels_frame()
    validate_frame(labels, "labels")
    got = labels.set_index("claim_id")
    assert got.loc["C1", "outcome"] == "fraud" and bool(got.loc["C1", "is_fraud"])
    assert got.loc["C1", "typology"] == "upcoding"
    assert got.loc["C2", "outcome"] == "error" and not bool(got.loc["C2", "is_fraud"])
    assert (labels["source"] == "investigation").all()
    assert len(store.decisions()) == 3  # append-only: the overridden decision is kept
    audit = store.audit_log()
    assert list(audit["action"]) == ["decide"] * 3
    assert list(audit["actor"]) == ["ann", "sue", "ann"]


@pytest.mark.parametrize("bad", ["not a url", "nosuchdb://x"])
def test_bad_store_url_is_a_clear_error(bad: str) -> None:
    from riskml.errors import RiskmlError

    with pytest.raises((RiskmlError, Exception)):
        open_store(bad)


@pytest.mark.parametrize("table", ["audit_log", "decisions"])
def test_audit_log_and_decisions_are_append_only(store: Store, table: str) -> None:
    import sqlalchemy as sa

    store.ingest(tiny_world())
    store.record_decision("C1", "error", "typo", None, "ann", "investigator", lambda p: "s")
    t = store.tables[table]
    column = "actor" if table == "audit_log" else "decided_by"
    for stmt in (sa.update(t).values({column: "mallory"}), sa.delete(t)):
        with pytest.raises(sa.exc.DatabaseError, match="append-only"), store.engine.begin() as c:
            c.execute(stmt)
    assert len(store.audit_log() if table == "audit_log" else store.decisions()) == 1


def test_copy_path_upserts_like_executemany(
    store: Store, monkeypatch: pytest.MonkeyPatch, tmp_path
) -> None:
    """PostgreSQL's COPY + staging-table upsert (used from 1,000 rows) forced on tiny data."""
    import riskml.store.upsert as upsert_module

    monkeypatch.setattr(upsert_module, "COPY_MIN_ROWS", 1)
    test_ingest_twice_duplicates_nothing_and_updates_late_facts(store)
    test_contributions_with_null_employer_upsert_by_key(store)
    test_history_has_loader_dtypes_and_only_what_was_before(store, tmp_path)


def test_a_new_sqlite_store_is_private_to_its_owner(tmp_path) -> None:
    """The store holds personal data: its file and SQLite's WAL and shm files are 0600."""
    import os
    import stat

    old = os.umask(0o022)  # the usual umask, which would give 0644
    try:
        store = open_store(f"sqlite:///{tmp_path / 'sub' / 'store.db'}")
        store.ingest(tiny_world())
    finally:
        os.umask(old)
    files = sorted((tmp_path / "sub").iterdir())
    assert {f.name for f in files} >= {"store.db", "store.db-wal", "store.db-shm"}
    for f in files:
        assert stat.S_IMODE(f.stat().st_mode) == 0o600, f.name
    store.close()
