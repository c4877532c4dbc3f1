"""assistant/evaluation.py: the metrics arithmetic over a scripted ask function and hand-made answers."""

from __future__ import annotations

import json
from collections.abc import Sequence

import pytest

from assistant.evalset import QuestionSet
from assistant.evaluation import EvalReport, MetricRow, evaluate
from policyqa.types import Answer, Citation, DocType, Passage, StoredChunk, Turn

REFUSAL = "The documents do not answer this question."


def passage(doc: str, index: int = 0) -> Passage:
    text = f"Text of {doc}, chunk {index}."
    chunk = StoredChunk(
        chunk_id=f"{doc}:{index:05d}", doc_id=doc, index=index, text=text, page=None, start=0, end=len(text),
        headings=(), title=doc, doc_type=DocType.OTHER, published=None, source=f"/corpus/{doc}",
    )
    return Passage(chunk=chunk, score=1.0 / (index + 1))


def answer(text: str, *, cited: Sequence[str] = (), retrieved: Sequence[str] = (), answerable: bool = True) -> Answer:
    passages = tuple(passage(doc, i) for i, doc in enumerate(retrieved))
    citations = tuple(Citation(number=n, passage=passage(doc)) for n, doc in enumerate(cited, start=1))
    return Answer(text=text, citations=citations, answerable=answerable, query=text[:20], passages=passages)


TOY_SET = QuestionSet.model_validate({
    "version": 1,
    "questions": [
        {"id": "loan", "kind": "fact", "question": "How much did DOE lend Northwind Minerals?",
         "expected_docs": ["loan.html"], "facts": ["$250 million"]},
        {"id": "loan-date", "kind": "follow-up", "follows": "loan", "question": "When was that announced?",
         "expected_docs": ["loan.html", "timeline.md"], "facts": ["June 16, 2025"]},
        {"id": "loan-site", "kind": "follow-up", "follows": "loan-date", "question": "Where is it being built?",
         "expected_docs": ["loan.html"], "facts": ["Butte", "50 metric tons"]},
        {"id": "mars", "kind": "unanswerable", "question": "How much did NASA spend on Mars rocks?"},
    ],
})

SCRIPT = {
    # rank 1; the fact found; 1 of 1 citations right
    "How much did DOE lend Northwind Minerals?": answer(
        "The Department of Energy lent Northwind Minerals $250 million. [1]",
        cited=["loan.html"], retrieved=["loan.html", "order.md"],
    ),
    # rank 2 (a document's repeated chunks count once); the fact found across odd whitespace and case;
    # 1 of 2 citations right
    "When was that announced?": answer(
        "The loan was announced on JUNE 16,\n  2025. [1] Bluestone sold a stake. [2]",
        cited=["loan.html", "filing.pdf"], retrieved=["order.md", "order.md", "timeline.md", "loan.html"],
    ),
    # rank 6: outside the top 5; a false refusal; neither fact found
    "Where is it being built?": answer(
        REFUSAL, retrieved=["order.md", "filing.pdf", "a.md", "b.md", "c.md", "loan.html"], answerable=False
    ),
    # correctly refused
    "How much did NASA spend on Mars rocks?": answer(REFUSAL, retrieved=["order.md"], answerable=False),
}


class ScriptedAsk:
    """Answers from ``SCRIPT`` and records the history each question was asked with."""

    def __init__(self, script: dict[str, Answer]) -> None:
        self.script = script
        self.histories: dict[str, list[Turn]] = {}

    def __call__(self, question: str, history: Sequence[Turn]) -> Answer:
        self.histories[question] = list(history)
        return self.script[question]


@pytest.fixture
def report() -> EvalReport:
    return evaluate(TOY_SET, ScriptedAsk(SCRIPT), retrieved=lambda a: a.passages)


def row(report: EvalReport, label: str) -> MetricRow:
    found = [r for r in report.rows if r.label == label]
    assert found, f"no row {label!r} among {[r.label for r in report.rows]}"
    return found[0]


def test_follow_ups_get_their_whole_chain_as_history_and_first_questions_none() -> None:
    ask = ScriptedAsk(SCRIPT)

    evaluate(TOY_SET, ask, retrieved=lambda a: a.passages)

    loan_turn = Turn("How much did DOE lend Northwind Minerals?", SCRIPT["How much did DOE lend Northwind Minerals?"])
    date_turn = Turn("When was that announced?", SCRIPT["When was that announced?"])
    assert ask.histories["How much did DOE lend Northwind Minerals?"] == [], "a first question has no history"
    assert ask.histories["When was that announced?"] == [loan_turn], "a follow-up sees the turn it follows"
    assert ask.histories["Where is it being built?"] == [loan_turn, date_turn], "the chain is passed in order"
    assert ask.histories["How much did NASA spend on Mars rocks?"] == [], "a new conversation starts empty"


