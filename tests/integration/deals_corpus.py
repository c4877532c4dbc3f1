"""The starter corpus as the deal tracker's tests read it: ingested with the fake embedder (extraction reads text)."""

from __future__ import annotations

from pathlib import Path

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
