"""Score the assistant on a question set: retrieval hits, fact recall, citation precision, refusals, latency."""

from __future__ import annotations

import re
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

from assistant.evalset import EvalQuestion, QuestionSet, chain_of
from policyqa.types import Answer, Passage, Turn

AskFn = Callable[[str, Sequence[Turn]], Answer]


def _norm(text: str) -> str:
    text = text.replace("\u2019", "'").replace("\u2013", "-").replace("\u2014", "-")
    return re.sub(r"\s+", " ", text).strip().lower()


_NUMBER = re.compile(r"[\d.,]+")


def fact_found(fact: str, text: str) -> bool:
    """``fact`` occurs in ``text`` (both normalised); a bare number must stand alone ("709" is not in "7,709")."""
    fact, text = _norm(fact), _norm(text)
    if _NUMBER.fullmatch(fact):
        return re.search(rf"(?<![\d.,]){re.escape(fact)}(?![\d]|[.,]\d)", text) is not None
    return fact in text


def _words(text: str) -> list[str]:
    return re.sub(r"[^0-9a-z]+", " ", text.lower()).split()


def _five_grams(text: str) -> set[tuple[str, ...]]:
    w = _words(text)
    return {tuple(w[i : i + 5]) for i in range(len(w) - 4)}


def holds_evidence(passage: str, evidence: str) -> bool:
    """The evidence-level hit rule: the passage holds at least half of the evidence's word 5-grams (after
    lower-casing and collapsing every run of non-alphanumerics), the rule the minerals-dev set states."""
    wanted = _five_grams(evidence)
    return bool(wanted) and 2 * len(wanted & _five_grams(passage)) >= len(wanted)


def evidence_rank(texts: Sequence[str], evidence: str) -> int | None:
    """The 1-based rank of the first of ``texts`` that holds ``evidence`` (None if none does)."""
    return next((i for i, text in enumerate(texts, start=1) if holds_evidence(text, evidence)), None)


def doc_name(source: str) -> str:
    """Question sets name documents by file name, which is what a source path ends with."""
    return Path(source).name


@dataclass(frozen=True, slots=True)
class QuestionResult:
    id: str
    kind: str
    question: str
    query: str
    expected_docs: tuple[str, ...]
    retrieved_docs: tuple[str, ...]
    cited_docs: tuple[str, ...]
    answerable: bool
    answer: str
    facts_found: int
    facts_total: int
    seconds: float
    is_follow_up: bool
    split: str = "check"
    by_evidence: bool = False  # ranks and citation hits are measured against evidence passages, not documents
    evidence_ranks: tuple[int | None, ...] = ()  # per evidence string: the rank of the first passage holding it
    first_citation_hit: bool | None = None  # the first citation holds (some of) the evidence
    any_citation_hit: bool | None = None

    @property
    def unanswerable(self) -> bool:
        return not self.expected_docs

    @property
    def rank(self) -> int | None:
        """The rank by which the answer's evidence is all retrieved (by document when the set gives none)."""
        if self.by_evidence:
            return None if None in self.evidence_ranks else max(self.evidence_ranks, default=None)
        for i, doc in enumerate(self.retrieved_docs, start=1):
            if doc in self.expected_docs:
                return i
        return None

    def hit_at(self, k: int) -> float:
        """1 when the answer is retrieved within the first ``k`` passages; with several evidence strings (a
        multi-document question) each is scored separately and the question gets their mean."""
        if self.by_evidence:
            ranks = self.evidence_ranks
            return sum(1 for r in ranks if r is not None and r <= k) / len(ranks) if ranks else 0.0
        rank = self.rank
        return 1.0 if rank is not None and rank <= k else 0.0

    @property
    def reciprocal_rank(self) -> float:
        if self.by_evidence:
            ranks = self.evidence_ranks
            return sum(1.0 / r for r in ranks if r) / len(ranks) if ranks else 0.0
        return 1.0 / self.rank if self.rank else 0.0


@dataclass(frozen=True, slots=True)
class MetricRow:
    label: str
    questions: int
    hit_at_1: float | None = None
    hit_at_5: float | None = None
    mrr: float | None = None
    fact_recall: float | None = None
    citation_precision: float | None = None
    refusal_accuracy: float | None = None
    false_refusals: int = 0
    refused: int = 0
    first_citation: float | None = None  # share of answerable questions whose first citation holds the answer
    any_citation: float | None = None
    p50_s: float | None = None
    p95_s: float | None = None


@dataclass(frozen=True, slots=True)
class EvalReport:
    overall: MetricRow
    rows: tuple[MetricRow, ...]
    results: tuple[QuestionResult, ...] = field(repr=False)

    def as_dict(self) -> dict[str, object]:
        return {
            "overall": asdict(self.overall),
            "rows": [asdict(r) for r in self.rows],
            "questions": [asdict(r) | {"rank": r.rank} for r in self.results],
        }

    def table(self) -> str:
        head = (
            "", "n", "hit@1", "hit@5", "MRR", "facts", "cite-prec", "cite-1st", "cite-any", "refusal", "false-ref",
            "p50 s", "p95 s",
        )
        lines = [head]
        for row in (self.overall, *self.rows):
            lines.append((
                row.label, str(row.questions), _f(row.hit_at_1), _f(row.hit_at_5), _f(row.mrr), _f(row.fact_recall),
                _f(row.citation_precision), _f(row.first_citation), _f(row.any_citation), _f(row.refusal_accuracy),
                str(row.false_refusals), _f(row.p50_s, 3), _f(row.p95_s, 3),
            ))
        widths = [max(len(line[i]) for line in lines) for i in range(len(head))]
        return "\n".join("  ".join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(line, widths, strict=True))) for line in lines)


