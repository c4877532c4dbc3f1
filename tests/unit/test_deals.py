"""Deal extraction patterns, one or two sentences at a time: instruments, values, agencies, dates, places, merging."""

from __future__ import annotations

import pytest

from assistant.deals import Deal, deals_csv, deals_from_chunks, deals_table, iso_date
from policyqa.types import DocType, StoredChunk


def chunk(text: str, *, title: str = "A news story", published: str | None = "2025-09-01", doc_id: str = "doc",
          index: int = 0, page: int | None = None) -> StoredChunk:
    return StoredChunk(
        chunk_id=f"{doc_id}:{index:05d}", doc_id=doc_id, index=index, text=text, page=page, start=0, end=len(text),
        headings=(), title=title, doc_type=DocType.ARTICLE, published=published, source=f"{doc_id}.md",
    )


# Documents that state who a company is: the reader learns names from the corpus, never from a list in code.
MP_PROFILE = chunk(
    "MP Materials (NYSE: MP) owns and operates Mountain Pass in California. The agreement provides for a new magnet "
    "plant, known as the 10X Facility.", title="Who MP Materials is", doc_id="mp-profile", published=None,
)
LAC_PROFILE = chunk(
    "Lithium Americas (NYSE: LAC) is developing Thacker Pass in Humboldt County.", title="Who Lithium Americas is",
    doc_id="lac-profile", published=None,
)


def deals_in(text: str, *, context: tuple[StoredChunk, ...] = (), **kwargs: object) -> list[Deal]:
    """The deals of one passage, read in a corpus that also holds ``context`` (documents stating no deal)."""
    deals = deals_from_chunks([chunk(text, **kwargs), *context])  # type: ignore[arg-type]
    return [d for d in deals if any(s.doc_id == kwargs.get("doc_id", "doc") for s in d.fields["company"].sources)]


def only(deals: list[Deal]) -> Deal:
    assert len(deals) == 1, f"rows: {[(d.company, d.instrument) for d in deals]}"
    return deals[0]


def cells(deal: Deal) -> dict[str, str]:
    return {name: cell.value for name, cell in deal.fields.items() if name not in ("company", "instrument")}


def test_preferred_stock_with_warrants_is_one_equity_stake() -> None:
    deal = only(deals_in(
        "The Department of Defense agreed to buy $400 million of newly issued MP convertible preferred stock, "
        "together with warrants.", context=(MP_PROFILE,)
    ))

    assert (deal.company, deal.instrument) == ("MP Materials", "equity stake"), "MP is MP Materials' ticker"
    assert (deal.value("amount"), deal.value("agency")) == ("$400 million", "Department of Defense")


def test_money_for_a_stake_is_the_stake_and_warrants_with_their_own_percent_are_a_row() -> None:
    deals = deals_in(
        "The U.S. government agreed on October 6, 2025 to invest $35.6 million for a 10 percent stake in Trilogy "
        "Metals, an exploration company focused on Alaska. It also receives warrants for an additional 7.5 percent."
    )

    rows = [(d.company, d.instrument) for d in deals]
    assert rows == [("Trilogy Metals", "equity stake"), ("Trilogy Metals", "warrant")], "sorted by date"
    stake, warrant = deals
    assert cells(stake) == {
        "amount": "$35.6 million", "stake_percent": "10 percent", "agency": "U.S. government", "date": "2025-10-06",
        "location": "Alaska",
    }
    assert warrant.value("stake_percent") == "7.5 percent", "'an additional' is dropped from the value"


def test_price_floor_keeps_its_unit_and_term() -> None:
    deal = only(deals_in(
        "DoD committed to a 10-year price floor of $110 per kilogram for NdPr (neodymium-praseodymium) oxide.",
        title="MP Materials: summary", context=(MP_PROFILE,)
    ))

    assert (deal.company, deal.instrument) == ("MP Materials", "price floor"), "the title names the company"
    got = (deal.value("amount"), deal.value("term"), deal.value("mineral"))
    assert got == ("$110 per kilogram", "10 years", "NdPr")


