"""``riskml labels export``: investigators' decisions as a contract labels table."""

from __future__ import annotations

from pathlib import Path

from riskml.data import write_table
from riskml.io import atomic_path
from riskml.store.store import open_store


def export_labels(out: Path | str, store_url: str | None = None) -> int:
    """Write the latest decision per claim as ``labels`` (``source = investigation``)
    atomically to ``out``; returns the number of labels written.
    """
    store = open_store(store_url)
    try:
        labels = store.labels_frame()
    finally:
        store.close()
    with atomic_path(out) as tmp:
        write_table(labels, tmp, "labels")
    return len(labels)
