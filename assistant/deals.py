"""Deal tracker: the government–industry deals stated in the corpus, one row per company and instrument, all cited.

Extraction is offline and rule-based. Each sentence is read for instrument cues ("preferred stock", "loan", "price
floor"...), values (amounts, percentages, terms), agencies, companies, dates, places and minerals; each value goes to
the nearest compatible cue. Facts about one company and instrument are then merged across documents: per field the
value from the latest-published document wins (a date stated in a sentence beats a document's publication date), and
the other passages stay as further sources.

A language model can read the passages instead (assistant/deals_llm.py): its facts, each checked against the sentence
it quotes, replace this reader's passage by passage and are merged by the same rules (:func:`merge_facts`).
"""

from __future__ import annotations

import csv
import io
import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from assistant.extractive import _AMOUNT, _DATE, _MINERAL, _PERCENT, _is_heading, evidence_units
from assistant.glossary import synonyms
from policyqa.types import StoredChunk, date_ord

if TYPE_CHECKING:
    from policyqa.store import CorpusStore

COLUMNS = (
    "company", "mineral", "instrument", "amount", "stake_percent", "agency", "date", "location",
    "counterparty", "term", "share",
)
INSTRUMENTS = (
    "equity stake", "warrant", "loan", "loan restructuring", "price floor", "offtake", "grant", "financing",
    "investment",
)
_VALUE_FIELDS = ("amount", "stake_percent", "share", "term")  # a row exists only if some passage gives one of these


@dataclass(frozen=True, slots=True)
class Provenance:
    """Where a cell's value was read: ``quote`` is exactly ``chunk.text[start:end]``."""

    chunk_id: str
    doc_id: str
    title: str
    page: int | None
    quote: str
    published: str | None
    start: int = 0
    end: int = 0
    value: str = ""  # the value as this passage states it (it may differ from the one shown)

    @property
    def reference(self) -> str:
        return f"[{self.title}, p. {self.page}]" if self.page is not None else f"[{self.title}]"


@dataclass(frozen=True, slots=True)
class Field:
    """A cell: the chosen value and its sources, the one it came from first."""

    value: str
    sources: tuple[Provenance, ...]

    @property
    def source(self) -> Provenance:
        return self.sources[0]


@dataclass(frozen=True, slots=True)
class Deal:
    """One company's deal of one kind; ``fields`` maps column names (see :data:`COLUMNS`) to cited cells.

    ``company`` and ``instrument`` are cells too, citing every passage that gave the row a value; a column the
    documents never state for this deal is absent from ``fields``.
    """

    company: str
    instrument: str
    fields: dict[str, Field]

    def value(self, name: str) -> str:
        cell = self.fields.get(name)
        return cell.value if cell else ""

    @property
    def source(self) -> Provenance:
        """The passage that best stands for the whole row: where its amount (or stake, share, term) was read."""
        for name in (*_VALUE_FIELDS, "company"):
            if name in self.fields:
                return self.fields[name].source
        return next(iter(self.fields.values())).source


# -- vocabulary -------------------------------------------------------------------------------------------------

_DOD, _DOE = "Department of Defense", "Department of Energy"
_US = "U.S. government"
_AGENCIES: tuple[tuple[str, str], ...] = (  # (canonical name, pattern); more specific names first
    (f"{_DOD} – Office of Strategic Capital", r"Office\s+of\s+Strategic\s+Capital|OSC"),
    (f"{_DOE} – Loan Programs Office", r"Loan\s+Programs\s+Office|LPO"),
    (_DOD, r"Department\s+of\s+(?:Defense|War)|(?:Defense|War)\s+Department|DoD|Pentagon"
           r"|Secretary\s+of\s+(?:Defense|War)"),
    (_DOE, r"Department\s+of\s+Energy|Energy\s+(?:Department|Secretary)|DOE|Secretary\s+of\s+Energy"),
    ("Department of the Interior", r"Department\s+of\s+the\s+Interior|Interior\s+Department|DOI"
                                   r"|Secretary\s+of\s+the\s+Interior"),
    ("Department of Commerce", r"Department\s+of\s+Commerce|Commerce\s+Department|Secretary\s+of\s+Commerce"),
    ("DFC", r"DFC|(?:International\s+)?Development\s+Finance\s+Corporation"),
    ("EXIM", r"EXIM|Export-Import\s+Bank"),
    ("", r"Department\s+of\s+(?:the\s+)?[A-Z][a-z]+"),  # any other department, named as written
    (_US, r"(?:U\.S\.|United\s+States|[Ff]ederal)\s+[Gg]overnment|(?<=the\s)government"),
)
_AGENCY = [(name, re.compile(rf"(?<![\w-])(?:{pattern})(?![\w-])")) for name, pattern in _AGENCIES]
_BARE_DEPARTMENT = re.compile(r"\b[Tt]he\s+Department\b(?!\s+of\b)")

