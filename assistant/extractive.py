"""The offline answerer: picks cited evidence sentences from the passages, or says the documents don't answer."""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from assistant.ranking import jaccard, word_set
from ingest.chunking import split_units
from policyqa.store.catalog import fts_query
from policyqa.types import Answer, Citation, Passage

if TYPE_CHECKING:
    from policyqa.embedding import TextEmbedder
    from policyqa.settings import Settings

_AMOUNT = re.compile(r"\$\s?\d[\d,.]*(?:\s*(?:million|billion|trillion))?|\b\d[\d,.]*\s*(?:million|billion)\b", re.I)
_PERCENT = re.compile(r"\b\d+(?:\.\d+)?\s*(?:percent|per cent|%)", re.I)
_MONTHS = "January|February|March|April|May|June|July|August|September|October|November|December"
_DATE = re.compile(rf"\b(?:{_MONTHS})\b(?:\s+\d{{1,2}},?)?\s*\d{{4}}|\b\d{{1,2}}\s+(?:{_MONTHS})\s+\d{{4}}|\b(?:19|20)\d{{2}}\b")
_NUMBER = re.compile(r"\b\d[\d,.]*\b")
_QUANTITY = re.compile(r"\b\d[\d,.]*\s*(?:miles?|metric tons?|tons?|kilograms?|minerals|years?)\b", re.I)
_LIST_WORDS = re.compile(r"\b(list|which (?:companies|orders|minerals)|what are the|name the|all the)\b", re.I)
_WORDS = re.compile(r"\w+")

_ANSWER_TYPES: list[tuple[re.Pattern[str], re.Pattern[str]]] = [
    (re.compile(r"\b(what|which)\s+(stake|share|percent|percentage|portion)|\bhow big\b.*\bstake|\bpercent", re.I), _PERCENT),
    (re.compile(r"\bhow (much|big|large)\b|\bwhat (amount|sum|price|value)\b|\bcost\b|\bworth\b|\bloan\b.*\bsize", re.I), _AMOUNT),
    (re.compile(r"\bwhen\b|\bwhat (date|day|year|month)\b|\bwhich (date|day|year)\b", re.I), _DATE),
    (re.compile(r"\bhow (long|far)\b", re.I), _QUANTITY),
    (re.compile(r"\bhow many\b", re.I), _NUMBER),
]


@dataclass(frozen=True, slots=True)
class _Sentence:
    passage_index: int
    start: int
    end: int
    text: str


def expected_pattern(question: str) -> re.Pattern[str] | None:
    """What the question asks for: an amount, a percentage, a date or a quantity (None if open)."""
    for asks, pattern in _ANSWER_TYPES:
        if asks.search(question):
            return pattern
    return None


def _clean(text: str) -> str:
    text = re.sub(r"^#+\s*", "", text.strip())
    return re.sub(r"\s+", " ", text)


# Words that shape a question rather than name its subject; their absence from the corpus says nothing.
_GENERIC = frozenset(
    """summarise summarize summary compare compared comparison differ difference different describe explain list
    larger smaller bigger biggest largest size sizes total overall include including included received receive
    give gives given say says said mention mentioned role purpose key main major kind kinds type types detail
    details happen happened next plan planning planned does tell know much many big large ones one two three
    first second cover covers covered name named names cite cited according document documents corpus""".split()
)


@dataclass(frozen=True, slots=True)
class Signals:
    """Why an answer was given or refused: kept for calibration and the evaluation report."""

    best_dense: float
    coverage: float
    missing_terms: tuple[str, ...]