def test_offtake_percent_is_a_share_of_output_not_a_stake() -> None:
    deal = only(deals_in(
        "The Department of Defense committed to buy 100 percent of the magnets from the 10X Facility for ten years.",
        context=(MP_PROFILE,),
    ))

    assert (deal.company, deal.instrument) == ("MP Materials", "offtake"), "the 10X Facility is MP Materials'"
    assert (deal.value("share"), deal.value("term"), deal.value("stake_percent")) == ("100 percent", "10 years", "")
    assert deals_table([deal])[0]["terms"] == "100 percent of output; 10 years"


def test_warrants_named_in_a_lead_in_govern_the_list_items_under_it() -> None:
    deals = deals_in(
        "The restructuring gives the government two positions, both in the form of warrants:\n\n"
        "5 percent equity ownership in Lithium Americas;\n\n"
        "a further 5 percent in the Lithium Americas–GM joint venture."
    )

    rows = {(d.company, d.instrument): d.value("stake_percent") for d in deals}
    assert rows == {
        ("Lithium Americas", "warrant"): "5 percent",
        ("Lithium Americas–GM joint venture", "warrant"): "5 percent",
    }


def test_restructuring_of_a_loan_is_not_a_new_loan() -> None:
    deals = deals_in(
        "Energy Secretary Chris Wright announced on October 1, 2025 a restructuring of the federal loan for the "
        "Thacker Pass lithium project in Nevada. The revised agreement also includes amendments to the loan and "
        "more than $100 million of new equity.", context=(LAC_PROFILE,)
    )

    deal = only(deals)
    assert (deal.company, deal.instrument) == ("Lithium Americas", "loan restructuring"), "Thacker Pass is LAC's"
    assert cells(deal) == {
        "amount": "more than $100 million", "agency": "Department of Energy", "date": "2025-10-01",
        "location": "Nevada", "mineral": "lithium",
    }


def test_bank_financing_names_the_banks_as_counterparty_and_no_agency() -> None:
    deal = only(deals_in(
        "Two private banks, JPMorgan Chase and Goldman Sachs, committed $1 billion of financing for the 10X Facility.",
        context=(MP_PROFILE,),
    ))

    assert (deal.company, deal.instrument, deal.value("amount")) == ("MP Materials", "financing", "$1 billion")
    assert (deal.value("counterparty"), deal.value("agency")) == ("JPMorgan Chase, Goldman Sachs", "")


def test_an_unknown_company_is_found_by_its_suffix() -> None:
    deal = only(deals_in(
        "Acme Lithium Corp. will receive a $20 million grant from the Department of Energy to build a lithium "
        "hydroxide plant in Reno, Nevada."
    ))

    assert (deal.company, deal.instrument) == ("Acme Lithium Corp.", "grant")
    assert cells(deal) == {
        "amount": "$20 million", "agency": "Department of Energy", "date": "2025-09-01", "location": "Reno, Nevada",
        "mineral": "lithium",
    }, "with no date in the sentence, the document's published date"


def test_a_company_name_is_not_a_mineral() -> None:
    deal = only(deals_in(
        "Korea Zinc will invest about $7.4 billion in a refinery in Clarksville, Tennessee, with the U.S. government "
        "taking part through a joint venture."
    ))

    assert (deal.instrument, deal.value("amount"), deal.value("location")) == (
        "investment", "about $7.4 billion", "Clarksville, Tennessee"
    )
    assert deal.value("mineral") == "", "the Zinc of Korea Zinc names the company"


@pytest.mark.parametrize(
    "text",
    [
        "China accounts for roughly 90 percent of global rare-earth processing.",
        "The federal government took equity stakes worth $1 billion in mining companies.",
        "Executive Order 14241 asks agencies to use $5 billion of federal financing, including from DoD, for MP.",
        "# MP Materials gets a $400 million stake",
    ],
    ids=["no-instrument", "no-company", "executive-order", "heading"],
)
def test_sentences_that_state_no_deal_give_no_row(text: str) -> None:
    assert deals_in(text) == []


