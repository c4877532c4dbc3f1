"""CorpusStore: the one facade over Chroma vectors and the SQLite catalog, kept in step, crash-safe."""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from policyqa.errors import ConfigError, StoreBusy, StoreUnavailable
from policyqa.tags import tag_key
from policyqa.store.backends import open_catalog, unpaired_reason
from policyqa.store.chroma import close_client, make_client, open_collection
from policyqa.store.pg_catalog import PgCatalog
from policyqa.types import Chunk, DocumentMeta, DocumentRecord, Filters, StoredChunk, date_ord

if TYPE_CHECKING:
    import numpy as np
    from chromadb.api import ClientAPI
    from chromadb.api.models.Collection import Collection

    from policyqa.settings import Settings

log = logging.getLogger(__name__)


def filters_where(filters: Filters | None) -> dict[str, Any] | None:
    """The Chroma ``where`` twin of :func:`policyqa.store.catalog.filters_sql`."""
    if filters is None or filters.empty:
        return None
    clauses: list[dict[str, Any]] = []
    if filters.doc_types:
        clauses.append({"doc_type": {"$in": [t.value for t in filters.doc_types]}})
    if filters.doc_ids:
        clauses.append({"doc_id": {"$in": list(filters.doc_ids)}})
    if filters.date_from:
        clauses.append({"published_ord": {"$gte": date_ord(filters.date_from)}})
    if filters.date_to:
        clauses.append({"published_ord": {"$lte": date_ord(filters.date_to)}})
        clauses.append({"published_ord": {"$gte": 1}})
    if filters.tags:
        tagged = [{tag_key(t): True} for t in filters.tags]
        clauses.append(tagged[0] if len(tagged) == 1 else {"$or": tagged})
    return clauses[0] if len(clauses) == 1 else {"$and": clauses}


@dataclass(frozen=True, slots=True)
class StoreStats:
    documents: int
    chunks: int
    last_ingest: str | None
    location: str


@dataclass(frozen=True, slots=True)
class ConsistencyReport:
    """Differences between the registry, the lexical index and Chroma."""

    pending_docs: tuple[str, ...]
    missing_in_chroma: int
    extra_in_chroma: int
    count_mismatch_docs: tuple[str, ...]
    repaired: bool = False

    @property
    def ok(self) -> bool:
        return not (self.pending_docs or self.missing_in_chroma or self.extra_in_chroma or self.count_mismatch_docs)


