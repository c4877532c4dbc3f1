"""SQLite beside the vectors: the document registry, chunk texts and their FTS5 (BM25) lexical index."""

from __future__ import annotations

import datetime as dt
import json
import re
import threading
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from policyqa.errors import PolicyQAError
from policyqa.store.sqlitedb import Database, connect
from policyqa.types import Chunk, DocType, DocumentMeta, DocumentRecord, Filters, StoredChunk, date_ord

_SCHEMA = """
CREATE TABLE IF NOT EXISTS documents (
    collection TEXT NOT NULL, doc_id TEXT NOT NULL, source TEXT NOT NULL, title TEXT NOT NULL,
    doc_type TEXT NOT NULL, published TEXT, publisher TEXT, content_hash TEXT NOT NULL,
    sources TEXT NOT NULL DEFAULT '[]', state TEXT NOT NULL, chunk_count INTEGER NOT NULL DEFAULT 0,
    ingested_at TEXT NOT NULL, PRIMARY KEY (collection, doc_id)
);
CREATE INDEX IF NOT EXISTS documents_source ON documents (collection, source);
CREATE TABLE IF NOT EXISTS chunks (
    id INTEGER PRIMARY KEY, collection TEXT NOT NULL, chunk_id TEXT NOT NULL, doc_id TEXT NOT NULL,
    idx INTEGER NOT NULL, text TEXT NOT NULL, context TEXT NOT NULL DEFAULT '', page INTEGER,
    start INTEGER NOT NULL, "end" INTEGER NOT NULL, headings TEXT NOT NULL DEFAULT '[]',
    doc_type TEXT NOT NULL, published_ord INTEGER NOT NULL DEFAULT 0, tags TEXT NOT NULL DEFAULT '|',
    dates TEXT NOT NULL DEFAULT '[]', UNIQUE (collection, chunk_id)
);
CREATE INDEX IF NOT EXISTS chunks_doc ON chunks (collection, doc_id);
CREATE VIRTUAL TABLE IF NOT EXISTS chunks_fts USING fts5(body, tokenize = 'porter unicode61');
CREATE TABLE IF NOT EXISTS state (collection TEXT NOT NULL, key TEXT NOT NULL, value TEXT,
    PRIMARY KEY (collection, key));
"""

_STOPWORDS = frozenset(
    """a an and are as at be been but by did do does for from had has have how i in is it its of on or
    that the their them then there these they this to was were what when where which who whom why will
    with would about after also any can could into more than that's our we you your s""".split()
)
_TERM = re.compile(r"[\w$%.-]+", re.UNICODE)


def fts_query(text: str, *, max_terms: int = 32) -> str:
    """An FTS5 OR-query of the meaningful terms of ``text``, each quoted so no syntax leaks through."""
    terms: list[str] = []
    for raw in _TERM.findall(text.lower()):
        term = raw.strip(".-")
        if not term or term in _STOPWORDS or term in terms:
            continue
        terms.append(term)
    return " OR ".join('"' + t.replace('"', "") + '"' for t in terms[:max_terms])


def record_from_row(r: Sequence[Any]) -> DocumentRecord:
    """A registry row (doc_id, source, title, doc_type, published, publisher, content_hash, sources, state,
    chunk_count, ingested_at) as a record; both catalog backends select these columns in this order."""
    return DocumentRecord(
        meta=DocumentMeta(
            doc_id=r[0], source=r[1], title=r[2], doc_type=DocType.parse(r[3]), published=r[4],
            publisher=r[5], content_hash=r[6], sources=tuple(json.loads(r[7])),
        ),
        state=r[8], chunk_count=r[9], ingested_at=r[10],
    )


def chunk_from_row(r: Sequence[Any]) -> StoredChunk:
    """A chunk row (chunk_id, doc_id, index, text, page, start, end, headings, title, doc_type, published, source,
    context, tags, dates) as a StoredChunk; both catalog backends select these columns in this order."""
    return StoredChunk(
        chunk_id=r[0], doc_id=r[1], index=r[2], text=r[3], page=r[4], start=r[5], end=r[6],
        headings=tuple(json.loads(r[7])), title=r[8], doc_type=DocType.parse(r[9]), published=r[10],
        source=r[11], context=r[12], tags=tuple(t for t in r[13].split("|") if t), dates=tuple(json.loads(r[14])),
    )


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


