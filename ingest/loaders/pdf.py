"""PDF loader: one section per page with its 1-based page number, its heading path, and a filing's cover metadata.

pypdf opens the file (validation, decryption, document info, page count) and is the reference text extractor;
the optional ``pdfium`` engine (pypdfium2, a binding of Chrome's C++ PDF library) extracts the same text about
twenty times faster on real filings and falls back to pypdf page by page.
"""

from __future__ import annotations

import datetime as dt
import io
import logging
import re
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pypdf import PdfReader
from pypdf.errors import DependencyError, FileNotDecryptedError, LimitReachedError
from pypdf.generic import ArrayObject, DictionaryObject, EncodedStreamObject, StreamObject

from ingest.filings import detect_cover, filing_title, page_headings, period_label
from ingest.loaders.base import RawDocument, assemble_sections
from policyqa.errors import LoadError

log = logging.getLogger(__name__)

_TRAILING_SPACE = re.compile(r"[ \t]+$", re.MULTILINE)
_BLANK_LINES = re.compile(r"\n{3,}")
_PDF_DATE = re.compile(r"^(?:D:)?(\d{4})(\d{2})?(\d{2})?")
_REASON_CHARS = 120
_RUNNING_MIN_PAGES = 4  # running headers and footers are only told apart from text on longer documents
_RUNNING_SHARE = 0.4  # a line at the top or bottom of at least this share of pages is a running header/footer
_RUNNING_EDGE_LINES = 2
_PAGE_NUMBER = re.compile(r"^\d{1,4}\b|\b\d{1,4}$")  # a page number opening or closing a running line
PDF_ENGINES = ("pypdf", "pdfium")
_CERTIFICATION = re.compile(r"^exhibit\s+3[12](?:\.\d+)?\b", re.I)


def load_pdf(path: Path, *, max_pages: int, engine: str = "pypdf") -> RawDocument:
    """Load a PDF's text page by page.

    Encrypted PDFs are opened with the empty user password, which is how most
    "protected" filings are shipped; a real password is an error. Lines repeated at the top or bottom of
    most pages (running headers, footers, page numbers) are dropped. A filing's cover page gives the title
    ("Apple Inc. (AAPL) Form 10-Q for the quarterly period ended July 1, 2023 (Q3 2023)"), its Item and Note
    headings give each page its heading path, and its officer certifications are left out.

    Args:
        path: the PDF.
        max_pages: PDFs with more pages are refused.
        engine: "pypdf" (pure Python, the reference) or "pdfium" (pypdfium2, much faster; pypdf is used
            instead when pypdfium2 is not installed, and for any page pdfium cannot read).

    Raises:
        LoadError: the file is not a readable PDF, needs a password, or has more than ``max_pages`` pages.
    """
    if engine not in PDF_ENGINES:
        raise LoadError(f"{path.name}: unknown PDF engine {engine!r}; choose one of {', '.join(PDF_ENGINES)}")
    name = path.name
    try:
        with path.open("rb") as stream:
            data = stream.read() if engine == "pdfium" else b""
            reader = PdfReader(io.BytesIO(data) if data else stream)
            _decrypt(reader, name)
            page_count = len(reader.pages)
            if page_count > max_pages:
                raise LoadError(f"{name}: {page_count} pages is more than the limit of {max_pages} pages")
            check_content_size(reader, name)
            fields = _info_fields(reader)
            extracted = _pdfium_texts(data, reader, name) if engine == "pdfium" else None
            texts, warnings = extracted if extracted is not None else _page_texts(reader, name)
    except LoadError:
        raise
    except OSError as exc:
        raise LoadError(f"{name}: cannot read the file ({exc.strerror or exc})") from exc
    except Exception as exc:  # damaged files raise PdfReadError, PdfStreamError, but also KeyError, ValueError, ...
        raise LoadError(f"{name}: not a readable PDF ({_reason(exc)})") from exc
    if page_count and len(warnings) == page_count:
        first = warnings[0].removeprefix(f"{name}: ")
        raise LoadError(f"{name}: not a readable PDF (text extraction failed on every page; {first})")
    texts = strip_running_lines(texts)
    filing = _filing_fields(texts)
    fields.update(filing)
    if filing:
        texts, certifications = drop_certifications(texts)
        if certifications:
            warnings.append(
                f"{name}: {len(certifications)} pages of officer certifications (Exhibits 31 and 32, the same "
                f"text in every filing) not indexed: pages {', '.join(map(str, certifications))}"
            )
    # Item and Note headings are a filing's structure; elsewhere such lines are only text.
    headings = page_headings([text for _, text in texts]) if filing else [()] * len(texts)
    sections = assemble_sections(
        (text, number, heading_path) for (number, text), heading_path in zip(texts, headings, strict=True)
    )
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
        text, warning = _pypdf_page_text(page, name, number)
        if warning:
            warnings.append(warning)
        elif text:
            texts.append((number, text))
    return texts, warnings


