"""The service store: one SQLAlchemy code path for SQLite (default) and PostgreSQL.

It holds the contract tables (the history online features need), the scores with their reasons,
investigators' decisions, the audit log and the API keys. Bulk writes are set-based upserts by
key (``INSERT ... ON CONFLICT DO UPDATE``, executemany in chunks), never row-by-row ORM, so
ingesting a million claims is practical and ingesting the same data again is harmless.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from riskml.bands import FLAGGED_BANDS
from riskml.contract import TABLES, TableSpec
from riskml.data import LOADER_PANDAS_TYPES, ClaimsData, isin, validate_frame
from riskml.errors import ConfigError
from riskml.features.history import contribution_reach_start, reach_start
from riskml.store.schema import KEY_SUFFIX, METADATA

log = logging.getLogger(__name__)

DEFAULT_STORE_FILE = "riskml-store.db"
#: Bands the triage queue shows (scores advise: these are referrals, not decisions).
#: Ingest order: referenced tables before the tables that refer to them.
INGEST_ORDER = (
    "persons",
    "employers",
    "providers",
    "contributions",
    "claims",
    "claim_items",
    "labels",
)
_IN_CHUNK = 500
#: From this many rows a PostgreSQL upsert goes through COPY and a staging table.
_COPY_MIN_ROWS = 1_000
#: Seconds a cached small table (providers, employers) is served before it is read again.
SMALL_TABLE_TTL = 30.0

ProgressFn = Callable[[str, int, int], None]


def default_store_url() -> str:
    """``RISKML_STORE_URL`` if set, else an SQLite file in the working directory."""
    url = os.environ.get("RISKML_STORE_URL")
    if url:
        return url
    return f"sqlite:///{Path.cwd() / DEFAULT_STORE_FILE}"


def open_store(url: str | None = None, *, migrate: bool = True) -> Store:
    """Open the store at ``url`` (default :func:`default_store_url`), migrated to the head."""
    store = Store(make_engine(url or default_store_url()))
    if migrate:
        store.migrate()
    return store


def make_engine(url: str) -> Engine:
    """An engine for ``url``; SQLite gets WAL, a busy timeout and ``BEGIN IMMEDIATE`` writes."""
    try:
        parsed = sa.make_url(url)
    except sa.exc.ArgumentError as exc:
        raise ConfigError(f"store URL is not a valid SQLAlchemy URL: {exc}") from exc
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(parsed, connect_args={"check_same_thread": False})
        _configure_sqlite(engine)
        return engine
    try:
        return sa.create_engine(parsed, pool_pre_ping=True)
    except ModuleNotFoundError as exc:
        raise ConfigError(f"no database driver for {parsed.drivername}: {exc}") from exc


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


def _chunks(values: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


def _py_values(ser: pd.Series, kind: str) -> list[Any]:
    """One column as Python objects a DB driver binds (None for nulls, date/datetime/int/...)."""
    null = ser.isna().to_numpy()
    if kind == "date":
        values: list[Any] = list(pd.to_datetime(ser).dt.date)
    elif kind == "timestamp":
        values = list(pd.to_datetime(ser).dt.to_pydatetime())
    elif kind == "int":
        values = ser.astype("Int64").tolist()
    elif kind == "float":
        values = ser.astype("float64").tolist()
    elif kind == "bool":
        values = ser.astype("boolean").tolist()
    else:
        values = ser.astype(object).tolist()
    if null.any():
        values = [None if n else v for v, n in zip(values, null, strict=True)]
    return values


def _sqlite_text(ser: pd.Series, kind: str) -> list[Any]:
    """Dates and timestamps as the text SQLAlchemy's SQLite types store, formatted in bulk.

    SQLite keeps dates as text that must compare correctly as strings, so the format must be
    exactly SQLAlchemy's (``YYYY-MM-DD`` and ``YYYY-MM-DD HH:MM:SS.ffffff``).
    """
    values = pd.to_datetime(ser).to_numpy(dtype="datetime64[us]")
    text = np.datetime_as_string(values, unit="D" if kind == "date" else "us")
    if kind == "timestamp":
        text = np.char.replace(text, "T", " ")
    out: list[Any] = text.tolist()
    null = np.isnat(values)
    if null.any():
        out = [None if n else v for v, n in zip(out, null, strict=True)]
    return out


def contract_rows(
    frame: pd.DataFrame, table: str, dialect: str
) -> tuple[list[str], list[tuple[Any, ...]]]:
    """Column names and row tuples of a contract frame, ready for the driver's executemany.

    Bypasses SQLAlchemy's per-value type processing (the bulk of ingest time): SQLite gets
    dates and timestamps pre-formatted as its text, other drivers Python date objects.
    """
    spec = TABLES[table]
    columns: dict[str, list[Any]] = {}
    for col in spec.columns:
        if col.name not in frame.columns:
            continue
        if dialect == "sqlite" and col.kind in ("date", "timestamp"):
            values = _sqlite_text(frame[col.name], col.kind)
        else:
            values = _py_values(frame[col.name], col.kind)
        columns[col.name] = values
        if col.name in spec.key and col.nullable:
            columns[col.name + KEY_SUFFIX] = ["" if v is None else v for v in values]
    return list(columns), list(zip(*columns.values(), strict=True))


def contract_records(frame: pd.DataFrame, table: str) -> list[dict[str, Any]]:
    """Rows of a contract frame as dicts for executemany, with primary-key companions filled."""
    spec = TABLES[table]
    columns: dict[str, list[Any]] = {}
    for col in spec.columns:
        if col.name not in frame.columns:
            continue
        values = _py_values(frame[col.name], col.kind)
        columns[col.name] = values
        if col.name in spec.key and col.nullable:
            columns[col.name + KEY_SUFFIX] = ["" if v is None else v for v in values]
    names = list(columns)
    return [dict(zip(names, row, strict=True)) for row in zip(*columns.values(), strict=True)]


def _frame_from_result(result: sa.CursorResult[Any], spec: TableSpec) -> pd.DataFrame:
    """A query result of a contract table as a frame with the loader's dtypes.

    The rows were validated when they entered the store, so this only converts types (the
    loader's full checks cost more than the query on the online path). The columns become one
    Arrow table converted to pandas in one call: a Series per column plus the DataFrame
    constructor cost about 4 ms per query of a one-claim request, this about a third of that.
    """
    names = list(result.keys())
    rows = result.fetchall()
    columns = list(zip(*rows, strict=True)) if rows else [() for _ in names]
    arrays = [
        _arrow_column(values, spec.column(name).kind)
        for name, values in zip(names, columns, strict=True)
    ]
    return pa.Table.from_arrays(arrays, names=names).to_pandas(types_mapper=LOADER_PANDAS_TYPES.get)


_ARROW_READ: dict[str, pa.DataType] = {
    "str": pa.string(),
    "float": pa.float64(),
    "int": pa.int64(),
    "bool": pa.bool_(),
}


def _arrow_column(values: Sequence[Any], kind: str) -> pa.Array:
    """One result column (Python values, dates as ISO text) as an Arrow array of its kind
    (dates and timestamps as ``timestamp[ns]``)."""
    if kind in ("date", "timestamp"):
        try:
            return pa.array(values, pa.string()).cast(pa.timestamp("ns"))
        except pa.ArrowInvalid:  # a text form Arrow does not parse: let pandas try
            raw = pd.Series(list(values), dtype=object)
            parsed = pd.to_datetime(raw, format="ISO8601").astype("datetime64[ns]")
            return pa.array(parsed.to_numpy(), pa.timestamp("ns"), from_pandas=True)
    return pa.array(values, _ARROW_READ[kind])


class Store:
    """Queries and bulk writes of the service store. Thread-safe: one engine, pooled connections."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.tables = METADATA.tables
        self._optional_present: dict[tuple[str, str], bool] = {}
        self._small_cache: dict[str, tuple[float, pd.DataFrame]] = {}

    # -- lifecycle ---------------------------------------------------------------------------

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

    # -- bulk upserts ------------------------------------------------------------------------

    def _upsert_statement(self, table: sa.Table, columns: Sequence[str]) -> Any:
        from sqlalchemy.dialects import postgresql, sqlite

        insert: Callable[[sa.Table], Any]
        if self.dialect == "sqlite":
            insert = sqlite.insert
        elif self.dialect == "postgresql":
            insert = postgresql.insert
        else:  # pragma: no cover
            raise ConfigError(
                f"unsupported store dialect {self.dialect!r}: use SQLite or PostgreSQL"
            )
        stmt = insert(table)
        pk = [c.name for c in table.primary_key.columns]
        update = {c: stmt.excluded[c] for c in columns if c not in pk}
        if not update:
            return stmt.on_conflict_do_nothing(index_elements=pk)
        return stmt.on_conflict_do_update(index_elements=pk, set_=update)

    def _upsert_records(self, conn: Connection, table: str, records: list[dict[str, Any]]) -> None:
        if not records:
            return
        stmt = self._upsert_statement(self.tables[table], list(records[0]))
        conn.execute(stmt, records)
        self._forget(table)

    def _upsert_sql(self, table: sa.Table, columns: Sequence[str]) -> str:
        """``INSERT ... ON CONFLICT (key) DO UPDATE`` in the driver's own parameter style."""
        mark = "?" if self.dialect == "sqlite" else "%s"
        pk = [c.name for c in table.primary_key.columns]
        q = self.engine.dialect.identifier_preparer.quote
        sql = (
            f"INSERT INTO {q(table.name)} ({', '.join(q(c) for c in columns)}) "
            f"VALUES ({', '.join(mark for _ in columns)}) "
            f"ON CONFLICT ({', '.join(q(c) for c in pk)}) "
        )
        update = [c for c in columns if c not in pk]
        if not update:
            return sql + "DO NOTHING"
        return sql + "DO UPDATE SET " + ", ".join(f"{q(c)} = excluded.{q(c)}" for c in update)

    def _copy_upsert(
        self, conn: Connection, table: sa.Table, columns: list[str], rows: list[tuple[Any, ...]]
    ) -> None:
        """PostgreSQL bulk upsert: COPY into a temporary staging table, then one
        ``INSERT ... SELECT ... ON CONFLICT DO UPDATE`` (several times faster than executemany).
        Runs inside the caller's transaction; the staging rows vanish at commit.
        """
        q = self.engine.dialect.identifier_preparer.quote
        stage = q(f"stage_{table.name}")
        cols = ", ".join(q(c) for c in columns)
        upsert = self._upsert_sql(table, columns)
        insert_select = upsert.replace(
            f"VALUES ({', '.join('%s' for _ in columns)})", f"SELECT {cols} FROM {stage}"
        )
        dbapi: Any = conn.connection.dbapi_connection  # psycopg.Connection
        with dbapi.cursor() as cur:
            cur.execute(
                f"CREATE TEMP TABLE IF NOT EXISTS {stage} "
                f"(LIKE {q(table.name)} INCLUDING DEFAULTS) ON COMMIT DELETE ROWS"
            )
            cur.execute(f"TRUNCATE {stage}")
            with cur.copy(f"COPY {stage} ({cols}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
            cur.execute(insert_select)

    def _upsert_rows(self, conn: Connection, table: str, frame: pd.DataFrame) -> None:
        """Bulk upsert of a contract frame through the driver's executemany."""
        if not len(frame):
            return
        columns, rows = contract_rows(frame, table, self.dialect)
        if self.dialect == "postgresql" and len(rows) >= _COPY_MIN_ROWS:
            self._copy_upsert(conn, self.tables[table], columns, rows)
        else:
            conn.exec_driver_sql(self._upsert_sql(self.tables[table], columns), rows)
        self._forget(table)

    def _forget(self, table: str) -> None:
        """Drop what is cached about ``table`` after a write to it (and only it: every scored
        request upserts its claims, which must not evict the cached providers and employers)."""
        self._small_cache.pop(table, None)
        for key in [k for k in self._optional_present if k[0] == table]:
            self._optional_present.pop(key, None)

    def upsert_frame(
        self,
        table: str,
        frame: pd.DataFrame,
        *,
        chunk_rows: int = 50_000,
        progress: ProgressFn | None = None,
    ) -> int:
        """Upsert a validated contract frame by its key, one transaction per chunk of rows.

        Columns absent from ``frame`` (optional ones) keep their stored values.
        """
        done = 0
        for start in range(0, len(frame), chunk_rows):
            part = frame.iloc[start : start + chunk_rows]
            with self._write() as conn:
                self._upsert_rows(conn, table, part)
            done += len(part)
            if progress is not None:
                progress(table, done, len(frame))
        return done

    def ingest(
        self, data: ClaimsData, *, chunk_rows: int = 50_000, progress: ProgressFn | None = None
    ) -> dict[str, int]:
        """Upsert every table of a validated data directory; returns rows written per table.

        Ends with ``ANALYZE`` so the query planner knows the new sizes (on PostgreSQL, history
        reads right after a bulk load were 3x slower without it).
        """
        tables = data.tables()
        counts: dict[str, int] = {}
        for name in INGEST_ORDER:
            if name in tables:
                counts[name] = self.upsert_frame(
                    name, tables[name], chunk_rows=chunk_rows, progress=progress
                )
        with self.engine.connect() as conn:
            conn.exec_driver_sql("ANALYZE")
            conn.commit()
        return counts

    def count(self, table: str) -> int:
        with self.engine.connect() as conn:
            return int(
                conn.execute(
                    sa.select(sa.func.count()).select_from(self.tables[table])
                ).scalar_one()
            )

    # -- reads for scoring -------------------------------------------------------------------

    def unknown_reference(self, claims: pd.DataFrame) -> tuple[int, str, str] | None:
        """First claim (position, column, value) whose person, provider or employer is unknown."""
        refs = (
            ("person_id", "persons"),
            ("provider_id", "providers"),
            ("employer_id", "employers"),
        )
        first: tuple[int, str, str] | None = None
        with self.engine.connect() as conn:
            for column, table in refs:
                if column not in claims.columns:
                    continue
                values = claims[column].dropna().astype(str).unique().tolist()
                known: set[str] = set()
                key = self.tables[table].c[column]
                for part in _chunks(values, _IN_CHUNK):
                    known.update(conn.execute(sa.select(key).where(key.in_(part))).scalars())
                bad = claims[column].notna() & ~claims[column].isin(list(known))
                if bad.any():
                    pos = int(np.flatnonzero(bad.to_numpy())[0])
                    if first is None or pos < first[0]:
                        first = (pos, column, str(claims[column].iloc[pos]))
        return first

    def _optional_columns_present(self, conn: Connection, table: str) -> set[str]:
        """Optional contract columns of ``table`` with at least one stored value (cached)."""
        present = set()
        for col in TABLES[table].columns:
            if not col.optional:
                continue
            key = (table, col.name)
            if key not in self._optional_present:
                c = self.tables[table].c[col.name]
                probe = sa.select(sa.literal(1)).where(c.is_not(None)).limit(1)
                self._optional_present[key] = conn.execute(probe).first() is not None
            if self._optional_present[key]:
                present.add(col.name)
        return present

    def _read_column(self, table: sa.Table, name: str, kind: str) -> sa.ColumnElement[Any]:
        """A column to select; dates and timestamps come back as ISO text, parsed in bulk by
        pandas instead of one Python object at a time by the driver and SQLAlchemy."""
        col = table.c[name]
        if kind not in ("date", "timestamp"):
            return col
        if self.dialect == "sqlite":  # stored as text already
            return sa.type_coerce(col, sa.String()).label(name)
        return sa.cast(col, sa.String()).label(name)

    def _select_contract(
        self, conn: Connection, table: str, where: Sequence[sa.ColumnElement[bool]] = ()
    ) -> pd.DataFrame:
        spec = TABLES[table]
        t = self.tables[table]
        optional = self._optional_columns_present(conn, table)
        cols = [
            self._read_column(t, c.name, c.kind)
            for c in spec.columns
            if not c.optional or c.name in optional
        ]
        stmt = sa.select(*cols)
        for cond in where:
            stmt = stmt.where(cond)
        return _frame_from_result(conn.execute(stmt), spec)

    def _select_many(
        self,
        conn: Connection,
        table: str,
        conditions: Sequence[sa.ColumnElement[bool]],
        extra: Sequence[sa.ColumnElement[bool]],
        key: Sequence[str],
    ) -> pd.DataFrame:
        """Union of one query per condition (each an IN over a chunk of ids), without duplicates."""
        frames = [self._select_contract(conn, table, [cond, *extra]) for cond in conditions]
        if not frames:
            frames = [self._select_contract(conn, table, [sa.false()])]
        if len(frames) == 1:  # one query of one table: no row twice (every table has a key)
            return frames[0]
        frames = [f for f in frames if len(f)] or frames[:1]
        out = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
        return out.drop_duplicates(subset=list(key), ignore_index=True)

    def _small_table(self, conn: Connection, table: str) -> pd.DataFrame:
        """A small reference table (providers, employers), cached for ``SMALL_TABLE_TTL`` s.

        Upserts through this store clear the cache at once; an ingest by another process is
        seen within the TTL.
        """
        now = time.monotonic()
        hit = self._small_cache.get(table)
        if hit is not None and now - hit[0] < SMALL_TABLE_TTL:
            return hit[1]
        frame = self._select_contract(conn, table)
        self._small_cache[table] = (now, frame)
        return frame

    def history_for(self, claims: pd.DataFrame, items: pd.DataFrame | None = None) -> ClaimsData:
        """What the feature builder needs to score ``claims``, as the store holds it now.

        The same selection as :func:`riskml.features.history_for` makes from a data directory:
        every stored claim (with its items) submitted at most ``REACH_DAYS`` before the earliest
        of ``claims`` and no later than the latest of them (the feature builder keeps, per claim,
        only those strictly before it) that shares a claimant, provider, employer or (when
        recorded) doctor with one of them, or bills a drug trace code that ``items`` (the
        request's line items) bill, except stored claims with the same ``claim_id`` as one of
        ``claims`` (a retry never sees itself); the contributions of the claimants and of the
        employers' members from ``CONTRIBUTION_REACH_MONTHS`` before; the persons appearing in
        any of these rows; and all providers and employers (small tables). Dtypes are those of
        :func:`riskml.data.load_data_dir`; ``labels`` is None.
        """
        persons_ids = claims["person_id"].dropna().astype(str).unique().tolist()
        provider_ids = claims["provider_id"].dropna().astype(str).unique().tolist()
        employer_ids = claims["employer_id"].dropna().astype(str).unique().tolist()
        until = pd.Timestamp(claims["submitted_at"].max()).to_pydatetime()
        exclude = set(claims["claim_id"].astype(str))
        doctor_ids: list[str] = []
        if "doctor_id" in claims.columns:
            doctor_ids = claims["doctor_id"].dropna().astype(str).unique().tolist()
        trace_codes: list[str] = []
        if items is not None and "trace_code" in items.columns:
            trace_codes = items["trace_code"].dropna().astype(str).unique().tolist()
        c = self.tables["claims"]
        ci = self.tables["claim_items"]
        co = self.tables["contributions"]
        with self.engine.connect() as conn:
            shared = (
                [c.c.person_id.in_(p) for p in _chunks(persons_ids, _IN_CHUNK)]
                + [c.c.provider_id.in_(p) for p in _chunks(provider_ids, _IN_CHUNK)]
                + [c.c.employer_id.in_(p) for p in _chunks(employer_ids, _IN_CHUNK)]
                + [c.c.doctor_id.in_(p) for p in _chunks(doctor_ids, _IN_CHUNK)]
                + [
                    c.c.claim_id.in_(sa.select(ci.c.claim_id).where(ci.c.trace_code.in_(p)))
                    for p in _chunks(trace_codes, _IN_CHUNK)
                ]
            )
            # only within the features' reach (riskml.features.history); one query for all
            # relations: a claim related several ways is read once
            since = reach_start(claims).to_pydatetime()
            claim_conds: list[sa.ColumnElement[bool]] = (
                [sa.and_(c.c.submitted_at >= since, sa.or_(*shared))] if shared else []
            )
            hist = self._select_many(
                conn, "claims", claim_conds, [c.c.submitted_at <= until], ("claim_id",)
            )
            # membership by hash lookups (Series.isin of Arrow strings converts value by value)
            excluded = isin(hist["claim_id"], pd.Series(sorted(exclude), dtype="str"))
            if excluded.any():
                hist = hist.loc[~excluded].reset_index(drop=True)
            # the items of exactly these claims, by the items' own key index (a join that
            # repeats the claims' selection cost twice as much as the claims' query itself)
            hist_ids = hist["claim_id"].astype(str).tolist()
            items = self._select_many(
                conn,
                "claim_items",
                [ci.c.claim_id.in_(p) for p in _chunks(hist_ids, _IN_CHUNK)],
                [],
                ("claim_id", "line_no"),
            )
            month0 = contribution_reach_start(claims).to_pydatetime()
            contrib_conds = [
                sa.and_(co.c.month >= month0, co.c.person_id.in_(p))
                for p in _chunks(persons_ids, _IN_CHUNK)
            ] + [
                sa.and_(co.c.month >= month0, co.c.employer_id.in_(p))
                for p in _chunks(employer_ids, _IN_CHUNK)
            ]
            contributions = self._select_many(
                conn,
                "contributions",
                contrib_conds,
                [co.c.month <= until],
                ("person_id", "employer_id", "month"),
            )
            involved = (
                pd.concat([claims["person_id"], hist["person_id"], contributions["person_id"]])
                .dropna()
                .astype(str)
                .unique()
                .tolist()
            )
            p = self.tables["persons"]
            persons = self._select_many(
                conn,
                "persons",
                [p.c.person_id.in_(part) for part in _chunks(involved, _IN_CHUNK)],
                [],
                ("person_id",),
            )
            providers = self._small_table(conn, "providers")
            employers = self._small_table(conn, "employers")
        return ClaimsData(
            persons=persons,
            employers=employers,
            providers=providers,
            contributions=contributions,
            claims=hist,
            claim_items=items,
            labels=None,
        )

    def person_ids_of(self, claim_ids: Sequence[str]) -> dict[str, str]:
        """claim_id -> person_id for stored claims (used to pseudonymise audit subjects)."""
        c = self.tables["claims"]
        out: dict[str, str] = {}
        with self.engine.connect() as conn:
            for part in _chunks(list(claim_ids), _IN_CHUNK):
                rows = conn.execute(
                    sa.select(c.c.claim_id, c.c.person_id).where(c.c.claim_id.in_(part))
                )
                out.update({r.claim_id: r.person_id for r in rows})
        return out

    # -- writes of the service ---------------------------------------------------------------

    def record_scoring(
        self,
        claims: pd.DataFrame,
        items: pd.DataFrame | None,
        scores: list[dict[str, Any]],
        audit: list[dict[str, Any]],
    ) -> None:
        """Persist one scored request atomically: the claims (upserted by ``claim_id``, their
        items replaced), the scores (upserted by claim and model version) and the audit rows.
        """
        ids = claims["claim_id"].astype(str).tolist()
        ci = self.tables["claim_items"]
        with self._write() as conn:
            self._upsert_rows(conn, "claims", claims)
            for part in _chunks(ids, _IN_CHUNK):
                conn.execute(sa.delete(ci).where(ci.c.claim_id.in_(part)))
            if items is not None:
                self._upsert_rows(conn, "claim_items", items)
            if scores:
                self._upsert_records(conn, "scores", scores)
            if audit:
                conn.execute(sa.insert(self.tables["audit_log"]), audit)

    def record_batch_scores(self, scores: pd.DataFrame, actor: str = "batch") -> int:
        """Load batch scores (``riskml score`` output) of flagged claims for the triage queue.

        Only the ``high`` and ``medium`` bands are kept (the queue's), upserted by claim and model
        version, with one audit row per load (persons stay out of it: the batch is the subject).
        Returns the number of scores stored.
        """
        flagged = scores.loc[scores["risk_band"].isin(FLAGGED_BANDS)]
        now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
        records = [
            {
                "claim_id": cid,
                "model_version": version,
                "risk_score": score,
                "risk_band": band,
                "reasons": json.loads(reasons) if isinstance(reasons, str) else reasons,
                "scored_at": now,
            }
            for cid, version, score, band, reasons in zip(
                flagged["claim_id"].astype(str).tolist(),
                flagged["model_version"].astype(str).tolist(),
                flagged["risk_score"].astype("float64").tolist(),
                flagged["risk_band"].astype(str).tolist(),
                flagged["reasons"].tolist(),
                strict=True,
            )
        ]
        versions = sorted(flagged["model_version"].astype(str).unique().tolist())
        with self._write() as conn:
            for part in _chunks(records, 5_000):
                self._upsert_records(conn, "scores", list(part))
            conn.execute(
                sa.insert(self.tables["audit_log"]),
                [
                    {
                        "at": now,
                        "actor": actor,
                        "role": "admin",
                        "action": "load_batch_scores",
                        "claim_id": None,
                        "subject": None,
                        "model_version": ",".join(versions) or None,
                        "outcome": f"{len(records)} flagged scores",
                    }
                ],
            )
        return len(records)

    def audit(self, rows: list[dict[str, Any]]) -> None:
        """Append rows to the audit log in their own transaction."""
        if rows:
            with self._write() as conn:
                conn.execute(sa.insert(self.tables["audit_log"]), rows)

    def record_decision(
        self,
        claim_id: str,
        outcome: str,
        note: str,
        typology: str | None,
        decided_by: str,
        decided_role: str,
        subject: Callable[[str], str],
    ) -> dict[str, Any] | None:
        """Record a decision and its audit row in one transaction; None if the claim is unknown.

        ``subject`` maps the claim's person id to its pseudonym for the audit log.
        """
        c = self.tables["claims"]
        now = dt.datetime.now().replace(microsecond=0)
        with self._write() as conn:
            person = conn.execute(
                sa.select(c.c.person_id).where(c.c.claim_id == claim_id)
            ).scalar_one_or_none()
            if person is None:
                return None
            row = {
                "claim_id": claim_id,
                "outcome": outcome,
                "typology": typology,
                "note": note,
                "decided_by": decided_by,
                "decided_role": decided_role,
                "decided_at": now,
            }
            decision_id = conn.execute(
                sa.insert(self.tables["decisions"]).returning(
                    self.tables["decisions"].c.decision_id
                ),
                row,
            ).scalar_one()
            conn.execute(
                sa.insert(self.tables["audit_log"]),
                {
                    "at": now,
                    "actor": decided_by,
                    "role": decided_role,
                    "action": "decide",
                    "claim_id": claim_id,
                    "subject": subject(person),
                    "model_version": None,
                    "outcome": outcome,
                },
            )
        return {"decision_id": int(decision_id), **row}

    # -- reads of the service ----------------------------------------------------------------

    def _latest_scores(self) -> sa.Subquery:
        s = self.tables["scores"]
        rn = (
            sa.func.row_number()
            .over(
                partition_by=s.c.claim_id, order_by=(s.c.scored_at.desc(), s.c.model_version.desc())
            )
            .label("rn")
        )
        return sa.select(s, rn).subquery("latest")

    def queue(
        self,
        limit: int = 50,
        region: str | None = None,
        benefit_type: str | None = None,
        bands: Sequence[str] = FLAGGED_BANDS,
    ) -> list[dict[str, Any]]:
        """Flagged claims without a decision: highest risk first, then the largest amount."""
        latest = self._latest_scores()
        c = self.tables["claims"]
        d = self.tables["decisions"]
        stmt = (
            sa.select(
                c.c.claim_id,
                c.c.person_id,
                c.c.benefit_type,
                c.c.provider_id,
                c.c.region_code,
                c.c.submitted_at,
                c.c.amount_claimed,
                latest.c.risk_score,
                latest.c.risk_band,
                latest.c.model_version,
                latest.c.reasons,
                latest.c.scored_at,
            )
            .join(latest, latest.c.claim_id == c.c.claim_id)
            .where(latest.c.rn == 1)
            .where(latest.c.risk_band.in_(list(bands)))
            .where(~sa.exists().where(d.c.claim_id == c.c.claim_id))
            .order_by(latest.c.risk_score.desc(), c.c.amount_claimed.desc(), c.c.claim_id)
            .limit(limit)
        )
        if region is not None:
            stmt = stmt.where(c.c.region_code == region)
        if benefit_type is not None:
            stmt = stmt.where(c.c.benefit_type == benefit_type)
        with self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(stmt)]

    def scores_of(self, claim_ids: Sequence[str]) -> pd.DataFrame:
        """Every stored score of these claims (all model versions)."""
        s = self.tables["scores"]
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(s).where(s.c.claim_id.in_(list(claim_ids)))).fetchall()
        return pd.DataFrame.from_records(rows, columns=[c.name for c in s.columns])

    def audit_log(self) -> pd.DataFrame:
        """The whole audit log, oldest first (for audits and tests)."""
        a = self.tables["audit_log"]
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(a).order_by(a.c.audit_id)).fetchall()
        return pd.DataFrame.from_records(rows, columns=[c.name for c in a.columns])

    def decisions(self) -> pd.DataFrame:
        """Every recorded decision, oldest first."""
        d = self.tables["decisions"]
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(d).order_by(d.c.decision_id)).fetchall()
        return pd.DataFrame.from_records(rows, columns=[c.name for c in d.columns])

    def labels_frame(self) -> pd.DataFrame:
        """The latest decision per claim as a contract ``labels`` table (source investigation).

        ``is_fraud`` is true for fraud and abuse; error and unfounded are not fraud (DOMAIN: error
        and fraud are kept apart through ``outcome``).
        """
        d = self.tables["decisions"]
        rn = (
            sa.func.row_number()
            .over(
                partition_by=d.c.claim_id, order_by=(d.c.decided_at.desc(), d.c.decision_id.desc())
            )
            .label("rn")
        )
        sub = sa.select(d, rn).subquery()
        stmt = (
            sa.select(sub.c.claim_id, sub.c.outcome, sub.c.typology, sub.c.decided_at)
            .where(sub.c.rn == 1)
            .order_by(sub.c.claim_id)
        )
        with self.engine.connect() as conn:
            rows = conn.execute(stmt).fetchall()
        frame = pd.DataFrame.from_records(
            rows, columns=["claim_id", "outcome", "typology", "decided_at"]
        )
        is_fraud = frame["outcome"].isin(["fraud", "abuse"])
        labels = pd.DataFrame(
            {
                "claim_id": frame["claim_id"].astype(object),
                "is_fraud": is_fraud.astype(bool),
                "typology": frame["typology"].astype(object).where(is_fraud, None),
                "decided_at": pd.to_datetime(frame["decided_at"]),
                "source": "investigation",
                "outcome": frame["outcome"].astype(object),
            }
        )
        return validate_frame(labels, "labels")

    # -- API keys ----------------------------------------------------------------------------

    def add_api_key(self, name: str, role: str, key_hash: str) -> None:
        """Store a new key's hash; refuses a name that is already taken."""
        k = self.tables["api_keys"]
        with self._write() as conn:
            if conn.execute(sa.select(k.c.name).where(k.c.name == name)).first() is not None:
                raise ConfigError(f"an API key named {name!r} already exists")
            conn.execute(
                sa.insert(k),
                {
                    "name": name,
                    "role": role,
                    "key_hash": key_hash,
                    "created_at": dt.datetime.now().replace(microsecond=0),
                    "revoked": False,
                },
            )

    def revoke_api_key(self, name: str) -> bool:
        """Mark a key revoked; True if it existed."""
        k = self.tables["api_keys"]
        with self._write() as conn:
            res = conn.execute(sa.update(k).where(k.c.name == name).values(revoked=True))
            return bool(res.rowcount)

    def principal_for(self, key_hash: str) -> tuple[str, str] | None:
        """(name, role) of the non-revoked key with this hash, or None."""
        k = self.tables["api_keys"]
        with self.engine.connect() as conn:
            row = conn.execute(
                sa.select(k.c.name, k.c.role).where(
                    k.c.key_hash == key_hash, k.c.revoked.is_(False)
                )
            ).first()
        return None if row is None else (str(row.name), str(row.role))
