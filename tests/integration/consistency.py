"""Assertions that the registry, the lexical index and Chroma hold the same chunks, once each."""

from __future__ import annotations

from policyqa.settings import Settings
from policyqa.store import CorpusStore
from policyqa.store.chroma import make_client, open_collection


def chroma_count(settings: Settings) -> int:
    """Vectors in the settings' collection, read through a client of our own rather than the store's."""
    client = make_client(settings)
    try:
        return open_collection(client, settings.collection).count()
    finally:
        client.close()  # a client left open would keep the store's own client from reopening (see CorpusStore)


def assert_consistent(store: CorpusStore, settings: Settings) -> int:
    """Chroma count == lexical chunk count == sum of registry chunk counts, every document complete.

    Returns:
        The number of chunks stored.
    """
    records = store.documents()
    pending = [r.meta.doc_id for r in records if r.state != "complete"]
    assert not pending, f"documents left pending: {pending}"
    registry = sum(r.chunk_count for r in records)
    lexical = len(store.catalog.chunk_ids())
    vectors = chroma_count(settings)
    assert vectors == lexical == registry, (
        f"chunk counts disagree (duplicates or leftovers): chroma={vectors}, lexical={lexical}, registry={registry}"
    )
    report = store.check()
    assert report.ok, f"store.check() found problems: {report}"
    return registry
