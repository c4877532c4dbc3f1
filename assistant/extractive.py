"""The offline answerer: picks cited evidence sentences from the passages, or says the documents don't answer."""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from assistant.glossary import known_words, synonyms
from assistant.question import MINERAL as _MINERAL
from assistant.question import is_named_kind, parse_question
from assistant.ranking import jaccard, word_set
from assistant.refusal import DEFAULT_PATH as DEFAULT_REFUSAL_MODEL
from assistant.refusal import REASONS, RefusalModel, load_model
from ingest.chunking import split_units
from policyqa import text
from policyqa.store.catalog import fts_query
from policyqa.types import Answer, Citation, Passage

if TYPE_CHECKING:
    from policyqa.embedding import TextEmbedder
    from policyqa.settings import Settings

_AMOUNT, _PERCENT, _DATE, _NUMBER, _QUANTITY = text.AMOUNT, text.PERCENT, text.DATE, text.NUMBER, text.QUANTITY
_WORDS = re.compile(r"\w+")

@dataclass(frozen=True, slots=True)
class _Sentence:
    passage_index: int
    start: int
    end: int
    text: str


# A mineral word inside a multi-word capitalised name ("Cobalt Ridge Mining", "Copper State Partners") names a
# company or place.
_CAPITALISED_NAME = re.compile(r"\b[A-Z][\w&.-]*(?:\s+[A-Z][\w&.-]*)+")


def _typed(wanted: re.Pattern[str] | None, text: str) -> float:
    """1.0 when the sentence holds what the question asks for (for minerals: two or more named)."""
    if wanted is None:
        return 1.0
    if wanted is _MINERAL:
        found = {m.group(0).lower() for m in _MINERAL.finditer(_CAPITALISED_NAME.sub(" ", text))}
        return min(1.0, len(found) / 2)
    return 1.0 if wanted.search(text) else 0.0


def _clean(text: str) -> str:
    """Answer text: Markdown markers and list bullets dropped, whitespace collapsed."""
    text = re.sub(r"^#+\s*", "", text.strip())
    text = re.sub(r"(?m)^\s*[-*+]\s+", "", text)
    text = text.replace("**", "")
    text = re.sub(r"\n+", "; ", text) if ":\n" in text else text
    return re.sub(r"\s+", " ", text).replace(":;", ":")


# Words that shape a question rather than name its subject; their absence from the corpus says nothing.
_GENERIC = frozenset(
    """summarise summarize summary compare compared comparison differ difference different describe explain list
    larger smaller bigger biggest largest size sizes total overall include including included received receive
    give gives given say says said mention mentioned role purpose key main major kind kinds type types detail
    details happen happened next plan planning planned does tell know much many big large ones one two three
    first second cover covers covered name named names cite cited according document documents corpus
    latest recent recently newest current currently since before after during until prior news update updates
    happen happening scale extent level degree nature scope magnitude amount""".split()
)


@dataclass(frozen=True, slots=True)
class Signals:
    """Why an answer was given or refused: the evidence features the refusal model reads (see
    :mod:`assistant.refusal`), kept for fitting it and for the evaluation report."""

    best_dense: float  # cosine of the best sentence to the query
    coverage: float  # weighted share of the question's distinctive terms found in the retrieved passages
    missing_terms: tuple[str, ...]  # names or asked-for nouns the corpus never mentions
    reason: str = ""
    passage_dense: float = 0.0  # cosine of the best passage (the chunk vector) to the query
    sentence_coverage: float = 0.0  # weighted share of the query's terms in the stated sentences
    absent_names: tuple[str, ...] = ()  # names the question gives that the stated passages never mention
    names: int = 0  # capitalised names the question gives
    unknown: float = 0.0  # weighted share of the question's distinctive terms that no document uses
    # 1 when the noun the question asks for ("how many jobs") occurs in the stated passages, else the closest cosine
    # of that noun to a stated sentence
    head: float = 1.0
    # 1 when a stated sentence holds the kind of value the question asks for (an amount, a date, a number...) or
    # the question asks for none; its absence never refuses alone, but it is one of the signals weighed
    typed: float = 1.0
    score: float | None = None  # the refusal model's probability that the passages answer

    def features(self) -> dict[str, float]:
        """The signals the refusal model weighs (a name no document holds refuses on its own, outside the model)."""
        return {
            # Names embed poorly: a passage can hold the answer while its vector is far from the question's, and
            # the reverse holds for single sentences. The closer of the two stands for both.
            "similarity": max(self.best_dense, self.passage_dense),
            "coverage": self.coverage,
            "sentence_coverage": self.sentence_coverage,
            "absent_names": len(self.absent_names) / self.names if self.names else 0.0,
            "unknown": self.unknown,
            "head": self.head,
            "typed": self.typed,
        }


