"""Assistant: the one place the stages are wired: rewrite the question, retrieve, answer with citations."""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import re
import time
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Protocol

from assistant.deals.answer import DealAnswerer
from assistant.extractive import ExtractiveAnswerer
from assistant.retrieval import Reranker, Retriever
from assistant.rewrite import QueryRewriter, RuleRewriter, changes_subject
from assistant.timeframe import TimeFrame, parse_timeframe
from policyqa.errors import PolicyQAError
from policyqa.types import Answer, Filters, Passage, Turn

if TYPE_CHECKING:
    from policyqa.embedding import TextEmbedder
    from policyqa.settings import Settings
    from policyqa.store import CorpusStore

log = logging.getLogger(__name__)

MAX_QUESTION_CHARS = 2000
# Control characters, and the lone surrogates Python makes of bytes that are not UTF-8 (a terminal's argv):
# neither can be searched for, and surrogates cannot even be encoded for SQLite or a tokenizer.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")


class Answerer(Protocol):
    """Writes an answer from passages; every stated sentence carries a citation into them."""

    name: str

    def answer(
        self, question: str, query: str, passages: Sequence[Passage], *, query_vector: Sequence[float] | None = None
    ) -> Answer: ...

    def stream(
        self, question: str, query: str, passages: Sequence[Passage], *, query_vector: Sequence[float] | None = None
    ) -> Iterator[str | Answer]: ...


def clean_question(question: str) -> tuple[str, str | None]:
    """Strip control characters and bound the length; returns the text and a notice if it was cut."""
    text = _CONTROL.sub(" ", question or "").strip()
    if len(text) > MAX_QUESTION_CHARS:
        return text[:MAX_QUESTION_CHARS], f"The question was cut to its first {MAX_QUESTION_CHARS} characters."
    return text, None


class Assistant:
    """Answers questions over the store; collaborators default to what the settings build."""

    def __init__(
        self,
        settings: Settings,
        *,
        store: CorpusStore | None = None,
        embedder: TextEmbedder | None = None,
        rewriter: QueryRewriter | None = None,
        answerer: Answerer | None = None,
        reranker: Reranker | None = None,
    ) -> None:
        self.settings = settings
        if store is None:
            from policyqa.store import open_store

            store = open_store(settings)
        if embedder is None:
            from policyqa.embedding import load_embedder

            embedder = load_embedder(settings)
        if reranker is None and settings.reranker_model:
            from assistant.rerank import CrossEncoderReranker

            reranker = CrossEncoderReranker(settings.reranker_model)
        self.store = store
        self.embedder = embedder
        self.deals = DealAnswerer(store)
        self.retriever = Retriever(store, embedder, settings, reranker=reranker)
        offline = ExtractiveAnswerer(embedder, settings, term_counts=store.term_counts)
        rules = RuleRewriter()
        # Answer backends by name: the offline answerer always, plus the configured LLM.
        self.backends: dict[str, tuple[QueryRewriter, Answerer]] = {"offline": (rules, offline)}
        if answerer is None and settings.llm:
            from assistant.llm import LLMAnswerer, LLMRewriter, make_chat_model

            model = make_chat_model(settings)
            llm = LLMAnswerer(model, embedder, settings, fallback=offline, name=settings.llm)
            self.backends[llm.name] = (LLMRewriter(model, timeout_s=settings.llm_timeout_s, fallback=rules), llm)
        elif answerer is not None:
            self.backends[answerer.name] = (rewriter or rules, answerer)
        if rewriter is not None:
            self.backends = {name: (rewriter, a) for name, (_, a) in self.backends.items()}
        self.default_backend = answerer.name if answerer is not None else (settings.llm or "offline")

    def warm_up(self) -> None:
        """Run one offline question end to end so the first user's answer pays no first-call costs
        (torch's first forward pass, SQLite page cache, lazily built indexes), then read the deal table in the
        background for the first list question."""
        try:
            self.ask("What did the government announce?", backend="offline")
        except PolicyQAError:
            return  # an unreachable store is reported on the first real question
        self.deals.warm_in_background()

    @property
    def answerer(self) -> Answerer:
        return self.backends[self.default_backend][1]

    @property
    def rewriter(self) -> QueryRewriter:
        return self.backends[self.default_backend][0]

    def ask(
        self,
        question: str,
        history: Sequence[Turn] = (),
        filters: Filters | None = None,
        *,
        query: str | None = None,
        backend: str | None = None,
    ) -> Answer:
        """Answer ``question`` given the conversation so far; ``query`` overrides the rewritten search query."""
        result: Answer | None = None
        for event in self.stream(question, history, filters, query=query, backend=backend):
            if isinstance(event, Answer):
                result = event
        assert result is not None
        return result

    def stream(
        self,
        question: str,
        history: Sequence[Turn] = (),
        filters: Filters | None = None,
        *,
        query: str | None = None,
        backend: str | None = None,
    ) -> Iterator[str | Answer]:
        """Yields text pieces of the answer, then the complete ``Answer`` (with citations) last.

        ``backend`` names one of ``self.backends`` (default: the configured LLM, else "offline").
        """
        rewriter, answerer = self.backends[backend or self.default_backend]
        started = time.perf_counter()
        text, notice = clean_question(question)
        if not text:
            yield Answer(
                text="Please type a question.", citations=(), answerable=False, query="", backend=answerer.name
            )
            return
        query = clean_question(query)[0] if query and query.strip() else rewriter.rewrite(text, history)
        rewritten = time.perf_counter()
        # A list or comparison question about deals is answered from the deal table (the whole corpus's, so not
        # when the search is filtered).
        if (filters is None or filters.empty) and (table := self._deal_table_answer(text, query)) is not None:
            yield table.text
            yield dataclasses.replace(table, notice=notice, timings={"total_s": time.perf_counter() - started})
            return
        # A follow-up that names a new subject ("What about X?") is not about the documents cited so far.
        prefer = _recent_docs(history) if query != text and not changes_subject(text) else ()
        frame = parse_timeframe(text, reference_year=self._reference_year(), event_date=self._event_date)
        asked = text
        if frame.event:
            # "before the Northgate Road decision" dates the question; the event is not what it asks about.
            asked, query = frame.strip_event(text), frame.strip_event(query)
        rewritten_query = query != asked and bool(history)
        vectors = self.embedder.encode([query, asked] if rewritten_query else [query])
        vector = vectors[0]
        passages = self.retriever.search(
            query, filters, query_vector=vector, prefer_docs=prefer,
            prefer=Filters(date_from=frame.date_from, date_to=frame.date_to),
            also=(asked, vectors[1]) if rewritten_query else None,
        )
        scope = _describe(frame)
        if frame.prefer_latest:
            # "latest": newer documents first, so the answer leads with the most recent figure.
            passages = sorted(passages, key=lambda p: p.chunk.published or "", reverse=True)
        retrieved = time.perf_counter()
        answer: Answer | None = None
        for event in answerer.stream(asked, query, passages, query_vector=vector):
            if isinstance(event, Answer):
                answer = event
            else:
                yield event
        assert answer is not None
        finished = time.perf_counter()
        timings = {
            "rewrite_s": rewritten - started,
            "retrieve_s": retrieved - rewritten,
            "answer_s": finished - retrieved,
            "total_s": finished - started,
        }
        # A missing or emptied index still gives an answer (from the other index); the answer says so.
        notices = [n for n in (answer.notice or notice, self.store.index_notice()) if n]
        yield dataclasses.replace(
            answer, timings=timings, notice=" ".join(notices) or None,
            # The answerer's order (by best sentence), unless the question asked for the newest first.
            passages=tuple(passages) if frame.prefer_latest else answer.passages or tuple(passages),
            scope=scope,
        )

    def _deal_table_answer(self, text: str, query: str) -> Answer | None:
        """The deal table's answer to a list or comparison question (the question, else its standalone rewrite),
        or None; the table is read once per state of the corpus."""
        return self.deals.answer(text) or (self.deals.answer(query) if query != text else None)

    def _reference_year(self) -> int:
        """The year a month without one refers to: that of the newest document, else this year."""
        latest = self.store.catalog.latest_published()
        return int(latest[:4]) if latest else dt.date.today().year

    def _event_date(self, phrase: str) -> dt.date | None:
        """When a named event happened: the first date stated in the best passage about it."""
        hits = self.store.lexical_search(phrase, 3)
        chunks = self.store.get_chunks([cid for cid, _ in hits])
        for cid, _ in hits:
            chunk = chunks.get(cid)
            if chunk is None:
                continue
            when = chunk.dates[0] if chunk.dates else chunk.published
            if when:
                return dt.date.fromisoformat(when[:10])
        return None