class ExtractiveAnswerer:
    """Scores sentences by embedding similarity, word overlap and answer type; cites every one it states."""

    name = "offline"

    def __init__(
        self,
        embedder: TextEmbedder,
        settings: Settings,
        *,
        term_counts: Callable[[Sequence[str]], dict[str, int]] | None = None,
        max_candidates: int = 24,
    ) -> None:
        self.embedder = embedder
        self.settings = settings
        self.term_counts = term_counts
        self.max_candidates = max_candidates
        self.last_signals: Signals | None = None

    def answer(
        self,
        question: str,
        query: str,
        passages: Sequence[Passage],
        *,
        query_vector: Sequence[float] | None = None,
    ) -> Answer:
        sentences = self._sentences(passages)
        if not sentences:
            self.last_signals = Signals(0.0, 0.0, ())
            return self._refusal(query, passages)
        terms = self._terms(query)
        weights = self._idf(terms, sentences)
        lexical = [self._overlap(weights, s.text) for s in sentences]
        prior = [1.0 / (1 + 0.15 * s.passage_index) for s in sentences]
        rough = [0.7 * lex + 0.3 * pr for lex, pr in zip(lexical, prior, strict=True)]
        order = sorted(range(len(sentences)), key=lambda i: rough[i], reverse=True)[: self.max_candidates]
        qvec = np.asarray(query_vector if query_vector is not None else self.embedder.encode([query])[0])
        vectors = self.embedder.encode([_clean(sentences[i].text) for i in order])
        dense = vectors @ qvec
        wanted = expected_pattern(question)
        scores: dict[int, float] = {}
        dense_of: dict[int, float] = {}
        for rank, i in enumerate(order):
            typed = 1.0 if wanted is None or wanted.search(sentences[i].text) else 0.0
            scores[i] = 0.5 * float(dense[rank]) + 0.35 * lexical[i] + 0.10 * typed + 0.05 * prior[i]
            dense_of[i] = float(dense[rank])
        evidence = " ".join(p.chunk.text for p in passages)
        signals = Signals(
            best_dense=max(dense_of.values()),
            coverage=self._coverage(weights, evidence),
            missing_terms=self._missing(terms),
        )
        self.last_signals = signals
        if (
            signals.best_dense < self.settings.min_relevance
            or signals.coverage < 0.5
            or signals.missing_terms
        ):
            return self._refusal(query, passages)
        chosen = self._select(question, sentences, scores, weights, vectors, order)
        return self._compose(query, passages, sentences, chosen)

    def stream(
        self, question: str, query: str, passages: Sequence[Passage], *, query_vector: Sequence[float] | None = None
    ) -> Iterator[str | Answer]:
        answer = self.answer(question, query, passages, query_vector=query_vector)
        for piece in re.split(r"(?<=\]) ", answer.text):
            yield piece + " "
        yield answer

    # -- scoring ------------------------------------------------------------------------------------

    def _sentences(self, passages: Sequence[Passage]) -> list[_Sentence]:
        out: list[_Sentence] = []
        seen: set[str] = set()
        for pi, passage in enumerate(passages):
            text = passage.chunk.text
            for start, end in split_units(text):
                sentence = text[start:end]
                key = _clean(sentence).lower()
                if key in seen or len(_WORDS.findall(sentence)) < 5 or _is_heading(sentence):
                    continue
                seen.add(key)
                out.append(_Sentence(pi, start, end, sentence))
        return out

    @staticmethod
    def _terms(query: str) -> list[str]:
        return [t.strip('"') for t in fts_query(query).split(" OR ") if t]

    @staticmethod
    def _idf(terms: Sequence[str], sentences: Sequence[_Sentence]) -> dict[str, float]:
        """Terms found in few candidate sentences say more about which sentence answers."""
        sets = [({w.lower() for w in _WORDS.findall(s.text)}, s.text) for s in sentences]
        n = len(sets)
        weights: dict[str, float] = {}
        for t in terms:
            df = sum(1 for words, text in sets if _term_in(t, words, text))
            weights[t] = math.log(1 + (n + 1) / (df + 0.5))
        return weights

    @staticmethod
    def _overlap(weights: dict[str, float], text: str) -> float:
        total = sum(weights.values())
        if not total:
            return 0.0
        words = {w.lower() for w in _WORDS.findall(text)}
        return sum(w for t, w in weights.items() if _term_in(t, words, text)) / total

    @staticmethod
    def _coverage(weights: dict[str, float], text: str) -> float:
        """Weighted share of the query's distinctive terms present anywhere in the retrieved evidence."""
        key = {t: w for t, w in weights.items() if len(t) > 3 or any(ch.isdigit() for ch in t)}
        total = sum(key.values())
        if not total:
            return 1.0
        words = {w.lower() for w in _WORDS.findall(text)}
        return sum(w for t, w in key.items() if _term_in(t, words, text)) / total

    def _missing(self, terms: Sequence[str]) -> tuple[str, ...]:
        """Distinctive question terms that occur nowhere in the corpus: the documents cannot answer them."""
        if self.term_counts is None:
            return ()
        candidates = [t for t in terms if len(t) > 3 and t.isalpha() and t not in _GENERIC]
        counts = self.term_counts(candidates)
        return tuple(t for t in candidates if counts.get(t, 1) == 0)

    def _select(
        self,
        question: str,
        sentences: Sequence[_Sentence],
        scores: dict[int, float],
        weights: dict[str, float],
        vectors: np.ndarray,
        order: Sequence[int],
    ) -> list[int]:
        """Greedy: each pick maximises its score plus the weight of query terms not yet covered."""
        listing = bool(_LIST_WORDS.search(question))
        budget = self.settings.answer_words * (2 if listing else 1)
        max_sentences = 6 if listing else 4
        position = {i: rank for rank, i in enumerate(order)}
        words_of = {i: {w.lower() for w in _WORDS.findall(sentences[i].text)} for i in scores}
        total_weight = sum(weights.values()) or 1.0
        covered: set[str] = set()
        chosen: list[int] = []
        used_words = 0
        top = max(scores.values())
        remaining = set(scores)
        while remaining and len(chosen) < max_sentences:
            def gain(i: int) -> float:
                new = sum(w for t, w in weights.items() if t not in covered and _term_in(t, words_of[i], sentences[i].text))
                return scores[i] + 0.3 * new / total_weight

            best = max(remaining, key=gain)
            remaining.discard(best)
            new_terms = {t for t in weights if t not in covered and _term_in(t, words_of[best], sentences[best].text)}
            if chosen and (scores[best] < top * 0.75 or not new_terms and scores[best] < top * 0.9):
                break
            n = len(_WORDS.findall(sentences[best].text))
            if chosen and used_words + n > budget:
                continue
            if any(jaccard(word_set(sentences[best].text), word_set(sentences[j].text)) > 0.5 for j in chosen):
                continue
            if any(float(vectors[position[best]] @ vectors[position[j]]) > 0.9 for j in chosen):
                continue
            chosen.append(best)
            covered |= new_terms
            used_words += n
        # Readable order: by source passage rank, then by position within the passage.
        return sorted(chosen, key=lambda i: (sentences[i].passage_index, sentences[i].start))

    # -- output -------------------------------------------------------------------------------------

    def _compose(
        self, query: str, passages: Sequence[Passage], sentences: Sequence[_Sentence], chosen: Sequence[int]
    ) -> Answer:
        citations: list[Citation] = []
        number_of: dict[int, int] = {}
        parts: list[str] = []
        for i in chosen:
            s = sentences[i]
            if s.passage_index not in number_of:
                number_of[s.passage_index] = len(number_of) + 1
            n = number_of[s.passage_index]
            citations.append(Citation(number=n, passage=passages[s.passage_index], quote_start=s.start, quote_end=s.end))
            parts.append(f"{_clean(s.text)} [{n}]")
        return Answer(text=" ".join(parts), citations=tuple(citations), answerable=True, query=query, backend=self.name)

    def _refusal(self, query: str, passages: Sequence[Passage]) -> Answer:
        return Answer(
            text="The documents do not answer this question. The closest passages are listed below as related reading.",
            citations=(),
            answerable=False,
            query=query,
            backend=self.name,
            related=tuple(passages[:3]),
        )


def _is_heading(text: str) -> bool:
    """Titles and headings end without a full stop; they name a topic but do not state a fact."""
    stripped = text.strip().strip("*_ ")
    return stripped.startswith("#") or not re.search(r"[.!?:;)\]\"']$", stripped)


def _term_in(term: str, words: set[str], text: str) -> bool:
    if term in words:
        return True
    if not term.isalnum():
        return term in text.lower()
    # FTS5's porter stemming matches "stakes" to "stake"; a cheap prefix match approximates it here.
    stem = term[:-1] if term.endswith("s") and len(term) > 4 else term
    return any(w.startswith(stem) for w in words) if len(stem) >= 4 else False
