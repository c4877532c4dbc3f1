"""Turn one supported file into a LoadedDocument: pick the loader by suffix, then merge its metadata."""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path

from ingest.loaders.base import RawDocument, strip_controls
from ingest.metadata import build_meta
from policyqa.errors import LoadError
from policyqa.types import LoadedDocument

log = logging.getLogger(__name__)

PDF_SUFFIXES = (".pdf",)
HTML_SUFFIXES = (".html", ".htm")
MARKDOWN_SUFFIXES = (".md", ".markdown")
TEXT_SUFFIXES = (".txt", ".text")
DOCX_SUFFIXES = (".docx",)
SUPPORTED_SUFFIXES: tuple[str, ...] = PDF_SUFFIXES + HTML_SUFFIXES + MARKDOWN_SUFFIXES + TEXT_SUFFIXES + DOCX_SUFFIXES

__all__ = ["SUPPORTED_SUFFIXES", "RawDocument", "load_document", "load_raw"]


def load_document(
    path: Path, *, content_hash: str, max_pdf_pages: int = 2000, pdf_engine: str = "pypdf"
) -> LoadedDocument:
    """Read one file into sections plus the metadata a citation shows.

    Args:
        path: the file; its suffix (any case) chooses the loader.
        content_hash: recorded in the metadata, normally ``content_hash_of(path)``.
        max_pdf_pages: PDFs with more pages are refused.
        pdf_engine: "pypdf" (the reference extractor) or "pdfium" (faster; ingest uses ``settings.pdf_engine``).

    Raises:
        LoadError: the file is missing, unsupported, unreadable, empty, binary, encrypted or
            malformed, or its metadata sidecar is malformed; the message names the file.
    """
    raw = load_raw(path, max_pdf_pages=max_pdf_pages, pdf_engine=pdf_engine)
    meta = build_meta(path, raw, content_hash=content_hash)
    # Titles come from inside the file too (<title>, /Title, front matter) and are printed in every citation.
    meta = dataclasses.replace(
        meta, title=strip_controls(meta.title), publisher=meta.publisher and strip_controls(meta.publisher)
    )
    log.debug("loaded %s: %d sections, %d warnings", path, len(raw.sections), len(raw.warnings))
    return LoadedDocument(meta=meta, sections=raw.sections, warnings=raw.warnings)


def load_raw(path: Path, *, max_pdf_pages: int = 2000, pdf_engine: str = "pypdf") -> RawDocument:
    """Run the loader for ``path``'s suffix, without merging metadata from outside the file."""
    path = Path(path)
    if not path.exists():
        raise LoadError(f"{path}: no such file")
    if not path.is_file():
        raise LoadError(f"{path}: not a regular file")
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        shown = f"'{path.suffix}'" if path.suffix else "(no extension)"
        raise LoadError(f"{path.name}: unsupported file type {shown}; supported: {', '.join(SUPPORTED_SUFFIXES)}")
    if suffix in PDF_SUFFIXES:
        from ingest.loaders.pdf import load_pdf

        return load_pdf(path, max_pages=max_pdf_pages, engine=pdf_engine)
    if suffix in HTML_SUFFIXES:
        from ingest.loaders.html import load_html

        return load_html(path)
    if suffix in DOCX_SUFFIXES:
        from ingest.loaders.docx import load_docx

        return load_docx(path)
    if suffix in MARKDOWN_SUFFIXES:
        from ingest.loaders.markdown import load_markdown

        return load_markdown(path)
    from ingest.loaders.text import load_text

    return load_text(path)
