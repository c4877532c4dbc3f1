"""assistant/glossary.py: acronyms and alternative names expand queries in both directions."""

from __future__ import annotations

from assistant.glossary import expand_query, expansions, known_words, synonyms


def test_synonyms_of_an_acronym_name_the_whole_group_case_insensitively() -> None:
    assert synonyms("DOE") == ("DOE", "Department of Energy", "Energy Department")
    assert synonyms("department of energy") == synonyms("DOE"), "lookup ignores case"


def test_an_unknown_term_is_its_own_only_synonym() -> None:
    assert synonyms("gallium") == ("gallium",)


def test_expansions_add_the_other_names_of_a_term_in_the_text() -> None:
    assert expansions("the DOE loan") == ["Department of Energy", "Energy Department"]


def test_expansions_work_from_the_long_name_to_the_acronym_too() -> None:
    found = expansions("a loan from the Department of Energy")

    assert "DOE" in found and "Energy Department" in found, f"found: {found}"


def test_expansions_skip_names_the_text_already_uses() -> None:
    assert expansions("Department of Energy and DOE") == ["Energy Department"]


def test_an_all_caps_acronym_only_matches_in_capitals() -> None:
    assert expansions("a doe and her fawn") == [], "'doe' the animal is not the Department of Energy"


def test_an_acronym_inside_a_longer_word_does_not_match() -> None:
    assert expansions("GEO satellites and EOS data") == [], "'EO' inside 'GEO' or 'EOS' is not an executive order"


def test_lower_case_names_match_in_any_case() -> None:
    assert "rare earth elements" in expansions("Rare Earths from Texas"), "plain-word names ignore case"


def test_expand_query_appends_the_alternatives_in_parentheses() -> None:
    assert expand_query("DOE loan") == "DOE loan (Department of Energy; Energy Department)"
    assert expand_query("copper tariffs") == "copper tariffs", "nothing to add, nothing changed"


def test_known_words_hold_the_lower_case_words_of_glossary_names() -> None:
    words = known_words()

    for word in ("doe", "energy", "department", "pentagon", "ndpr", "232", "interior"):
        assert word in words, f"{word!r} is part of a glossary name"
    assert "gallium" not in words and "Energy" not in words, "only glossary words, lower-cased"
    assert known_words(["Northwind Minerals"]) == {"northwind", "minerals"}, "explicit names are used when given"
