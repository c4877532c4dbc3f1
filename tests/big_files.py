"""Large inputs and a resident-memory probe, shared by the bad-input tests and ``benchmarks/big_file.py``."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import psutil

MB = 1024 * 1024


def write_text_of_size(path: Path, size: int) -> Path:
    """Real policy-like text, ``size`` bytes long, in paragraphs ("Section N. ..." each)."""
    paragraph = (
        "Section {i}. The Department of Energy shall report on lithium, cobalt and graphite supplies to the "
        "U.S. Congress every year, and agencies shall coordinate permits for mines and refineries.\n\n"
    )
    with path.open("w", encoding="utf-8") as out:
        written, i = 0, 0
        while written < size:
            piece = paragraph.format(i=i)
            out.write(piece)
            written += len(piece)
            i += 1
    return path


class PeakRss:
    """Samples this process's resident memory in a thread; ``peak_delta_mb`` is the rise over the start."""

    def __init__(self, interval: float = 0.02) -> None:
        self.process, self.interval = psutil.Process(), interval
        self.base = self.peak = self.process.memory_info().rss
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self.process.memory_info().rss)
            time.sleep(self.interval)

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self.process.memory_info().rss)

    @property
    def peak_delta_mb(self) -> float:
        return (self.peak - self.base) / MB
