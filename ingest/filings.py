"""What makes a periodic filing findable: issuer, form and period from its cover page, and its Item/Note headings.

A 10-Q or 10-K converted to PDF carries no useful metadata (EDGAR's /Title is the accession number), but its
cover page states the company, the form and the period in fixed phrases. The title built from them ("Apple Inc.
(AAPL) Form 10-Q for the quarterly period ended July 1, 2023 (Q3 2023)") is the document's citation title and
the head of every chunk's contextual header; :func:`parse_filing_title` reads it back for query-side hints.
"""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

_COVER_CHARS = 6000
_FORM = re.compile(r"\bFORM\s+(10-Q|10-K|20-F|40-F|8-K|6-K)(/A)?\b", re.I)
_DATE_WORDS = r"([A-Z][a-z]{2,8}\.?\s+\d{1,2},\s+(?:19|20)\d\d)"
_PERIOD = re.compile(
    r"for\s+the\s+(quarterly\s+period|fiscal\s+year|quarter|year|period|transition\s+period)\s+ended\s+" + _DATE_WORDS,
    re.I,
)
_REGISTRANT = re.compile(r"\(\s*exact\s+name\s+of\s+registrant", re.I)
_TICKER = re.compile(
    r"(?:per\s+share|common\s+stock|ordinary\s+shares?)[^\n]{0,80}?\s([A-Z]{1,5}(?:\.[A-Z])?)\s+(?:The\s+)?"
    r"(?:Nasdaq|New\s+York\s+Stock\s+Exchange|NYSE)",
)
_QUARTERS = {"first": 1, "second": 2, "third": 3, "fourth": 4}
_Q_SHORT = re.compile(r"\bQ([1-4])\s+(fiscal\s+(?:year\s+)?|FY\s*)?((?:19|20)\d\d)\b", re.I)
_Q_LONG = re.compile(r"\b(first|second|third|fourth)\s+quarter\s+of\s+(fiscal\s+(?:year\s+)?)?((?:19|20)\d\d)\b", re.I)
_LABEL_MIN_MENTIONS = 3
_TITLE = re.compile(
    r"^(?P<company>.+?)(?:\s+\((?P<ticker>[A-Z]{1,5}(?:\.[A-Z])?)\))?"
    r"\s+Form\s+(?P<form>[0-9A-Z]+-[0-9A-Z]+(?:/A)?)\s+for\s+the\s+"
    r"(?:quarterly\s+period|fiscal\s+year|quarter|year|period|transition\s+period)\s+ended\s+"
    r"(?P<date>[A-Z][a-z]+\s+\d{1,2},\s+\d{4})"
    r"(?:\s+\((?P<label>[^)]*)\))?\s*$"
)
_LABEL = re.compile(r"^Q(?P<q>[1-4])\s+(?P<fiscal>fiscal\s+)?(?P<year>\d{4})$")

# Headings of SEC filings: PART I/II, Item 1A., Note 5 — ..., and the titles of the financial statements.
_PART = re.compile(r"^PART\s+(?:I{1,3}|IV)\b[ .:—–-]*.{0,80}$", re.I)
_ITEM = re.compile(r"^ITEM\s+\d{1,2}[A-C]?\s*[.:]\s*\S.{0,150}$", re.I)
_NOTE = re.compile(r"^NOTE\s+\d{1,2}\s*[.:—–-]+\s*\S.{0,100}$", re.I)
_STATEMENT = re.compile(
    r"^(?:CONDENSED\s+)?CONSOLIDATED\s+(?:STATEMENTS?\s+OF\s+[A-Z’'(), ]+|BALANCE\s+SHEETS?)"
    r"(?:\s*\((?:unaudited)\))?$",
    re.I,
)
_TOC_MIN_ITEMS = 4


@dataclass(frozen=True, slots=True)
class Cover:
    """What a filing's cover page states."""

    company: str
    form: str
    period_phrase: str  # "quarterly period", "fiscal year"
    period_end: dt.date
    ticker: str | None = None


@dataclass(frozen=True, slots=True)
class FilingTitle:
    """A title built by :func:`filing_title`, read back."""

    company: str
    form: str
    period_end: dt.date
    ticker: str | None = None
    quarter: int | None = None  # the quarter the filing names itself by ("Q3 2023" or "Q3 fiscal 2024")
    label_year: int | None = None
    fiscal_label: bool = False


def detect_cover(text: str) -> Cover | None:
    """The issuer, form and period end from the first page(s) of a filing, or None when it is not one."""
    head = text[:_COVER_CHARS]
    form = _FORM.search(head)
    period = _PERIOD.search(head)
    registrant = _REGISTRANT.search(head)
    if not (form and period and registrant):
        return None
    end = _parse_date(period.group(2))
    company = _company_before(head, registrant.start())
    if end is None or not company:
        return None
    ticker = _TICKER.search(head[registrant.end() :])
    return Cover(
        company=company,
        form=form.group(1).upper() + (form.group(2) or "").upper(),
        period_phrase=" ".join(period.group(1).lower().split()),
        period_end=end,
        ticker=ticker.group(1) if ticker else None,
    )


def _parse_date(text: str) -> dt.date | None:
    cleaned = " ".join(text.replace(".", "").split())
    for fmt in ("%B %d, %Y", "%b %d, %Y"):
        try:
            return dt.datetime.strptime(cleaned, fmt).date()
        except ValueError:
            continue
    return None


def _company_before(text: str, stop: int) -> str:
    """The registrant's name: the last line with letters before "(Exact name of registrant ...)"."""
    for line in reversed(text[:stop].splitlines()):
        name = " ".join(line.split()).strip(" _-—")
        if re.search(r"[A-Za-z]{2}", name) and not re.search(r"commission\s+file|file\s+n", name, re.I):
            return name
    return ""