# Companies known from the corpus; banks put up money rather than receive it.
_COMPANIES = (
    "MP Materials", "Lithium Americas", "Trilogy Metals", "Korea Zinc", "General Motors", "Nyrstar", "South32",
)
_FINANCIERS = ("JPMorgan Chase", "Goldman Sachs")
_ALIASES = {alias: name for name in (*_COMPANIES, *_FINANCIERS) for alias in synonyms(name) if alias != name}
_PROJECTS = {"Thacker Pass": "Lithium Americas", "Mountain Pass": "MP Materials", "10X Facility": "MP Materials",
             "Upper Kobuk": "Trilogy Metals"}
_KNOWN = "|".join(re.escape(n) for n in sorted({*_COMPANIES, *_FINANCIERS, *_ALIASES}, key=len, reverse=True))
_KNOWN_COMPANY = re.compile(rf"(?<![\w-])(?:{_KNOWN})(?![\w-])")
_NOT_A_NAME = frozenset((
    "The", "A", "An", "Of", "And", "For", "In", "On", "To", "With", "Critical", "Offshore", "Processed", "Rare",
    "Earth", "Energy", "National", "Federal", "United", "States", "American", "Strategic", "Hard", "Mineral", "Deep",
    "Seabed", "Development", "Finance", "International", "List", "Item", "Key", "Term",
))
_GENERIC_COMPANY = re.compile(
    r"\b(?:[A-Z][\w&'-]*\s+){1,3}(?:Inc\.|Corp\.|Corporation|Co\.|Ltd\.|LLC|plc|Materials|Metals|Minerals|Mining)(?![\w-])"
)
_JOINT_VENTURE = re.compile(rf"((?:{_KNOWN}))\s*[–—-]\s*((?:{_KNOWN}))\s+joint\s+venture")
_PROJECT = re.compile("|".join(re.escape(p) for p in _PROJECTS))

_CUES: tuple[tuple[str, str, bool], ...] = (  # (instrument, pattern, strong)
    ("loan restructuring", r"restructur(?:ing|ed|es|e)|loan\s+amendments?|amendments?\s+to\s+the\s+loan|amended\s+loan"
                           r"|revised\s+(?:agreement|terms)", True),
    ("warrant", r"warrants?", True),
    ("equity stake", r"(?:equity\s+)?stakes?|equity\s+(?:position|positions|ownership|investment|interest)"
                     r"|(?:convertible\s+)?preferred\s+stock|common\s+stock|shareholder|holding|shares", True),
    ("price floor", r"price\s+floor|minimum\s+price|floor\s+price", True),
    ("offtake", r"off-?take|purchase\s+commitment|commit(?:ted|s)?\s+to\s+(?:buy|purchase)"
                r"|buys?\s+(?:all|\d+\s+percent)\s+of", True),
    ("loan", r"loans?(?!\s+Programs)", True),
    ("grant", r"grants?", True),
    ("financing", r"financing|credit\s+facility", True),
    ("investment", r"invest(?:s|ed|ing|ment|ments)?(?!\s+advice)|joint\s+venture", False),
)
_CUE = [(name, re.compile(rf"(?<![\w-])(?:{pattern})(?![\w-])", re.I), strong) for name, pattern, strong in _CUES]
_AS_WARRANTS = re.compile(r"\b(?:in\s+the\s+form\s+of|as)\s+warrants\b", re.I)
_ACCEPTS = {  # which instruments a kind of value can describe
    "stake_percent": ("equity stake", "warrant", "investment", "offtake"),
    "term": ("price floor", "offtake", "loan", "financing", "grant"),
    "amount": INSTRUMENTS,
}

_QUALIFIER = re.compile(r"(?:about|approximately|roughly|around|nearly|almost|more\s+than|over|up\s+to|at\s+least|"
                        r"an\s+additional|a\s+further)\s+$", re.I)
_PER_UNIT = re.compile(r"\s+per\s+(?:metric\s+)?(?:kilogram|kg|ton|tonne|pound|lb|ounce|share)\b", re.I)
_NUMBERS = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9,
            "ten": 10, "fifteen": 15, "twenty": 20, "thirty": 30}
_TERM = re.compile(rf"\b(\d+|{'|'.join(_NUMBERS)})(?:-year\b|\s+years\b)", re.I)
_MONTHS = ("january", "february", "march", "april", "may", "june", "july", "august", "september", "october",
           "november", "december")
