"""assistant/sources.py: the cited PDF page drawn with the passage marked; a Markdown passage shown in its section."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from PIL import Image

from assistant.sources import find_loosely, render_pdf_page, section_view
from policyqa.errors import PolicyQAError
from policyqa.types import DocType, StoredChunk
from tests.builders import write_markdown, write_pdf

CITED = "The Pentagon will hold a 15% stake in MP Materials after the investment."
FIRST = "MP Materials will receive a $400 million preferred equity investment from the Department of Defense. "


def highlighted_pixels(png: bytes) -> int:
    """Pixels of the marker colour (yellow: red and green high, blue low)."""
    image = Image.open(io.BytesIO(png)).convert("RGB")
    return sum(1 for r, g, b in image.getdata() if r > 200 and g > 180 and b < 150)


def test_the_cited_sentence_is_marked_on_the_page_image(tmp_path: Path) -> None:
    pdf = write_pdf(tmp_path / "filing.pdf", [FIRST + CITED, "Second page."])

    marked = render_pdf_page(pdf, 1, [CITED])
    plain = render_pdf_page(pdf, 1, [])

    assert (marked.page, marked.pages, marked.marked) == (1, 2, 1), marked
    assert Image.open(io.BytesIO(marked.png)).format == "PNG"
    assert highlighted_pixels(marked.png) > 1000, "the cited sentence should be painted over"
    assert highlighted_pixels(plain.png) == 0, "nothing is marked when nothing is cited"


def test_a_passage_not_on_the_page_is_not_marked_and_other_pages_render(tmp_path: Path) -> None:
    pdf = write_pdf(tmp_path / "filing.pdf", [FIRST + CITED, "Second page."])

    second = render_pdf_page(pdf, 2, [CITED])

    assert (second.page, second.marked) == (2, 0)
    assert highlighted_pixels(second.png) == 0


def test_a_missing_page_or_file_is_one_clear_error(tmp_path: Path) -> None:
    pdf = write_pdf(tmp_path / "filing.pdf", ["Only page."])

    with pytest.raises(PolicyQAError, match="no page 3"):
        render_pdf_page(pdf, 3, [])
    with pytest.raises(PolicyQAError, match="no longer"):
        render_pdf_page(tmp_path / "gone.pdf", 1, [])


def test_find_loosely_ignores_line_breaks_and_hyphenation() -> None:
    page = "The Penta-\r\ngon will hold a 15%  stake\nin MP Materials after the investment."

    span = find_loosely(page, "The Pentagon will hold a 15% stake in MP Materials")

    assert span is not None and page[span[0] : span[1]].endswith("MP Materials"), span
    assert find_loosely(page, "a 20% stake") is None


def test_section_view_shows_the_whole_section_with_the_passage_inside(tmp_path: Path) -> None:
    body = "# Report\n\nIntro text.\n\n## Stake\n\nFirst sentence of the section. The stake is 10%. Last sentence."
    path = write_markdown(tmp_path / "report.md", body)
    from ingest.loaders import load_raw

    raw = load_raw(path)
    section = next(s for s in raw.sections if "The stake is 10%." in s.text)
    start = section.offset + section.text.index("The stake is 10%.")
    text = "The stake is 10%."
    chunk = StoredChunk(
        chunk_id="r:00001", doc_id="r", index=1, text=text, page=None, start=start, end=start + len(text),
        headings=section.headings, title="Report", doc_type=DocType.OTHER, published=None, source=str(path),
    )

    view = section_view(chunk, [(0, len(text))])

    assert view.whole and view.text == section.text, view
    assert view.text[view.passage[0] : view.passage[1]] == text
    assert [view.text[a:b] for a, b in view.quotes] == [text]
    assert "Last sentence." in view.text, "the rest of the section should be shown around the passage"


def test_section_view_falls_back_to_the_passage_when_the_file_is_gone(tmp_path: Path) -> None:
    chunk = StoredChunk(
        chunk_id="r:00000", doc_id="r", index=0, text="Some passage.", page=None, start=0, end=13, headings=("H",),
        title="Report", doc_type=DocType.OTHER, published=None, source=str(tmp_path / "gone.md"),
    )

    view = section_view(chunk)

    assert not view.whole and view.text == "Some passage." and view.passage == (0, 13)
