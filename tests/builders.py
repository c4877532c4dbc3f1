"""Write real input files (PDF, HTML, Markdown, text, hostile bytes) into a folder for tests."""

from __future__ import annotations

import datetime as dt
import html
import io
from collections.abc import Mapping
from pathlib import Path

import yaml

DEFAULT_OWNER_PASSWORD = "owner-secret"


def write_pdf(
    path: Path,
    pages: list[str],
    *,
    title: str | None = None,
    author: str | None = None,
    encrypt_password: str | None = None,
    owner_only: bool = False,
    created: dt.datetime | None = None,
    algorithm: str = "AES-256",
) -> Path:
    """Write a PDF with one page per string (Latin-1 text only: the core fonts have no other glyphs).

    ``owner_only`` encrypts with an empty user password and an owner password, as many
    published filings are; ``encrypt_password`` alone sets both to that password.
    """
    from fpdf import FPDF

    pdf = FPDF()
    pdf.set_creation_date(created or dt.datetime(2025, 7, 10, 9, 30, tzinfo=dt.UTC))
    if title is not None:
        pdf.set_title(title)
    if author is not None:
        pdf.set_author(author)
    pdf.set_font("Helvetica", size=11)
    for text in pages:
        pdf.add_page()
        if text:
            pdf.multi_cell(0, 6, text)
    data = bytes(pdf.output())
    if encrypt_password is not None or owner_only:
        data = _encrypt(data, encrypt_password, owner_only=owner_only, algorithm=algorithm)
    path.write_bytes(data)
    return path


def _encrypt(data: bytes, password: str | None, *, owner_only: bool, algorithm: str) -> bytes:
    from pypdf import PdfWriter

    writer = PdfWriter(clone_from=io.BytesIO(data))
    if owner_only:
        writer.encrypt(user_password="", owner_password=password or DEFAULT_OWNER_PASSWORD, algorithm=algorithm)
    else:
        writer.encrypt(user_password=password or "", owner_password=password, algorithm=algorithm)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def write_blank_pdf(path: Path, pages: int) -> Path:
    """Write a PDF whose pages carry no text, like a scan without OCR."""
    return write_pdf(path, [""] * pages)


def write_corrupt_pdf(path: Path) -> Path:
    """Write a file that starts like a PDF and then breaks off."""
    path.write_bytes(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog /Pages 2 0 R\n" + bytes(range(256)) * 4)
    return path


def write_html(
    path: Path,
    title: str,
    sections: dict[str, list[str]],
    *,
    with_nav: bool = True,
    with_script: bool = True,
    meta: dict[str, str] | None = None,
    encoding: str = "utf-8",
) -> Path:
    """Write a web page: <title> and <h1> ``title``, then an <h2> and paragraphs per section.

    With ``with_nav`` the page has a site header, navigation and footer around <main>;
    with ``with_script`` it has inline scripts and styles. Their text contains
    "NAVTEXT", "FOOTERTEXT" and "SCRIPTTEXT" so tests can check it was dropped.
    """
    esc = html.escape
    head = [f"<title>{esc(title)}</title>", f'<meta charset="{esc(encoding)}">']
    head += [f'<meta name="{esc(k)}" content="{esc(v)}">' for k, v in (meta or {}).items()]
    if with_script:
        head += ["<script>var SCRIPTTEXT = 'tracking';</script>", "<style>body { color: red; } /* STYLETEXT */</style>"]
    body: list[str] = []
    if with_nav:
        body += [
            "<header><p>HEADERTEXT Site banner</p></header>",
            '<nav><ul><li><a href="/">NAVTEXT Home</a></li><li><a href="/about">About</a></li></ul></nav>',
            '<div role="navigation">NAVTEXT breadcrumbs</div>',
        ]
    body.append(f"<main><h1>{esc(title)}</h1>")
    for heading, paragraphs in sections.items():
        body.append(f"<h2>{esc(heading)}</h2>")
        body += [f"<p>{esc(p)}</p>" for p in paragraphs]
    body.append("</main>")
    if with_script:
        body.append("<script>document.write('SCRIPTTEXT in body');</script><noscript>SCRIPTTEXT noscript</noscript>")
    if with_nav:
        body.append("<footer><p>FOOTERTEXT Copyright</p></footer>")
    page = f"<!DOCTYPE html>\n<html><head>{''.join(head)}</head>\n<body>\n" + "\n".join(body) + "\n</body></html>\n"
    path.write_bytes(page.encode(encoding))
    return path


def write_markdown(path: Path, body: str, front_matter: Mapping[str, object] | None = None) -> Path:
    """Write Markdown, with ``front_matter`` as a YAML block between ``---`` lines when given."""
    text = body
    if front_matter is not None:
        text = "---\n" + yaml.safe_dump(dict(front_matter), sort_keys=False, allow_unicode=True) + "---\n" + body
    path.write_text(text, encoding="utf-8")
    return path


def write_binary(path: Path, size: int = 4096) -> Path:
    """Write bytes that are clearly not text (a PNG signature, NULs and every byte value)."""
    data = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * (size // 256 + 1)
    path.write_bytes(data[:size])
    return path


def write_non_utf8_text(path: Path, text: str, encoding: str = "cp1252") -> Path:
    path.write_bytes(text.encode(encoding))
    return path


def write_sidecar(path: Path, fields: dict[str, object]) -> Path:
    """Write ``<path>.meta.yaml`` holding ``fields``."""
    sidecar = path.with_name(path.name + ".meta.yaml")
    sidecar.write_text(yaml.safe_dump(fields, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return sidecar
