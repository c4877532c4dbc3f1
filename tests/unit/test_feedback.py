"""assistant/feedback.py: thumbs up/down appended as JSON lines beside the store, read back intact."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from assistant.feedback import feedback_path, read_feedback, record_feedback
from policyqa.types import Answer, Citation, DocType, Passage, StoredChunk

TEXT = "The Department of Defense will take a 10% stake in Trilogy Metals. The deal closed on October 6, 2025."


def make_answer(text: str = "The Department of Defense will take a 10% stake in Trilogy Metals. [1]") -> Answer:
    chunk = StoredChunk(
        chunk_id="trilogy:00000", doc_id="trilogy", index=0, text=TEXT, page=3, start=0, end=len(TEXT), headings=(),
        title="Trilogy Metals stake", doc_type=DocType.ARTICLE, published="2025-10-06", source="/corpus/trilogy.pdf",
    )
    end = TEXT.index(".") + 1
    citation = Citation(number=1, passage=Passage(chunk=chunk, score=1.0), quote_start=0, quote_end=end)
    return Answer(text=text, citations=(citation,), answerable=True, query="Trilogy Metals stake", backend="offline")


def test_record_then_read_round_trips_every_field(tmp_path: Path) -> None:
    store = tmp_path / "store"

    path = record_feedback(store, "How big is the stake?", make_answer(), 1, comment="precise")

    assert path == feedback_path(store) == store / "feedback.jsonl", f"written to {path}"
    records = read_feedback(store)
    assert len(records) == 1, f"records: {records}"
    record = records[0]
    assert record["rating"] == 1 and record["question"] == "How big is the stake?", record
    assert record["answer"] == make_answer().text and record["query"] == "Trilogy Metals stake", record
    assert record["answerable"] is True and record["backend"] == "offline" and record["comment"] == "precise", record
    assert record["citations"] == [
        {"number": 1, "doc_id": "trilogy", "chunk_id": "trilogy:00000", "title": "Trilogy Metals stake", "page": 3,
         "quote": "The Department of Defense will take a 10% stake in Trilogy Metals."}
    ], record["citations"]
    assert str(record["at"]).endswith("+00:00"), f"timestamps should be UTC: {record['at']}"


def test_records_are_appended_in_order_one_per_line(tmp_path: Path) -> None:
    store = tmp_path / "store"
    questions = ["first?", "second\nwith a newline?", "third \u201cquoted\u201d \u00e9?"]

    for n, question in enumerate(questions):
        record_feedback(store, question, make_answer(), n % 2)

    lines = feedback_path(store).read_text(encoding="utf-8").splitlines()
    assert len(lines) == 3, f"one line per record: {lines}"
    assert [json.loads(line)["question"] for line in lines] == questions
    assert [r["rating"] for r in read_feedback(store)] == [0, 1, 0]
    assert "\u00e9" in lines[2], "non-ASCII text is kept readable, not \\u-escaped"


def test_refusal_is_recorded_with_no_citations(tmp_path: Path) -> None:
    refusal = Answer(text="The documents do not answer this question.", citations=(), answerable=False, query="q")

    record_feedback(tmp_path, "Who won?", refusal, 0)

    (record,) = read_feedback(tmp_path)
    assert (record["answerable"], record["citations"], record["rating"]) == (False, [], 0), record


def test_reading_without_any_feedback_gives_an_empty_list(tmp_path: Path) -> None:
    assert read_feedback(tmp_path / "nowhere") == []


@pytest.mark.parametrize("rating", [2, -1, 5, None, "1", "up", True, 1.0])
def test_rating_other_than_0_or_1_is_refused_and_nothing_written(rating: object, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="rating must be 0 or 1"):
        record_feedback(tmp_path, "q?", make_answer(), rating)  # type: ignore[arg-type]

    assert not feedback_path(tmp_path).exists(), "a refused rating must not create the file"


def test_a_comment_given_later_replaces_the_rating_record_of_the_same_answer(tmp_path: Path) -> None:
    from assistant.feedback import feedback_csv, latest_feedback

    store = tmp_path / "store"
    record_feedback(store, "How big is the stake?", make_answer(), 1, record_id="chat1-0")
    record_feedback(store, "Another question?", make_answer(), 1, record_id="chat1-1")
    record_feedback(store, "How big is the stake?", make_answer(), 0, comment="  wrong year ", record_id="chat1-0")

    latest = latest_feedback(store)

    assert len(read_feedback(store)) == 3, "the file is only appended to"
    assert [(r["question"], r["rating"], r["comment"]) for r in latest] == [
        ("How big is the stake?", 0, "wrong year"), ("Another question?", 1, "")
    ], latest
    rows = feedback_csv(latest).splitlines()
    assert rows[0] == "at,rating,comment,question,query,answer,answerable,backend,sources", rows[0]
    assert rows[1].split(",")[1:4] == ["down", "wrong year", "How big is the stake?"], rows[1]
    assert rows[1].endswith('"[1] Trilogy Metals stake, p. 3"'), rows[1]