def _recent_docs(history: Sequence[Turn]) -> tuple[str, ...]:
    """Documents the last answer cited (or offered as related reading): what a follow-up is likely about."""
    if not history:
        return ()
    last = history[-1].answer
    cited = [c.chunk.doc_id for c in last.citations] or [p.chunk.doc_id for p in last.related]
    return tuple(dict.fromkeys(cited))


def _describe(frame: TimeFrame) -> str:
    if frame.date_from and frame.date_to:
        span = f"documents published {frame.date_from} to {frame.date_to} first"
    elif frame.date_from:
        span = f"documents published on or after {frame.date_from} first"
    elif frame.date_to:
        span = f"documents published on or before {frame.date_to} first"
    else:
        span = ""
    parts = [span] if span else []
    if frame.prefer_latest:
        parts.append("newest documents first")
    return "; ".join(parts) + (f' (from "{frame.phrase}")' if parts and frame.phrase else "")


class Conversation:
    """A chat: keeps the turns and passes them as history to every question."""

    def __init__(self, assistant: Assistant) -> None:
        self.assistant = assistant
        self.turns: list[Turn] = []

    def ask(
        self, question: str, filters: Filters | None = None, *, query: str | None = None, backend: str | None = None
    ) -> Answer:
        answer = self.assistant.ask(question, self.turns, filters, query=query, backend=backend)
        self.turns.append(Turn(question, answer))
        return answer

    def stream(
        self, question: str, filters: Filters | None = None, *, query: str | None = None, backend: str | None = None
    ) -> Iterator[str | Answer]:
        for event in self.assistant.stream(question, self.turns, filters, query=query, backend=backend):
            if isinstance(event, Answer):
                self.turns.append(Turn(question, event))
            yield event

    def reset(self) -> None:
        self.turns.clear()
