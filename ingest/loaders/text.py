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
    paragraphs = [p.strip() for p in _BLANK_RUN.split(text)]
    groups = group_paragraphs([p for p in paragraphs if p], limit=SECTION_CHARS)
    sections = assemble_sections((group, None, ()) for group in groups)
    return RawDocument(sections=sections, fields={}, first_heading=_first_line_title(text), warnings=warnings)


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