_STATES = (
    "Alabama", "Alaska", "Arizona", "Arkansas", "California", "Colorado", "Connecticut", "Delaware", "Florida",
    "Georgia", "Hawaii", "Idaho", "Illinois", "Indiana", "Iowa", "Kansas", "Kentucky", "Louisiana", "Maine",
    "Maryland", "Massachusetts", "Michigan", "Minnesota", "Mississippi", "Missouri", "Montana", "Nebraska", "Nevada",
    "New Hampshire", "New Jersey", "New Mexico", "New York", "North Carolina", "North Dakota", "Ohio", "Oklahoma",
    "Oregon", "Pennsylvania", "Rhode Island", "South Carolina", "South Dakota", "Tennessee", "Texas", "Utah",
    "Vermont", "Virginia", "Washington", "West Virginia", "Wisconsin", "Wyoming",
)
_PLACE = r"(?:[A-Z][a-z]+\s){0,2}[A-Z][a-z]+"
_STATE = "|".join(sorted(_STATES, key=len, reverse=True))
_LOCATION = re.compile(rf"(?:\b({_PLACE}),\s+)?\b({_STATE})\b(?:'s\s+({_PLACE}))?")
_MINERAL_NAMES = {"rare earth": "rare earths", "rare earths": "rare earths", "rare-earth": "rare earths",
                  "rare-earths": "rare earths", "neodymium": "NdPr", "praseodymium": "NdPr", "ndpr": "NdPr"}
_BACK_REFERENCE = re.compile(
    r"\W*(?:(?:The|This|That|These|Its)\s+(?:proceeds|money|funds|funding|agreement|deal|transaction|package|award)\b"
    r"|(?:It|They)\s)"
)
_POLICY = re.compile(r"\bExecutive\s+Order\s+\d+|\bEO\s+\d+")
_HEAD_DATE = re.compile(r"\s*(?:[-*+•]\s*)?(?:\*\*|__)?\s*(?=\S)")
_BULLET_BREAK = re.compile(r"\n[ \t]*(?=[-*+•]\s)|;")


# -- reading one sentence -------------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class _Hit:
    kind: str
    value: str
    start: int
    end: int
    strong: bool = True
    norm: str = ""


def _cues(text: str, lo: int, hi: int) -> list[_Hit]:
    hits = [
        _Hit("cue", name, m.start(), m.end(), strong) for name, pattern, strong in _CUE
        for m in pattern.finditer(text, lo, hi)
    ]
    hits.sort(key=lambda h: (h.start, -(h.end - h.start)))
    kept: list[_Hit] = []
    for h in hits:  # the longest cue wins where two overlap ("equity investment" over "investment")
        if kept and h.start < kept[-1].end:
            continue
        kept.append(h)
    restructurings = [h for h in kept if h.value == "loan restructuring"]
    # "a restructuring of the federal loan" speaks of one instrument, not two.
    kept = [h for h in kept if h.value != "loan" or all(_gap(h, r) >= 50 for r in restructurings)]
    if any(h.strong for h in kept):
        kept = [h for h in kept if h.strong]
    return kept


def _gap(a: _Hit, b: _Hit) -> int:
    return max(0, a.start - b.end, b.start - a.end)


def _agencies(text: str, lo: int, hi: int) -> list[_Hit]:
    hits: list[_Hit] = []
    for name, pattern in _AGENCY:
        for m in pattern.finditer(text, lo, hi):
            if not any(m.start() < h.end and h.start < m.end() for h in hits):
                hits.append(_Hit("agency", name or re.sub(r"\s+", " ", m.group(0)), m.start(), m.end()))
    return sorted(hits, key=lambda h: h.start)


def _companies(text: str, lo: int, hi: int, agencies: Sequence[_Hit]) -> list[_Hit]:
    hits = [
        _Hit("company", _ALIASES.get(m.group(0), m.group(0)), m.start(), m.end())
        for m in _KNOWN_COMPANY.finditer(text, lo, hi)
    ]
    for m in _GENERIC_COMPANY.finditer(text, lo, hi):
        start = m.start()
        words = m.group(0).split()
        while words and words[0] in _NOT_A_NAME:
            start += len(words[0]) + 1
            words.pop(0)
        if len(words) < 2 or any(start < h.end and h.start < m.end() for h in [*hits, *agencies]):
            continue
        hits.append(_Hit("company", re.sub(r"\s+", " ", text[start : m.end()]), start, m.end()))
    return sorted(hits, key=lambda h: h.start)


def _joint_ventures(text: str, lo: int, hi: int) -> list[_Hit]:
    return [
        _Hit("company", f"{m.group(1)}–{m.group(2)} joint venture", m.start(), m.end())
        for m in _JOINT_VENTURE.finditer(text, lo, hi)
    ]


