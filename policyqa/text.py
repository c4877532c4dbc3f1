"""Language knowledge, once: month names, dates, amounts, percentages, durations, quantities and numbers.

Ingest (dates a chunk states), the rewriter, the answerer (what a question asks for) and the deal tracker all read
text through these patterns; none of them writes its own.
"""

from __future__ import annotations

import calendar
import re

MONTH_NAMES: tuple[str, ...] = tuple(m for m in calendar.month_name if m)
MONTH_NUMBER: dict[str, int] = {m.lower(): i for i, m in enumerate(MONTH_NAMES, start=1)}
MONTHS = "|".join(MONTH_NAMES)  # for use inside a regular expression
NUMBER_WORDS: dict[str, int] = {
    w: i for i, w in enumerate(
        "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen "
        "seventeen eighteen nineteen twenty".split()
    )
}
_NUM_WORD = "|".join(NUMBER_WORDS)
_UNIT = r"(?:million|billion|trillion|thousand)"

AMOUNT = re.compile(
    rf"\$\s?\d[\d,.]*(?:\s*{_UNIT})?|\b\d[\d,.]*\s*{_UNIT}\b(?:\s+(?:dollars|yen|euros?))?", re.I
)
PERCENT = re.compile(r"\b\d+(?:\.\d+)?\s*(?:percent|per cent|%)", re.I)
DATE = re.compile(
    rf"\b(?:{MONTHS})\b(?:\s+\d{{1,2}},?)?\s*\d{{4}}|\b\d{{1,2}}\s+(?:{MONTHS})\s+\d{{4}}|\b(?:19|20)\d{{2}}\b"
)
NUMBER = re.compile(rf"\b\d[\d,.]*\b|\b(?:{_NUM_WORD})\b", re.I)
_TIME_UNIT = r"(?:years?|months?|weeks?|days?|hours?|decades?)"
# "10 years", "a 10-year price floor", "six months", "within 270 days", "2-year exemption".
DURATION = re.compile(rf"\b(?:\d[\d,.]*|{_NUM_WORD})[\s-]+{_TIME_UNIT}\b", re.I)
_MEASURE = r"(?:miles?|kilometers?|km|acres?|metric tons?|tons?|tonnes?|kilograms?|kg|pounds?|ounces?|barrels?)"
QUANTITY = re.compile(rf"\b(?:\d[\d,.]*|{_NUM_WORD})[\s-]+(?:{_MEASURE}|{_TIME_UNIT})\b", re.I)

_DATE_PATTERNS = (
    re.compile(rf"\b({MONTHS})\s+(\d{{1,2}}),?\s+(\d{{4}})\b", re.I),  # July 10, 2025
    re.compile(rf"\b(\d{{1,2}})\s+({MONTHS})\s+(\d{{4}})\b", re.I),  # 10 July 2025
    re.compile(rf"\b({MONTHS})\s+(\d{{4}})\b", re.I),  # July 2025
)


def dates_in(text: str) -> tuple[str, ...]:
    """ISO dates stated in the text; a month without a day counts as its first day."""
    found: dict[str, None] = {}
    taken: list[tuple[int, int]] = []
    for index, pattern in enumerate(_DATE_PATTERNS):
        for m in pattern.finditer(text):
            if any(s <= m.start() < e for s, e in taken):
                continue
            groups = m.groups()
            if index == 0:
                month, day, year = MONTH_NUMBER[groups[0].lower()], int(groups[1]), int(groups[2])
            elif index == 1:
                day, month, year = int(groups[0]), MONTH_NUMBER[groups[1].lower()], int(groups[2])
            else:
                month, day, year = MONTH_NUMBER[groups[0].lower()], 1, int(groups[1])
            if 1 <= day <= 31 and 1900 <= year <= 2100:
                found[f"{year:04d}-{month:02d}-{day:02d}"] = None
                taken.append((m.start(), m.end()))
    return tuple(sorted(found))
