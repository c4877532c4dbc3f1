"""A cited source as a reader checks it: the PDF page drawn with the cited passage marked, or the section around it."""

from __future__ import annotations

import io
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from policyqa.errors import PolicyQAError
from policyqa.types import StoredChunk

log = logging.getLogger(__name__)

PAGE_SCALE = 1.6  # 72 dpi * 1.6: a letter page ~980 px wide, readable in a dialog
_MARK_RGBA = (255, 214, 0, 96)
_MIN_CHARS = 3


@dataclass(frozen=True, slots=True)
class PageImage:
    """One PDF page as PNG bytes; ``marked`` counts the passages found and drawn on it."""

    png: bytes
    page: int  # 1-based
    pages: int
    marked: int
    width: int
    height: int


@dataclass(frozen=True, slots=True)
class SectionView:
    """The text under one heading path, with the spans of the cited passage and quotes inside it."""

    headings: tuple[str, ...]
    text: str
    passage: tuple[int, int]
    quotes: tuple[tuple[int, int], ...]
    whole: bool  # False: the section could not be re-read, so only the passage is shown


def is_pdf(chunk: StoredChunk) -> bool:
    return Path(chunk.source).suffix.lower() == ".pdf"


def page_count(path: str | Path) -> int:
    pdfium = _pdfium()
    try:
        document = pdfium.PdfDocument(str(path))
    except Exception as exc:
        raise PolicyQAError(f"{Path(path).name}: cannot open the PDF ({exc})") from exc
    try:
        return len(document)
    finally:
        document.close()


def render_pdf_page(path: str | Path, page: int, marks: Sequence[str] = (), *, scale: float = PAGE_SCALE) -> PageImage:
    """Draw page ``page`` (1-based) of the PDF at ``path`` with every text of ``marks`` found on it highlighted.

    Marks are matched word by word, ignoring line breaks, hyphenation and spacing, so the text the
    ingest extracted finds itself on the page even where the PDF lays it out differently.

    Raises:
        PolicyQAError: the file is gone, is not a readable PDF, or has no such page.
    """
    pdfium = _pdfium()
    from PIL import Image, ImageDraw

    path = Path(path)
    if not path.is_file():
        raise PolicyQAError(f"{path.name}: the original file is no longer at {path}")
    try:
        document = pdfium.PdfDocument(str(path))
    except Exception as exc:
        raise PolicyQAError(f"{path.name}: cannot open the PDF ({exc})") from exc
    try:
        pages = len(document)
        if not 1 <= page <= pages:
            raise PolicyQAError(f"{path.name}: no page {page} (the file has {pages})")
        pdf_page = document[page - 1]
        _, height = pdf_page.get_size()
        image = pdf_page.render(scale=scale).to_pil().convert("RGBA")
        found = [_mark_boxes(pdf_page, [m]) for m in marks]
        boxes = [box for boxes_of_mark in found for box in boxes_of_mark]
        overlay = Image.new("RGBA", image.size, (0, 0, 0, 0))
        draw = ImageDraw.Draw(overlay)
        for left, bottom, right, top in boxes:
            draw.rectangle(
                (left * scale - 1, (height - top) * scale - 1, right * scale + 1, (height - bottom) * scale + 1),
                fill=_MARK_RGBA, outline=(230, 150, 0, 255),
            )
        image = Image.alpha_composite(image, overlay).convert("RGB")
        out = io.BytesIO()
        image.save(out, format="PNG", optimize=True)
        marked = sum(1 for b in found if b)
        return PageImage(png=out.getvalue(), page=page, pages=pages, marked=marked, width=image.width,
                         height=image.height)
    finally:
        document.close()


def _mark_boxes(pdf_page: object, marks: Sequence[str]) -> list[tuple[float, float, float, float]]:
    textpage = pdf_page.get_textpage()  # type: ignore[attr-defined]
    try:
        text = textpage.get_text_range()
        boxes: list[tuple[float, float, float, float]] = []
        for mark in marks:
            span = find_loosely(text, mark)
            if span is None:
                continue
            start, end = span
            for i in range(textpage.count_rects(start, end - start)):
                boxes.append(textpage.get_rect(i))
        return boxes
    finally:
        textpage.close()


def find_loosely(haystack: str, needle: str) -> tuple[int, int] | None:
    """The span of ``needle`` in ``haystack`` where any run of spaces, line breaks or soft hyphens may differ."""
    chars = [c for c in needle if not c.isspace() and c not in "\u00ad\ufffe"]
    if len(chars) < _MIN_CHARS:
        return None
    # Character by character: a word hyphenated across a line break on the page is whole in the extracted text.
    gap = r"[\s\u00ad\ufffe\-]*"
    pattern = gap.join(re.escape(c) for c in chars)
    match = re.search(pattern, haystack, flags=re.IGNORECASE)
    return (match.start(), match.end()) if match else None


def section_view(chunk: StoredChunk, quotes: Sequence[tuple[int, int]] = ()) -> SectionView:
    """The section of an HTML, Markdown or text document that holds ``chunk``, re-read from the original file.

    ``quotes`` are spans inside ``chunk.text``; they come back as spans inside the section text. When the file
    is gone or has changed, the view is the passage alone (``whole`` is False).
    """
    passage_only = SectionView(
        headings=chunk.headings, text=chunk.text, passage=(0, len(chunk.text)), quotes=tuple(quotes), whole=False
    )
    path = Path(chunk.source)
    if not path.is_file():
        return passage_only
    try:
        from ingest.loaders import load_raw

        raw = load_raw(path)
    except PolicyQAError as exc:
        log.info("cannot re-read %s for its section: %s", path, exc)
        return passage_only
    for section in raw.sections:
        start = chunk.start - section.offset
        if start >= 0 and section.text[start : start + len(chunk.text)] == chunk.text:
            break
    else:
        section = next((s for s in raw.sections if chunk.text in s.text), None)  # type: ignore[assignment]
        if section is None:
            return passage_only
        start = section.text.index(chunk.text)
    return SectionView(
        headings=section.headings or chunk.headings,
        text=section.text,
        passage=(start, start + len(chunk.text)),
        quotes=tuple((start + a, start + b) for a, b in quotes),
        whole=True,
    )


def _pdfium():  # type: ignore[no-untyped-def]
    try:
        import pypdfium2
    except ImportError as exc:  # pragma: no cover - a declared dependency
        raise PolicyQAError("showing PDF pages needs pypdfium2 (pip install pypdfium2)") from exc
    return pypdfium2
