"""The store's connection: engine, dialect, migrations and write transactions.

One SQLAlchemy code path for SQLite (the default, a file in the working directory) and
PostgreSQL (by ``RISKML_STORE_URL``). Every resource module of the store (:mod:`.history`,
:mod:`.scores`, :mod:`.triage`, :mod:`.keys`, :mod:`.audit`) builds on :class:`StoreCore`.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from riskml.errors import ConfigError
from riskml.store.schema import METADATA

DEFAULT_STORE_FILE = "riskml-store.db"
#: Permissions of a new SQLite store file: owner read and write only.
STORE_FILE_MODE = 0o600

#: Ids per ``IN (...)`` list: well below SQLite's bound-parameter limit.
IN_CHUNK = 500


def default_store_url() -> str:
    """``RISKML_STORE_URL`` if set, else an SQLite file in the working directory."""
    url = os.environ.get("RISKML_STORE_URL")
    if url:
        return url
    return f"sqlite:///{Path.cwd() / DEFAULT_STORE_FILE}"


def make_engine(url: str) -> Engine:
    """An engine for ``url``; SQLite gets WAL, a busy timeout and ``BEGIN IMMEDIATE`` writes."""
    try:
        parsed = sa.make_url(url)
    except sa.exc.ArgumentError as exc:
        raise ConfigError(f"store URL is not a valid SQLAlchemy URL: {exc}") from exc
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            _create_private(Path(parsed.database))
        engine = sa.create_engine(parsed, connect_args={"check_same_thread": False})
        _configure_sqlite(engine)
        return engine
    try:
        return sa.create_engine(parsed, pool_pre_ping=True)
    except ModuleNotFoundError as exc:
        raise ConfigError(f"no database driver for {parsed.drivername}: {exc}") from exc


def _create_private(path: Path) -> None:
    """Create the SQLite file ``path`` (and its folder) readable by its owner only (0600).

    The store holds personal data. SQLite gives its WAL and shared-memory files the database
    file's permissions, so they are private too. An existing file is left as it is.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, STORE_FILE_MODE)
    except FileExistsError:
        return
    os.close(fd)


def _configure_sqlite(engine: Engine) -> None:
    """Take over pysqlite's transaction handling so writers can start with BEGIN IMMEDIATE.

    With deferred transactions two writers that both read first deadlock on the upgrade to a
    write lock ("database is locked"); an immediate write transaction waits for the lock instead.
    """

    @sa.event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA busy_timeout=60000")
        cur.close()

    @sa.event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        write = conn.get_execution_options().get("riskml_write", False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")


def chunks(values: Sequence[Any], size: int = IN_CHUNK) -> Iterator[Sequence[Any]]:
    """``values`` in consecutive slices of at most ``size``."""
    for start in range(0, len(values), size):
        yield values[start : start + size]


class StoreCore:
    """The engine and what every resource of the store shares: transactions and caches."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.tables = METADATA.tables
        self._optional_present: dict[tuple[str, str], bool] = {}
        self._small_cache: dict[str, tuple[float, pd.DataFrame]] = {}

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def describe(self) -> str:
        """The store URL without its password, for logs."""
        return self.engine.url.render_as_string(hide_password=True)

    def migrate(self) -> None:
        """Bring the schema to the newest Alembic revision (idempotent)."""
        from alembic import command
        from alembic.config import Config

        cfg = Config()
        cfg.set_main_option("script_location", str(Path(__file__).parent / "migrations"))
        with self.engine.connect() as conn:
            conn = conn.execution_options(riskml_write=True)
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "head")
            conn.commit()

    def ping(self) -> bool:
        """True if the store answers a trivial query."""
        try:
            with self.engine.connect() as conn:
                conn.execute(sa.text("SELECT 1"))
            return True
        except sa.exc.SQLAlchemyError:
            return False

    def close(self) -> None:
        self.engine.dispose()

    @contextmanager
    def _write(self) -> Iterator[Connection]:
        """One write transaction: committed at the end of the block, rolled back on error."""
        with self.engine.connect() as conn:
            conn = conn.execution_options(riskml_write=True)
            with conn.begin():
                yield conn

    def _forget(self, table: str) -> None:
        """Drop what is cached about ``table`` after a write to it (and only it: every scored
        request upserts its claims, which must not evict the cached providers and employers)."""
        self._small_cache.pop(table, None)
        for key in [k for k in self._optional_present if k[0] == table]:
            self._optional_present.pop(key, None)
