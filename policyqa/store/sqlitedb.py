"""SQLite connections whose failures are one-line store errors: damaged, full or read-only, never a traceback."""

from __future__ import annotations

import errno
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from policyqa.errors import PolicyQAError, StoreDamaged, StoreFull, StoreReadOnly, StoreUnavailable

_DAMAGED = ("malformed", "not a database", "file is encrypted", "corrupt")


def store_error(exc: BaseException, where: str) -> PolicyQAError | None:
    """The store error ``exc`` means, or None when it is not about the store's files (a bad query, a lock)."""
    text = str(exc)
    lowered = text.lower()
    if isinstance(exc, PolicyQAError):
        return exc
    no_space = isinstance(exc, OSError) and exc.errno == errno.ENOSPC
    if no_space or "disk is full" in lowered or "no space left" in lowered:
        return StoreFull(
            f"the disk holding {where} is full ({text[:120]}); free some space and run the command again "
            "(the documents stored before are kept)"
        )
    if "readonly" in lowered or "read-only" in lowered:
        return StoreReadOnly(f"{where} is read-only ({text[:120]}); writing needs write access to the store folder")
    if isinstance(exc, sqlite3.DatabaseError) and any(word in lowered for word in _DAMAGED):
        return StoreDamaged(f"{where} is damaged ({text[:120]}); run `policyqa check --repair`")
    if isinstance(exc, sqlite3.OperationalError) and ("disk i/o error" in lowered or "unable to open" in lowered):
        return StoreUnavailable(f"{where} cannot be read ({text[:120]})")
    return None


class Rows:
    """The rows of one statement, fetched at once so a damaged page fails inside ``execute``, not later."""

    def __init__(self, rows: list[Any], lastrowid: int | None) -> None:
        self._rows = rows
        self.lastrowid = lastrowid

    def __iter__(self) -> Iterator[Any]:
        return iter(self._rows)

    def fetchall(self) -> list[Any]:
        return self._rows

    def fetchone(self) -> Any:
        return self._rows[0] if self._rows else None


class Database:
    """A thin wrapper over one ``sqlite3.Connection`` that turns file-level failures into store errors.

    One statement at a time, and closing waits for the one under way: the connection is shared by threads (a chat
    session, the deal table read in the background), and SQLite crashes the process when a connection is closed
    while another thread runs a statement on it. Once closed, a statement fails with ``sqlite3.ProgrammingError``.
    """

    def __init__(self, connection: sqlite3.Connection, path: Path) -> None:
        self.connection = connection
        self.path = path
        self._lock = threading.RLock()

    def _fail(self, exc: BaseException) -> BaseException:
        return store_error(exc, f"the catalog {self.path}") or exc

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Rows:
        try:
            with self._lock:
                cursor = self.connection.execute(sql, params)
                return Rows(cursor.fetchall(), cursor.lastrowid)
        except sqlite3.Error as exc:
            raise self._fail(exc) from exc

    def executemany(self, sql: str, params: Any) -> None:
        try:
            with self._lock:
                self.connection.executemany(sql, params)
        except sqlite3.Error as exc:
            raise self._fail(exc) from exc

    def executescript(self, sql: str) -> None:
        try:
            with self._lock:
                self.connection.executescript(sql)
        except sqlite3.Error as exc:
            raise self._fail(exc) from exc

    def close(self) -> None:
        with self._lock:
            self.connection.close()


def connect(path: Path, *, read_only: bool = False) -> Database:
    """Open ``path``; ``read_only`` opens it without ever writing (for a store on a read-only mount or folder).

    Raises:
        StoreDamaged: the file is not a readable SQLite database.
    """
    try:
        if not read_only:
            connection = sqlite3.connect(path, timeout=30, check_same_thread=False, isolation_level=None)
        else:
            # SEE: https://www.sqlite.org/uri.html#uriimmutable: a WAL database in a folder we cannot write
            # cannot create its -shm file, so plain mode=ro fails; the store is not being written meanwhile.
            uri = f"{path.resolve().as_uri()}?mode=ro&immutable=1"
            connection = sqlite3.connect(uri, uri=True, timeout=30, check_same_thread=False, isolation_level=None)
    except sqlite3.Error as exc:
        raise store_error(exc, f"the catalog {path}") or exc from exc
    return Database(connection, path)