def _values(text: str, lo: int, hi: int) -> list[_Hit]:
    hits: list[_Hit] = []
    for kind, pattern in (("amount", _AMOUNT), ("stake_percent", _PERCENT)):
        for m in pattern.finditer(text, lo, hi):
            start, end = m.start(), m.end()
            while end > start and text[end - 1] in ".,":
                end -= 1
            if kind == "amount" and (unit := _PER_UNIT.match(text, end, hi)):
                end = unit.end()
            if qualifier := _QUALIFIER.search(text, max(lo, start - 20), start):
                start = qualifier.start()
            display = re.sub(r"\s+", " ", text[start:end])
            display = re.sub(r"^(?:an additional|a further)\s+", "", display, flags=re.I)
            hits.append(_Hit(kind, display[0].lower() + display[1:], start, end, norm=_number_key(kind, display)))
    for m in _TERM.finditer(text, lo, hi):
        years = m.group(1).lower()
        n = int(years) if years.isdigit() else _NUMBERS[years]
        hits.append(_Hit("term", f"{n} years", m.start(), m.end(), norm=str(n)))
    return hits


def _number_key(kind: str, text: str) -> str:
    """What two statements of one value share: '$2.26 billion' and 'About $2.26 billion' give the same key."""
    number = re.search(r"\d[\d,]*(?:\.\d+)?", text)
    if number is None:
        return text.lower()
    value = float(number.group(0).replace(",", ""))
    lowered = text.lower()
    for word, factor in (("trillion", 1e12), ("billion", 1e9), ("million", 1e6)):
        if word in lowered:
            value *= factor
    unit = re.search(r"per\s+(?:metric\s+)?(\w+)", lowered)
    return f"{kind}:{value:g}{'/' + unit.group(1) if unit else ''}"


def _dates(text: str, lo: int, hi: int) -> list[_Hit]:
    hits = []
    for m in _DATE.finditer(text, lo, hi):
        iso = iso_date(m.group(0))
        if iso:
            hits.append(_Hit("date", iso, m.start(), m.end(), norm=iso))
    return hits


def iso_date(text: str) -> str:
    """'July 10, 2025' → '2025-07-10', 'October 2025' → '2025-10', '2025' → '2025' ('' when not a date)."""
    words = re.findall(r"[A-Za-z]+|\d+", text)
    month = next((_MONTHS.index(w.lower()) + 1 for w in words if w.lower() in _MONTHS), None)
    numbers = [int(w) for w in words if w.isdigit()]
    year = next((n for n in numbers if n >= 1900), None)
    day = next((n for n in numbers if n < 32), None)
    if year is None:
        return ""
    if month is None:
        return f"{year}"
    return f"{year}-{month:02d}-{day:02d}" if day else f"{year}-{month:02d}"


def _minerals(text: str, lo: int, hi: int, skip: Sequence[_Hit]) -> list[_Hit]:
    hits = []
    for m in _MINERAL.finditer(text, lo, hi):
        if any(m.start() < h.end and h.start < m.end() for h in skip):  # the "Zinc" of "Korea Zinc"
            continue
        word = m.group(0).lower()
        name = _MINERAL_NAMES.get(word, word)
        hits.append(_Hit("mineral", name, m.start(), m.end()))
    return hits


def _locations(text: str, lo: int, hi: int) -> list[_Hit]:
    hits = []
    for m in _LOCATION.finditer(text, lo, hi):
        words = (m.group(1) or m.group(3) or "").split()
        while words and words[0] in _NOT_A_NAME:  # "The Mountain Pass, California"
            words.pop(0)
        state = m.group(2)
        hits.append(_Hit("location", f"{' '.join(words)}, {state}" if words else state, m.start(), m.end(), norm=state))
    return hits


# -- reading a chunk ------------------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class _Fact:
    company: str
    instrument: str
    field: str
    value: str
    key: str  # what agreeing statements share
    rank: tuple[int, ...]  # higher wins
    source: Provenance


@dataclass(frozen=True, slots=True)
class _Unit:
    start: int
    end: int
    row: bool  # a line of a key-terms table: read alone


@dataclass(frozen=True, slots=True)
class _Anchor:
    company: str
    instrument: str
    start: int
    end: int

    def gap(self, hit: _Hit) -> int:
        return max(0, hit.start - self.end, self.start - hit.end)