class CorpusStore:
    """Writes replace a whole document; reads see only documents whose write completed.

    Several processes may share an embedded store: one writer at a time (``writer_lock``), any number of
    readers. SEE: an embedded Chroma client (chromadb 1.5) keeps the vector index it first loaded in memory,
    so its queries never see vectors another process writes later, and a client that first read the
    collection before any vectors were on disk fails with "Error creating hnsw segment reader: Nothing found
    on disk" (counts and metadata, read from SQLite, are current). So every read first compares the catalog's
    generation, which each completed or removed document advances, with the one this store last loaded, and
    reopens its Chroma client when another process has moved it on; a query that fails is retried once on a
    reopened client. Reopening works when this store holds the only embedded client on its folder in the
    process (the app and the CLI open one store each); Chroma servers need none of this.
    """

    def __init__(self, settings: Settings, *, collection: Collection | None = None) -> None:
        self.settings = settings
        self.location = settings.chroma_url or str(settings.store_dir)
        self._client: ClientAPI | None = None  # ours to close and reopen; None when the collection was given
        if collection is None:
            self._client = client = make_client(settings)
            collection = open_collection(client, settings.collection)
        self._collection = collection
        self.catalog = open_catalog(settings)
        self._reopen_lock = threading.Lock()

    def close(self) -> None:
        self.catalog.close()
        if self._client is not None:
            close_client(self._client)

    @property
    def _reopenable(self) -> bool:
        return self._client is not None and self.settings.chroma_url is None

    def _chroma(self) -> Collection:
        """The collection, after reopening the client if another process has changed the store since it loaded."""
        collection = self._collection
        if self._reopenable:
            current = self.catalog.generation()
            if current != self.catalog.seen_generation:
                self._reopen(collection, current)
        return self._collection

    def _reopen(self, stale: Collection, generation: int | None = None) -> None:
        """Replace ``stale`` with a freshly opened collection, unless another thread already has."""
        with self._reopen_lock:
            if self._collection is not stale:
                return
            generation = self.catalog.generation() if generation is None else generation
            log.info("reopening Chroma at %s (store generation %d)", self.location, generation)
            assert self._client is not None
            # Close first: a new client on the same folder would otherwise share the stale one's index.
            # Queries already running on the old client finish; ones starting on it fail and are retried.
            close_client(self._client)
            self._client = make_client(self.settings)
            self._collection = open_collection(self._client, self.settings.collection)
            self.catalog.seen_generation = generation

    # -- writing ------------------------------------------------------------------------------------

    @contextlib.contextmanager
    def writer_lock(self) -> Iterator[None]:
        """Serialise writers across processes: Chroma's embedded client is not safe for two writers.

        With a shared PostgreSQL catalog the lock is an advisory lock in the database, so it holds across hosts.
        """
        if isinstance(self.catalog, PgCatalog):
            with self.catalog.writer_lock():
                self._chroma()
                yield
            return
        self.settings.store_dir.mkdir(parents=True, exist_ok=True)
        path = self.settings.store_dir / "writer.lock"
        with open(path, "a+") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise StoreBusy(f"another ingest is running on {self.settings.store_dir}; try again when it ends") from None
            handle.seek(0)
            handle.truncate()
            handle.write(str(os.getpid()))
            handle.flush()
            try:
                self._chroma()  # write on top of what the previous writer left, not on a stale view
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def begin_document(self, meta: DocumentMeta) -> None:
        """Mark the document pending and drop its old chunks; a crash after this is redone next run."""
        self.catalog.mark_pending(meta)
        self._delete_vectors(meta.doc_id)
        self.catalog.delete_chunks(meta.doc_id)

    def add_chunks(self, meta: DocumentMeta, chunks: Sequence[Chunk], vectors: np.ndarray) -> None:
        self.add_documents([(meta, chunks)], vectors)

    def add_documents(self, batch: Sequence[tuple[DocumentMeta, Sequence[Chunk]]], vectors: np.ndarray) -> None:
        """Write the chunks of several begun documents; ``vectors`` holds one row per chunk, in order.

        One Chroma call for the whole batch: each call costs about 10 ms however few chunks it carries.
        """
        pairs = [(meta, c) for meta, chunks in batch for c in chunks]
        if not pairs:
            return
        try:
            self._chroma().upsert(
                ids=[c.chunk_id for _, c in pairs],
                embeddings=vectors,
                documents=[c.text for _, c in pairs],
                metadatas=[_chroma_metadata(meta, c) for meta, c in pairs],
            )
        except Exception as exc:
            raise StoreUnavailable(f"writing to Chroma at {self.location} failed: {str(exc)[:200]}") from exc
        for meta, chunks in batch:
            self.catalog.add_chunks(meta, chunks)

    def finish_document(self, doc_id: str, chunk_count: int) -> None:
        self.catalog.mark_complete(doc_id, chunk_count)

    def remove(self, doc_id: str) -> bool:
        if self.catalog.document(doc_id) is None:
            return False
        self._delete_vectors(doc_id)
        self.catalog.delete_chunks(doc_id)
        self.catalog.delete_document(doc_id)
        return True

    def clear(self) -> None:
        for record in self.catalog.documents():
            self._delete_vectors(record.meta.doc_id)
        self.catalog.clear()

    def _delete_vectors(self, doc_id: str) -> None:
        try:
            self._chroma().delete(where={"doc_id": doc_id})
        except Exception as exc:
            raise StoreUnavailable(f"deleting from Chroma at {self.location} failed: {exc}") from exc

    # -- reading ------------------------------------------------------------------------------------

    def documents(self) -> list[DocumentRecord]:
        return self.catalog.documents()

    def document(self, doc_id: str) -> DocumentRecord | None:
        return self.catalog.document(doc_id)

    def stats(self) -> StoreStats:
        docs, chunks = self.catalog.counts()
        return StoreStats(documents=docs, chunks=chunks, last_ingest=self.catalog.last_ingest(), location=self.location)

    def dense_search(self, vector: Sequence[float], k: int, filters: Filters | None = None) -> list[tuple[str, float]]:
        """Nearest chunks by cosine similarity: (chunk_id, similarity), best first."""
        collection = self._chroma()
        try:
            result = _query(collection, vector, k, filters)
        except Exception as exc:
            if not self._reopenable:
                raise StoreUnavailable(f"searching Chroma at {self.location} failed: {str(exc)[:200]}") from exc
            log.info("Chroma query failed (%s); reopening the client and retrying once", str(exc)[:200])
            try:
                self._reopen(collection)
                result = _query(self._collection, vector, k, filters)
            except Exception as again:
                raise StoreUnavailable(f"searching Chroma at {self.location} failed: {str(again)[:200]}") from again
        if result is None:
            return []
        ids = result["ids"][0]
        distances = (result.get("distances") or [[]])[0] or []
        return [(i, 1.0 - float(d)) for i, d in zip(ids, distances, strict=False)]

    def lexical_search(self, query: str, k: int, filters: Filters | None = None) -> list[tuple[str, float]]:
        return self.catalog.search(query, k, filters)

    def term_counts(self, terms: Sequence[str]) -> dict[str, int]:
        return self.catalog.term_counts(terms)

    def get_chunks(self, chunk_ids: Sequence[str]) -> dict[str, StoredChunk]:
        return self.catalog.get_chunks(chunk_ids)

    # -- consistency --------------------------------------------------------------------------------

    def check(self, *, repair: bool = False) -> ConsistencyReport:
        """Compare registry, lexical index and Chroma; with ``repair``, drop what cannot be trusted."""
        records = self.catalog.documents()
        pending = tuple(r.meta.doc_id for r in records if r.state != "complete")
        lexical_ids = self.catalog.chunk_ids()
        chroma_ids = set(self._all_chroma_ids())
        mismatched = tuple(
            r.meta.doc_id
            for r in records
            if r.state == "complete" and len(self.catalog.chunk_ids(r.meta.doc_id)) != r.chunk_count
        )
        report = ConsistencyReport(
            pending_docs=pending,
            missing_in_chroma=len(lexical_ids - chroma_ids),
            extra_in_chroma=len(chroma_ids - lexical_ids),
            count_mismatch_docs=mismatched,
        )
        if not repair or report.ok:
            return report
        if reason := unpaired_reason(self.settings):
            raise ConfigError(f"refusing to repair: {reason}")
        broken = set(pending) | set(mismatched)
        missing = lexical_ids - chroma_ids
        broken |= {cid.rsplit(":", 1)[0] for cid in missing}
        for doc_id in broken:
            self.remove(doc_id)
        extra = list(set(self._all_chroma_ids()) - self.catalog.chunk_ids())
        for start in range(0, len(extra), 500):
            self._chroma().delete(ids=extra[start : start + 500])
        return ConsistencyReport(
            pending_docs=report.pending_docs,
            missing_in_chroma=report.missing_in_chroma,
            extra_in_chroma=report.extra_in_chroma,
            count_mismatch_docs=report.count_mismatch_docs,
            repaired=True,
        )

    def _all_chroma_ids(self) -> list[str]:
        ids: list[str] = []
        offset, page = 0, 5000
        while True:
            got = self._chroma().get(include=[], limit=page, offset=offset)["ids"]
            ids.extend(got)
            if len(got) < page:
                return ids
            offset += page


