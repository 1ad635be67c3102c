"""Journal URLs: `sqlite:///path/to/journal.db` (or a bare path) and `postgresql://...`."""

from __future__ import annotations

from clearhouse.journal.store import JournalStore


def redact_password(url: str) -> str:
    """The URL with any password replaced by `***`, for messages people read."""
    scheme, sep, rest = url.partition("://")
    credentials, at, host = rest.rpartition("@")
    if not sep or not at or ":" not in credentials:
        return url
    return f"{scheme}://{credentials.split(':', 1)[0]}:***@{host}"


def open_store(url: str, *, read_only: bool = False) -> JournalStore:
    """The store a journal URL names; `read_only` opens it so that nothing is ever
    written (SQLite `mode=ro`, PostgreSQL read-only transactions) and refuses a store
    that holds no journal with `NotAJournalError`."""
    if is_postgres(url):
        from clearhouse.journal.postgres_store import PostgresJournal

        return PostgresJournal(url, read_only=read_only)
    from clearhouse.journal.sqlite_store import SqliteJournal

    return SqliteJournal(sqlite_path(url), read_only=read_only)


def is_postgres(url: str) -> bool:
    return url.startswith(("postgresql://", "postgres://"))


def sqlite_path(url: str) -> str:
    """The file a SQLite journal URL (`sqlite:///path`, or a bare path) names."""
    if url.startswith("sqlite:///"):
        url = url.removeprefix("sqlite:///")
        return "/" + url if not url.startswith((".", "/")) and url[:1] != "~" else url
    if url.startswith("sqlite://"):
        raise ValueError("a SQLite journal URL is sqlite:///<path>")
    return url
