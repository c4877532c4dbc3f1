"""Unit tests for ingest.metadata: precedence of sidecar, in-file fields and fallbacks; ids, dates and hashes."""

from __future__ import annotations

import datetime as dt
import re
import shutil
from pathlib import Path

import pytest

from ingest.loaders import load_document
from ingest.loaders.base import RawDocument
from ingest.metadata import (
    build_meta,
    content_hash_of,
    make_doc_id,
    normalise_date,
    prettify_stem,
    read_sidecar,
    slugify,
)
from policyqa.errors import LoadError
from policyqa.types import DocType
from tests.builders import write_markdown, write_pdf, write_sidecar

FRONT = {"title": "Front title", "doc_type": "article", "published": "2025-01-02", "publisher": "Front Inc."}


def raw(fields: dict[str, object] | None = None, first_heading: str | None = None) -> RawDocument:
    return RawDocument(sections=(), fields=fields or {}, first_heading=first_heading)


def test_sidecar_overrides_front_matter_which_overrides_fallbacks(tmp_path: Path) -> None:
    path = write_markdown(tmp_path / "note.md", "# Heading\n\nBody.\n", FRONT)
    write_sidecar(path, {"title": "Sidecar title", "type": "filing", "date": "July 10, 2025"})
    meta = load_document(path, content_hash="h").meta
    assert meta.title == "Sidecar title", "sidecar title should win"
    assert meta.doc_type is DocType.FILING, "sidecar 'type' should win over front matter 'doc_type'"
    assert meta.published == "2025-07-10", "sidecar 'date' should win over front matter 'published'"
    assert meta.publisher == "Front Inc.", "fields the sidecar lacks come from the front matter"


def test_front_matter_overrides_first_heading(tmp_path: Path) -> None:
    path = write_markdown(tmp_path / "note.md", "# Heading\n\nBody.\n", FRONT)
    meta = load_document(path, content_hash="h").meta
    assert meta.title == "Front title", "front matter title should win over the first heading"
    assert meta.doc_type is DocType.ARTICLE, "front matter doc_type is used"


def test_title_falls_back_to_first_heading_then_prettified_stem(tmp_path: Path) -> None:
    path = tmp_path / "eo-14241-mineral-production.md"
    assert build_meta(path, raw(first_heading="Order"), content_hash="").title == "Order", "first heading first"
    assert build_meta(path, raw(), content_hash="").title == "Eo 14241 Mineral Production", "then the stem"
    assert prettify_stem(Path("MP_Materials-8K.pdf")) == "MP Materials 8K", "capitals inside words are kept"


def test_defaults_when_nothing_is_known(tmp_path: Path) -> None:
    meta = build_meta(tmp_path / "x.txt", raw(), content_hash="abc")
    assert meta.doc_type is DocType.OTHER, "unknown type is OTHER"
    assert meta.published is None and meta.publisher is None, "unknown date and publisher are None"
    assert meta.sources == (), "no sources"
    assert meta.content_hash == "abc", "the hash passed in is recorded"


def test_source_is_the_resolved_path_and_urls_go_to_sources(tmp_path: Path) -> None:
    path = tmp_path / "sub" / ".." / "page.html"
    meta = build_meta(path, raw({"url": "https://example.com/p", "sources": "https://example.com/q"}), content_hash="")
    assert meta.source == str((tmp_path / "page.html").resolve()), f"source should be the resolved path: {meta.source}"
    assert meta.sources == ("https://example.com/q", "https://example.com/p"), f"sources: {meta.sources}"


def test_sources_list_from_sidecar_replaces_in_file_sources(tmp_path: Path) -> None:
    path = tmp_path / "a.md"
    path.write_text("x")
    write_sidecar(path, {"sources": ["https://a.gov/1", "https://a.gov/2"]})
    meta = build_meta(path, raw({"url": "https://in-file.example"}), content_hash="")
    assert meta.sources == ("https://a.gov/1", "https://a.gov/2"), f"sidecar sources win: {meta.sources}"


