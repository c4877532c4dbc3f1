"""ingest_paths: files in, chunks embedded and stored; incremental, crash-safe, one outcome per file."""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import multiprocessing
import os
import time
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ingest.chunking import Chunker
from ingest.discover import discover
from ingest.loaders import PDF_SUFFIXES
from ingest.metadata import content_hash_of
from ingest.parsing import failure_message, load_file
from policyqa.errors import PolicyQAError, StoreDamaged, StoreFull, StoreReadOnly
from policyqa.store import CorpusStore, files, open_store
from policyqa.types import (
    Chunk,
    DocumentMeta,
    DocumentRecord,
    FileOutcome,
    IngestReport,
    LoadedDocument,
    Outcome,
    Progress,
    ProgressCallback,
)

if TYPE_CHECKING:
    from policyqa.embedding import TextEmbedder
    from policyqa.settings import Settings

log = logging.getLogger(__name__)

_BUFFER_CHUNKS = 256  # chunks gathered across small documents before one encode call


class _Batcher:
    """Embeds chunks of several documents per encode call; a large document is streamed in batches."""

    def __init__(self, store: CorpusStore, embedder: TextEmbedder, progress: _Reporter) -> None:
        self.store = store
        self.embedder = embedder
        self.progress = progress
        self.waiting: list[tuple[DocumentMeta, list[Chunk]]] = []
        self.failed: dict[str, str] = {}  # doc_id -> error, for documents queued before a failed write

    def add(self, meta: DocumentMeta, chunks: Iterable[Chunk]) -> int:
        """Queue or stream a document's chunks; returns how many there were."""
        batch: list[Chunk] = []
        streaming = False
        count = 0
        for chunk in chunks:
            batch.append(chunk)
            count += 1
            if len(batch) >= _BUFFER_CHUNKS:
                if not streaming:
                    self.flush()
                    self.store.begin_document(meta)
                    streaming = True
                self._write(meta, batch)
                batch = []
        if streaming:
            self._write(meta, batch)
            self.store.finish_document(meta.doc_id, count)
            return count
        self.waiting.append((meta, batch))
        if sum(len(c) for _, c in self.waiting) >= _BUFFER_CHUNKS:
            self.flush()
        return count

    def flush(self) -> None:
        waiting, self.waiting = self.waiting, []
        texts = [c.indexed_text for _, chunks in waiting for c in chunks]
        try:
            vectors = self.embedder.encode(texts) if texts else None
        except Exception as exc:
            log.exception("embedding failed")
            for meta, _ in waiting:
                self.failed[meta.doc_id] = f"{Path(meta.source).name}: embedding failed: {exc}"
            return
        begun: list[tuple[DocumentMeta, list[Chunk]]] = []
        rows: list[int] = []
        offset = 0
        try:
            for meta, chunks in waiting:
                try:
                    self.store.begin_document(meta)
                    begun.append((meta, chunks))
                    rows.extend(range(offset, offset + len(chunks)))
                except _STORE_FAULTS:
                    raise
                except PolicyQAError as exc:
                    self.failed[meta.doc_id] = f"{Path(meta.source).name}: {exc}"
                offset += len(chunks)
            try:
                # One write for all the queued documents: a store call per small document costs more than its embedding.
                if rows and vectors is not None:
                    self.store.add_documents(begun, vectors if len(rows) == len(vectors) else vectors[rows])
            except _STORE_FAULTS:
                raise
            except PolicyQAError as exc:
                for meta, _ in begun:
                    self.failed[meta.doc_id] = f"{Path(meta.source).name}: {exc}"
                begun = []
            for meta, chunks in begun:
                self.store.finish_document(meta.doc_id, len(chunks))
        except _STORE_FAULTS as exc:
            for meta, _ in waiting:  # left pending (or never begun): the next ingest writes them
                self.failed.setdefault(meta.doc_id, f"{Path(meta.source).name}: {exc}")
            raise
        self.progress.chunks(len(texts))

    def _write(self, meta: DocumentMeta, chunks: Sequence[Chunk]) -> None:
        if chunks:
            self.store.add_chunks(meta, chunks, self.embedder.encode([c.indexed_text for c in chunks]))
            self.progress.chunks(len(chunks))


