"""Journal test set-up: the PostgreSQL server the PostgreSQL backend is tested against.

Environment policy (`postgres_url`): the server is CLEARHOUSE_TEST_POSTGRES_URL, by
default postgresql://postgres@127.0.0.1:5432/test. When it cannot be reached (or
psycopg is missing) the tests that need it fail under CI=true, where the server is
part of the set-up, and skip with a one-line reason elsewhere.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest

POSTGRES_URL_ENV = "CLEARHOUSE_TEST_POSTGRES_URL"
DEFAULT_POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/test"


def _unavailable(reason: str) -> None:
    """Fail with `reason` under CI=true, skip with it elsewhere."""
    if os.environ.get("CI") == "true":
        pytest.fail(reason, pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def postgres_url() -> str:
    """The URL of a reachable PostgreSQL server (see the module's environment policy)."""
    url = os.environ.get(POSTGRES_URL_ENV, DEFAULT_POSTGRES_URL)
    try:
        import psycopg
    except ImportError:
        _unavailable("psycopg is not installed: pip install -e '.[dev]'")
        raise
    try:
        with psycopg.connect(url, connect_timeout=3) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error as error:
        first_line = (str(error).strip().splitlines() or [type(error).__name__])[0]
        _unavailable(f"PostgreSQL at {url} unreachable ({first_line}); set {POSTGRES_URL_ENV}")
    return url


@pytest.fixture
def postgres_schema(postgres_url: str) -> Iterator[str]:
    """A schema name no other test uses; the schema is dropped afterwards if created."""
    import psycopg
    from psycopg import sql

    name = f"clearhouse_test_{uuid.uuid4().hex[:12]}"
    yield name
    with psycopg.connect(postgres_url, autocommit=True, connect_timeout=3) as conn:
        conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(name)))
