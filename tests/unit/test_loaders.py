"""Unit tests for ingest.loaders: every format, built as real files, and every kind of bad input."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from ingest.loaders import SUPPORTED_SUFFIXES, load_document
from ingest.loaders.pdf import normalise_page_text, pdf_date
from ingest.loaders.text import SECTION_CHARS
from policyqa.errors import LoadError
from policyqa.types import LoadedDocument
from tests.builders import (
    write_binary,
    write_blank_pdf,
    write_corrupt_pdf,
    write_html,
    write_markdown,
    write_non_utf8_text,
    write_pdf,
)

KZ_SECTIONS = {
    "Financing": ["The Pentagon will take a   stake in the refinery.", "Loans come from the DFC."],
    "Timeline": ["Construction starts in 2026."],
}


def load(path: Path, **kwargs: int) -> LoadedDocument:
    return load_document(path, content_hash="hash", **kwargs)


def assert_offsets(doc: LoadedDocument) -> None:
    text = doc.text
    for section in doc.sections:
        located = text[section.offset : section.offset + len(section.text)]
        assert located == section.text, f"section at offset {section.offset} is not found there in the document text"


def assert_load_error(path: Path, fragment: str, **kwargs: int) -> LoadError:
    with pytest.raises(LoadError) as info:
        load(path, **kwargs)
    message = str(info.value)
    assert path.name in message, f"error should name the file: {message!r}"
    assert fragment in message, f"error should say {fragment!r}: {message!r}"
    assert "\n" not in message, f"error should be one line: {message!r}"
    return info.value


# --- PDF ---------------------------------------------------------------------------------------


def test_pdf_gives_one_section_per_page_and_keeps_numbering_past_empty_pages(tmp_path: Path) -> None:
    path = write_pdf(tmp_path / "filing.pdf", ["First page about lithium.", "", "Third page about cobalt."])
    doc = load(path)
    assert [s.page for s in doc.sections] == [1, 3], "the empty page 2 is skipped but not renumbered"
    assert "lithium" in doc.sections[0].text, "page 1 text should be in section 1"
    assert "cobalt" in doc.sections[1].text, "page 3 text should be in section 2"
    assert_offsets(doc)


def test_pdf_document_info_gives_title_publisher_and_date(tmp_path: Path) -> None:
    path = write_pdf(tmp_path / "mp-8k.pdf", ["Body."], title="MP Materials 8-K", author="MP Materials Corp.")
    meta = load(path).meta
    assert meta.title == "MP Materials 8-K", "the /Title entry should be the title"
    assert meta.publisher == "MP Materials Corp.", "the /Author entry should be the publisher"
    assert meta.published == "2025-07-10", "the /CreationDate should be the published date"


def test_pdf_page_text_is_normalised() -> None:
    raw = "Line one   \nLine two\t\n\n\n\n\nLine three  \r\n"
    assert normalise_page_text(raw) == "Line one\nLine two\n\nLine three", "trailing spaces and blank-line runs go"


@pytest.mark.parametrize(
    ("value", "expected"),
    [("D:20250710083000-04'00'", "2025-07-10"), ("D:2025", "2025-01-01"), ("20241231", "2024-12-31"), ("junk", None)],
)
def test_pdf_dates_become_iso_dates(value: str, expected: str | None) -> None:
    assert pdf_date(value) == expected, f"{value!r} should give {expected!r}"


def test_pdf_encrypted_with_empty_user_password_is_read(tmp_path: Path) -> None:
    path = write_pdf(tmp_path / "owner-only.pdf", ["Readable despite encryption."], owner_only=True)
    doc = load(path)
    assert "Readable despite encryption." in doc.text, "an owner-password-only PDF should be read"
    assert doc.sections[0].page == 1, "the page number should be kept"


def test_pdf_with_user_password_raises_load_error_naming_the_file(tmp_path: Path) -> None:
    path = write_pdf(tmp_path / "secret.pdf", ["Hidden."], encrypt_password="hunter2")
    assert_load_error(path, "password-protected")


def test_corrupt_pdf_raises_load_error_naming_the_file(tmp_path: Path) -> None:
    assert_load_error(write_corrupt_pdf(tmp_path / "broken.pdf"), "not a readable PDF")


def test_text_file_named_pdf_raises_load_error(tmp_path: Path) -> None:
    path = tmp_path / "notes.pdf"
    path.write_text("just some text, not a PDF")
    assert_load_error(path, "not a readable PDF")


def test_blank_pdf_gives_no_sections_and_an_ocr_warning(tmp_path: Path) -> None:
    doc = load(write_blank_pdf(tmp_path / "scan.pdf", 2))
    assert doc.sections == (), "a PDF without text has no sections"
    assert any("no extractable text" in w and "OCR" in w for w in doc.warnings), f"warnings: {doc.warnings}"


def test_pdf_over_the_page_limit_raises_load_error_naming_the_limit(tmp_path: Path) -> None:
    path = write_pdf(tmp_path / "huge.pdf", ["a", "b", "c"])
    assert_load_error(path, "limit of 2 pages", max_pdf_pages=2)


# --- HTML --------------------------------------------------------------------------------------


def test_html_drops_scripts_navigation_and_footer_and_keeps_main_text(tmp_path: Path) -> None:
    path = write_html(tmp_path / "kz.html", "Korea Zinc refinery", KZ_SECTIONS)
    text = load(path).text
    for dropped in ("SCRIPTTEXT", "STYLETEXT", "NAVTEXT", "HEADERTEXT", "FOOTERTEXT"):
        assert dropped not in text, f"{dropped} should have been dropped from the page text"
    assert "The Pentagon will take a stake in the refinery." in text, "main text kept, whitespace collapsed"
    assert "Construction starts in 2026." in text, "text of later sections kept"
    assert "<" not in text, "the text should hold no tags"


def test_html_sections_carry_heading_paths(tmp_path: Path) -> None:
    doc = load(write_html(tmp_path / "kz.html", "Korea Zinc refinery", KZ_SECTIONS))
    by_path = {s.headings: s.text for s in doc.sections}
    assert ("Korea Zinc refinery", "Financing") in by_path, f"paths: {list(by_path)}"
    assert "Loans come from the DFC." in by_path[("Korea Zinc refinery", "Financing")], "text under its heading"
    assert by_path[("Korea Zinc refinery", "Timeline")].startswith("Timeline"), "heading is the section's first block"
    assert "\n\nLoans come" in by_path[("Korea Zinc refinery", "Financing")], "blocks are separated by blank lines"
    assert doc.meta.title == "Korea Zinc refinery", "the <title> should be the title"
    assert_offsets(doc)


def test_html_meta_tags_give_published_publisher_and_description(tmp_path: Path) -> None:
    meta = {"article:published_time": "2025-12-15T08:00:00Z", "og:site_name": "Reuters", "description": "Deal"}
    doc = load(write_html(tmp_path / "kz.html", "Korea Zinc", KZ_SECTIONS, meta=meta))
    assert doc.meta.published == "2025-12-15", "published_time should give the ISO date"
    assert doc.meta.publisher == "Reuters", "og:site_name should give the publisher"


def test_html_without_main_uses_body_and_first_h1_for_title(tmp_path: Path) -> None:
    path = tmp_path / "plain.htm"
    path.write_text(
        "<html><body><div role='navigation'>Menu</div><h1>Order 14241</h1><div>Loose text in a div"
        "<p>A paragraph</p></div><table><tr><th>Year</th><th>Tons</th></tr><tr><td>2025</td><td>10</td></tr>"
        "</table><pre>code  line\n  indented</pre><!-- a comment --></body></html>"
    )
    doc = load(path)
    assert doc.meta.title == "Order 14241", "the first <h1> is the title when there is no <title>"
    assert "Menu" not in doc.text, "role=navigation should be dropped"
    assert "Loose text in a div\n\nA paragraph" in doc.text, "text outside <p> should be its own block"
    assert "Year | Tons\n\n2025 | 10" in doc.text, "table rows become one block each"
    assert "code  line\n  indented" in doc.text, "<pre> keeps its whitespace"
    assert "a comment" not in doc.text, "comments are not text"
    assert_offsets(doc)


def test_html_in_legacy_encoding_is_decoded(tmp_path: Path) -> None:
    path = write_html(tmp_path / "old.html", "Café policy", {"Résumé": ["Naïve “quotes”"]}, encoding="cp1252")
    assert "Naïve “quotes”" in load(path).text, "the declared charset should be honoured"


# --- Markdown ----------------------------------------------------------------------------------


MD_BODY = """# Rare earths