class _ChunkReader:
    """Turns the sentences of one chunk into facts; ``seen`` skips sentences repeated by overlapping chunks."""

    def __init__(self, chunk: StoredChunk, title_company: str | None, seen: set[str]) -> None:
        self.chunk, self.text, self.title_company, self.seen = chunk, chunk.text, title_company, seen
        self.published = date_ord(chunk.published)
        self.units = _units(self.text)
        self.facts: list[_Fact] = []
        self.profile: list[_Fact] = []  # minerals named near a company, whatever the sentence is about
        self.previous_anchors: list[_Anchor] = []  # the deals the sentence before spoke of

    def read(self) -> _ChunkReader:
        for i, unit in enumerate(self.units):
            key = re.sub(r"\s+", " ", self.text[unit.start : unit.end])
            if key in self.seen:
                self.previous_anchors = []
                continue
            self.seen.add(key)
            anchors: list[_Anchor] = []
            if unit.row or not _is_heading(self.text[unit.start : unit.end]):
                anchors = self._read_unit(i, unit)
            self.previous_anchors = anchors
        return self

    def _read_unit(self, i: int, unit: _Unit) -> list[_Anchor]:
        """Record the facts of one sentence; returns the deals it speaks of."""
        text, lo, hi = self.text, unit.start, unit.end
        agencies = _agencies(text, lo, hi)
        companies = _companies(text, lo, hi, agencies)
        named = [c for c in companies if c.value not in _FINANCIERS]
        owner = named[0].value if named else self.title_company
        if owner:
            for m in _minerals(text, lo, hi, companies):
                rank = (0, int(bool(named)))  # sentences that name the company are cited before those that imply it
                self.profile.append(self._fact(owner, "", "mineral", m.value, m.value, rank, unit, m.start))
        if _POLICY.search(text, lo, hi):
            return []  # an executive order's direction, not a transaction
        lead = None if unit.row else self._lead_in(i)
        ventures = _joint_ventures(text, lo, hi)
        lead_cues = _cues(text, lead.start, lead.end) if lead else []
        cues = [c for c in _cues(text, lo, hi) if not any(v.start <= c.start < v.end for v in ventures)]
        if not any(c.strong for c in cues) and any(c.strong for c in lead_cues):
            cues = []  # "a further 5 percent in the joint venture" under "... both in the form of warrants:"
        if not cues and not lead_cues:
            if self.previous_anchors and _BACK_REFERENCE.match(text, lo, hi):
                # "The agreement was announced on August 18, 2025." speaks of the deals of the sentence before.
                carried = [_Anchor(a.company, a.instrument, lo, lo) for a in self.previous_anchors]
                self._shared(unit, None, carried, agencies, companies, valued=False)
                return carried
            return []
        if _AS_WARRANTS.search(text, lo, hi) or (lead and _AS_WARRANTS.search(text, lead.start, lead.end)):
            cues, lead_cues = ([_as_warrant(c) for c in group] for group in (cues, lead_cues))
        segments = _segments(text, lo, hi)

        def segment_of(at: int) -> tuple[int, int]:
            return next(((s, e) for s, e in segments if s <= at < e), (lo, hi))

        def company_at(at: int) -> str | None:
            s, e = segment_of(at)
            for group in ([v for v in ventures if s <= v.start < e], [c for c in named if s <= c.start < e], named):
                if group:
                    return group[0].value
            if project := _PROJECT.search(text, lo, hi):
                return _PROJECTS[project.group(0)]
            return self.title_company or self._carried(i) or (self._company_in(lead) if lead else None)

        anchors: dict[tuple[str, str], _Anchor] = {}
        before = len(self.facts)
        for cue in cues:
            if company := company_at(cue.start):
                anchors.setdefault((company, cue.value), _Anchor(company, cue.value, cue.start, cue.end))
        for v in _values(text, lo, hi):
            s, e = segment_of(v.start)
            accepts = _ACCEPTS[v.kind]
            pool = next((g for g in ([c for c in cues if s <= c.start < e], cues, lead_cues)
                         if any(c.value in accepts for c in g)), [])
            choices = [c for c in pool if c.value in accepts]
            company = company_at(v.start)
            if not choices or company is None:
                continue
            cue = min(choices, key=lambda c: _distance(v, c))
            field = "share" if v.kind == "stake_percent" and cue.value == "offtake" else v.kind
            anchors.setdefault((company, cue.value), _Anchor(company, cue.value, v.start, v.end))
            fact = self._fact(company, cue.value, field, v.value, v.norm, (2, self.published), unit, v.start)
            self.facts.append(fact)
        if not anchors:
            return []
        valued = len(self.facts) > before  # the sentence states an amount, a percentage or a term
        self._shared(unit, lead if valued else None, list(anchors.values()), agencies, companies, valued)
        return list(anchors.values())

    def _shared(
        self, unit: _Unit, lead: _Unit | None, anchors: list[_Anchor], agencies: list[_Hit], companies: list[_Hit],
        valued: bool,
    ) -> None:
        """Agency, date, counterparty (for every deal the sentence names); place and mineral (for the nearest)."""
        text, lo, hi = self.text, unit.start, unit.end
        specific = [a for a in agencies if a.value != _US]
        dates = _dates(text, lo, hi)
        head = self._head_date(unit)
        financiers = sorted({c.value for c in companies if c.value in _FINANCIERS}, key=_FINANCIERS.index)
        nearest: dict[int, list[_Hit]] = defaultdict(list)
        for hit in [*_locations(text, lo, hi), *_minerals(text, lo, hi, companies)]:
            nearest[min(range(len(anchors)), key=lambda k: anchors[k].gap(hit))].append(hit)
        for k, a in enumerate(anchors):
            def add(field: str, value: str, key: str, rank: tuple[int, ...], at: int, a: _Anchor = a) -> None:
                self.facts.append(self._fact(a.company, a.instrument, field, value, key, rank, unit, at))

            agency = min(specific or agencies, key=a.gap, default=None)
            if agency is not None:
                add("agency", agency.value, _agency_key(agency.value), (2, self.published), agency.start)
            elif valued and (resolved := self._agency_in_context(unit, lead)):
                add("agency", resolved, _agency_key(resolved), (1, self.published), lo)
            full = [d for d in dates if "-" in d.norm]
            if full:
                d = min(full, key=a.gap)
                add("date", d.value, d.norm, (3, d.norm.count("-"), self.published), d.start)
            elif head:
                add("date", head, head, (3, head.count("-"), self.published), lo)
            elif valued and (carried := self._date_before(unit)):
                add("date", carried, carried, (2, carried.count("-"), self.published), lo)
            elif self.chunk.published:
                add("date", self.chunk.published, self.chunk.published, (1, 2, self.published), lo)
            for d in dates:  # a bare year ("in 2025") is context, weaker than the publication date
                if "-" not in d.norm:
                    add("date", d.value, d.norm, (0, 0, self.published), d.start)
            if financiers and a.instrument in ("financing", "loan", "investment", "grant"):
                add("counterparty", ", ".join(financiers), ", ".join(financiers), (2, self.published), lo)
            for hit in nearest.get(k, []):
                add(hit.kind, hit.value, hit.norm or hit.value, (2, self.published), hit.start)

    # -- context ------------------------------------------------------------------------------------------

    def _lead_in(self, i: int) -> _Unit | None:
        """The sentence ending in ':' that introduces this list item ('... both in the form of warrants:')."""
        j = i - 1
        while j >= 0 and re.search(r"(?:;|,|;\s+and|\band)\s*$", self.text[self.units[j].start : self.units[j].end]):
            j -= 1
        if j >= 0 and j < i and self.text[self.units[j].start : self.units[j].end].rstrip("*_ ").endswith(":"):
            return self.units[j]
        return None

    def _block_start(self, at: int) -> int:
        starts = [m.end() for m in re.finditer(r"\n[ \t]*\n|\n(?=[ \t]*[-*+•]\s)", self.text[:at])]
        return starts[-1] if starts else 0

    def _carried(self, i: int) -> str | None:
        """The company named earlier in the paragraph or list item ('MP Materials announces... The Department...')."""
        block = self._block_start(self.units[i].start)
        for j in range(i - 1, -1, -1):
            if self.units[j].start < block:
                break
            if company := self._company_in(self.units[j]):
                return company
        return None

    def _company_in(self, unit: _Unit) -> str | None:
        named = [c for c in _companies(self.text, unit.start, unit.end, []) if c.value not in _FINANCIERS]
        if named:
            return named[0].value
        project = _PROJECT.search(self.text, unit.start, unit.end)
        return _PROJECTS[project.group(0)] if project else None

    def _previous(self, unit: _Unit) -> _Unit | None:
        """The sentence before this one in the same paragraph or list item (table rows stand alone)."""
        i = self.units.index(unit)
        if unit.row or i == 0 or self.units[i - 1].row or self.units[i - 1].start < self._block_start(unit.start):
            return None
        return self.units[i - 1]

    def _date_before(self, unit: _Unit) -> str | None:
        previous = self._previous(unit)
        found = [d.norm for d in _dates(self.text, previous.start, previous.end) if "-" in d.norm] if previous else []
        return found[0] if len(set(found)) == 1 else None

    def _head_date(self, unit: _Unit) -> str | None:
        """The date that heads the list item holding this sentence ('- **July 10, 2025** – ...')."""
        block = self._block_start(unit.start)
        if block == unit.start:
            return None
        lead = _HEAD_DATE.match(self.text, block, unit.start)
        date = _DATE.match(self.text, lead.end() if lead else block, unit.start)
        return iso_date(date.group(0)) if date and "-" in iso_date(date.group(0)) else None

    def _agency_in_context(self, unit: _Unit, lead: _Unit | None) -> str | None:
        """'The Department' means the department named last before it; else the lead-in's or previous sentence's."""
        if _BARE_DEPARTMENT.search(self.text, unit.start, unit.end):
            named = [a for a in _agencies(self.text, 0, unit.start) if a.value.startswith("Department")]
            if named:
                return named[-1].value
            title = self.chunk.title
            titled = [a for a in _agencies(title, 0, len(title)) if a.value.startswith("Department")]
            if titled:
                return titled[0].value
        for context in (lead, self._previous(unit)):
            if context is not None and (found := _agencies(self.text, context.start, context.end)):
                return found[0].value
        return None

    def _fact(self, company: str, instrument: str, field: str, value: str, key: str, rank: tuple[int, ...],
              unit: _Unit, at: int) -> _Fact:
        start, end = unit.start, unit.end
        if end - start > 300:  # quote the list item, not the whole list
            start, end = next(((s, e) for s, e in _segments(self.text, start, end) if s <= at < e), (start, end))
        c = self.chunk
        source = Provenance(c.chunk_id, c.doc_id, c.title, c.page, self.text[start:end], c.published, start, end, value)
        return _Fact(company, instrument, field, value, key, rank, source)