def _f(value: float | None, digits: int = 2) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _docs_in_order(passages: Sequence[Passage]) -> tuple[str, ...]:
    seen: dict[str, None] = {}
    for p in passages:
        seen.setdefault(doc_name(p.chunk.source), None)
    return tuple(seen)


def evaluate(
    question_set: QuestionSet,
    ask: AskFn,
    *,
    retrieved: Callable[[Answer], Sequence[Passage]],
    split: str | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> EvalReport:
    """Ask every question in file order; a follow-up gets its chain's earlier turns as history.

    Args:
        question_set: the loaded set.
        ask: answers a question given the history (e.g. ``assistant.ask``).
        retrieved: the ranked passages behind an answer, for the retrieval metrics.
        split: "tune" or "check" scores only that half (``EvalQuestion.split``); the earlier turns a follow-up
            needs are still asked, unscored.
        progress: called with (questions asked, questions to ask) after each one.
    """
    answers: dict[str, tuple[EvalQuestion, Answer]] = {}
    results: list[QuestionResult] = []
    scored = {q.id for q in question_set.questions if split in (None, "all") or q.split == split}
    needed = set(scored)
    for q in question_set.questions:
        if q.id in scored:
            needed.update(earlier.id for earlier in chain_of(question_set, q.id))
    todo = [q for q in question_set.questions if q.id in needed]
    for done, q in enumerate(todo, start=1):
        history = _history(q, answers)
        started = time.perf_counter()
        answer = ask(q.question, history)
        seconds = time.perf_counter() - started
        answers[q.id] = (q, answer)
        if progress is not None:
            progress(done, len(todo))
        if q.id not in scored:
            continue
        passages = retrieved(answer)
        quotes = [c.chunk.text for c in answer.citations]
        by_evidence = bool(q.evidence)
        results.append(
            QuestionResult(
                id=q.id, kind=q.kind, question=q.question, query=answer.query,
                expected_docs=tuple(q.expected_docs), retrieved_docs=_docs_in_order(passages),
                cited_docs=tuple(doc_name(c.chunk.source) for c in answer.citations),
                answerable=answer.answerable, answer=answer.text,
                facts_found=sum(1 for f in q.facts if fact_found(f, answer.text)), facts_total=len(q.facts),
                seconds=seconds, is_follow_up=q.follows is not None, split=q.split, by_evidence=by_evidence,
                evidence_ranks=tuple(evidence_rank([p.chunk.text for p in passages], ev) for ev in q.evidence),
                first_citation_hit=(
                    bool(quotes) and any(holds_evidence(quotes[0], ev) for ev in q.evidence) if by_evidence else None
                ),
                any_citation_hit=(
                    any(holds_evidence(t, ev) for t in quotes for ev in q.evidence) if by_evidence else None
                ),
            )
        )
    rows = [summarize(kind, [r for r in results if r.kind == kind]) for kind in dict.fromkeys(r.kind for r in results)]
    rows.append(summarize("first questions", [r for r in results if not r.is_follow_up and not r.unanswerable]))
    rows.append(summarize("follow-ups", [r for r in results if r.is_follow_up]))
    return EvalReport(overall=summarize("all", results), rows=tuple(rows), results=tuple(results))


def _history(q: EvalQuestion, answers: dict[str, tuple[EvalQuestion, Answer]]) -> list[Turn]:
    chain: list[Turn] = []
    current = q.follows
    while current is not None:
        earlier, answer = answers[current]
        chain.append(Turn(earlier.question, answer))
        current = earlier.follows
    return chain[::-1]


def summarize(label: str, results: Sequence[QuestionResult]) -> MetricRow:
    answerable = [r for r in results if not r.unanswerable]
    unanswerable = [r for r in results if r.unanswerable]
    facts_total = sum(r.facts_total for r in answerable)
    citations = [(doc, r.expected_docs) for r in answerable for doc in r.cited_docs]
    seconds = sorted(r.seconds for r in results)
    return MetricRow(
        label=label,
        questions=len(results),
        hit_at_1=_mean([r.hit_at(1) for r in answerable]),
        hit_at_5=_mean([r.hit_at(5) for r in answerable]),
        mrr=_mean([r.reciprocal_rank for r in answerable]),
        fact_recall=(sum(r.facts_found for r in answerable) / facts_total) if facts_total else None,
        citation_precision=_mean([1.0 if doc in expected else 0.0 for doc, expected in citations]),
        refusal_accuracy=_mean([0.0 if r.answerable else 1.0 for r in unanswerable]),
        false_refusals=sum(1 for r in answerable if not r.answerable),
        refused=sum(1 for r in results if not r.answerable),
        first_citation=_mean([1.0 if r.first_citation_hit else 0.0 for r in answerable if r.by_evidence]),
        any_citation=_mean([1.0 if r.any_citation_hit else 0.0 for r in answerable if r.by_evidence]),
        p50_s=statistics.median(seconds) if seconds else None,
        p95_s=seconds[min(len(seconds) - 1, int(round(0.95 * (len(seconds) - 1))))] if seconds else None,
    )


def _mean(values: Sequence[float]) -> float | None:
    return sum(values) / len(values) if values else None
