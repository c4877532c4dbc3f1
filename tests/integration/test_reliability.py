"""Reliability: readers while another process ingests, one writer at a time, threads, and kill -9 at random points."""

from __future__ import annotations

import contextlib
import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from assistant import Assistant, Conversation
from ingest.pipeline import ingest_paths
from policyqa_cli import main
from policyqa.errors import StoreBusy
from policyqa.settings import Settings
from policyqa.store import CorpusStore, open_store
from policyqa.store.chroma import make_client, open_collection
from policyqa.types import Answer
from tests.builders import write_markdown
from tests.conftest import ROOT
from tests.fakes import FakeEmbedder
from tests.integration.consistency import assert_consistent

COLLECTION = "reliability"


def write_region_docs(folder: Path, count: int, *, start: int = 0) -> list[Path]:
    """Small Markdown documents, each stating one fact no other states (its region's quota and code)."""
    folder.mkdir(parents=True, exist_ok=True)
    return [
        write_markdown(
            folder / f"region-{i:03d}.md",
            f"# Region {i} lithium quota\n\nThe Region {i} authority set a lithium quota of {1000 + 7 * i} tonnes "
            f"for 2025. Its permit office uses the contact code ZQ{i:04d}X.\n",
            front_matter={"title": f"Region {i} lithium quota", "doc_type": "policy", "published": "2025-03-01"},
        )
        for i in range(start, start + count)
    ]


def question_for(i: int) -> str:
    return f"What lithium quota did the Region {i} authority set for 2025?"


def region_of(doc_id: str) -> str:
    """'region-007' for the document of region-007.md, whatever suffix its doc_id carries."""
    return doc_id[: len("region-000")]


def doc_id_of(store: CorpusStore, region: str) -> str:
    (record,) = [r for r in store.documents() if Path(r.meta.source).stem == region]
    return record.meta.doc_id


def cli_base(settings: Settings) -> list[str]:
    return ["--store-dir", str(settings.store_dir), "--collection", settings.collection]


def subprocess_env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1"}


@pytest.fixture
def rsettings(tmp_path: Path) -> Settings:
    return Settings(store_dir=tmp_path / "store", collection=COLLECTION)


@contextlib.contextmanager
def opened(settings: Settings) -> Iterator[CorpusStore]:
    store = open_store(settings)
    try:
        yield store
    finally:
        store.close()


# -- a reader process while another process ingests --------------------------------------------------------

# Ingests the given files in one run with the fake embedder, pausing in every encode call and flushing every
# few chunks, so the run is long and completes documents all along (each completion is a change readers see).
_WRITER = '''
import sys, time
import ingest.pipeline as pipeline
from ingest.pipeline import ingest_paths
from policyqa.settings import Settings
from tests.fakes import FakeEmbedder

store_dir, collection, pause, buffer_chunks, *paths = sys.argv[1:]

class PacedEmbedder(FakeEmbedder):
    def encode(self, texts):
        time.sleep(float(pause))
        return super().encode(texts)

pipeline._BUFFER_CHUNKS = int(buffer_chunks)
print("ready", flush=True)
report = ingest_paths(paths, Settings(store_dir=store_dir, collection=collection), embedder=PacedEmbedder())
bad = [f for f in report.files if f.outcome.value not in ("added", "updated", "unchanged")]
print("done", len(report.files), bad, flush=True)
sys.exit(0 if report.ok else 1)
'''


