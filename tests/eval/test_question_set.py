"""The starter corpus and its question set agree: documents exist, key facts occur, metadata is complete."""

from __future__ import annotations

import datetime as dt
import importlib.util
import re
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml
from bs4 import BeautifulSoup
from pypdf import PdfReader

from assistant.evalset import load_question_set

ROOT = Path(__file__).resolve().parents[2]
CORPUS = ROOT / "corpus"
QUESTIONS = load_question_set(ROOT / "tests" / "eval" / "questions.yaml").questions
DOC_SUFFIXES = (".md", ".html", ".pdf")
DOC_TYPES = {"article", "filing", "policy", "other"}
PUBLISHER = "policyqa starter corpus"
DOCUMENTS = sorted(p.name for p in CORPUS.iterdir() if p.is_file() and p.suffix in DOC_SUFFIXES)
EXECUTIVE_ORDERS = ("14154", "14156", "14213", "14220", "14241", "14272", "14285")


def _norm(text: str) -> str:
    return " ".join(text.lower().split())


@cache
def doc_text(name: str) -> str:
    """Document text as ingest sees it: PDF pages via pypdf, HTML minus nav/script/footer, Markdown raw."""
    path = CORPUS / name
    if path.suffix == ".pdf":
        return "\n".join(page.extract_text() or "" for page in PdfReader(path).pages)
    if path.suffix == ".html":
        soup = BeautifulSoup(path.read_text(encoding="utf-8"), "html.parser")
        for tag in soup(["nav", "script", "style", "footer"]):
            tag.decompose()
        return soup.get_text(" ")
    return path.read_text(encoding="utf-8")


def doc_meta(name: str) -> dict[str, Any]:
    """Front matter for Markdown, the ``<name>.meta.yaml`` sidecar for HTML and PDF."""
    path = CORPUS / name
    if path.suffix == ".md":
        match = re.match(r"^---\n(.*?)\n---\n", path.read_text(encoding="utf-8"), re.S)
        assert match, f"{name}: no YAML front matter between --- lines"
        return yaml.safe_load(match.group(1))
    sidecar = CORPUS / f"{name}.meta.yaml"
    assert sidecar.is_file(), f"{name}: missing sidecar {sidecar.name}"
    return yaml.safe_load(sidecar.read_text(encoding="utf-8"))


def test_corpus_mix() -> None:
    suffixes = [Path(name).suffix for name in DOCUMENTS]
    assert len(DOCUMENTS) >= 16
    assert suffixes.count(".html") >= 3
    assert suffixes.count(".pdf") >= 3
    for number in EXECUTIVE_ORDERS:
        assert any(name.startswith(f"eo-{number}-") and name.endswith(".md") for name in DOCUMENTS), number
    assert not (CORPUS / "README.md").exists(), "a corpus README would be ingested as a document"


@pytest.mark.parametrize("question", QUESTIONS, ids=lambda q: q.id)
def test_expected_docs_exist_and_hold_the_facts(question: Any) -> None:
    for name in question.expected_docs:
        assert (CORPUS / name).is_file(), f"{question.id}: expected doc {name} is not in corpus/"
    for fact in question.facts:
        found = any(_norm(fact) in _norm(doc_text(name)) for name in question.expected_docs)
        assert found, f"{question.id}: fact {fact!r} occurs in none of {question.expected_docs}"


@pytest.mark.parametrize("name", DOCUMENTS)
def test_document_metadata_complete(name: str) -> None:
    meta = doc_meta(name)
    assert isinstance(meta, dict), f"{name}: metadata is not a mapping"
    assert isinstance(meta.get("title"), str) and meta["title"].strip(), f"{name}: no title"
    assert meta.get("doc_type") in DOC_TYPES, f"{name}: doc_type {meta.get('doc_type')!r}"
    published = meta.get("published")
    assert isinstance(published, (str, dt.date)), f"{name}: published {published!r}"
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", str(published)), f"{name}: published {published!r} not YYYY-MM-DD"
    dt.date.fromisoformat(str(published))
    assert meta.get("publisher") == PUBLISHER, f"{name}: publisher {meta.get('publisher')!r}"
    sources = meta.get("sources")
    assert isinstance(sources, list) and sources, f"{name}: sources must be a non-empty list"
    for url in sources:
        assert isinstance(url, str) and url.startswith("https://"), f"{name}: source {url!r} is not a URL"


@pytest.mark.parametrize("name", [n for n in DOCUMENTS if n.endswith(".html")])
def test_html_title_matches_metadata(name: str) -> None:
    soup = BeautifulSoup((CORPUS / name).read_text(encoding="utf-8"), "html.parser")
    assert soup.title is not None and soup.title.get_text(strip=True) == doc_meta(name)["title"]
    for tag in ("nav", "header", "footer", "script", "main", "article", "h1", "h2"):
        assert soup.find(tag) is not None, f"{name}: no <{tag}>"


@pytest.mark.parametrize("name", [n for n in DOCUMENTS if n.endswith(".pdf")])
def test_pdf_info_matches_metadata(name: str) -> None:
    reader = PdfReader(CORPUS / name)
    meta = doc_meta(name)
    assert 2 <= len(reader.pages) <= 4
    assert reader.metadata is not None
    assert reader.metadata.title == meta["title"]
    assert reader.metadata.author == PUBLISHER
    assert reader.metadata.creation_date.date() == dt.date.fromisoformat(str(meta["published"]))
    total = len(reader.pages)
    for number, page in enumerate(reader.pages, start=1):
        assert f"Page {number} of {total}" in (page.extract_text() or ""), f"{name}: page {number} footer"


def test_sources_yaml() -> None:
    data = yaml.safe_load((CORPUS / "sources.yaml").read_text(encoding="utf-8"))
    documents = data["documents"]
    assert len(documents) >= 12
    for entry in documents:
        assert set(entry) >= {"url", "title", "doc_type", "published", "publisher"}, entry
        assert entry["url"].startswith("https://"), entry
        assert entry["doc_type"] in DOC_TYPES, entry
        dt.date.fromisoformat(str(entry["published"]))


def _load_build() -> ModuleType:
    spec = importlib.util.spec_from_file_location("corpus_build", CORPUS / "build.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_build_regenerates_the_pdfs(tmp_path: Path) -> None:
    build = _load_build()
    specs = build.load_specs()
    assert len(specs) >= 3
    first, second = tmp_path / "a", tmp_path / "b"
    assert build.main(["--out", str(first)]) == 0
    assert build.main(["--out", str(second)]) == 0
    for spec in specs:
        name = spec["file"]
        built = first / name
        assert built.read_bytes() == (second / name).read_bytes(), f"{name}: build is not reproducible"
        reader = PdfReader(built)
        assert len(reader.pages) == spec["pages"]
        assert reader.metadata.title == spec["title"]
        text = "\n".join(page.extract_text() or "" for page in reader.pages)
        assert "Item 1.01 Entry into a Material Definitive Agreement" in text
        assert f"Page {spec['pages']} of {spec['pages']}" in text
        # The committed PDF and sidecar are up to date with their source.
        assert _norm(text) == _norm(doc_text(name)), f"{name}: corpus PDF is stale; run corpus/build.py"
        sidecar = f"{name}.meta.yaml"
        assert yaml.safe_load((first / sidecar).read_text()) == yaml.safe_load((CORPUS / sidecar).read_text())