class ExtractiveAnswerer:
    """Scores sentences by embedding similarity, word overlap and answer type; cites every one it states."""

    name = "offline"

    def __init__(
        self,
        embedder: TextEmbedder,
        settings: Settings,
        *,
        term_counts: Callable[[Sequence[str]], dict[str, int]] | None = None,
        max_candidates: int = 8,
        refusal: RefusalModel | None = None,
    ) -> None:
        self.embedder = embedder
        self.settings = settings
        self.term_counts = term_counts
        self.max_candidates = max_candidates
        self.cutoff = 0.75  # a sentence scoring under this share of the best one is not worth stating
        self.max_sentences = 4
        self.doc_decay = 0.5
        self.w_dense, self.w_lex, self.w_type, self.w_prior = 0.40, 0.30, 0.18, 0.35
        self.refusal: RefusalModel = refusal if refusal is not None else load_model(
            settings.refusal_model or DEFAULT_REFUSAL_MODEL
        )
        self.last_signals: Signals | None = None
        self._vector_cache: dict[str, np.ndarray] = {}

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
            reason = "the passages found hold no full sentence to quote" if passages else "no passage was found"
            self.last_signals = Signals(0.0, 0.0, (), reason=reason, score=0.0)
            return self._refusal(query, passages, reason)
        terms = self._terms(query)
        bags = [_Bag(s.text) for s in sentences]
        weights = self._idf(terms, bags)
        if query != question:
            # Words a follow-up's query carries from the conversation say what it is about, not what it asks.
            own = set(self._terms(question))
            weights = {t: w if t in own else CARRIED_TERM_WEIGHT * w for t, w in weights.items()}
        lexical = [self._overlap(weights, bag) for bag in bags]
        for i in range(1, len(sentences)):
            if sentences[i].passage_index == sentences[i - 1].passage_index:
                joined = self._overlap(weights, _Bag(sentences[i - 1].text + " " + sentences[i].text))
                lexical[i] = max(lexical[i], 0.6 * joined)
        doc_rank: dict[str, int] = {}
        for p in passages:
            doc_rank.setdefault(p.chunk.doc_id, len(doc_rank))
        # Sentences from the best-ranked documents first: a passage's document matters more than its slot.
        prior = [
            1.0 / (1 + self.doc_decay * doc_rank[passages[s.passage_index].chunk.doc_id] + 0.1 * s.passage_index)
            for s in sentences
        ]
        rough = [0.7 * lex + 0.3 * pr for lex, pr in zip(lexical, prior, strict=True)]
        ranked = sorted(range(len(sentences)), key=lambda i: rough[i], reverse=True)
        order = ranked[: self.max_candidates]
        asked = parse_question(question)
        doc_of = [passages[s.passage_index].chunk.doc_id for s in sentences]
        if asked.trend:
            # A question about how something moved across periods weighs each document's best sentence.
            best_of_doc: dict[str, int] = {}
            for i in ranked:
                best_of_doc.setdefault(doc_of[i], i)
            order += [i for i in best_of_doc.values() if i not in order]
        qvec = np.asarray(query_vector if query_vector is not None else self.embedder.encode([query])[0])
        vectors = self._vectors([_clean(sentences[i].text) for i in order])
        dense = vectors @ qvec
        wanted = asked.wanted
        scores: dict[int, float] = {}
        dense_of: dict[int, float] = {}
        for rank, i in enumerate(order):
            # What the question asks for (an amount, a date...) lifts a sentence; its absence never refuses alone.
            scores[i] = (
                self.w_dense * float(dense[rank]) + self.w_lex * lexical[i]
                + self.w_type * _typed(wanted, sentences[i].text)
                + self.w_prior * prior[i]
            )
            dense_of[i] = float(dense[rank])
        vector_of = {i: vectors[rank] for rank, i in enumerate(order)}  # the scored sentences' vectors
        chosen = self._select(question, sentences, bags, scores, weights, vector_of, doc_of)
        signals = self._signals(question, passages, sentences, weights, chosen, dense_of, vector_of)
        probability = self.refusal.probability(signals.features())
        reason = ""
        if signals.missing_terms and self.refusal.threshold >= 0:
            # A name the question gives that no document holds: whatever the passages say, it is about something else.
            reason = REASONS["missing"].format(missing=_as_written(signals.missing_terms, question))
        elif probability < self.refusal.threshold:
            # A name the question gives that the stated passages lack is the most concrete reason to give.
            weakest = "absent_names" if signals.absent_names else self.refusal.weakest(signals.features())
            reason = REASONS[weakest].format(
                missing=_as_written(signals.missing_terms, question) or "some of its terms",
                absent=", ".join(signals.absent_names) or "what the question names",
                head=asked.head or "thing",
            )
        self.last_signals = dataclasses.replace(signals, reason=reason, score=probability)
        if reason:
            return self._refusal(query, passages, reason)
        dated = self._conflict(wanted, passages, sentences, scores, vector_of)
        if dated is not None:
            answer = self._compose(
                query, passages, sentences, list(dated), labels=_date_labels(passages, sentences, dated)
            )
        else:
            answer = self._compose(query, passages, sentences, chosen)
        return dataclasses.replace(answer, passages=_by_evidence(passages, sentences, scores))

    def _signals(
        self,
        question: str,
        passages: Sequence[Passage],
        sentences: Sequence[_Sentence],
        weights: dict[str, float],
        chosen: Sequence[int],
        dense_of: dict[int, float],
        vector_of: dict[int, np.ndarray],
    ) -> Signals:
        """The evidence features the refusal model weighs (see :class:`Signals`)."""
        evidence = _Bag(" ".join(p.chunk.context + " " + p.chunk.text for p in passages))
        stated = _Bag(" ".join(sentences[i].text for i in chosen))
        context = _Bag(" ".join(
            passages[pi].chunk.context + " " + passages[pi].chunk.text
            for pi in {sentences[i].passage_index for i in chosen}
        ))
        asked = parse_question(question)
        absent = tuple(n for n in asked.names if not context.has(n.lower()))
        missing, unknown = self._missing(question, weights)
        best_dense = max(dense_of.values())
        head = asked.head if asked.head and asked.head not in _GENERIC and len(asked.head) > 2 else None
        # A name of the kind asked for ("what road") only prefers sentences (is_named_kind): it is not weighed here.
        typed = 1.0
        if asked.wanted is not None and not is_named_kind(asked.wanted):
            typed = max((_typed(asked.wanted, sentences[i].text) for i in chosen), default=0.0)
        return Signals(
            best_dense=best_dense,
            coverage=self._coverage(weights, evidence),
            missing_terms=missing,
            unknown=unknown,
            # Passages found by keyword search alone carry no passage similarity: the sentence one stands in.
            passage_dense=max((p.dense_score for p in passages if p.dense_score is not None), default=best_dense),
            sentence_coverage=self._coverage(weights, stated),
            absent_names=absent,
            head=1.0 if head is None or stated.has(head) or context.has(head) else self._near_head(
                head, [vector_of[i] for i in chosen if i in vector_of]
            ),
            names=len(asked.names),
            typed=typed,
        )

    def _near_head(self, head: str, stated: Sequence[np.ndarray]) -> float:
        """How close the stated sentences come to the noun asked about when none uses it: the embedding model
        places "minerals" near a sentence listing lithium and cobalt, "jobs" far from one about a smelter's metals."""
        if not stated:
            return 0.0
        noun = self._vectors([head])[0]
        return max(0.0, max(float(v @ noun) for v in stated))

    def _vectors(self, texts: Sequence[str]) -> np.ndarray:
        """Sentence vectors, each computed once per process (a chat returns to the same passages)."""
        missing = [t for t in dict.fromkeys(texts) if t not in self._vector_cache]
        if missing:
            for text, vector in zip(missing, self.embedder.encode(missing), strict=True):
                if len(self._vector_cache) >= _VECTOR_CACHE_SIZE:
                    self._vector_cache.pop(next(iter(self._vector_cache)))
                self._vector_cache[text] = np.asarray(vector, dtype=np.float32)
        return np.stack([self._vector_cache[t] for t in texts]) if texts else np.zeros((0, 1), dtype=np.float32)

    def _conflict(
        self,
        wanted: re.Pattern[str] | None,
        passages: Sequence[Passage],
        sentences: Sequence[_Sentence],
        scores: dict[int, float],
        vector_of: dict[int, np.ndarray],
    ) -> tuple[int, int] | None:
        """Two documents stating different figures for the same thing: (latest, earlier), else None.

        "The same thing" means near-identical sentences (embedding similarity) whose figures share nothing.
        """
        if wanted is None or is_named_kind(wanted):  # two names are two things, not two figures for one
            return None
        top = max(scores.values())
        typed = sorted(
            (i for i in scores if scores[i] >= 0.7 * top and _typed(wanted, sentences[i].text)),
            key=scores.__getitem__,
            reverse=True,
        )[:8]

        def published(i: int) -> str:
            return passages[sentences[i].passage_index].chunk.published or ""

        def figures(i: int) -> frozenset[str]:
            undated = _DATE.sub(" ", sentences[i].text)
            return frozenset(m.group(0).lower() for m in wanted.finditer(undated))

        def years(i: int) -> frozenset[str]:
            return frozenset(re.findall(r"\b(?:19|20)\d{2}\b", sentences[i].text))

        for a, b in ((a, b) for ai, a in enumerate(typed) for b in typed[ai + 1 :]):
            doc_a = passages[sentences[a].passage_index].chunk.doc_id
            doc_b = passages[sentences[b].passage_index].chunk.doc_id
            if doc_a == doc_b or not published(a) or not published(b) or published(a) == published(b):
                continue
            if not figures(a) or not figures(b) or figures(a) & figures(b) or years(a) != years(b):
                continue  # no figure, the same figure, or figures for different years: no disagreement
            if float(vector_of[a] @ vector_of[b]) < 0.75:
                continue
            return (a, b) if published(a) > published(b) else (b, a)
        return None

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
            previous: tuple[int, int] | None = None
            for start, end in evidence_units(text):
                start += _labelled_heading_length(text[start:end])
                sentence = text[start:end]
                key = _clean(sentence).lower()
                if key in seen or len(_WORDS.findall(sentence)) < 5 or _is_heading(sentence):
                    continue
                seen.add(key)
                if _ANAPHOR.match(sentence) and previous is not None and not _is_heading(text[previous[0] : previous[1]]):
                    # "It ..." or "Both metals ..." means little alone: quote it with the sentence before.
                    start, sentence = previous[0], text[previous[0] : end]
                    if out and out[-1].passage_index == pi and out[-1].start == start:
                        out.pop()
                out.append(_Sentence(pi, start, end, sentence))
                previous = (start, end)
        return out

    @staticmethod
    def _terms(query: str) -> list[str]:
        return [t.strip('"') for t in fts_query(query).split(" OR ") if t]

    @staticmethod
    def _idf(terms: Sequence[str], bags: Sequence[_Bag]) -> dict[str, float]:
        """Terms found in few candidate sentences say more about which sentence answers."""
        n = len(bags)
        weights: dict[str, float] = {}
        for t in terms:
            df = sum(1 for bag in bags if bag.has(t))
            weights[t] = math.log(1 + (n + 1) / (df + 0.5))
        return weights

    @staticmethod
    def _overlap(weights: dict[str, float], bag: _Bag) -> float:
        total = sum(weights.values())
        if not total:
            return 0.0
        return sum(w for t, w in weights.items() if bag.has(t)) / total

    @staticmethod
    def _coverage(weights: dict[str, float], bag: _Bag) -> float:
        """Weighted share of the query's distinctive terms present in ``bag``."""
        key = {
            t: w for t, w in weights.items() if (len(t) > 3 or any(ch.isdigit() for ch in t)) and t not in _GENERIC
        }
        total = sum(key.values())
        if not total:
            return 1.0
        return sum(w for t, w in key.items() if bag.has(t)) / total

    def _missing(self, question: str, weights: dict[str, float]) -> tuple[tuple[str, ...], float]:
        """Names the question gives that occur nowhere in the corpus, and the weighted share of its distinctive
        terms (names, nouns, numbers) the corpus never uses: a question about what no document mentions."""
        if self.term_counts is None:
            return (), 0.0
        known = known_words()
        names = [n.lower() for n in parse_question(question).names]
        names = [w for w in dict.fromkeys(names) if w not in known and w not in _GENERIC and len(w) > 2]
        terms = {
            t: w for t, w in weights.items()
            if (len(t) > 3 or any(ch.isdigit() for ch in t)) and t not in _GENERIC and t.isalnum()
        }
        counts = self.term_counts(list(dict.fromkeys([*names, *terms])))
        missing_names = tuple(t for t in names if counts.get(t, 1) == 0)
        total = sum(terms.values())
        absent = [t for t in terms if counts.get(t, 1) == 0]
        unknown = sum(terms[t] for t in self._rare(absent)) / total if total else 0.0
        return missing_names, unknown

    def _rare(self, words: Sequence[str]) -> list[str]:
        """The words the embedding model's tokenizer splits into pieces: rare in general English ("polysilicon").
        One it keeps whole ("break", "worth") is common, and a corpus that never uses it says nothing by that."""
        parts = [(w, p) for w in words for p in w.split("-") if p]
        if not parts:
            return []
        counts = self.embedder.count_tokens([p for _, p in parts])  # one call; [CLS] word [SEP] is three tokens
        return list(dict.fromkeys(w for (w, _), n in zip(parts, counts, strict=True) if n > 3))

    def _select(
        self,
        question: str,
        sentences: Sequence[_Sentence],
        bags: Sequence[_Bag],
        scores: dict[int, float],
        weights: dict[str, float],
        vector_of: dict[int, np.ndarray],
        doc_of: Sequence[str],
    ) -> list[int]:
        """Greedy: each pick maximises its score plus the weight of query terms not yet covered."""
        asked = parse_question(question)
        listing = asked.listing or asked.trend
        budget = self.settings.answer_words * (2 if listing else 1)
        max_sentences = 6 if listing else self.max_sentences
        # "What road ...": an answer still lacking a name of that kind takes the best sentence holding one. (Tried for
        # amounts and dates too: it pulled dated sentences from other documents into "what day" answers.)
        wanted = asked.wanted
        if wanted is not None and not is_named_kind(wanted):
            wanted = None
        total_weight = sum(weights.values()) or 1.0
        covered: set[str] = set()
        chosen: list[int] = []
        used_words = 0
        top = max(scores.values())
        remaining = set(scores)
        while remaining and len(chosen) < max_sentences:
            def gain(i: int) -> float:
                new = sum(w for t, w in weights.items() if t not in covered and bags[i].has(t))
                return scores[i] + 0.3 * new / total_weight

            best = max(remaining, key=gain)
            remaining.discard(best)
            new_terms = {t for t in weights if t not in covered and bags[best].has(t)}
            supplies = wanted is not None and _typed(wanted, sentences[best].text) >= 1 and not any(
                _typed(wanted, sentences[j].text) >= 1 for j in chosen
            )
            if chosen and (scores[best] < top * self.cutoff or not new_terms and not supplies and scores[best] < top * 0.9):
                break
            n = len(_WORDS.findall(sentences[best].text))
            if chosen and used_words + n > budget:
                continue
            if any(jaccard(word_set(sentences[best].text), word_set(sentences[j].text)) > 0.5 for j in chosen):
                continue
            if any(float(vector_of[best] @ vector_of[j]) > 0.9 for j in chosen):
                continue
            chosen.append(best)
            covered |= new_terms
            used_words += n
        if asked.comparison:
            chosen = self._cover_compared(question, sentences, scores, chosen, max_sentences + 2)
        if asked.trend:
            chosen = self._cover_documents(asked.wanted, sentences, scores, chosen, doc_of, max_sentences + 2)
        # The best evidence first: passages in the order of their best chosen sentence, each passage's sentences in
        # reading order (so the first citation is the passage that answers best).
        best_of: dict[int, float] = {}
        for i in chosen:
            pi = sentences[i].passage_index
            best_of[pi] = max(best_of.get(pi, float("-inf")), scores[i])
        return sorted(chosen, key=lambda i: (-best_of[sentences[i].passage_index], sentences[i].start))

    def _cover_compared(
        self, question: str, sentences: Sequence[_Sentence], scores: dict[int, float], chosen: list[int], limit: int
    ) -> list[int]:
        """A comparison needs each compared thing's own evidence: add the best typed sentence for each name."""
        from assistant.rewrite import entities

        wanted = parse_question(question).wanted
        top = max(scores.values())
        chosen = list(chosen)
        for name in entities(question):
            key = name.lower()
            stated = " ".join(sentences[i].text for i in chosen).lower()
            if any(key in sentences[i].text.lower() and _typed(wanted, sentences[i].text) for i in chosen):
                continue
            candidates = [
                i for i in scores
                if key in sentences[i].text.lower() and _typed(wanted, sentences[i].text) and i not in chosen
                and scores[i] >= 0.5 * top and _clean(sentences[i].text).lower() not in stated
            ]
            if candidates and len(chosen) < limit:
                chosen.append(max(candidates, key=scores.__getitem__))
        return chosen

    def _cover_documents(
        self,
        wanted: re.Pattern[str] | None,
        sentences: Sequence[_Sentence],
        scores: dict[int, float],
        chosen: list[int],
        doc_of: Sequence[str],
        limit: int,
    ) -> list[int]:
        """How something moved across periods needs each period's statement: add the best sentence of each
        document the answer does not quote yet (best documents first), preferring one that holds the kind of
        value asked for, while it scores at least half the best."""
        top = max(scores.values())
        chosen = list(chosen)
        docs = list(dict.fromkeys(doc_of[i] for i in sorted(scores, key=scores.__getitem__, reverse=True)))
        for doc in docs:
            if len(chosen) >= limit:
                break
            if any(doc_of[i] == doc for i in chosen):
                continue
            candidates = [i for i in scores if doc_of[i] == doc and scores[i] >= 0.5 * top]
            if candidates:
                chosen.append(max(candidates, key=lambda i: (_typed(wanted, sentences[i].text) >= 1, scores[i])))
        return chosen

    # -- output -------------------------------------------------------------------------------------

    def _compose(
        self,
        query: str,
        passages: Sequence[Passage],
        sentences: Sequence[_Sentence],
        chosen: Sequence[int],
        *,
        labels: Sequence[str] = (),
    ) -> Answer:
        """The answer text: each chosen sentence, cleaned, with its citation; ``labels`` prefix sentences."""
        citations: list[Citation] = []
        number_of: dict[int, int] = {}
        parts: list[str] = []
        for position, i in enumerate(chosen):
            s = sentences[i]
            if s.passage_index not in number_of:
                number_of[s.passage_index] = len(number_of) + 1
            n = number_of[s.passage_index]
            citations.append(Citation(number=n, passage=passages[s.passage_index], quote_start=s.start, quote_end=s.end))
            label = labels[position] if position < len(labels) else ""
            parts.append(f"{label}{_clean(s.text)} [{n}]")
        return Answer(text=" ".join(parts), citations=tuple(citations), answerable=True, query=query, backend=self.name)

    def _refusal(self, query: str, passages: Sequence[Passage], reason: str) -> Answer:
        """No answer, with the reason the evidence gave (so the user can tell a question to rephrase from a fact the
        documents lack) and the closest passages as related reading."""
        related = " The closest passages are listed below as related reading." if passages else ""
        return Answer(
            text=f"The documents do not answer this question: {reason}.{related}",
            citations=(),
            answerable=False,
            query=query,
            backend=self.name,
            related=tuple(passages[:3]),
        )