def _pypdf_page_text(page: Any, name: str, number: int) -> tuple[str, str]:
    """The normalised text of one page, or a warning when it cannot be extracted."""
    try:
        raw = page.extract_text() or ""
    except Exception as exc:  # pypdf raises many kinds of error on damaged content streams
        log.info("%s: page %d extraction failed: %r", name, number, exc)
        return "", f"{name}: page {number} skipped, its text could not be extracted ({_reason(exc)})"
    return normalise_page_text(raw), ""


def _pdfium_texts(data: bytes, reader: PdfReader, name: str) -> tuple[list[tuple[int, str]], list[str]] | None:
    """Page texts by pdfium, or None (use pypdf) when pypdfium2 is missing or cannot open the file."""
    try:
        import pypdfium2
    except ImportError:
        log.info("pypdfium2 is not installed; %s is read with pypdf", name)
        return None
    try:
        document = pypdfium2.PdfDocument(data)
    except Exception as exc:  # pdfium refuses some files pypdf repairs
        log.info("%s: pdfium cannot open it (%r); reading it with pypdf", name, exc)
        return None
    texts: list[tuple[int, str]] = []
    warnings: list[str] = []
    try:
        for index in range(len(document)):
            number = index + 1
            try:
                page = document[index]
                textpage = page.get_textpage()
                raw = textpage.get_text_range()
                textpage.close()
                page.close()
                # pdfium marks a word hyphenated across a line break with U+FFFE; the hyphen is real text.
                text = normalise_page_text(raw.replace("\ufffe", "-"))
            except Exception as exc:
                log.info("%s: pdfium failed on page %d (%r); trying pypdf", name, number, exc)
                text, warning = _pypdf_page_text(reader.pages[index], name, number)
                if warning:
                    warnings.append(warning)
                    continue
            if text:
                texts.append((number, text))
    finally:
        document.close()
    return texts, warnings


def strip_running_lines(pages: Sequence[tuple[int, str]]) -> list[tuple[int, str]]:
    """Drop running headers and footers: lines at a page's edge that repeat on many pages, page numbers aside.

    "Apple Inc. | Q3 2023 Form 10-Q | 12", a bare page number, "Table of Contents" on every page: they say
    nothing about the page they are on, and would otherwise be embedded and indexed once per chunk.
    """
    if len(pages) < _RUNNING_MIN_PAGES:
        return list(pages)
    seen: Counter[str] = Counter()
    for _, text in pages:
        lines = [line for line in text.splitlines() if line.strip()]
        edge = lines[:_RUNNING_EDGE_LINES] + lines[-_RUNNING_EDGE_LINES:]
        seen.update({_line_key(line) for line in edge})
    threshold = max(3, _RUNNING_SHARE * len(pages))
    running = {key for key, count in seen.items() if count >= threshold}
    if not running:
        return list(pages)
    return [(number, _strip_edges(text, running)) for number, text in pages]


def drop_certifications(pages: Sequence[tuple[int, str]]) -> tuple[list[tuple[int, str]], list[int]]:
    """A filing's pages without its Sarbanes-Oxley certifications (Exhibits 31.x and 32.x), and their numbers.

    Every 10-Q and 10-K ends with them, in the same wording ("I, ..., certify that: 1. I have reviewed this
    quarterly report ..."): about 6% of a 10-Q's text that no question about the company is answered by.
    """
    kept: list[tuple[int, str]] = []
    dropped: list[int] = []
    for number, text in pages:
        head = " ".join(text[:200].split())
        if _CERTIFICATION.match(head) and "certif" in text[:600].lower():
            dropped.append(number)
        else:
            kept.append((number, text))
    return kept, dropped


def _line_key(line: str) -> str:
    return _PAGE_NUMBER.sub("#", " ".join(line.split()).lower())


def _strip_edges(text: str, running: set[str]) -> str:
    lines = text.split("\n")
    for _ in range(_RUNNING_EDGE_LINES):
        while lines and not lines[0].strip():
            lines.pop(0)
        if lines and _line_key(lines[0]) in running:
            lines.pop(0)
    for _ in range(_RUNNING_EDGE_LINES):
        while lines and not lines[-1].strip():
            lines.pop()
        if lines and _line_key(lines[-1]) in running:
            lines.pop()
    return "\n".join(lines).strip()


