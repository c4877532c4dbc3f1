"""Tags and dates a chunk carries: minerals and jurisdictions it mentions, dates its text states."""

from __future__ import annotations

import re

from policyqa.tags import JURISDICTIONS, MINERALS

_MONTHS = {m: i for i, m in enumerate(
    "january february march april may june july august september october november december".split(), start=1)}
_MONTH = "(" + "|".join(_MONTHS) + ")"
_TAG_WORDS = (*MINERALS.items(), *JURISDICTIONS.items())
_DATE_PATTERNS = (
    re.compile(rf"\b{_MONTH}\s+(\d{{1,2}}),?\s+(\d{{4}})\b", re.I),  # July 10, 2025
    re.compile(rf"\b(\d{{1,2}})\s+{_MONTH}\s+(\d{{4}})\b", re.I),  # 10 July 2025
    re.compile(rf"\b{_MONTH}\s+(\d{{4}})\b", re.I),  # July 2025
)


def tags_for(text: str) -> tuple[str, ...]:
    lowered = text.lower()
    return tuple(tag for tag, words in _TAG_WORDS if any(w in lowered for w in words))


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
                month, day, year = _MONTHS[groups[0].lower()], int(groups[1]), int(groups[2])
            elif index == 1:
                day, month, year = int(groups[0]), _MONTHS[groups[1].lower()], int(groups[2])
            else:
                month, day, year = _MONTHS[groups[0].lower()], 1, int(groups[1])
            if 1 <= day <= 31 and 1900 <= year <= 2100:
                found[f"{year:04d}-{month:02d}-{day:02d}"] = None
                taken.append((m.start(), m.end()))
    return tuple(sorted(found))