class _Reporter:
    def __init__(self, callback: ProgressCallback | None, total_files: int) -> None:
        self.callback = callback
        self.total_files = total_files
        self.files_done = 0
        self.chunks_done = 0

    def file(self, item: str) -> None:
        self.files_done += 1
        if self.callback:
            self.callback(Progress("files", self.files_done, self.total_files, item))

    def chunks(self, n: int) -> None:
        self.chunks_done += n
        if self.callback and n:
            self.callback(Progress("chunks", self.chunks_done, 0))


def ingest_paths(
    paths: Iterable[str | Path],
    settings: Settings,
    *,
    store: CorpusStore | None = None,
    embedder: TextEmbedder | None = None,
    on_progress: ProgressCallback | None = None,
    prune: bool = False,
    rebuild: bool = False,
) -> IngestReport:
    """Ingest files and folders (recursively) into the store.

    Unchanged files are skipped before they are read; a changed file's chunks are replaced; a file that
    fails is reported and never stops the others. The model is loaded only when something needs embedding.

    Args:
        paths: files and folders.
        settings: store, model and limits.
        store: an open store (default: the one the settings name).
        embedder: the embedding model (default: the process-wide one for the settings).
        on_progress: receives ``Progress`` for files and for embedded chunks.
        prune: remove documents whose source file no longer exists.
        rebuild: build a new store from ``paths`` beside the old one and swap it in when complete (an embedded
            store holding only this collection); otherwise the collection is emptied first, registry before vectors.

    Raises:
        StoreUnavailable: the store cannot be opened (StoreDamaged: its catalog is corrupt; `--rebuild` and
        `check --repair` recover). StoreBusy: another ingest holds the writer lock. StoreReadOnly.
    """
    started = time.perf_counter()
    paths = list(paths)
    if (
        rebuild
        and settings.chroma_url is None
        and (store is None or store.swappable)
        and not files.other_collections(settings.store_dir, settings.collection)  # a swap would drop them
    ):
        return _rebuild_beside(
            paths, settings, store=store, embedder=embedder, on_progress=on_progress, started=started
        )
    found = discover(paths)
    outcomes: list[FileOutcome] = [FileOutcome(p, Outcome.FAILED, message=f"{p}: no such file or folder") for p in found.missing]
    outcomes += [FileOutcome(p, Outcome.SKIPPED, message=f"{Path(p).name}: {reason}") for p, reason in found.skipped]
    own_store = store is None
    store = store or open_store(settings)
    reporter = _Reporter(on_progress, len(found.files))
    try:
        with store.writer_lock():
            if rebuild:
                store.clear()
            worker = _Worker(settings, store, embedder, reporter, stale=store.docs_missing_vectors())
            try:
                for outcome in worker.ingest_files(found.files):
                    outcomes.append(outcome)
                    reporter.file(Path(outcome.path).name)
                failed = worker.finish()
            except _STORE_FAULTS as exc:
                # Every further file would fail the same way: stop, and say which files were not reached.
                done = {o.path for o in outcomes}
                left = [str(p) for p in found.files if str(p) not in done]
                failed = {**worker.failures(), **{d: f"not stored ({exc})" for d in worker.queued_doc_ids()}}
                outcomes += [
                    FileOutcome(p, Outcome.FAILED, message=f"{Path(p).name}: not ingested ({exc})") for p in left
                ]
            outcomes = [
                dataclasses.replace(o, outcome=Outcome.FAILED, chunks=0, message=failed[o.doc_id])
                if o.doc_id in failed and o.outcome in (Outcome.ADDED, Outcome.UPDATED)
                else o
                for o in outcomes
            ]
            if prune:
                # A shared catalog also lists other hosts' files, which are missing here but not gone.
                outcomes += _prune(store, within=paths if settings.database_url else None)
    finally:
        if own_store:
            store.close()
    return IngestReport(files=tuple(outcomes), seconds=time.perf_counter() - started)


