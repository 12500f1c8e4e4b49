"""Where a data directory or an output lives: a path of this machine, or a URL on a file system.

``--data`` and ``--out`` of the Spark engine take either a plain path (the driver's own file
system, read and written exactly as the pandas engine does) or a URL, resolved here into a
:class:`Location`: a :mod:`pyarrow.fs` file system (:meth:`pyarrow.fs.FileSystem.from_uri`),
the path inside it, and the URL Spark is handed for it. The driver-side steps (the contract
check, the table lookup, the plausibility rules, the fingerprint, the checkpoint, the merge of
the output) read and write through that file system; Spark reads and writes the URL itself,
through its own Hadoop file systems.

The schemes (:data:`SCHEMES`): ``file://`` (the local file system), ``s3a://`` and ``s3://``
(both read by pyarrow's S3 file system; ``s3a`` is the Hadoop connector's name, kept for Spark),
and ``hdfs://`` (pyarrow's ``HadoopFileSystem``, which needs ``libhdfs``, a JVM and a Hadoop
client on the driver). Any other scheme is refused in one line naming the option.

Object stores have no rename: :func:`commit_file` makes an output appear whole there by writing
it under a temporary key and copying it to the final one in one server-side request, never by
writing the final key in place.

A URL may carry credentials (``s3://KEY:SECRET@bucket/...``) or an endpoint in its query
string; :attr:`Location.shown`, which every message and log line uses, carries neither, and the
URL handed to Spark carries no credentials (Spark takes them from its Hadoop configuration).
"""

from __future__ import annotations

import contextlib
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import pyarrow as pa
import pyarrow.fs as pafs

from riskml.errors import ConfigError

