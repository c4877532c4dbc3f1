"""Symbolic links never bring in a file from outside the folder given (folder ingests and uploads)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from ingest.pipeline import ingest_paths
from ingest.uploads import save_upload
from policyqa_cli import main
from policyqa.settings import Settings
from policyqa.store import open_store
from policyqa.types import Outcome
from tests.fakes import FakeEmbedder

SECRET = "The vault combination is 31-41-59."


@pytest.fixture
def planted(tmp_path: Path) -> Path:
    """``data/`` with one document, a link to a file outside it and a link to a folder outside it."""
    outside = tmp_path / "outside"
    (outside / "more").mkdir(parents=True)
    (outside / "secret.txt").write_text(SECRET)
    (outside / "more" / "secret2.md").write_text(SECRET)
    data = tmp_path / "data"
    data.mkdir()
    (data / "quota.md").write_text("# Quota\n\nThe authority set a lithium quota of 1,234 tonnes.\n")
    os.symlink("../outside/secret.txt", data / "link.txt")
    os.symlink(outside / "more", data / "more")
    (data / "inside.txt").symlink_to(data / "quota.md")  # a link that stays inside is fine
    return data


def stored_text(settings: Settings) -> str:
    store = open_store(settings)
    try:
        chunks = store.get_chunks(sorted(store.catalog.chunk_ids()))
        return " ".join(c.text for c in chunks.values())
    finally:
        store.close()


def test_folder_ingest_skips_and_reports_links_that_lead_outside(planted: Path, settings: Settings) -> None:
    report = ingest_paths([planted], settings, embedder=FakeEmbedder())

    skipped = {Path(f.path).name: f.message for f in report.files if f.outcome is Outcome.SKIPPED}
    assert "link.txt" in skipped and "outside" in skipped["link.txt"], f"link.txt not reported: {report.files}"
    assert "more" in skipped and "not followed" in skipped["more"], f"the linked folder not reported: {report.files}"
    assert "31-41-59" not in stored_text(settings), "a file from outside the folder was stored"
    assert "1,234" in stored_text(settings), "the document inside the folder must be stored"


def test_cli_ingest_prints_the_skipped_link(planted: Path, settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("policyqa.embedding.load_embedder", lambda s: FakeEmbedder())

    result = CliRunner().invoke(main, ["--store-dir", str(settings.store_dir), "ingest", "-q", str(planted)])

    assert result.exit_code == 0, result.output
    assert any("link.txt" in line and line.startswith("skipped") for line in result.output.splitlines()), result.output


def test_an_upload_with_a_planted_sidecar_link_does_not_read_the_linked_file(
    tmp_path: Path, settings: Settings
) -> None:
    uploads = settings.uploads_dir
    uploads.mkdir(parents=True)
    secret = tmp_path / "secret.yaml"
    secret.write_text(f"title: {SECRET}\n")
    os.symlink(secret, uploads / "note.md.meta.yaml")

    saved = save_upload("note.md", b"# Note\n\nA short uploaded note about quotas.\n", uploads, max_mb=1)
    report = ingest_paths([saved], settings, embedder=FakeEmbedder())

    (outcome,) = report.files
    assert outcome.outcome is Outcome.FAILED and "note.md.meta.yaml" in (outcome.message or ""), outcome
    assert "not followed" in (outcome.message or ""), outcome
    store = open_store(settings)
    try:
        assert all("31-41-59" not in r.meta.title for r in store.documents()), "the linked sidecar was read"
    finally:
        store.close()
