"""Unit tests for tables in PDFs: rows read as one line each, and chunks cut between rows, never inside one."""

from __future__ import annotations

from pathlib import Path

import pytest

from ingest.chunking import Chunker
from ingest.loaders import load_document
from ingest.loaders.pdf import strip_running_lines
from policyqa.types import DocumentMeta, LoadedDocument, Section
from tests.fakes import FakeEmbedder

ROWS = [["Category", "Q3 2023", "Q3 2022", "Change"]] + [
    [f"Product line {i}", f"{1000 + i * 7:,}", f"{900 + i * 5:,}", f"{i % 7}%"] for i in range(40)
]


def write_table_pdf(path: Path, rows: list[list[str]], *, intro: str = "Net sales by category (in millions):") -> Path:
    """A PDF whose first page is a sentence and then a ruled fpdf2 table, continued over pages as needed."""
    from fpdf import FPDF

    pdf = FPDF()
    pdf.set_font("Helvetica", size=10)
    pdf.add_page()
    pdf.multi_cell(0, 6, intro)
    with pdf.table(col_widths=(60, 30, 30, 20), text_align=("LEFT", "RIGHT", "RIGHT", "RIGHT")) as table:
        for values in rows:
            row = table.row()
            for value in values:
                row.cell(value)
    pdf.output(str(path))
    return path


def row_lines(rows: list[list[str]]) -> list[str]:
    return [" ".join(values) for values in rows]


@pytest.mark.parametrize("engine", ["pypdf", "pdfium"])
def test_each_table_row_is_read_as_one_line(tmp_path: Path, engine: str) -> None:
    doc = load_document(write_table_pdf(tmp_path / "table.pdf", ROWS[:13]), content_hash="h", pdf_engine=engine)
    lines = doc.sections[0].text.splitlines()
    for expected in row_lines(ROWS[:13]):
        assert expected in lines, f"{engine}: row {expected!r} is not one line of the page text: {lines[:6]}"


@pytest.mark.parametrize("engine", ["pypdf", "pdfium"])
def test_a_table_longer_than_a_chunk_is_cut_between_rows(tmp_path: Path, engine: str) -> None:
    doc = load_document(write_table_pdf(tmp_path / "long.pdf", ROWS), content_hash="h", pdf_engine=engine)
    embedder = FakeEmbedder(max_tokens=64)
    chunker = Chunker(embedder.count_tokens, max_tokens=64, chunk_tokens=60, overlap_tokens=10)
    chunks = list(chunker.chunk_document(doc))
    rows = set(row_lines(ROWS))
    assert len([c for c in chunks if c.page == 1]) > 2, "the table should need several chunks at this budget"
    for chunk in chunks:
        for line in chunk.text.splitlines():
            if line.startswith(("Product line", "Category")):
                assert line in rows, f"chunk {chunk.index} holds a cut row: {line!r}"
        assert embedder.count_tokens([chunk.indexed_text])[0] <= 64, f"chunk {chunk.index} is over the model limit"


def test_table_rows_stay_whole_even_inside_a_run_of_text_without_sentence_stops() -> None:
    """A table's rows have no full stops, so the sentence splitter sees one long unit; it is cut at lines."""
    rows = [f"Segment {i} operating income {i * 1111:,} {i * 999:,} {i % 9}%" for i in range(60)]
    text = "Operating income by segment was as follows (in millions):\n" + "\n".join(rows)
    doc = LoadedDocument(
        meta=DocumentMeta(doc_id="d", title="Report", source="/tmp/report.pdf"),
        sections=(Section(text=text, page=1),),
    )
    embedder = FakeEmbedder(max_tokens=80)
    chunks = list(Chunker(embedder.count_tokens, max_tokens=80, chunk_tokens=70, overlap_tokens=0).chunk_document(doc))
    assert len(chunks) > 3, "the table should span several chunks"
    for chunk in chunks:
        assert chunk.start == 0 or text[chunk.start - 1] == "\n", f"chunk {chunk.index} starts mid-row"
        assert chunk.end == len(text) or text[chunk.end] == "\n", f"chunk {chunk.index} ends mid-row"


def test_running_headers_footers_and_page_numbers_are_dropped_but_body_lines_kept() -> None:
    pages = [
        (
            n,
            f"Table of Contents\nRevenue rose {n}% in region {n}.\nCosts fell by {n + 2}%.\n"
            f"Acme Corp. | Q3 2023 Form 10-Q | {n}",
        )
        for n in range(1, 9)
    ]
    stripped = strip_running_lines(pages)
    for (number, text), (_, original) in zip(stripped, pages, strict=True):
        assert "Table of Contents" not in text, f"page {number}: the running header is still there"
        assert "Form 10-Q |" not in text, f"page {number}: the running footer is still there"
        assert f"Revenue rose {number}% in region {number}." in text and f"Costs fell by {number + 2}%." in text, (
            f"page {number}: body text was lost: {text!r} (from {original!r})"
        )


def test_short_documents_keep_every_line() -> None:
    pages = [(1, "Header\nText one."), (2, "Header\nText two.")]
    assert strip_running_lines(pages) == pages, "two pages are too few to tell a running header from text"
