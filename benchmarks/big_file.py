"""Memory and time of ingesting one very large text file: the pipeline must stream it, not hold it.

Usage: python benchmarks/big_file.py [--mb 50] [--limit-mb 400]

Writes a policy-like text file of ``--mb`` megabytes, raises the file-size limit above it, and ingests it together
with one small document into a temporary embedded store. Embedding is replaced by a hashing embedder (one
dimension per word hash, as the test fakes do): the model's own memory and speed are not what this measures, and
the real model would take most of an hour over 60,000 chunks. A thread samples this process's resident memory;
the figure is the peak rise over the resident memory before the ingest.
Target: the peak rise stays under ``--limit-mb`` (400 MB; measured about 240 MB for 50 MB when it was set).
"""

from __future__ import annotations

import argparse
import hashlib
import re
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import psutil
from _common import load_average

from ingest.pipeline import ingest_paths
from policyqa.settings import Settings

MB = 1024 * 1024
_TOKEN = re.compile(r"\w+|[^\w\s]")
_PARAGRAPH = (
    "Section {i}. The Department of Energy shall report on lithium, cobalt and graphite supplies to the "
    "U.S. Congress every year, and agencies shall coordinate permits for mines and refineries.\n\n"
)


class HashingEmbedder:
    """Vectors from word hashes and a word-count tokenizer: cheap, deterministic, and holding no texts."""

    name, dimension, max_tokens = "hashing", 64, 256

    def count_tokens(self, texts: list[str]) -> list[int]:
        return [len(_TOKEN.findall(t)) + 2 for t in texts]

    def encode(self, texts: list[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in set(_TOKEN.findall(text.lower())):
                out[row, int.from_bytes(hashlib.blake2b(word.encode(), digest_size=4).digest(), "little") % 64] = 1
        out[:, 0] += 1e-3  # never a zero vector
        return out / np.linalg.norm(out, axis=1, keepdims=True)

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self.encode(list(texts)).tolist()

    def embed_query(self, text: str) -> list[float]:
        return self.encode([text])[0].tolist()


class PeakRss:
    """Samples this process's resident memory every 20 ms in a thread; ``rise_mb`` is the peak over the start."""

    def __init__(self) -> None:
        self.process = psutil.Process()
        self.base = self.peak = self.process.memory_info().rss
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self.process.memory_info().rss)
            time.sleep(0.02)

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self.process.memory_info().rss)

    @property
    def rise_mb(self) -> float:
        return (self.peak - self.base) / MB


def write_text(path: Path, size: int) -> Path:
    with path.open("w", encoding="utf-8") as out:
        written, i = 0, 0
        while written < size:
            piece = _PARAGRAPH.format(i=i)
            out.write(piece)
            written += len(piece)
            i += 1
    return path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=int, default=50, help="size of the generated file in megabytes")
    parser.add_argument("--limit-mb", type=float, default=400.0, help="target: peak resident memory rise")
    args = parser.parse_args()
    print(load_average())
    with tempfile.TemporaryDirectory(prefix="policyqa-bench-") as tmp:
        work = Path(tmp)
        big = write_text(work / "dump.txt", args.mb * MB)
        small = work / "small.md"
        small.write_text("# Zinc refining\n\nThe refinery will recover indium and germanium.\n", encoding="utf-8")
        settings = Settings(store_dir=work / "store", max_file_mb=args.mb + 10)
        started = time.perf_counter()
        with PeakRss() as rss:
            report = ingest_paths([small, big], settings, embedder=HashingEmbedder())
        seconds = time.perf_counter() - started
        print(f"{args.mb} MB text file and one small document: {report.summary()} (wall {seconds:.1f} s)")
        verdict = "meets" if rss.rise_mb < args.limit_mb and report.ok else "MISSES"
        print(f"peak resident memory rise {rss.rise_mb:.0f} MB ({verdict} the < {args.limit_mb:.0f} MB target)")
        print(load_average())
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
