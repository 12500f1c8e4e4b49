"""The service store (SQLite by default, PostgreSQL by ``RISKML_STORE_URL``)."""

from riskml.store.store import (
    FLAGGED_BANDS,
    Store,
    contract_records,
    default_store_url,
    make_engine,
    open_store,
)

__all__ = [
    "FLAGGED_BANDS",
    "Store",
    "contract_records",
    "default_store_url",
    "make_engine",
    "open_store",
]