# Faults of the store rather than of a file: the ingest stops at the first one instead of failing every file.
_STORE_FAULTS = (StoreFull, StoreDamaged, StoreReadOnly)


def _rebuild_beside(
    paths: Iterable[str | Path],
    settings: Settings,
    *,
    store: CorpusStore | None,
    embedder: TextEmbedder | None,
    on_progress: ProgressCallback | None,
    started: float,
) -> IngestReport:
    """Ingest ``paths`` into a new store in the store folder's ``.rebuild`` folder, then swap it in.

    The old store is neither opened nor changed until the new one is complete, so a rebuild that fails or is
    killed leaves it as it was (and works when its catalog is damaged). ``store``, when given, is reopened on
    the new files.
    """
    paths = [Path(p).resolve() for p in paths]  # made absolute before anything moves
    with files.writer_lock(settings.store_dir):
        folder = files.prepare_rebuild(settings.store_dir)
        new_settings = settings.with_overrides(
            store_dir=folder, model_cache_dir=settings.model_cache_dir or settings.store_dir / "models"
        )
        new_store = open_store(new_settings)
        try:
            report = ingest_paths(paths, new_settings, store=new_store, embedder=embedder, on_progress=on_progress)
        finally:
            new_store.close()
        (folder / "writer.lock").unlink(missing_ok=True)
        if store is not None:
            store.close_files()
        try:
            files.swap_in(settings.store_dir)
        finally:
            if store is not None:
                store.reload()
    return dataclasses.replace(report, seconds=time.perf_counter() - started)


