"""The store folder's files: the writer lock, swapping a rebuilt store in, and setting a damaged catalog aside."""

from __future__ import annotations

import contextlib
import datetime as dt
import errno
import fcntl
import json
import logging
import os
import shutil
import sqlite3
from collections.abc import Iterator
from pathlib import Path

from policyqa.errors import StoreBusy, StoreReadOnly
from policyqa.store.sqlitedb import store_error

log = logging.getLogger(__name__)

CATALOG_NAME = "policyqa.sqlite3"
CHROMA_NAME = "chroma"
REBUILD_DIR = ".rebuild"
_SWAP_MARKER = "rebuild.swap"


def writable(store_dir: Path) -> bool:
    """Whether the store folder (or, before it exists, its nearest parent) can be written."""
    folder = store_dir
    while not folder.exists() and folder.parent != folder:
        folder = folder.parent
    return os.access(folder, os.W_OK)


@contextlib.contextmanager
def writer_lock(store_dir: Path) -> Iterator[None]:
    """Serialise writers across processes (Chroma's embedded client is not safe for two writers).

    Raises:
        StoreBusy: another process holds it. StoreReadOnly: the store folder cannot be written.
    """
    try:
        store_dir.mkdir(parents=True, exist_ok=True)
        handle = open(store_dir / "writer.lock", "a+")  # noqa: SIM115 - closed below, after the lock is released
    except OSError as exc:
        if exc.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
            raise StoreReadOnly(
                f"the store {store_dir} is read-only; ingest, remove and repair need write access"
            ) from None
        raise store_error(exc, str(store_dir)) or exc from exc
    with handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise StoreBusy(f"another ingest is running on {store_dir}; try again when it ends") from None
        try:
            handle.seek(0)
            handle.truncate()
            handle.write(str(os.getpid()))
            handle.flush()
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def prepare_rebuild(store_dir: Path) -> Path:
    """An empty folder beside the store for a new one; what an interrupted rebuild left there is discarded."""
    folder = store_dir / REBUILD_DIR
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    return folder


def swap_in(store_dir: Path) -> None:
    """Replace the store's catalog and Chroma folder with the complete ones in ``REBUILD_DIR``.

    Call with the writer lock held and no client open on either store. A marker written first makes the
    swap finish on the next open if this process dies half-way (see :func:`finish_swap`).
    """
    (store_dir / _SWAP_MARKER).write_text(json.dumps({"from": REBUILD_DIR, "at": _stamp()}))
    finish_swap(store_dir)


def finish_swap(store_dir: Path) -> bool:
    """Complete a swap that was started (idempotent); returns whether there was one to finish."""
    marker = store_dir / _SWAP_MARKER
    if not marker.exists():
        return False
    new = store_dir / REBUILD_DIR
    catalog_pending = (new / CATALOG_NAME).exists()
    # Each step is redone safely: a part still in the new folder has not been moved yet. The catalog goes last,
    # in one atomic rename, after the old catalog's WAL is gone and the new vectors are in place.
    journal = (CATALOG_NAME + "-wal", CATALOG_NAME + "-shm")
    if catalog_pending:
        for name in journal:
            (store_dir / name).unlink(missing_ok=True)
    for name in (CHROMA_NAME, CATALOG_NAME, *journal):
        if (new / name).exists():
            _replace(new / name, store_dir / name)
    marker.unlink()
    shutil.rmtree(new, ignore_errors=True)
    log.info("rebuilt store swapped in at %s", store_dir)
    return True


def _replace(source: Path, target: Path) -> None:
    if target.is_dir():
        shutil.rmtree(target)
    elif target.exists() and source.is_dir():
        target.unlink()
    os.replace(source, target)  # a file replaces a file atomically


def other_collections(store_dir: Path, collection: str) -> set[str]:
    """Collections besides ``collection`` that the store folder's catalog or Chroma database holds.

    Read from the files directly (Chroma's own SQLite file names its collections), without opening a client.
    """
    found: set[str] = set()
    for path, sql in (
        (store_dir / CATALOG_NAME, "SELECT DISTINCT collection FROM documents"),
        (store_dir / CHROMA_NAME / "chroma.sqlite3", "SELECT name FROM collections"),
    ):
        if not path.is_file():
            continue
        try:
            db = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
            try:
                found.update(str(row[0]) for row in db.execute(sql))
            finally:
                db.close()
        except sqlite3.Error as exc:  # a damaged file: what it held cannot be kept by a rebuild anyway
            log.info("listing the collections in %s: %s", path, exc)
    return found - {collection}


def set_aside(catalog: Path) -> Path:
    """Rename a damaged catalog (and its WAL and shared memory) out of the way, keeping it; returns its new path."""
    aside = catalog.with_name(f"{catalog.name}.damaged-{_stamp()}")
    for suffix in ("-wal", "-shm", ""):
        part = catalog.with_name(catalog.name + suffix)
        if part.exists():
            os.replace(part, aside.with_name(aside.name + suffix))
    return aside


def salvage_sources(catalog: Path, collection: str) -> list[str]:
    """The source files a damaged catalog still lists for ``collection``, read as far as the file allows."""
    found: dict[str, None] = {}
    try:
        db = sqlite3.connect(f"{catalog.resolve().as_uri()}?mode=ro", uri=True)
    except sqlite3.Error:
        return []
    try:
        queries = (
            ("SELECT source FROM documents WHERE collection = ?", (collection,)),
            # The index on (collection, source) may have survived where the table's pages did not.
            ("SELECT source FROM documents INDEXED BY documents_source WHERE collection = ?", (collection,)),
        )
        for sql, params in queries:
            try:
                for (source,) in db.execute(sql, params):
                    found[source] = None
            except sqlite3.Error as exc:
                log.info("salvaging %s: %s", catalog, exc)
        if not found:
            found.update(dict.fromkeys(_sources_row_by_row(db, collection)))
    finally:
        db.close()
    return list(found)


def _sources_row_by_row(db: sqlite3.Connection, collection: str, *, gap: int = 2000) -> Iterator[str]:
    """Read the documents table one rowid at a time, stepping over damaged pages, until ``gap`` rowids in a row fail."""
    rowid, misses = 1, 0
    while misses < gap:
        try:
            row = db.execute("SELECT collection, source FROM documents WHERE rowid = ?", (rowid,)).fetchone()
        except sqlite3.Error:
            row = None
        if row is None:
            misses += 1
        else:
            misses = 0
            if row[0] == collection:
                yield row[1]
        rowid += 1


def _stamp() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S")
