"""``riskml ingest``: load a validated data directory into the service store."""

from __future__ import annotations

import logging
import time
from pathlib import Path

from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeRemainingColumn

from riskml.data import load_data_dir
from riskml.store.store import open_store

log = logging.getLogger(__name__)


def run_ingest(
    data: Path | str, store_url: str | None = None, *, chunk_rows: int = 50_000
) -> dict[str, int]:
    """Validate ``data`` (the whole directory, before anything is written) and upsert every
    table into the store by key, chunk by chunk with a progress bar. Re-ingesting the same or
    later data (new claims, late death reports) updates rows in place and duplicates nothing.
    """
    started = time.perf_counter()
    loaded = load_data_dir(data)
    store = open_store(store_url)
    try:
        with Progress(
            TextColumn("{task.description:14s}"),
            BarColumn(),
            TextColumn("{task.completed:>12,.0f}/{task.total:,.0f} rows"),
            TimeRemainingColumn(),
            transient=False,
        ) as bar:
            tasks: dict[str, TaskID] = {
                name: bar.add_task(name, total=len(frame))
                for name, frame in loaded.tables().items()
            }

            def progress(table: str, done: int, total: int) -> None:
                bar.update(tasks[table], completed=done)

            counts = store.ingest(loaded, chunk_rows=chunk_rows, progress=progress)
        elapsed = time.perf_counter() - started
        log.info(
            "ingested %s rows into %s in %.1f s",
            f"{sum(counts.values()):,}",
            store.describe(),
            elapsed,
        )
    finally:
        store.close()
    return counts
