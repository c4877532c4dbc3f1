"""assistant/grounding.py: claims and their [n] markers, the number rule, and verification against passages."""

from __future__ import annotations

import pytest

from assistant.grounding import MIN_SIMILARITY, numbers_in, split_claims, verify
from policyqa.types import DocType, Passage, StoredChunk
from tests.fakes import FakeEmbedder

LOAN = (
    "Northwind Minerals borrowed $250 million from the Department of Energy for the Butte refinery. "
    "The loan closed on July 10, 2025 and runs for 15 years."
)
TARIFF = "The tariff on imported copper rises to 50 percent on August 1, 2025. Bluestone Copper expects costs to double."
WAIVER = "The Secretary can grant an exemption from the copper tariff to domestic smelters."


def passage(text: str, doc_id: str = "doc") -> Passage:
    chunk = StoredChunk(
        chunk_id=f"{doc_id}:00000", doc_id=doc_id, index=0, text=text, page=None, start=0, end=len(text),
        headings=(), title=doc_id, doc_type=DocType.ARTICLE, published=None, source=f"/corpus/{doc_id}.md",
    )
    return Passage(chunk=chunk, score=1.0)


PASSAGES = (passage(LOAN, "loan"), passage(TARIFF, "tariff"), passage(WAIVER, "waiver"))


# --- split_claims ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Alpha borrowed money [1]. Beta sold copper [2].", [("Alpha borrowed money.", (1,)), ("Beta sold copper.", (2,))]),
        ("Alpha [1] borrowed money. Beta sold copper.", [("Alpha borrowed money.", (1,)), ("Beta sold copper.", ())]),
        ("Alpha borrowed money [1][2]. Beta sold copper [3].", [("Alpha borrowed money.", (1, 2)), ("Beta sold copper.", (3,))]),
        ("Alpha borrowed money. [1][2]", [("Alpha borrowed money.", (1, 2))]),
        ("No markers at all. None here either.", [("No markers at all.", ()), ("None here either.", ())]),
    ],
    ids=["after-each", "inside", "grouped", "trailing-group", "none"],
)
def test_split_claims_gives_each_sentence_the_markers_that_follow_or_sit_inside_it(
    text: str, expected: list[tuple[str, tuple[int, ...]]]
) -> None:
    assert split_claims(text) == expected


@pytest.mark.parametrize(
    "text",
    ["Alpha borrowed money. [1] Beta sold copper. [2]", "Alpha borrowed money.[1] Beta sold copper.[2]"],
    ids=["space", "glued"],
)
def test_markers_written_after_the_full_stop_belong_to_the_sentence_before_them(text: str) -> None:
    # The style verify() itself writes back ("sentence. [1]"), and one models often use.
    assert split_claims(text) == [("Alpha borrowed money.", (1,)), ("Beta sold copper.", (2,))]


def test_a_marker_after_an_abbreviation_ends_the_sentence_without_splitting_it() -> None:
    assert split_claims("Funds went to Northwind Inc. [1] Beta sold copper [2].") == [
        ("Funds went to Northwind Inc.", (1,)),
        ("Beta sold copper.", (2,)),
    ]


def test_a_marker_inside_a_sentence_after_an_abbreviation_does_not_end_it() -> None:
    assert split_claims("Copper entering the U.S. [1] pays a tariff [2].") == [
        ("Copper entering the U.S. pays a tariff.", (1, 2))
    ]


# --- numbers_in ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a loan of $2.26 billion", {"2.26"}),
        ("1,000 jobs and 1000 more", {"1000"}),
        ("signed on July 10, 2025.", {"july", "10", "2025"}),
        ("a 15 percent stake, then 15%", {"15"}),
        ("from JULY 10", {"july", "10"}),
        ("no figures here", set()),
    ],
)
def test_numbers_in_normalises_amounts_thousands_and_dates(text: str, expected: set[str]) -> None:
    assert numbers_in(text) == expected


def test_the_modal_verb_may_is_not_a_month() -> None:
    assert numbers_in("The Secretary may grant an exemption.") == set(), "'may' here is a verb"
    assert numbers_in("The order was signed in May.") == {"may"}


# --- verify ---------------------------------------------------------------------------------------


def test_a_sentence_taken_from_the_cited_passage_is_supported_and_quotes_that_sentence() -> None:
    grounded = verify("The loan closed on July 10, 2025 and runs for 15 years [1].", PASSAGES, FakeEmbedder())

    assert grounded.report.supported == 1 and grounded.report.flagged == (), f"report: {grounded.report}"
    [citation] = grounded.citations
    assert citation.number == 1 and citation.chunk.doc_id == "loan", f"citation: {citation}"
    assert citation.quote == "The loan closed on July 10, 2025 and runs for 15 years.", f"quote: {citation.quote!r}"