_ANAPHOR = re.compile(r"^\W*(?:it|its|this|these|those|they|both|such|the two|that)\b", re.I)
_LIST_ITEM = re.compile(r"^\s*(?:[-*+]|\d+[.)])\s+")


def _as_written(terms: Sequence[str], question: str) -> str:
    """Terms (lower-cased for matching) as the question spells them, for a reason the user reads."""
    shown = []
    for term in terms:
        found = re.search(rf"(?<![\w-]){re.escape(term)}(?![\w-])", question, re.IGNORECASE)
        shown.append(found.group(0) if found else term)
    return ", ".join(shown)


def evidence_units(text: str) -> list[tuple[int, int]]:
    """Sentences, with a sentence that ends in ':' joined to the list items that follow it."""
    units = split_units(text)
    merged: list[tuple[int, int]] = []
    i = 0
    while i < len(units):
        start, end = units[i]
        if text[start:end].rstrip("* ").endswith(":"):
            j = i + 1
            while j < len(units) and j - i <= 12 and _LIST_ITEM.match(text[units[j][0] : units[j][1]]):
                end = units[j][1]
                j += 1
            merged.append((start, end))
            i = j
            continue
        merged.append((start, end))
        i += 1
    return merged


def _by_evidence(
    passages: Sequence[Passage], sentences: Sequence[_Sentence], scores: dict[int, float]
) -> tuple[Passage, ...]:
    """The passages re-ranked by their best-scoring sentence (a finer judge of relevance than the passage's own
    rank); passages with no scored sentence keep their order after them."""
    best: dict[int, float] = {}
    for i, score in scores.items():
        pi = sentences[i].passage_index
        best[pi] = max(best.get(pi, float("-inf")), score)
    ranked = sorted(best, key=lambda pi: (-best[pi], pi))
    return tuple(passages[pi] for pi in ranked) + tuple(p for pi, p in enumerate(passages) if pi not in best)


