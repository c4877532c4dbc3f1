"""Bad input: each case gets one clear line naming the file, and nothing already stored is lost."""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner

from ingest.pipeline import ingest_paths
from policyqa_cli import main
from policyqa.errors import StoreUnavailable
from policyqa.settings import Settings
from policyqa.store import CorpusStore, open_store
from policyqa.types import FileOutcome, IngestReport, Outcome
from tests.big_files import MB, write_text_of_size
from tests.builders import (
    write_binary,
    write_blank_pdf,
    write_corrupt_pdf,
    write_markdown,
    write_non_utf8_text,
    write_pdf,
)
from tests.conftest import ROOT, free_port
from tests.fakes import FakeEmbedder
from tests.integration.consistency import assert_consistent



@dataclass(frozen=True)
class GoodDocument:
    path: Path
    doc_id: str
    chunk_ids: frozenset[str]


def write_good(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    return write_markdown(
        folder / "zinc-policy.md",
        "# Zinc refining\n\nThe Clarksville refinery will recover indium and germanium. "
        "The Department of Defense takes a stake in the project.\n",
        front_matter={"title": "Zinc refining policy", "doc_type": "policy"},
    )


# name -> (writer, expected outcome, words of which one must appear in the message)
BadWriter = Callable[[Path], Path]
BAD_FILES: dict[str, tuple[BadWriter, Outcome, tuple[str, ...]]] = {
    "corrupt-pdf": (lambda d: write_corrupt_pdf(d / "broken.pdf"), Outcome.FAILED, ("not a readable pdf",)),
    "password-pdf": (
        lambda d: write_pdf(d / "secret.pdf", ["Secret terms."], encrypt_password="hunter2"),
        Outcome.FAILED,
        ("password",),
    ),
    "pdf-without-text": (lambda d: write_blank_pdf(d / "scan.pdf", 2), Outcome.SKIPPED, ("no extractable text",)),
    "zero-byte-txt": (lambda d: _touch(d / "empty.txt"), Outcome.FAILED, ("empty",)),
    "zero-byte-pdf": (lambda d: _touch(d / "empty.pdf"), Outcome.FAILED, ("empty",)),
    "zero-byte-md": (lambda d: _touch(d / "empty.md"), Outcome.FAILED, ("empty",)),
    "zero-byte-html": (lambda d: _touch(d / "empty.html"), Outcome.FAILED, ("empty",)),
    "binary-named-txt": (lambda d: write_binary(d / "photo.txt"), Outcome.FAILED, ("binary",)),
    "unsupported-extension": (lambda d: _touch(d / "slides.pptx", b"PK\x03\x04"), Outcome.SKIPPED, ("unsupported",)),
    "missing-path": (lambda d: d / "no-such-report.pdf", Outcome.FAILED, ("no such file",)),
    "over-size-limit": (
        lambda d: write_text_of_size(d / "huge-dump.txt", 50 * MB),
        Outcome.FAILED,
        ("POLICYQA_MAX_FILE_MB",),
    ),
}


def _touch(path: Path, data: bytes = b"") -> Path:
    path.write_bytes(data)
    return path


@pytest.fixture
def store(settings: Settings) -> Iterator[CorpusStore]:
    opened = open_store(settings)
    yield opened
    opened.close()


@pytest.fixture
def good(tmp_path: Path, settings: Settings, store: CorpusStore, fake_embedder: FakeEmbedder) -> GoodDocument:
    """A document ingested before the bad one arrives."""
    path = write_good(tmp_path / "good")
    report = ingest_paths([path], settings, store=store, embedder=fake_embedder)
    assert report.ok and report.files[0].outcome is Outcome.ADDED, f"the good document did not ingest: {report.files}"
    doc_id = report.files[0].doc_id
    assert doc_id is not None
    return GoodDocument(path, doc_id, frozenset(store.catalog.chunk_ids(doc_id)))


def assert_good_survives(store: CorpusStore, settings: Settings, good: GoodDocument) -> None:
    record = store.document(good.doc_id)
    assert record is not None and record.state == "complete", f"the good document is gone or pending: {record}"
    assert store.catalog.chunk_ids(good.doc_id) == good.chunk_ids, "the good document's chunks changed"
    hits = {cid.rsplit(":", 1)[0] for cid, _ in store.lexical_search("indium", k=10)}
    assert hits == {good.doc_id}, f"the good document is no longer searchable: {hits}"
    assert_consistent(store, settings)


def outcome_for(report: IngestReport, path: Path) -> FileOutcome:
    for f in report.files:
        if Path(f.path).name == path.name:
            return f
    raise AssertionError(f"no outcome for {path.name}: {report.files}")


def ingest_after_good(
    bad: Path, good: GoodDocument, settings: Settings, store: CorpusStore, embedder: FakeEmbedder | None = None
) -> tuple[IngestReport, FileOutcome]:
    report = ingest_paths([good.path, bad], settings, store=store, embedder=embedder or FakeEmbedder())
    assert outcome_for(report, good.path).outcome is Outcome.UNCHANGED, f"good document not unchanged: {report.files}"
    return report, outcome_for(report, bad)


def assert_one_line_naming(outcome: FileOutcome, path: Path, words: tuple[str, ...]) -> None:
    message = outcome.message
    assert message and "\n" not in message, f"expected one line, got {message!r}"
    assert path.name in message, f"message does not name {path.name}: {message!r}"
    assert any(w.lower() in message.lower() for w in words), f"message {message!r} says none of {words}"
    assert "Traceback" not in message, f"a traceback leaked into {message!r}"


@pytest.mark.parametrize("case", list(BAD_FILES))
def test_bad_file_gets_a_one_line_message_naming_it_and_stored_documents_survive(
    case: str, tmp_path: Path, settings: Settings, store: CorpusStore, good: GoodDocument
) -> None:
    writer, expected, words = BAD_FILES[case]
    (tmp_path / "bad").mkdir()
    bad = writer(tmp_path / "bad")
    embedder = FakeEmbedder()

    report, outcome = ingest_after_good(bad, good, settings, store, embedder)

    assert outcome.outcome is expected, f"{case}: expected {expected.value}, got {outcome}"
    assert_one_line_naming(outcome, bad, words)
    assert report.ok is (expected is not Outcome.FAILED), f"{case}: report.ok is {report.ok} with {report.files}"
    assert embedder.encoded == [], f"{case}: a bad file was embedded: {embedder.encoded[:3]}"
    assert len(store.documents()) == 1, f"{case}: left a document behind: {[r.meta.doc_id for r in store.documents()]}"
    assert_good_survives(store, settings, good)


@pytest.mark.parametrize("case", [name for name, (_, outcome, _) in BAD_FILES.items() if outcome is Outcome.FAILED])
def test_cli_ingest_exits_1_and_prints_one_failed_line_naming_the_bad_file(
    case: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("policyqa.embedding.load_embedder", lambda settings: FakeEmbedder())
    writer, _, words = BAD_FILES[case]
    (tmp_path / "bad").mkdir()
    good_path, bad = write_good(tmp_path / "good"), writer(tmp_path / "bad")
    runner = CliRunner()
    first = runner.invoke(main, ["ingest", str(good_path)])
    assert first.exit_code == 0, f"ingesting the good file failed: {first.output}"

    result = runner.invoke(main, ["ingest", str(good_path), str(bad)])

    assert result.exit_code == 1, f"{case}: exit status {result.exit_code}, output {result.output!r}"
    failed = [line for line in result.stderr.splitlines() if line.startswith("failed")]
    assert len(failed) == 1 and bad.name in failed[0], f"{case}: stderr should name {bad.name} once: {result.stderr!r}"
    assert any(w.lower() in failed[0].lower() for w in words), f"{case}: unclear error line {failed[0]!r}"
    assert "1 unchanged" in result.stdout and "1 failed" in result.stdout, f"summary: {result.stdout!r}"
    assert "Traceback" not in result.output, f"{case}: traceback printed: {result.output}"
    docs = runner.invoke(main, ["docs"])
    assert "Zinc refining policy" in docs.output and "1 documents" in docs.output, f"good doc lost: {docs.output}"


def test_pdf_without_text_is_skipped_saying_ocr_is_not_supported(
    tmp_path: Path, settings: Settings, store: CorpusStore, good: GoodDocument
) -> None:
    bad = write_blank_pdf(tmp_path / "scanned-letter.pdf", 3)

    report, outcome = ingest_after_good(bad, good, settings, store)

    assert outcome.outcome is Outcome.SKIPPED, f"a PDF without text should be skipped, got {outcome}"
    assert "no extractable text" in outcome.message and "OCR" in outcome.message, f"message: {outcome.message!r}"
    assert outcome.message.count(bad.name) == 1, f"file named more than once: {outcome.message!r}"
    assert report.ok, "a skipped file is not a failure"
    assert_good_survives(store, settings, good)


def test_unsupported_files_in_a_folder_are_skipped_and_listed(
    tmp_path: Path, settings: Settings, store: CorpusStore, good: GoodDocument
) -> None:
    folder = tmp_path / "mixed"
    folder.mkdir()
    for name in ("deck.pptx", "sheet.xlsx", "README"):
        _touch(folder / name, b"data")
    (folder / "note.txt").write_text("Note\n\nCopper tariffs rise to 50 percent.\n", encoding="utf-8")

    report = ingest_paths([good.path, folder], settings, store=store, embedder=FakeEmbedder())

    skipped = {Path(f.path).name: f.message for f in report.files if f.outcome is Outcome.SKIPPED}
    assert set(skipped) == {"deck.pptx", "sheet.xlsx", "README"}, f"skipped: {skipped}"
    for name, message in skipped.items():
        assert message.startswith(f"{name}: unsupported file type"), f"{name}: unclear skip message {message!r}"
    assert outcome_for(report, folder / "note.txt").outcome is Outcome.ADDED, "the supported file was not added"
    assert report.ok, "skipped files are not failures"
    assert_good_survives(store, settings, good)


def test_non_utf8_text_is_ingested_with_a_warning(
    tmp_path: Path, settings: Settings, store: CorpusStore, good: GoodDocument
) -> None:
    bad = write_non_utf8_text(tmp_path / "memo-latin1.txt", "Mémo\n\nLe café du ministère coûte 5 €.\n", "cp1252")

    report, outcome = ingest_after_good(bad, good, settings, store)

    assert outcome.outcome is Outcome.ADDED and outcome.chunks > 0, f"non-UTF-8 text should be ingested: {outcome}"
    assert "not UTF-8" in outcome.message and bad.name in outcome.message, f"no warning: {outcome.message!r}"
    hits = store.lexical_search("ministère", k=1)
    assert hits, "the decoded text is not searchable"
    text = store.get_chunks([hits[0][0]])[hits[0][0]].text
    assert "café du ministère coûte 5 €" in text, f"text decoded wrongly: {text!r}"
    assert report.ok, "a warning is not a failure"
    assert_good_survives(store, settings, good)


def test_path_that_does_not_exist_fails_naming_it(
    tmp_path: Path, settings: Settings, store: CorpusStore, good: GoodDocument
) -> None:
    missing = tmp_path / "reports" / "gone.pdf"

    report = ingest_paths([good.path, missing], settings, store=store, embedder=FakeEmbedder())

    (outcome,) = [f for f in report.files if f.outcome is Outcome.FAILED]
    assert str(missing) in outcome.message and "no such file" in outcome.message, f"message: {outcome.message!r}"
    assert not report.ok, "a missing path must make the report fail"
    assert_good_survives(store, settings, good)


def test_file_over_the_size_limit_fails_before_it_is_read_or_embedded(
    tmp_path: Path, settings: Settings, store: CorpusStore, good: GoodDocument, monkeypatch: pytest.MonkeyPatch
) -> None:
    bad = write_text_of_size(tmp_path / "dump.txt", 50 * MB)
    loaded: list[Path] = []
    monkeypatch.setattr("ingest.parsing.load_document", lambda path, **kw: loaded.append(path))
    embedder = FakeEmbedder()

    report, outcome = ingest_after_good(bad, good, settings, store, embedder)

    assert settings.max_file_mb == 25, "the default limit is 25 MB"
    assert outcome.outcome is Outcome.FAILED, f"a 50 MB file should fail under the 25 MB default: {outcome}"
    assert "50 MB" in outcome.message and "25 MB" in outcome.message, f"message: {outcome.message!r}"
    assert loaded == [] and embedder.encoded == [], "an over-size file was loaded or embedded"
    assert not report.ok, "an over-size file is a failure"
    assert_good_survives(store, settings, good)


def test_a_file_over_the_limit_ingests_whole_once_the_limit_is_raised(
    tmp_path: Path, settings: Settings, good: GoodDocument
) -> None:
    # The memory of a 50 MB ingest is measured by benchmarks/big_file.py, not here: the brief keeps speed and memory
    # targets out of tests. This is the behaviour: the limit refuses, raising it lets the same file in, all of it.
    big = write_text_of_size(tmp_path / "dump.txt", 3 * MB)
    low = settings.with_overrides(max_file_mb=2)
    store = open_store(low)
    refused = ingest_paths([good.path, big], low, store=store, embedder=FakeEmbedder(max_tokens=256))
    assert outcome_for(refused, big).outcome is Outcome.FAILED, "a 3 MB file passed a 2 MB limit"

    raised = settings.with_overrides(max_file_mb=4)
    report = ingest_paths([good.path, big], raised, store=store, embedder=FakeEmbedder(max_tokens=256))

    outcome = outcome_for(report, big)
    assert outcome.outcome is Outcome.ADDED and outcome.chunks > 2_000, f"the raised limit did not let it in: {outcome}"
    written = set(re.findall(r"Section (\d+)\.", big.read_text(encoding="utf-8")))
    chunks = store.catalog.get_chunks(store.catalog.chunk_ids(outcome.doc_id)).values()
    stored = {n for c in chunks for n in re.findall(r"Section (\d+)\.", c.text)}
    assert stored == written, f"{len(written - stored)} of the file's {len(written)} paragraphs are not in the store"
    assert_good_survives(store, raised, good)
    store.close()


def test_chroma_server_that_is_not_running_raises_store_unavailable_naming_the_url(settings: Settings) -> None:
    url = f"http://127.0.0.1:{free_port()}"

    with pytest.raises(StoreUnavailable) as raised:
        open_store(settings.with_overrides(chroma_url=url))

    assert url in str(raised.value), f"error does not name the URL: {raised.value}"
    assert "\n" not in str(raised.value), f"error is not one line: {raised.value!r}"


def test_cli_with_a_chroma_server_that_is_not_running_prints_one_error_line(tmp_path: Path) -> None:
    good_path = write_good(tmp_path / "good")
    url = f"http://127.0.0.1:{free_port()}"
    policyqa = Path(sys.executable).parent / "policyqa"
    env = {**os.environ, "POLICYQA_CHROMA_URL": url}

    result = subprocess.run(
        [str(policyqa), "ingest", str(good_path)], capture_output=True, text=True, env=env, timeout=120
    )

    lines = [line for line in (result.stdout + result.stderr).splitlines() if line.strip()]
    assert result.returncode == 1, f"exit status {result.returncode}; output {lines}"
    assert len(lines) == 1 and lines[0].startswith("error: "), f"expected one 'error:' line, got {lines}"
    assert url in lines[0], f"the error does not name {url}: {lines[0]!r}"
    assert "Traceback" not in result.stderr, f"traceback printed: {result.stderr}"


# -- kill -9 in the middle of an ingest --------------------------------------------------------------------

_INGEST_SCRIPT = '''
"""Ingest with the fake embedder (slowly, when asked) or print the store's state as JSON."""
import json, sys, time
from ingest.pipeline import ingest_paths
from policyqa.settings import Settings
from policyqa.store import open_store
from tests.fakes import FakeEmbedder
from tests.integration.consistency import chroma_count

class SlowEmbedder(FakeEmbedder):
    def encode(self, texts):
        time.sleep(0.3)
        return super().encode(texts)

mode, store_dir, *paths = sys.argv[1:]
settings = Settings(store_dir=store_dir, collection="killed")
if mode == "inspect":
    store = open_store(settings)
    print(json.dumps({
        "documents": {r.meta.doc_id: [r.state, r.chunk_count] for r in store.documents()},
        "chunk_ids": sorted(store.catalog.chunk_ids()),
        "chroma": chroma_count(settings),
        "check_ok": store.check().ok,
        "hits": {w: [c for c, _ in store.lexical_search(w, 1000)] for w in ("indium", "scandium")},
    }))
    sys.exit(0)
embedder = SlowEmbedder() if mode == "slow" else FakeEmbedder()
report = ingest_paths(paths, settings, embedder=embedder)
sys.exit(0 if report.ok else 1)
'''


def _run_script(script: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, str(script), *args], capture_output=True, text=True, env=env, timeout=300)


def _wait_for_pending_write(
    sqlite_path: Path, min_chunks: int, proc: subprocess.Popen[str], timeout: float = 120
) -> int:
    """Poll the registry until a pending document has at least ``min_chunks`` chunks written; return them."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"the ingest ended before it could be killed: {proc.communicate()}"
        if sqlite_path.exists():
            try:
                with sqlite3.connect(f"file:{sqlite_path}?mode=ro", uri=True, timeout=1) as db:
                    row = db.execute(
                        "SELECT COUNT(c.id) FROM documents d LEFT JOIN chunks c "
                        "ON c.collection = d.collection AND c.doc_id = d.doc_id "
                        "WHERE d.state = 'pending' GROUP BY d.doc_id"
                    ).fetchone()
            except sqlite3.OperationalError:  # the schema is still being created
                row = None
            if row is not None and row[0] >= min_chunks:
                return int(row[0])
        time.sleep(0.02)
    raise AssertionError(f"no pending document with {min_chunks} chunks after {timeout} s")


@pytest.mark.slow
@pytest.mark.parametrize("kill_after_chunks", [0, 256, 512])
def test_ingest_killed_half_way_leaves_no_half_document_and_the_next_run_completes_it(
    kill_after_chunks: int, tmp_path: Path
) -> None:
    script = tmp_path / "ingest_script.py"
    script.write_text(_INGEST_SCRIPT, encoding="utf-8")
    store_dir = tmp_path / "store"
    good_path = write_good(tmp_path / "good")
    big = tmp_path / "docs" / "scandium-report.txt"
    big.parent.mkdir()
    body = " ".join(f"Clause {i} requires the reporting of scandium stocks by each refinery." for i in range(1200))
    big.write_text(f"Scandium report\n\n{body}\n", encoding="utf-8")
    reference = Settings(store_dir=tmp_path / "reference", collection="killed")
    ingest_paths([good_path, big], reference, embedder=FakeEmbedder())
    with contextlib.closing(open_store(reference)) as ref:
        expected_docs = {r.meta.doc_id: ["complete", r.chunk_count] for r in ref.documents()}
        expected_ids = sorted(ref.catalog.chunk_ids())
    assert len(expected_ids) > 3 * 256, "the big document must take several write batches"

    first = _run_script(script, "fast", str(store_dir), str(good_path))
    assert first.returncode == 0, f"ingesting the good document failed: {first.stderr}"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        [sys.executable, str(script), "slow", str(store_dir), str(good_path), str(big)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        written = _wait_for_pending_write(store_dir / "policyqa.sqlite3", kill_after_chunks, proc)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL, f"the ingest was not killed (status {proc.returncode})"
    assert written < len(expected_ids), "killed too late: the big document was already complete"

    after_kill = json.loads(_run_script(script, "inspect", str(store_dir)).stdout)
    good_id = next(d for d in expected_docs if d.startswith("zinc"))
    assert after_kill["documents"][good_id] == expected_docs[good_id], (
        f"good document harmed: {after_kill['documents']}"
    )
    assert after_kill["hits"]["indium"], "the good document is no longer searchable after the kill"
    assert after_kill["hits"]["scandium"] == [], "half of the killed document is visible to searches"

    rerun = _run_script(script, "fast", str(store_dir), str(good_path), str(big))
    assert rerun.returncode == 0, f"the run after the kill failed: {rerun.stderr}"
    final = json.loads(_run_script(script, "inspect", str(store_dir)).stdout)
    assert final["documents"] == expected_docs, f"documents after recovery: {final['documents']}"
    assert final["chunk_ids"] == expected_ids, "chunk ids after recovery differ from a clean ingest"
    assert final["chroma"] == len(expected_ids), f"Chroma holds {final['chroma']} vectors, expected {len(expected_ids)}"
    assert final["check_ok"], "store.check() reports problems after recovery"