def test_a_number_the_cited_passage_lacks_makes_the_claim_unsupported_even_if_another_passage_has_it() -> None:
    grounded = verify("The loan closed on July 10, 2025 and runs for 50 years [1].", PASSAGES, FakeEmbedder())

    [claim] = grounded.claims
    assert claim.supported is False, f"claim: {claim}"
    assert "50" in claim.reason, f"the reason should name the invented number: {claim.reason!r}"
    assert grounded.report.unsupported == 1 and grounded.report.flagged == (claim.text,)


def test_a_number_is_checked_against_all_the_passages_a_sentence_cites() -> None:
    grounded = verify(
        "Northwind Minerals borrowed $250 million while the copper tariff rose to 50 percent [1][2].",
        PASSAGES,
        FakeEmbedder(),
    )

    [claim] = grounded.claims
    assert claim.markers == (1, 2) and claim.supported is True, f"claim: {claim}"


def test_a_month_the_cited_passage_lacks_makes_the_claim_unsupported() -> None:
    grounded = verify("The tariff on imported copper rises to 50 percent on March 1, 2025 [2].", PASSAGES, FakeEmbedder())

    assert grounded.claims[0].supported is False and "march" in grounded.claims[0].reason, f"{grounded.claims[0]}"


def test_a_paraphrase_with_the_verb_may_is_not_flagged_for_a_missing_month() -> None:
    grounded = verify("The Secretary may grant an exemption from the copper tariff to domestic smelters [3].", PASSAGES,
                      FakeEmbedder())

    assert grounded.claims[0].supported is True, f"{grounded.claims[0]}"


def test_a_sentence_unlike_anything_in_the_cited_passage_is_unsupported() -> None:
    embedder = FakeEmbedder()
    claim_text = "Penguins enjoy cold weather in Antarctica."
    similarity = max(float(v @ embedder.encode([claim_text])[0]) for v in embedder.encode(LOAN.split(". ")))
    assert similarity < MIN_SIMILARITY, f"precondition: the fake embedder separates these ({similarity:.2f})"

    grounded = verify(f"{claim_text[:-1]} [1].", PASSAGES, embedder)

    assert grounded.claims[0].supported is False, f"{grounded.claims[0]}"
    assert grounded.claims[0].reason == "the cited passage does not say this"


def test_a_sentence_without_a_marker_is_uncited_and_gets_no_citation() -> None:
    grounded = verify("Northwind Minerals borrowed $250 million [1]. It was a good deal.", PASSAGES, FakeEmbedder())

    assert (grounded.report.supported, grounded.report.uncited) == (1, 1), f"report: {grounded.report}"
    assert grounded.report.flagged == ("It was a good deal.",)
    assert [c.number for c in grounded.citations] == [1]


def test_markers_pointing_to_no_passage_are_dropped_and_reported() -> None:
    grounded = verify("Northwind Minerals borrowed $250 million [1][9]. Bluestone Copper expects costs [0].",
                      PASSAGES, FakeEmbedder())

    assert grounded.dropped_markers == (9, 0), f"dropped: {grounded.dropped_markers}"
    assert "[9]" not in grounded.text and "[0]" not in grounded.text, f"text: {grounded.text!r}"
    assert grounded.claims[0].markers == (1,) and grounded.claims[1].supported is None, f"claims: {grounded.claims}"


def test_verified_text_keeps_each_sentence_with_its_markers_and_can_be_verified_again() -> None:
    embedder = FakeEmbedder()
    first = verify(
        "Northwind Minerals borrowed $250 million [1]. The tariff on imported copper rises to 50 percent [2][2].",
        PASSAGES, embedder,
    )

    again = verify(first.text, PASSAGES, embedder)

    assert first.text == "Northwind Minerals borrowed $250 million. [1] The tariff on imported copper rises to 50 percent. [2]"
    assert [(c.text, c.markers) for c in again.claims] == [(c.text, c.markers) for c in first.claims], (
        f"re-verifying {first.text!r} should find the same claims"
    )
    assert again.report == first.report


def test_an_empty_answer_has_no_claims() -> None:
    grounded = verify("", PASSAGES, FakeEmbedder())

    assert grounded.claims == () and grounded.report.supported == grounded.report.uncited == 0
