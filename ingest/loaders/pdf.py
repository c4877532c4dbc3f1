"""PDF loader: one section per page with its 1-based page number, using pypdf's text extraction."""

from __future__ import annotations

import datetime as dt
import logging
import re
from pathlib import Path

from pypdf import PdfReader
from pypdf.errors import DependencyError, FileNotDecryptedError

from ingest.loaders.base import RawDocument, assemble_sections
from policyqa.errors import LoadError

log = logging.getLogger(__name__)

_TRAILING_SPACE = re.compile(r"[ \t]+$", re.MULTILINE)
_BLANK_LINES = re.compile(r"\n{3,}")
_PDF_DATE = re.compile(r"^(?:D:)?(\d{4})(\d{2})?(\d{2})?")
_REASON_CHARS = 120


def load_pdf(path: Path, *, max_pages: int) -> RawDocument:
    """Load a PDF's text page by page.

    Encrypted PDFs are opened with the empty user password, which is how most
    "protected" filings are shipped; a real password is an error.

    Raises:
        LoadError: the file is not a readable PDF, needs a password, or has more than ``max_pages`` pages.
    """
    name = path.name
    try:
        with path.open("rb") as stream:
            reader = PdfReader(stream)
            _decrypt(reader, name)
            page_count = len(reader.pages)
            if page_count > max_pages:
                raise LoadError(f"{name}: {page_count} pages is more than the limit of {max_pages} pages")
            fields = _info_fields(reader)
            texts, warnings = _page_texts(reader, name)
    except LoadError:
        raise
    except OSError as exc:
        raise LoadError(f"{name}: cannot read the file ({exc.strerror or exc})") from exc
    except Exception as exc:  # damaged files raise PdfReadError, PdfStreamError, but also KeyError, ValueError, ...
        raise LoadError(f"{name}: not a readable PDF ({_reason(exc)})") from exc
    if page_count and len(warnings) == page_count:
        raise LoadError(f"{name}: not a readable PDF (text extraction failed on every page)")
    sections = assemble_sections((text, number, ()) for number, text in texts)
    if not sections:
        warnings.append(f"{name}: no extractable text (scanned PDF?); OCR is not supported")
        log.info("%s: no extractable text", name)
    return RawDocument(sections=sections, fields=fields, first_heading=None, warnings=tuple(warnings))


def _decrypt(reader: PdfReader, name: str) -> None:
    if not reader.is_encrypted:
        return
    try:
        result = reader.decrypt("")
    except DependencyError as exc:
        raise LoadError(f"{name}: encrypted PDF needs the 'cryptography' package to be read ({exc})") from exc
    except FileNotDecryptedError as exc:
        raise _password_error(name) from exc
    if not result:
        raise _password_error(name)


def _password_error(name: str) -> LoadError:
    return LoadError(f"{name}: PDF is password-protected; remove the password and ingest it again")


def _page_texts(reader: PdfReader, name: str) -> tuple[list[tuple[int, str]], list[str]]:
    texts: list[tuple[int, str]] = []
    warnings: list[str] = []
    for number, page in enumerate(reader.pages, start=1):
        try:
            raw = page.extract_text() or ""
        except Exception as exc:  # pypdf raises many kinds of error on damaged content streams
            warnings.append(f"{name}: page {number} skipped, its text could not be extracted ({_reason(exc)})")
            log.info("%s: page %d extraction failed: %r", name, number, exc)
            continue
        text = normalise_page_text(raw)
        if text:
            texts.append((number, text))
    return texts, warnings


def normalise_page_text(text: str) -> str:
    """Strip trailing spaces on each line and collapse runs of blank lines to one."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\x00", "")
    text = _TRAILING_SPACE.sub("", text)
    return _BLANK_LINES.sub("\n\n", text).strip()


def _info_fields(reader: PdfReader) -> dict[str, object]:
    try:
        info = reader.metadata
    except Exception as exc:  # a broken /Info dictionary should not stop the text being read
        log.info("PDF document info unreadable: %r", exc)
        return {}
    if not info:
        return {}
    fields: dict[str, object] = {}
    for key, field in (("/Title", "title"), ("/Author", "publisher")):
        value = _info_str(info.get(key))
        if value:
            fields[field] = value
    published = pdf_date(_info_str(info.get("/CreationDate")))
    if published:
        fields["published"] = published
    return fields


def _info_str(value: object) -> str:
    if value is None:
        return ""
    try:
        return " ".join(str(value).split())
    except Exception:
        return ""


def pdf_date(value: str) -> str | None:
    """Turn a PDF date string ("D:20250710083000-04'00'") into an ISO date, or None."""
    match = _PDF_DATE.match(value.strip())
    if not match:
        return None
    year, month, day = (int(part) if part else 1 for part in match.groups())
    try:
        return dt.date(year, month, day).isoformat()
    except ValueError:
        return None


def _reason(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= _REASON_CHARS else text[: _REASON_CHARS - 1] + "…"
