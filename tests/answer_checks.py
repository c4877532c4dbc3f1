"""Checks shared by the answerer tests: every stated sentence is cited and quoted from its cited passage."""

from __future__ import annotations

import re

from assistant.extractive import _clean
from policyqa.types import Answer

_MARKED = re.compile(r"(.+?)\s*\[(\d+)\](?:\s+|$)", re.S)
_WORD = re.compile(r"\w+")


def marked_sentences(text: str) -> list[tuple[str, int]]:
    """The answer split into (sentence, citation number) pairs; fails if any text is left without a marker."""
    pairs = [(m.group(1).strip(), int(m.group(2))) for m in _MARKED.finditer(text)]
    rebuilt = " ".join(f"{s} [{n}]" for s, n in pairs)
    assert re.sub(r"\s+", " ", rebuilt) == re.sub(r"\s+", " ", text.strip()), f"uncited text in {text!r}"
    return pairs


def words_of(text: str) -> list[str]:
    return [w.lower() for w in _WORD.findall(text)]


def stated_in(sentence: str, source: str) -> bool:
    """Whether the sentence's words occur contiguously, in order, in ``source`` (markup and spacing aside)."""
    needle, hay = words_of(sentence), words_of(source)
    return bool(needle) and any(hay[i : i + len(needle)] == needle for i in range(len(hay) - len(needle) + 1))


def unsupported_sentences(answer: Answer) -> list[str]:
    """Sentences of the answer that no citation with their number quotes from its passage (empty = all fine)."""
    problems: list[str] = []
    numbers = {c.number for c in answer.citations}
    for sentence, number in marked_sentences(answer.text):
        if number not in numbers:
            problems.append(f"[{number}] has no Citation: {sentence!r}")
            continue
        quoted = [c for c in answer.citations if c.number == number and _clean(c.quote) == sentence]
        if not quoted:
            problems.append(f"no citation [{number}] quotes {sentence!r}")
        for c in quoted:
            if not c.quote.strip() or c.chunk.text[c.quote_start : c.quote_end] != c.quote:
                problems.append(f"citation [{number}] has an empty quote span")
            elif not stated_in(sentence, c.passage.chunk.text):
                problems.append(f"{sentence!r} is not in passage {c.chunk.chunk_id}")
    return problems


def assert_every_sentence_is_quoted_from_its_citation(answer: Answer) -> None:
    assert marked_sentences(answer.text), f"an answer states at least one sentence: {answer.text!r}"
    problems = unsupported_sentences(answer)
    assert not problems, "\n".join(problems)