def _units(text: str) -> list[_Unit]:
    """Sentences; a key-terms table ('Investment $35.6 million' on each line) becomes one unit per line."""
    units: list[_Unit] = []
    for start, end in evidence_units(text):
        lines = [(m.start(), m.end()) for m in re.finditer(r"[^\n]+", text[start:end])]
        lines = [(start + s, start + e) for s, e in lines]
        valued = [(s, e) for s, e in lines if e - s < 100 and _has_value(text, s, e)]
        if len(lines) >= 3 and len(valued) >= 3:
            units.extend(_Unit(s, e, True) for s, e in lines)
        else:
            units.append(_Unit(start, end, False))
    return units


def _has_value(text: str, lo: int, hi: int) -> bool:
    return bool(_AMOUNT.search(text, lo, hi) or _PERCENT.search(text, lo, hi))


def _segments(text: str, lo: int, hi: int) -> list[tuple[int, int]]:
    """Clauses split at semicolons and list bullets: each list item gets its own company and values."""
    cuts = [lo, *(m.end() for m in _BULLET_BREAK.finditer(text, lo, hi)), hi]
    return [(s, e) for s, e in zip(cuts, cuts[1:], strict=False) if text[s:e].strip(" \n-*;")]


def _as_warrant(cue: _Hit) -> _Hit:
    if cue.value != "equity stake":
        return cue
    return _Hit(cue.kind, "warrant", cue.start, cue.end, cue.strong)


