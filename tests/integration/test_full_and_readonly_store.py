"""A full disk and a read-only store: a report instead of a traceback, and the documents stored before kept."""

from __future__ import annotations

import errno
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from ingest.pipeline import ingest_paths
from policyqa_cli import main
from policyqa.settings import Settings
from policyqa.store import CorpusStore, open_store
from policyqa.store.chroma import make_client, open_collection
from policyqa.types import Outcome
from tests.conftest import ROOT
from tests.fakes import FakeEmbedder
from tests.integration.consistency import assert_consistent
from tests.integration.test_reliability import question_for, write_region_docs

COLLECTION = "full"


@pytest.fixture
def fsettings(tmp_path: Path) -> Settings:
    return Settings(store_dir=tmp_path / "store", collection=COLLECTION)


def ingest_first(tmp_path: Path, settings: Settings) -> None:
    write_region_docs(tmp_path / "docs", 5)
    assert ingest_paths([tmp_path / "docs"], settings, embedder=FakeEmbedder()).ok


def assert_first_documents_kept(store: CorpusStore) -> None:
    for i in range(5):
        hits = store.lexical_search(f"ZQ{i:04d}X", 1)
        assert hits and hits[0][0].startswith(f"region-{i:03d}"), f"region {i} lost after the failed ingest: {hits}"


def assert_full_disk_report(report: Any) -> None:
    assert not report.ok, "a full disk must fail the ingest"
    failed = [f for f in report.files if f.outcome is Outcome.FAILED]
    assert failed and all("full" in (f.message or "") for f in failed), [f.message for f in failed][:3]
    assert all("\n" not in (f.message or "") and "Traceback" not in (f.message or "") for f in failed)


def test_sqlite_disk_full_during_ingest_gives_a_report_and_the_stored_documents_survive(
    tmp_path: Path, fsettings: Settings
) -> None:
    ingest_first(tmp_path, fsettings)
    write_region_docs(tmp_path / "more", 60, start=100)
    store = open_store(fsettings)
    try:
        # SQLite's own limit on the file's pages: the real "database or disk is full" error, without filling a disk.
        pages = store.catalog._db.execute("PRAGMA page_count").fetchone()[0]
        store.catalog._db.execute(f"PRAGMA max_page_count = {pages + 2}")

        report = ingest_paths([tmp_path / "more"], fsettings, store=store, embedder=FakeEmbedder())

        assert_full_disk_report(report)
        assert_first_documents_kept(store)
        store.catalog._db.execute("PRAGMA max_page_count = 1073741823")  # space freed
        again = ingest_paths([tmp_path / "more"], fsettings, store=store, embedder=FakeEmbedder())
        assert again.ok, again.summary()
        assert_consistent(store, fsettings)
    finally:
        store.close()


class _FullDiskCollection:
    """A real Chroma collection whose writes fail as on a full disk, after ``writes`` good ones."""

    def __init__(self, collection: Any, writes: int) -> None:
        self._collection = collection
        self.writes = writes

    def upsert(self, **kwargs: Any) -> None:
        self.writes -= 1
        if self.writes < 0:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        self._collection.upsert(**kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._collection, name)


def test_no_space_left_writing_vectors_gives_a_report_and_the_stored_documents_survive(
    tmp_path: Path, fsettings: Settings
) -> None:
    ingest_first(tmp_path, fsettings)
    write_region_docs(tmp_path / "more", 300, start=100)
    client = make_client(fsettings)
    full = _FullDiskCollection(open_collection(client, COLLECTION), writes=1)
    store = CorpusStore(fsettings, collection=full)  # type: ignore[arg-type]
    try:
        report = ingest_paths([tmp_path / "more"], fsettings, store=store, embedder=FakeEmbedder())

        assert_full_disk_report(report)
        assert_first_documents_kept(store)
        report_line = [f.message for f in report.files if f.outcome is Outcome.FAILED][0]
        assert "No space left on device" in (report_line or ""), report_line
    finally:
        store.close()
        client.close()
    store = open_store(fsettings)
    try:
        assert ingest_paths([tmp_path / "more"], fsettings, store=store, embedder=FakeEmbedder()).ok
        assert_consistent(store, fsettings)
    finally:
        store.close()


def test_cli_ingest_when_the_disk_fills_prints_a_report_without_a_traceback(
    tmp_path: Path, fsettings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    from policyqa.store.catalog import Catalog

    ingest_first(tmp_path, fsettings)
    write_region_docs(tmp_path / "more", 40, start=100)
    opened = Catalog.__init__

    def nearly_full(self: Catalog, *args: Any, **kwargs: Any) -> None:
        opened(self, *args, **kwargs)
        pages = self._db.execute("PRAGMA page_count").fetchone()[0]
        self._db.execute(f"PRAGMA max_page_count = {pages + 2}")  # SQLite then reports "database or disk is full"

    monkeypatch.setattr(Catalog, "__init__", nearly_full)
    monkeypatch.setattr("policyqa.embedding.load_embedder", lambda settings: FakeEmbedder())
    args = ["--store-dir", str(fsettings.store_dir), "--collection", COLLECTION, "ingest", "-q", str(tmp_path / "more")]
    result = CliRunner().invoke(main, args)

    assert result.exit_code == 1 and isinstance(result.exception, SystemExit), f"{result.output} {result.exception!r}"
    assert "is full" in result.output and "Traceback" not in result.output, result.output
    assert "added" in result.output and "failed" in result.output, f"the summary line must be printed: {result.output}"


def _read_only_mount_works(tmp_path: Path) -> bool:
    if shutil.which("unshare") is None:
        return False
    script = f"mount --bind {tmp_path} {tmp_path} && mount -o remount,ro,bind {tmp_path} {tmp_path}"
    probe = subprocess.run(["unshare", "--mount", "sh", "-c", script], capture_output=True)
    return probe.returncode == 0


def run_on_read_only_mount(store: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """The CLI (fake model) in a mount namespace where the store folder is a read-only bind mount."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1"}
    cli = [sys.executable, "-m", "tests.integration.cli_driver", "--store-dir", str(store), "--collection", COLLECTION]
    cli += args
    script = f'mount --bind "{store}" "{store}" && mount -o remount,ro,bind "{store}" "{store}" && exec "$@"'
    return subprocess.run(
        ["unshare", "--mount", "sh", "-c", script, "sh", *cli],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )


def test_a_read_only_store_answers_docs_and_ask_and_refuses_ingest_in_one_line(
    tmp_path: Path, fsettings: Settings
) -> None:
    if not _read_only_mount_works(tmp_path):
        pytest.skip("needs unshare and bind mounts (root in a container that allows them) for a real read-only mount")
    ingest_first(tmp_path, fsettings)
    before = sorted(p.name for p in fsettings.store_dir.rglob("*"))

    docs = run_on_read_only_mount(fsettings.store_dir, "docs")
    ask = run_on_read_only_mount(fsettings.store_dir, "ask", question_for(3))
    ingest = run_on_read_only_mount(fsettings.store_dir, "ingest", "-q", str(tmp_path / "docs"))

    assert docs.returncode == 0 and "5 documents" in docs.stdout, docs.stdout + docs.stderr
    assert ask.returncode == 0 and "1021 tonnes" in ask.stdout, ask.stdout + ask.stderr
    assert "degraded" not in ask.stdout, ask.stdout
    assert ingest.returncode == 1 and "read-only" in ingest.stderr and "Traceback" not in ingest.stderr, ingest.stderr
    assert sorted(p.name for p in fsettings.store_dir.rglob("*")) == before, "nothing may be written to the store"
