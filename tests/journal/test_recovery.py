"""Recovery treats snapshots as a shortcut, never as the record: one that cannot be
read at all is passed over like one that does not restore."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from submit_kit import JournalVenue


def test_a_snapshot_row_that_cannot_be_read_is_passed_over(tmp_path: Path) -> None:
    venue = JournalVenue(tmp_path)
    venue.set_up()
    venue.journal.snapshot()
    venue.journal.submit([venue.good() for _ in range(3)])
    engine = venue.journal.engine
    expected = (engine.seq, engine.digest(), engine.chain_head)
    venue.journal.close()
    db = sqlite3.connect(venue.path)
    with db:
        db.execute("UPDATE snapshots SET data = 'not a snapshot'")  # TEXT where BLOB belongs
    db.close()
    journal = venue.open()  # recovers from the genesis, re-executing every entry
    try:
        again = journal.engine
        assert (again.seq, again.digest(), again.chain_head) == expected
    finally:
        journal.close()