def _distance(value: _Hit, cue: _Hit) -> float:
    if cue.start >= value.end:
        return 0.8 * (cue.start - value.end)  # "$400 million of ... preferred stock": a value often precedes its noun
    return float(max(0, value.start - cue.end))


def _agency_key(name: str) -> str:
    return name.split(" – ")[0].lower()


# -- merging across documents ---------------------------------------------------------------------------------

def extract_deals(store: CorpusStore) -> list[Deal]:
    """Every deal the ingested documents state, merged across documents, each cell with its sources.

    Only documents whose ingest completed are read, and nothing is cached: a document ingested a moment ago counts.

    Returns:
        Deals sorted by company, then date, then instrument.
    """
    return deals_from_chunks(complete_chunks(store))


def complete_chunks(store: CorpusStore) -> list[StoredChunk]:
    """The chunks of every document whose ingest completed, in document order."""
    chunks: list[StoredChunk] = []
    for record in store.documents():
        if record.state == "complete":
            ids = sorted(store.catalog.chunk_ids(record.meta.doc_id))
            found = store.get_chunks(ids)
            chunks.extend(found[i] for i in ids if i in found)
    return chunks


def deals_from_chunks(chunks: Iterable[StoredChunk]) -> list[Deal]:
    """The deals stated in these chunks (in document order; a document's title names its subject company)."""
    by_chunk, profile = read_chunks(chunks)
    return merge_facts([f for found in by_chunk.values() for f in found], profile)


def read_chunks(chunks: Iterable[StoredChunk]) -> tuple[dict[str, list[_Fact]], list[_Fact]]:
    """The pattern reader's facts per chunk id (every chunk has an entry), and the company-profile minerals."""
    by_chunk: dict[str, list[_Fact]] = {}
    profile: list[_Fact] = []
    seen: dict[str, set[str]] = defaultdict(set)
    for chunk in sorted(chunks, key=lambda c: (c.doc_id, c.index)):
        reader = _ChunkReader(chunk, _title_company(chunk), seen[chunk.doc_id]).read()
        by_chunk[chunk.chunk_id] = reader.facts
        profile.extend(reader.profile)
    return by_chunk, profile


def _title_company(chunk: StoredChunk) -> str | None:
    """The one company a document's title names (its subject), if it names exactly one."""
    in_title = [c.value for c in _companies(chunk.title, 0, len(chunk.title), []) if c.value not in _FINANCIERS]
    return in_title[0] if len(set(in_title)) == 1 else None