def test_per_question_results_record_rank_facts_and_cited_documents(report: EvalReport) -> None:
    by_id = {r.id: r for r in report.results}

    assert [by_id[q].rank for q in ("loan", "loan-date", "loan-site")] == [1, 2, 6], "first expected doc's rank"
    assert by_id["loan-date"].retrieved_docs == ("order.md", "timeline.md", "loan.html"), "documents deduplicated"
    assert (by_id["loan-date"].facts_found, by_id["loan-site"].facts_found) == (1, 0)
    assert by_id["loan-date"].cited_docs == ("loan.html", "filing.pdf")
    assert by_id["loan-date"].is_follow_up and not by_id["loan"].is_follow_up
    assert by_id["mars"].unanswerable and by_id["mars"].rank is None


def test_overall_retrieval_metrics_count_answerable_questions_only(report: EvalReport) -> None:
    overall = report.overall

    assert overall.questions == 4, "every question is counted in n"
    assert overall.hit_at_1 == pytest.approx(1 / 3), "only the first question has its document at rank 1"
    assert overall.hit_at_5 == pytest.approx(2 / 3), "rank 6 misses the top 5"
    assert overall.mrr == pytest.approx((1 + 1 / 2 + 1 / 6) / 3), "mean of reciprocal ranks 1, 2 and 6"


def test_overall_fact_recall_and_citation_precision(report: EvalReport) -> None:
    overall = report.overall

    assert overall.fact_recall == pytest.approx(2 / 4), "2 of the 4 facts of answerable questions were stated"
    assert overall.citation_precision == pytest.approx(2 / 3), "2 of the 3 citations point at expected documents"


def test_overall_refusal_accuracy_and_false_refusals(report: EvalReport) -> None:
    assert report.overall.refusal_accuracy == 1.0, "the one unanswerable question was refused"
    assert report.overall.false_refusals == 1, "one answerable question was refused"


def test_first_question_and_follow_up_rows_split_the_chain(report: EvalReport) -> None:
    first, follow = row(report, "first questions"), row(report, "follow-ups")

    assert (first.questions, first.hit_at_1, first.hit_at_5, first.mrr) == (1, 1.0, 1.0, 1.0), first
    assert (first.fact_recall, first.citation_precision) == (1.0, 1.0), first
    assert (follow.questions, follow.hit_at_1, follow.hit_at_5) == (2, 0.0, 0.5), follow
    assert follow.mrr == pytest.approx((1 / 2 + 1 / 6) / 2), follow
    assert follow.fact_recall == pytest.approx(1 / 3) and follow.citation_precision == pytest.approx(1 / 2), follow
    assert follow.false_refusals == 1, follow


def test_rows_per_kind_in_file_order_and_unanswerable_rows_have_no_retrieval_metrics(report: EvalReport) -> None:
    labels = [r.label for r in report.rows]

    assert labels == ["fact", "follow-up", "unanswerable", "first questions", "follow-ups"], labels
    unanswerable = row(report, "unanswerable")
    assert (unanswerable.hit_at_1, unanswerable.mrr, unanswerable.fact_recall) == (None, None, None), unanswerable
    assert unanswerable.refusal_accuracy == 1.0, unanswerable


def test_answering_an_unanswerable_question_fails_refusal_and_its_citations_are_not_scored() -> None:
    qs = QuestionSet.model_validate({"version": 1, "questions": [
        {"id": "mars", "kind": "unanswerable", "question": "How much did NASA spend on Mars rocks?"},
        {"id": "moon", "kind": "unanswerable", "question": "Who owns the Moon?"},
    ]})
    script = {
        "How much did NASA spend on Mars rocks?": answer(
            "NASA spent $1. [1]", cited=["order.md"], retrieved=["order.md"]
        ),
        "Who owns the Moon?": answer(REFUSAL, answerable=False),
    }

    report = evaluate(qs, ScriptedAsk(script), retrieved=lambda a: a.passages)

    assert report.overall.refusal_accuracy == 0.5, "one of two unanswerable questions was refused"
    assert report.overall.false_refusals == 0, "refusing an unanswerable question is not a false refusal"
    assert report.overall.citation_precision is None, "citations of unanswerable questions are not scored"
    assert report.overall.hit_at_5 is None, "no answerable questions, no retrieval metrics"


def test_facts_match_across_typographic_apostrophes_and_dashes() -> None:
    qs = QuestionSet.model_validate({"version": 1, "questions": [
        {"id": "q", "kind": "fact", "question": "Whose order?", "expected_docs": ["order.md"],
         "facts": ["the President's order", "2025-2026"]},
    ]})
    script = {"Whose order?": answer("It is the President\u2019s order for 2025\u20132026. [1]", cited=["order.md"],
                                     retrieved=["order.md"])}

    report = evaluate(qs, ScriptedAsk(script), retrieved=lambda a: a.passages)

    assert report.overall.fact_recall == 1.0, "curly quotes and en dashes should not hide a fact"


def test_report_serialises_to_json_and_prints_a_table(report: EvalReport) -> None:
    data = json.loads(json.dumps(report.as_dict()))

    assert data["overall"]["hit_at_5"] == pytest.approx(2 / 3), data["overall"]
    assert [q["rank"] for q in data["questions"]] == [1, 2, 6, None], "each question carries its rank"
    table = report.table()
    for label in ("all", "first questions", "follow-ups", "hit@5", "cite-prec"):
        assert label in table, f"{label!r} missing from the table:\n{table}"
    assert "0.67" in table.splitlines()[1], f"the overall row shows hit@5 = 0.67:\n{table}"
