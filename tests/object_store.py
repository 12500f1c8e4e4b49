"""A local folder behind a file system without rename, as an object store is, for the tests.

:class:`NoRenameHandler` serves a folder of this machine through :class:`pyarrow.fs.PyFileSystem`
and refuses ``move`` (an object store has no rename: pyarrow's S3 file system emulates it by a
copy and a delete, which is not atomic for what the copy shows while it runs), records the calls
it is given, and can make the writes of chosen files fail half-way, as a killed upload would.
The paths are the machine's own, so Spark reads and writes the same files through ``file://``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa
import pyarrow.fs as pafs

from riskml.location import Location


class _FailingWriter:
    """A writable file that fails after ``limit`` bytes (what is written so far stays)."""

    def __init__(self, stream: pa.NativeFile, limit: int) -> None:
        self.stream, self.limit, self.written, self.closed = stream, limit, 0, False

    def write(self, data: bytes) -> int:
        if self.written + len(data) > self.limit:
            raise OSError("injected: the upload was cut off")
        self.written += len(data)
        return self.stream.write(data)

    def flush(self) -> None:
        self.stream.flush()

    def close(self) -> None:
        self.closed = True
        self.stream.close()


@dataclass
class NoRenameHandler(pafs.FileSystemHandler):  # type: ignore[misc]
    """The local file system without ``move``; ``fail_writes_ending`` makes writes of files whose
    path ends so fail after ``fail_after`` bytes."""

    calls: list[tuple[str, str]] = field(default_factory=list)
    fail_writes_ending: str | None = None
    fail_after: int = 1_000
    local: pafs.LocalFileSystem = field(default_factory=pafs.LocalFileSystem)

    def _log(self, op: str, path: str) -> None:
        self.calls.append((op, path))

    def get_type_name(self) -> str:
        return "no-rename"

    def normalize_path(self, path: str) -> str:
        return self.local.normalize_path(path)

    def get_file_info(self, paths: list[str]) -> list[pafs.FileInfo]:
        return self.local.get_file_info(paths)

    def get_file_info_selector(self, selector: pafs.FileSelector) -> list[pafs.FileInfo]:
        return self.local.get_file_info(selector)

    def create_dir(self, path: str, recursive: bool) -> None:
        self.local.create_dir(path, recursive=recursive)

    def delete_dir(self, path: str) -> None:
        self._log("delete_dir", path)
        self.local.delete_dir(path)

    def delete_dir_contents(self, path: str, missing_dir_ok: bool = False) -> None:
        self.local.delete_dir_contents(path, missing_dir_ok=missing_dir_ok)

    def delete_root_dir_contents(self) -> None:
        raise OSError("refused: deleting the root")

    def delete_file(self, path: str) -> None:
        self._log("delete_file", path)
        self.local.delete_file(path)

    def move(self, src: str, dest: str) -> None:
        self._log("move", dest)
        raise OSError("this file system has no rename")

    def copy_file(self, src: str, dest: str) -> None:
        self._log("copy_file", dest)
        self.local.copy_file(src, dest)

    def open_input_stream(self, path: str) -> pa.NativeFile:
        return self.local.open_input_stream(path)

    def open_input_file(self, path: str) -> pa.NativeFile:
        return self.local.open_input_file(path)

    def open_output_stream(self, path: str, metadata: Any) -> pa.NativeFile:
        self._log("write", path)
        stream = self.local.open_output_stream(path)
        if self.fail_writes_ending and path.endswith(self.fail_writes_ending):
            return pa.PythonFile(_FailingWriter(stream, self.fail_after), mode="w")
        return stream

    def open_append_stream(self, path: str, metadata: Any) -> pa.NativeFile:
        raise OSError("an object store does not append")


def no_rename_location(path: str, handler: NoRenameHandler) -> Location:
    """``path`` (absolute, of this machine) on ``handler``'s file system; Spark's URL for it is
    its ``file://`` URL."""
    return Location(pafs.PyFileSystem(handler), path, url_base="file://", shown_base="norename://")
