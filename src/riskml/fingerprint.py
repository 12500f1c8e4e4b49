"""The fingerprint of a data directory: which bytes a model was trained on or a backlog holds.

Beside the loader because it reads the same tables: a model version records the fingerprint of
its training data, and a batch checkpoint the fingerprint of its backlog, so a changed directory
is noticed (the demo retrains only when the data changed; a resume refuses other data).
"""

from __future__ import annotations

import hashlib
from pathlib import Path, PurePosixPath

import pyarrow.fs as pafs

from riskml.contract import TABLES
from riskml.location import Location


def data_fingerprint(data_dir: Path | Location) -> str:
    """SHA-256 over the bytes of every contract table in the directory, in table order.

    A :class:`~riskml.location.Location` (a URL) is read through its file system, in the same
    order and with the same bytes hashed, so a directory has one fingerprint however it is named.
    """
    if isinstance(data_dir, Location):
        return _location_fingerprint(data_dir)
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


def _location_fingerprint(data_dir: Location) -> str:
    fs = data_dir.filesystem
    digest = hashlib.sha256()
    for name in TABLES:
        file, folder = data_dir.child(f"{name}.parquet"), data_dir.child(name)
        found = [fs.get_file_info(file.path)]
        if folder.is_dir():
            selector = pafs.FileSelector(folder.path, recursive=True)
            found = [i for i in fs.get_file_info(selector) if i.path.endswith(".parquet")]
            found.sort(key=lambda i: PurePosixPath(i.path))  # as sorted(Path.rglob) orders them
        for info in found:
            if info.type == pafs.FileType.File:
                digest.update(f"{name}:{info.base_name}".encode())
                with fs.open_input_stream(info.path) as stream:
                    for block in iter(lambda: stream.read(1 << 20), b""):
                        digest.update(block)
    return digest.hexdigest()
