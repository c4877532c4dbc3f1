"""Load over shared servers: app processes x concurrent sessions against a Chroma server and a PostgreSQL catalog,
next to the embedded default (Chroma and SQLite in one store folder) with the same processes, in the same run.

Usage: python benchmarks/load_shared.py [--chunks 100000] [--processes 2] [--sessions 8] [--questions 20]
                                        [--pool 2000] [--chroma-url URL --database-url URL] [--json PATH]

One synthetic corpus (benchmarks/query.py's generator: the first --pool chunks embedded with the real model,
the rest borrowing a pool document's vectors plus noise) is written into two stores: an embedded one in a
temporary folder, and the shared pair (a `chroma run` and a throwaway PostgreSQL started here on 127.0.0.1,
unless --chroma-url and --database-url name running ones). Then, for each store, --processes app processes
(each one Assistant: one model, one store, as a Streamlit server has) run --sessions threads each, every thread
asking --questions questions, all starting together. Prints answer latency p50/p95/max, throughput and every
error per configuration; exits 1 if any question failed.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Any

import numpy as np
from _common import ROOT, fmt, load_average, load_model, p50, percentile, table

sys.path.insert(0, str(ROOT))  # ahead of benchmarks/, whose ingest.py would shadow the ingest package
from query import Build, Generator, build_pool, grow, make_questions  # noqa: E402

from policyqa.settings import Settings  # noqa: E402
from policyqa.store import open_store  # noqa: E402


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for_port(port: int, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    raise TimeoutError(f"nothing listening on 127.0.0.1:{port}")


@contextmanager
def chroma_server(folder: Path) -> Iterator[str]:
    chroma = shutil.which("chroma") or str(Path(sys.executable).parent / "chroma")
    port = free_port()
    with open(folder / "chroma.log", "wb") as log:
        proc = subprocess.Popen([chroma, "run", "--path", str(folder / "chroma"), "--host", "127.0.0.1",
                                 "--port", str(port)], stdout=log, stderr=subprocess.STDOUT)
        try:
            wait_for_port(port)
            yield f"http://127.0.0.1:{port}"
        finally:
            proc.terminate()
            proc.wait(timeout=30)


@contextmanager
def postgres_server() -> Iterator[str]:
    """A throwaway PostgreSQL from the Debian server programs (as the ``postgres`` user when run as root)."""
    found = shutil.which("initdb")
    candidates = [Path(found).parent] if found else sorted(Path("/usr/lib/postgresql").glob("*/bin"))
    if not candidates:
        raise SystemExit("PostgreSQL is not installed (apt-get install postgresql), or pass --database-url")
    bindir = candidates[-1]
    base = Path(tempfile.mkdtemp(prefix="policyqa-bench-pg-"))
    as_root = os.geteuid() == 0
    if as_root:
        shutil.chown(base, user="postgres", group="postgres")

    def run(*args: str) -> None:
        command = [str(bindir / args[0]), *args[1:]]
        subprocess.run(["runuser", "-u", "postgres", "--", *command] if as_root else command,
                       check=True, capture_output=True, timeout=120)

    port = free_port()
    run("initdb", "-D", str(base / "data"), "-A", "trust", "-U", "postgres", "-E", "UTF8")
    run("pg_ctl", "-D", str(base / "data"), "-o", f"-p {port} -k {base} -c listen_addresses=127.0.0.1",
        "-l", str(base / "log"), "-w", "start")
    try:
        yield f"postgresql://postgres@127.0.0.1:{port}/postgres"
    finally:
        run("pg_ctl", "-D", str(base / "data"), "-m", "fast", "stop")
        shutil.rmtree(base, ignore_errors=True)


def populate(settings: Settings, pool: Build, args: argparse.Namespace) -> dict[str, Any]:
    """Write the synthetic corpus: the same in every store (a copy of one embedded pool and generator state)."""
    store = open_store(settings)
    try:
        build = Build(store=store, gen=copy.deepcopy(pool.gen), pool_docs=copy.deepcopy(pool.pool_docs),
                      pool_vectors=list(pool.pool_vectors), pool_chunks=pool.pool_chunks, embed_s=pool.embed_s)
        seconds = grow(build, args.chunks, np.random.default_rng(args.seed), args.noise)
        questions, _ = make_questions(build, args.sessions * args.questions, 0, min(args.chunks, args.pool))
        docs, chunks = store.catalog.counts()
        return {"seconds": seconds, "documents": docs, "chunks": chunks, "questions": questions,
                "embed_s": build.embed_s}
    finally:
        store.close()


# -- the app processes -----------------------------------------------------------------------------


def child(args: argparse.Namespace) -> int:
    """One app process: one Assistant, --sessions threads; prints ready, waits for go, prints its results as JSON."""
    from assistant.assistant import Assistant

    settings = Settings.model_validate_json(Path(args.child).read_text(encoding="utf-8"))
    questions = json.loads(Path(args.questions_file).read_text(encoding="utf-8"))
    assistant = Assistant(settings)
    assistant.ask(questions[0])  # warm up: model, store, caches
    latencies: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()
    print("ready", flush=True)
    sys.stdin.readline()

    def session(n: int) -> None:
        mine = questions[n * args.questions : (n + 1) * args.questions] or questions[: args.questions]
        for q in mine:
            started = time.perf_counter()
            try:
                assistant.ask(q)
                with lock:
                    latencies.append(time.perf_counter() - started)
            except Exception:  # noqa: BLE001 - every failure is reported, none stops the run
                with lock:
                    errors.append(traceback.format_exc(limit=3)[-500:])

    started, cpu = time.perf_counter(), time.process_time()
    threads = [threading.Thread(target=session, args=(n,)) for n in range(args.sessions)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    result = {"latencies": latencies, "errors": errors, "seconds": time.perf_counter() - started,
              "cpu_s": time.process_time() - cpu, "max_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}
    print(json.dumps(result), flush=True)
    return 0


def run_processes(label: str, settings: Settings, questions: list[str], args: argparse.Namespace,
                  folder: Path) -> dict[str, Any]:
    """Start the app processes, let them warm up, start all sessions together, gather the results."""
    settings_file = folder / f"{label}.settings.json"
    settings_file.write_text(settings.model_dump_json(), encoding="utf-8")
    questions_file = folder / "questions.json"
    questions_file.write_text(json.dumps(questions), encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    procs = [
        subprocess.Popen(
            [sys.executable, __file__, "--child", str(settings_file), "--questions-file", str(questions_file),
             "--sessions", str(args.sessions), "--questions", str(args.questions)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
        )
        for _ in range(args.processes)
    ]
    for p in procs:
        assert p.stdout is not None
        line = p.stdout.readline().strip()
        if line != "ready":
            raise RuntimeError(f"{label}: an app process did not start: {line} {p.stderr.read() if p.stderr else ''}")
    started = time.perf_counter()
    for p in procs:
        assert p.stdin is not None
        p.stdin.write("go\n")
        p.stdin.flush()
    latencies: list[float] = []
    errors: list[str] = []
    cpu_s, rss = 0.0, []
    for p in procs:
        out, err = p.communicate(timeout=3600)
        if p.returncode != 0:
            errors.append(f"app process exited {p.returncode}: {err[-500:]}")
            continue
        result = json.loads(out.strip().splitlines()[-1])
        latencies += result["latencies"]
        errors += result["errors"]
        cpu_s += result["cpu_s"]
        rss.append(result["max_rss_mb"])
    seconds = time.perf_counter() - started
    return {"label": label, "latencies": latencies, "errors": errors, "seconds": seconds,
            "cpu_per_answer_s": cpu_s / len(latencies) if latencies else None, "max_rss_mb": max(rss, default=None)}


def row(result: dict[str, Any]) -> list[str]:
    lat = result["latencies"]
    return [result["label"], str(len(lat)), str(len(result["errors"])), fmt(p50(lat), 3),
            fmt(percentile(lat, 95), 3), fmt(max(lat, default=None), 3),
            fmt(len(lat) / result["seconds"] if result["seconds"] else None, 1),
            fmt(result.get("cpu_per_answer_s"), 3), fmt(result.get("max_rss_mb"), 0)]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chunks", type=int, default=100_000, help="chunks in the corpus")
    parser.add_argument("--pool", type=int, default=2000, help="chunks embedded with the real model")
    parser.add_argument("--processes", type=int, default=2, help="app processes per configuration")
    parser.add_argument("--sessions", type=int, default=8, help="concurrent sessions (threads) per app process")
    parser.add_argument("--questions", type=int, default=20, help="questions per session")
    parser.add_argument("--noise", type=float, default=0.02, help="noise per dimension of borrowed vectors")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--chroma-url", help="a running Chroma server (default: start one)")
    parser.add_argument("--database-url", help="a running PostgreSQL (default: start one)")
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--questions-file", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child(args)
    if bool(args.chroma_url) != bool(args.database_url):
        parser.error("give both --chroma-url and --database-url, or neither")

    folder = Path(tempfile.mkdtemp(prefix="policyqa-load-shared-"))
    try:
        with (
            (nullcontext(args.chroma_url) if args.chroma_url else chroma_server(folder)) as chroma_url,
            (nullcontext(args.database_url) if args.database_url else postgres_server()) as database_url,
        ):
            base = Settings(store_dir=folder / "embedded", collection=f"load-{os.getpid()}",
                            model_cache_dir=folder / "models")
            configurations = {
                "embedded (Chroma + SQLite in one folder)": base,
                "shared (chroma run + PostgreSQL)": base.with_overrides(
                    store_dir=folder / "host", chroma_url=chroma_url, database_url=database_url),
            }
            model, load_s = load_model(base)
            print(f"model loaded in {load_s:.1f} s; {load_average()}", flush=True)
            pool = Build(store=None, gen=Generator(args.seed))  # type: ignore[arg-type]  # only the pool is built
            build_pool(pool, model, args.pool)
            built: dict[str, dict[str, Any]] = {}
            for label, settings in configurations.items():
                built[label] = populate(settings, pool, args)
                b = built[label]
                print(f"{label}: wrote {b['documents']} documents, {b['chunks']} chunks in {b['seconds']:.1f} s",
                      flush=True)
            del model
            questions = next(iter(built.values()))["questions"]
            results = []
            for label, settings in configurations.items():
                results.append(run_processes(label, settings, questions, args, folder))
                print(f"{label}: done; {load_average()}", flush=True)
    finally:
        shutil.rmtree(folder, ignore_errors=True)

    print()
    print(f"{args.processes} app processes x {args.sessions} sessions x {args.questions} questions; "
          f"{next(iter(built.values()))['chunks']} chunks; {load_average()}")
    print(table(["store", "answered", "errors", "p50 s", "p95 s", "max s", "answers/s", "app CPU s/answer", "app RSS MB"], [row(r) for r in results]))
    for r in results:
        for e in r["errors"][:5]:
            print(f"{r['label']} error: {e}")
    if args.json:
        args.json.write_text(json.dumps({"args": {k: v for k, v in vars(args).items() if k != "json"},
                                         "results": results, "built": {k: {kk: vv for kk, vv in v.items()
                                                                           if kk != "questions"}
                                                                       for k, v in built.items()}},
                                        indent=2, default=str), encoding="utf-8")
    return 1 if any(r["errors"] for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
