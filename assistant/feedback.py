"""Thumbs up or down on answers, with an optional comment, appended as JSON lines beside the store."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import threading
from pathlib import Path

from policyqa.types import Answer

_LOCK = threading.Lock()


def feedback_path(store_dir: Path) -> Path:
    return store_dir / "feedback.jsonl"


def record_feedback(
    store_dir: Path, question: str, answer: Answer, rating: int, *, comment: str = "", record_id: str | None = None
) -> Path:
    """Append one record: ``rating`` is 1 (thumbs up) or 0 (thumbs down).

    A later record with the same ``record_id`` (the same answer rated again, or given a comment) replaces the
    earlier one in ``latest_feedback``; the file itself is only ever appended to.
    """
    if isinstance(rating, bool) or not isinstance(rating, int) or rating not in (0, 1):  # True == 1, 1.0 == 1
        raise ValueError("rating must be 0 or 1")
    record = {
        "at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "rating": rating,
        "question": question,
        "query": answer.query,
        "answer": answer.text,
        "answerable": answer.answerable,
        "backend": answer.backend,
        "comment": comment.strip(),
        "id": record_id,
        "citations": [
            {"number": c.number, "doc_id": c.chunk.doc_id, "chunk_id": c.chunk.chunk_id, "title": c.chunk.title,
             "page": c.chunk.page, "quote": c.quote}
            for c in answer.citations
        ],
    }
    path = feedback_path(store_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    with _LOCK, path.open("a", encoding="utf-8") as handle:
        handle.write(json.dumps(record, ensure_ascii=False) + "\n")
    return path


def read_feedback(store_dir: Path) -> list[dict[str, object]]:
    path = feedback_path(store_dir)
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def latest_feedback(store_dir: Path) -> list[dict[str, object]]:
    """One record per rated answer: the last one given for its id, in the order answers were first rated."""
    latest: dict[object, dict[str, object]] = {}
    for number, record in enumerate(read_feedback(store_dir)):
        key = record.get("id") or f"line-{number}"
        latest[key] = record
    return list(latest.values())


CSV_FIELDS = ("at", "rating", "comment", "question", "query", "answer", "answerable", "backend", "sources")


def feedback_csv(records: list[dict[str, object]]) -> str:
    """The records as CSV, one row per answer; ``sources`` lists the cited titles and pages."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=CSV_FIELDS, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for record in records:
        citations = record.get("citations") or []
        sources = "; ".join(
            f"[{c['number']}] {c['title']}" + (f", p. {c['page']}" if c.get("page") is not None else "")
            for c in citations  # type: ignore[union-attr]
        )
        writer.writerow({**record, "rating": "up" if record.get("rating") == 1 else "down", "sources": sources})
    return out.getvalue()
