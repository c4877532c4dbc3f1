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
# "at least every 3 years", "annually", "twice a year": how often something happens.
FREQUENCY = re.compile(
    rf"\b(?:every|each)\s+(?:(?:\d[\d,.]*|{_NUM_WORD}|other)\s+)?{_TIME_UNIT}|"
    rf"\b(?:annually|yearly|quarterly|monthly|weekly|daily|biennially|triennially)\b|"
    rf"\b(?:once|twice)\s+(?:a|per|every)\s+{_TIME_UNIT}",
    re.I,
)


def _either(*patterns: re.Pattern[str]) -> re.Pattern[str]:
    """One pattern matching any of ``patterns``, each keeping its own case rule (DATE wants capitalised months)."""
    return re.compile("|".join(f"(?i:{p.pattern})" if p.flags & re.I else f"(?:{p.pattern})" for p in patterns))


# "by when": a deadline, as a date or as a time allowed ("within 180 days").
DEADLINE = _either(DATE, DURATION)
# "how much of the route": a part of something, as a quantity, a share or an amount.
PORTION = _either(QUANTITY, PERCENT, AMOUNT)

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


# -- names of organisations and places (issue 14: the deal tracker reads companies from the text) ---------------------
# Language knowledge only: how English writes a company's name, never the name of any particular company.

US_STATES: tuple[str, ...] = (
    "Alabama", "Alaska", "Arizona", "Arkansas", "California", "Colorado", "Connecticut", "Delaware", "Florida",
    "Georgia", "Hawaii", "Idaho", "Illinois", "Indiana", "Iowa", "Kansas", "Kentucky", "Louisiana", "Maine",
    "Maryland", "Massachusetts", "Michigan", "Minnesota", "Mississippi", "Missouri", "Montana", "Nebraska", "Nevada",
    "New Hampshire", "New Jersey", "New Mexico", "New York", "North Carolina", "North Dakota", "Ohio", "Oklahoma",
    "Oregon", "Pennsylvania", "Rhode Island", "South Carolina", "South Dakota", "Tennessee", "Texas", "Utah",
    "Vermont", "Virginia", "Washington", "West Virginia", "Wisconsin", "Wyoming",
)
US_STATE = re.compile(r"\b(?:" + "|".join(sorted(US_STATES, key=len, reverse=True)) + r")\b")
# One word of a proper name: "Sila", "BlueOval", "5E", "South32", "LG" (no possessive: "Lattice's" gives "Lattice").
NAME_WORD = r"(?:[A-Z][A-Za-z0-9&]*(?:-[A-Za-z0-9]+)*|\d+[A-Z][A-Za-z0-9]*)"
PROPER_NAME = rf"{NAME_WORD}(?: {NAME_WORD}){{0,5}}"
# "Inc.", "Corporation", "LLC": a name ending in one is a company's.
LEGAL_SUFFIX = re.compile(
    r"(?:Inc\.|Incorporated|Corp\.|Corporation|Co\.|Company|Ltd\.|Limited|LLC|L\.L\.C\.|plc|PLC|L\.P\.|N\.V\.|S\.A\."
    r"|GmbH|AG)(?![\w-])"
)
# What a sentence calls a company in apposition: "Niron Magnetics, a Minnesota company", "X, a California-based
# manufacturer", "Nyrstar, a ... subsidiary".
COMPANY_NOUNS = (
    "company", "companies", "corporation", "manufacturer", "producer", "developer", "miner", "firm", "subsidiary",
    "startup", "start-up", "refiner", "maker", "supplier", "smelter", "processor", "recycler", "operator",
)
# Stock exchanges that precede a ticker: "Northwind Minerals (NYSE: NWM)".
EXCHANGES = ("NYSE American", "NYSE", "Nasdaq", "NASDAQ", "TSX-V", "TSXV", "TSX", "ASX", "LSE", "AIM", "OTCQX", "OTC")
# The last word of a name that is not a company's: laws, offices, programmes, places, facilities.
NOT_COMPANY_HEADS = frozenset((
    "Act", "Acts", "Law", "Code", "Order", "Program", "Programs", "Programme", "Initiative", "Office", "Department",
    "Agency", "Council", "Bureau", "Administration", "Project", "Projects", "Mine", "Mines", "Hub", "District",
    "Road", "Highway", "University", "School", "Schools", "Fund", "Funds", "Facility", "Government", "States",
    "Congress", "Secretary", "President", "House", "Senate", "Service", "Corps", "Institute", "Center", "Centre",
    "Committee", "Commission", "Board", "Authority", "Treasury", "Deposit", "Site", "Plant", "County", "City",
    "Agreement", "Framework", "Determination", "Proclamation", "Memorandum", "Report", "Strategy", "List",
    "Section", "Title", "Ministerial", "Summit", "Roundtable", "Elements", "Deal", "Deals", "Transaction",
))
# Words that open a sentence or a heading without being part of a name ("The", "In", "Today").
NOT_NAME_WORDS = frozenset((
    "The", "A", "An", "This", "That", "These", "Those", "Its", "Their", "Our", "In", "On", "At", "By", "For", "From",
    "To", "With", "Of", "And", "Or", "But", "As", "If", "Under", "Since", "After", "Before", "During", "Today",
    "Yesterday", "Tomorrow", "Two", "Three", "Four", "Five", "Both", "Each", "Every", "Some", "Many", "Most",
    "Additionally", "Also", "Further", "However", "Key", "New", "Mr", "Ms", "Dr", "Upon", "Through", "Using",
))
# Generic words that begin many names and so never stand alone for one ("Global" is not "Global Advanced Materials").
GENERIC_NAME_WORDS = frozenset((
    "American", "America", "National", "Federal", "United", "General", "Global", "International", "Strategic",
    "Advanced", "Critical", "Energy", "Rare", "New", "North", "South", "East", "West", "Northern", "Southern",
    "Eastern", "Western", "First", "Great", "Royal", "Pacific", "Atlantic", "Central", "Domestic", "Korea", "China",
    "Japan", "Canada", "Australia",
))
# The national government as a party: "the U.S. government", "the federal government".
# Not "U.S. government securities": a kind of bond, not a party.
GOVERNMENT = re.compile(
    r"(?:(?:U\.S\.|United\s+States|[Ff]ederal)\s+[Gg]overnment|(?<=the\s)government\b)"
    r"(?!\s+(?:and\s+agency\s+)?(?:securities|bonds|debt|obligations|treasur|agency\s+securities|sponsored))"
)
