"""Several app hosts over one Chroma server and one PostgreSQL catalog: each host is its own CLI process with its
own store folder, as on separate machines; they share only the two servers."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from policyqa.errors import StoreBusy
from policyqa.settings import Settings
from policyqa.store import CorpusStore, open_store
from policyqa.store.chroma import make_client, open_collection
from policyqa.store.pg_catalog import PgCatalog, migrate, migrations
from tests.builders import write_markdown
from tests.conftest import ROOT

# An app host: the real CLI with the fake embedder (no model load), pausing in each encode call when asked to.
_HOST = """
import os, sys, time
import policyqa.embedding
from tests.fakes import FakeEmbedder

class PacedEmbedder(FakeEmbedder):
    def encode(self, texts):
        time.sleep(float(os.environ.get("TEST_ENCODE_PAUSE", "0")))
        return super().encode(texts)

policyqa.embedding.load_embedder = lambda settings: PacedEmbedder()
from policyqa_cli import main
main()
"""

Host = Callable[..., subprocess.CompletedProcess[str]]


def region_docs(folder: Path, count: int) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    return [
        write_markdown(
            folder / f"region-{i:03d}.md",
            f"# Region {i} cobalt quota\n\nThe Region {i} authority set a cobalt quota of {2000 + 11 * i} tonnes "
            f"for 2026. Its licensing office uses the reference code KV{i:04d}R.\n",
            front_matter={"title": f"Region {i} cobalt quota", "doc_type": "policy", "published": "2026-01-15"},
        )
        for i in range(count)
    ]


def big_doc(folder: Path) -> Path:
    """One document long enough to be written in several batches (a kill lands between them)."""
    folder.mkdir(parents=True, exist_ok=True)
    body = " ".join(f"Clause {i} obliges each smelter to report its tellurium stock monthly." for i in range(3000))
    return write_markdown(folder / "tellurium-rules.md", f"# Tellurium rules\n\n{body}\n",
                          front_matter={"title": "Tellurium rules", "doc_type": "policy", "published": "2026-02-01"})


@pytest.fixture
def shared(chroma_server: str, postgres_server: str) -> Settings:
    """The servers a team shares, and a collection of this test's own."""
    return Settings(chroma_url=chroma_server, database_url=postgres_server, collection=f"team-{uuid.uuid4().hex[:12]}")


