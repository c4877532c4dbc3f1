"""Plain-text loader: decodes any common encoding and groups paragraphs into bounded sections."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

from ingest.loaders.base import RawDocument, assemble_sections, read_text

SECTION_CHARS = 4000
TITLE_MAX_CHARS = 120
_BLANK_RUN = re.compile(r"\n[ \t\f\v]*\n\s*")


def load_text(path: Path) -> RawDocument:
    """Load a plain-text file.

    Raises:
        LoadError: the file is unreadable, empty or binary.
    """
    text, warnings = read_text(path)
    fields, body = split_header_block(text)
    paragraphs = [p.strip() for p in _BLANK_RUN.split(body)]
    groups = group_paragraphs([p for p in paragraphs if p], limit=SECTION_CHARS)
    sections = assemble_sections((group, None, ()) for group in groups)
    return RawDocument(sections=sections, fields=fields, first_heading=_first_line_title(body), warnings=warnings)


# "Title: ...", "Date: ...", "Source URL: ..." lines opening a text file: its metadata, not its content.
_HEADER_LINE = re.compile(r"^\s*([A-Za-z][A-Za-z _-]{0,30}?)\s*:\s+(\S.*?)\s*$")
HEADER_KEYS = {
    "title": "title", "headline": "title", "date": "published", "published": "published",
    "publication date": "published", "date published": "published", "source url": "url", "url": "url",
    "source": "url", "link": "url", "publisher": "publisher", "author": "publisher", "agency": "publisher",
    "type": "doc_type", "document type": "doc_type", "doc type": "doc_type",
}
MAX_HEADER_LINES = 12


def split_header_block(text: str) -> tuple[dict[str, object], str]:
    """Fields of a header block at the top of ``text`` and the text after it; ``({}, text)`` when there is none.

    A header block is one to twelve ``Key: value`` lines ending at a blank line (or the end), every line of it such
    a line, at least one key a known metadata field. Unknown keys in it are kept as fields too.
    """
    stripped = text.lstrip("\ufeff")
    lines = stripped.split("\n")
    fields: dict[str, object] = {}
    known = False
    end = 0
    for number, line in enumerate(lines):
        if not line.strip():
            end = number
            break
        match = _HEADER_LINE.match(line)
        if match is None or number >= MAX_HEADER_LINES:
            return {}, text
        key = " ".join(match.group(1).lower().replace("_", " ").replace("-", " ").split())
        value = match.group(2)
        if key == "source" and not value.startswith(("http://", "https://")):
            key = "publisher"  # "Source: U.S. Department of Energy" names who published it
        field = HEADER_KEYS.get(key)
        known = known or field is not None
        fields.setdefault(field or key.replace(" ", "_"), value)
    else:
        end = len(lines)
    if not known or not fields:
        return {}, text
    return fields, "\n".join(lines[end:])


def group_paragraphs(paragraphs: list[str], *, limit: int) -> list[str]:
    """Join consecutive paragraphs with blank lines into groups of at most ``limit`` characters."""
    groups: list[str] = []
    current: list[str] = []
    size = 0
    for piece in (part for paragraph in paragraphs for part in _split_long(paragraph, limit)):
        added = len(piece) + (2 if current else 0)
        if current and size + added > limit:
            groups.append("\n\n".join(current))
            current, size, added = [], 0, len(piece)
        current.append(piece)
        size += added
    if current:
        groups.append("\n\n".join(current))
    return groups


def _split_long(paragraph: str, limit: int) -> Iterator[str]:
    """Cut a paragraph longer than ``limit`` at line breaks, then at spaces, then anywhere."""
    if len(paragraph) <= limit:
        yield paragraph
        return
    rest = paragraph
    while len(rest) > limit:
        cut = rest.rfind("\n", 0, limit + 1)
        if cut <= 0:
            cut = rest.rfind(" ", 0, limit + 1)
        if cut <= 0:
            cut = limit
        piece, rest = rest[:cut].strip(), rest[cut:].strip()
        if piece:
            yield piece
    if rest:
        yield rest


def _first_line_title(text: str) -> str | None:
    for line in text.splitlines():
        line = line.strip()
        if line:
            return line if len(line) < TITLE_MAX_CHARS else None
    return None
