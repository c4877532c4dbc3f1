"""Time words in a question ("in 2025", "since July", "latest", "before the Northgate Road decision") as filters."""

from __future__ import annotations

import calendar
import dataclasses
import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass

from policyqa.text import MONTH_NUMBER
from policyqa.types import Filters

_MONTHS = MONTH_NUMBER
_MONTH = "(" + "|".join(_MONTHS) + ")"
_IN_YEAR = re.compile(r"\b(?:in|during|throughout)\s+((?:19|20)\d{2})\b", re.I)
_IN_MONTH = re.compile(rf"\b(?:in|during)\s+{_MONTH}(?:\s+((?:19|20)\d{{2}}))?\b", re.I)
_SINCE = re.compile(rf"\b(?:since|after|from)\s+{_MONTH}?\b,?\s*((?:19|20)\d{{2}})?\b", re.I)
_BEFORE = re.compile(rf"\b(?:before|until|prior to)\s+{_MONTH}?\b,?\s*((?:19|20)\d{{2}})?\b", re.I)
_EVENT = re.compile(r"\b(before|after|since|prior to)\s+the\s+([\w' -]{3,60}?)(?:\s+(?:decision|announcement|deal|order|approval))?\s*[?.,]?$", re.I)
_LATEST = re.compile(r"\b(latest|most recent|newest|current(?:ly)?|now|as of today|up to date)\b", re.I)

EventDate = Callable[[str], "dt.date | None"]


@dataclass(frozen=True, slots=True)
class TimeFrame:
    """What the question's time words ask for: a date range on publication, and a preference for recency."""

    date_from: str | None = None
    date_to: str | None = None
    prefer_latest: bool = False
    phrase: str = ""  # the words that set it, for the UI ("since July 2025")
    event: str = ""  # "before the Northgate Road decision", when an event dated the question

    def strip_event(self, text: str) -> str:
        """``text`` without the event phrase, which dates the question rather than stating its subject."""
        if not self.event:
            return text
        stripped = re.sub(r"\s+", " ", re.sub(re.escape(self.event), " ", text, flags=re.I))
        return re.sub(r"\s+([?.,!])", r"\1", stripped).strip(" ,") or text

    @property
    def empty(self) -> bool:
        return not (self.date_from or self.date_to or self.prefer_latest)


def _month_bounds(year: int, month: int) -> tuple[dt.date, dt.date]:
    return dt.date(year, month, 1), dt.date(year, month, calendar.monthrange(year, month)[1])


def parse_timeframe(question: str, *, reference_year: int, event_date: EventDate | None = None) -> TimeFrame:
    """Read the time words of ``question``; a month without a year means ``reference_year``.

    ``event_date`` looks up when a named event happened ("the Northgate Road decision"), if given.
    """
    date_from: dt.date | None = None
    date_to: dt.date | None = None
    phrases: list[str] = []
    if m := _IN_MONTH.search(question):
        year = int(m.group(2) or reference_year)
        date_from, date_to = _month_bounds(year, _MONTHS[m.group(1).lower()])
        phrases.append(m.group(0))
    elif m := _IN_YEAR.search(question):
        year = int(m.group(1))
        date_from, date_to = dt.date(year, 1, 1), dt.date(year, 12, 31)
        phrases.append(m.group(0))
    for pattern, is_start in ((_SINCE, True), (_BEFORE, False)):
        m = pattern.search(question)
        if not m or not (m.group(1) or m.group(2)):
            continue
        year = int(m.group(2) or reference_year)
        month = _MONTHS[m.group(1).lower()] if m.group(1) else (1 if is_start else 12)
        first, last = _month_bounds(year, month)
        if is_start:
            date_from = first if m.group(0).lower().startswith("since") or not m.group(1) else last + dt.timedelta(days=1)
            if m.group(0).lower().startswith(("after", "from")) and not m.group(1):
                date_from = dt.date(year + (1 if m.group(0).lower().startswith("after") else 0), 1, 1)
        else:
            date_to = first - dt.timedelta(days=1)
        phrases.append(m.group(0))
    event = ""
    if event_date is not None and not (date_from or date_to) and (m := _EVENT.search(question)):
        when = event_date(m.group(2))
        if when is not None:
            if m.group(1).lower() in ("before", "prior to"):
                date_to = when - dt.timedelta(days=1)
            else:
                date_from = when if m.group(1).lower() == "since" else when + dt.timedelta(days=1)
            event = m.group(0).rstrip("?., ")
            phrases.append(event)
    latest_word = _LATEST.search(question)
    if latest_word:
        phrases.append(latest_word.group(0))
    return TimeFrame(
        date_from=date_from.isoformat() if date_from else None,
        date_to=date_to.isoformat() if date_to else None,
        prefer_latest=latest_word is not None,
        phrase=", ".join(phrases),
        event=event,
    )


def apply_timeframe(filters: Filters | None, frame: TimeFrame) -> Filters:
    """The user's filters narrowed by the question's time range (the intersection of both)."""
    base = filters or Filters()
    date_from = max(x for x in (base.date_from, frame.date_from) if x) if (base.date_from or frame.date_from) else None
    date_to = min(x for x in (base.date_to, frame.date_to) if x) if (base.date_to or frame.date_to) else None
    return dataclasses.replace(base, date_from=date_from, date_to=date_to)
