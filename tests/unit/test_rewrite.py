"""assistant/rewrite.py: entity spotting, follow-up detection and the offline RuleRewriter."""

from __future__ import annotations

import pytest

from assistant.rewrite import QueryRewriter, RuleRewriter, changes_subject, content_words, entities, is_follow_up
from policyqa.types import Answer, Turn


def turn(question: str, answer_text: str = "", *, query: str | None = None) -> Turn:
    answer = Answer(text=answer_text, citations=(), answerable=bool(answer_text), query=query or question)
    return Turn(question, answer)


LOAN = turn(
    "How much did Northwind Minerals borrow from the Department of Energy?",
    "Northwind Minerals borrowed $250 million for the Butte refinery. [1]",
)


def test_entities_finds_multiword_names_and_order_numbers_in_order() -> None:
    found = entities(
        "Why would the Department of Energy lend Northwind Minerals money under EO 14241 or Executive Order 15001?"
    )

    assert found == ["Department of Energy", "Northwind Minerals", "EO 14241", "Executive Order 15001"], found


def test_entities_skips_question_words_months_and_generic_government_names() -> None:
    found = entities("What did the U.S. government and the President say in July?")

    assert found == [], f"nothing here names a specific thing: {found}"


def test_entities_lists_each_name_once() -> None:
    assert entities("Northwind Minerals lends. Bluestone Copper sells. Northwind Minerals again.") == [
        "Northwind Minerals",
        "Bluestone Copper",
    ]


def test_content_words_drop_question_and_filler_words() -> None:
    assert content_words("How much did the Department of Energy lend?") == ["Department", "Energy", "lend"]


@pytest.mark.parametrize(
    "question",
    ["What about Bluestone Copper?", "And Bluestone Copper?", "When was that announced?", "How long is it?", "Why?"],
)
def test_elliptical_or_anaphoric_questions_are_follow_ups(question: str) -> None:
    assert is_follow_up(question), f"{question!r} depends on the conversation"


@pytest.mark.parametrize(
    "question",
    ["How much did Northwind Minerals borrow from the Department of Energy?", "And how many workers were hired?"],
)
def test_self_contained_questions_are_not_follow_ups(question: str) -> None:
    assert not is_follow_up(question), f"{question!r} stands on its own"


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("What about Bluestone Copper?", True),
        ("and how about the Port of Duluth", True),
        ("And Bluestone Copper?", True),
        ("And how many workers were hired?", False),
        ("When was that announced?", False),
    ],
)
def test_changes_subject_spots_a_question_asked_again_about_something_new(question: str, expected: bool) -> None:
    assert changes_subject(question) is expected, f"{question!r}"


def test_without_history_the_question_is_the_query() -> None:
    assert RuleRewriter().rewrite("  When was that announced?  ", []) == "When was that announced?"


def test_a_standalone_question_is_not_rewritten_even_with_history() -> None:
    question = "How much did Bluestone Copper receive from the Department of Defense?"

    assert RuleRewriter().rewrite(question, [LOAN]) == question


def test_a_follow_up_naming_its_own_subject_is_not_rewritten() -> None:
    question = "Where will Northwind Minerals build its refinery?"  # "its" is anaphoric, but the name is there

    assert RuleRewriter().rewrite(question, [LOAN]) == question


def test_what_about_swaps_the_previous_main_subject_for_the_new_one() -> None:
    query = RuleRewriter().rewrite("What about Bluestone Copper?", [LOAN])

    assert query == "How much did Bluestone Copper borrow from the Department of Energy?", query


def test_and_only_swaps_the_subject_without_carrying_the_question_mark_into_the_query() -> None:
    query = RuleRewriter().rewrite("And Bluestone Copper?", [LOAN])

    assert query == "How much did Bluestone Copper borrow from the Department of Energy?", query


def test_pronoun_follow_up_carries_the_previous_entities_and_the_answers_names() -> None:
    query = RuleRewriter().rewrite("When was that announced?", [LOAN])

    assert query.startswith("When was that announced?"), f"the question itself stays first: {query!r}"
    for carried in ("Northwind Minerals", "Department of Energy", "Butte"):
        assert carried in query, f"{carried!r} should be carried into {query!r}"


def test_a_very_short_follow_up_also_gets_the_previous_topic_words() -> None:
    query = RuleRewriter().rewrite("How long is it?", [LOAN])

    assert "borrow" in query, f"the topic of the last question should come along: {query!r}"


def test_the_previous_standalone_query_is_used_rather_than_its_raw_question() -> None:
    history = [turn("Who signed it?", "", query="Who signed it? Executive Order 15001")]

    query = RuleRewriter().rewrite("When was that?", history)

    assert "Executive Order 15001" in query, f"the chain's subject should persist: {query!r}"


def test_names_already_in_the_follow_up_are_not_repeated() -> None:
    query = RuleRewriter().rewrite("when did the department of energy announce that?", [LOAN])

    assert "Department of Energy" not in query, f"the follow-up already names it (in lower case): {query!r}"
    assert "Northwind Minerals" in query, f"the other entity is still carried: {query!r}"


def test_rule_rewriter_satisfies_the_query_rewriter_protocol() -> None:
    rewriter: QueryRewriter = RuleRewriter()

    assert isinstance(rewriter.rewrite("What is it?", [LOAN]), str)
