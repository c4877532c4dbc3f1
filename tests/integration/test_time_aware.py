"""Time-aware answers, mineral and place tags, and acronyms, over small corpora the tests write."""

from __future__ import annotations

from pathlib import Path

import pytest

from assistant import Assistant
from ingest.pipeline import ingest_paths
from policyqa.settings import Settings
from policyqa.store import CorpusStore, open_store
from policyqa.types import Filters
from tests.builders import write_markdown
from tests.fakes import FakeEmbedder


def _doc(folder: Path, name: str, title: str, published: str, body: str, doc_type: str = "article") -> None:
    write_markdown(
        folder / name, f"# {title}\n\n{body}\n",
        front_matter={"title": title, "doc_type": doc_type, "published": published, "publisher": "test"},
    )


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    folder = tmp_path / "docs"
    folder.mkdir()
    _doc(folder, "acme-march.md", "Acme Lithium stake report", "2025-03-01",
         "The Department of Energy holds a 5 percent stake in Acme Lithium, the agency said. "
         "Acme Lithium runs the Silver Peak brine project in Nevada.")
    _doc(folder, "acme-september.md", "Acme Lithium stake update", "2025-09-01",
         "The Department of Energy holds a 9 percent stake in Acme Lithium, the agency said. "
         "The larger holding followed a second investment round.", doc_type="filing")
    _doc(folder, "borealis-copper.md", "Borealis Copper loan in Alaska", "2025-05-12",
         "The Department of Defense lent $80 million to Borealis Copper for a copper mine in Alaska. "
         "The Pentagon said the loan runs for 12 years.")
    _doc(folder, "gallium-order.md", "Executive order on gallium", "2025-11-20",
         "Executive Order 15555 directs the Department of Commerce to study gallium imports from abroad. "
         "It was signed on November 20, 2025.", doc_type="policy")
    return folder


@pytest.fixture
def assistant(corpus: Path, settings: Settings) -> Assistant:
    embedder = FakeEmbedder(max_tokens=256)
    store = open_store(settings)
    report = ingest_paths([corpus], settings, store=store, embedder=embedder)
    assert report.ok, report
    return Assistant(settings, store=store, embedder=embedder)


def _cited_docs(answer) -> set[str]:  # type: ignore[no-untyped-def]
    return {Path(c.chunk.source).name for c in answer.citations}


def test_disagreeing_figures_are_answered_as_of_the_latest_with_the_earlier_one_cited(assistant: Assistant) -> None:
    answer = assistant.ask("What stake does the Department of Energy hold in Acme Lithium?")
    assert answer.answerable, answer.text
    assert answer.text.startswith("As of 2025-09-01:"), answer.text
    assert "9 percent" in answer.text and "Earlier (2025-03-01):" in answer.text and "5 percent" in answer.text
    assert answer.text.index("9 percent") < answer.text.index("5 percent"), "the latest figure comes first"
    assert _cited_docs(answer) == {"acme-march.md", "acme-september.md"}, "each figure cites its own document"
    numbers = {c.number for c in answer.citations}
    assert len(numbers) == 2, answer.citations


def test_a_question_in_a_year_prefers_documents_published_then(assistant: Assistant) -> None:
    answer = assistant.ask("What did the Department of Commerce study in November 2025?")
    assert "2025-11-01 to 2025-11-30" in answer.scope, answer.scope
    assert answer.passages and answer.passages[0].chunk.published == "2025-11-20", [p.chunk.published for p in answer.passages]


def test_latest_puts_newer_documents_first(assistant: Assistant) -> None:
    answer = assistant.ask("What is the latest on the Acme Lithium stake?")
    dates = [p.chunk.published for p in answer.passages]
    assert dates == sorted(dates, reverse=True), dates
    assert "newest documents first" in answer.scope


def test_before_an_event_prefers_what_was_published_before_it(assistant: Assistant) -> None:
    answer = assistant.ask("What stake did the Department of Energy hold before the gallium order?")
    assert "on or before 2025-11-19" in answer.scope, answer.scope


def test_tags_filter_retrieval_by_mineral_and_place(assistant: Assistant) -> None:
    alaska = assistant.ask("Who received money?", filters=Filters(tags=("Alaska",)))
    assert {Path(p.chunk.source).name for p in alaska.passages} == {"borealis-copper.md"}, alaska.passages
    lithium = assistant.retriever.search("stake", Filters(tags=("lithium",)))
    assert lithium and all("lithium" in p.chunk.tags for p in lithium), [p.chunk.tags for p in lithium]
    either = assistant.retriever.search("department", Filters(tags=("gallium", "copper")))
    assert {Path(p.chunk.source).name for p in either} == {"borealis-copper.md", "gallium-order.md"}


def test_chunks_carry_the_dates_their_text_states(assistant: Assistant) -> None:
    order = [p for p in assistant.retriever.search("Executive Order 15555 signed") if "15555" in p.chunk.text]
    assert order and "2025-11-20" in order[0].chunk.dates, order


def test_acronym_and_full_name_retrieve_the_same_lexical_passages(assistant: Assistant) -> None:
    store: CorpusStore = assistant.store
    from assistant.glossary import expand_query

    short = {cid for cid, _ in store.lexical_search(expand_query("DoD loan"), 5)}
    full = {cid for cid, _ in store.lexical_search(expand_query("Department of Defense loan"), 5)}
    pentagon = {cid for cid, _ in store.lexical_search(expand_query("Pentagon loan"), 5)}
    assert short and short == full == pentagon, (short, full, pentagon)


@pytest.mark.model
@pytest.mark.parametrize(
    ("acronym", "spelled_out"),
    [
        ("What did DoD agree to buy from MP Materials?", "What did the Department of Defense agree to buy from MP Materials?"),
        ("How large was the DOE ATVM loan?", "How large was the Department of Energy Advanced Technology Vehicles Manufacturing loan?"),
        ("What price floor applies to NdPr oxide?", "What price floor applies to neodymium-praseodymium oxide?"),
        ("What does DPA Title III allow?", "What does Title III of the Defense Production Act allow?"),
    ],
)
def test_acronym_and_spelled_out_questions_find_the_same_documents(
    acronym: str, spelled_out: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    assistant = _starter_assistant(tmp_path_factory)
    first = [p.chunk.doc_id for p in assistant.retriever.search(acronym)][:3]
    second = [p.chunk.doc_id for p in assistant.retriever.search(spelled_out)][:3]
    # Both find the same best document and share their top documents (one document may hold all three).
    shared = min(2, len(set(first)), len(set(second)))
    assert first[0] == second[0] and len(set(first) & set(second)) >= shared, (first, second)


_STARTER: dict[str, Assistant] = {}


def _starter_assistant(tmp_path_factory: pytest.TempPathFactory) -> Assistant:
    if "a" not in _STARTER:
        settings = Settings(store_dir=tmp_path_factory.mktemp("starter"), collection="starter")
        assert ingest_paths([Path(__file__).resolve().parents[2] / "corpus"], settings).ok
        _STARTER["a"] = Assistant(settings)
    return _STARTER["a"]