def _date_labels(passages: Sequence[Passage], sentences: Sequence[_Sentence], pair: Sequence[int]) -> list[str]:
    """'As of DATE: ' for the latest statement, 'Earlier (DATE): ' for the one it supersedes."""
    dates = [passages[sentences[i].passage_index].chunk.published or "" for i in pair]
    return [f"As of {dates[0]}: ", f"Earlier ({dates[1]}): "]


_LABELLED_HEADING = re.compile(r"^\(?[A-Za-z0-9]{1,3}[.)]\s+[^\n.!?:;]{1,80}\n\s*(?=[A-Z])")


def _labelled_heading_length(unit: str) -> int:
    """Length of a labelled heading line opening a unit ("(b) Price floor for NdPr oxide" then a new line and a
    capitalised sentence, as PDF text runs them together): it names a topic, it is not part of the sentence."""
    match = _LABELLED_HEADING.match(unit)
    return match.end() if match and len(match.group(0).split()) <= 12 else 0


def _is_heading(text: str) -> bool:
    """Titles and headings end without a full stop; they name a topic but do not state a fact."""
    stripped = text.strip().strip("*_ ")
    if ":\n" in stripped or ": \n" in stripped:  # a sentence introducing a list, merged with its items
        return False
    return stripped.startswith("#") or not re.search(r"[.!?:;)\]\"']$", stripped)