Intro paragraph.

## Financing

The loan is $400 million.

```
# not a heading inside a fence
```

### Terms

Ten years.

## Timeline

2026.
"""


def test_markdown_front_matter_becomes_metadata(tmp_path: Path) -> None:
    front = {
        "title": "EO 14241",
        "doc_type": "executive order",
        "published": "March 20, 2025",
        "sources": ["https://x.gov/eo"],
    }
    doc = load(write_markdown(tmp_path / "eo.md", MD_BODY, front))
    assert doc.meta.title == "EO 14241", "front matter title wins over the first heading"
    assert doc.meta.doc_type.value == "policy", "executive order maps to policy"
    assert doc.meta.published == "2025-03-20", "the date should be normalised"
    assert doc.meta.sources == ("https://x.gov/eo",), "sources should come from front matter"
    assert "EO 14241" not in doc.text, "the front matter is not part of the text"


def test_markdown_sections_follow_atx_headings_with_paths(tmp_path: Path) -> None:
    doc = load(write_markdown(tmp_path / "notes.md", MD_BODY))
    paths = [s.headings for s in doc.sections]
    assert paths == [
        ("Rare earths",),
        ("Rare earths", "Financing"),
        ("Rare earths", "Financing", "Terms"),
        ("Rare earths", "Timeline"),
    ], f"paths: {paths}"
    assert doc.sections[1].text.startswith("## Financing\n"), "the heading line opens its section"
    assert "# not a heading inside a fence" in doc.sections[1].text, "fenced code is not split"
    assert doc.sections[3].text == "## Timeline\n\n2026.", "blank lines around a section are stripped"
    assert doc.meta.title == "Rare earths", "the first heading is the title fallback"
    assert_offsets(doc)


def test_markdown_heading_directly_followed_by_subheading_joins_it(tmp_path: Path) -> None:
    doc = load(write_markdown(tmp_path / "n.md", "# Title\n\n## Part\n\nBody.\n"))
    assert [s.headings for s in doc.sections] == [("Title", "Part")], "a heading-only section is folded into the next"
    assert doc.sections[0].text == "# Title\n\n## Part\n\nBody.", "no text is lost by folding"


def test_markdown_malformed_front_matter_warns_and_is_ignored(tmp_path: Path) -> None:
    path = tmp_path / "bad.md"
    path.write_text("---\ntitle: [unclosed\n---\n# Heading\n\nBody.\n")
    doc = load(path)
    assert any("front matter" in w and "bad.md" in w for w in doc.warnings), f"warnings: {doc.warnings}"
    assert doc.meta.title == "Heading", "fields fall back as if there were no front matter"
    assert doc.text == "# Heading\n\nBody.", "the broken block is not indexed as text"


def test_markdown_front_matter_that_is_not_a_mapping_warns(tmp_path: Path) -> None:
    path = tmp_path / "list.md"
    path.write_text("---\n- a\n- b\n---\nBody.\n")
    doc = load(path)
    assert any("not a mapping" in w for w in doc.warnings), f"warnings: {doc.warnings}"


# --- Text --------------------------------------------------------------------------------------


def test_text_in_cp1252_is_decoded_with_a_warning(tmp_path: Path) -> None:
    original = "Café résumé — naïve “quotes”\n\nSecond paragraph, déjà vu."
    doc = load(write_non_utf8_text(tmp_path / "legacy.txt", original))
    assert doc.text == original, f"cp1252 text should decode exactly: {doc.text!r}"
    assert any("cp1252" in w and "legacy.txt" in w for w in doc.warnings), f"warnings: {doc.warnings}"


def test_utf8_text_with_bom_and_crlf_decodes_without_warning(tmp_path: Path) -> None:
    path = tmp_path / "plain.TXT"
    path.write_bytes("\ufeffTitle line\r\n\r\nBody – text.\r\n".encode())
    doc = load(path)
    assert doc.warnings == (), f"UTF-8 needs no warning: {doc.warnings}"
    assert doc.text == "Title line\n\nBody – text.", "BOM removed and line endings normalised"
    assert doc.meta.title == "Title line", "a short first line is the title fallback"


def test_text_sections_stay_bounded_for_large_files(tmp_path: Path) -> None:
    paragraphs = [f"Paragraph {i} " + "word " * 60 for i in range(200)]
    path = tmp_path / "big.txt"
    path.write_text("\n\n".join(paragraphs) + "\n\n" + "x" * (SECTION_CHARS * 2 + 10))
    doc = load(path)
    assert len(doc.sections) > 5, "a large file should give many sections"
    assert all(len(s.text) <= SECTION_CHARS for s in doc.sections), "no section exceeds the bound"
    assert "Paragraph 0 word" in doc.sections[0].text and "Paragraph 1 word" in doc.sections[0].text, "grouped"
    assert_offsets(doc)


def test_text_long_first_line_is_not_a_title(tmp_path: Path) -> None:
    path = tmp_path / "long-first-line.txt"
    path.write_text("a" * 200 + "\n\nbody")
    assert load(path).meta.title == "Long First Line", "the file name is the fallback title"


# --- Bad input and dispatch --------------------------------------------------------------------


@pytest.mark.parametrize("name", ["empty.txt", "empty.md", "empty.html", "spaces.text"])
def test_empty_file_raises_load_error(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    path.write_bytes(b"" if name.startswith("empty") else b"  \n\t \n")
    assert_load_error(path, "empty file")


@pytest.mark.parametrize("name", ["image.txt", "image.html", "image.md"])
def test_binary_data_raises_load_error(tmp_path: Path, name: str) -> None:
    assert_load_error(write_binary(tmp_path / name), "binary data, not text")


def test_text_full_of_control_characters_is_binary(tmp_path: Path) -> None:
    path = tmp_path / "controls.txt"
    path.write_bytes(b"ab\x01\x02\x03\x04cd" * 100)
    assert_load_error(path, "binary data, not text")


def test_unsupported_extension_raises_load_error(tmp_path: Path) -> None:
    path = tmp_path / "report.xlsx"  # a spreadsheet: .docx is read since the Word loader
    path.write_bytes(b"PK\x03\x04")
    assert_load_error(path, "unsupported file type")


def test_missing_path_raises_load_error(tmp_path: Path) -> None:
    assert_load_error(tmp_path / "gone.pdf", "no such file")


def test_suffixes_are_matched_case_insensitively(tmp_path: Path) -> None:
    doc = load(write_pdf(tmp_path / "REPORT.PDF", ["Upper-case suffix."]))
    assert "Upper-case suffix." in doc.text, ".PDF should be read as a PDF"
    assert ".htm" in SUPPORTED_SUFFIXES and ".markdown" in SUPPORTED_SUFFIXES, "all listed suffixes are supported"


WRITERS: dict[str, Callable[[Path], Path]] = {
    "pdf": lambda d: write_pdf(d / "a.pdf", ["One.\n\nStill one.", "Two."]),
    "html": lambda d: write_html(d / "a.html", "T", KZ_SECTIONS),
    "markdown": lambda d: write_markdown(d / "a.md", MD_BODY, {"title": "T"}),
    "text": lambda d: write_non_utf8_text(d / "a.txt", "Café\n\n\n\npara two\n   \npara three", "cp1252"),
}


@pytest.mark.parametrize("kind", sorted(WRITERS))
def test_every_section_sits_at_its_offset_in_the_document_text(tmp_path: Path, kind: str) -> None:
    doc = load(WRITERS[kind](tmp_path))
    assert doc.sections, f"{kind}: expected sections"
    assert_offsets(doc)
    assert all(s.text.strip() == s.text for s in doc.sections), f"{kind}: sections carry no outer blank space"


def test_html_page_wrapped_in_one_form_keeps_its_content(tmp_path: Path) -> None:
    path = tmp_path / "webforms.html"
    path.write_text(
        "<html><body><form id='aspnetForm'><input name='q'><div role='main'><h1>Notice</h1>"
        "<p>The rule takes effect in May.</p></div></form><form><label>Newsletter</label></form></body></html>"
    )
    text = load(path).text
    assert "The rule takes effect in May." in text, "a <form> wrapping the content must not drop it"
    assert "Newsletter" not in text, "ordinary forms are dropped"


def test_markdown_with_only_front_matter_warns_and_has_no_sections(tmp_path: Path) -> None:
    doc = load(write_markdown(tmp_path / "meta-only.md", "\n", {"title": "Only metadata"}))
    assert doc.sections == (), "no body, no sections"
    assert any("no text" in w for w in doc.warnings), f"warnings: {doc.warnings}"


def test_deeply_nested_html_is_read_without_overflowing_the_stack(tmp_path: Path) -> None:
    depth = 5000
    path = tmp_path / "nested.html"
    path.write_text("<html><body>" + "<div>" * depth + "<p>deep text</p>" + "</div>" * depth + "</body></html>")
    assert load(path).text == "deep text", "text at the bottom of a deep tree should be found"


def test_html_header_inside_article_is_kept(tmp_path: Path) -> None:
    path = tmp_path / "article.html"
    path.write_text(
        "<html><body><header>Site name</header><article><header><h1>Deal signed</h1>"
        "<p>By Staff</p></header><p>The deal closed.</p><button>Share</button></article></body></html>"
    )
    doc = load(path)
    assert "Site name" not in doc.text, "the page-level header is dropped"
    assert doc.sections[0].headings == ("Deal signed",), "the article's own header heading is kept"
    assert "Share" not in doc.text, "buttons are dropped"


def test_pdf_page_whose_text_cannot_be_extracted_is_skipped_with_a_warning(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pypdf import PageObject

    original = PageObject.extract_text

    def flaky(self: PageObject, *args: object, **kwargs: object) -> str:
        text = original(self, *args, **kwargs)  # type: ignore[arg-type]
        if "BROKEN" in text:
            raise ValueError("bad content stream")
        return text

    monkeypatch.setattr(PageObject, "extract_text", flaky)
    doc = load(write_pdf(tmp_path / "flaky.pdf", ["Good page.", "BROKEN page."]))
    assert [s.page for s in doc.sections] == [1], "the failing page is skipped"
    assert any("page 2" in w and "flaky.pdf" in w for w in doc.warnings), f"warnings: {doc.warnings}"


def test_a_text_header_block_gives_metadata_and_is_not_part_of_the_text(tmp_path: Path) -> None:
    path = tmp_path / "release.txt"
    path.write_text(
        "Title: Northwind Minerals Receives a Loan\nDate: September 26, 2025\n"
        "Source URL: https://example.gov/news/northwind\nPublisher: Example Agency\n\n"
        "The Department of Energy lent Northwind Minerals $250 million.\n",
        encoding="utf-8",
    )

    doc = load_document(path, content_hash="test")

    assert doc.meta.title == "Northwind Minerals Receives a Loan", doc.meta
    assert doc.meta.published == "2025-09-26" and doc.meta.publisher == "Example Agency", doc.meta
    assert doc.meta.sources == ("https://example.gov/news/northwind",), doc.meta
    assert "Title:" not in doc.text and "Source URL" not in doc.text, f"the header is not content: {doc.text!r}"
    assert doc.text.startswith("The Department of Energy lent"), doc.text


@pytest.mark.parametrize(
    "opening",
    [
        "Summary: the loan closes in June.\n\nBody text follows here.",  # no metadata key: a sentence
        "Title: A Loan\nThe loan closes in June and pays for a refinery.\n\nMore.",  # a prose line inside
    ],
    ids=["unknown key", "prose in the block"],
)
def test_lines_that_only_look_like_a_header_stay_text(tmp_path: Path, opening: str) -> None:
    path = tmp_path / "note.txt"
    path.write_text(opening, encoding="utf-8")

    doc = load_document(path, content_hash="test")

    assert doc.text.split()[0] == opening.split()[0], f"the opening is kept as text: {doc.text!r}"