class Catalog:
    """One SQLite file per store; rows are scoped to a Chroma collection name."""

    def __init__(self, path: Path, collection: str, *, read_only: bool = False) -> None:
        """Open (and, unless ``read_only``, create or migrate) the catalog.

        Raises:
            StoreDamaged: the file is corrupt or truncated. StoreReadOnly, StoreFull: it cannot be written.
        """
        self.path = path
        self.collection = collection
        self.read_only = read_only
        self._lock = threading.RLock()
        if not read_only:
            path.parent.mkdir(parents=True, exist_ok=True)
        self._db: Database = connect(path, read_only=read_only)
        try:
            if not read_only:
                self._db.execute("PRAGMA journal_mode=WAL")
                self._db.execute("PRAGMA synchronous=NORMAL")
                self._db.executescript(_SCHEMA)
                self._migrate()
            self._db.execute("SELECT 1 FROM documents LIMIT 1")
        except BaseException:
            self._db.close()
            raise
        # The generation this process's view of the store reflects: our own writes advance it, those of
        # other processes do not, so a difference from generation() means "reload what you cached".
        self.seen_generation = self.generation()

    def _migrate(self) -> None:
        """Stores written before chunks carried tags and dates gain the columns (empty until re-indexed)."""
        columns = {row[1] for row in self._db.execute("PRAGMA table_info(chunks)")}
        if "tags" not in columns:
            self._db.execute("ALTER TABLE chunks ADD COLUMN tags TEXT NOT NULL DEFAULT '|'")
        if "dates" not in columns:
            self._db.execute("ALTER TABLE chunks ADD COLUMN dates TEXT NOT NULL DEFAULT '[]'")

    def close(self) -> None:
        self._db.close()

    # -- registry -----------------------------------------------------------------------------------

    def document(self, doc_id: str) -> DocumentRecord | None:
        rows = self._documents("AND doc_id = ?", (doc_id,))
        return rows[0] if rows else None

    def documents(self) -> list[DocumentRecord]:
        return self._documents("", ())

    def documents_by_source(self, source: str) -> list[DocumentRecord]:
        return self._documents("AND source = ?", (source,))

    def _documents(self, where: str, params: tuple[object, ...]) -> list[DocumentRecord]:
        sql = (
            "SELECT doc_id, source, title, doc_type, published, publisher, content_hash, sources, state, "
            f"chunk_count, ingested_at FROM documents WHERE collection = ? {where} "
            "ORDER BY published DESC, title"
        )
        with self._lock:
            rows = self._db.execute(sql, (self.collection, *params)).fetchall()
        return [record_from_row(r) for r in rows]

    def mark_pending(self, meta: DocumentMeta) -> None:
        with self._lock:
            self._db.execute(
                "INSERT INTO documents (collection, doc_id, source, title, doc_type, published, publisher, "
                "content_hash, sources, state, chunk_count, ingested_at) VALUES (?,?,?,?,?,?,?,?,?,'pending',0,?) "
                "ON CONFLICT (collection, doc_id) DO UPDATE SET source=excluded.source, title=excluded.title, "
                "doc_type=excluded.doc_type, published=excluded.published, publisher=excluded.publisher, "
                "content_hash=excluded.content_hash, sources=excluded.sources, state='pending', "
                "ingested_at=excluded.ingested_at",
                (
                    self.collection, meta.doc_id, meta.source, meta.title, meta.doc_type.value, meta.published,
                    meta.publisher, meta.content_hash, json.dumps(list(meta.sources)), _now(),
                ),
            )

    def mark_complete(self, doc_id: str, chunk_count: int) -> None:
        with self._lock, self._transaction():
            self._db.execute(
                "UPDATE documents SET state='complete', chunk_count=?, ingested_at=? "
                "WHERE collection=? AND doc_id=?",
                (chunk_count, _now(), self.collection, doc_id),
            )
            self._set_state("last_ingest", _now())
            self._advance_generation()

    def delete_document(self, doc_id: str) -> None:
        with self._lock, self._transaction():
            self._db.execute("DELETE FROM documents WHERE collection=? AND doc_id=?", (self.collection, doc_id))
            self._advance_generation()

    # -- change detection across processes ----------------------------------------------------------

    def generation(self) -> int:
        """A counter that every completed, removed or cleared document advances, in whichever process."""
        with self._lock:
            row = self._db.execute(
                "SELECT value FROM state WHERE collection=? AND key='generation'", (self.collection,)
            ).fetchone()
        return int(row[0]) if row else 0

    def _advance_generation(self) -> None:
        """Call inside a write transaction (writers are serialised by the store's lock file)."""
        old = self.generation()
        self._set_state("generation", str(old + 1))
        if self.seen_generation == old:
            self.seen_generation = old + 1

    # -- chunks and the lexical index ---------------------------------------------------------------

    def delete_chunks(self, doc_id: str) -> None:
        with self._lock, self._transaction():
            rowids = [
                r[0]
                for r in self._db.execute(
                    "SELECT id FROM chunks WHERE collection=? AND doc_id=?", (self.collection, doc_id)
                )
            ]
            self._db.executemany("DELETE FROM chunks_fts WHERE rowid=?", [(i,) for i in rowids])
            self._db.execute("DELETE FROM chunks WHERE collection=? AND doc_id=?", (self.collection, doc_id))

    def add_chunks(self, meta: DocumentMeta, chunks: Sequence[Chunk]) -> None:
        with self._lock, self._transaction():
            for c in chunks:
                cur = self._db.execute(
                    'INSERT OR REPLACE INTO chunks (collection, chunk_id, doc_id, idx, text, context, page, start, "end", '
                    "headings, doc_type, published_ord, tags, dates) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                    (
                        self.collection, c.chunk_id, c.doc_id, c.index, c.text, c.context, c.page, c.start, c.end,
                        json.dumps(list(c.headings)), meta.doc_type.value, meta.published_ord,
                        "|" + "".join(f"{t}|" for t in c.tags), json.dumps(list(c.dates)),
                    ),
                )
                self._db.execute(
                    "INSERT OR REPLACE INTO chunks_fts (rowid, body) VALUES (?, ?)", (cur.lastrowid, c.indexed_text)
                )

    def chunk_ids(self, doc_id: str | None = None) -> set[str]:
        sql, params = "SELECT chunk_id FROM chunks WHERE collection=?", [self.collection]
        if doc_id is not None:
            sql += " AND doc_id=?"
            params.append(doc_id)
        with self._lock:
            return {r[0] for r in self._db.execute(sql, params)}

    def get_chunks(self, chunk_ids: Iterable[str]) -> dict[str, StoredChunk]:
        ids = list(dict.fromkeys(chunk_ids))
        found: dict[str, StoredChunk] = {}
        for start in range(0, len(ids), 500):
            part = ids[start : start + 500]
            marks = ",".join("?" * len(part))
            with self._lock:
                rows = self._db.execute(
                    'SELECT c.chunk_id, c.doc_id, c.idx, c.text, c.page, c.start, c."end", c.headings, d.title, '
                    "d.doc_type, d.published, d.source, c.context, c.tags, c.dates FROM chunks c JOIN documents d "
                    "ON d.collection = c.collection AND d.doc_id = c.doc_id "
                    f"WHERE c.collection=? AND d.state='complete' AND c.chunk_id IN ({marks})",
                    (self.collection, *part),
                ).fetchall()
            for r in rows:
                found[r[0]] = chunk_from_row(r)
        return found

    def search(self, query: str, k: int, filters: Filters | None = None) -> list[tuple[str, float]]:
        """BM25 ranking of chunks for ``query``: (chunk_id, score) with higher scores better."""
        match = fts_query(query)
        if not match:
            return []
        where, params = filters_sql(filters)
        sql = (
            "SELECT c.chunk_id, -bm25(chunks_fts) AS score FROM chunks_fts CROSS JOIN chunks c ON c.id = chunks_fts.rowid "
            "JOIN documents d ON d.collection = c.collection AND d.doc_id = c.doc_id "
            f"WHERE chunks_fts MATCH ? AND c.collection = ? AND d.state = 'complete' {where} "
            "ORDER BY bm25(chunks_fts) LIMIT ?"
        )
        with self._lock:
            rows = self._db.execute(sql, (match, self.collection, *params, k)).fetchall()
        return [(r[0], float(r[1])) for r in rows]

    def term_counts(self, terms: Iterable[str], *, limit: int = 1) -> dict[str, int]:
        """How many chunks of this collection hold each term (after FTS5's stemming), counted up to ``limit``.

        The default answers "is it anywhere?" in constant time; CROSS JOIN makes FTS5 drive the join, where
        SQLite would otherwise scan every chunk of the collection first.
        """
        counts: dict[str, int] = {}
        for term in terms:
            match = fts_query(term)
            if not match:
                continue
            with self._lock:
                row = self._db.execute(
                    "SELECT COUNT(*) FROM (SELECT 1 FROM chunks_fts CROSS JOIN chunks c ON c.id = chunks_fts.rowid "
                    "WHERE chunks_fts MATCH ? AND c.collection = ? LIMIT ?)",
                    (match, self.collection, limit),
                ).fetchone()
            counts[term] = int(row[0])
        return counts

    def latest_published(self) -> str | None:
        with self._lock:
            row = self._db.execute(
                "SELECT MAX(published) FROM documents WHERE collection = ? AND state = 'complete'", (self.collection,)
            ).fetchone()
        return row[0] if row and row[0] else None

    def counts(self) -> tuple[int, int]:
        with self._lock:
            docs = self._db.execute(
                "SELECT COUNT(*) FROM documents WHERE collection=? AND state='complete'", (self.collection,)
            ).fetchone()[0]
            chunks = self._db.execute("SELECT COUNT(*) FROM chunks WHERE collection=?", (self.collection,)).fetchone()[0]
        return int(docs), int(chunks)

    def last_ingest(self) -> str | None:
        with self._lock:
            row = self._db.execute(
                "SELECT value FROM state WHERE collection=? AND key='last_ingest'", (self.collection,)
            ).fetchone()
        return row[0] if row else None

    def _set_state(self, key: str, value: str) -> None:
        self._db.execute(
            "INSERT INTO state (collection, key, value) VALUES (?,?,?) "
            "ON CONFLICT (collection, key) DO UPDATE SET value=excluded.value",
            (self.collection, key, value),
        )

    def clear(self) -> None:
        with self._lock, self._transaction():
            rowids = [r[0] for r in self._db.execute("SELECT id FROM chunks WHERE collection=?", (self.collection,))]
            self._db.executemany("DELETE FROM chunks_fts WHERE rowid=?", [(i,) for i in rowids])
            for table in ("chunks", "documents"):
                self._db.execute(f"DELETE FROM {table} WHERE collection=?", (self.collection,))
            # The generation survives a clear: counting again from 0 could repeat a value a reader has seen.
            self._db.execute("DELETE FROM state WHERE collection=? AND key != 'generation'", (self.collection,))
            self._advance_generation()

    # -- integrity ----------------------------------------------------------------------------------

    def damage(self) -> str | None:
        """What SQLite's own check finds wrong with the file (pages, indexes, the FTS5 index), or None."""
        with self._lock:
            try:
                rows = self._db.execute("PRAGMA quick_check").fetchall()
                if rows != [("ok",)]:
                    return "; ".join(str(r[0]) for r in rows[:3])
                if not self.read_only:
                    self._db.execute("INSERT INTO chunks_fts (chunks_fts) VALUES ('integrity-check')")
            except PolicyQAError as exc:
                return str(exc)
        return None

    def lexical_gaps(self) -> tuple[int, int]:
        """(chunks of this collection the FTS index lacks, FTS rows whose chunk is gone, in any collection)."""
        with self._lock:
            missing = self._db.execute(
                "SELECT COUNT(*) FROM chunks WHERE collection=? AND id NOT IN (SELECT rowid FROM chunks_fts)",
                (self.collection,),
            ).fetchone()[0]
            extra = self._db.execute(
                "SELECT COUNT(*) FROM chunks_fts WHERE rowid NOT IN (SELECT id FROM chunks)"
            ).fetchone()[0]
        return int(missing), int(extra)

    def rebuild_lexical_index(self) -> int:
        """Index every chunk's text again from the chunks table (all collections share the FTS table)."""
        with self._lock, self._transaction():
            self._db.execute("DROP TABLE IF EXISTS chunks_fts")
            self._db.execute("CREATE VIRTUAL TABLE chunks_fts USING fts5(body, tokenize = 'porter unicode61')")
            rows = self._db.execute("SELECT id, context, text FROM chunks").fetchall()
            self._db.executemany(
                "INSERT INTO chunks_fts (rowid, body) VALUES (?, ?)",
                [(i, f"{context}\n{text}" if context else text) for i, context, text in rows],
            )
            self._advance_generation()
        return len(rows)

    def _transaction(self) -> _Transaction:
        return _Transaction(self._db)


