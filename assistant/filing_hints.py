"""Query-side hints for periodic filings: the companies, tickers and quarters a question names, matched to documents.

Everything comes from the stored document titles that ingest builds from cover pages ("Apple Inc. (AAPL) Form 10-Q
for the quarterly period ended July 1, 2023 (Q3 2023)"), so any set of filings works without configuration.
A quarter is matched two ways: as the filing names itself (Apple's fiscal "Q3 2023"; "Q3 fiscal 2024" only when the
question says fiscal or FY), and as the calendar quarter holding most of the period (NVIDIA's quarter ended
October 29, 2023 is calendar Q3 2023). "Latest" or "most recent" picks each named company's newest filing.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from dataclasses import dataclass

from ingest.filings import FilingTitle, parse_filing_title
from policyqa.types import DocumentRecord

_LEGAL_SUFFIXES = frozenset(
    """inc inc. incorporated corp corp. corporation co co. company ltd ltd. limited llc plc holdings group sa
    s.a. ag nv n.v. lp l.p. the and subsidiaries""".split()
)
_QUARTER_WORDS = {"first": 1, "second": 2, "third": 3, "fourth": 4, "1st": 1, "2nd": 2, "3rd": 3, "4th": 4}
_YEAR = r"((?:19|20)\d\d)"
_FISCAL = r"(fiscal\s+(?:year\s+)?|FY\s*)?"
_PERIODS = (
    re.compile(rf"\bQ([1-4])\s*,?\s*{_FISCAL}'?{_YEAR}\b", re.I),  # Q3 2023, Q3 FY2024, Q3 fiscal 2024
    re.compile(rf"\b{_FISCAL}{_YEAR}\s+Q([1-4])\b", re.I),  # 2023 Q3, FY2024 Q3
    re.compile(
        rf"\b(first|second|third|fourth|1st|2nd|3rd|4th)\s+quarter\s+(?:of\s+)?(?:the\s+)?{_FISCAL}{_YEAR}\b", re.I
    ),
)
_LATEST = re.compile(r"\b(latest|most\s+recent|newest|last|current)\b", re.I)
_STATED = 2.0  # weight of a quarter named the way the filing names itself
_CALENDAR = 1.0  # weight of the calendar quarter holding most of the period


@dataclass(frozen=True, slots=True)
class _Filing:
    doc_id: str
    title: FilingTitle
    names: tuple[str, ...]  # lower-case forms of the company name a question may use


@dataclass(frozen=True, slots=True)
class Hint:
    """The filings a question points at (to rank higher), the filings of companies it does not name (to rank
    lower: "Apple's gross margin" is seldom answered by NVIDIA's 10-Q), and why."""

    doc_ids: tuple[str, ...]
    reason: str
    exclude: tuple[str, ...] = ()


class FilingHints:
    """Matches questions to the filings in a store; build once per set of documents."""

    def __init__(self, records: Iterable[DocumentRecord]) -> None:
        self.filings: list[_Filing] = []
        for record in records:
            title = parse_filing_title(record.meta.title)
            if title is not None:
                self.filings.append(_Filing(record.meta.doc_id, title, company_names(title.company)))

    def match(self, question: str) -> Hint | None:
        """The filings ``question`` names by company and period; None when it names neither."""
        if not self.filings:
            return None
        named = [f for f in self.filings if _names_company(question, f)]
        periods = list(question_periods(question))
        latest = bool(_LATEST.search(question))
        if not named and not periods:
            return None
        pool = named or self.filings
        exclude = tuple(f.doc_id for f in self.filings if named and f not in named)
        if periods:
            scored = sorted(((max(_period_score(f, p) for p in periods), f) for f in pool), key=lambda x: -x[0])
            best = scored[0][0] if scored else 0.0
            if best > 0:
                chosen = [f for score, f in scored if score == best]
                return Hint(tuple(f.doc_id for f in chosen), "company and period" if named else "period", exclude)
        if not named:
            return None
        if latest:
            newest: dict[str, _Filing] = {}
            for f in named:
                key = f.title.company.lower()
                if key not in newest or f.title.period_end > newest[key].title.period_end:
                    newest[key] = f
            return Hint(tuple(f.doc_id for f in newest.values()), "latest filing", exclude)
        ordered = sorted(named, key=lambda f: f.title.period_end, reverse=True)
        return Hint(tuple(f.doc_id for f in ordered), "company", exclude)


def company_names(company: str) -> tuple[str, ...]:
    """ "AMAZON.COM, INC." -> ("amazon.com, inc.", "amazon.com", "amazon"); "Apple Inc." -> (..., "apple")."""
    full = " ".join(company.lower().split())
    words = [w.strip(",") for w in full.split()]
    while len(words) > 1 and words[-1] in _LEGAL_SUFFIXES:
        words.pop()
    if len(words) > 1 and words[0] == "the":
        words.pop(0)
    core = " ".join(words).strip(" ,")
    names = [full, core]
    if core.endswith(".com"):
        names.append(core.removesuffix(".com"))
    return tuple(dict.fromkeys(n for n in names if len(n) >= 3))


def _names_company(question: str, filing: _Filing) -> bool:
    ticker = filing.title.ticker
    # Short tickers ("IT", "ON", "A") are ordinary words in capitals; they count only as "$IT".
    if ticker and re.search(rf"(?:\$|\b){re.escape(ticker)}\b" if len(ticker) >= 3 else rf"\${ticker}\b", question):
        return True
    for name in filing.names:
        # A proper noun as typed ("Apple", "NVIDIA", "Nvidia"), so the fruit or a verb does not count.
        for match in re.finditer(rf"\b{re.escape(name)}(?![\w-])", question, re.I):
            if match.group(0)[0].isupper():
                return True
    return False


@dataclass(frozen=True, slots=True)
class _Period:
    quarter: int
    year: int
    fiscal: bool


def question_periods(question: str) -> Iterable[_Period]:
    for pattern in _PERIODS:
        for match in pattern.finditer(question):
            groups = match.groups()
            if pattern is _PERIODS[0]:
                quarter, fiscal, year = int(groups[0]), groups[1], int(groups[2])
            elif pattern is _PERIODS[1]:
                fiscal, year, quarter = groups[0], int(groups[1]), int(groups[2])
            else:
                quarter, fiscal, year = _QUARTER_WORDS[groups[0].lower()], groups[1], int(groups[2])
            yield _Period(quarter, year, bool(fiscal))


def calendar_quarter(period_end: dt.date) -> tuple[int, int]:
    """The calendar quarter holding most of the three months that end on ``period_end``."""
    middle = period_end - dt.timedelta(days=45)
    return (middle.month - 1) // 3 + 1, middle.year


def _period_score(filing: _Filing, period: _Period) -> float:
    title = filing.title
    stated = title.quarter is not None and (title.quarter, title.label_year) == (period.quarter, period.year)
    if stated and (title.fiscal_label == period.fiscal or not title.fiscal_label):
        return _STATED
    if not period.fiscal and calendar_quarter(title.period_end) == (period.quarter, period.year):
        return _CALENDAR
    return 0.0
