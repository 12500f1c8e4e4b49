"""The service store (SQLite by default, PostgreSQL by ``RISKML_STORE_URL``)."""

from riskml.store.store import (
    Store,
    contract_records,
    default_store_url,
    make_engine,
    open_store,
)

__all__ = [
    "Store",
    "contract_records",
    "default_store_url",
    "make_engine",
    "open_store",
]
