"""The service store as one object: the facade over the store's resources.

Each resource lives in its own module and :class:`Store` only puts them together, so callers hold
one object with one engine:

- :mod:`riskml.store.history`: the contract tables (ingest, and the history online scoring reads);
- :mod:`riskml.store.versions`: stored claims as history (conflicts, corrections, versions);
- :mod:`riskml.store.scores`: scores with their reasons (online requests, batch loads);
- :mod:`riskml.store.triage`: the queue, decisions and the labels they become;
- :mod:`riskml.store.keys`: API keys;
- :mod:`riskml.store.audit`: the audit log;

on top of :mod:`riskml.store.core` (engine, migrations, transactions), :mod:`riskml.store.upsert`
(bulk upserts) and :mod:`riskml.store.rows` (frames to rows and back).
"""

from __future__ import annotations

from riskml.store.core import default_store_url, make_engine
from riskml.store.keys import KeyStore
from riskml.store.scores import ScoreStore
from riskml.store.triage import TriageStore


class Store(ScoreStore, TriageStore, KeyStore):
    """Queries and bulk writes of the service store. Thread-safe: one engine, pooled connections."""


def open_store(url: str | None = None, *, migrate: bool = True) -> Store:
    """Open the store at ``url`` (default :func:`default_store_url`), migrated to the head."""
    store = Store(make_engine(url or default_store_url()))
    if migrate:
        store.migrate()
    return store
