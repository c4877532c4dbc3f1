"""Sentence-aware chunks bounded by the embedding model's own tokenizer, with exact spans back to the source.

The pages of a periodic filing are also cut at its headings (Item, Note, financial statement titles), which set
each chunk's heading path; a table too long for one chunk is cut between rows, never inside one.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

from ingest.annotate import dates_in, tags_for
from ingest.filings import apply_heading, context_header, find_headings
from policyqa.types import Chunk, LoadedDocument, Section

TokenCounter = Callable[[list[str]], list[int]]

_ABBREVIATIONS = frozenset(
    """inc corp co ltd llc no nos mr mrs ms dr st jr sr vs etc e.g i.e u.s u.k u.n gen gov sen rep dept
    jan feb mar apr jun jul aug sep sept oct nov dec fig approx est al""".split()
)
# A sentence ends at . ! or ? (optionally closed by quotes or brackets) followed by whitespace.
_SENTENCE_END = re.compile(r"[.!?][\"'\u201d\u2019)\]]*(?=\s)")
# Blank lines always separate units; so does a newline before a list item, heading or table row.
_BLOCK_BREAK = re.compile(r"\n[ \t]*\n\s*|\n(?=[ \t]*(?:[-*+#|>]|\d+[.)]\s|Item\s+\d|[A-Z][A-Za-z ]{0,40}\s{2,}\S))")
_WORD = re.compile(r"\S+")
_HEADING_SLACK = 80  # characters
_MIN_FILL = 4  # a heading starts a new chunk once the current one holds a quarter of the budget


@dataclass(frozen=True, slots=True)
class _Unit:
    start: int
    end: int
    tokens: int = 0


def split_units(text: str) -> list[tuple[int, int]]:
    """Spans of sentences (and of list items, headings, table rows) covering every non-space character."""
    spans: list[tuple[int, int]] = []
    block_start = 0
    for block_end, next_start in [(m.start(), m.end()) for m in _BLOCK_BREAK.finditer(text)] + [(len(text), len(text))]:
        spans.extend(_sentences(text, block_start, block_end))
        block_start = next_start
    return spans


def _sentences(text: str, start: int, end: int) -> Iterator[tuple[int, int]]:
    cursor = start
    for match in _SENTENCE_END.finditer(text, start, end):
        if text[match.start()] == "." and _is_abbreviation(text, cursor, match.start()):
            continue
        yield from _trimmed(text, cursor, match.end())
        cursor = match.end()
    yield from _trimmed(text, cursor, end)


def _is_abbreviation(text: str, floor: int, dot: int) -> bool:
    word_start = dot
    while word_start > floor and not text[word_start - 1].isspace():
        word_start -= 1
    word = text[word_start:dot].lower().lstrip("(\"'")
    if word in _ABBREVIATIONS or (len(word) == 1 and word.isalpha()):
        return True
    # "1." opening a unit is a list marker, not a sentence of its own.
    if word.isdigit() and not text[floor:word_start].strip():
        return True
    # "U.S." and similar dotted initialisms.
    return bool(re.fullmatch(r"(?:[a-z]\.)+[a-z]", word))


def _cut_at(text: str, spans: list[tuple[int, int]], offsets: frozenset[int]) -> list[tuple[int, int]]:
    """``spans`` with any span containing one of ``offsets`` cut in two there (a heading starts a unit)."""
    if not offsets:
        return spans
    cut: list[tuple[int, int]] = []
    for start, end in spans:
        for offset in sorted(o for o in offsets if start < o < end):
            cut.extend(_trimmed(text, start, offset))
            start = offset
        cut.append((start, end))
    return cut


def _trimmed_lines(text: str, start: int, end: int) -> Iterator[tuple[int, int]]:
    cursor = start
    while cursor < end:
        newline = text.find("\n", cursor, end)
        stop = end if newline == -1 else newline
        yield from _trimmed(text, cursor, stop)
        cursor = stop + 1


def _trimmed(text: str, start: int, end: int) -> Iterator[tuple[int, int]]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    if start < end:
        yield start, end


class Chunker:
    """Packs units greedily up to a token budget, carrying a small overlap into the next chunk.

    The budget leaves room for the special tokens and the contextual header, so no embedded text is ever
    longer than ``max_tokens`` and nothing is silently truncated by the model.
    """

    def __init__(
        self,
        count_tokens: TokenCounter,
        *,
        max_tokens: int,
        chunk_tokens: int = 200,
        overlap_tokens: int = 40,
        max_context_tokens: int = 48,
    ) -> None:
        self.count_tokens = count_tokens
        self.max_tokens = max_tokens
        self.special_tokens = count_tokens([""])[0]
        self.max_context_tokens = max_context_tokens
        self.budget = max(8, min(chunk_tokens, max_tokens - self.special_tokens - max_context_tokens))
        self.overlap_tokens = min(overlap_tokens, self.budget // 3)

    def chunk_document(self, doc: LoadedDocument) -> Iterator[Chunk]:
        """Chunks of every section in order, indexed from 0; lazily, so huge documents stay bounded."""
        index = 0
        filing = context_header(doc.meta.title, ()) is not None
        contexts: dict[tuple[str, ...], str] = {}  # a heading path spans many pages: measured once per document
        for section in doc.sections:
            marks = self._heading_marks(section, filing)
            for _, path in marks:
                if path not in contexts:
                    contexts[path] = self._context(doc.meta.title, path)
            offset = 0 if section.page is not None else section.offset
            for start, end in self._spans(section.text, breaks=frozenset(m for m, _ in marks[1:])):
                # A heading just inside the chunk (after a stray line such as the company name) is its heading.
                headings = next(path for mark, path in reversed(marks) if mark < end and mark <= start + _HEADING_SLACK)
                context = contexts[headings]
                yield Chunk(
                    doc_id=doc.meta.doc_id,
                    index=index,
                    text=section.text[start:end],
                    page=section.page,
                    start=offset + start,
                    end=offset + end,
                    headings=headings,
                    context=context,
                    tags=tags_for(f"{context}\n{section.text[start:end]}"),
                    dates=dates_in(section.text[start:end]),
                )
                index += 1

    @staticmethod
    def _heading_marks(section: Section, filing: bool) -> list[tuple[int, tuple[str, ...]]]:
        """(offset, heading path from there on): the section's own path, then one per heading found in a page.

        Only the pages of a periodic filing are searched: other formats carry their real headings already, and
        in other PDFs an "Item 1." line is just text.
        """
        marks = [(0, section.headings)]
        if section.page is None or not filing:
            return marks
        path = section.headings
        for offset, level, heading in find_headings(section.text):
            path = apply_heading(path, level, heading)
            if offset == 0:
                marks[0] = (0, path)
            else:
                marks.append((offset, path))
        return marks

    def _context(self, title: str, headings: Sequence[str]) -> str:
        context = context_header(title, headings) or " > ".join([title] + [h for h in headings if h and h != title])
        while context and self.count_tokens([context])[0] - self.special_tokens > self.max_context_tokens:
            context = context[: int(len(context) * 0.8)].rstrip()
        return context

    def _spans(self, text: str, breaks: frozenset[int] = frozenset()) -> Iterator[tuple[int, int]]:
        """Greedy packing of units; a unit starting at one of ``breaks`` (a heading) starts a new chunk."""
        units = self._measure(text, _cut_at(text, split_units(text), breaks))
        i = 0
        while i < len(units):
            total = 0
            j = i
            while j < len(units) and total + units[j].tokens <= self.budget:
                if j > i and units[j].start in breaks and total * _MIN_FILL >= self.budget:
                    break
                total += units[j].tokens
                j += 1
            if j == i:  # a single unit over budget never happens after _measure, but never loop forever
                j = i + 1
            yield units[i].start, units[j - 1].end
            if j >= len(units):
                return
            if units[j].start in breaks and total * _MIN_FILL >= self.budget:  # no overlap across a heading
                i = j
                continue
            # Carry only what still leaves room for the next unit, so every chunk adds new text.
            back, carried = j, 0
            room = min(self.overlap_tokens, self.budget - units[j].tokens)
            while back - 1 > i and carried + units[back - 1].tokens <= room:
                back -= 1
                carried += units[back].tokens
            i = back

    def _measure(self, text: str, spans: list[tuple[int, int]]) -> list[_Unit]:
        counts = self.count_tokens([text[s:e] for s, e in spans])
        units: list[_Unit] = []
        for (start, end), count in zip(spans, counts, strict=True):
            tokens = count - self.special_tokens
            if tokens <= self.budget:
                units.append(_Unit(start, end, tokens))
            else:
                units.extend(self._split_long(text, start, end))
        return units

    def _split_long(self, text: str, start: int, end: int) -> list[_Unit]:
        """A unit longer than the budget as one unit per line, so a table's rows stay whole, and as word
        windows for a line that is itself too long (a sentence without stops)."""
        lines = list(_trimmed_lines(text, start, end))
        if len(lines) <= 1:
            return self._split_words(text, start, end)
        units: list[_Unit] = []
        counts = self.count_tokens([text[s:e] for s, e in lines])
        for (line_start, line_end), count in zip(lines, counts, strict=True):
            tokens = count - self.special_tokens
            if tokens <= self.budget:
                units.append(_Unit(line_start, line_end, tokens))
            else:
                units.extend(self._split_words(text, line_start, line_end))
        return units

    def _split_words(self, text: str, start: int, end: int) -> list[_Unit]:
        """Word windows for a line longer than the budget."""
        words = [(m.start() + start, m.end() + start) for m in _WORD.finditer(text[start:end])]
        counts = [c - self.special_tokens for c in self.count_tokens([text[s:e] for s, e in words])]
        units: list[_Unit] = []
        i = 0
        while i < len(words):
            total, j = 0, i
            while j < len(words) and total + counts[j] <= self.budget:
                total += counts[j]
                j += 1
            if j == i:  # one "word" longer than the budget: cut it by characters
                units.extend(self._split_chars(text, *words[i]))
                i += 1
                continue
            units.append(_Unit(words[i][0], words[j - 1][1], total))
            i = j
        return units

    def _split_chars(self, text: str, start: int, end: int) -> list[_Unit]:
        units: list[_Unit] = []
        step = max(1, self.budget)  # a word piece spans at least one character
        for s in range(start, end, step):
            e = min(end, s + step)
            units.append(_Unit(s, e, self.count_tokens([text[s:e]])[0] - self.special_tokens))
        return units