def test_author_list_becomes_one_publisher_string(tmp_path: Path) -> None:
    meta = build_meta(tmp_path / "a.md", raw({"author": ["A. Smith", "B. Jones"]}), content_hash="")
    assert meta.publisher == "A. Smith, B. Jones", f"publisher: {meta.publisher!r}"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2025-07-10", "2025-07-10"),
        ("2025-07-10T08:00:00Z", "2025-07-10"),
        ("July 10, 2025", "2025-07-10"),
        ("10 July 2025", "2025-07-10"),
        ("Jul 10, 2025", "2025-07-10"),
        (dt.date(2025, 7, 10), "2025-07-10"),
        (dt.datetime(2025, 7, 10, 23, 59), "2025-07-10"),
        (20250710, "2025-07-10"),
        ("Thursday, 10 July 2025 08:00 GMT", "2025-07-10"),
        ("2025-02-30", None),
        ("soon", None),
        ("", None),
        (None, None),
    ],
)
def test_dates_are_normalised_to_iso(value: object, expected: str | None) -> None:
    assert normalise_date(value) == expected, f"{value!r} should normalise to {expected!r}"


def test_doc_id_is_stable_when_the_folder_moves(tmp_path: Path) -> None:
    (tmp_path / "one").mkdir()
    (tmp_path / "two").mkdir()
    first = write_pdf(tmp_path / "one" / "mp-materials-8k.pdf", ["x"])
    moved = Path(shutil.copy(first, tmp_path / "two" / first.name))
    id_one = load_document(first, content_hash="").meta.doc_id
    id_two = load_document(moved, content_hash="").meta.doc_id
    assert id_one == id_two, "the same file name in another folder keeps its id"
    assert re.fullmatch(r"mp-materials-8k-[0-9a-f]{8}", id_one), f"id shape: {id_one}"


def test_doc_id_differs_by_suffix_and_is_bounded() -> None:
    assert make_doc_id(Path("a/report.pdf")) != make_doc_id(Path("a/report.md")), "suffix is part of the hash"
    long_id = make_doc_id(Path("x" * 200 + ".txt"))
    assert len(long_id) == 60 + 9, f"slug capped at 60 chars: {long_id}"
    assert make_doc_id(Path("报告.pdf")).startswith("doc-"), "a name with no ASCII letters still gets an id"


def test_doc_id_from_fields_is_slugified(tmp_path: Path) -> None:
    meta = build_meta(tmp_path / "a.md", raw({"doc_id": "EO 14241: Minerals!"}), content_hash="")
    assert meta.doc_id == "eo-14241-minerals", f"doc_id: {meta.doc_id}"
    assert slugify("Ünïcödé  Straße") == "unicode-strae", "accents are folded to ASCII"


def test_content_hash_changes_when_the_sidecar_changes(tmp_path: Path) -> None:
    path = tmp_path / "a.txt"
    path.write_text("same text")
    bare = content_hash_of(path)
    assert re.fullmatch(r"[0-9a-f]{64}", bare), "sha256 hex digest"
    sidecar = write_sidecar(path, {"title": "One"})
    with_sidecar = content_hash_of(path)
    sidecar.write_text("title: Two\n")
    edited = content_hash_of(path)
    assert len({bare, with_sidecar, edited}) == 3, "adding or editing the sidecar changes the hash"
    sidecar.unlink()
    assert content_hash_of(path) == bare, "the file alone hashes as before"


def test_content_hash_depends_on_bytes_not_location(tmp_path: Path) -> None:
    a = tmp_path / "a.txt"
    a.write_bytes(b"x" * (3 * 1024 * 1024 + 7))
    b = tmp_path / "b.txt"
    shutil.copy(a, b)
    assert content_hash_of(a) == content_hash_of(b), "identical bytes hash alike across block boundaries"


def test_malformed_sidecar_raises_load_error_naming_it(tmp_path: Path) -> None:
    path = tmp_path / "a.pdf"
    sidecar = path.with_name("a.pdf.meta.yaml")
    sidecar.write_text("title: [unclosed\n")
    with pytest.raises(LoadError) as info:
        read_sidecar(path)
    assert "a.pdf.meta.yaml" in str(info.value), f"message should name the sidecar: {info.value}"
    sidecar.write_text("- a list\n")
    with pytest.raises(LoadError, match="a.pdf.meta.yaml"):
        read_sidecar(path)


def test_missing_or_empty_sidecar_gives_no_fields(tmp_path: Path) -> None:
    path = tmp_path / "a.pdf"
    assert read_sidecar(path) == {}, "no sidecar, no fields"
    path.with_name("a.pdf.meta.yaml").write_text("")
    assert read_sidecar(path) == {}, "an empty sidecar has no fields"
