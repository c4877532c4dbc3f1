"""policyqa/store/sqlitedb.py: a catalog connection shared by threads is closed only between statements."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest

from policyqa.store.sqlitedb import connect

# A statement that runs for a while: the sum of 1..3,000,000 by a recursive query.
SLOW = (
    "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 3000000) SELECT sum(i) FROM n"
)


def test_closing_waits_for_the_statement_another_thread_is_running(tmp_path: Path) -> None:
    db = connect(tmp_path / "catalog.sqlite3")
    results: list[object] = []
    started = threading.Event()

    def run() -> None:
        started.set()
        try:
            results.append(db.execute(SLOW).fetchone()[0])
        except Exception as exc:  # noqa: BLE001 - what the statement ended with is the result under test
            results.append(exc)

    worker = threading.Thread(target=run)
    worker.start()
    started.wait()
    db.close()  # before the lock, this could close the connection under the running statement (a segfault)
    worker.join(timeout=60)

    assert results == [3000000 * 3000001 // 2] or (
        len(results) == 1 and isinstance(results[0], sqlite3.ProgrammingError)
    ), f"the statement either finished before the close or never started on a closed connection: {results}"
    with pytest.raises(sqlite3.ProgrammingError):
        db.execute("SELECT 1")