@pytest.fixture
def make_host(tmp_path: Path, shared: Settings) -> Callable[..., tuple[Host, Settings]]:
    script = tmp_path / "host.py"
    script.write_text(_HOST, encoding="utf-8")

    def _make(name: str, **overrides: str | None) -> tuple[Host, Settings]:
        settings = shared.with_overrides(store_dir=tmp_path / f"host-{name}")
        env = {**os.environ, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1",
               "POLICYQA_STORE_DIR": str(settings.store_dir), "POLICYQA_COLLECTION": shared.collection,
               "POLICYQA_CHROMA_URL": shared.chroma_url or "", "POLICYQA_DATABASE_URL": shared.database_url or ""}
        for key, value in overrides.items():
            env[f"POLICYQA_{key.upper()}"] = value or ""  # blank = unset
        settings = settings.with_overrides(**{k: v for k, v in overrides.items() if v})

        def run(*args: str, pause: float = 0.0, background: bool = False, timeout: float = 180) -> Any:
            command = [sys.executable, str(script), *args]
            run_env = {**env, "TEST_ENCODE_PAUSE": str(pause)}
            if background:
                return subprocess.Popen(command, env=run_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            return subprocess.run(command, env=run_env, capture_output=True, text=True, timeout=timeout)

        return run, settings

    return _make


@contextlib.contextmanager
def opened(settings: Settings) -> Iterator[CorpusStore]:
    store = open_store(settings)
    try:
        yield store
    finally:
        store.close()


def vector_ids(settings: Settings) -> set[str]:
    client = make_client(settings)
    try:
        return set(open_collection(client, settings.collection).get(include=[])["ids"])
    finally:
        client.close()


def ask(host: Host, question: str) -> dict[str, object]:
    done = host("ask", "--json", question)
    assert done.returncode == 0, f"ask failed: {done.stderr[-2000:]}"
    return json.loads(done.stdout)


def wait_for(condition: Callable[[], bool], what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.mark.server
@pytest.mark.postgres
@pytest.mark.slow
def test_two_hosts_ingest_answer_remove_survive_a_kill_9_and_agree_on_check(
    tmp_path: Path, shared: Settings, make_host: Callable[..., tuple[Host, Settings]]
) -> None:
    host_a, a_settings = make_host("a")
    host_b, _ = make_host("b")
    docs = region_docs(tmp_path / "docs", 6)

    # Ingest through A; B, which never saw the files, lists and answers from them.
    done = host_a("ingest", "-q", str(tmp_path / "docs"))
    assert done.returncode == 0, f"ingest on A failed: {done.stdout} {done.stderr[-2000:]}"
    listed = host_b("docs")
    assert listed.returncode == 0 and "6 documents" in listed.stdout, f"B does not list A's documents: {listed.stdout}"
    answer = ask(host_b, "What cobalt quota did the Region 4 authority set for 2026?")
    assert "2044" in str(answer["answer"]), f"B's answer lacks A's fact: {answer['answer']}"
    cited = {c["doc_id"] for c in answer["citations"]}  # type: ignore[union-attr]
    with opened(a_settings) as store:
        region4 = next(r.meta.doc_id for r in store.documents() if r.meta.source == str(docs[4]))
    assert region4 in cited, f"B did not cite Region 4's document: {cited}"

    # Remove through B; A no longer finds it, in either index.
    assert host_b("remove", region4).returncode == 0, "remove on B failed"
    assert not {i for i in vector_ids(shared) if i.startswith(region4 + ":")}, "B's remove left vectors"
    answer = ask(host_a, "What cobalt quota did the Region 4 authority set for 2026?")
    assert region4 not in {c["doc_id"] for c in answer["citations"]}, "A still cites the removed document"  # type: ignore[union-attr]

    # Kill -9 A in the middle of a long document; B cannot write meanwhile (one writer across hosts).
    big = big_doc(tmp_path / "more")
    proc = host_a("ingest", "-q", str(big), pause=1.5, background=True)
    with opened(a_settings) as store:
        def half_written() -> bool:
            pending = [r for r in store.documents() if r.state == "pending"]
            return bool(pending) and bool(store.catalog.chunk_ids(pending[0].meta.doc_id))

        wait_for(half_written, "A to write the first batch of the long document")
        busy = host_b("ingest", "-q", str(tmp_path / "docs"))
        assert busy.returncode == 1 and "another ingest is running" in busy.stderr, f"B wrote too: {busy.stderr}"
        os.kill(proc.pid, signal.SIGKILL)
        proc.communicate(timeout=30)
        assert proc.returncode == -signal.SIGKILL, f"A finished before the kill ({proc.returncode})"
        complete_before = {r.meta.doc_id for r in store.documents() if r.state == "complete"}
        kept_vectors = {i for i in vector_ids(shared) if i.rsplit(":", 1)[0] in complete_before}

    # Both hosts see the same half-written document; repair through B drops only it.
    a_check, b_check = host_a("check"), host_b("check")
    assert a_check.returncode == b_check.returncode == 1, f"check did not find the crash: {a_check.stdout}"
    assert a_check.stdout == b_check.stdout, f"hosts disagree:\nA: {a_check.stdout}\nB: {b_check.stdout}"
    assert "pending documents: 1;" in a_check.stdout, f"the killed document is not pending: {a_check.stdout}"
    repaired = host_b("check", "--repair")
    assert repaired.returncode == 0 and "repaired" in repaired.stdout, f"repair failed: {repaired.stderr}"
    a_check, b_check = host_a("check"), host_b("check")
    assert a_check.returncode == b_check.returncode == 0, f"still inconsistent: {a_check.stdout} {b_check.stdout}"
    assert a_check.stdout == b_check.stdout and "store is consistent" in a_check.stdout, "hosts disagree after repair"
    assert kept_vectors <= vector_ids(shared), "repair on B deleted vectors of documents the shared registry lists"

    # B finishes the job A died in; A answers from it.
    again = host_b("ingest", "-q", str(big))
    assert again.returncode == 0, f"B could not re-ingest: {again.stderr[-2000:]}"
    answer = ask(host_a, "Which smelter report does clause 2999 require for tellurium?")
    assert "tellurium" in str(answer["answer"]).lower(), f"A does not answer from B's ingest: {answer['answer']}"
    assert host_a("check").stdout == host_b("check").stdout, "hosts disagree at the end"


@pytest.mark.server
@pytest.mark.postgres
def test_repair_refuses_when_the_catalog_and_chroma_are_not_the_shared_pair(
    tmp_path: Path, shared: Settings, make_host: Callable[..., tuple[Host, Settings]]
) -> None:
    host_a, _ = make_host("a")
    assert host_a("ingest", "-q", *map(str, region_docs(tmp_path / "docs", 3))).returncode == 0, "ingest on A failed"
    before = vector_ids(shared)
    assert len(before) >= 3, "A wrote no vectors"

    # Chroma server with this host's SQLite: A's vectors look stray; repairing them would delete A's documents.
    local_catalog, _ = make_host("c", database_url=None)
    checked = local_catalog("check")
    assert checked.returncode == 1 and f"stray vectors: {len(before)};" in checked.stdout, checked.stdout
    refused = local_catalog("check", "--repair")
    assert refused.returncode == 1 and "refusing to repair" in refused.stderr, f"repair ran: {refused.stdout}"
    # The shared PostgreSQL with this host's embedded Chroma: A's documents look like missing vectors.
    local_vectors, _ = make_host("d", chroma_url=None)
    refused = local_vectors("check", "--repair")
    assert refused.returncode == 1 and "refusing to repair" in refused.stderr, f"repair ran: {refused.stdout}"

    assert vector_ids(shared) == before, "a refused repair deleted vectors"
    checked = host_a("check")
    assert checked.returncode == 0 and "store is consistent" in checked.stdout, f"A's store was harmed: {checked.stdout}"


@pytest.mark.server
@pytest.mark.postgres
def test_prune_on_one_host_removes_only_its_own_missing_files(
    tmp_path: Path, shared: Settings, make_host: Callable[..., tuple[Host, Settings]]
) -> None:
    host_a, a_settings = make_host("a")
    host_b, _ = make_host("b")
    a_docs = region_docs(tmp_path / "a-docs", 2)
    b_docs = region_docs(tmp_path / "b-docs", 3)
    assert host_a("ingest", "-q", str(tmp_path / "a-docs")).returncode == 0, "ingest on A failed"
    assert host_b("ingest", "-q", str(tmp_path / "b-docs")).returncode == 0, "ingest on B failed"
    # B's host does not have A's folder; B deletes one of its own files and prunes its folder.
    hidden = tmp_path / "a-docs-elsewhere"
    (tmp_path / "a-docs").rename(hidden)
    b_docs[0].unlink()
    pruned = host_b("ingest", "-q", "--prune", str(tmp_path / "b-docs"))
    assert pruned.returncode == 0, f"prune on B failed: {pruned.stderr[-1000:]}"
    with opened(a_settings) as store:
        sources = {r.meta.source for r in store.documents()}
    assert {str(p) for p in a_docs} <= sources, "B's prune removed documents of files only A has"
    assert str(b_docs[0]) not in sources and {str(p) for p in b_docs[1:]} <= sources, "B's own prune went wrong"


@pytest.mark.postgres
def test_the_writer_lock_holds_across_hosts_and_dies_with_its_holder(tmp_path: Path, postgres_server: str) -> None:
    collection = f"lock-{uuid.uuid4().hex[:12]}"
    first, second = PgCatalog(postgres_server, collection), PgCatalog(postgres_server, collection)
    try:
        with first.writer_lock():
            with pytest.raises(StoreBusy, match="another ingest is running"), second.writer_lock():
                pass
            other = PgCatalog(postgres_server, collection + "-other")
            with other.writer_lock():  # other collections are not blocked
                pass
            other.close()
        with second.writer_lock():  # released on exit
            pass

        holder = subprocess.Popen(
            [sys.executable, "-c",
             "import sys, time; from policyqa.store.pg_catalog import PgCatalog\n"
             "c = PgCatalog(sys.argv[1], sys.argv[2])\n"
             "with c.writer_lock():\n    print('held', flush=True); time.sleep(600)\n",
             postgres_server, collection],
            stdout=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)},
        )
        try:
            assert holder.stdout is not None and holder.stdout.readline().strip() == "held", "the holder did not start"
            with pytest.raises(StoreBusy), first.writer_lock():
                pass
            os.kill(holder.pid, signal.SIGKILL)
            holder.wait(timeout=30)

            def free() -> bool:
                try:
                    with first.writer_lock():
                        return True
                except StoreBusy:
                    return False

            wait_for(free, "PostgreSQL to release the killed holder's lock", timeout=30)
        finally:
            if holder.poll() is None:
                holder.kill()
    finally:
        first.close()
        second.close()


