"""What people are shown when a journal cannot be reached or read: one line, no
password, and for PostgreSQL a read failure is a StoreReadError like a damaged page."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from clearhouse.cli import app
from clearhouse.journal.postgres_store import PostgresJournal
from clearhouse.journal.store import StoreReadError
from clearhouse.journal.urls import redact_password


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("postgresql://alice:s3cret@db:5432/x", "postgresql://alice:***@db:5432/x"),
        ("postgresql://alice@db/x", "postgresql://alice@db/x"),
        ("postgres://a:b:c@h/x", "postgres://a:***@h/x"),
        ("sqlite:///tmp/j.db", "sqlite:///tmp/j.db"),
        ("journal.db", "journal.db"),
    ],
)
def test_a_password_in_a_url_is_never_shown(url: str, shown: str) -> None:
    assert redact_password(url) == shown


def test_an_unreachable_journal_names_its_url_without_the_password() -> None:
    url = "postgresql://auditor:hunter2@127.0.0.1:1/nothing"
    result = CliRunner().invoke(app, ["audit", "query", "--journal", url])
    assert result.exit_code == 2
    assert "hunter2" not in result.output and "auditor:***@" in result.output


def test_a_postgres_read_that_fails_is_a_store_read_error(
    postgres_url: str, postgres_schema: str
) -> None:
    store = PostgresJournal(postgres_url, schema=postgres_schema)
    store.save_genesis(b"genesis")
    store._conn.close()  # the server or the network goes away under a reader
    with pytest.raises(StoreReadError, match="cannot be read from PostgreSQL"):
        store.size()
    with pytest.raises(StoreReadError):
        list(store.read())
