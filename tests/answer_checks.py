"""Checks shared by the answerer tests: every stated sentence is cited and quoted from its cited passage."""

from __future__ import annotations

import re

from assistant.extractive import _clean
from policyqa.text import dates_in
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


_ISO_DATE = re.compile(r"\d{4}(?:-\d{2}){0,2}")
_NUMBER = re.compile(r"\d+(?:\.\d+)?")
_CELL = re.compile(r"^(?P<value>.+?)\s*\[(?P<number>\d+)\]$")


def unsupported_cells(answer: Answer) -> list[str]:
    """For an answer that is a table (the deal tracker's): cells without a marker, citations whose quote is not their
    chunk's text, and figures the cited quote does not state. Names of instruments and agencies are normalised by the
    table ("Department of War" is shown as the Department of Defense), so only their citation is checked; a date may
    be written in the quote in words or be the cited document's publication date. One intro line ending in ':' is
    allowed."""
    problems: list[str] = []
    lines = [line.strip() for line in answer.text.splitlines() if line.strip()]
    rows = [line for line in lines if line.startswith("|")]
    prose = [line for line in lines if not line.startswith("|")]
    if len(prose) > 1 or (prose and not prose[0].endswith(":")):
        problems.append(f"text outside the table other than one intro line: {prose}")
    by_number = {c.number: c for c in answer.citations}
    for row in rows[2:]:  # the header and the |---| line state nothing
        for cell in (c.strip() for c in row.strip("|").split("|")):
            if cell in ("", "–", "-"):
                continue
            match = _CELL.match(cell)
            if match is None:
                problems.append(f"uncited cell {cell!r} in {row!r}")
                continue
            citation = by_number.get(int(match.group("number")))
            if citation is None:
                problems.append(f"[{match.group('number')}] has no Citation: {cell!r}")
                continue
            value, chunk = match.group("value"), citation.passage.chunk
            if not citation.quote.strip() or chunk.text[citation.quote_start : citation.quote_end] != citation.quote:
                problems.append(f"citation [{citation.number}] of {cell!r} has no quote of its chunk")
            elif _ISO_DATE.fullmatch(value):
                stated = dates_in(citation.quote) + dates_in(chunk.text) + ((chunk.published,) if chunk.published else ())
                if not any(d.startswith(value) for d in stated):
                    problems.append(f"date {value!r} is neither stated in {chunk.chunk_id} nor its publication date")
            elif not _NUMBER.findall(value) or not set(_NUMBER.findall(value)) <= set(_NUMBER.findall(citation.quote)):
                if _NUMBER.findall(value):
                    problems.append(f"the figures of {value!r} are not in the quote of [{citation.number}]")
    return problems


def unsupported_sentences(answer: Answer) -> list[str]:
    """Sentences of the answer that no citation with their number quotes from its passage (empty = all fine)."""
    if any(line.lstrip().startswith("|") for line in answer.text.splitlines()):
        return unsupported_cells(answer)
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
