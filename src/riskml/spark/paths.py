"""Which paths the Spark engine takes: the driver's own file system, not Hadoop URLs (yet).

The driver reads the data directory itself before Spark does (the contract check, the small
tables, the chunk plan and the data fingerprint, :class:`riskml.backlog.DataDirReader`), and
keeps the run's checkpoint and committed waves in a work folder beside ``--out``, which it
merges into the output file by an atomic rename: all of that is local file-system code. So
``hdfs://``, ``s3a://``, ``file://`` and other URLs are refused in one line, before a model or a
byte of data is read (docs/spark.md, "Paths").

A URL given through the command line arrives as a :class:`~pathlib.Path`, which folds the
scheme's ``//`` (``s3a://bucket/x`` becomes ``s3a:/bucket/x``); both spellings are recognised,
so a URL never silently becomes a local folder named ``s3a:``.
"""

from __future__ import annotations

import re
from pathlib import Path

from riskml.errors import ConfigError

#: A URL scheme (RFC 3986) as the first component of a path, ``//`` folded or not.
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]+:(//|/|$)")


def url_scheme(path: Path | str) -> str | None:
    """The scheme of ``path`` when it is a URL (``hdfs``, ``s3a``, ``file``...), else None."""
    match = _SCHEME.match(str(path))
    return str(path).split(":", 1)[0] if match else None


def check_local_paths(data_dir: Path | str, out: Path | str) -> None:
    """Refuse ``--data`` or ``--out`` given as a URL (see the module docstring)."""
    for option, path in (("--data", data_dir), ("--out", out)):
        scheme = url_scheme(path)
        if scheme is not None:
            raise ConfigError(
                f"{option} {path}: the Spark engine takes paths of the driver's file system "
                f"(shared with the executors on a cluster, e.g. an NFS or HDFS mount), not "
                f"{scheme}:// URLs, in this build"
            )
