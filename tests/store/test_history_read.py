"""The online history read: every relation it follows is indexed (so SQLite and PostgreSQL
search instead of scanning), and its caches are invalidated by writes to their own table only."""

from __future__ import annotations

import pandas as pd
import sqlalchemy as sa

from riskml.store import Store
from riskml.store.schema import ALL_CONTRACT_INDEXES
from tests.serve.support import tiny_world


def test_every_history_relation_is_indexed(store: Store) -> None:
    for table, column in (
        ("claims", "person_id"),
        ("claims", "provider_id"),
        ("claims", "employer_id"),
        ("claims", "doctor_id"),
        ("claim_items", "trace_code"),
    ):
        assert (column,) in ALL_CONTRACT_INDEXES[table], (table, column)
        names = {ix["name"] for ix in sa.inspect(store.engine).get_indexes(table)}
        assert f"ix_{table}_{column}" in names, (table, column)


def test_scoring_writes_keep_the_small_table_cache(store: Store) -> None:
    world = tiny_world()
    store.ingest(world)
    claim = world.claims.iloc[[-1]]
    first = store.history_for(claim)
    assert "providers" in store._small_cache and "employers" in store._small_cache
    cached = store._small_cache["providers"][1]
    items = world.claim_items.loc[world.claim_items["claim_id"] == claim["claim_id"].iloc[0]]
    store.record_scoring(claim, items, [], [])  # what every scored request writes
    assert store._small_cache["providers"][1] is cached
    again = store.history_for(claim)
    pd.testing.assert_frame_equal(again.providers, first.providers)
    # a write to providers itself is seen at once
    providers = world.providers.copy()
    providers.loc[0, "beds"] = 999
    store.upsert_frame("providers", providers)
    assert "providers" not in store._small_cache
    assert 999 in store.history_for(claim).providers["beds"].tolist()
