"""Load: many chat sessions at once against one Assistant, as the Streamlit server runs them (one thread each).

Usage: python benchmarks/load.py [--sessions 8] [--questions 50] [--corpus corpus/] [--writer-docs 0] [--json PATH]

The corpus is ingested with the real model into a temporary store; then one Assistant (one model, one
store: what the app's cached factory builds) serves ``--sessions`` threads, each a Conversation asking
``--questions`` questions from tests/eval/questions.yaml in turn (follow-ups after the question they
follow, so history is used), all starting together. A single session asking the same questions alone
gives the baseline. With ``--writer-docs N`` a separate process runs `policyqa ingest` on N generated
documents into the same store while the sessions ask, as an operator's CLI ingest would during the day.

Prints per-question latency p50/p95/max, throughput, and every error; exits 1 if any question failed.
Targets: no errors; p95 under sessions x the single-session p50 (the model is shared, so questions queue).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from dataclasses import asdict, dataclass, field
from pathlib import Path

from _common import ROOT, fmt, load_average, load_model, p50, percentile, table

from assistant.assistant import Assistant, Conversation
from assistant.evalset import load_question_set
from ingest.pipeline import ingest_paths
from policyqa.settings import Settings
from policyqa.store import open_store
from policyqa.types import Answer


@dataclass
class Run:
    label: str
    sessions: int
    questions: int
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    refusals: int = 0

    def row(self) -> list[str]:
        answered = len(self.latencies)
        return [
            self.label, f"{self.sessions} x {self.questions}", str(answered), str(len(self.errors)), str(self.refusals),
            fmt(p50(self.latencies), 3),
            fmt(percentile(self.latencies, 95), 3),
            fmt(max(self.latencies, default=None), 3),
            fmt(answered / self.seconds if self.seconds else None, 1),
        ]


def question_plan(path: Path, count: int, offset: int) -> list[tuple[str, bool]]:
    """``count`` questions in set order, starting ``offset`` conversations in; True marks a new conversation."""
    qs = load_question_set(path).questions
    plan: list[tuple[str, bool]] = []
    i = offset % len(qs)
    while len(plan) < count:
        q = qs[i]
        plan.append((q.question, q.follows is None))
        i = (i + 1) % len(qs)
    return plan


def run_sessions(assistant: Assistant, questions_file: Path, sessions: int, per_session: int, label: str) -> Run:
    run = Run(label, sessions, per_session)
    lock = threading.Lock()
    barrier = threading.Barrier(sessions)

    def session(n: int) -> None:
        conversation = Conversation(assistant)
        plan = question_plan(questions_file, per_session, offset=n * 7)
        barrier.wait()
        for question, fresh in plan:
            if fresh:
                conversation.reset()
            started = time.perf_counter()
            try:
                answer = conversation.ask(question)
                assert isinstance(answer, Answer) and answer.text, "empty answer"
            except Exception as exc:  # every failure is counted and shown
                with lock:
                    trace = traceback.format_exc()
                    run.errors.append(f"session {n}: {question!r}: {type(exc).__name__}: {exc}\n{trace}")
                continue
            with lock:
                run.latencies.append(time.perf_counter() - started)
                run.refusals += not answer.answerable

    threads = [threading.Thread(target=session, args=(n,)) for n in range(sessions)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    run.seconds = time.perf_counter() - started
    return run


def start_writer(settings: Settings, folder: Path, docs: int) -> subprocess.Popen[bytes]:
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(docs):
        (folder / f"load-{i:04d}.md").write_text(
            f"# Allocation notice {i}\n\nThe Department of Energy allocated {10 + i} million dollars to lithium "
            f"refining project {i} in county {i % 50}. The grant agreement number is LN-{i:05d}.\n",
            encoding="utf-8",
        )
    env = {**os.environ, "POLICYQA_STORE_DIR": str(settings.store_dir), "POLICYQA_COLLECTION": settings.collection}
    policyqa = Path(sys.executable).parent / "policyqa"
    return subprocess.Popen([str(policyqa), "ingest", "--quiet", str(folder)], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=8)
    parser.add_argument("--questions", type=int, default=50, help="questions per session")
    parser.add_argument("--corpus", type=Path, default=ROOT / "corpus")
    parser.add_argument("--question-set", type=Path, default=ROOT / "tests" / "eval" / "questions.yaml")
    parser.add_argument("--writer-docs", type=int, default=0, help="documents a CLI ingest writes during the load")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="policyqa-load-") as tmp:
        settings = Settings(store_dir=Path(tmp) / "store", collection="load")
        embedder, load_s = load_model(settings)
        store = open_store(settings)
        started = time.perf_counter()
        report = ingest_paths([args.corpus], settings, store=store, embedder=embedder)
        ingest_s = time.perf_counter() - started
        stats = store.stats()
        print(f"model loaded in {load_s:.1f} s; ingested {args.corpus} ({report.summary()}) in {ingest_s:.1f} s: "
              f"{stats.documents} documents, {stats.chunks} chunks")
        assistant = Assistant(settings, store=store, embedder=embedder)
        run_sessions(assistant, args.question_set, 1, 5, "warm-up")

        baseline = run_sessions(assistant, args.question_set, 1, args.questions, "one session alone")
        writer = start_writer(settings, Path(tmp) / "writer", args.writer_docs) if args.writer_docs else None
        loaded = run_sessions(assistant, args.question_set, args.sessions, args.questions, "concurrent sessions")
        writer_note = ""
        if writer is not None:
            overlapped = writer.poll() is None
            _, err = writer.communicate(timeout=1800)
            writer_note = (f"concurrent CLI ingest of {args.writer_docs} documents: exit {writer.returncode}"
                           f"{'' if overlapped else ' (it ended before the sessions did)'}")
            if writer.returncode != 0:
                loaded.errors.append(f"the concurrent ingest failed: {err.decode(errors='replace')[-2000:]}")
        check = store.check()
        final = store.stats()
        store.close()

    head = ["run", "sessions x questions", "answered", "errors", "refusals", "p50 s", "p95 s", "max s", "answers/s"]
    print(load_average())
    print(table(head, [baseline.row(), loaded.row()]))
    if writer_note:
        print(writer_note)
    print(f"store after the load: {final.documents} documents, {final.chunks} chunks; consistent: {check.ok}")
    for error in loaded.errors + baseline.errors:
        print("ERROR", error)
    if not check.ok:
        print("ERROR store inconsistent:", check)
    if args.json:
        args.json.write_text(json.dumps({"baseline": asdict(baseline), "load": asdict(loaded), "check_ok": check.ok,
                                         "writer": writer_note, "load_average": load_average()}, indent=2))
    return 1 if loaded.errors or baseline.errors or not check.ok else 0


if __name__ == "__main__":
    sys.exit(main())
