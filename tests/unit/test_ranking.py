"""assistant/ranking.py: reciprocal-rank fusion, near-duplicate collapse and MMR diversification."""

from __future__ import annotations

import pytest

from assistant.ranking import collapse_near_duplicates, containment, diversify, fuse_rankings, jaccard, word_set


def test_fusion_adds_one_over_k_plus_rank_from_every_list() -> None:
    fused = fuse_rankings([["a", "b"], ["b", "c"]], k=60)

    assert fused == pytest.approx({"b": 1 / 62 + 1 / 61, "a": 1 / 61, "c": 1 / 62}), f"scores: {fused}"
    assert list(fused) == ["b", "a", "c"], f"an item found by both lists should lead: {list(fused)}"


def test_fusion_weights_scale_each_lists_contribution() -> None:
    fused = fuse_rankings([["a"], ["b"]], k=10, weights=[1.0, 3.0])

    assert fused == pytest.approx({"b": 3 / 11, "a": 1 / 11}), f"scores: {fused}"
    assert list(fused) == ["b", "a"], "the heavier list's first item should lead"


def test_fusion_of_nothing_is_empty_and_mismatched_weights_are_refused() -> None:
    assert fuse_rankings([]) == {}, "no rankings, no scores"
    assert fuse_rankings([[], []]) == {}, "empty rankings, no scores"
    with pytest.raises(ValueError):
        fuse_rankings([["a"], ["b"]], weights=[1.0])


def test_word_set_is_case_insensitive_and_ignores_punctuation() -> None:
    assert word_set("The Loan, the LOAN; $250 million!") == {"the", "loan", "250", "million"}


def test_jaccard_and_containment_measure_overlap() -> None:
    small, big = word_set("gallium refinery"), word_set("a gallium refinery in Butte")

    assert jaccard(small, big) == pytest.approx(2 / 5), "2 shared words of 5 distinct"
    assert containment(small, big) == 1.0, "every word of the small set is in the big one"
    assert containment(big, small) == pytest.approx(2 / 5), "containment is not symmetric"
    assert jaccard(frozenset(), big) == 0.0 and containment(frozenset(), big) == 0.0, "empty sets overlap nothing"


def test_collapse_drops_an_item_whose_words_a_better_item_already_holds() -> None:
    items = [
        "The Department of Energy lent Northwind Minerals $250 million for a refinery.",
        "The Department of Energy lent Northwind Minerals $250 million.",  # adds nothing
        "Bluestone Copper sold a 12 percent stake to the Department of Defense.",
    ]

    kept = collapse_near_duplicates(items, lambda s: s)

    assert kept == [items[0], items[2]], f"kept: {kept}"


def test_collapse_keeps_the_better_ranked_of_two_duplicates() -> None:
    items = ["short loan sentence here", "a longer sentence that repeats the short loan sentence here"]

    kept = collapse_near_duplicates(items, lambda s: s)

    assert kept == items, "the second adds words, so both stay"
    assert collapse_near_duplicates(list(reversed(items)), lambda s: s) == [items[1]], (
        "the shorter one adds nothing once the longer one is kept"
    )


def test_collapse_threshold_decides_how_much_overlap_counts() -> None:
    items = ["alpha beta gamma delta", "alpha beta gamma epsilon"]  # 3 of 4 words shared

    assert collapse_near_duplicates(items, lambda s: s) == items, "75% overlap is under the default 0.85"
    assert collapse_near_duplicates(items, lambda s: s, threshold=0.7) == items[:1], "but over 0.7"


def test_diversify_returns_at_most_k_items_and_nothing_for_nothing() -> None:
    items = [f"text number {i} about topic {i}" for i in range(10)]

    assert len(diversify(items, [1.0] * 10, lambda s: s, lambda s: s, k=4)) == 4
    assert diversify([], [], lambda s: s, lambda s: s, k=4) == []


def test_diversify_keeps_one_group_from_filling_every_slot_when_another_is_relevant() -> None:
    items = [("A", f"alpha{i} fact{i} number{i}") for i in range(6)] + [("B", "bravo distinct statement here")]
    relevance = [1.0, 0.98, 0.96, 0.94, 0.92, 0.90, 0.80]  # the B item ranks last by relevance alone

    chosen = diversify(items, relevance, lambda it: it[1], lambda it: it[0], k=4)

    groups = [g for g, _ in chosen]
    assert "B" in groups, f"the other relevant group should get a slot: {groups}"
    assert chosen[0] == items[0], "the most relevant item still comes first"


def test_diversify_fills_every_slot_from_the_only_group() -> None:
    items = [("A", f"alpha fact number {i}") for i in range(5)]

    chosen = diversify(items, [5, 4, 3, 2, 1], lambda it: it[1], lambda it: it[0], k=3)

    assert len(chosen) == 3, f"a single relevant group is not excluded: {chosen}"


def test_diversify_prefers_a_new_text_over_a_repeat_of_a_chosen_one() -> None:
    items = ["gallium refinery loan Butte", "gallium refinery loan Butte", "copper stake Arizona mine"]

    chosen = diversify(items, [1.0, 0.99, 0.9], lambda s: s, lambda s: str(id(s)), k=2, group_penalty=0.0)

    assert chosen == [items[0], items[2]], f"the exact repeat should lose to new content: {chosen}"


def test_diversify_with_all_zero_relevance_does_not_divide_by_zero() -> None:
    chosen = diversify(["a b", "c d"], [0.0, 0.0], lambda s: s, lambda s: s, k=2)

    assert sorted(chosen) == ["a b", "c d"], f"chosen: {chosen}"
