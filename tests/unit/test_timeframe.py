"""Time words in questions: what range they mean, and how they combine with the user's filters."""

from __future__ import annotations

import datetime as dt

import pytest

from assistant.timeframe import TimeFrame, apply_timeframe, parse_timeframe
from policyqa.types import Filters


@pytest.mark.parametrize(
    ("question", "date_from", "date_to"),
    [
        ("Which orders were signed in April 2025?", "2025-04-01", "2025-04-30"),
        ("What happened in 2025?", "2025-01-01", "2025-12-31"),
        ("What has happened since July?", "2025-07-01", None),
        ("What changed after October 2025?", "2025-11-01", None),
        ("What did DoD do before August 2025?", None, "2025-07-31"),
        ("What happened after 2024?", "2025-01-01", None),
        ("What happened during March?", "2025-03-01", "2025-03-31"),
    ],
)
def test_time_words_become_a_publication_range(question: str, date_from: str | None, date_to: str | None) -> None:
    frame = parse_timeframe(question, reference_year=2025)
    assert (frame.date_from, frame.date_to) == (date_from, date_to), f"{question!r} -> {frame}"
    assert frame.phrase, "the words that set the range are reported for the UI"


def test_a_month_without_a_year_means_the_reference_year() -> None:
    assert parse_timeframe("since July?", reference_year=2031).date_from == "2031-07-01"


def test_before_a_named_event_uses_the_events_date() -> None:
    seen: list[str] = []

    def event_date(phrase: str) -> dt.date | None:
        seen.append(phrase)
        return dt.date(2025, 10, 6) if "ambler road" in phrase.lower() else None

    frame = parse_timeframe("What was announced before the Ambler Road decision?", reference_year=2025, event_date=event_date)
    assert frame.date_to == "2025-10-05", frame
    assert frame.event == "before the Ambler Road decision", frame
    assert frame.strip_event("What was announced before the Ambler Road decision?") == "What was announced?"
    assert seen and "Ambler Road" in seen[0]

    after = parse_timeframe("What happened after the Ambler Road approval?", reference_year=2025, event_date=event_date)
    assert after.date_from == "2025-10-07", after


def test_an_unknown_event_sets_no_range() -> None:
    frame = parse_timeframe("What happened before the moon landing?", reference_year=2025, event_date=lambda _: None)
    assert frame.empty, frame


@pytest.mark.parametrize("question", ["What is the latest on Lithium Americas?", "What is the most recent stake?"])
def test_latest_asks_for_newest_documents_first(question: str) -> None:
    frame = parse_timeframe(question, reference_year=2025)
    assert frame.prefer_latest and not (frame.date_from or frame.date_to), frame


@pytest.mark.parametrize("question", ["How big is the stake?", "Where does it come from the mine?", "What is 2025's plan?"])
def test_questions_without_time_words_set_nothing(question: str) -> None:
    assert parse_timeframe(question, reference_year=2025).empty


def test_apply_timeframe_intersects_with_the_users_range() -> None:
    user = Filters(date_from="2025-03-01", date_to="2025-12-31", doc_ids=("a",))
    frame = TimeFrame(date_from="2025-01-01", date_to="2025-06-30")
    combined = apply_timeframe(user, frame)
    assert (combined.date_from, combined.date_to, combined.doc_ids) == ("2025-03-01", "2025-06-30", ("a",))
