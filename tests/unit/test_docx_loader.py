"""ingest/loaders/docx.py: a Word file's headings become sections, tables stay in place, bad files fail in one line."""

from __future__ import annotations

from pathlib import Path

import pytest

from ingest.loaders import SUPPORTED_SUFFIXES, load_document
from ingest.pipeline import ingest_paths
from policyqa.errors import LoadError
from policyqa.settings import Settings
from policyqa.types import Outcome
from tests.fakes import FakeEmbedder


def write_docx(path: Path) -> Path:
    import docx

    document = docx.Document()
    document.core_properties.title = "Gallium supply memo"
    document.core_properties.author = "Office of Supply"
    document.add_heading("Gallium supply memo", level=0)  # the Title style
    document.add_paragraph("This memo reviews gallium supply.")
    document.add_heading("Plants", level=1)
    document.add_paragraph("The Ohio gallium plant will employ 300 people.")
    table = document.add_table(rows=2, cols=2)
    table.cell(0, 0).text, table.cell(0, 1).text = "Plant", "Jobs"
    table.cell(1, 0).text, table.cell(1, 1).text = "Ohio", "300"
    document.add_heading("Ohio details", level=2)
    document.add_paragraph("The Ohio plant opens in 2026.")
    document.add_heading("Costs", level=1)
    document.add_paragraph("The plant costs $120 million.")
    document.save(str(path))
    return path


def test_headings_become_the_heading_path_of_each_section(tmp_path: Path) -> None:
    loaded = load_document(write_docx(tmp_path / "memo.docx"), content_hash="x")

    by_text = {s.text.splitlines()[-1]: s.headings for s in loaded.sections}
    assert by_text["The Ohio plant opens in 2026."] == ("Gallium supply memo", "Plants", "Ohio details"), by_text
    assert by_text["The plant costs $120 million."] == ("Gallium supply memo", "Costs"), by_text
    assert loaded.meta.title == "Gallium supply memo" and loaded.meta.publisher == "Office of Supply", loaded.meta
    plants = next(s for s in loaded.sections if s.headings == ("Gallium supply memo", "Plants"))
    assert "Plant | Jobs\nOhio | 300" in plants.text, f"the table stays in its section, a row per line: {plants.text!r}"


def test_a_file_that_is_not_a_word_document_fails_in_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "fake.docx"
    bad.write_bytes(b"this is not a zip file at all")

    with pytest.raises(LoadError) as raised:
        load_document(bad, content_hash="x")

    assert "fake.docx" in str(raised.value) and "\n" not in str(raised.value), raised.value


def test_word_files_are_ingested_and_searchable(tmp_path: Path) -> None:
    assert ".docx" in SUPPORTED_SUFFIXES
    (tmp_path / "docs").mkdir()
    write_docx(tmp_path / "docs" / "memo.docx")

    report = ingest_paths([tmp_path / "docs"], Settings(store_dir=tmp_path / "store"), embedder=FakeEmbedder())

    assert report.ok and report.count(Outcome.ADDED) == 1, report.summary()
    assert report.files[0].chunks >= 2, report.files