def start_writer(
    tmp_path: Path, settings: Settings, paths: list[Path], *, pause: float, buffer_chunks: int
) -> subprocess.Popen[str]:
    script = tmp_path / "writer.py"
    script.write_text(_WRITER, encoding="utf-8")
    proc = subprocess.Popen(
        [sys.executable, str(script), str(settings.store_dir), settings.collection, str(pause), str(buffer_chunks),
         *map(str, paths)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=subprocess_env(),
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    assert line.strip() == "ready", f"the writer did not start: {line!r} {proc.stderr.read() if proc.stderr else ''}"
    return proc


def finish(proc: subprocess.Popen[str], timeout: float = 300) -> str:
    out, err = proc.communicate(timeout=timeout)
    assert proc.returncode == 0, f"the writer failed ({proc.returncode}): {out} {err[-2000:]}"
    return out


def assert_sees_every_document(store: CorpusStore, embedder: FakeEmbedder, indices: range) -> None:
    """Dense search (Chroma) and lexical search (SQLite) each find every document by its own text."""
    missing_dense, missing_lexical = [], []
    for i in indices:
        doc_id = f"region-{i:03d}"
        text = f"The Region {i} authority set a lithium quota of {1000 + 7 * i} tonnes for 2025."
        # k=10: the 64-bucket fake embedder scores many of these near-identical sentences alike, and HNSW is approximate
        dense = {region_of(cid) for cid, _ in store.dense_search(embedder.encode([text])[0], k=10)}
        lexical = {region_of(cid) for cid, _ in store.lexical_search(f"ZQ{i:04d}X", k=3)}
        if doc_id not in dense:
            missing_dense.append(doc_id)
        if doc_id not in lexical:
            missing_lexical.append(doc_id)
    assert not missing_lexical, f"lexical search misses documents another process wrote: {missing_lexical[:10]}"
    assert not missing_dense, (
        f"Chroma queries miss {len(missing_dense)} documents another process wrote (a stale index): "
        f"{missing_dense[:10]}"
    )


def ask_while_writing(
    assistant: Assistant, proc: subprocess.Popen[str], questions: int, doc_count: int, pause: float
) -> tuple[list[Answer], int]:
    """Ask ``questions`` questions, spread over the writer's run; returns the answers and how many overlapped it."""
    answers: list[Answer] = []
    overlapped = 0
    for n in range(questions):
        writing = proc.poll() is None
        answers.append(assistant.ask(question_for(n * 37 % doc_count)))
        overlapped += writing and proc.poll() is None
        time.sleep(pause)
    return answers, overlapped


def test_a_reader_process_sees_documents_another_process_ingests_while_it_runs(
    tmp_path: Path, rsettings: Settings
) -> None:
    embedder = FakeEmbedder()
    first = write_region_docs(tmp_path / "docs", 5)
    later = write_region_docs(tmp_path / "docs", 25, start=5)
    with opened(rsettings) as store:
        assert ingest_paths(first, rsettings, store=store, embedder=embedder).ok, "the first documents did not ingest"
        assistant = Assistant(rsettings, store=store, embedder=embedder)
        assistant.ask(question_for(1))  # the reader has now loaded Chroma's index of the first 5 documents

        proc = start_writer(tmp_path, rsettings, later, pause=0.05, buffer_chunks=4)
        answers, _ = ask_while_writing(assistant, proc, 10, 30, 0.05)
        finish(proc)

        assert all(isinstance(a, Answer) and a.text for a in answers), "a question got no answer"
        assert_sees_every_document(store, embedder, range(30))
        assert_consistent(store, rsettings)
        final = assistant.ask(question_for(29))
        assert any(region_of(p.chunk.doc_id) == "region-029" for p in final.passages), (
            f"the last document written elsewhere is not retrieved: {[p.chunk.doc_id for p in final.passages]}"
        )


@pytest.mark.slow
def test_100_questions_during_a_200_document_ingest_in_another_process_all_answered_and_the_store_stays_whole(
    tmp_path: Path, rsettings: Settings
) -> None:
    embedder = FakeEmbedder()
    seed = write_region_docs(tmp_path / "docs", 3)
    docs = write_region_docs(tmp_path / "docs", 200, start=3)
    late = write_region_docs(tmp_path / "late", 1, start=500)
    with opened(rsettings) as store:
        assert ingest_paths(seed, rsettings, store=store, embedder=embedder).ok
        assistant = Assistant(rsettings, store=store, embedder=embedder)
        assistant.ask(question_for(0))

        proc = start_writer(tmp_path, rsettings, docs, pause=0.35, buffer_chunks=8)
        # A second ingest, from the CLI in its own process, while the first holds the store.
        second = subprocess.run(
            [sys.executable, "-m", "policyqa_cli", "--store-dir", str(rsettings.store_dir), "--collection", COLLECTION,
             "ingest", "--quiet", str(late[0])],
            capture_output=True, text=True, env=subprocess_env(), timeout=120,
        )
        still_writing = proc.poll() is None
        answers, overlapped = ask_while_writing(assistant, proc, 100, 203, 0.05)
        out = finish(proc)

        assert still_writing, "the first ingest ended before the second started: the test proves nothing"
        assert second.returncode == 1, f"a second ingest should exit 1, got {second.returncode}: {second.stderr}"
        assert "another ingest is running" in second.stderr, f"unclear refusal: {second.stderr!r}"
        assert "Traceback" not in second.stderr, second.stderr
        assert len(answers) == 100 and all(isinstance(a, Answer) and a.text for a in answers), "unanswered questions"
        assert overlapped >= 20, f"only {overlapped} questions overlapped the ingest: {out}"
        assert not [r for r in store.documents() if "500" in r.meta.source], "the refused ingest wrote anyway"
        assert_sees_every_document(store, embedder, range(203))
        docs_count = assert_consistent(store, rsettings)
        assert store.stats().documents == 203 and docs_count == store.stats().chunks, store.stats()
        assert store.check().ok, store.check()


def test_a_second_ingest_while_one_runs_gets_store_busy_and_the_cli_exits_1(
    tmp_path: Path, rsettings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("policyqa.embedding.load_embedder", lambda settings: FakeEmbedder())
    (doc,) = write_region_docs(tmp_path / "docs", 1)
    with opened(rsettings) as holder, holder.writer_lock():
        with pytest.raises(StoreBusy, match="another ingest is running"):
            ingest_paths([doc], rsettings, embedder=FakeEmbedder())
        result = CliRunner().invoke(main, [*cli_base(rsettings), "ingest", str(doc)])

    assert result.exit_code == 1, f"exit status {result.exit_code}: {result.output}"
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert lines == [f"error: another ingest is running on {rsettings.store_dir}; try again when it ends"], lines
    after = CliRunner().invoke(main, [*cli_base(rsettings), "ingest", str(doc)])
    assert after.exit_code == 0, f"the ingest failed once the lock was free: {after.output}"


# -- threads: many sessions on one Assistant, with an upload being ingested ----------------------------------

SESSIONS = 8
QUESTIONS_PER_SESSION = 10


def test_8_sessions_in_threads_ask_while_an_upload_is_ingested_without_errors(
    tmp_path: Path, rsettings: Settings
) -> None:
    embedder = FakeEmbedder()
    with opened(rsettings) as store:
        assert ingest_paths(write_region_docs(tmp_path / "docs", 30), rsettings, store=store, embedder=embedder).ok
        assistant = Assistant(rsettings, store=store, embedder=embedder)
        uploads = write_region_docs(tmp_path / "uploads", 20, start=30)
        errors: list[BaseException] = []
        answers: list[Answer] = []
        start = threading.Barrier(SESSIONS + 1)

        def session(n: int) -> None:
            conversation = Conversation(assistant)
            start.wait()
            for q in range(QUESTIONS_PER_SESSION):
                try:
                    question = question_for((n * 7 + q) % 50) if q % 3 else "And what code does its permit office use?"
                    answers.append(conversation.ask(question))
                except BaseException as exc:  # noqa: BLE001 - every failure is collected and reported
                    errors.append(exc)

        def upload() -> None:
            start.wait()
            try:
                for path in uploads:  # one file at a time, as the UI's uploads arrive
                    report = ingest_paths([path], rsettings, store=store, embedder=embedder)
                    assert report.ok, report.files
            except BaseException as exc:  # noqa: BLE001
                errors.append(exc)

        threads = [threading.Thread(target=session, args=(n,)) for n in range(SESSIONS)]
        threads.append(threading.Thread(target=upload))
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)

        assert not any(t.is_alive() for t in threads), "a session hung"
        assert not errors, f"{len(errors)} errors, the first: {errors[0]!r}"
        assert len(answers) == SESSIONS * QUESTIONS_PER_SESSION, f"{len(answers)} answers"
        assert_sees_every_document(store, embedder, range(50))
        assert_consistent(store, rsettings)


# -- crashes: kill -9 at random points, check and repair ------------------------------------------------------

_KILLABLE = '''
import faulthandler, sys, time
from ingest.pipeline import ingest_paths
from policyqa.settings import Settings
from tests.fakes import FakeEmbedder

class SlowEmbedder(FakeEmbedder):
    def encode(self, texts):
        time.sleep(0.15)
        return super().encode(texts)

store_dir, collection, *paths = sys.argv[1:]
faulthandler.dump_traceback_later(120, exit=True)  # a hung ingest shows where it hangs, and fails
print("ready", flush=True)
report = ingest_paths(paths, Settings(store_dir=store_dir, collection=collection), embedder=SlowEmbedder())
sys.exit(0 if report.ok else 1)
'''
KILL_ROUNDS = 5


def write_kill_corpus(folder: Path) -> list[Path]:
    """One large document (written in several batches) and a dozen small ones (written together)."""
    folder.mkdir(parents=True, exist_ok=True)
    body = " ".join(f"Clause {i} requires the reporting of scandium stocks by each refinery." for i in range(900))
    big = folder / "scandium-report.txt"
    big.write_text(f"Scandium report\n\n{body}\n", encoding="utf-8")
    return [big, *write_region_docs(folder, 12)]


def run_killable(
    script: Path, settings: Settings, paths: list[Path], *, kill_after: float | None
) -> tuple[int, float, str]:
    """Run an ingest in a child process, kill -9 it ``kill_after`` seconds into the ingest; (status, seconds, stderr)."""
    log = settings.store_dir.parent / f"ingest-{time.monotonic_ns()}.log"  # a file: a full pipe would block the child
    with log.open("w") as err:
        proc = subprocess.Popen(
            [sys.executable, str(script), str(settings.store_dir), settings.collection, *map(str, paths)],
            stdout=subprocess.PIPE, stderr=err, text=True, env=subprocess_env(),
        )
        assert proc.stdout is not None
        started = time.monotonic()
        try:
            assert proc.stdout.readline().strip() == "ready", log.read_text()
            started = time.monotonic()
            if kill_after is not None:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    proc.wait(timeout=kill_after)
                if proc.poll() is None:
                    os.kill(proc.pid, signal.SIGKILL)
            proc.wait(timeout=300)
        finally:
            if proc.poll() is None:
                proc.kill()
            proc.communicate()
    return proc.returncode, time.monotonic() - started, log.read_text()[-3000:]


def chroma_ids_by_doc(settings: Settings) -> dict[str, list[str]]:
    client = make_client(settings)
    try:
        got = open_collection(client, settings.collection).get(include=["metadatas"])
    finally:
        client.close()
    by_doc: dict[str, list[str]] = {}
    for cid, meta in zip(got["ids"], got["metadatas"] or [], strict=True):
        by_doc.setdefault(str(meta["doc_id"]), []).append(cid)
    return by_doc


def assert_readers_see_only_whole_documents(settings: Settings) -> tuple[int, int]:
    """After a crash, complete documents are whole in both indexes, pending ones invisible; (complete, pending)."""
    vectors = chroma_ids_by_doc(settings)
    with opened(settings) as store:
        records = store.documents()
        for r in records:
            doc_id = r.meta.doc_id
            lexical = store.catalog.chunk_ids(doc_id)
            if r.state == "complete":
                assert len(lexical) == r.chunk_count, f"{doc_id}: {len(lexical)} chunks, registry says {r.chunk_count}"
                assert sorted(vectors.get(doc_id, [])) == sorted(lexical), f"{doc_id}: Chroma and lexical index differ"
            else:
                assert not store.get_chunks(sorted(lexical)), f"{doc_id}: chunks of a half-written document are read"
        hits = {cid.rsplit(":", 1)[0] for cid, _ in store.lexical_search("scandium refinery quota lithium", 500)}
        pending = {r.meta.doc_id for r in records if r.state != "complete"}
        assert not hits & pending, f"searches return half-written documents: {hits & pending}"
        return len(records) - len(pending), len(pending)


def snapshot(settings: Settings) -> tuple[dict[str, tuple[str, int]], list[str], int, bool]:
    client_count = sum(len(v) for v in chroma_ids_by_doc(settings).values())
    with opened(settings) as store:
        docs = {r.meta.doc_id: (r.state, r.chunk_count) for r in store.documents()}
        return docs, sorted(store.catalog.chunk_ids()), client_count, store.check().ok


@pytest.mark.slow
def test_kill_9_at_random_points_five_times_then_one_run_restores_exactly_the_right_documents(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # check --repair re-ingests, with the model the killed ingests used
    monkeypatch.setattr("policyqa.embedding.load_embedder", lambda settings: FakeEmbedder())
    seed = int(os.environ.get("RELIABILITY_SEED", "20250710"))  # not POLICYQA_*: the autouse fixture clears those
    rng = random.Random(seed)
    script = tmp_path / "killable.py"
    script.write_text(_KILLABLE, encoding="utf-8")
    paths = write_kill_corpus(tmp_path / "docs")
    settings = Settings(store_dir=tmp_path / "store", collection=COLLECTION)
    calibration = Settings(store_dir=tmp_path / "calibration", collection=COLLECTION)
    status, full_run, err = run_killable(script, calibration, paths, kill_after=None)
    assert status == 0, f"the uninterrupted ingest failed: {err}"

    history = [f"seed {seed}; an uninterrupted run takes {full_run:.2f} s"]
    for round_ in range(1, KILL_ROUNDS + 1):
        # Every round changes the large document and a few small ones, so each run has real writes to interrupt:
        # old chunks deleted, new ones written in several batches, documents completed.
        for path in [paths[0], *rng.sample(paths[1:], 3)]:
            revised = path.read_text(encoding="utf-8").rstrip("\n") + f" Revised in round {round_}.\n"
            path.write_text(revised, encoding="utf-8")
        kill_after = rng.uniform(0.05, 0.9 * full_run)
        order = rng.sample(paths, len(paths))  # the large document first, last or between the small ones
        status, _, err = run_killable(script, settings, order, kill_after=kill_after)
        assert status in (0, -signal.SIGKILL), f"round {round_}: the ingest failed ({status}) before the kill: {err}"
        complete, pending = assert_readers_see_only_whole_documents(settings)
        history.append(f"round {round_}: killed after {kill_after:.2f} s (status {status}): "
                       f"{complete} complete, {pending} pending")
        if round_ % 2 == 0:  # every other round, `policyqa check --repair` runs before the next ingest
            runner = CliRunner()
            args = [*cli_base(settings), "check"]
            checked = runner.invoke(main, args)
            repaired = runner.invoke(main, [*args, "--repair"])
            assert (checked.exit_code == 1) == (pending > 0), f"check with {pending} pending: {checked.output}"
            assert repaired.exit_code == 0, repaired.output
            assert runner.invoke(main, args).exit_code == 0, "the store is still inconsistent after --repair"

    status, _, err = run_killable(script, settings, paths, kill_after=None)
    assert status == 0, f"the run after the kills failed; {history}: {err}"
    reference = Settings(store_dir=tmp_path / "reference", collection=COLLECTION)
    assert run_killable(script, reference, paths, kill_after=None)[0] == 0
    got, expected = snapshot(settings), snapshot(reference)
    assert got[0] == expected[0], f"documents differ from a clean ingest after {history}: {got[0]} != {expected[0]}"
    assert got[1] == expected[1], f"chunk ids differ from a clean ingest after {history}"
    assert got[2] == len(got[1]), f"Chroma holds {got[2]} vectors for {len(got[1])} chunks (duplicates or leftovers)"
    assert got[3], f"store.check() reports problems after {history}"
    with opened(settings) as store:
        assert_consistent(store, settings)
        revised = {cid.rsplit(":", 1)[0] for cid, _ in store.lexical_search(f"revised round {KILL_ROUNDS}", 50)}
        assert any(d.startswith("scandium") for d in revised), "the large document lacks its last revision"
    print("\n".join(history))


def ingest_three_regions_by_cli(
    tmp_path: Path, rsettings: Settings, monkeypatch: pytest.MonkeyPatch
) -> tuple[CliRunner, list[str]]:
    """Three documents in ``tmp_path/docs`` ingested by `policyqa ingest` with the fake model; the runner and the
    CLI's store arguments, for the `check` and `ingest` calls that follow."""
    monkeypatch.setattr("policyqa.embedding.load_embedder", lambda settings: FakeEmbedder())
    write_region_docs(tmp_path / "docs", 3)
    runner = CliRunner()
    base = cli_base(rsettings)
    assert runner.invoke(main, [*base, "ingest", str(tmp_path / "docs")]).exit_code == 0
    return runner, base


def test_check_names_vectors_missing_from_chroma_and_repair_restores_them_from_the_source_file(
    tmp_path: Path, rsettings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    runner, base = ingest_three_regions_by_cli(tmp_path, rsettings, monkeypatch)
    with opened(rsettings) as store:
        doc_id = doc_id_of(store, "region-001")
        lost = store.catalog.chunk_ids(doc_id)
    client = make_client(rsettings)
    open_collection(client, COLLECTION).delete(where={"doc_id": doc_id})  # vectors lost, registry intact
    client.close()

    checked = runner.invoke(main, [*base, "check"])
    repaired = runner.invoke(main, [*base, "check", "--repair"])
    after_repair = runner.invoke(main, [*base, "check"])
    reingest = runner.invoke(main, [*base, "ingest", str(tmp_path / "docs")])

    assert checked.exit_code == 1, f"check should fail on missing vectors: {checked.output}"
    assert f"chunks missing in Chroma: {len(lost)}" in checked.output, checked.output
    assert "run `policyqa check --repair`" in checked.output, checked.output
    assert repaired.exit_code == 0 and "repaired: store is consistent" in repaired.output, repaired.output
    assert "re-ingested from source files: 0 added, 1 updated" in repaired.output, repaired.output
    assert after_repair.exit_code == 0 and "store is consistent" in after_repair.output, after_repair.output
    assert reingest.exit_code == 0, reingest.output
    assert "3 unchanged" in reingest.output, f"repair should have restored the document itself: {reingest.output}"
    with opened(rsettings) as store:
        assert store.catalog.chunk_ids(doc_id) == lost, "the repaired document did not come back whole"
        assert_consistent(store, rsettings)
        assert_sees_every_document(store, FakeEmbedder(), range(3))


def test_check_names_a_pending_document_and_stray_vectors_and_repair_restores_them(
    tmp_path: Path, rsettings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    runner, base = ingest_three_regions_by_cli(tmp_path, rsettings, monkeypatch)
    with opened(rsettings) as store:
        doc_id = doc_id_of(store, "region-002")
        record = store.document(doc_id)
        assert record is not None
        store.catalog.mark_pending(record.meta)  # as if an ingest died after starting to rewrite it
        store._chroma().upsert(ids=["ghost:00000"], embeddings=[[1.0] + [0.0] * 63], metadatas=[{"doc_id": "ghost"}])

    checked = runner.invoke(main, [*base, "check"])
    repaired = runner.invoke(main, [*base, "check", "--repair"])
    reingest = runner.invoke(main, [*base, "ingest", str(tmp_path / "docs")])
    final = runner.invoke(main, [*base, "check"])

    assert checked.exit_code == 1, checked.output
    assert "pending documents: 1" in checked.output and "stray vectors: 1" in checked.output, checked.output
    assert repaired.exit_code == 0 and "repaired: store is consistent" in repaired.output, repaired.output
    assert reingest.exit_code == 0 and "3 unchanged" in reingest.output, reingest.output
    assert final.exit_code == 0 and "store is consistent" in final.output, final.output
    with opened(rsettings) as store:
        assert "ghost" not in chroma_ids_by_doc(rsettings), "the stray vector survived --repair"
        record = store.document(doc_id)
        assert record is not None and record.state == "complete", record
        assert_consistent(store, rsettings)
