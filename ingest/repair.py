"""`policyqa check --repair`: back to a consistent store from what survives, re-ingesting from the source files."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ingest.pipeline import ingest_paths
from policyqa.errors import StoreDamaged
from policyqa.store import CorpusStore, files, open_store
from policyqa.store.corpus import ConsistencyReport
from policyqa.types import IngestReport, ProgressCallback

if TYPE_CHECKING:
    from policyqa.embedding import TextEmbedder
    from policyqa.settings import Settings


@dataclass(frozen=True, slots=True)
class RepairResult:
    found: ConsistencyReport  # what was wrong before the repair
    catalog_set_aside: Path | None  # where a damaged catalog was moved (kept, never deleted)
    reingest: tuple[str, ...]  # source files ingested again
    ingest: IngestReport | None
    final: ConsistencyReport  # the store after the repair
    lost_sources: tuple[str, ...]  # source files the damaged registry or the vectors named that no longer exist


def diagnose(settings: Settings) -> ConsistencyReport:
    """``check`` without repair; a catalog too damaged to open is reported, not raised."""
    try:
        store = open_store(settings)
    except StoreDamaged as exc:
        return _damaged_report(str(exc))
    try:
        return store.check()
    except StoreDamaged as exc:
        return _damaged_report(str(exc))
    finally:
        store.close()


def repair_store(
    settings: Settings, *, embedder: TextEmbedder | None = None, on_progress: ProgressCallback | None = None
) -> RepairResult:
    """Repair the store of ``settings``.

    A damaged catalog is renamed aside and a new one is filled by ingesting again every source file the old
    one still lists or Chroma's metadata names; documents whose vectors, chunks or writes are incomplete are
    ingested again from their files; the FTS index is rebuilt from the chunk texts; and only then, with a
    registry that passed SQLite's own check, are vectors that no document lists deleted.
    """
    aside: Path | None = None
    lost: list[str] = []
    store = _open_or_none(settings)
    found = store.check() if store is not None else _damaged_report("the catalog cannot be opened")
    try:
        if found.catalog_damage is not None:
            if store is not None:
                store.close()
            with files.writer_lock(settings.store_dir):
                sources = files.salvage_sources(settings.sqlite_path, settings.collection)
                aside = files.set_aside(settings.sqlite_path)
            store = open_store(settings)
            sources = list(dict.fromkeys([*sources, *store.vector_sources()]))
        else:
            assert store is not None
            with store.writer_lock():
                sources = list(store.check(repair=True).reingest)
        lost = [s for s in sources if not Path(s).is_file()]
        reingest = tuple(s for s in sources if Path(s).is_file())
        report = None
        if reingest:
            report = ingest_paths(reingest, settings, store=store, embedder=embedder, on_progress=on_progress)
        with store.writer_lock():
            store.check(repair=True)  # the registry is whole again: stray vectors can go now
            final = store.check()
    finally:
        if store is not None:
            store.close()
    return RepairResult(
        found=found, catalog_set_aside=aside, reingest=reingest, ingest=report, final=final, lost_sources=tuple(lost)
    )


def _open_or_none(settings: Settings) -> CorpusStore | None:
    try:
        return open_store(settings)
    except StoreDamaged:
        return None


def _damaged_report(reason: str) -> ConsistencyReport:
    return ConsistencyReport(
        pending_docs=(), missing_in_chroma=0, extra_in_chroma=0, count_mismatch_docs=(), catalog_damage=reason
    )
