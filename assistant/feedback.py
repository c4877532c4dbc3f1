"""Thumbs up or down on answers, appended as JSON lines beside the store for later evaluation."""

from __future__ import annotations

import datetime as dt
import json
import threading
from pathlib import Path

from policyqa.types import Answer

_LOCK = threading.Lock()


def feedback_path(store_dir: Path) -> Path:
    return store_dir / "feedback.jsonl"


def record_feedback(store_dir: Path, question: str, answer: Answer, rating: int, *, comment: str = "") -> Path:
    """Append one record: ``rating`` is 1 (thumbs up) or 0 (thumbs down)."""
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
        "comment": comment,
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
