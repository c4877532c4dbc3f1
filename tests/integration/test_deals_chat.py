"""The chat answers list and comparison questions about deals from the deal table (the issue-14 hook in
Assistant.stream), and leaves every other question to the passage answerer."""

from __future__ import annotations

import pytest

from assistant.assistant import Assistant
from assistant.deals.answer import BACKEND
from policyqa.settings import Settings
from policyqa.store import CorpusStore
from policyqa.types import Answer, Filters
from tests.fakes import FakeEmbedder
from tests.integration.deals_corpus import corpus_settings, corpus_store  # noqa: F401 - fixtures


@pytest.fixture(scope="module")
def assistant(corpus_settings: Settings, corpus_store: CorpusStore) -> Assistant:  # noqa: F811
    return Assistant(corpus_settings, store=corpus_store, embedder=FakeEmbedder(max_tokens=256))


def test_a_comparison_question_gets_a_cited_table(assistant: Assistant) -> None:
    events = list(assistant.stream("Compare the Lithium Americas and MP Materials deals"))

    answer = events[-1]
    assert isinstance(answer, Answer) and answer.backend == BACKEND, answer
    assert "".join(e for e in events[:-1] if isinstance(e, str)) == answer.text, "the streamed text is the answer"
    assert "| Lithium Americas [" in answer.text and "| MP Materials [" in answer.text, answer.text
    assert answer.answerable and answer.citations and all(c.quote for c in answer.citations)
    assert "about $2.26 billion [" in answer.text and "$400 million [" in answer.text, answer.text


def test_a_list_question_about_one_agency_lists_its_companies(assistant: Assistant) -> None:
    answer = assistant.ask("Which companies has the Department of War invested in, and how much?")

    assert answer.backend == BACKEND, answer.text
    assert "$400 million [" in answer.text and "$150 million [" in answer.text, answer.text
    assert "Lithium Americas" not in answer.text, "the Department of Energy's deals are not the War Department's"


@pytest.mark.parametrize(
    "question",
    ["What price floor did DoD commit to for NdPr oxide?",
     "How much did the U.S. government agree to invest in Trilogy Metals, and for what stake?"],
)
def test_other_questions_are_answered_from_passages(assistant: Assistant, question: str) -> None:
    answer = assistant.ask(question)

    assert answer.backend != BACKEND and "| Company |" not in answer.text, answer.text


def test_a_filtered_search_is_not_answered_from_the_whole_table(assistant: Assistant) -> None:
    answer = assistant.ask("Compare the Lithium Americas and MP Materials deals", filters=Filters(tags=("lithium",)))

    assert answer.backend != BACKEND, "the table covers every document; the filter asks for some"
