"""Word loader: paragraphs and tables of a .docx in reading order, split at Heading 1-3 as Markdown is at # to ###."""

from __future__ import annotations

import logging
import zipfile
from pathlib import Path
from typing import Any

from ingest.loaders.base import RawDocument, assemble_sections, fold_lone_headings
from policyqa.errors import LoadError

log = logging.getLogger(__name__)

_MAX_LEVEL = 3


def load_docx(path: Path) -> RawDocument:
    """Load a Word document; core properties (title, author, created) become fields.

    Raises:
        LoadError: python-docx is missing, or the file is empty, not a .docx, or damaged.
    """
    try:
        import docx
        from docx.opc.exceptions import PackageNotFoundError
    except ImportError as exc:
        raise LoadError(f"{path.name}: reading Word files needs python-docx (pip install python-docx)") from exc
    if path.stat().st_size == 0:
        raise LoadError(f"{path.name}: empty file")
    try:
        document = docx.Document(str(path))
    except (PackageNotFoundError, zipfile.BadZipFile, KeyError, ValueError) as exc:
        raise LoadError(f"{path.name}: not a readable Word (.docx) file ({type(exc).__name__})") from exc
    except Exception as exc:  # lxml and zipfile raise many kinds on damaged files
        raise LoadError(f"{path.name}: damaged Word file ({type(exc).__name__}: {exc})") from exc

    parts: list[tuple[str, tuple[str, ...], bool]] = []
    stack: list[tuple[int, str]] = []
    headings: tuple[str, ...] = ()
    current: list[str] = []
    current_is_heading = False
    first_heading: str | None = None
    for kind, block in _blocks(document):
        if kind == "table":
            current.append(block)
            continue
        level = _heading_level(block)
        text = " ".join(block.text.split())
        if level is not None and text:
            parts.append(("\n\n".join(current), headings, current_is_heading and len(current) == 1))
            stack = [(lvl, t) for lvl, t in stack if lvl < level]
            stack.append((level, text))
            headings = tuple(t for _, t in stack)
            first_heading = first_heading or text
            current, current_is_heading = [text], True
        elif text:
            current.append(text)
    parts.append(("\n\n".join(current), headings, current_is_heading and len(current) == 1))
    sections = assemble_sections(fold_lone_headings(parts))
    if not sections:
        raise LoadError(f"{path.name}: no text found in the Word document")
    props = document.core_properties
    fields: dict[str, object] = {}
    if props.title and props.title.strip():
        fields["title"] = props.title.strip()
    if props.author and props.author.strip():
        fields["publisher"] = props.author.strip()
    if props.created is not None:
        fields["published"] = props.created.date().isoformat()
    return RawDocument(sections=sections, fields=fields, first_heading=first_heading)


def _blocks(document: Any) -> list[tuple[str, Any]]:
    """Paragraphs and tables in the order they appear (a table as one text block, a row per line)."""
    from docx.table import Table
    from docx.text.paragraph import Paragraph

    blocks: list[tuple[str, Any]] = []
    for item in document.iter_inner_content():
        if isinstance(item, Paragraph):
            blocks.append(("paragraph", item))
        elif isinstance(item, Table):
            rows = []
            for row in item.rows:
                cells = list(dict.fromkeys(" ".join(c.text.split()) for c in row.cells))  # merged cells repeat
                rows.append(" | ".join(c for c in cells if c))
            text = "\n".join(r for r in rows if r)
            if text:
                blocks.append(("table", text))
    return blocks


def _heading_level(paragraph: Any) -> int | None:
    """0 for the Title style (above every heading), 1-3 for Heading 1-3; None for body text and deeper headings."""
    name = (paragraph.style.name if paragraph.style is not None else "") or ""
    if name == "Title":
        return 0
    if name.startswith("Heading "):
        try:
            level = int(name.split()[1])
        except (IndexError, ValueError):
            return None
        return level if level <= _MAX_LEVEL else None
    return None
