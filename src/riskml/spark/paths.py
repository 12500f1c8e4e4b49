"""Which paths the Spark engine takes: the driver's own paths, or URLs of a file system.

``--data`` and ``--out`` are either paths of the driver's file system (read and written as the
pandas engine does; on a cluster they must be mounted at the same place on every executor) or
URLs (``file://``, ``s3a://``, ``s3://``, ``hdfs://``; :mod:`riskml.location`). A URL is
resolved on the driver into a :mod:`pyarrow.fs` file system, through which the driver checks the
directory against the contract, reads the small tables, the plausibility rules and the
fingerprint, keeps the checkpoint and the wave markers, and writes the output; Spark is handed
the URL itself and reads the large tables and writes the waves through its own Hadoop file
system for that scheme (``s3a://`` needs the ``hadoop-aws`` connector on the cluster).

Bad input is refused in one line naming the option, before a model or a byte of data is read
and before anything is written: an unknown scheme, a file system that cannot be opened or
reached, a ``--data`` that is not a folder, an ``--out`` that is a folder (or, on S3, whose
bucket does not exist). A URL given as a :class:`~pathlib.Path` is refused too: ``Path`` folds
``s3a://b/x`` into ``s3a:/b/x``, which must never silently become a local folder named ``s3a:``.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from riskml.backlog import work_folder
from riskml.location import Location, check_data_dir, check_output, resolve

#: A path of the driver or a URL's location.
Where = Path | Location


def engine_paths(
    data_dir: Path | str | Location, out: Path | str | Location
) -> tuple[Where, Where]:
    """``--data`` and ``--out`` resolved and checked (see the module docstring)."""
    data = resolve("--data", data_dir)
    target = resolve("--out", out)
    if isinstance(data, Location):
        check_data_dir("--data", data)
    if isinstance(target, Location):
        check_output("--out", target)
    return data, target


def spark_url(where: Where) -> str:
    """What Spark is handed for ``where``: a URL's own (``s3a://...``), or the ``file:`` URL of a
    driver path (a bare path would resolve against the cluster's default file system, HDFS say,
    and Spark could read other bytes than the driver checked). Unescaped: Hadoop's ``Path``
    escapes it itself."""
    if isinstance(where, Location):
        return where.url
    return f"file://{where.resolve()}"


def remove_tree(where: Where) -> None:
    """Delete the folder ``where`` and everything in it."""
    if isinstance(where, Location):
        where.filesystem.delete_dir(where.path)
    else:
        shutil.rmtree(where)


def make_folder(where: Where) -> None:
    if isinstance(where, Location):
        where.filesystem.create_dir(where.path, recursive=True)
    else:
        where.mkdir(parents=True)


__all__ = ["Where", "engine_paths", "make_folder", "remove_tree", "spark_url", "work_folder"]
