"""Damaged stores: a corrupt or truncated catalog, a deleted Chroma folder, an emptied keyword index, a rebuild
that dies half-way. Every command says what is wrong in one line, and `check --repair` or `--rebuild` gets back."""

from __future__ import annotations

import random
import shutil
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from ingest.pipeline import ingest_paths
from policyqa_cli import main
from policyqa.settings import Settings
from policyqa.store import open_store
from tests.fakes import FakeEmbedder
from tests.integration.consistency import assert_consistent, chroma_count
from tests.integration.test_reliability import question_for, write_region_docs

DOCS = 40
COLLECTION = "damaged"


@pytest.fixture
def dsettings(tmp_path: Path) -> Settings:
    return Settings(store_dir=tmp_path / "store", collection=COLLECTION)


@pytest.fixture
def cli(tmp_path: Path, dsettings: Settings, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    """A store holding DOCS region documents, ingested with the fake model (which every later command uses)."""
    monkeypatch.setattr("policyqa.embedding.load_embedder", lambda settings: FakeEmbedder())
    write_region_docs(tmp_path / "docs", DOCS)
    runner = CliRunner()
    assert run(runner, dsettings, "ingest", "-q", str(tmp_path / "docs")).exit_code == 0
    assert not Path(f"{dsettings.sqlite_path}-wal").exists(), "the catalog should be checkpointed when closed"
    return runner


def run(runner: CliRunner, settings: Settings, *args: str) -> Result:
    return runner.invoke(main, ["--store-dir", str(settings.store_dir), "--collection", settings.collection, *args])


def damage_middle(path: Path) -> None:
    """8 KiB of random bytes written into the middle of the file (the issue's reproduction)."""
    size = path.stat().st_size
    with path.open("r+b") as f:
        f.seek(size // 2 - 4096)
        f.write(random.Random(15).randbytes(8192))


def truncate_half(path: Path) -> None:
    with path.open("r+b") as f:
        f.truncate(path.stat().st_size // 2)


def assert_one_clean_line(result: Result, *, command: str) -> None:
    assert result.exit_code == 1, f"{command} should fail: {result.output}"
    assert "Traceback" not in result.output and result.exception is None or isinstance(result.exception, SystemExit), (
        f"{command} raised: {result.exception!r}"
    )
    assert "damaged" in result.output and "check --repair" in result.output, f"{command}: {result.output}"


def assert_whole(settings: Settings) -> None:
    store = open_store(settings)
    try:
        assert len(store.documents()) == DOCS, f"{len(store.documents())} of {DOCS} documents after recovery"
        assert_consistent(store, settings)
        region_7 = {cid.rsplit(":", 1)[0][:10] for cid, _ in store.lexical_search("ZQ0007X", 3)}
        assert region_7 == {"region-007"}, f"the keyword index does not find region 7: {region_7}"
    finally:
        store.close()


@pytest.mark.parametrize("damage", [truncate_half, damage_middle], ids=["truncated", "random-bytes-in-middle"])
def test_every_command_on_a_damaged_catalog_says_so_in_one_line_and_repair_restores_every_document(
    cli: CliRunner, dsettings: Settings, damage: object
) -> None:
    damage(dsettings.sqlite_path)  # type: ignore[operator]

    docs = str(dsettings.store_dir.parent / "docs")
    for args in (["docs"], ["ask", question_for(3)], ["check"], ["ingest", "-q", docs]):
        assert_one_clean_line(run(cli, dsettings, *args), command=args[0])
    repaired = run(cli, dsettings, "check", "--repair", "-q")
    after = run(cli, dsettings, "check")
    answer = run(cli, dsettings, "ask", question_for(3))

    assert repaired.exit_code == 0, repaired.output
    assert "damaged catalog kept as" in repaired.output, repaired.output
    assert "repaired: store is consistent" in repaired.output, repaired.output
    assert list(dsettings.store_dir.glob("policyqa.sqlite3.damaged-*")), "the damaged catalog must be kept"
    assert after.exit_code == 0 and "store is consistent" in after.output, after.output
    assert "1021 tonnes" in answer.output, f"the answer after repair: {answer.output}"
    assert_whole(dsettings)


@pytest.mark.parametrize("damage", [truncate_half, damage_middle], ids=["truncated", "random-bytes-in-middle"])
def test_ingest_rebuild_on_a_damaged_catalog_rebuilds_a_whole_store(
    cli: CliRunner, dsettings: Settings, damage: object
) -> None:
    damage(dsettings.sqlite_path)  # type: ignore[operator]

    rebuilt = run(cli, dsettings, "ingest", "--rebuild", "-q", str(dsettings.store_dir.parent / "docs"))

    assert rebuilt.exit_code == 0, f"{rebuilt.output} {rebuilt.exception!r}"
    assert f"{DOCS} added" in rebuilt.output, rebuilt.output
    assert not (dsettings.store_dir / ".rebuild").exists(), "the rebuild folder must be swapped in and gone"
    assert_whole(dsettings)


class _DiesAfter(FakeEmbedder):
    """Embeds ``calls`` batches, then dies as a killed process would (no exception handler runs its course)."""

    def __init__(self, calls: int) -> None:
        super().__init__()
        self.calls = calls

    def encode(self, texts: list[str]):  # type: ignore[no-untyped-def]
        self.calls -= 1
        if self.calls < 0:
            raise KeyboardInterrupt
        return super().encode(texts)


def test_a_rebuild_that_dies_half_way_leaves_the_old_store_as_it_was(cli: CliRunner, dsettings: Settings) -> None:
    docs = dsettings.store_dir.parent / "docs"
    write_region_docs(docs, 300, start=DOCS)  # enough for several encode calls
    with pytest.raises(KeyboardInterrupt):
        ingest_paths([docs], dsettings, embedder=_DiesAfter(calls=2), rebuild=True)

    assert_whole(dsettings)  # the old 40 documents, untouched
    answer = run(cli, dsettings, "ask", question_for(3))
    assert "1021 tonnes" in answer.output, answer.output
    again = ingest_paths([docs], dsettings, embedder=FakeEmbedder(), rebuild=True)
    assert again.ok and len(again.files) == DOCS + 300, again.summary()
    assert not (dsettings.store_dir / ".rebuild").exists(), "what the dead rebuild left must be cleared"


def test_a_deleted_chroma_folder_is_named_in_answers_and_the_next_ingest_restores_the_vectors(
    cli: CliRunner, dsettings: Settings
) -> None:
    shutil.rmtree(dsettings.store_dir / "chroma")

    answer = run(cli, dsettings, "ask", question_for(3))
    checked = run(cli, dsettings, "check")
    reingest = run(cli, dsettings, "ingest", "-q", str(dsettings.store_dir.parent / "docs"))
    after = run(cli, dsettings, "ask", question_for(3))

    assert answer.exit_code == 0 and "vector index is missing" in answer.output, answer.output
    assert checked.exit_code == 1 and "chunks missing in Chroma: 120" in checked.output, checked.output
    assert reingest.exit_code == 0 and f"{DOCS} updated" in reingest.output, reingest.output
    assert "vector index" not in after.output and "1021 tonnes" in after.output, after.output
    assert chroma_count(dsettings) == 3 * DOCS
    assert_whole(dsettings)


def test_an_emptied_keyword_index_is_found_by_check_named_in_answers_and_rebuilt_by_repair(
    cli: CliRunner, dsettings: Settings
) -> None:
    db = sqlite3.connect(dsettings.sqlite_path)
    db.execute("DELETE FROM chunks_fts")
    db.commit()
    db.close()

    checked = run(cli, dsettings, "check")
    answer = run(cli, dsettings, "ask", question_for(3))
    repaired = run(cli, dsettings, "check", "--repair")

    assert checked.exit_code == 1, f"check must notice the emptied FTS index: {checked.output}"
    assert "chunks missing in the keyword index: 120" in checked.output, checked.output
    assert "keyword index is empty" in answer.output, answer.output
    assert repaired.exit_code == 0 and "repaired: store is consistent" in repaired.output, repaired.output
    assert_whole(dsettings)


def test_the_sources_a_damaged_catalog_still_lists_are_salvaged(cli: CliRunner, dsettings: Settings) -> None:
    from policyqa.store.files import salvage_sources

    damage_middle(dsettings.sqlite_path)

    sources = salvage_sources(dsettings.sqlite_path, COLLECTION)

    assert len(sources) == DOCS and all(Path(s).is_file() for s in sources), sources[:3]


def test_a_swap_interrupted_after_the_vectors_moved_is_finished_when_the_store_is_next_opened(
    cli: CliRunner, dsettings: Settings
) -> None:
    from policyqa.store import files

    docs = dsettings.store_dir.parent / "docs"
    write_region_docs(docs, 5, start=DOCS)
    folder = files.prepare_rebuild(dsettings.store_dir)
    assert ingest_paths([docs], dsettings.with_overrides(store_dir=folder), embedder=FakeEmbedder()).ok
    (folder / "writer.lock").unlink()
    (dsettings.store_dir / "rebuild.swap").write_text("{}")  # swap_in's marker, then the process dies:
    shutil.rmtree(dsettings.store_dir / "chroma")
    (folder / "chroma").rename(dsettings.store_dir / "chroma")  # the new vectors moved, the old catalog still there

    store = open_store(dsettings)
    try:
        assert len(store.documents()) == DOCS + 5, "the new catalog must be swapped in on open"
        assert_consistent(store, dsettings)
    finally:
        store.close()
    assert not folder.exists() and not (dsettings.store_dir / "rebuild.swap").exists()


def test_rebuild_keeps_the_other_collections_that_share_the_store_folder(cli: CliRunner, dsettings: Settings) -> None:
    other = dsettings.with_overrides(collection="neighbour")
    neighbour_docs = dsettings.store_dir.parent / "neighbour"
    write_region_docs(neighbour_docs, 3, start=500)
    assert ingest_paths([neighbour_docs], other, embedder=FakeEmbedder()).ok

    rebuilt = run(cli, dsettings, "ingest", "--rebuild", "-q", str(dsettings.store_dir.parent / "docs"))

    assert rebuilt.exit_code == 0 and f"{DOCS} added" in rebuilt.output, rebuilt.output
    assert_whole(dsettings)
    store = open_store(other)
    try:
        assert len(store.documents()) == 3, "the rebuild of one collection dropped another"
        assert_consistent(store, other)
    finally:
        store.close()


_REBUILDER = '''
import sys, time
from ingest.pipeline import ingest_paths
from policyqa.settings import Settings
from tests.fakes import FakeEmbedder

class SlowEmbedder(FakeEmbedder):
    def encode(self, texts):
        time.sleep(0.02 * len(texts))  # paced per text, whatever the batch size
        return super().encode(texts)

store_dir, collection, folder = sys.argv[1:]
print("ready", flush=True)
ingest_paths([folder], Settings(store_dir=store_dir, collection=collection), embedder=SlowEmbedder(), rebuild=True)
'''


@pytest.mark.slow
@pytest.mark.parametrize("kill_after", [0.5, 2.0, 4.0])
def test_kill_9_during_a_rebuild_leaves_the_old_store_answering(
    cli: CliRunner, dsettings: Settings, tmp_path: Path, kill_after: float
) -> None:
    import os
    import signal
    import subprocess
    import sys

    from tests.integration.test_reliability import subprocess_env

    docs = dsettings.store_dir.parent / "docs"
    write_region_docs(docs, 400, start=DOCS)  # about 8 s of paced embedding: the kill lands inside the rebuild
    script = tmp_path / "rebuilder.py"
    script.write_text(_REBUILDER)
    proc = subprocess.Popen(
        [sys.executable, str(script), str(dsettings.store_dir), COLLECTION, str(docs)],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=subprocess_env(),
    )
    assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
    try:
        proc.wait(timeout=kill_after)
    except subprocess.TimeoutExpired:
        os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=60)
    proc.stdout.close()

    assert proc.returncode == -signal.SIGKILL, "the rebuild finished before the kill: raise the corpus size"
    assert (dsettings.store_dir / ".rebuild").exists(), "the kill should land while the new store is being built"
    assert_whole(dsettings)
    answer = run(cli, dsettings, "ask", question_for(3))
    assert "1021 tonnes" in answer.output, answer.output
