"""Helpers shared by the benchmark scripts: import path, model loading, percentiles, load average, tables."""

from __future__ import annotations

import os
import statistics
import sys
import time
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # the package is installed editable; this only helps a bare checkout

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")

from policyqa.embedding import SentenceEmbedder, load_embedder  # noqa: E402
from policyqa.settings import Settings  # noqa: E402


def load_model(settings: Settings) -> tuple[SentenceEmbedder, float]:
    """The process-wide embedder, warmed up; returns it and the seconds loading took."""
    started = time.perf_counter()
    model = load_embedder(settings)
    model.encode(["warm up the model"] * 8)
    return model, time.perf_counter() - started


def percentile(values: Sequence[float], q: float) -> float | None:
    """Nearest-rank percentile (``q`` in 0..100), the same rule assistant.evaluation uses for p95."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


def p50(values: Sequence[float]) -> float | None:
    return statistics.median(values) if values else None


def load_average() -> str:
    """The 1/5/15-minute load averages and the core count, for printing next to timings."""
    try:
        one, five, fifteen = os.getloadavg()
    except OSError:
        return "load average unavailable"
    return f"load average {one:.2f} {five:.2f} {fifteen:.2f} on {os.cpu_count()} cores"


def fmt(value: float | None, digits: int = 2) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def table(head: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Left-aligned first column, right-aligned others, two spaces apart."""
    lines = [list(head), *[list(r) for r in rows]]
    widths = [max(len(line[i]) for line in lines) for i in range(len(head))]
    return "\n".join(
        "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(line, widths, strict=True)))
        for line in lines
    )
