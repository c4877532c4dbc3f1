"""Re-index every stored document from its source file, from scratch."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ingest.pipeline import ingest_paths
from policyqa.types import IngestReport, ProgressCallback

if TYPE_CHECKING:
    from policyqa.embedding import TextEmbedder
    from policyqa.settings import Settings
    from policyqa.store import CorpusStore


def reindex_all(
    settings: Settings,
    *,
    store: CorpusStore,
    embedder: TextEmbedder | None = None,
    on_progress: ProgressCallback | None = None,
) -> IngestReport:
    """Empty the collection and ingest again every document whose source file still exists."""
    sources = [record.meta.source for record in store.documents()]
    return ingest_paths(sources, settings, store=store, embedder=embedder, on_progress=on_progress, rebuild=True)