@pytest.mark.postgres
def test_migrations_are_applied_once_by_hosts_starting_together(postgres_server: str) -> None:
    name = f"fresh_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(postgres_server, autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {name}")
    url = postgres_server.rsplit("/", 1)[0] + f"/{name}"
    errors: list[BaseException] = []
    opened: list[PgCatalog] = []

    def start() -> None:
        try:
            opened.append(PgCatalog(url, "starting-together"))
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=start) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    try:
        assert not errors, f"a host failed to start: {errors}"
        with psycopg.connect(url) as conn:
            rows = conn.execute("SELECT version, name FROM schema_migrations ORDER BY version").fetchall()
            assert [tuple(r) for r in rows] == [(v, n) for v, n, _ in migrations()], f"migrations recorded: {rows}"
            assert migrate(conn) == [], "a migration was applied twice"
        assert migrations(), "no migrations are bundled"
    finally:
        for c in opened:
            c.close()
        with psycopg.connect(postgres_server, autocommit=True) as admin:
            admin.execute(f"DROP DATABASE {name} WITH (FORCE)")


def test_an_unreachable_database_is_a_one_line_store_error(tmp_path: Path) -> None:
    from policyqa.errors import StoreUnavailable
    from tests.conftest import free_port

    url = f"postgresql://someone:secret@127.0.0.1:{free_port()}/nothing"
    with pytest.raises(StoreUnavailable, match="PostgreSQL at postgresql://someone:\\*\\*\\*@127.0.0.1") as caught:
        PgCatalog(url, "unreachable")
    assert "secret" not in str(caught.value), "the password leaked into the message"


def test_the_unpaired_reasons_name_the_fix() -> None:
    from policyqa.store.backends import unpaired_reason

    assert unpaired_reason(Settings()) is None, "the embedded default is a pair"
    assert unpaired_reason(Settings(chroma_url="http://c:8000", database_url="postgresql://d/p")) is None
    assert "POLICYQA_DATABASE_URL" in (unpaired_reason(Settings(chroma_url="http://c:8000")) or ""), "no fix named"
    assert "POLICYQA_CHROMA_URL" in (unpaired_reason(Settings(database_url="postgresql://d/p")) or ""), "no fix named"

