"""assistant/extractive.py: the offline answerer states only cited sentences from its passages, or refuses."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np
import pytest

from assistant.extractive import ExtractiveAnswerer
from assistant.question import expected_pattern
from policyqa.settings import Settings
from policyqa.types import Answer, DocType, Passage, StoredChunk
from tests.answer_checks import assert_every_sentence_is_quoted_from_its_citation, marked_sentences, words_of
from tests.fakes import FakeEmbedder


def passage(doc_id: str, text: str, *, index: int = 0, score: float = 1.0) -> Passage:
    chunk = StoredChunk(
        chunk_id=f"{doc_id}:{index:05d}", doc_id=doc_id, index=index, text=text, page=None, start=0, end=len(text),
        headings=(), title=doc_id.title(), doc_type=DocType.ARTICLE, published=None, source=f"/corpus/{doc_id}.md",
    )
    return Passage(chunk=chunk, score=score)


LOAN = passage(
    "northwind-loan",
    "## The loan\n\n"
    "The Department of Energy loan to Northwind Minerals will pay for a **gallium refinery** in Butte, Montana. "
    "Northwind Minerals will receive $250 million under the loan agreement. "
    "The loan agreement was announced on June 16, 2025, in Butte.",
)
STAKE = passage(
    "bluestone-8k",
    "Item 1.01 Entry into a Material Definitive Agreement.\n"
    "Bluestone Copper Corporation sold a 12 percent stake to the Department of\nDefense for $60 million. "
    "The proceeds fund the Red Mesa copper mine in Arizona.",
)
ORDER = passage(
    "eo-15001",
    "# Executive Order 15001\n\n"
    "The order directs the Department of Commerce to review these imports:\n"
    "- gallium and germanium\n"
    "- refined copper\n\n"
    "The President signed Executive Order 15001 on March 3, 2025.",
)
PASSAGES = (LOAN, STAKE, ORDER)


@pytest.fixture
def answerer(settings: Settings) -> ExtractiveAnswerer:
    return ExtractiveAnswerer(FakeEmbedder(), settings)


@pytest.mark.parametrize(
    "question",
    [
        "How much is the Department of Energy loan to Northwind Minerals?",
        "When was the Department of Energy loan to Northwind Minerals announced?",
        "How much did the Department of Defense pay Bluestone Copper?",
        "Which imports does Executive Order 15001 direct the Department of Commerce to review?",
        "What did the Department of Energy and the Department of Defense fund with the loan and the stake?",
    ],
)
def test_every_stated_sentence_is_quoted_verbatim_from_the_passage_it_cites(
    answerer: ExtractiveAnswerer, question: str
) -> None:
    answer = answerer.answer(question, question, PASSAGES)

    assert answer.answerable, f"{question!r} is answered by the passages; refused: {answerer.last_signals}"
    assert_every_sentence_is_quoted_from_its_citation(answer)


def test_markdown_markers_and_line_breaks_are_cleaned_from_the_stated_text(answerer: ExtractiveAnswerer) -> None:
    question = "What will the Department of Energy loan to Northwind Minerals pay for?"

    answer = answerer.answer(question, question, PASSAGES)

    assert "gallium refinery in Butte" in answer.text, f"the refinery sentence is the answer: {answer.text!r}"
    assert "**" not in answer.text and "#" not in answer.text and "\n" not in answer.text, answer.text


def test_citation_numbers_follow_first_use_and_each_marker_has_a_citation(answerer: ExtractiveAnswerer) -> None:
    question = "What did the Department of Energy and the Department of Defense fund with the loan and the stake?"

    answer = answerer.answer(question, question, PASSAGES)

    numbers = [n for _, n in marked_sentences(answer.text)]
    assert numbers == sorted(numbers) and numbers[0] == 1, f"markers are numbered in order of use: {numbers}"
    assert {c.number for c in answer.citations} == set(numbers), "citations and markers match one to one"
    by_number = {c.number: c.chunk.doc_id for c in answer.citations}
    assert len(set(by_number.values())) == len(by_number), f"one number per passage: {by_number}"


SITES = tuple(
    passage(f"site-{i}", text)
    for i, text in enumerate([
        "The gallium refinery near Butte, Montana gets $250 million for electric furnaces, a chemistry laboratory, "
        "twelve apprenticeships with the local college, and a rail spur that links the plant to the interstate "
        "freight network.",
        "The copper mine at Red Mesa, Arizona gets $60 million for haul trucks, conveyor belts, tailings dams lined "
        "against leaks, and housing for two hundred miners who now commute across the desert each week.",
        "The lithium plant outside Reno, Nevada gets $90 million for evaporation ponds, brine wells, solar panels on "
        "every warehouse roof, and a clinic that serves ranch families along the northern valley road.",
        "The nickel smelter in Duluth, Minnesota gets $75 million for rotary kilns, dust scrubbers, harbour cranes on "
        "Lake Superior piers, and scholarships for welders trained by the union hall downtown.",
        "The graphite mill beside Huntsville, Alabama gets $40 million for grinders, flotation cells, a battery "
        "testing hangar shared with university researchers, and paving for county roads used by delivery lorries.",
    ])
)
SITES_QUESTION = "What do the gallium refinery, copper mine, lithium plant, nickel smelter and graphite mill get?"


def stated_words(answer: Answer) -> tuple[int, int, int]:
    """(sentences, words in all of them, words in the longest)."""
    sizes = [len(words_of(s)) for s, _ in marked_sentences(answer.text)]
    return len(sizes), sum(sizes), max(sizes)


@pytest.mark.parametrize("budget", [20, 60, None], ids=["20 words", "60 words", "default 120 words"])
def test_answer_stays_within_the_word_budget_plus_one_sentence(settings: Settings, budget: int | None) -> None:
    bounded = settings.with_overrides(answer_words=budget)

    answer = ExtractiveAnswerer(FakeEmbedder(), bounded).answer(SITES_QUESTION, SITES_QUESTION, SITES)

    assert answer.answerable, f"refused: {answer.text}"
    _, total, longest = stated_words(answer)
    assert total <= bounded.answer_words + longest, f"{total} words over a budget of {bounded.answer_words}"


def test_a_tight_budget_states_fewer_sentences_than_a_loose_one(settings: Settings) -> None:
    def sentences(words: int) -> int:
        answerer = ExtractiveAnswerer(FakeEmbedder(), settings.with_overrides(answer_words=words))
        return stated_words(answerer.answer(SITES_QUESTION, SITES_QUESTION, SITES))[0]

    loose, tight = sentences(1000), sentences(20)

    assert loose >= 3, f"every site is relevant, so a loose budget states several: {loose}"
    assert tight == 1, f"a 20-word budget leaves room for the first ~30-word sentence only: {tight}"


def test_a_how_much_question_states_the_sentence_with_the_amount(answerer: ExtractiveAnswerer) -> None:
    question = "How much is the Department of Energy loan to Northwind Minerals?"

    answer = answerer.answer(question, question, [LOAN])

    assert "$250 million" in answer.text, f"the amount sentence should be stated: {answer.text!r}"
    assert "June 16, 2025" not in answer.text, f"the date sentence answers a different question: {answer.text!r}"


def test_a_when_question_states_the_sentence_with_the_date(answerer: ExtractiveAnswerer) -> None:
    question = "When was the Department of Energy loan to Northwind Minerals announced?"

    answer = answerer.answer(question, question, [LOAN])

    assert "June 16, 2025" in answer.text, f"the date sentence should be stated: {answer.text!r}"
    assert "$250 million" not in answer.text, f"the amount sentence answers a different question: {answer.text!r}"


def test_an_open_question_states_neither_the_amount_nor_the_date(answerer: ExtractiveAnswerer) -> None:
    question = "What will the Department of Energy loan to Northwind Minerals pay for?"

    answer = answerer.answer(question, question, [LOAN])

    assert "$250 million" not in answer.text and "June 16" not in answer.text, answer.text


@pytest.mark.parametrize(
    ("question", "example", "counter"),
    [
        ("How much did it cost?", "It cost $250 million.", "It cost a lot."),
        ("When was it signed?", "It was signed on March 3, 2025.", "It was signed quickly."),
        ("What percent stake did it buy?", "It bought a 12 percent stake.", "It bought a stake."),
        ("How long is the road?", "The road is 211 miles long.", "The road is long."),
        ("How many workers?", "About 300 workers.", "Many workers."),
        ("How often is the list reviewed?", "It is reviewed at least every 3 years.", "It is reviewed."),
        ("Under the memo, what must they build, and by when?", "It must be built within 180 days.", "Built soon."),
        ("By when must it report?", "It must report by June 30, 2026.", "It must report."),
        ("How often is it updated?", "It is updated annually.", "It is updated by the agency."),
        ("How much of that route crosses federal land?", "It crosses 25 miles of federal land.", "It crosses much."),
        ("How much of the fund is spent?", "About 40 percent of the fund is spent.", "Most of the fund is spent."),
    ],
)
def test_expected_pattern_recognises_what_a_question_asks_for(question: str, example: str, counter: str) -> None:
    pattern = expected_pattern(question)

    assert pattern is not None, f"{question!r} asks for something specific"
    assert pattern.search(example) and not pattern.search(counter), f"{pattern.pattern} on {example!r}/{counter!r}"


def test_an_open_question_expects_no_particular_kind_of_answer() -> None:
    assert expected_pattern("What does the order direct?") is None


def refused(answerer: ExtractiveAnswerer, question: str, passages: Sequence[Passage]) -> Answer:
    answer = answerer.answer(question, question, passages)
    assert not answer.answerable, f"{question!r} should be refused, got {answer.text!r}"
    return answer


def test_a_refusal_has_no_citations_offers_related_passages_and_records_why(answerer: ExtractiveAnswerer) -> None:
    answer = refused(answerer, "What is the capital of France?", PASSAGES)

    assert answer.citations == (), f"a refusal cites nothing: {answer.citations}"
    assert answer.related == PASSAGES[:3], "the closest passages are offered as related reading"
    assert "[" not in answer.text, f"a refusal states no cited sentence: {answer.text!r}"
    assert answerer.last_signals is not None and answerer.last_signals.reason, f"no reason: {answerer.last_signals}"
    assert answerer.last_signals.reason in answer.text, f"the refusal says why: {answer.text!r}"


def test_a_question_about_a_company_absent_from_the_corpus_is_refused(settings: Settings) -> None:
    asked: list[str] = []

    def term_counts(terms: Sequence[str]) -> dict[str, int]:
        asked.extend(terms)
        return {t: 0 if t == "acme" else 4 for t in terms}

    answerer = ExtractiveAnswerer(FakeEmbedder(), settings, term_counts=term_counts)
    loan = passage("northwind-loan", "Northwind Minerals borrowed $250 million from the Department of Energy in June.")

    answer = refused(answerer, "How much did Acme Minerals borrow from the Department of Energy?", [loan])

    assert "acme" in asked, f"the corpus should be asked about the name: {asked}"
    signals = answerer.last_signals
    assert signals is not None and signals.missing_terms == ("acme",), f"signals: {signals}"
    assert "acme" in signals.reason.lower() and "never" in signals.reason, f"reason: {signals.reason!r}"
    assert answer.citations == () and answer.related == (loan,), "refusal shape"
    assert "never mention Acme" in answer.text, f"the user reads why, as the question spells the name: {answer.text!r}"


class _PiecesEmbedder(FakeEmbedder):
    """Splits words of more than eight letters into word pieces, as a real tokenizer splits rare words."""

    def count_tokens(self, texts: list[str]) -> list[int]:
        return [2 + sum(3 if len(w) > 8 else 1 for w in t.split()) for t in texts]


def test_only_rare_words_the_corpus_never_uses_count_as_unknown(settings: Settings) -> None:
    absent = {"polysilicon", "break", "down"}
    answerer = ExtractiveAnswerer(
        _PiecesEmbedder(), settings, term_counts=lambda terms: {t: 0 if t in absent else 4 for t in terms}
    )
    loan = passage("northwind-loan", "Northwind Minerals borrowed $250 million from the Department of Energy in June.")

    common = "How did the Northwind Minerals loan break down?"
    answerer.answer(common, common, [loan])
    assert answerer.last_signals is not None and answerer.last_signals.unknown == 0.0, (
        f"common words a corpus lacks are not unknown: {answerer.last_signals}"
    )
    rare = "What polysilicon loan did Northwind Minerals take?"
    answerer.answer(rare, rare, [loan])
    assert answerer.last_signals is not None and answerer.last_signals.unknown > 0.0, (
        f"a rare word no document uses is unknown: {answerer.last_signals}"
    )


class _SynonymEmbedder(FakeEmbedder):
    """Encodes "minerals" as "lithium cobalt": a model that knows what the word covers, as a real one does."""

    def encode(self, texts: list[str]) -> np.ndarray:
        return super().encode([t.replace("minerals", "lithium cobalt") for t in texts])


def test_an_asked_for_noun_the_passages_lack_counts_by_how_close_the_stated_sentences_come(
    settings: Settings,
) -> None:
    answerer = ExtractiveAnswerer(_SynonymEmbedder(), settings, term_counts=lambda terms: {t: 4 for t in terms})
    listing = passage("determination", "The determination names lithium, nickel and cobalt as battery inputs.")

    def head_signal(question: str) -> float:
        answerer.answer(question, question, [listing])
        assert answerer.last_signals is not None
        return answerer.last_signals.head

    stated = head_signal("Which battery inputs does the determination name?")
    covered = head_signal("Which battery minerals does the determination name?")
    unrelated = head_signal("Which battery factories does the determination name?")
    assert stated == 1.0, "the noun asked about occurs in the passage"
    assert 0.0 < covered < 1.0 and unrelated < covered, (
        f"a noun the stated sentence covers without using it comes closer than one it says nothing of: "
        f"{covered} vs {unrelated}"
    )


def test_whether_a_stated_sentence_holds_the_kind_of_value_asked_for_is_a_signal(settings: Settings) -> None:
    answerer = ExtractiveAnswerer(FakeEmbedder(), settings, term_counts=lambda terms: {t: 4 for t in terms})
    plant = passage("plant", "The Northwind refinery in Butte will process gallium and germanium for defense uses.")
    jobs = passage("jobs", "The Northwind refinery in Butte will employ 240 people when it opens.")

    def typed(question: str, passages: list[Passage]) -> float:
        answerer.answer(question, question, passages)
        assert answerer.last_signals is not None
        return answerer.last_signals.typed

    assert typed("How many jobs will the Northwind refinery in Butte create?", [plant]) == 0.0, "no number stated"
    assert typed("How many jobs will the Northwind refinery in Butte create?", [jobs]) == 1.0
    assert typed("What will the Northwind refinery in Butte process?", [plant]) == 1.0, "an open question"
    assert typed("Which refinery will process gallium in Butte?", [plant]) == 1.0, "a name of a kind only prefers"


def test_a_name_the_corpus_knows_but_the_passages_lack_lowers_the_answer_and_is_the_reason_given(
    settings: Settings,
) -> None:
    answerer = ExtractiveAnswerer(FakeEmbedder(), settings, term_counts=lambda terms: {t: 4 for t in terms})
    loan = passage("northwind-loan", "Northwind Minerals borrowed $250 million from the Department of Energy in June.")

    named_question = "How much did Northwind Minerals borrow from the Department of Energy?"
    answerer.answer(named_question, named_question, [loan])
    named = answerer.last_signals
    other_question = "How much did Acme Minerals borrow from the Department of Energy?"
    answerer.answer(other_question, other_question, [loan])
    other = answerer.last_signals

    assert named is not None and other is not None
    assert other.missing_terms == () and other.absent_names == ("Acme",), f"the corpus has the name: {other}"
    assert other.score is not None and named.score is not None and other.score < named.score, (other, named)
    strict = dataclasses.replace(answerer.refusal, threshold=other.score + 1e-6)
    answerer.refusal = strict
    refused(answerer, "How much did Acme Minerals borrow from the Department of Energy?", [loan])
    assert "Acme" in (answerer.last_signals.reason if answerer.last_signals else ""), "the absent name is the reason"


@pytest.mark.parametrize(
    "passages",
    [(), (passage("headings", "# Loan\n\n## Terms\n\nShort line."),)],
    ids=["no passages", "no full sentences"],
)
def test_nothing_to_quote_is_a_refusal_with_a_reason(
    answerer: ExtractiveAnswerer, passages: tuple[Passage, ...]
) -> None:
    answer = refused(answerer, "How much is the loan?", passages)

    assert answer.citations == () and answer.related == passages[:3], "refusal shape"
    assert answerer.last_signals is not None and answerer.last_signals.reason, f"no reason: {answerer.last_signals}"


def test_headings_and_fragments_are_never_stated(answerer: ExtractiveAnswerer) -> None:
    question = "Which imports does Executive Order 15001 direct the Department of Commerce to review?"
    notes = passage("notes", "## Executive Order 15001 imports review\n\nCommerce reviews imports. Gallium first.")

    answer = answerer.answer(question, question, [notes, ORDER])

    stated = [s for s, _ in marked_sentences(answer.text)]
    assert all(len(words_of(s)) >= 5 for s in stated), f"fragments under five words were stated: {stated}"
    assert not any(s.startswith("Executive Order 15001") for s in stated), f"a heading is not a fact: {stated}"
    assert any("gallium and germanium" in s for s in stated), f"the list is quoted with its lead-in: {stated}"


def test_a_sentence_repeated_in_two_passages_is_stated_once(answerer: ExtractiveAnswerer) -> None:
    text = "Northwind Minerals will receive $250 million under the Department of Energy loan agreement."
    question = "How much will Northwind Minerals receive under the Department of Energy loan?"

    answer = answerer.answer(question, question, [passage("a", text), passage("b", text, index=1)])

    assert answer.text.count("$250 million") == 1, f"stated once: {answer.text!r}"


def test_an_anaphoric_sentence_is_quoted_with_the_sentence_before_it(answerer: ExtractiveAnswerer) -> None:
    text = ("Northwind Minerals is building a gallium refinery in Butte, Montana. "
            "It will cost $250 million and open in 2027.")
    question = "How much will the Northwind Minerals gallium refinery cost?"

    answer = answerer.answer(question, question, [passage("a", text)])

    quoted = "Northwind Minerals is building a gallium refinery in Butte, Montana. It will cost $250 million"
    assert quoted in answer.text, f"'It will cost' means nothing alone: {answer.text!r}"


def test_stream_yields_the_text_in_pieces_then_the_answer(answerer: ExtractiveAnswerer) -> None:
    question = "What did the Department of Energy and the Department of Defense fund with the loan and the stake?"

    events = list(answerer.stream(question, question, PASSAGES))

    assert isinstance(events[-1], Answer), f"the last event is the Answer: {events[-1]!r}"
    pieces = events[:-1]
    assert pieces and all(isinstance(p, str) for p in pieces), f"text pieces first: {pieces}"
    assert "".join(pieces).split() == events[-1].text.split(), "the pieces add up to the answer text"


# -- "what road", "which refinery": a name of the kind asked for ---------------------------------------------------


def test_what_kind_questions_expect_a_capitalised_name_of_that_kind() -> None:
    from assistant.question import is_named_kind

    road = expected_pattern("And what road was approved the same day?")
    assert road is not None and is_named_kind(road)
    assert road.search("On the same day, the President approved the Ambler Road.")
    assert not road.search("The stake and the road approval were announced on the same day.")
    mine = expected_pattern("Which mine does the stake fund?")
    assert mine is not None and mine.search("The proceeds fund the Red Mesa copper mine") is None  # lower-case: no name
    assert mine.search("The proceeds fund the Red Mesa Mine in Arizona.")
    amount = expected_pattern("How much did the Department of Defense pay?")
    assert amount is not None and not is_named_kind(amount), "amounts keep their own pattern"


ROAD_STORY = passage(
    "road-story",
    "The stake was approved on the same day as the road, and the two are closely linked. "
    "The value of a stake depends on whether the district can be reached by road.",
)
ROAD_FILING = passage(
    "road-filing",
    "That day the President also approved the Ambler Road.",
    score=0.9,
)


def test_an_answer_to_what_road_states_the_road_named_even_from_the_second_document(
    answerer: ExtractiveAnswerer,
) -> None:
    answer = answerer.answer(
        "What road was approved the same day as the stake?", "What road was approved the same day as the stake?",
        [ROAD_STORY, ROAD_FILING],
    )

    assert answer.answerable, answer.text
    assert "Ambler Road" in answer.text, answer.text
    assert_every_sentence_is_quoted_from_its_citation(answer)


def test_no_name_of_the_kind_asked_for_is_not_by_itself_a_reason_to_refuse(answerer: ExtractiveAnswerer) -> None:
    question = "What road was approved on the same day as the stake?"
    answer = answerer.answer(question, question, [ROAD_STORY])

    assert answer.answerable, answer.text


def test_a_labelled_heading_line_run_into_a_sentence_is_not_quoted(answerer: ExtractiveAnswerer) -> None:
    floor = passage(
        "floor",
        "The agency bought preferred stock in the company.\n(b) Price floor for cobalt oxide\n"
        "The agency committed to a 10-year price floor of $90 per kilogram for cobalt oxide.\n"
        "As a\nresult, the company expanded its refinery.",
    )
    question = "What price floor did the agency commit to for cobalt oxide?"

    answer = answerer.answer(question, question, [floor])

    assert answer.answerable, answer.text
    assert "$90 per kilogram" in answer.text and "(b)" not in answer.text, answer.text
    quoted = [floor.chunk.text[c.quote_start : c.quote_end] for c in answer.citations]
    assert all(not q.startswith("(b)") for q in quoted), quoted


FILINGS = [
    passage(
        "acme-q3",
        "Net sales of the company were $81,797 million in the third quarter. "
        "Net sales of the company decreased in the third quarter because of lower net sales of phones. "
        "Net sales of the company in the third quarter were also hurt by weaker currencies abroad. "
        "Net sales of the company in the third quarter rose for services.",
        score=1.0,
    ),
    passage("acme-q2", "Net sales of the company were $94,836 million in the second quarter.", score=0.8),
    passage("acme-q1", "Net sales of the company were $117,154 million in the first quarter.", score=0.7),
]


def test_a_question_about_change_over_time_quotes_each_period_s_document(answerer: ExtractiveAnswerer) -> None:
    question = "How have the net sales of the company changed over time?"
    answer = answerer.answer(question, question, FILINGS)

    assert answer.answerable, answer.text
    assert {c.passage.chunk.doc_id for c in answer.citations} == {"acme-q1", "acme-q2", "acme-q3"}, answer.text
    for figure in ("81,797", "94,836", "117,154"):
        assert figure in answer.text, answer.text
    assert_every_sentence_is_quoted_from_its_citation(answer)


def test_the_trend_reading_of_a_question() -> None:
    from assistant.question import parse_question

    for question in (
        "How has Apple's total net sales changed over time?",
        "Can any trends be identified in the segment's revenue?",
        "How has iPhone revenue fluctuated across quarters?",
        "What happened to operating expenses over the reported quarters?",
    ):
        assert parse_question(question).trend, question
    for question in ("What price floor did DoD commit to?", "How long does it last?", "Which company runs it?"):
        assert not parse_question(question).trend, question
