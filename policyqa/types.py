"""Plain value types that cross module boundaries: documents, chunks, passages, answers, reports."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum


class DocType(StrEnum):
    ARTICLE = "article"
    FILING = "filing"
    POLICY = "policy"
    OTHER = "other"

    @classmethod
    def parse(cls, value: object) -> DocType:
        """Map free text ("Filing", "press release", None) onto a DocType, defaulting to OTHER."""
        text = str(value or "").strip().lower()
        aliases = {
            "news": cls.ARTICLE, "press release": cls.ARTICLE, "explainer": cls.ARTICLE,
            "timeline": cls.ARTICLE, "8-k": cls.FILING, "10-k": cls.FILING, "10-q": cls.FILING,
            "executive order": cls.POLICY, "order": cls.POLICY, "law": cls.POLICY,
        }
        if text in aliases:
            return aliases[text]
        try:
            return cls(text)
        except ValueError:
            return cls.OTHER


@dataclass(frozen=True, slots=True)
class DocumentMeta:
    """What a citation shows about a document, and what incremental ingest compares."""

    doc_id: str
    title: str
    source: str
    doc_type: DocType = DocType.OTHER
    published: str | None = None  # ISO date, YYYY-MM-DD
    publisher: str | None = None
    content_hash: str = ""
    sources: tuple[str, ...] = ()  # public addresses the document's facts come from

    @property
    def published_ord(self) -> int:
        """The date as an int YYYYMMDD (0 when unknown): Chroma filters compare numbers only."""
        return date_ord(self.published)


def date_ord(value: str | dt.date | None) -> int:
    if value is None or value == "":
        return 0
    if isinstance(value, dt.date):
        return value.year * 10000 + value.month * 100 + value.day
    text = str(value)[:10]
    try:
        d = dt.date.fromisoformat(text)
    except ValueError:
        return 0
    return d.year * 10000 + d.month * 100 + d.day


@dataclass(frozen=True, slots=True)
class Section:
    """A run of text with one provenance: a PDF page, or a part of a document under one heading path."""

    text: str
    page: int | None = None  # 1-based page number for paged formats
    headings: tuple[str, ...] = ()
    offset: int = 0  # character offset of ``text`` within the whole document text


@dataclass(frozen=True, slots=True)
class LoadedDocument:
    meta: DocumentMeta
    sections: tuple[Section, ...]
    warnings: tuple[str, ...] = ()

    @property
    def text(self) -> str:
        return "\n\n".join(s.text for s in self.sections)


@dataclass(frozen=True, slots=True)
class Chunk:
    """One embedded passage; ``text`` is exactly ``section.text[start:end]`` of its section."""

    doc_id: str
    index: int
    text: str
    page: int | None
    start: int  # span within the page (paged formats) or within the document text
    end: int
    headings: tuple[str, ...] = ()
    context: str = ""  # header prepended to the embedded and lexically indexed text, never shown
    tags: tuple[str, ...] = ()  # minerals and jurisdictions mentioned (ingest.annotate)
    dates: tuple[str, ...] = ()  # ISO dates stated in the text

    @property
    def chunk_id(self) -> str:
        return f"{self.doc_id}:{self.index:05d}"

    @property
    def indexed_text(self) -> str:
        return f"{self.context}\n{self.text}" if self.context else self.text


@dataclass(frozen=True, slots=True)
class Filters:
    """Restrictions on retrieval, rendered identically for Chroma and for SQLite."""

    doc_types: tuple[DocType, ...] = ()
    date_from: str | None = None
    date_to: str | None = None
    doc_ids: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()  # any of these minerals or jurisdictions

    @property
    def empty(self) -> bool:
        return not (self.doc_types or self.date_from or self.date_to or self.doc_ids or self.tags)


@dataclass(frozen=True, slots=True)
class StoredChunk:
    """A chunk read back from the store together with the document fields a citation needs."""

    chunk_id: str
    doc_id: str
    index: int
    text: str
    page: int | None
    start: int
    end: int
    headings: tuple[str, ...]
    title: str
    doc_type: DocType
    published: str | None
    source: str
    context: str = ""
    tags: tuple[str, ...] = ()
    dates: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class DocumentRecord:
    """A row of the document registry."""

    meta: DocumentMeta
    chunk_count: int
    state: str  # "complete" or "pending"
    ingested_at: str


class Outcome(StrEnum):
    ADDED = "added"
    UPDATED = "updated"
    UNCHANGED = "unchanged"
    REMOVED = "removed"
    SKIPPED = "skipped"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class FileOutcome:
    path: str
    outcome: Outcome
    doc_id: str | None = None
    chunks: int = 0
    message: str = ""  # one line: the error, the skip reason or a warning


@dataclass(frozen=True, slots=True)
class IngestReport:
    files: tuple[FileOutcome, ...]
    seconds: float

    def count(self, outcome: Outcome) -> int:
        return sum(1 for f in self.files if f.outcome is outcome)

    @property
    def chunks(self) -> int:
        return sum(f.chunks for f in self.files if f.outcome in (Outcome.ADDED, Outcome.UPDATED))

    @property
    def ok(self) -> bool:
        return self.count(Outcome.FAILED) == 0

    def summary(self) -> str:
        parts = [f"{self.count(o)} {o.value}" for o in Outcome if o is not Outcome.SKIPPED]
        skipped = self.count(Outcome.SKIPPED)
        if skipped:
            parts.append(f"{skipped} skipped")
        chunks = f"{self.chunks} chunk" + ("" if self.chunks == 1 else "s")
        return f"{', '.join(parts)}; {chunks} in {self.seconds:.1f} s"


@dataclass(frozen=True, slots=True)
class Progress:
    """Reported by long work through an ``on_progress`` callback: ``done`` of ``total`` in ``stage``."""

    stage: str  # "files" or "chunks"
    done: int
    total: int
    item: str = ""


ProgressCallback = Callable[[Progress], None]


@dataclass(frozen=True, slots=True)
class Passage:
    """A retrieved chunk with its fused score and its rank in each retriever (None = not found there)."""

    chunk: StoredChunk
    score: float
    dense_rank: int | None = None
    lexical_rank: int | None = None
    dense_score: float | None = None


@dataclass(frozen=True, slots=True)
class Citation:
    number: int
    passage: Passage
    quote_start: int = 0  # span of the cited sentence inside passage.chunk.text
    quote_end: int = 0

    @property
    def chunk(self) -> StoredChunk:
        return self.passage.chunk

    @property
    def quote(self) -> str:
        return self.chunk.text[self.quote_start : self.quote_end]


@dataclass(frozen=True, slots=True)
class SupportReport:
    """Per-answer verification of cited sentences against their passages."""

    supported: int = 0
    unsupported: int = 0
    uncited: int = 0
    flagged: tuple[str, ...] = ()  # sentences that failed verification


@dataclass(frozen=True, slots=True)
class Answer:
    text: str
    citations: tuple[Citation, ...]
    answerable: bool
    query: str
    backend: str = "offline"
    notice: str | None = None
    related: tuple[Passage, ...] = ()  # closest passages, shown when not answerable
    passages: tuple[Passage, ...] = ()  # everything retrieved, in rank order
    scope: str = ""  # how the question's time words narrowed the search, e.g. "published 2025-04-01 to 2025-04-30"
    timings: dict[str, float] = field(default_factory=dict)
    support: SupportReport | None = None


@dataclass(frozen=True, slots=True)
class Turn:
    question: str
    answer: Answer