def test_a_sentence_without_a_value_enriches_but_does_not_create_a_row() -> None:
    text = "Trilogy Metals is the third company in which the federal government has taken an equity position."
    assert deals_in(text) == []


def test_a_list_item_takes_the_date_heading_it_and_the_company_before_it() -> None:
    deals = deals_in(
        "### July\n\n- **July 10, 2025** – MP Materials announces its agreement with the Department of Defense. "
        "The Department agrees to buy $400 million of newly issued convertible preferred stock and commits to a "
        "10-year price floor for NdPr oxide.",
        title="Timeline", published="2025-12-20", context=(MP_PROFILE,),
    )

    rows = {d.instrument: cells(d) for d in deals}
    assert rows == {
        "equity stake": {"amount": "$400 million", "agency": "Department of Defense", "date": "2025-07-10"},
        "price floor": {"term": "10 years", "agency": "Department of Defense", "date": "2025-07-10", "mineral": "NdPr"},
    }, "'The Department' is the Department of Defense named before it"


def test_a_back_reference_gives_the_previous_sentence_its_date_and_place() -> None:
    deal = only(deals_in(
        "Bluestone Copper Corporation will receive $60 million from the Department of Defense in exchange for a "
        "12 percent stake. The agreement was announced on August 18, 2025. The proceeds will fund the expansion of "
        "the Red Mesa copper mine in Arizona."
    ))

    assert (deal.value("date"), deal.value("location"), deal.value("mineral")) == ("2025-08-18", "Arizona", "copper")


def test_the_latest_published_document_wins_and_the_other_stays_a_source() -> None:
    old = chunk("The Department of Energy agreed a loan of $2.0 billion to Lithium Americas.", doc_id="old",
                published="2024-10-01")
    new = chunk("The Department of Energy agreed a loan of about $2.26 billion to Lithium Americas.", doc_id="new",
                published="2025-10-01")

    deal = only(deals_from_chunks([new, old]))

    amount = deal.fields["amount"]
    assert amount.value == "about $2.26 billion"
    assert [(s.doc_id, s.value) for s in amount.sources] == [("new", "about $2.26 billion"), ("old", "$2.0 billion")]


def test_a_stated_date_beats_a_later_documents_publication_date() -> None:
    stated = chunk("The loan of $150 million to MP Materials was executed in August 2025.", doc_id="a",
                   published="2025-08-15")
    undated = chunk("The package includes a $150 million loan from DoD to MP Materials.", doc_id="b",
                    published="2025-12-01")

    deal = only(deals_from_chunks([stated, undated]))

    assert deal.value("date") == "2025-08"
    assert deal.fields["amount"].source.doc_id == "b", "for other fields the latest document still wins"


def test_every_cell_quotes_the_sentence_it_came_from() -> None:
    text = "Some context first. Acme Lithium Corp. will receive a $20 million grant from the Department of Energy."
    deal = only(deals_in(text, page=3))

    for name, cell in deal.fields.items():
        source = cell.source
        assert text[source.start : source.end] == source.quote, name
        assert source.quote.startswith("Acme Lithium Corp."), f"{name}: {source.quote!r}"
        assert source.reference == "[A news story, p. 3]"


def test_csv_has_the_documented_columns_and_sources() -> None:
    text = deals_csv(deals_in("Acme Lithium Corp. will receive a $20 million grant from the Department of Energy."))

    header, row = text.splitlines()
    assert header.split(",") == [
        "company", "mineral", "instrument", "amount", "stake_percent", "agency", "date", "location", "counterparty",
        "term", "share", "sources",
    ]
    assert row.startswith("Acme Lithium Corp.,,grant,$20 million,,Department of Energy,2025-09-01,")
    assert row.endswith("[A news story]")


