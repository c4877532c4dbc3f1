"""The DealReader contract, run against every reader: each fact cites a chunk it was given, its quote is exactly
``chunk.text[start:end]`` of that chunk, and the quote states the fact's value."""

from __future__ import annotations

import re
from typing import Any

import pytest

from assistant.deals import DealReader, LLMDealReader, NameBook, RuleReader, merge_facts
from policyqa.types import DocType, StoredChunk
from tests.deal_fakes import ScriptedDealModel

TEXTS = {
    "grants": (
        "Acme Lithium Corp. will receive a $20 million grant from the Department of Energy to build a lithium\n"
        "hydroxide plant in Reno, Nevada. The grant was announced on March 3, 2026.\n\n"
        "- The Department of War is investing $150 million into Borealis Magnetics, a Minnesota company making "
        "magnets."
    ),
    "stake": (
        "The U.S. government agreed to invest $35.6 million in Cobalt Ridge Mining Inc. for a 10 percent stake.\n\n"
        "It also receives warrants for an additional 7.5 percent of Cobalt Ridge Mining Inc."
    ),
}


def chunk(doc_id: str, text: str) -> StoredChunk:
    return StoredChunk(
        chunk_id=f"{doc_id}:00000", doc_id=doc_id, index=0, text=text, page=None, start=0, end=len(text), headings=(),
        title=f"{doc_id} story", doc_type=DocType.ARTICLE, published="2026-03-04", source=f"{doc_id}.md",
    )


CHUNKS = [chunk(doc_id, text) for doc_id, text in TEXTS.items()]


def model_reply(passage: str) -> list[dict[str, Any]]:
    """What a model might answer: right deals with whitespace and dash variants in the quote, and wrong ones."""
    if "Acme" in passage:
        return [
            {"company": "Acme Lithium Corp.", "instrument": "grant", "amount": "$20M", "agency": "DOE",
             "location": "Reno, Nevada", "quote": "Acme Lithium Corp. will receive a $20 million grant from the "
             "Department of Energy to build a lithium hydroxide plant in Reno, Nevada."},  # a space for a line break
            {"company": "Borealis Magnetics", "instrument": "investment", "amount": "$150 million",
             "agency": "Department of War", "location": "Minnesota",
             "quote": "The Department of War is investing $150 million into Borealis Magnetics"},
            {"company": "Acme Lithium Corp.", "instrument": "loan", "amount": "$900 million",
             "quote": "Acme Lithium Corp. will receive a $900 million loan."},  # not in the passage
        ]
    return [
        {"company": "Cobalt Ridge Mining Inc.", "instrument": "equity stake", "amount": "$35.6 million",
         "stake_percent": "10 percent", "agency": "U.S. government", "term": "5 years",  # no term is stated
         "quote": "The U.S. government agreed to invest $35.6 million in Cobalt Ridge Mining Inc. for a 10 percent "
                  "stake."},
    ]


def readers() -> list[DealReader]:
    return [RuleReader(), LLMDealReader(ScriptedDealModel(script=model_reply), timeout_s=5.0, name="scripted")]


@pytest.mark.parametrize("reader", readers(), ids=lambda r: r.name)
def test_every_fact_quotes_exactly_the_chunk_it_cites(reader: DealReader) -> None:
    assert isinstance(reader, DealReader)

    reading = reader.read(CHUNKS, book=NameBook.learn(CHUNKS))

    by_id = {c.chunk_id: c for c in CHUNKS}
    facts = reading.all_facts()
    if isinstance(reader, LLMDealReader):
        assert (reading.backend, reading.answered, reading.failed) == ("scripted", 2, 0), reading.notices
        dropped = (reading.dropped_deals, reading.dropped_cells)
        assert dropped == (1, 2), "the invented loan; the term, and a state named past the quote"
    assert set(reading.facts) == set(by_id), "every chunk read has an entry"
    assert len({f.company for f in facts}) >= 2, f"{reader.name} found the deals: {facts}"
    for fact in facts:
        chunk = by_id.get(fact.source.chunk_id)
        assert chunk is not None, f"{reader.name}: {fact} cites a chunk it was not given"
        assert chunk.text[fact.source.start : fact.source.end] == fact.source.quote, f"{reader.name}: {fact}"
        assert (fact.source.doc_id, fact.source.title) == (chunk.doc_id, chunk.title), fact


@pytest.mark.parametrize("reader", readers(), ids=lambda r: r.name)
def test_every_value_is_stated_in_its_quote(reader: DealReader) -> None:
    reading = reader.read(CHUNKS)

    for fact in reading.all_facts():
        quote = re.sub(r"\s+", " ", fact.source.quote)
        if fact.field in ("amount", "stake_percent", "share"):
            number = re.search(r"\d[\d.,]*\d|\d", fact.value)
            assert number and number.group(0) in quote, f"{reader.name}: {fact.field} {fact.value!r} not in {quote!r}"
        if fact.field == "term":
            assert re.search(r"\d+|ten|five", quote), f"{reader.name}: term {fact.value!r} not in {quote!r}"
    values = {(f.company, f.field, f.value) for f in reading.all_facts()}
    assert ("Cobalt Ridge Mining Inc.", "term", "5 years") not in values, "a term no sentence states"
    assert not any("900" in v for _, _, v in values), "a quote the passage does not hold"


@pytest.mark.parametrize("reader", readers(), ids=lambda r: r.name)
def test_both_readers_give_the_same_rows_on_plain_sentences(reader: DealReader) -> None:
    deals = merge_facts(reader.read(CHUNKS).all_facts())

    rows = {(d.company, d.instrument): d.value("amount") for d in deals}
    assert rows.get(("Acme Lithium Corp.", "grant")) == "$20 million", rows
    assert rows.get(("Borealis Magnetics", "investment")) == "$150 million", rows
    assert rows.get(("Cobalt Ridge Mining Inc.", "equity stake")) == "$35.6 million", rows
