"""Alerts kept in the journal's own store, beside the entries they cite.

One table, `alerts` (id, seq, detector, body: the alert as JSON), in the same
SQLite file or PostgreSQL database (and schema) as the journal. Alerts are values
of the record, so adding one that is already there changes nothing: a journal
surveilled twice, or live and then again, holds each alert once.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Protocol

from clearhouse.journal.urls import is_postgres, sqlite_path
from clearhouse.surveillance.alerts import Alert, alert_decoder, alert_encoder

_SQLITE_DDL = (
    "CREATE TABLE IF NOT EXISTS alerts ("
    " id TEXT PRIMARY KEY, seq INTEGER NOT NULL, detector TEXT NOT NULL, body BLOB NOT NULL)"
)


class AlertStore(Protocol):
    def add(self, alerts: Sequence[Alert]) -> int:
        """Keep alerts (those already kept are left as they are); how many were new."""
        ...

    def get(self, alert_id: str) -> Alert | None: ...

    def alerts(self, after_seq: int = 0, limit: int = 1_000) -> list[Alert]:
        """Alerts raised after `after_seq`, oldest first."""
        ...

    def counts(self) -> dict[str, int]:
        """Alerts kept, by detector."""
        ...

    def close(self) -> None: ...


class SqliteAlertStore:
    def __init__(self, path: str | Path) -> None:
        self._db = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA busy_timeout=10000")  # the venue may be writing entries
        self._db.execute(_SQLITE_DDL)

    def add(self, alerts: Sequence[Alert]) -> int:
        if not alerts:
            return 0
        before = self._db.total_changes
        with self._db:
            self._db.execute("BEGIN IMMEDIATE")
            self._db.executemany(
                "INSERT OR IGNORE INTO alerts (id, seq, detector, body) VALUES (?, ?, ?, ?)",
                _rows(alerts),
            )
        return self._db.total_changes - before

    def get(self, alert_id: str) -> Alert | None:
        row = self._db.execute("SELECT body FROM alerts WHERE id = ?", (alert_id,)).fetchone()
        return alert_decoder.decode(row[0]) if row else None

    def alerts(self, after_seq: int = 0, limit: int = 1_000) -> list[Alert]:
        rows = self._db.execute(
            "SELECT body FROM alerts WHERE seq > ? ORDER BY seq, id LIMIT ?", (after_seq, limit)
        )
        return [alert_decoder.decode(body) for (body,) in rows]

    def counts(self) -> dict[str, int]:
        rows = self._db.execute("SELECT detector, count(*) FROM alerts GROUP BY detector")
        return {detector: count for detector, count in rows}

    def close(self) -> None:
        self._db.close()


class PostgresAlertStore:
    def __init__(self, url: str, schema: str | None = None) -> None:
        import psycopg
        from psycopg import sql

        self._conn = psycopg.connect(url, autocommit=True)
        table = sql.Identifier(schema, "alerts") if schema else sql.Identifier("alerts")
        self._table = table
        self._sql = sql
        self._conn.execute(
            sql.SQL(
                "CREATE TABLE IF NOT EXISTS {} (id TEXT PRIMARY KEY, seq BIGINT NOT NULL,"
                " detector TEXT NOT NULL, body BYTEA NOT NULL)"
            ).format(table)
        )

    def add(self, alerts: Sequence[Alert]) -> int:
        if not alerts:
            return 0
        query = self._sql.SQL(
            "INSERT INTO {} (id, seq, detector, body) VALUES (%s, %s, %s, %s)"
            " ON CONFLICT (id) DO NOTHING"
        ).format(self._table)
        added = 0
        with self._conn.transaction(), self._conn.cursor() as cursor:
            for row in _rows(alerts):
                cursor.execute(query, row)
                added += cursor.rowcount
        return added

    def get(self, alert_id: str) -> Alert | None:
        query = self._sql.SQL("SELECT body FROM {} WHERE id = %s").format(self._table)
        row = self._conn.execute(query, (alert_id,)).fetchone()
        return alert_decoder.decode(bytes(row[0])) if row else None

    def alerts(self, after_seq: int = 0, limit: int = 1_000) -> list[Alert]:
        query = self._sql.SQL(
            "SELECT body FROM {} WHERE seq > %s ORDER BY seq, id LIMIT %s"
        ).format(self._table)
        rows = self._conn.execute(query, (after_seq, limit)).fetchall()
        return [alert_decoder.decode(bytes(body)) for (body,) in rows]

    def counts(self) -> dict[str, int]:
        query = self._sql.SQL("SELECT detector, count(*) FROM {} GROUP BY detector")
        rows = self._conn.execute(query.format(self._table)).fetchall()
        return {detector: count for detector, count in rows}

    def close(self) -> None:
        self._conn.close()


def _rows(alerts: Iterable[Alert]) -> list[tuple[str, int, str, bytes]]:
    return [(a.id, a.seq, a.detector, alert_encoder.encode(a)) for a in alerts]


def open_alert_store(url: str, schema: str | None = None) -> AlertStore:
    """The alert store of the journal at `url` (as `clearhouse.journal.urls` reads
    journal URLs)."""
    if is_postgres(url):
        return PostgresAlertStore(url, schema)
    return SqliteAlertStore(sqlite_path(url))
