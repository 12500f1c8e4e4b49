"""The service store (SQLite by default, PostgreSQL by ``RISKML_STORE_URL``)."""

from riskml.store.audit import AuditEntry
from riskml.store.core import default_store_url, make_engine
from riskml.store.store import Store, open_store
from riskml.store.versions import ClaimConflict, ClaimDiff, Correction

__all__ = [
    "AuditEntry",
    "ClaimConflict",
    "ClaimDiff",
    "Correction",
    "Store",
    "default_store_url",
    "make_engine",
    "open_store",
]