class _Transaction:
    def __init__(self, db: Database) -> None:
        self._db = db

    def __enter__(self) -> None:
        self._db.execute("BEGIN IMMEDIATE")

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        if not exc_type:
            self._db.execute("COMMIT")
            return
        try:
            self._db.execute("ROLLBACK")
        except Exception:  # a full disk or a damaged file can refuse the rollback too; report the first error
            pass


def filters_sql(filters: Filters | None) -> tuple[str, list[object]]:
    """The SQL twin of :func:`policyqa.store.corpus.filters_where` (columns of ``chunks c``)."""
    if filters is None or filters.empty:
        return "", []
    clauses: list[str] = []
    params: list[object] = []
    if filters.doc_types:
        clauses.append(f"c.doc_type IN ({','.join('?' * len(filters.doc_types))})")
        params.extend(t.value for t in filters.doc_types)
    if filters.doc_ids:
        clauses.append(f"c.doc_id IN ({','.join('?' * len(filters.doc_ids))})")
        params.extend(filters.doc_ids)
    if filters.date_from:
        clauses.append("c.published_ord >= ?")
        params.append(date_ord(filters.date_from))
    if filters.date_to:
        clauses.append("c.published_ord BETWEEN 1 AND ?")
        params.append(date_ord(filters.date_to))
    if filters.tags:
        clauses.append("(" + " OR ".join("c.tags LIKE ?" for _ in filters.tags) + ")")
        params.extend(f"%|{t}|%" for t in filters.tags)
    return "AND " + " AND ".join(clauses), params