def merge_facts(facts: Sequence[_Fact], profile: Sequence[_Fact] = ()) -> list[Deal]:
    """Facts (from either reader) merged into rows: one per company and instrument, per field the best-ranked value;
    ``profile`` gives a row its minerals when no fact does."""
    groups: dict[tuple[str, str], list[_Fact]] = defaultdict(list)
    for f in facts:
        groups[(f.company, f.instrument)].append(f)
    minerals: dict[str, list[_Fact]] = defaultdict(list)
    for f in profile:
        minerals[f.company].append(f)

    def has_value(key: tuple[str, str]) -> bool:
        return any(f.field in _VALUE_FIELDS for f in groups.get(key, ()))

    for company, instrument in list(groups):
        if instrument == "investment" and has_value((company, "equity stake")):
            # Money invested for a stake is the stake ("an investment of $35.6 million for a 10 percent stake").
            groups[(company, "equity stake")].extend(
                _Fact(f.company, "equity stake", f.field, f.value, f.key, f.rank, f.source)
                for f in groups.pop((company, instrument))
            )
    deals = [_deal(company, instrument, found, minerals) for (company, instrument), found in groups.items()
             if has_value((company, instrument))]
    order = {name: i for i, name in enumerate(INSTRUMENTS)}
    return sorted(deals, key=lambda d: (d.company.lower(), d.value("date"), order.get(d.instrument, len(order))))


def _deal(company: str, instrument: str, facts: list[_Fact], minerals: dict[str, list[_Fact]]) -> Deal:
    by_field: dict[str, list[_Fact]] = defaultdict(list)
    for f in facts:
        by_field[f.field].append(f)
    if "mineral" not in by_field:
        own_docs = {f.source.doc_id for f in facts}
        for owner in (company, *(c for c in _COMPANIES if c in company)):  # a joint venture: its first partner's
            # Cite the deal's own documents first, and sentences that name the company before those that imply it.
            found = sorted(minerals.get(owner, []), key=lambda f: (f.source.doc_id not in own_docs, -f.rank[1]))
            if found:
                by_field["mineral"] = _profile_minerals(found)
                break
    fields: dict[str, Field] = {}
    for name, found in by_field.items():
        if found:
            fields[name] = _field(found)
    valued = sorted((f for f in facts if f.field in _VALUE_FIELDS), key=lambda f: f.rank, reverse=True)
    sources = _unique(f.source for f in valued)
    fields["company"] = Field(company, sources)
    fields["instrument"] = Field(instrument, sources)
    return Deal(company, instrument, {k: fields[k] for k in COLUMNS if k in fields})


def _field(found: list[_Fact]) -> Field:
    ordered = sorted(found, key=lambda f: (f.rank, f.source.chunk_id), reverse=True)
    best = ordered[0]
    agreeing = [f for f in ordered if f.key == best.key]
    others = [f for f in ordered if f.key != best.key]
    return Field(best.value, _unique(f.source for f in [*agreeing, *others]))


def _profile_minerals(found: list[_Fact]) -> list[_Fact]:
    """The minerals most often named beside a company, as one fact: a row's mineral when no deal sentence names one."""
    counts: dict[str, int] = defaultdict(int)
    for f in found:
        counts[f.value] += 1
    if not counts:
        return []
    top = max(counts.values())
    names = [n for n in dict.fromkeys(f.value for f in found) if counts[n] * 2 >= top]
    names.sort(key=lambda n: -counts[n])
    value = ", ".join(names)
    sources = _unique(f.source for f in found if f.value in names)[:5]
    return [_Fact(found[0].company, "", "mineral", value, value, (0,), s) for s in sources]


def _unique(sources: Iterable[Provenance]) -> tuple[Provenance, ...]:
    seen: set[tuple[str, int, int]] = set()
    out = []
    for s in sources:
        if (s.chunk_id, s.start, s.end) not in seen:
            seen.add((s.chunk_id, s.start, s.end))
            out.append(s)
    return tuple(out)


# -- display --------------------------------------------------------------------------------------------------

def deals_table(deals: Sequence[Deal]) -> list[dict[str, str]]:
    """Plain rows for display: one string per column of :data:`COLUMNS`, ``terms`` (share, term and counterparty in
    words), ``source`` (the row's main passage as "[title, p. N]") and ``sources`` (every document it cites)."""
    rows = []
    for deal in deals:
        row = {name: deal.value(name) for name in COLUMNS}
        row["terms"] = "; ".join(filter(None, (
            f"{row['share']} of output" if row["share"] else "", row["term"],
            f"from {row['counterparty']}" if row["counterparty"] else "",
        )))
        row["source"] = deal.source.reference
        row["sources"] = "; ".join(dict.fromkeys(s.reference for f in deal.fields.values() for s in f.sources))
        rows.append(row)
    return rows


def deals_csv(deals: Sequence[Deal]) -> str:
    """CSV text: the columns of :data:`COLUMNS` and a ``sources`` column listing document titles and pages."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=[*COLUMNS, "sources"], extrasaction="ignore")
    writer.writeheader()
    writer.writerows(deals_table(deals))
    return out.getvalue()
