"""Set-based upserts by key: ``INSERT ... ON CONFLICT DO UPDATE`` in chunks, never row by row.

Ingesting a million claims is practical this way, and ingesting the same data again is harmless.
On PostgreSQL, large writes go through COPY into a staging table.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from riskml.errors import ConfigError
from riskml.store.core import StoreCore
from riskml.store.rows import contract_rows

#: From this many rows a PostgreSQL upsert goes through COPY and a staging table.
COPY_MIN_ROWS = 1_000


class Upserts(StoreCore):
    """Bulk upserts of contract frames and of the service's own rows."""

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
        if self.dialect == "postgresql" and len(rows) >= COPY_MIN_ROWS:
            self._copy_upsert(conn, self.tables[table], columns, rows)
        else:
            conn.exec_driver_sql(self._upsert_sql(self.tables[table], columns), rows)
        self._forget(table)
