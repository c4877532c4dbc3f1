"""The question set over the real corpus and the real model: quality floors, and no sentence without its source."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

from assistant import Assistant
from assistant.evalset import load_question_set
from assistant.evaluation import EvalReport, MetricRow, evaluate
from ingest.pipeline import ingest_paths
from policyqa.settings import Settings
from policyqa.store import open_store
from policyqa.types import Answer, Turn
from tests.answer_checks import unsupported_sentences

pytestmark = [pytest.mark.eval, pytest.mark.model]

MIN_HIT_AT_5 = 0.9
MIN_FACT_RECALL = 0.8
MIN_CITATION_PRECISION = 0.85
# Refusals come from the evidence model fit on the tune halves of every set (benchmarks/fit_refusal.py), no longer
# from answer-type patterns written for this corpus: 5 of the 8 unanswerable questions are refused (was 7), and no
# answerable question is (was 3). The README's "Answers on documents nobody tuned for" gives both halves' figures.
MIN_REFUSAL_ACCURACY = 0.6
MAX_FOLLOW_UP_HIT_AT_5_GAP = 0.1  # follow-ups may trail first questions by at most this much

ROOT = Path(__file__).resolve().parents[2]
CORPUS = ROOT / "corpus"
QUESTIONS = Path(__file__).with_name("questions.yaml")


@dataclass(frozen=True)
class EvalRun:
    report: EvalReport
    answers: tuple[tuple[str, Answer], ...]  # (question, answer) in asking order
    json_path: Path


@pytest.fixture(scope="module")
def eval_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EvalRun]:
    """Ingest corpus/ with the real model once, then ask every question of the set."""
    tmp = tmp_path_factory.mktemp("eval")
    settings = Settings(store_dir=tmp / "store")
    store = open_store(settings)
    ingested = ingest_paths([CORPUS], settings, store=store)
    assert ingested.ok and ingested.chunks > 0, f"ingesting {CORPUS} failed: {ingested.summary()}"
    assistant = Assistant(settings, store=store)
    answers: list[tuple[str, Answer]] = []

    def ask(question: str, history: Sequence[Turn]) -> Answer:
        answer = assistant.ask(question, history)
        answers.append((question, answer))
        return answer

    report = evaluate(load_question_set(QUESTIONS), ask, retrieved=lambda a: a.passages)
    json_path = tmp / "eval-report.json"
    json_path.write_text(json.dumps(report.as_dict(), indent=2), encoding="utf-8")
    print(f"\n{report.table()}\nreport written to {json_path}")
    yield EvalRun(report=report, answers=tuple(answers), json_path=json_path)
    store.close()


def row(report: EvalReport, label: str) -> MetricRow:
    found = [r for r in report.rows if r.label == label]
    assert found, f"no row {label!r} in the report:\n{report.table()}"
    return found[0]


def at_least(value: float | None, floor: float, name: str, report: EvalReport) -> None:
    assert value is not None and value >= floor, f"{name} is {value}, below {floor}:\n{report.table()}"


def test_hit_at_5_meets_its_floor(eval_run: EvalRun) -> None:
    at_least(eval_run.report.overall.hit_at_5, MIN_HIT_AT_5, "hit@5", eval_run.report)


def test_fact_recall_meets_its_floor(eval_run: EvalRun) -> None:
    at_least(eval_run.report.overall.fact_recall, MIN_FACT_RECALL, "fact recall", eval_run.report)


def test_citation_precision_meets_its_floor(eval_run: EvalRun) -> None:
    at_least(eval_run.report.overall.citation_precision, MIN_CITATION_PRECISION, "citation precision", eval_run.report)


def test_refusal_accuracy_meets_its_floor(eval_run: EvalRun) -> None:
    at_least(eval_run.report.overall.refusal_accuracy, MIN_REFUSAL_ACCURACY, "refusal accuracy", eval_run.report)


def test_follow_ups_retrieve_nearly_as_well_as_first_questions(eval_run: EvalRun) -> None:
    report = eval_run.report
    first, follow = row(report, "first questions"), row(report, "follow-ups")

    assert first.hit_at_5 is not None and follow.hit_at_5 is not None, f"both rows need questions:\n{report.table()}"
    gap = first.hit_at_5 - follow.hit_at_5
    assert gap <= MAX_FOLLOW_UP_HIT_AT_5_GAP, (
        f"follow-up hit@5 {follow.hit_at_5:.2f} trails first questions' {first.hit_at_5:.2f} by {gap:.2f}:\n"
        f"{report.table()}"
    )


def test_the_json_report_is_written_with_every_question(eval_run: EvalRun) -> None:
    data = json.loads(eval_run.json_path.read_text(encoding="utf-8"))

    assert data["overall"]["questions"] == len(load_question_set(QUESTIONS).questions), data["overall"]
    assert len(data["questions"]) == data["overall"]["questions"], "one entry per question"


def test_never_states_a_sentence_that_is_not_in_a_cited_passage(eval_run: EvalRun) -> None:
    answered = [(q, a) for q, a in eval_run.answers if a.answerable]
    assert answered, "some questions should be answered"

    problems = [f"{q!r}: {p}" for q, a in answered for p in unsupported_sentences(a)]

    assert not problems, f"{len(problems)} unsupported sentences:\n" + "\n".join(problems)
