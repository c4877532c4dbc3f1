"""Saved conversations: each chat's turns, with their citations, kept in a SQLite file of the store folder."""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
import threading
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from policyqa.types import Answer, Citation, DocType, Passage, StoredChunk, SupportReport, Turn

CHATS_FILE = "chats.sqlite3"
_SCHEMA = """
CREATE TABLE IF NOT EXISTS chats (
    chat_id TEXT PRIMARY KEY, title TEXT NOT NULL, created_at TEXT NOT NULL, updated_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS turns (
    chat_id TEXT NOT NULL REFERENCES chats(chat_id) ON DELETE CASCADE, position INTEGER NOT NULL,
    question TEXT NOT NULL, answer TEXT NOT NULL, PRIMARY KEY (chat_id, position)
);
"""
TITLE_CHARS = 80


@dataclass(frozen=True, slots=True)
class ChatSummary:
    """A row of the chat list: the title is the first question unless the user renamed it."""

    chat_id: str
    title: str
    created_at: str
    updated_at: str
    turns: int


def chats_path(store_dir: Path) -> Path:
    return Path(store_dir) / CHATS_FILE


class ChatStore:
    """Chats and their turns; safe to share between the threads of one process (one lock, one connection)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, check_same_thread=False, timeout=30)
        self._db.execute("PRAGMA foreign_keys = ON")
        self._db.execute("PRAGMA journal_mode = WAL")
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def create(self, title: str = "New chat") -> str:
        chat_id = uuid.uuid4().hex[:12]
        now = _now()
        with self._lock, self._db:
            self._db.execute("INSERT INTO chats VALUES (?,?,?,?)", (chat_id, _title(title), now, now))
        return chat_id

    def add_turn(self, chat_id: str, turn: Turn) -> int:
        """Append a turn; the first one names the chat after its question (unless it was renamed). Returns its index."""
        now = _now()
        with self._lock, self._db:
            row = self._db.execute("SELECT COUNT(*) FROM turns WHERE chat_id = ?", (chat_id,)).fetchone()
            position = int(row[0])
            if self._db.execute("SELECT 1 FROM chats WHERE chat_id = ?", (chat_id,)).fetchone() is None:
                self._db.execute("INSERT INTO chats VALUES (?,?,?,?)", (chat_id, _title(turn.question), now, now))
            elif position == 0:
                self._db.execute(
                    "UPDATE chats SET title = ? WHERE chat_id = ? AND title = 'New chat'",
                    (_title(turn.question), chat_id),
                )
            self._db.execute(
                "INSERT INTO turns VALUES (?,?,?,?)",
                (chat_id, position, turn.question, json.dumps(answer_to_dict(turn.answer), ensure_ascii=False)),
            )
            self._db.execute("UPDATE chats SET updated_at = ? WHERE chat_id = ?", (now, chat_id))
        return position

    def turns(self, chat_id: str) -> list[Turn]:
        with self._lock:
            rows = self._db.execute(
                "SELECT question, answer FROM turns WHERE chat_id = ? ORDER BY position", (chat_id,)
            ).fetchall()
        return [Turn(question, answer_from_dict(json.loads(answer))) for question, answer in rows]

    def get(self, chat_id: str) -> ChatSummary | None:
        found = [c for c in self.list() if c.chat_id == chat_id]
        return found[0] if found else None

    def list(self) -> list[ChatSummary]:
        """Every chat, the most recently used first."""
        with self._lock:
            rows = self._db.execute(
                "SELECT c.chat_id, c.title, c.created_at, c.updated_at, COUNT(t.position) FROM chats c "
                "LEFT JOIN turns t ON t.chat_id = c.chat_id GROUP BY c.chat_id ORDER BY c.updated_at DESC, c.rowid DESC"
            ).fetchall()
        return [ChatSummary(*row) for row in rows]

    def rename(self, chat_id: str, title: str) -> None:
        with self._lock, self._db:
            self._db.execute("UPDATE chats SET title = ? WHERE chat_id = ?", (_title(title), chat_id))

    def delete(self, chat_id: str) -> None:
        with self._lock, self._db:
            self._db.execute("DELETE FROM turns WHERE chat_id = ?", (chat_id,))
            self._db.execute("DELETE FROM chats WHERE chat_id = ?", (chat_id,))


def open_chats(store_dir: Path) -> ChatStore:
    return ChatStore(chats_path(store_dir))


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="microseconds")


def _title(text: str) -> str:
    text = " ".join(str(text).split()) or "New chat"
    return text if len(text) <= TITLE_CHARS else text[: TITLE_CHARS - 1].rstrip() + "\u2026"


# -- answers as JSON: everything a reopened chat shows, including its citations ---------------------------


def _chunk_to_dict(chunk: StoredChunk) -> dict[str, Any]:
    return {
        "chunk_id": chunk.chunk_id, "doc_id": chunk.doc_id, "index": chunk.index, "text": chunk.text,
        "page": chunk.page, "start": chunk.start, "end": chunk.end, "headings": list(chunk.headings),
        "title": chunk.title, "doc_type": chunk.doc_type.value, "published": chunk.published, "source": chunk.source,
        "context": chunk.context, "tags": list(chunk.tags), "dates": list(chunk.dates),
    }


def _chunk_from_dict(d: dict[str, Any]) -> StoredChunk:
    return StoredChunk(
        chunk_id=d["chunk_id"], doc_id=d["doc_id"], index=d["index"], text=d["text"], page=d["page"],
        start=d["start"], end=d["end"], headings=tuple(d["headings"]), title=d["title"],
        doc_type=DocType.parse(d["doc_type"]), published=d["published"], source=d["source"],
        context=d.get("context", ""), tags=tuple(d.get("tags", ())), dates=tuple(d.get("dates", ())),
    )


def _passage_to_dict(p: Passage) -> dict[str, Any]:
    return {"chunk": _chunk_to_dict(p.chunk), "score": p.score, "dense_rank": p.dense_rank,
            "lexical_rank": p.lexical_rank, "dense_score": p.dense_score}


def _passage_from_dict(d: dict[str, Any]) -> Passage:
    return Passage(chunk=_chunk_from_dict(d["chunk"]), score=d["score"], dense_rank=d.get("dense_rank"),
                   lexical_rank=d.get("lexical_rank"), dense_score=d.get("dense_score"))


def answer_to_dict(answer: Answer) -> dict[str, Any]:
    """The answer as JSON-safe data; the retrieved passages not cited or shown are left out."""
    return {
        "text": answer.text,
        "citations": [
            {"number": c.number, "passage": _passage_to_dict(c.passage), "quote_start": c.quote_start,
             "quote_end": c.quote_end}
            for c in answer.citations
        ],
        "answerable": answer.answerable, "query": answer.query, "backend": answer.backend, "notice": answer.notice,
        "related": [_passage_to_dict(p) for p in answer.related], "scope": answer.scope,
        "timings": dict(answer.timings),
        "support": None if answer.support is None else {
            "supported": answer.support.supported, "unsupported": answer.support.unsupported,
            "uncited": answer.support.uncited, "flagged": list(answer.support.flagged),
        },
    }


def answer_from_dict(d: dict[str, Any]) -> Answer:
    support = d.get("support")
    return Answer(
        text=d["text"],
        citations=tuple(
            Citation(number=c["number"], passage=_passage_from_dict(c["passage"]), quote_start=c["quote_start"],
                     quote_end=c["quote_end"])
            for c in d["citations"]
        ),
        answerable=d["answerable"], query=d["query"], backend=d.get("backend", "offline"), notice=d.get("notice"),
        related=tuple(_passage_from_dict(p) for p in d.get("related", ())), scope=d.get("scope", ""),
        timings=dict(d.get("timings", {})),
        support=None if support is None else SupportReport(
            supported=support["supported"], unsupported=support["unsupported"], uncited=support["uncited"],
            flagged=tuple(support["flagged"]),
        ),
    )