class _Worker:
    def __init__(
        self,
        settings: Settings,
        store: CorpusStore,
        embedder: TextEmbedder | None,
        reporter: _Reporter,
        *,
        stale: set[str] | frozenset[str] = frozenset(),
    ) -> None:
        self.settings = settings
        self.stale = stale  # documents stored whole in the registry whose vectors are missing: embed them again
        self.store = store
        self._embedder = embedder
        self.reporter = reporter
        self._batcher: _Batcher | None = None
        self._chunker: Chunker | None = None
        self._queued: list[FileOutcome] = []
        self._claimed: dict[str, str] = {}  # doc_id -> source, for documents of this run not yet written

    @property
    def batcher(self) -> _Batcher:
        if self._batcher is None:
            if self._embedder is None:
                from policyqa.embedding import load_embedder

                self._embedder = load_embedder(self.settings)
            self._batcher = _Batcher(self.store, self._embedder, self.reporter)
            self._chunker = Chunker(
                self._embedder.count_tokens,
                max_tokens=self._embedder.max_tokens,
                chunk_tokens=self.settings.chunk_tokens,
                overlap_tokens=self.settings.chunk_overlap_tokens,
            )
        return self._batcher

    def ingest_files(self, paths: Sequence[Path]) -> Iterator[FileOutcome]:
        """One outcome per path, in order. Files are parsed ahead in worker processes when that can pay."""
        loader = _Loader(self.settings, paths)
        with loader:
            for item in loader.results(self._prepare(path) for path in paths):
                if isinstance(item, FileOutcome):
                    yield item
                else:
                    job, loaded = item
                    yield self._store_document(job, loaded)

    def _prepare(self, path: Path) -> _Job | FileOutcome:
        """Checks made before a file is read: its size, and whether its content changed since the last ingest."""
        source = str(path)
        try:
            size_mb = path.stat().st_size / 1_048_576
            if size_mb > self.settings.max_file_mb:
                raise PolicyQAError(
                    f"{path.name}: {size_mb:.0f} MB is over the {self.settings.max_file_mb:g} MB limit "
                    "(POLICYQA_MAX_FILE_MB)"
                )
            content_hash = content_hash_of(path)
            previous = self.store.catalog.documents_by_source(source)
            if (
                previous
                and previous[0].meta.content_hash == content_hash
                and previous[0].state == "complete"
                and previous[0].meta.doc_id not in self.stale
            ):
                return FileOutcome(source, Outcome.UNCHANGED, previous[0].meta.doc_id, previous[0].chunk_count)
            return _Job(path, content_hash, tuple(previous))
        except _STORE_FAULTS:
            raise
        except Exception as exc:
            return FileOutcome(source, Outcome.FAILED, message=failure_message(path, exc))

    def _store_document(self, job: _Job, loaded: LoadedDocument | str) -> FileOutcome:
        path, source, previous = job.path, str(job.path), job.previous
        if isinstance(loaded, str):
            return FileOutcome(source, Outcome.FAILED, message=loaded)
        doc = loaded
        try:
            if not doc.sections or not doc.text.strip():
                reason = "; ".join(doc.warnings) or "no text"
                message = reason if reason.startswith(path.name) else f"{path.name}: {reason}"
                return FileOutcome(source, Outcome.SKIPPED, message=message)
            doc = self._unique_id(doc)
            batcher = self.batcher
            assert self._chunker is not None
            count = batcher.add(doc.meta, self._chunker.chunk_document(doc))
            for old in previous:
                if old.meta.doc_id != doc.meta.doc_id:
                    self.store.remove(old.meta.doc_id)
            outcome = Outcome.UPDATED if previous else Outcome.ADDED
            return FileOutcome(source, outcome, doc.meta.doc_id, count, "; ".join(doc.warnings))
        except _STORE_FAULTS:
            raise
        except Exception as exc:
            return FileOutcome(source, Outcome.FAILED, message=failure_message(path, exc))

    def _unique_id(self, doc: LoadedDocument) -> LoadedDocument:
        """Two files with the same name in different folders must not overwrite each other."""
        # The registry alone is not enough: a same-named file earlier in this run may still be queued.
        owner = self._claimed.get(doc.meta.doc_id)
        if owner is None:
            existing = self.store.document(doc.meta.doc_id)
            owner = existing.meta.source if existing is not None else None
        if owner is not None and owner != doc.meta.source:
            suffix = hashlib.sha1(doc.meta.source.encode()).hexdigest()[:6]
            doc = dataclasses.replace(doc, meta=dataclasses.replace(doc.meta, doc_id=f"{doc.meta.doc_id}-{suffix}"))
        self._claimed[doc.meta.doc_id] = doc.meta.source
        return doc

    def failures(self) -> dict[str, str]:
        return dict(self._batcher.failed) if self._batcher is not None else {}

    def queued_doc_ids(self) -> list[str]:
        """Documents handed to the batcher and not yet written (all of them fail when the store does)."""
        return [meta.doc_id for meta, _ in self._batcher.waiting] if self._batcher is not None else []

    def finish(self) -> dict[str, str]:
        """Write what is still queued; returns the documents whose queued write failed."""
        if self._batcher is None:
            return {}
        self._batcher.flush()
        return self._batcher.failed


@dataclass(frozen=True, slots=True)
class _Job:
    """A file that passed the checks made before reading it, and the registry rows it replaces."""

    path: Path
    content_hash: str
    previous: tuple[DocumentRecord, ...]


