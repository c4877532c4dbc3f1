"""CorpusStore: the one facade over Chroma vectors and the SQLite catalog, kept in step, crash-safe."""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import shutil
import tempfile
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from policyqa.errors import ConfigError, PolicyQAError, StoreReadOnly, StoreUnavailable
from policyqa.store import files
from policyqa.store.backends import open_catalog, unpaired_reason
from policyqa.store.chroma import close_client, make_client, open_collection
from policyqa.store.pg_catalog import PgCatalog
from policyqa.store.sqlitedb import store_error
from policyqa.tags import tag_key
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
    documents: int  # complete documents: the ones searches see
    chunks: int
    last_ingest: str | None
    location: str
    pending: int = 0  # documents whose write has not completed (searches skip them until it does)


@dataclass(frozen=True, slots=True)
class ConsistencyReport:
    """Differences between the registry, the lexical index and Chroma."""

    pending_docs: tuple[str, ...]
    missing_in_chroma: int
    extra_in_chroma: int
    count_mismatch_docs: tuple[str, ...]
    repaired: bool = False
    catalog_damage: str | None = None  # what SQLite's own check found wrong with the catalog file
    missing_in_lexical: int = 0  # chunks the FTS index lacks
    extra_in_lexical: int = 0  # FTS rows whose chunk is gone
    reingest: tuple[str, ...] = ()  # with repair: source files to ingest again (their documents are pending)
    dropped_docs: tuple[str, ...] = ()  # with repair: documents removed because their source file is gone

    @property
    def ok(self) -> bool:
        return not (
            self.pending_docs or self.missing_in_chroma or self.extra_in_chroma or self.count_mismatch_docs
            or self.catalog_damage or self.missing_in_lexical or self.extra_in_lexical
        )


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
        """Open the store; a store in a folder this process cannot write is opened read-only.

        Raises:
            StoreUnavailable: Chroma cannot be opened. StoreDamaged: the catalog file is corrupt or truncated.
        """
        self.settings = settings
        self.location = settings.chroma_url or str(settings.store_dir)
        self.read_only = settings.chroma_url is None and collection is None and not files.writable(settings.store_dir)
        self._snapshot: Path | None = None  # a read-only store's vectors, copied where Chroma may write
        self._client: ClientAPI | None = None  # ours to close and reopen; None when the collection was given
        self._reopen_lock = threading.Lock()
        self._health: tuple[int, str | None] | None = None
        self._files_open = True
        if not self.read_only and settings.chroma_url is None:
            _finish_interrupted_swap(settings.store_dir)
        self.catalog = open_catalog(settings, read_only=self.read_only)
        try:
            if collection is None:
                self._client = make_client(self._chroma_settings())
                collection = open_collection(self._client, settings.collection)
        except BaseException:
            self.close()
            raise
        self._collection = collection

    def _chroma_settings(self) -> Settings:
        """Settings for the Chroma client: a read-only store's vectors are read from a private copy.

        SEE: chromadb 1.5's PersistentClient writes to its SQLite file on open ("attempt to write a readonly
        database"), so it cannot open a folder it may not write.
        """
        if not self.read_only:
            return self.settings
        if self._snapshot is None:
            self._snapshot = Path(tempfile.mkdtemp(prefix="policyqa-readonly-"))
            source = self.settings.store_dir / files.CHROMA_NAME
            if source.is_dir():
                shutil.copytree(source, self._snapshot / files.CHROMA_NAME)
            log.info("store %s is read-only; reading its vectors from a copy in %s", self.location, self._snapshot)
        return self.settings.with_overrides(store_dir=self._snapshot)

    def close(self) -> None:
        if getattr(self, "catalog", None) is not None:
            self.catalog.close()
        if self._client is not None:
            close_client(self._client)
            self._client = None
        if self._snapshot is not None:
            shutil.rmtree(self._snapshot, ignore_errors=True)
            self._snapshot = None

    def close_files(self) -> None:
        """Release the catalog and the Chroma folder so they can be replaced; :meth:`reload` opens the new ones."""
        with self._reopen_lock:
            if self._files_open:
                self.catalog.close()
                assert self._client is not None
                close_client(self._client)
                self._files_open = False

    def reload(self) -> None:
        """Reopen the catalog and the Chroma client, after the files under them were replaced (a rebuild)."""
        if not self._reopenable:
            raise StoreUnavailable(f"the store at {self.location} cannot be reopened in place")
        self.close_files()
        with self._reopen_lock:
            self._files_open = True
            self.catalog = open_catalog(self.settings, read_only=self.read_only)
            self._client = make_client(self._chroma_settings())
            self._collection = open_collection(self._client, self.settings.collection)
            self._health = None

    @property
    def _reopenable(self) -> bool:
        return self._client is not None and self.settings.chroma_url is None and not self.read_only

    @property
    def swappable(self) -> bool:
        """Whether a rebuilt store can be swapped in under this one (an embedded store this process may write)."""
        return self._reopenable

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

        Raises:
            StoreBusy: another process writes. StoreReadOnly: this store was opened read-only.
        """
        if self.read_only:
            raise StoreReadOnly(
                f"the store {self.location} is read-only; ingest, remove and repair need write access"
            )
        if isinstance(self.catalog, PgCatalog):
            with self.catalog.writer_lock():
                self._chroma()
                yield
            return
        with files.writer_lock(self.settings.store_dir):
            self._chroma()  # write on top of what the previous writer left, not on a stale view
            yield

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
            raise _chroma_error(exc, f"writing to Chroma at {self.location} failed") from exc
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
        """Empty the collection: the registry first, so a failure never leaves it listing deleted vectors."""
        records = self.catalog.documents()
        self.catalog.clear()
        for record in records:
            self._delete_vectors(record.meta.doc_id)
        self._delete_vector_ids(self._all_chroma_ids())

    def _delete_vectors(self, doc_id: str) -> None:
        try:
            self._chroma().delete(where={"doc_id": doc_id})
        except Exception as exc:
            raise _chroma_error(exc, f"deleting from Chroma at {self.location} failed") from exc

    def _delete_vector_ids(self, ids: Sequence[str]) -> None:
        try:
            for start in range(0, len(ids), 500):
                self._chroma().delete(ids=list(ids[start : start + 500]))
        except Exception as exc:
            raise _chroma_error(exc, f"deleting from Chroma at {self.location} failed") from exc

    # -- reading ------------------------------------------------------------------------------------

    def documents(self) -> list[DocumentRecord]:
        return self.catalog.documents()

    def document(self, doc_id: str) -> DocumentRecord | None:
        return self.catalog.document(doc_id)

    def stats(self) -> StoreStats:
        docs, chunks = self.catalog.counts()
        pending = sum(1 for r in self.catalog.documents() if r.state != "complete")
        return StoreStats(
            documents=docs, chunks=chunks, last_ingest=self.catalog.last_ingest(), location=self.location,
            pending=pending,
        )

    def index_notice(self) -> str | None:
        """A sentence for answers when the vector or the keyword index lacks chunks the registry lists, else None.

        Measured once per store generation (two counts and an FTS comparison), not on every question.
        """
        generation = self.catalog.generation()
        if self._health is not None and self._health[0] == generation:
            return self._health[1]
        _, chunks = self.catalog.counts()
        problems: list[str] = []
        if chunks:
            try:
                vectors = self._chroma().count()
            except Exception:
                vectors = -1
            if vectors < 0:
                problems.append("the vector index cannot be read")
            elif vectors == 0:
                problems.append("the vector index is missing")
            elif vectors < chunks:
                problems.append(f"the vector index lacks {chunks - vectors} of {chunks} passages")
            missing, _ = self.catalog.lexical_gaps()
            if missing:
                lacking = f"lacks {missing} of {chunks} passages" if missing < chunks else "is empty"
                problems.append(f"the keyword index {lacking}")
        notice = None
        if problems:
            notice = (
                f"Search is degraded: {' and '.join(problems)}, so this answer may miss passages; "
                "run `policyqa check --repair` to restore it."
            )
        self._health = (generation, notice)
        return notice

    def docs_missing_vectors(self) -> set[str]:
        """Documents with chunks that Chroma lacks (a deleted or damaged Chroma folder): they need embedding again."""
        _, chunks = self.catalog.counts()
        if not chunks or self._vector_count() >= chunks:
            return set()
        missing = self.catalog.chunk_ids() - set(self._all_chroma_ids())
        return {cid.rsplit(":", 1)[0] for cid in missing}

    def _vector_count(self) -> int:
        try:
            return self._chroma().count()
        except Exception as exc:
            raise _chroma_error(exc, f"reading Chroma at {self.location} failed") from exc

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
        """Compare the catalog file's integrity, registry, chunk texts, FTS index and Chroma.

        With ``repair``: the FTS index is rebuilt from the chunk texts; documents whose chunks or vectors are
        missing are marked pending and their source files returned in ``reingest`` (documents whose file is
        gone are removed); stray vectors are deleted, but only once the catalog passed SQLite's own check, so no
        vector is deleted on the word of a damaged registry. The caller ingests ``reingest`` again.
        """
        damage = self.catalog.damage()
        if damage is not None:
            # Nothing a damaged registry says is acted on; ingest.repair sets the file aside and re-ingests.
            return ConsistencyReport((), 0, 0, (), catalog_damage=damage)
        records = self.catalog.documents()
        pending = tuple(r.meta.doc_id for r in records if r.state != "complete")
        lexical_ids = self.catalog.chunk_ids()
        chroma_ids = set(self._all_chroma_ids())
        missing_fts, extra_fts = self.catalog.lexical_gaps()
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
            catalog_damage=damage,
            missing_in_lexical=missing_fts,
            extra_in_lexical=extra_fts,
        )
        if not repair or report.ok:
            return report
        if reason := unpaired_reason(self.settings):
            raise ConfigError(f"refusing to repair: {reason}")
        if missing_fts or extra_fts:
            self.catalog.rebuild_lexical_index()
        broken = set(pending) | set(mismatched) | {cid.rsplit(":", 1)[0] for cid in lexical_ids - chroma_ids}
        reingest: list[str] = []
        dropped: list[str] = []
        for record in records:
            if record.meta.doc_id not in broken:
                continue
            if Path(record.meta.source).is_file():
                self.catalog.mark_pending(record.meta)  # hidden from searches until its new write completes
                reingest.append(record.meta.source)
            else:
                self.remove(record.meta.doc_id)
                dropped.append(record.meta.doc_id)
        self._delete_vector_ids(sorted(set(self._all_chroma_ids()) - self.catalog.chunk_ids()))
        return dataclasses.replace(
            report, repaired=True, reingest=tuple(dict.fromkeys(reingest)), dropped_docs=tuple(dropped)
        )

    def vector_sources(self) -> list[str]:
        """The source files named in Chroma's metadata: what a lost registry listed (for vectors that carry it)."""
        sources: dict[str, None] = {}
        offset, page = 0, 5000
        while True:
            try:
                got = self._chroma().get(include=["metadatas"], limit=page, offset=offset)
            except Exception as exc:
                raise _chroma_error(exc, f"reading Chroma at {self.location} failed") from exc
            for metadata in got["metadatas"] or []:
                source = (metadata or {}).get("source")
                if isinstance(source, str):
                    sources[source] = None
            if len(got["ids"]) < page:
                return list(sources)
            offset += page

    def _all_chroma_ids(self) -> list[str]:
        ids: list[str] = []
        offset, page = 0, 5000
        while True:
            try:
                got = self._chroma().get(include=[], limit=page, offset=offset)["ids"]
            except Exception as exc:
                raise _chroma_error(exc, f"reading Chroma at {self.location} failed") from exc
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
        "source": meta.source,  # so a lost registry can be rebuilt from the files (check --repair)
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


def _chroma_error(exc: BaseException, doing: str) -> PolicyQAError:
    """One line for a failed Chroma call: a full disk or a read-only folder named as such."""
    return store_error(exc, f"the Chroma store ({doing})") or StoreUnavailable(f"{doing}: {str(exc)[:200]}")


def _finish_interrupted_swap(store_dir: Path) -> None:
    """A rebuild that died while swapping its new store in is completed before the store is opened."""
    if not (store_dir / files.REBUILD_DIR).exists():
        return
    try:
        with files.writer_lock(store_dir):
            files.finish_swap(store_dir)
    except PolicyQAError:
        pass  # the rebuilding process is alive (it holds the lock) or the folder cannot be written