def _stem(word: str) -> str:
    """A crude suffix stripper, enough to match 'added' with 'adds' and 'stake' with 'stakes'."""
    for suffix in ("ing", "ed", "es", "s"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            word = word[: -len(suffix)]
            break
    return word[:-1] if word.endswith("e") and len(word) > 3 else word


_VECTOR_CACHE_SIZE = 50_000
CARRIED_TERM_WEIGHT = 0.5  # fit on the starter set and minerals-dev tune (starter fact recall 0.75 -> 0.85)


class _Bag:
    """A text's lower-cased words and their stems, computed once, with a memo of the terms asked about."""

    __slots__ = ("lower", "words", "stems", "_memo")

    def __init__(self, text: str) -> None:
        self.lower = text.lower()
        self.words = {w.lower() for w in _WORDS.findall(text)}
        self.stems = {_stem(w) for w in self.words}
        self._memo: dict[str, bool] = {}

    def has(self, term: str) -> bool:
        """The term, a stem variant or a glossary synonym occurs ."""
        found = self._memo.get(term)
        if found is None:
            found = self._memo[term] = self._has(term)
        return found

    def _has(self, term: str) -> bool:
        if term in self.words:
            return True
        if not term.isalnum():
            if term in self.lower:
                return True
        else:
            stem = _stem(term)
            if len(stem) >= 3 and (
                stem in self.stems or (len(stem) >= 4 and any(w.startswith(stem) for w in self.words))
            ):
                return True
        others = [s for s in synonyms(term) if s.lower() != term]
        return bool(others) and any(s.lower() in self.lower for s in others)
