"""assistant/question.py: the noun a question asks about, read once for the refusal signals."""

from __future__ import annotations

import pytest

from assistant.question import asked_head


@pytest.mark.parametrize(
    ("question", "head"),
    [
        ("What is the price floor?", "floor"),
        ("How many jobs will the new smelter create?", "jobs"),
        # A verb ends the noun phrase as a preposition does.
        ("What Section 301 duty rate applies to imports of graphite anodes?", "rate"),
        ("What interest rate and repayment term does the loan carry?", "term"),
        ("Which agencies did the order tell to report?", "agencies"),
        ("Where is the smelter, and which company runs it?", "company"),
    ],
)
def test_the_noun_asked_about_is_the_last_word_of_the_phrase_after_the_question_word(question: str, head: str) -> None:
    assert asked_head(question) == head


@pytest.mark.parametrize(
    "question",
    [
        # An auxiliary right after the question word: the phrase is subject and verb ("lend", "spend").
        "What did the agency lend to the refinery?",
        "How much did the company spend on research and development?",
        # A pronoun names nothing the passages could be checked for.
        "What is it for?",
        "And what were those?",
    ],
)
def test_a_verb_or_pronoun_is_never_taken_for_the_noun_asked_about(question: str) -> None:
    assert asked_head(question) is None, asked_head(question)