def _query(collection: Collection, vector: Sequence[float], k: int, filters: Filters | None) -> Any:
    """One Chroma nearest-neighbour query, or None when the collection is empty."""
    count = collection.count()
    if count == 0:
        return None
    return collection.query(
        query_embeddings=[[float(x) for x in vector]],
        n_results=min(k, count),
        where=filters_where(filters),
        include=["distances"],
    )


def _chroma_metadata(meta: DocumentMeta, chunk: Chunk) -> dict[str, str | int]:
    data: dict[str, str | int] = {
        "doc_id": meta.doc_id,
        "idx": chunk.index,
        "doc_type": meta.doc_type.value,
        "published_ord": meta.published_ord,
        "start": chunk.start,
        "end": chunk.end,
    }
    if chunk.page is not None:
        data["page"] = chunk.page
    if chunk.headings:
        data["headings"] = " > ".join(chunk.headings)
    for tag in chunk.tags:
        data[tag_key(tag)] = True
    return data


def open_store(settings: Settings, *, ephemeral: bool = False) -> CorpusStore:
    """Open the configured store; ``ephemeral`` keeps vectors in memory (tests)."""
    if ephemeral:
        return CorpusStore(settings, collection=open_collection(make_client(settings, ephemeral=True), settings.collection))
    return CorpusStore(settings)
