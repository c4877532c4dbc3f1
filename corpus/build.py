"""Build the filing-style PDFs of the policyqa starter corpus from their reviewable sources.

The starter corpus (this folder) holds short documents on U.S. critical-minerals initiatives
in 2025, written in our own words from the facts in shared/facts/critical-minerals-facts.md:

* news-style articles in Markdown (``*.md``) and HTML (``*.html``);
* policy summaries, one per executive order (``eo-*.md``);
* a background explainer and a dated timeline (``doc_type: other``);
* filing-style summaries as multi-page PDFs (``*.pdf``), clearly labelled as summaries
  prepared for this corpus and not the companies' real filings.

Every document carries metadata (title, doc_type, published, publisher, sources): YAML front
matter in Markdown files, and a sidecar ``<file name>.meta.yaml`` for HTML and PDF files.
``sources.yaml`` lists the real public documents behind the facts. The evaluation questions
that refer to these documents are in tests/eval/questions.yaml.

The PDFs are generated, never edited by hand: their text and metadata live in ``_src/*.yaml``
(one file per PDF; ingest skips folders whose name starts with ``_``). This script renders each
source with fpdf2 in a core font (Helvetica, latin-1 only), with a filing-like header block,
numbered items, and "Page N of M" in every footer, and writes the PDF and its sidecar. Builds
are reproducible: the creation date is the document's published date, so re-running the script
yields byte-identical files.

Run from the repository root:

    .venv/bin/python corpus/build.py               # writes corpus/<name>.pdf and sidecars
    .venv/bin/python corpus/build.py --out /tmp/x  # writes them somewhere else
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml
from fpdf import FPDF
from fpdf.enums import XPos, YPos

CORPUS_DIR = Path(__file__).resolve().parent
SRC_DIR = CORPUS_DIR / "_src"
AUTHOR = "policyqa starter corpus"
META_KEYS = ("title", "doc_type", "published", "publisher", "sources")

# Characters outside latin-1 that may appear in source text, with their ASCII stand-ins.
_ASCII_MAP = {
    "\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"',
    "\u2013": "-", "\u2014": "-", "\u2212": "-", "\u2026": "...", "\u00a0": " ",
}


def to_latin1(text: str) -> str:
    """Replace typographic punctuation with ASCII; fail on anything else outside latin-1."""
    out = "".join(_ASCII_MAP.get(ch, ch) for ch in text)
    try:
        out.encode("latin-1")
    except UnicodeEncodeError as exc:
        raise ValueError(f"text not representable in latin-1: {out[exc.start:exc.end]!r}") from exc
    return out


def load_specs(src_dir: Path = SRC_DIR) -> list[dict[str, Any]]:
    """Read every ``_src/*.yaml`` PDF source, sorted by file name."""
    specs = []
    for path in sorted(src_dir.glob("*.yaml")):
        spec = yaml.safe_load(path.read_text(encoding="utf-8"))
        missing = [k for k in (*META_KEYS, "file", "pages", "header", "blocks") if k not in spec]
        if missing:
            raise ValueError(f"{path}: missing keys {missing}")
        specs.append(spec)
    return specs


def published_date(spec: dict[str, Any]) -> dt.datetime:
    day = dt.date.fromisoformat(str(spec["published"]))
    return dt.datetime(day.year, day.month, day.day, 12, 0, 0, tzinfo=dt.timezone.utc)


class FilingPDF(FPDF):
    """A letter-size page with a running header and a "Page N of M" footer."""

    def __init__(self, running_header: str) -> None:
        super().__init__(orientation="P", unit="mm", format="Letter")
        self.running_header = to_latin1(running_header)
        self.set_margins(22, 20, 22)
        self.set_auto_page_break(auto=True, margin=22)

    def header(self) -> None:
        self.set_font("Helvetica", "", 8)
        self.set_text_color(90, 90, 90)
        self.cell(0, 5, self.running_header, align="L", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.set_draw_color(150, 150, 150)
        self.line(self.l_margin, self.get_y(), self.w - self.r_margin, self.get_y())
        self.ln(4)
        self.set_text_color(0, 0, 0)

    def footer(self) -> None:
        self.set_y(-15)
        self.set_font("Helvetica", "", 8)
        self.set_text_color(90, 90, 90)
        self.cell(0, 5, "Summary prepared for the policyqa starter corpus - not an official filing",
                  align="L")
        self.set_x(self.l_margin)
        self.cell(0, 5, f"Page {self.page_no()} of {{nb}}", align="R")
        self.set_text_color(0, 0, 0)


def _header_block(pdf: FilingPDF, spec: dict[str, Any]) -> None:
    header = spec["header"]
    pdf.set_font("Helvetica", "B", 14)
    pdf.multi_cell(0, 7, to_latin1(header["form"]), align="C", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(1)
    pdf.set_font("Helvetica", "B", 11)
    pdf.multi_cell(0, 6, to_latin1(spec["title"]), align="C", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(3)
    top = pdf.get_y()
    label_w = 42
    for label, value in header["fields"]:
        pdf.set_font("Helvetica", "B", 10)
        pdf.cell(label_w, 6, to_latin1(f"{label}:"))
        pdf.set_font("Helvetica", "", 10)
        pdf.multi_cell(0, 6, to_latin1(str(value)), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_draw_color(0, 0, 0)
    pdf.rect(pdf.l_margin - 2, top - 2, pdf.epw + 4, pdf.get_y() - top + 4)
    pdf.ln(6)
    pdf.set_font("Helvetica", "I", 9)
    pdf.multi_cell(0, 4.6, to_latin1(" ".join(spec["notice"].split())),
                   new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(4)


def _table(pdf: FilingPDF, rows: list[list[str]]) -> None:
    pdf.set_font("Helvetica", "", 9.5)
    with pdf.table(col_widths=(30, 70), text_align="LEFT", line_height=5.4,
                   first_row_as_headings=True) as table:
        for row in rows:
            cells = table.row()
            for value in row:
                cells.cell(to_latin1(str(value)))
    pdf.ln(4)


def render(spec: dict[str, Any]) -> FilingPDF:
    """Lay out one PDF source; returns the finished (unsaved) document."""
    pdf = FilingPDF(spec.get("running_header", spec["title"]))
    pdf.set_title(to_latin1(spec["title"]))
    pdf.set_author(AUTHOR)
    pdf.set_creator("corpus/build.py (fpdf2)")
    pdf.set_subject(to_latin1(spec["header"]["fields"][1][1]))
    pdf.set_creation_date(published_date(spec))
    pdf.add_page()
    _header_block(pdf, spec)
    for block in spec["blocks"]:
        if block.get("page_break"):
            pdf.add_page()
        elif "heading" in block:
            pdf.ln(1)
            pdf.set_font("Helvetica", "B", 11)
            pdf.multi_cell(0, 6, to_latin1(block["heading"]), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
            pdf.ln(1)
        elif "subheading" in block:
            pdf.set_font("Helvetica", "BI", 10)
            pdf.multi_cell(0, 5.5, to_latin1(block["subheading"]),
                           new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        elif "text" in block:
            pdf.set_font("Helvetica", "", 10)
            pdf.multi_cell(0, 5.2, to_latin1(" ".join(block["text"].split())),
                           new_x=XPos.LMARGIN, new_y=YPos.NEXT)
            pdf.ln(2.5)
        elif "bullets" in block:
            pdf.set_font("Helvetica", "", 10)
            for item in block["bullets"]:
                pdf.set_x(pdf.l_margin + 4)
                pdf.cell(5, 5.2, "-")
                pdf.multi_cell(0, 5.2, to_latin1(" ".join(item.split())),
                               new_x=XPos.LMARGIN, new_y=YPos.NEXT)
            pdf.ln(2.5)
        elif "table" in block:
            _table(pdf, block["table"])
        else:
            raise ValueError(f"{spec['file']}: unknown block {block!r}")
    return pdf


def sidecar_text(spec: dict[str, Any]) -> str:
    meta = {key: spec[key] for key in META_KEYS}
    meta["published"] = str(meta["published"])
    return yaml.safe_dump(meta, sort_keys=False, allow_unicode=True, width=1000)


def build(spec: dict[str, Any], out_dir: Path) -> Path:
    """Write ``<out_dir>/<file>`` and its ``.meta.yaml`` sidecar; check the page count."""
    pdf = render(spec)
    if pdf.pages_count != spec["pages"]:
        raise ValueError(f"{spec['file']}: laid out on {pdf.pages_count} pages, "
                         f"source says {spec['pages']}; shorten the text or move a page_break")
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / spec["file"]
    target.write_bytes(bytes(pdf.output()))
    (out_dir / f"{spec['file']}.meta.yaml").write_text(sidecar_text(spec), encoding="utf-8")
    return target


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Build the starter-corpus PDFs from corpus/_src.")
    parser.add_argument("--out", type=Path, default=CORPUS_DIR,
                        help="output folder (default: the corpus folder)")
    parser.add_argument("--src", type=Path, default=SRC_DIR, help="folder of PDF sources")
    args = parser.parse_args(argv)
    try:
        for spec in load_specs(args.src):
            path = build(spec, args.out)
            print(f"wrote {path} ({spec['pages']} pages)")
    except (OSError, ValueError, yaml.YAMLError) as exc:
        print(f"build.py: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
