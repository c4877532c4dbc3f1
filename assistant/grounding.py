"""Check an answer's claims against the passages they cite: markers, numbers and meaning."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from ingest.chunking import split_units
from policyqa.text import MONTH_NAMES
from policyqa.types import Citation, Passage, SupportReport

if TYPE_CHECKING:
    from policyqa.embedding import TextEmbedder

_MARKERS = re.compile(r"\s*((?:\[\d+\])+)")
_ONE_MARKER = re.compile(r"\[(\d+)\]")
_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
_MONTHS = list(MONTH_NAMES)
# Case-sensitive: month names are capitalised (or all caps in filings); a lowercase "may" is the verb.
_MONTH = re.compile(r"\b(" + "|".join(_MONTHS + [m.upper() for m in _MONTHS]) + r")\b")
# "Sentence. [1] Next" and "Sentence.[1] Next": markers after the full stop still belong to the sentence before
# (unless the sentence goes on in lowercase: "the U.S. [1] government").
_STOP_THEN_MARKERS = re.compile(r"([.!?][\"'\u201d\u2019)]*)[ \t]*((?:\[\d+\][ \t]*)++)(?![a-z])")
MIN_SIMILARITY = 0.45


@dataclass(frozen=True, slots=True)
class Claim:
    text: str  # the sentence without its markers
    markers: tuple[int, ...]
    supported: bool | None  # None: nothing cited
    reason: str = ""


@dataclass(frozen=True, slots=True)
class Grounded:
    """A verified answer: its cleaned text, citations, per-claim verdicts and the summary report."""

    text: str
    citations: tuple[Citation, ...]
    claims: tuple[Claim, ...]
    report: SupportReport
    dropped_markers: tuple[int, ...]


def numbers_in(text: str) -> set[str]:
    """Numbers (commas dropped) and month names: what a claim may not invent."""
    found = {n.replace(",", "").rstrip(".") for n in _NUMBER.findall(text)}
    found |= {m.lower() for m in _MONTH.findall(text)}
    return found


def split_claims(text: str) -> list[tuple[str, tuple[int, ...]]]:
    """Sentences of an answer with the [n] markers that follow (or sit inside) each one."""
    claims: list[tuple[str, tuple[int, ...]]] = []
    text = _STOP_THEN_MARKERS.sub(_markers_before_stop, text)
    for start, end in split_units(text):
        sentence = text[start:end]
        markers = tuple(int(m) for m in _ONE_MARKER.findall(sentence))
        bare = _MARKERS.sub("", sentence).strip()
        if bare in {"", "."} and claims and markers:
            previous, earlier = claims[-1]
            claims[-1] = (previous, earlier + markers)
            continue
        if bare:
            claims.append((bare, markers))
    return claims


def _markers_before_stop(match: re.Match[str]) -> str:
    stop, markers = match.group(1), match.group(2)
    return " " + "".join(f"[{m}]" for m in _ONE_MARKER.findall(markers)) + stop + (" " if markers[-1] in " \t" else "")


def verify(text: str, passages: Sequence[Passage], embedder: TextEmbedder) -> Grounded:
    """Keep markers that point to a passage, then test each cited sentence against its passages.

    A claim is supported when every number, amount, percentage and date in it occurs in a cited passage
    and its meaning is close to some sentence of those passages (embedding similarity).
    """
    claims_raw = split_claims(text)
    dropped: list[int] = []
    sentence_cache: dict[int, tuple[list[tuple[int, int]], np.ndarray]] = {}

    def sentences_of(n: int) -> tuple[list[tuple[int, int]], np.ndarray]:
        if n not in sentence_cache:
            passage_text = passages[n - 1].chunk.text
            spans = split_units(passage_text) or [(0, len(passage_text))]
            sentence_cache[n] = (spans, embedder.encode([passage_text[s:e] for s, e in spans]))
        return sentence_cache[n]

    claim_vectors = embedder.encode([c for c, _ in claims_raw]) if claims_raw else np.zeros((0, 1))
    claims: list[Claim] = []
    citations: list[Citation] = []
    parts: list[str] = []
    for (sentence, markers), vector in zip(claims_raw, claim_vectors, strict=True):
        valid = tuple(dict.fromkeys(m for m in markers if 1 <= m <= len(passages)))
        dropped.extend(m for m in markers if not 1 <= m <= len(passages))
        if not valid:
            claims.append(Claim(sentence, (), None, "no citation"))
            parts.append(sentence)
            continue
        cited_text = " ".join(passages[m - 1].chunk.text for m in valid)
        missing = numbers_in(sentence) - numbers_in(cited_text)
        best_sim, best = -1.0, (valid[0], 0, 0)
        for m in valid:
            spans, vectors = sentences_of(m)
            sims = vectors @ vector
            i = int(np.argmax(sims))
            if float(sims[i]) > best_sim:
                best_sim, best = float(sims[i]), (m, spans[i][0], spans[i][1])
        if missing:
            claim = Claim(sentence, valid, False, f"not in the cited passage: {', '.join(sorted(missing))}")
        elif best_sim < MIN_SIMILARITY:
            claim = Claim(sentence, valid, False, "the cited passage does not say this")
        else:
            claim = Claim(sentence, valid, True)
        claims.append(claim)
        number, start, end = best
        citations.append(Citation(number=number, passage=passages[number - 1], quote_start=start, quote_end=end))
        parts.append(sentence + " " + "".join(f"[{m}]" for m in valid))
    report = SupportReport(
        supported=sum(1 for c in claims if c.supported is True),
        unsupported=sum(1 for c in claims if c.supported is False),
        uncited=sum(1 for c in claims if c.supported is None),
        flagged=tuple(c.text for c in claims if c.supported is not True),
    )
    return Grounded(
        text=" ".join(parts),
        citations=tuple(citations),
        claims=tuple(claims),
        report=report,
        dropped_markers=tuple(dict.fromkeys(dropped)),
    )