def period_label(text: str, period_end: dt.date) -> tuple[int, int, bool] | None:
    """How the filing names its own quarter: (quarter, year, fiscal?) by the most frequent mention.

    Only years the period can belong to count (the period end's year, or the next one for fiscal years that
    end later in the calendar); comparisons with last year's quarter are mentioned less often than the quarter
    itself. None when no label is mentioned often enough to trust.
    """
    counts: Counter[tuple[int, int, bool]] = Counter()
    for match in _Q_SHORT.finditer(text):
        counts[(int(match.group(1)), int(match.group(3)), bool(match.group(2)))] += 1
    for match in _Q_LONG.finditer(text):
        counts[(_QUARTERS[match.group(1).lower()], int(match.group(3)), bool(match.group(2)))] += 1
    plausible = [(key, n) for key, n in counts.most_common() if key[1] in (period_end.year, period_end.year + 1)]
    if not plausible or plausible[0][1] < _LABEL_MIN_MENTIONS:
        return None
    return plausible[0][0]


def filing_title(cover: Cover, label: tuple[int, int, bool] | None = None) -> str:
    """ "Apple Inc. (AAPL) Form 10-Q for the quarterly period ended July 1, 2023 (Q3 2023)"."""
    ticker = f" ({cover.ticker})" if cover.ticker else ""
    date = f"{cover.period_end:%B} {cover.period_end.day}, {cover.period_end.year}"
    title = f"{cover.company}{ticker} Form {cover.form} for the {cover.period_phrase} ended {date}"
    if label is not None and cover.form.startswith("10-Q"):
        quarter, year, fiscal = label
        title += f" (Q{quarter} {'fiscal ' if fiscal else ''}{year})"
    return title


def parse_filing_title(title: str) -> FilingTitle | None:
    """Read back a title made by :func:`filing_title` (or written the same way in a sidecar)."""
    match = _TITLE.match(" ".join(title.split()))
    if not match:
        return None
    end = _parse_date(match.group("date"))
    if end is None:
        return None
    label = _LABEL.match(match.group("label") or "")
    return FilingTitle(
        company=match.group("company").strip(" ,"),
        form=match.group("form"),
        period_end=end,
        ticker=match.group("ticker"),
        quarter=int(label.group("q")) if label else None,
        label_year=int(label.group("year")) if label else None,
        fiscal_label=bool(label and label.group("fiscal")),
    )


def context_header(title: str, headings: Sequence[str]) -> str | None:
    """The short contextual header of a filing's chunk, or None when ``title`` is not a filing title.

    "Apple Inc. (AAPL) 10-Q Q3 2023, quarter ended July 1, 2023 > Note 5 – Income Taxes": the issuer and period
    every chunk needs to be told apart from the same passage in another filing, and only the innermost heading,
    in about half the tokens of the full title and heading path.
    """
    filing = parse_filing_title(title)
    if filing is None:
        return None
    ticker = f" ({filing.ticker})" if filing.ticker else ""
    label = ""
    if filing.quarter is not None:
        label = f" Q{filing.quarter} {'fiscal ' if filing.fiscal_label else ''}{filing.label_year}"
    end = filing.period_end
    kind = "quarter" if filing.form.startswith("10-Q") else "period"
    head = f"{filing.company}{ticker} {filing.form}{label}, {kind} ended {end:%B} {end.day}, {end.year}"
    return f"{head} > {headings[-1]}" if headings else head


# -- headings -----------------------------------------------------------------------------------------


def heading_level(line: str) -> int | None:
    """0 for PART, 1 for Item, 2 for a Note or a financial statement's title; None for other lines."""
    text = " ".join(line.split())
    if len(text) < 6 or len(text) > 160:
        return None
    if _ITEM.match(text):
        return None if _looks_like_toc(text) else 1
    if _PART.match(text):
        return 0
    if _NOTE.match(text) or _STATEMENT.match(text):
        return 2
    return None


def _looks_like_toc(text: str) -> bool:
    """ "Item 1A. Risk Factors 27": a heading followed by a page number, as a table of contents lists it."""
    return bool(re.search(r"[A-Za-z)]\s+\d{1,3}$", text))


def find_headings(text: str) -> list[tuple[int, int, str]]:
    """(offset, level, heading) of every heading line in ``text``; none at all on a table-of-contents page."""
    found: list[tuple[int, int, str]] = []
    items = 0
    offset = 0
    for line in text.splitlines(keepends=True):
        level = heading_level(line)
        if level is not None:
            found.append((offset + len(line) - len(line.lstrip()), level, " ".join(line.split())))
        elif _ITEM.match(" ".join(line.split())):
            items += 1
        offset += len(line)
    if items >= _TOC_MIN_ITEMS:
        return []
    return found


def apply_heading(path: tuple[str, ...], level: int, heading: str) -> tuple[str, ...]:
    """The heading path (Item, then Note or statement) after ``heading`` at ``level``.

    A PART closes everything and is not kept itself (its Items name the part well enough, in fewer tokens);
    an Item replaces the previous Item and closes its Note.
    """
    if level == 0:
        return ()
    kept = tuple(h for h in path if (heading_level(h) or 0) < level)
    return (*kept, heading)


def page_headings(pages: Sequence[str]) -> list[tuple[str, ...]]:
    """The heading path in force at the start of each page, carried over from the pages before it."""
    paths: list[tuple[str, ...]] = []
    path: tuple[str, ...] = ()
    for text in pages:
        paths.append(path)
        for _, level, heading in find_headings(text):
            path = apply_heading(path, level, heading)
    return paths