#: A URL's scheme (RFC 3986) as the first component of a path, its ``//`` folded or not.
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]+):(//|/|$)")

#: The URL schemes taken, and the pyarrow scheme each is resolved with.
SCHEMES: dict[str, str] = {"file": "file", "s3a": "s3", "s3": "s3", "hdfs": "hdfs"}

#: What a file system raises when it cannot be reached or refuses a request.
FS_ERRORS = (OSError, pa.ArrowException, ValueError)


def url_scheme(path: Path | str) -> str | None:
    """The scheme of ``path`` when it is a URL (``hdfs``, ``s3a``, ``file``...), else None."""
    match = _SCHEME.match(str(path))
    return match.group(1) if match else None


def _one_line(exc: BaseException, limit: int = 300) -> str:
    flat = " ".join(str(exc).split()) or type(exc).__name__
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."


@dataclass(frozen=True)
class Location:
    """A file or folder on a :mod:`pyarrow.fs` file system (see the module docstring).

    ``path`` is in the file system's own form (absolute for ``file``/``hdfs``, ``bucket/key``
    for S3); Spark's URL for it is ``url_base + path``; ``shown_base + path`` is how messages
    name it (no credentials, no query).
    """

    filesystem: pafs.FileSystem
    path: str
    url_base: str
    shown_base: str

    @property
    def url(self) -> str:
        """The URL Spark reads or writes (``file:///...``, ``s3a://bucket/...``, ``hdfs://...``)."""
        return self.url_base + self.path

    @property
    def shown(self) -> str:
        return self.shown_base + self.path

    def __str__(self) -> str:
        return self.shown

    @property
    def name(self) -> str:
        return self.path.rstrip("/").rsplit("/", 1)[-1]

    @property
    def parent(self) -> Location:
        head = self.path.rstrip("/").rsplit("/", 1)[0] if "/" in self.path.strip("/") else ""
        if self.path.startswith("/") and not head:
            head = "/"
        return Location(self.filesystem, head, self.url_base, self.shown_base)

    def child(self, name: str) -> Location:
        """The entry ``name`` of this folder."""
        base = self.path.rstrip("/")
        return Location(self.filesystem, f"{base}/{name}", self.url_base, self.shown_base)

    def __truediv__(self, name: str) -> Location:
        return self.child(name)

    def file_type(self) -> pafs.FileType:
        return self.filesystem.get_file_info(self.path).type

    def is_file(self) -> bool:
        return self.file_type() == pafs.FileType.File

    def is_dir(self) -> bool:
        return self.file_type() == pafs.FileType.Directory

    def exists(self) -> bool:
        return self.file_type() != pafs.FileType.NotFound

    @property
    def renames_atomically(self) -> bool:
        """Whether a move within this file system is one atomic rename (the local file system,
        HDFS) rather than a copy and a delete (object stores)."""
        return isinstance(self.filesystem, (pafs.LocalFileSystem, pafs.HadoopFileSystem))

    def read_text(self) -> str:
        with self.filesystem.open_input_stream(self.path) as stream:
            return bytes(stream.read()).decode()

    def write_text(self, text: str) -> None:
        """Write a small file whole (:func:`commit_bytes`)."""
        commit_bytes(self, text.encode())


def resolve(option: str, value: str | Path | Location) -> Path | Location:
    """``value`` of ``option`` (``--data``, ``--out``): a :class:`~pathlib.Path` when it is a
    path of this machine, a :class:`Location` when it is a URL of a scheme of :data:`SCHEMES`.

    Refused in one line naming the option and the value (credentials withheld): an unknown
    scheme, a file system pyarrow cannot open (``hdfs://`` without libhdfs; an S3 bucket whose
    region cannot be looked up), and a URL given as a ``Path`` (which folds its ``//``, so
    ``s3a://b/x`` would have become the local folder ``s3a:/b/x``).
    """
    if isinstance(value, Location):
        return value
    text = str(value)
    scheme = url_scheme(text)
    if scheme is None:
        return Path(value)
    shown = _shown(text)
    if isinstance(value, Path):
        raise ConfigError(
            f"{option} {shown}: a URL given as a path, with its // folded; pass it as a string"
        )
    arrow_scheme = SCHEMES.get(scheme.lower())
    if arrow_scheme is None:
        raise ConfigError(
            f"{option} {shown}: unknown URL scheme {scheme}://; use a path of this machine or a "
            f"URL of {', '.join(f'{s}://' for s in SCHEMES)}"
        )
    try:
        filesystem, path = pafs.FileSystem.from_uri(arrow_scheme + text[len(scheme) :])
    except FS_ERRORS as exc:
        if arrow_scheme == "hdfs":
            raise ConfigError(
                f"{option} {shown}: hdfs:// needs libhdfs, a JVM and a Hadoop client on this "
                f"machine (JAVA_HOME, HADOOP_HOME, CLASSPATH), and pyarrow found none: "
                f"{_one_line(exc, 120)}"
            ) from None
        raise ConfigError(
            f"{option} {shown}: cannot open its file system: {_one_line(exc)}"
        ) from None
    parts = urlsplit(text)
    host = parts.netloc.rsplit("@", 1)[-1]  # user info (credentials) never leaves this function
    # hdfs: the path is absolute, the name node apart; file: absolute; s3: bucket/key
    base = f"{scheme}://{host}" if arrow_scheme == "hdfs" else f"{scheme}://"
    path = path.rstrip("/") or path
    return Location(filesystem, path, url_base=base, shown_base=base)


def _shown(text: str) -> str:
    """``text`` without user info, query or fragment: a URL fit for a message or a log."""
    parts = urlsplit(text)
    host = parts.netloc.rsplit("@", 1)[-1]
    return f"{parts.scheme}://{host}{parts.path}"


def local_path(option: str, value: str | Path, engine: str = "pandas") -> Path:
    """``value`` as a path of this machine; a URL is refused in one line (the ``engine`` reads
    and writes local files only)."""
    scheme = url_scheme(value)
    if scheme is not None:
        raise ConfigError(
            f"{option} {_shown(str(value))}: the {engine} engine takes paths of this machine, "
            f"not {scheme}:// URLs; use --engine spark for a URL"
        )
    return Path(value)


def check_data_dir(option: str, data: Location) -> None:
    """Refuse a ``--data`` URL that is not a folder, or whose file system cannot be reached,
    in one line, before anything is read."""
    try:
        kind = data.file_type()
    except FS_ERRORS as exc:
        raise ConfigError(f"{option} {data}: cannot be reached: {_one_line(exc)}") from None
    if kind != pafs.FileType.Directory:
        raise ConfigError(f"{option} {data}: no such data directory")


def check_output(option: str, out: Location) -> None:
    """Refuse an ``--out`` URL that is a folder, whose file system cannot be reached, or (S3)
    whose bucket does not exist, in one line, before anything is read or written."""
    try:
        kind = out.file_type()
        if kind == pafs.FileType.Directory:
            raise ConfigError(f"{option} {out}: is a folder, not a file to write")
        if isinstance(out.filesystem, pafs.S3FileSystem):  # the bucket must exist
            bucket = out.path.split("/", 1)[0]
            if out.filesystem.get_file_info(bucket).type != pafs.FileType.Directory:
                raise ConfigError(f"{option} {out}: no bucket {bucket!r}")
    except FS_ERRORS as exc:
        raise ConfigError(f"{option} {out}: cannot be reached: {_one_line(exc)}") from None


def _temporary(target: Location) -> Location:
    return target.parent.child(f".{target.name}.tmp-{uuid.uuid4().hex[:12]}")


def commit_file(tmp: Location, target: Location) -> None:
    """Make the complete file ``tmp`` the file ``target``: one rename where the file system
    renames atomically; else (object stores) one server-side copy, which shows ``target`` whole
    or not at all (the old one until then), and the temporary key deleted."""
    fs = target.filesystem
    if target.renames_atomically:
        fs.move(tmp.path, target.path)
        return
    fs.copy_file(tmp.path, target.path)
    with contextlib.suppress(*FS_ERRORS):
        fs.delete_file(tmp.path)


@contextlib.contextmanager
def atomic_location(target: Location, tmp: Location | None = None) -> Iterator[Location]:
    """Yield a temporary file beside ``target`` (or ``tmp``) to write; commit it to ``target``
    (:func:`commit_file`) only if the block succeeds, and delete it either way. A crash leaves
    the old ``target`` or none, never a half-written one."""
    tmp = tmp or _temporary(target)
    fs = target.filesystem
    fs.create_dir(target.parent.path, recursive=True)
    try:
        yield tmp
        commit_file(tmp, target)
    finally:
        with contextlib.suppress(*FS_ERRORS):
            if tmp.exists():
                fs.delete_file(tmp.path)


def commit_bytes(target: Location, data: bytes) -> None:
    """Write ``data`` as the file ``target`` whole (:func:`atomic_location`)."""
    with atomic_location(target) as tmp, target.filesystem.open_output_stream(tmp.path) as out:
        out.write(data)


__all__ = [
    "SCHEMES",
    "Location",
    "atomic_location",
    "check_data_dir",
    "check_output",
    "commit_file",
    "local_path",
    "resolve",
    "url_scheme",
]
