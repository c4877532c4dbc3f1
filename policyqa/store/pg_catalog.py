"""PostgreSQL catalog: one registry and lexical index (tsvector, GIN, ts_rank_cd) shared by every app host."""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import logging
import re
from collections.abc import Iterable, Iterator, Sequence
from importlib import resources
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

from policyqa.errors import StoreBusy, StoreUnavailable
from policyqa.store.catalog import chunk_from_row, filters_sql, fts_query, record_from_row
from policyqa.types import Chunk, DocumentMeta, DocumentRecord, Filters, StoredChunk

if TYPE_CHECKING:
    import psycopg
    from psycopg_pool import ConnectionPool

log = logging.getLogger(__name__)

# The text-search configuration of the lexical index: Snowball English stemming, the nearest to FTS5's porter.
TS_CONFIG = "english"
_POOL_MAX = 8  # connections per process: enough for the app's concurrent sessions, small next to max_connections
_MIGRATION = re.compile(r"^(\d{4})_[\w-]+\.sql$")


def redact(url: str) -> str:
    """``url`` without its password, for messages and logs."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = f"{parts.username}:***@{parts.hostname}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


def advisory_key(name: str) -> int:
    """A stable signed 64-bit key for ``pg_advisory_lock``: the same on every host for the same name."""
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)


def migrations() -> list[tuple[int, str, str]]:
    """The bundled schema migrations as (version, file name, SQL), oldest first."""
    found = []
    for entry in resources.files("policyqa.store").joinpath("migrations").iterdir():
        match = _MIGRATION.match(entry.name)
        if match:
            found.append((int(match.group(1)), entry.name, entry.read_text(encoding="utf-8")))
    return sorted(found)


def migrate(conn: psycopg.Connection[Any]) -> list[str]:
    """Apply the migrations this database lacks, in one transaction under an advisory lock; the names applied.

    Hosts starting together wait on the lock, so exactly one of them applies each version.
    """
    applied_now: list[str] = []
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (advisory_key("policyqa-migrations"),))
        conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, "
            "applied_at TIMESTAMPTZ NOT NULL DEFAULT now())"
        )
        done = {row[0] for row in conn.execute("SELECT version FROM schema_migrations")}
        for version, name, sql in migrations():
            if version in done:
                continue
            log.info("applying migration %s", name)
            conn.execute(sql.encode())  # no parameters: the simple protocol, which runs several statements
            conn.execute("INSERT INTO schema_migrations (version, name) VALUES (%s, %s)", (version, name))
            applied_now.append(name)
    return applied_now


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def _sql_filters(filters: Filters | None) -> tuple[str, list[object]]:
    where, params = filters_sql(filters)  # one meaning of a filter for both catalogs; only the placeholder differs
    return where.replace("?", "%s"), params


def _tsquery(terms: Sequence[str]) -> str:
    """An OR of ``plainto_tsquery`` per term: each term is a parameter, so no tsquery syntax leaks through."""
    return " || ".join(f"plainto_tsquery('{TS_CONFIG}', %s)" for _ in terms)


def _terms(text: str) -> list[str]:
    return [t.strip('"') for t in fts_query(text).split(" OR ") if t]


class PgCatalog:
    """The catalog in PostgreSQL: a small connection pool per process, each method one transaction."""

    def __init__(self, url: str, collection: str, *, pool_size: int = _POOL_MAX) -> None:
        try:
            import psycopg
            from psycopg_pool import ConnectionPool
        except ImportError as exc:  # pragma: no cover - a dependency of the package
            raise StoreUnavailable("POLICYQA_DATABASE_URL needs psycopg: pip install 'psycopg[binary]' psycopg-pool") from exc
        self.url = url
        self.location = redact(url)
        self.collection = collection
        try:
            with psycopg.connect(url, connect_timeout=10) as conn:
                migrate(conn)
        except psycopg.Error as exc:
            raise StoreUnavailable(f"PostgreSQL at {self.location} is not usable: {str(exc).strip()[:200]}") from None
        self._pool: ConnectionPool = ConnectionPool(
            url, min_size=1, max_size=pool_size, open=True, check=ConnectionPool.check_connection,
            name=f"policyqa-{collection}",
        )
        self.seen_generation = self.generation()

    def close(self) -> None:
        self._pool.close()

    @contextlib.contextmanager
    def _tx(self) -> Iterator[psycopg.Connection[Any]]:
        """One transaction: committed when the block ends, rolled back if it raises."""
        import psycopg

        try:
            with self._pool.connection() as conn:
                yield conn
        except psycopg.OperationalError as exc:
            raise StoreUnavailable(f"PostgreSQL at {self.location} failed: {str(exc).strip()[:200]}") from exc

    # -- the writer lock, across hosts ----------------------------------------------------------------

    @contextlib.contextmanager
    def writer_lock(self) -> Iterator[None]:
        """One writer per collection on any host: a session advisory lock, released by PostgreSQL if the holder dies."""
        import psycopg

        key = advisory_key(f"policyqa-writer:{self.collection}")
        try:
            conn = psycopg.connect(self.url, autocommit=True, connect_timeout=10)
        except psycopg.Error as exc:
            raise StoreUnavailable(f"PostgreSQL at {self.location} is not reachable: {str(exc).strip()[:200]}") from None
        with conn:
            row = conn.execute("SELECT pg_try_advisory_lock(%s)", (key,)).fetchone()
            if not (row and row[0]):
                raise StoreBusy(
                    f"another ingest is running on collection {self.collection!r} in {self.location}; "
                    "try again when it ends"
                )
            try:
                yield
            finally:
                with contextlib.suppress(psycopg.Error):  # a lost session has released it already
                    conn.execute("SELECT pg_advisory_unlock(%s)", (key,))

    # -- registry -----------------------------------------------------------------------------------

    def document(self, doc_id: str) -> DocumentRecord | None:
        rows = self._documents("AND doc_id = %s", (doc_id,))
        return rows[0] if rows else None

    def documents(self) -> list[DocumentRecord]:
        return self._documents("", ())

    def documents_by_source(self, source: str) -> list[DocumentRecord]:
        return self._documents("AND source = %s", (source,))

    def _documents(self, where: str, params: tuple[object, ...]) -> list[DocumentRecord]:
        # COLLATE "C" and NULLS LAST give SQLite's order (bytewise; NULL dates last when descending).
        sql = (
            "SELECT doc_id, source, title, doc_type, published, publisher, content_hash, sources, state, "
            f"chunk_count, ingested_at FROM documents WHERE collection = %s {where} "
            'ORDER BY published COLLATE "C" DESC NULLS LAST, title COLLATE "C"'
        )
        with self._tx() as conn:
            rows = conn.execute(sql, (self.collection, *params)).fetchall()
        return [record_from_row(r) for r in rows]

    def mark_pending(self, meta: DocumentMeta) -> None:
        with self._tx() as conn:
            conn.execute(
                "INSERT INTO documents (collection, doc_id, source, title, doc_type, published, publisher, "
                "content_hash, sources, state, chunk_count, ingested_at) "
                "VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s,'pending',0,%s) "
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
        with self._tx() as conn:
            conn.execute(
                "UPDATE documents SET state='complete', chunk_count=%s, ingested_at=%s "
                "WHERE collection=%s AND doc_id=%s",
                (chunk_count, _now(), self.collection, doc_id),
            )
            self._set_state(conn, "last_ingest", _now())
            self._advance_generation(conn)

    def delete_document(self, doc_id: str) -> None:
        with self._tx() as conn:
            conn.execute("DELETE FROM documents WHERE collection=%s AND doc_id=%s", (self.collection, doc_id))
            self._advance_generation(conn)

    # -- change detection across processes and hosts ------------------------------------------------

    def generation(self) -> int:
        """A counter that every completed, removed or cleared document advances, on whichever host."""
        with self._tx() as conn:
            row = conn.execute(
                "SELECT value FROM store_state WHERE collection=%s AND key='generation'", (self.collection,)
            ).fetchone()
        return int(row[0]) if row else 0

    def _advance_generation(self, conn: psycopg.Connection[Any]) -> None:
        # One statement: the row lock orders concurrent writers, so no two commits share a generation.
        row = conn.execute(
            "INSERT INTO store_state (collection, key, value) VALUES (%s, 'generation', '1') "
            "ON CONFLICT (collection, key) DO UPDATE SET value = (store_state.value::bigint + 1)::text "
            "RETURNING value::bigint",
            (self.collection,),
        ).fetchone()
        new = int(row[0]) if row else 0
        if self.seen_generation == new - 1:
            self.seen_generation = new

    def _set_state(self, conn: psycopg.Connection[Any], key: str, value: str) -> None:
        conn.execute(
            "INSERT INTO store_state (collection, key, value) VALUES (%s,%s,%s) "
            "ON CONFLICT (collection, key) DO UPDATE SET value=excluded.value",
            (self.collection, key, value),
        )

    # -- chunks and the lexical index ---------------------------------------------------------------

    def delete_chunks(self, doc_id: str) -> None:
        with self._tx() as conn:
            conn.execute("DELETE FROM chunks WHERE collection=%s AND doc_id=%s", (self.collection, doc_id))

    def add_chunks(self, meta: DocumentMeta, chunks: Sequence[Chunk]) -> None:
        if not chunks:
            return
        rows = [
            (
                self.collection, c.chunk_id, c.doc_id, c.index, c.text, c.context, c.page, c.start, c.end,
                json.dumps(list(c.headings)), meta.doc_type.value, meta.published_ord,
                "|" + "".join(f"{t}|" for t in c.tags), json.dumps(list(c.dates)), c.indexed_text,
            )
            for c in chunks
        ]
        with self._tx() as conn, conn.cursor() as cur:
            cur.executemany(
                'INSERT INTO chunks (collection, chunk_id, doc_id, idx, text, context, page, start, "end", headings, '
                "doc_type, published_ord, tags, dates, body) "
                f"VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,to_tsvector('{TS_CONFIG}', %s)) "
                "ON CONFLICT (collection, chunk_id) DO UPDATE SET doc_id=excluded.doc_id, idx=excluded.idx, "
                'text=excluded.text, context=excluded.context, page=excluded.page, start=excluded.start, "end"=excluded."end", '
                "headings=excluded.headings, doc_type=excluded.doc_type, published_ord=excluded.published_ord, "
                "tags=excluded.tags, dates=excluded.dates, body=excluded.body",
                rows,
            )

    def chunk_ids(self, doc_id: str | None = None) -> set[str]:
        sql, params = "SELECT chunk_id FROM chunks WHERE collection=%s", [self.collection]
        if doc_id is not None:
            sql += " AND doc_id=%s"
            params.append(doc_id)
        with self._tx() as conn:
            return {r[0] for r in conn.execute(sql, params)}

    def get_chunks(self, chunk_ids: Iterable[str]) -> dict[str, StoredChunk]:
        ids = list(dict.fromkeys(chunk_ids))
        if not ids:
            return {}
        with self._tx() as conn:
            rows = conn.execute(
                'SELECT c.chunk_id, c.doc_id, c.idx, c.text, c.page, c.start, c."end", c.headings, d.title, '
                "d.doc_type, d.published, d.source, c.context, c.tags, c.dates FROM chunks c JOIN documents d "
                "ON d.collection = c.collection AND d.doc_id = c.doc_id "
                "WHERE c.collection=%s AND d.state='complete' AND c.chunk_id = ANY(%s)",
                (self.collection, ids),
            ).fetchall()
        return {
            r[0]: chunk_from_row(r) for r in rows
        }

    def search(self, query: str, k: int, filters: Filters | None = None) -> list[tuple[str, float]]:
        """Chunks ranked by ``ts_rank_cd`` (cover density) for ``query``: (chunk_id, score), higher better."""
        terms = _terms(query)
        if not terms:
            return []
        where, params = _sql_filters(filters)
        sql = (
            f"WITH q AS (SELECT {_tsquery(terms)} AS q) "
            "SELECT c.chunk_id, ts_rank_cd(c.body, q.q) AS score FROM q, chunks c "
            "JOIN documents d ON d.collection = c.collection AND d.doc_id = c.doc_id "
            f"WHERE c.body @@ q.q AND c.collection = %s AND d.state = 'complete' {where} "
            "ORDER BY score DESC, c.chunk_id LIMIT %s"
        )
        with self._tx() as conn:
            rows = conn.execute(sql, (*terms, self.collection, *params, k)).fetchall()
        return [(r[0], float(r[1])) for r in rows]

    def term_counts(self, terms: Iterable[str], *, limit: int = 1) -> dict[str, int]:
        """How many chunks of this collection hold each term (after stemming), counted up to ``limit``."""
        counts: dict[str, int] = {}
        with self._tx() as conn:
            for term in terms:
                parts = _terms(term)
                if not parts:
                    continue
                row = conn.execute(
                    f"SELECT COUNT(*) FROM (SELECT 1 FROM chunks c WHERE c.body @@ ({_tsquery(parts)}) "
                    "AND c.collection = %s LIMIT %s) found",
                    (*parts, self.collection, limit),
                ).fetchone()
                counts[term] = int(row[0]) if row else 0
        return counts

    def latest_published(self) -> str | None:
        with self._tx() as conn:
            row = conn.execute(
                'SELECT MAX(published COLLATE "C") FROM documents WHERE collection = %s AND state = \'complete\'',
                (self.collection,),
            ).fetchone()
        return row[0] if row and row[0] else None

    def counts(self) -> tuple[int, int]:
        with self._tx() as conn:
            docs = conn.execute(
                "SELECT COUNT(*) FROM documents WHERE collection=%s AND state='complete'", (self.collection,)
            ).fetchone()
            chunks = conn.execute("SELECT COUNT(*) FROM chunks WHERE collection=%s", (self.collection,)).fetchone()
        return int(docs[0]) if docs else 0, int(chunks[0]) if chunks else 0

    def last_ingest(self) -> str | None:
        with self._tx() as conn:
            row = conn.execute(
                "SELECT value FROM store_state WHERE collection=%s AND key='last_ingest'", (self.collection,)
            ).fetchone()
        return row[0] if row else None

    def clear(self) -> None:
        with self._tx() as conn:
            for table in ("chunks", "documents"):
                conn.execute(f"DELETE FROM {table} WHERE collection=%s", (self.collection,))
            # The generation survives a clear: counting again from 0 could repeat a value a reader has seen.
            conn.execute("DELETE FROM store_state WHERE collection=%s AND key != 'generation'", (self.collection,))
            self._advance_generation(conn)

    def damage(self) -> str | None:
        """PostgreSQL checks its own pages; a catalog that answers queries is whole as far as this store can tell."""
        try:
            with self._tx() as conn:
                conn.execute("SELECT 1 FROM documents LIMIT 1").fetchall()
        except psycopg.Error as exc:
            return str(exc).splitlines()[0]
        return None

    def lexical_gaps(self) -> tuple[int, int]:
        """(chunks of this collection with an empty lexical vector although they hold text, 0): the index is a
        column of the chunk row, so no index row can outlive its chunk."""
        with self._tx() as conn:
            missing = conn.execute(
                "SELECT COUNT(*) FROM chunks WHERE collection = %s AND body = ''::tsvector AND text <> ''",
                (self.collection,),
            ).fetchone()[0]
        return int(missing), 0

    def rebuild_lexical_index(self) -> int:
        """Compute every chunk's lexical vector again from its context and text."""
        with self._tx() as conn:
            cursor = conn.execute(
                f"UPDATE chunks SET body = to_tsvector('{TS_CONFIG}', context || ' ' || text) WHERE collection = %s",
                (self.collection,),
            )
            self._advance_generation(conn)
            return int(cursor.rowcount or 0)
