"""Which questions the deal table answers, and how: signals (several companies, a comparison, an agency), a table
whose every cell cites its sentence, ``None`` for everything else."""

from __future__ import annotations

import dataclasses
import re
import time

import pytest

from assistant.deals import answer_from_deals, deals_from_chunks, is_deal_question
from assistant.deals.answer import DealAnswerer
from policyqa.types import DocType, DocumentMeta, DocumentRecord, StoredChunk

TEXT = (
    "- The Department of War is investing $150 million into Borealis Magnetics, a Minnesota company.\n"
    "- The Department of War is investing $40 million into Quartz Optics Corp. to grow crystal output.\n"
    "- The Export-Import Bank is investing $25 million into Tidewater Graphite Inc. in Alabama for graphite.\n"
    "- The Department of Energy issued a $102 million loan to Cobalt Ridge Mining Inc. to build a refinery.\n"
)
CHUNK = StoredChunk(
    chunk_id="fact-sheet:00000", doc_id="fact-sheet", index=0, text=TEXT, page=None, start=0, end=len(TEXT),
    headings=(), title="Fact sheet", doc_type=DocType.ARTICLE, published="2026-08-07", source="fact-sheet.md",
)
DEALS = deals_from_chunks([CHUNK])
CHUNKS = {CHUNK.chunk_id: CHUNK}


def companies(question: str) -> list[str]:
    answer = answer_from_deals(question, DEALS, CHUNKS)
    assert answer is not None, question
    return re.findall(r"^\| ([^|\[]+?) \[\d+\]", answer.text, re.M)


def test_the_table_is_read_from_the_sentences() -> None:
    assert {(d.company, d.instrument) for d in DEALS} == {
        ("Borealis Magnetics", "investment"), ("Quartz Optics Corp.", "investment"),
        ("Tidewater Graphite Inc.", "investment"), ("Cobalt Ridge Mining Inc.", "loan"),
    }


def test_an_agency_in_a_list_question_keeps_its_deals_largest_first() -> None:
    assert companies("Which companies has the Department of War invested in, and how much?") == [
        "Borealis Magnetics", "Quartz Optics Corp."
    ]
    assert companies("Which firms did the Pentagon back?") == ["Borealis Magnetics", "Quartz Optics Corp."], "DoD"


def test_a_comparison_of_named_companies_keeps_those_companies() -> None:
    assert companies("Compare the Borealis Magnetics and Cobalt Ridge Mining deals") == [
        "Borealis Magnetics", "Cobalt Ridge Mining Inc."
    ]


def test_an_instrument_or_mineral_narrows_the_list() -> None:
    assert companies("List the loans.") == ["Cobalt Ridge Mining Inc."]
    assert companies("Which graphite companies got money?") == ["Tidewater Graphite Inc."]


def test_every_cell_cites_the_sentence_it_was_read_from() -> None:
    answer = answer_from_deals("List all the deals", DEALS, CHUNKS)

    assert answer is not None and answer.answerable and answer.backend == "deal table"
    rows = [line for line in answer.text.splitlines() if line.startswith("| ") and "Company" not in line]
    assert len(rows) == 4, answer.text
    for row in rows:
        for cell in row.strip("| ").split(" | "):
            assert cell == "–" or re.search(r"\[\d+\]$", cell), f"uncited cell {cell!r}"
    for c in answer.citations:
        assert CHUNK.text[c.quote_start : c.quote_end] == c.quote
        number = re.search(r"\$\d+", c.quote)
        assert number and f"{number.group(0)} million [{c.number}]" in answer.text, "the amount cites its sentence"


@pytest.mark.parametrize(
    "question",
    [
        "How much is the Department of War investing in Borealis Magnetics?",  # one company's fact
        "Which minerals does the fact sheet name?",  # a list, not of deals
        "What is the capital of Alabama?",
        "Which companies built roads in Alaska?",  # companies, but none of the table's deals fit
    ],
)
def test_other_questions_are_not_answered_from_the_table(question: str) -> None:
    assert answer_from_deals(question, DEALS, CHUNKS) is None


def test_a_question_is_a_deal_question_by_its_signals() -> None:
    assert is_deal_question("Compare Borealis Magnetics with Quartz Optics", DEALS)
    assert is_deal_question("Who received federal money, and how much?", DEALS)
    assert not is_deal_question("What does Borealis Magnetics make?", DEALS)


class _OneDocumentStore:
    """Just what the deal answerer reads: the complete documents, their chunk ids and their chunks."""

    def __init__(self) -> None:
        record = DocumentRecord(
            meta=DocumentMeta(doc_id="fact-sheet", source="fact-sheet.md", title="Fact sheet", content_hash="h1"),
            state="complete", chunk_count=1, ingested_at="2026-12-03T00:00:00",
        )
        self.records = [record]
        self.catalog = self
        self.reads = 0

    def documents(self) -> list[DocumentRecord]:
        return self.records

    def chunk_ids(self, doc_id: str) -> set[str]:
        return {CHUNK.chunk_id}

    def get_chunks(self, ids: list[str]) -> dict[str, StoredChunk]:
        self.reads += 1
        time.sleep(0.2)  # a corpus big enough for a question to arrive while it is read
        return {CHUNK.chunk_id: CHUNK}


def test_the_table_read_ahead_in_the_background_is_the_one_the_first_list_question_uses() -> None:
    store = _OneDocumentStore()
    deals = DealAnswerer(store)  # type: ignore[arg-type]

    reading = deals.warm_in_background()
    answer = deals.answer("Which companies did the Department of War invest in?")  # arrives while it reads
    reading.join(timeout=5)

    assert answer is not None and "Borealis Magnetics" in answer.text, answer
    assert store.reads == 1, f"the question waited for the reading under way instead of starting its own: {store.reads}"
    deals.answer("Which companies did the Department of War invest in?")
    assert store.reads == 1, "an unchanged corpus is not read again"
    changed = dataclasses.replace(store.records[0].meta, content_hash="h2")
    store.records = [dataclasses.replace(store.records[0], meta=changed)]
    deals.answer("Which companies did the Department of War invest in?")
    assert store.reads == 2, "a changed document is read again"
