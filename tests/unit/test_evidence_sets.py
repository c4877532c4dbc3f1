"""The JSON Lines question sets (minerals-dev, sec-10q): loading, the tune/check split and evidence-level scoring."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

from assistant.evalset import load_question_set
from assistant.evaluation import evaluate, holds_evidence
from policyqa.types import Answer, Citation, DocType, Passage, StoredChunk
from tests.conftest import ROOT

EVIDENCE_A = "The Northwind Minerals refinery received a loan of 250 million dollars from the Department of Energy."
EVIDENCE_B = "The Bluestone Copper mine sold a twelve percent stake to the Department of Defense in June."
ROWS = [
    {"id": "dev-01", "kind": "single-doc", "question": "How big was the loan?", "reference_answer": "$250m",
     "evidence": EVIDENCE_A, "doc": "a.txt"},
    {"id": "dev-02", "kind": "multi-doc", "question": "Compare the two deals.", "reference_answer": "both",
     "evidence": EVIDENCE_A, "doc": "a.txt", "supporting": [{"doc": "b.txt", "evidence": EVIDENCE_B}]},
    {"id": "dev-03", "kind": "follow-up", "question": "When?", "reference_answer": "June", "evidence": EVIDENCE_B,
     "doc": "b.txt", "follows": "dev-02", "standalone_question": "When did Bluestone sell the stake?"},
    {"id": "dev-04", "kind": "unanswerable", "question": "What did Acme get?", "reference_answer": "NOT IN CORPUS",
     "evidence": "", "doc": None, "key_terms": ["Acme"]},
]


def write_set(tmp_path: Path) -> Path:
    path = tmp_path / "questions.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in ROWS) + "\n", encoding="utf-8")
    return path


def passage(doc: str, text: str) -> Passage:
    chunk = StoredChunk(
        chunk_id=f"{doc}:00000", doc_id=doc, index=0, text=text, page=None, start=0, end=len(text), headings=(),
        title=doc, doc_type=DocType.OTHER, published=None, source=f"/docs/{doc}",
    )
    return Passage(chunk=chunk, score=1.0)


def test_a_jsonl_set_loads_with_kinds_evidence_follow_ups_and_unanswerable_questions(tmp_path: Path) -> None:
    questions = {q.id: q for q in load_question_set(write_set(tmp_path)).questions}

    assert [q.kind for q in questions.values()] == ["fact", "multi-document", "follow-up", "unanswerable"]
    assert questions["dev-02"].expected_docs == ["a.txt", "b.txt"]
    assert questions["dev-02"].evidence == [EVIDENCE_A, EVIDENCE_B]
    assert questions["dev-03"].follows == "dev-02" and questions["dev-03"].standalone.startswith("When did")
    assert questions["dev-04"].expected_docs == [] and not questions["dev-04"].answerable


def test_odd_ids_tune_and_even_ids_check() -> None:
    from assistant.evalset import EvalQuestion

    def split(qid: str) -> str:
        return EvalQuestion(id=qid, kind="fact", question="q?", expected_docs=["a"]).split

    assert [split(f"dev-{i:02d}") for i in (1, 2, 59, 60)] == ["tune", "check", "tune", "check"]
    assert {split("mp-stake"), split("lac-loan")} <= {"tune", "check"}, "ids without a number still get a half"


def test_each_evidence_string_of_a_multi_document_question_is_scored_separately(tmp_path: Path) -> None:
    qs = load_question_set(write_set(tmp_path))
    a, b = passage("a.txt", "Background. " + EVIDENCE_A), passage("b.txt", EVIDENCE_B + " More.")
    other = passage("c.txt", "Nothing relevant is said in this passage about either deal at all.")
    retrieved = {"How big was the loan?": (a, other), "Compare the two deals.": (a, other, b), "When?": (other,)}

    def ask(question: str, history: object) -> Answer:
        found = retrieved.get(question, ())
        cites = (Citation(1, found[0], 0, len(found[0].chunk.text)),) if found else ()
        return Answer(text="x [1]" if found else "no", citations=cites, answerable=bool(found), query=question,
                      passages=found)

    report = evaluate(qs, ask, retrieved=lambda answer: answer.passages)
    results = {r.id: r for r in report.results}

    assert results["dev-01"].hit_at(1) == 1.0 and results["dev-01"].first_citation_hit
    assert results["dev-02"].hit_at(1) == 0.5 and results["dev-02"].hit_at(5) == 1.0, "A at 1, B at 3"
    assert results["dev-02"].rank == 3 and results["dev-02"].reciprocal_rank == pytest.approx((1 + 1 / 3) / 2)
    assert results["dev-03"].hit_at(5) == 0.0 and not results["dev-03"].any_citation_hit
    assert report.overall.refusal_accuracy == 1.0 and report.overall.false_refusals == 0


def test_the_hit_rule_agrees_with_the_dev_set_s_own_check() -> None:
    check = ROOT.parent / "shared" / "datasets" / "minerals-dev" / "check.py"
    if not check.is_file():
        pytest.skip(f"{check} not found: the dev set is not next to the checkout")
    spec = importlib.util.spec_from_file_location("minerals_check", check)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    cases = [
        (EVIDENCE_A, EVIDENCE_A), ("Intro. " + EVIDENCE_A[:60], EVIDENCE_A), (EVIDENCE_B, EVIDENCE_A),
        (EVIDENCE_A.upper().replace(" ", " -- "), EVIDENCE_A), ("", EVIDENCE_A),
    ]
    for passage_text, evidence in cases:
        assert holds_evidence(passage_text, evidence) == module.is_hit(passage_text, evidence), passage_text
    assert [holds_evidence(p, e) for p, e in cases] == [True, False, False, True, False]


@pytest.mark.parametrize(
    ("reference", "figures"),
    [
        # Amounts as written, without the file names a reference cites as its sources.
        ("In the first quarter of 2023, Apple spent $7,709 million on R&D.\n\nSOURCE(S): 2023 Q1 AAPL.pdf",
         ["7,709"]),
        ("Net sales were $82,959 million. (SOURCE: 2022 Q3 AAPL.pdf)", ["82,959"]),
        # Percentages count whatever their size; other numbers need three digits ("June 30" says too little alone),
        # and years do not count (a filing's answers name their periods in every sentence).
        ("A 10% stake and warrants for 7.5 percent more, for $35.6 million, on June 30, 2025.",
         ["10", "7.5", "35.6"]),
        ("Section 232 of the Trade Expansion Act (of 1962, 19 U.S.C. 1862).", ["232", "1862"]),
        ("Yes: the order says so.", []),
    ],
)
def test_the_facts_of_a_jsonl_question_are_the_figures_of_its_reference_answer(
    reference: str, figures: list[str]
) -> None:
    from assistant.evalset import reference_figures

    assert reference_figures(reference) == figures


def test_a_figure_the_question_gives_is_not_a_fact_of_its_answer() -> None:
    from assistant.evalset import reference_figures

    question = "What did Apple spend on R&D, about 7.5 billion dollars?"
    assert reference_figures("Apple spent $7.5 billion, or $7,709 million.", question) == ["7,709"]


def test_a_loaded_jsonl_question_carries_its_reference_figures_as_facts(tmp_path: Path) -> None:
    rows = [{"id": "q-01", "question": "How much in 2024?", "reference_answer": "It lent $250 million in 2024.",
             "doc": "a.txt"}]
    path = tmp_path / "questions.jsonl"
    path.write_text(json.dumps(rows[0]) + "\n", encoding="utf-8")
    assert load_question_set(path).questions[0].facts == ["250"]


def test_a_figure_is_found_only_where_it_stands_alone() -> None:
    from assistant.evaluation import fact_found

    assert fact_found("7,709", "Research and development $ 7,709 $ 6,306")
    assert fact_found("10", "a 10% stake") and fact_found("2025", "on June 30, 2025.")
    assert not fact_found("709", "$ 7,709"), "a figure inside a larger number is not that figure"
    assert not fact_found("1.3", "$1.35 billion") and not fact_found("35", "$35.6 million")
    assert fact_found("10-year price floor", "a 10-Year Price Floor of $110")  # words: case-free substring
