"""The starter corpus as the deal tracker's tests read it: ingested with the fake embedder (extraction reads text)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from assistant.deals import Deal, extract_deals
from ingest.pipeline import ingest_paths
from policyqa.settings import Settings
from policyqa.store import CorpusStore, open_store
from tests.fakes import FakeEmbedder

ROOT = Path(__file__).resolve().parents[2]
CORPUS = ROOT / "corpus"
EXPECTED = ROOT / "tests" / "eval" / "deals_expected.yaml"


def ingest_with_fake_model(settings: Settings, *paths: Path) -> CorpusStore:
    """A store holding ``paths`` (the starter corpus if none), every file ingested."""
    store = open_store(settings)
    report = ingest_paths(list(paths or (CORPUS,)), settings, store=store, embedder=FakeEmbedder(max_tokens=256))
    assert report.ok, f"ingest failed: {[f.message for f in report.files if f.message]}"
    return store


# Module-scoped fixtures: a test module importing them gets its own store.


@pytest.fixture(scope="module")
def corpus_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return Settings(store_dir=tmp_path_factory.mktemp("deals") / "store", collection="deals-corpus", chroma_url=None)


@pytest.fixture(scope="module")
def corpus_store(corpus_settings: Settings) -> Iterator[CorpusStore]:
    store = ingest_with_fake_model(corpus_settings, CORPUS)
    yield store
    store.close()


@pytest.fixture(scope="module")
def offline_deals(corpus_store: CorpusStore) -> list[Deal]:
    """The deals the offline patterns read from the starter corpus."""
    return extract_deals(corpus_store)
