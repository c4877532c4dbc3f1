"""Memory and time of ingesting one very large text file: the pipeline must stream it, not hold it.

Usage: python benchmarks/big_file.py [--mb 50] [--limit-mb 400]

Writes a policy-like text file of ``--mb`` megabytes, raises the file-size limit above it, and ingests it together
with one small document into a temporary embedded store. Embedding is replaced by the tests' hashing embedder (one
dimension per word hash): the model's own memory and speed are not what this measures, and
the real model would take most of an hour over 60,000 chunks. A thread samples this process's resident memory;
the figure is the peak rise over the resident memory before the ingest.
Target: the peak rise stays under ``--limit-mb`` (400 MB; measured about 240 MB for 50 MB when it was set).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from _common import load_average

from ingest.pipeline import ingest_paths
from policyqa.settings import Settings
from tests.big_files import MB, PeakRss, write_text_of_size
from tests.fakes import FakeEmbedder


class HashingEmbedder(FakeEmbedder):
    """The tests' word-hash embedder without its record of encoded texts, which would itself hold the whole file."""

    def encode(self, texts: list[str]) -> np.ndarray:
        vectors = super().encode(texts)
        self.encoded.clear()
        return vectors


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=int, default=50, help="size of the generated file in megabytes")
    parser.add_argument("--limit-mb", type=float, default=400.0, help="target: peak resident memory rise")
    args = parser.parse_args()
    print(load_average())
    with tempfile.TemporaryDirectory(prefix="policyqa-bench-") as tmp:
        work = Path(tmp)
        big = write_text_of_size(work / "dump.txt", args.mb * MB)
        small = work / "small.md"
        small.write_text("# Zinc refining\n\nThe refinery will recover indium and germanium.\n", encoding="utf-8")
        settings = Settings(store_dir=work / "store", max_file_mb=args.mb + 10)
        started = time.perf_counter()
        with PeakRss() as rss:
            report = ingest_paths([small, big], settings, embedder=HashingEmbedder(max_tokens=256))
        seconds = time.perf_counter() - started
        print(f"{args.mb} MB text file and one small document: {report.summary()} (wall {seconds:.1f} s)")
        verdict = "meets" if rss.peak_delta_mb < args.limit_mb and report.ok else "MISSES"
        print(f"peak resident memory rise {rss.peak_delta_mb:.0f} MB ({verdict} the < {args.limit_mb:.0f} MB target)")
        print(load_average())
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
