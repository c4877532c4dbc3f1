"""`policyqa feedback`: the latest rating and comment of each answer, listed or written as CSV."""

from __future__ import annotations

import csv
from pathlib import Path

from click.testing import CliRunner

from assistant.feedback import record_feedback
from policyqa_cli import main
from policyqa.settings import Settings
from policyqa.types import Answer


def answer(text: str) -> Answer:
    return Answer(text=text, citations=(), answerable=True, query="q")


def test_feedback_csv_has_one_row_per_answer_with_its_comment(tmp_path: Path) -> None:
    store = Settings().store_dir
    record_feedback(store, "How big is the stake?", answer("10%."), 1, record_id="c-0")
    record_feedback(store, "How big is the stake?", answer("10%."), 0, comment="wrong amount", record_id="c-0")
    record_feedback(store, "When?", answer("In 2025."), 1, record_id="c-1")
    out = tmp_path / "feedback.csv"

    result = CliRunner().invoke(main, ["feedback", "--csv", str(out)])

    assert result.exit_code == 0, result.output
    assert "2 answer(s) with feedback written" in result.output
    rows = list(csv.DictReader(out.open(encoding="utf-8")))
    assert [(r["question"], r["rating"], r["comment"]) for r in rows] == [
        ("How big is the stake?", "down", "wrong amount"), ("When?", "up", "")
    ], rows


def test_feedback_without_records_says_so() -> None:
    result = CliRunner().invoke(main, ["feedback"])

    assert result.exit_code == 0 and "no feedback yet" in result.output, result.output
