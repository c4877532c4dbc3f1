"""Ingestion throughput with the real model: the pipeline against raw encode on the same texts, and re-ingest cost.

Usage: python benchmarks/ingest.py [--docs N] [--corpus corpus] [--rounds R] [--profile]

Ingests the corpus folder and a generated corpus of N policy-like documents (300-600 words each) into
temporary stores. The generated corpus goes in R parts, each followed by a raw encode, with the same
embedder object, of exactly the texts that part embedded (chunk.indexed_text); alternating keeps load
from other processes from favouring either side. Then the unchanged generated corpus is re-ingested.
Targets: pipeline >= 85% of raw encode throughput; unchanged re-ingest < 5% of the first ingest.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import io
import pstats
import random
import resource
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from ingest.pipeline import ingest_paths  # noqa: E402
from policyqa.embedding import SentenceEmbedder, load_embedder  # noqa: E402
from policyqa.settings import Settings  # noqa: E402
from policyqa.types import FileOutcome, IngestReport  # noqa: E402

PIPELINE_TARGET = 0.85
REINGEST_TARGET = 0.05

_SUBJECTS = [
    "The Department of Energy",
    "The Department of Defense",
    "The Secretary of the Interior",
    "The Office of Strategic Capital",
    "The Export-Import Bank",
    "The Development Finance Corporation",
    "Each agency head",
    "The National Energy Dominance Council",
    "The U.S. Geological Survey",
    "The Secretary of Commerce",
]
_VERBS = [
    "shall prioritize",
    "may provide loans for",
    "will take an equity stake in",
    "shall review permits for",
    "is directed to expand",
    "shall report to the President on",
    "may impose tariffs on",
    "shall coordinate",
]
_OBJECTS = [
    "domestic lithium production",
    "rare earth magnet manufacturing",
    "processed critical minerals",
    "copper smelting capacity",
    "the Ambler Road project",
    "zinc and germanium refining",
    "graphite anode supply",
    "the national defense stockpile",
    "offshore seabed mineral exploration",
    "cobalt and nickel processing",
]
_QUALIFIERS = [
    "within 90 days of the date of this order",
    "consistent with applicable law",
    "under Section 232 of the Trade Expansion Act of 1962",
    "with a price floor of $110 per kilogram",
    "through a $400 million preferred equity investment",
    "subject to the availability of appropriations",
    "in coordination with Inc. partners",
    "to reduce reliance on foreign adversaries",
    "as identified in the 2025 critical minerals list",
]


def generate_corpus(folder: Path, count: int, seed: int = 14241) -> list[Path]:
    """Write ``count`` Markdown documents of 300-600 words of policy-like prose."""
    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for n in range(count):
        target = rng.randint(300, 600)
        paragraphs: list[str] = []
        words = 0
        while words < target:
            sentences = []
            for _ in range(rng.randint(2, 6)):
                sentence = (
                    f"{rng.choice(_SUBJECTS)} {rng.choice(_VERBS)} {rng.choice(_OBJECTS)} {rng.choice(_QUALIFIERS)}."
                )
                sentences.append(sentence)
                words += len(sentence.split())
            paragraphs.append(" ".join(sentences))
        heading = f"Sec. {rng.randint(1, 9)}. {rng.choice(_OBJECTS).capitalize()}"
        body = f"# Policy memorandum {n}\n\n## {heading}\n\n" + "\n\n".join(paragraphs) + "\n"
        path = folder / f"memo-{n:05d}.md"
        path.write_text(body, encoding="utf-8")
        paths.append(path)
    return paths


class TimedEmbedder:
    """The real embedder, recording every text it encodes and the seconds spent encoding."""

    def __init__(self, inner: SentenceEmbedder) -> None:
        self.inner = inner
        self.name = inner.name
        self.max_tokens = inner.max_tokens
        self.texts: list[str] = []
        self.seconds = 0.0

    def encode(self, texts: list[str]) -> np.ndarray:
        started = time.perf_counter()
        vectors = self.inner.encode(texts)
        self.seconds += time.perf_counter() - started
        self.texts.extend(texts)
        return vectors

    def count_tokens(self, texts: list[str]) -> list[int]:
        return self.inner.count_tokens(texts)


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kilobytes on Linux


@dataclass
class Timing:
    """Wall seconds, and this process's CPU seconds over all its threads.

    On a machine shared with other jobs the wall clock stretches with their load; CPU seconds barely move,
    so the ratio of CPU-based throughputs is the steadier comparison.
    """

    wall: float = 0.0
    cpu: float = 0.0

    @contextlib.contextmanager
    def measure(self) -> Iterator[None]:
        wall, cpu = time.perf_counter(), time.process_time()
        try:
            yield
        finally:
            self.wall += time.perf_counter() - wall
            self.cpu += time.process_time() - cpu

    def rates(self, items: int) -> str:
        return (
            f"seconds {self.wall:7.1f} (CPU {self.cpu:7.1f})  chunks/s {items / self.wall:6.1f} "
            f"(per CPU-s {items / self.cpu:6.2f})"
        )


def ingest(paths: list[Path], settings: Settings, embedder: TimedEmbedder, profile: bool) -> IngestReport:
    if not profile:
        return ingest_paths(paths, settings, embedder=embedder)
    profiler = cProfile.Profile()
    report = profiler.runcall(ingest_paths, paths, settings, embedder=embedder)
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(30)
    print(out.getvalue())
    return report


def ingest_and_encode(
    paths: list[Path], settings: Settings, model: SentenceEmbedder, rounds: int, profile: bool
) -> tuple[IngestReport, Timing, Timing]:
    """Ingest ``paths`` in ``rounds`` parts, each followed by a raw encode of exactly the texts it embedded.

    Alternating the two spreads any load from other processes over both measurements alike.

    Returns:
        The combined report, the pipeline's timing and the raw encodes' timing.
    """
    size = -(-len(paths) // rounds)
    files: list[FileOutcome] = []
    pipeline, raw = Timing(), Timing()
    encode_seconds = 0.0
    for start in range(0, len(paths), size):
        embedder = TimedEmbedder(model)
        with pipeline.measure():
            report = ingest(paths[start : start + size], settings, embedder, profile=profile and start == 0)
        files.extend(report.files)
        encode_seconds += embedder.seconds
        with raw.measure():
            model.encode(embedder.texts)
    combined = IngestReport(files=tuple(files), seconds=pipeline.wall)
    print(report_line(f"generated ({len(paths)} docs)", combined, pipeline, encode_seconds) + f"  rounds {rounds}")
    return combined, pipeline, raw


def report_line(label: str, report: IngestReport, timing: Timing, encode_seconds: float) -> str:
    return (
        f"{label:<22} files {len(report.files):>5}  chunks {report.chunks:>6}  {timing.rates(report.chunks)}  "
        f"encode share {encode_seconds / timing.wall:5.1%}  peak RSS {peak_rss_mb():6.0f} MB"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=200, help="documents in the generated corpus")
    parser.add_argument("--corpus", type=Path, default=ROOT / "corpus", help="a real corpus folder to ingest first")
    parser.add_argument("--rounds", type=int, default=5, help="alternate pipeline and raw encode this many times")
    parser.add_argument("--profile", action="store_true", help="cProfile the first round of the generated corpus")
    args = parser.parse_args()

    base = Settings()
    started = time.perf_counter()
    model = load_embedder(base)
    model.encode(["warm up the model"] * 8)
    print(f"model {model.name}: loaded in {time.perf_counter() - started:.1f} s, max {model.max_tokens} tokens")

    with tempfile.TemporaryDirectory(prefix="policyqa-bench-") as tmp:
        work = Path(tmp)
        if args.corpus.is_dir():
            embedder, timing = TimedEmbedder(model), Timing()
            settings = base.with_overrides(store_dir=work / "store-corpus", collection="bench-corpus")
            with timing.measure():
                report = ingest([args.corpus], settings, embedder, profile=False)
            print(report_line(f"corpus {args.corpus.name}/", report, timing, embedder.seconds))
            if not report.ok:
                print("  failures:", [f.message for f in report.files if f.message])

        paths = generate_corpus(work / "generated", args.docs)
        settings = base.with_overrides(store_dir=work / "store-generated", collection="bench-generated")
        first, pipeline, raw = ingest_and_encode(paths, settings, model, args.rounds, args.profile)
        print(f"{'raw encode':<22} {'':11}  texts  {first.chunks:>6}  {raw.rates(first.chunks)}")
        wall_ratio, cpu_ratio = raw.wall / pipeline.wall, raw.cpu / pipeline.cpu
        verdict = "meets" if min(wall_ratio, cpu_ratio) >= PIPELINE_TARGET else "MISSES"
        print(
            f"pipeline / raw encode throughput: {wall_ratio:.1%} by wall clock, {cpu_ratio:.1%} by CPU time "
            f"({verdict} the {PIPELINE_TARGET:.0%} target)"
        )

        again = TimedEmbedder(model)
        second = ingest_paths(paths, settings, embedder=again)
        reingest = second.seconds / first.seconds
        verdict = "meets" if reingest < REINGEST_TARGET else "MISSES"
        print(
            f"re-ingest unchanged: {second.seconds:.2f} s, {len(again.texts)} texts embedded, "
            f"{second.summary()}; re-ingest / first: {reingest:.1%} ({verdict} the < {REINGEST_TARGET:.0%} target)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