@pytest.mark.parametrize(
    ("text", "iso"),
    [("July 10, 2025", "2025-07-10"), ("October\n6, 2025", "2025-10-06"), ("October 2024", "2024-10"),
     ("7 November 2025", "2025-11-07"), ("2025", "2025"), ("no date", "")],
)
def test_iso_date(text: str, iso: str) -> None:
    assert iso_date(text) == iso


# -- recognition without a list of names (issue 14) -----------------------------------------------------------------

def test_an_amount_goes_to_the_party_the_sentence_gives_it_to() -> None:
    deals = deals_in(
        "The Office of Strategic Capital announced a $700 million loan to Alpha Lithium Inc. on May 2, 2026. "
        "Omega Mining Corp. was not part of the loan.",
        title="Editorial Osc Omega Mining",
    )

    assert [(d.company, d.instrument, d.value("amount")) for d in deals] == [
        ("Alpha Lithium Inc.", "loan", "$700 million")
    ], "not the company the file name or a later sentence names"


def test_each_amount_goes_to_its_own_recipient() -> None:
    deals = deals_in(
        "The Loan Programs Office closed a loan of $2.5 billion to Ultra Cells and issued a conditional commitment "
        "of $9.2 billion to Blue Arc SK, joint ventures between Gamma Motors and Delta Energy."
    )

    assert {(d.company, d.value("amount")) for d in deals} == {
        ("Ultra Cells", "$2.5 billion"), ("Blue Arc SK", "$9.2 billion")
    }, "companies named only as partners get nothing"


def test_companies_are_read_from_apposition_into_and_awarded() -> None:
    deals = deals_in(
        "- The Department of War is investing $150 million into Borealis Magnetics, a Minnesota company making "
        "100% domestic, rare earth-free magnets.\n"
        "- The Department of Defense awarded Kestrel $90 million to restart a lithium mine in North Carolina.\n"
        "- Acme Graphite, a Georgia company, will receive $12 million from the Department of Defense."
    )

    rows = {(d.company, d.instrument): cells(d) for d in deals}
    assert rows[("Borealis Magnetics", "investment")] == {
        "amount": "$150 million", "agency": "Department of Defense", "date": "2025-09-01", "location": "Minnesota",
    }, "100% is no stake, and rare earth-free magnets name no mineral"
    assert rows[("Kestrel", "award")]["amount"] == "$90 million"
    assert rows[("Acme Graphite", "funding")]["amount"] == "$12 million"
    assert len(rows) == 3, rows


def test_a_sum_of_several_deals_is_no_ones_amount() -> None:
    deals = deals_in(
        "The Department of Energy awarded a $35 million grant to Gamma Recycling LLC, part of over $100 million in "
        "awards this year. Since 2023 the Department has made 23 awards totaling $717.5 million."
    )

    assert [(d.company, d.instrument, d.value("amount")) for d in deals] == [
        ("Gamma Recycling LLC", "grant", "$35 million")
    ]


@pytest.mark.parametrize(
    "text",
    [
        "Copper imports from Delta Copper Corp. face a 50 percent tariff.",
        "Delta Copper Corp. supplies 100% domestic copper to the Department of Defense.",
    ],
    ids=["tariff", "domestic"],
)
def test_a_percentage_is_a_stake_only_beside_stake_words(text: str) -> None:
    assert all(not d.value("stake_percent") for d in deals_in(text)), deals_in(text)


@pytest.mark.parametrize(
    "text",
    [
        "Rivet Motors, Inc. reported that cash provided by financing activities was $3.0 billion for the quarter.",
        "In Q3 2023, Orbit Retail Inc. invested $1.25 billion in a note from Vector Labs, PBC.",
        "Orbit Retail Inc. holds $5.8 billion of U.S. government securities and money market funds.",
        "Orbit Retail Inc. repurchased 42,676 shares of common stock for $184.34 per share.",
    ],
    ids=["cash-flow", "own-investment", "government-securities", "buyback"],
)
def test_a_company_s_own_finances_are_not_a_deal(text: str) -> None:
    assert deals_in(text) == [], "a deal has the government or a named lender as its other party"
