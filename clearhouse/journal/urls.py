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
    if url.startswith(("postgresql://", "postgres://")):
        from clearhouse.journal.postgres_store import PostgresJournal

        return PostgresJournal(url, read_only=read_only)
    if url.startswith("sqlite:///"):
        url = url.removeprefix("sqlite:///")
        url = "/" + url if not url.startswith((".", "/")) and url[:1] != "~" else url
    elif url.startswith("sqlite://"):
        raise ValueError("a SQLite journal URL is sqlite:///<path>")
    from clearhouse.journal.sqlite_store import SqliteJournal

    return SqliteJournal(url, read_only=read_only)