def _filing_fields(texts: Sequence[tuple[int, str]]) -> dict[str, object]:
    """Title and document type from a periodic filing's cover page; nothing for other PDFs.

    The built title replaces the PDF's /Title (EDGAR's is the accession number); a sidecar title still wins.
    """
    cover = detect_cover("\n".join(text for _, text in texts[:2]))
    if cover is None:
        return {}
    label = period_label("\n".join(text for _, text in texts), cover.period_end)
    return {"doc_type": "filing", "title": filing_title(cover, label)}


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


# -- limits on what a page's content may cost to extract -----------------------------------------------------

MAX_PAGE_CONTENT_MB = 4.0  # the densest pages of real 10-Q filings decode to about 0.1 MB
MAX_CONTENT_MB = 128.0  # all pages together; real filings come to 1-5 MB, about 30-90 KB a page
_MB = 1_048_576
_MAX_FORM_DEPTH = 8
_DRAW_XOBJECT = re.compile(rb"/([^\s/\[\]()<>{}%]+)\s*Do\b")


def check_content_size(
    reader: PdfReader, name: str, *, page_mb: float = MAX_PAGE_CONTENT_MB, total_mb: float = MAX_CONTENT_MB
) -> None:
    """Refuse a PDF whose pages decode to more content than any real document, before an extractor parses it.

    Content streams compress about a thousandfold: a 100 KB file can carry a page of 70 MB of text operators,
    which pdfium turns into gigabytes of memory and pypdf into minutes of parsing, and a form XObject drawn
    hundreds of times multiplies the work again. A page's work is its decoded content plus, for every form it
    draws, that form's work. Decoded copies are dropped as soon as they are measured, so memory stays at one
    stream's worth (pypdf refuses to decode any stream over 75 MB).

    Raises:
        LoadError: a page or the whole file is over its limit, or a stream is over pypdf's decompression limit.
    """
    page_limit, total_limit = int(page_mb * _MB), int(total_mb * _MB)
    forms: dict[int, int] = {}  # id(form XObject) -> its work: a form drawn on many pages is measured once
    total = 0
    for number, page in enumerate(reader.pages, start=1):
        try:
            work = _content_work(page.get("/Contents"), page.get("/Resources"), forms, page_limit, 0)
        except LimitReachedError as exc:
            raise LoadError(
                f"{name}: page {number} holds a stream over pypdf's decompression limit (a decompression bomb?); "
                "not read"
            ) from exc
        except Exception as exc:  # a damaged page: its extraction reports it
            log.info("%s: page %d content not measurable: %r", name, number, exc)
            continue
        if work > page_limit:
            raise LoadError(
                f"{name}: page {number}'s content decodes to more than {page_mb:g} MB (a decompression bomb?); not read"
            )
        total += work
        if total > total_limit:
            raise LoadError(f"{name}: the pages' content decodes to more than {total_mb:g} MB in all; not read")


def _content_work(contents: Any, resources: Any, forms: dict[int, int], cap: int, depth: int) -> int:
    """Bytes of decoded content a page (or form) makes an extractor parse; counting stops once over ``cap``."""
    contents = contents.get_object() if contents is not None else None
    streams = list(contents) if isinstance(contents, ArrayObject) else [contents]
    resources = resources.get_object() if resources is not None else None
    xobjects = resources.get("/XObject") if isinstance(resources, DictionaryObject) else None
    xobjects = xobjects.get_object() if xobjects is not None else None
    work = 0
    for item in streams:
        data = _decoded(item)
        work += len(data)
        if work > cap or not isinstance(xobjects, DictionaryObject):
            continue
        for match in _DRAW_XOBJECT.finditer(data):
            form = xobjects.get("/" + match.group(1).decode("latin-1"))
            form = form.get_object() if form is not None else None
            if not isinstance(form, StreamObject) or form.get("/Subtype") != "/Form":
                continue  # images are not parsed for text
            key = id(form)
            if key not in forms:
                forms[key] = 0  # a form that draws itself adds nothing more
                forms[key] = cap + 1 if depth >= _MAX_FORM_DEPTH else _content_work(
                    form, form.get("/Resources") or resources, forms, cap, depth + 1
                )
            work += forms[key]
            if work > cap:
                return work
    return work


def _decoded(item: Any) -> bytes:
    """A stream's decoded bytes, without keeping pypdf's cached copy; damaged streams count as empty."""
    stream = item.get_object() if item is not None else None
    if not isinstance(stream, StreamObject):
        return b""
    try:
        return stream.get_data()
    except LimitReachedError:
        raise
    except Exception:  # extraction reports a damaged stream for its page
        return b""
    finally:
        if isinstance(stream, EncodedStreamObject):
            stream.decoded_self = None
