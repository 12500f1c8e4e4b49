"""The fingerprint of a data directory: which bytes a model was trained on or a backlog holds.

Beside the loader because it reads the same tables: a model version records the fingerprint of
its training data, and a batch checkpoint the fingerprint of its backlog, so a changed directory
is noticed (the demo retrains only when the data changed; a resume refuses other data).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from riskml.contract import TABLES


def data_fingerprint(data_dir: Path) -> str:
    """SHA-256 over the bytes of every contract table in the directory, in table order."""
    digest = hashlib.sha256()
    for name in TABLES:
        paths = [data_dir / f"{name}.parquet"]
        if (data_dir / name).is_dir():
            paths = sorted((data_dir / name).rglob("*.parquet"))
        for path in paths:
            if path.is_file():
                digest.update(f"{name}:{path.name}".encode())
                with path.open("rb") as fh:
                    for block in iter(lambda: fh.read(1 << 20), b""):
                        digest.update(block)
    return digest.hexdigest()