class _Loader:
    """Reads the prepared files in order: inline, or in a pool of parse workers that runs ahead of embedding.

    At most ``workers`` files are in flight (submitted and not yet taken), so memory stays bounded however
    many files are given; results are taken in submission order, so parallel and serial ingests store
    exactly the same chunks under the same ids.
    """

    def __init__(self, settings: Settings, paths: Sequence[Path]) -> None:
        self.settings = settings
        self.workers = parse_workers(settings, paths)
        self._pool: ProcessPoolExecutor | None = None
        self._broken = False

    def __enter__(self) -> _Loader:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def _load(self, job: _Job) -> LoadedDocument | str:
        """Read a file in this process: the same function a parse worker runs."""
        return load_file(job.path, job.content_hash, self.settings.max_pdf_pages, self.settings.pdf_engine)

    def results(
        self, prepared: Iterable[_Job | FileOutcome]
    ) -> Iterator[FileOutcome | tuple[_Job, LoadedDocument | str]]:
        if self.workers <= 1:
            for item in prepared:
                yield item if isinstance(item, FileOutcome) else (item, self._load(item))
            return
        self._pool = ProcessPoolExecutor(max_workers=self.workers, mp_context=multiprocessing.get_context("spawn"))
        window: deque[FileOutcome | tuple[_Job, Future[LoadedDocument | str] | None]] = deque()
        in_flight = 0
        for item in prepared:
            if isinstance(item, FileOutcome):
                window.append(item)
            else:
                window.append((item, self._submit(item)))
                in_flight += 1
            while in_flight >= self.workers or (window and isinstance(window[0], FileOutcome)):
                head = window.popleft()
                if isinstance(head, FileOutcome):
                    yield head
                else:
                    in_flight -= 1
                    yield head[0], self._collect(head[0], head[1])
        while window:
            head = window.popleft()
            yield head if isinstance(head, FileOutcome) else (head[0], self._collect(head[0], head[1]))

    def _submit(self, job: _Job) -> Future[LoadedDocument | str] | None:
        """The file handed to a worker, or None when the pool is broken (the file is then read here)."""
        if self._pool is None or self._broken:
            return None
        try:
            return self._pool.submit(
                load_file, job.path, job.content_hash, self.settings.max_pdf_pages, self.settings.pdf_engine
            )
        except BrokenProcessPool as exc:
            self._pool_failed(exc)
            return None

    def _collect(self, job: _Job, future: Future[LoadedDocument | str] | None) -> LoadedDocument | str:
        if future is None:
            return self._load(job)
        try:
            return future.result()
        except Exception as exc:  # the worker died (killed, out of memory, could not start): read the file here
            if isinstance(exc, BrokenProcessPool):
                self._pool_failed(exc)
            log.warning("parse worker failed on %s (%r); reading it in this process", job.path, exc)
            return self._load(job)

    def _pool_failed(self, exc: BaseException) -> None:
        if not self._broken:
            # SEE: https://docs.python.org/3/library/multiprocessing.html#the-spawn-and-forkserver-start-methods
            # a script that ingests must guard its top level with `if __name__ == "__main__":`.
            log.warning("parse workers unavailable (%r); parsing in this process from now on", exc)
        self._broken = True


def parse_workers(settings: Settings, paths: Sequence[Path]) -> int:
    """Processes to parse with: ``settings.parse_workers`` (0 = one per core), and 1 unless ``paths`` hold two PDFs.

    Other formats parse in milliseconds; starting worker processes only pays for PDFs. Files found unchanged are
    counted too (they are known only as the ingest goes); a pool costs nothing until a file is handed to it.
    """
    pdfs = sum(1 for p in paths if p.suffix.lower() in PDF_SUFFIXES)
    wanted = settings.parse_workers or os.cpu_count() or 1
    return max(1, min(wanted, pdfs)) if pdfs >= 2 else 1


def _prune(store: CorpusStore, *, within: Sequence[str | Path] | None = None) -> list[FileOutcome]:
    """Remove documents whose source file is gone; with ``within``, only those whose source lies under those paths."""
    roots = None if within is None else [Path(p).resolve() for p in within]
    removed: list[FileOutcome] = []
    for record in store.documents():
        source = Path(record.meta.source)
        if roots is not None and not any(source.resolve().is_relative_to(r) for r in roots):
            continue
        if not source.exists():
            store.remove(record.meta.doc_id)
            removed.append(FileOutcome(record.meta.source, Outcome.REMOVED, record.meta.doc_id, record.chunk_count))
    return removed
