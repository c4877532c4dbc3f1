"""The rule reader: each sentence is read for instrument cues, values, agencies, companies, dates, places and
minerals, and each value goes to the party the sentence gives it to and to the nearest compatible cue.

Companies come from the corpus itself (:class:`~assistant.deals.recognisers.NameBook`, learned from every chunk
before any is read). A value goes to the company the sentence hands it to ("$150 million into X", "a loan of $2.5
billion to X", "awarded X $90 million"), else to the company named in its clause, else to the company of a project
named, the document's title, the paragraph or the list's lead-in.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from assistant.deals.model import Fact, Provenance, Reading
from assistant.deals.recognisers import (
    ACCEPTS,
    AS_WARRANTS,
    BARE_DEPARTMENT,
    INSTRUCTION,
    US_GOVERNMENT,
    Hit,
    NameBook,
    agencies_in,
    agency_family,
    as_warrant,
    cues_in,
    dates_in,
    has_value,
    is_total,
    iso_date,
    locations_in,
    minerals_in,
    values_in,
)
from assistant.extractive import evidence_units
from policyqa import text as lang
from policyqa.types import StoredChunk, date_ord

_REFERS_BACK = re.compile(r"\b(?:[Tt]his|[Tt]hat|[Tt]he)\s+((?:\w+\s+)?\w+)\b")
_BACK_REFERENCE = re.compile(
    r"\W*(?:(?:The|This|That|These|Its)\s+(?:proceeds|money|funds|funding|agreement|deal|transaction|package|award"
    r"|investment)\b|(?:It|They)\s)"
)
_POLICY = re.compile(r"\bExecutive\s+Order\s+\d+|\bEO\s+\d+")
_HEAD_DATE = re.compile(r"\s*(?:[-*+•]\s*)?(?:\*\*|__)?\s*(?=\S)")
_BULLET_BREAK = re.compile(r"\n[ \t]*(?=[-*+•]\s)|;")
# "$150 million into X", "a loan of $2.5 billion to X", "$3.2 million agreement with X": the party given the money.
_TO_PARTY = re.compile(r"[^$;.]{0,90}?\b(?:to|into|with)\s+$")


class RuleReader:
    """The offline :class:`~assistant.deals.reader.DealReader`: patterns over the text, no model."""

    name = "offline"

    def read(self, chunks: Iterable[StoredChunk], *, book: NameBook | None = None) -> Reading:
        """Facts per chunk (every chunk has an entry) and the company-profile minerals."""
        chunks = sorted(chunks, key=lambda c: (c.doc_id, c.index))
        book = book or NameBook.learn(chunks)
        by_chunk: dict[str, list[Fact]] = {}
        profile: list[Fact] = []
        seen: dict[str, set[str]] = defaultdict(set)
        for chunk in chunks:
            title_company = book.title_company(chunk.title, chunk.doc_id, book.doc_aliases)
            reader = _ChunkReader(chunk, book, title_company, seen[chunk.doc_id]).read()
            by_chunk[chunk.chunk_id] = reader.facts
            profile.extend(reader.profile)
        return Reading(by_chunk, profile)


def read_chunks(chunks: Iterable[StoredChunk], *, book: NameBook | None = None) -> Reading:
    """The rule reader's reading of these chunks."""
    return RuleReader().read(chunks, book=book)



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

    def gap(self, hit: Hit) -> int:
        return max(0, hit.start - self.end, self.start - hit.end)


class _ChunkReader:
    """Turns the sentences of one chunk into facts; ``seen`` skips sentences repeated by overlapping chunks."""

    def __init__(self, chunk: StoredChunk, book: NameBook, title_company: str | None, seen: set[str]) -> None:
        self.chunk, self.text, self.book, self.title_company, self.seen = chunk, chunk.text, book, title_company, seen
        self.published = date_ord(chunk.published)
        self.units = _units(self.text)
        self.facts: list[Fact] = []
        self.profile: list[Fact] = []  # minerals named near a company, whatever the sentence is about
        self.previous_anchors: list[_Anchor] = []  # the deals the sentence before spoke of

    def read(self) -> _ChunkReader:
        for i, unit in enumerate(self.units):
            key = re.sub(r"\s+", " ", self.text[unit.start : unit.end])
            if key in self.seen:
                self.previous_anchors = []
                continue
            self.seen.add(key)
            anchors: list[_Anchor] = []
            if unit.row or not is_heading(self.text[unit.start : unit.end]):
                anchors = self._read_unit(i, unit)
            self.previous_anchors = anchors
        return self

    def _read_unit(self, i: int, unit: _Unit) -> list[_Anchor]:
        """Record the facts of one sentence; returns the deals it speaks of."""
        text, lo, hi = self.text, unit.start, unit.end
        agencies = self._agencies(text, lo, hi)
        ventures = self.book.joint_ventures_in(text, lo, hi)
        companies = self._companies(text, lo, hi, skip=[*agencies, *ventures])
        named = [c for c in companies if c.kind == "company"]
        owner = named[0].value if named else self.title_company
        if owner:
            for m in minerals_in(text, lo, hi, [*companies, *ventures]):
                rank = (0, int(bool(named)))  # sentences that name the company are cited before those that imply it
                self.profile.append(self._fact(owner, "", "mineral", m.value, m.value, rank, unit, m.start))
        if _POLICY.search(text, lo, hi) or INSTRUCTION.search(text, lo, hi):
            return []  # an executive order's direction, or an order to the reader: not a transaction
        lead = None if unit.row else self._lead_in(i)
        lead_cues = cues_in(text, lead.start, lead.end) if lead else []
        cues = [c for c in cues_in(text, lo, hi) if not any(v.start <= c.start < v.end for v in ventures)]
        if not any(c.strong for c in cues) and any(c.strong for c in lead_cues):
            cues = []  # "a further 5 percent in the joint venture" under "... both in the form of warrants:"
        if not cues and not lead_cues and named and has_value(text, lo, hi):
            # "a $3.2 million agreement with X ..." then "... this award exemplifies": the instrument named after.
            cues = self._named_after(i)
        if not cues and not lead_cues:
            if self.previous_anchors and _BACK_REFERENCE.match(text, lo, hi):
                # "The agreement was announced on August 18, 2025." speaks of the deals of the sentence before.
                carried = [_Anchor(a.company, a.instrument, lo, lo) for a in self.previous_anchors]
                self._shared(unit, None, carried, agencies, companies, valued=False)
                return carried
            return []
        if AS_WARRANTS.search(text, lo, hi) or (lead and AS_WARRANTS.search(text, lead.start, lead.end)):
            cues, lead_cues = ([as_warrant(c) for c in group] for group in (cues, lead_cues))
        segments = _segments(text, lo, hi)

        def segment_of(at: int) -> tuple[int, int]:
            return next(((s, e) for s, e in segments if s <= at < e), (lo, hi))

        def company_at(at: int) -> str | None:
            s, e = segment_of(at)
            for group in ([v for v in ventures if s <= v.start < e], [c for c in named if s <= c.start < e], named):
                if group:
                    return group[0].value
            if projects := self.book.projects_in(text, lo, hi):
                return projects[0].value
            return self.title_company or self._carried(i) or (self._company_in(lead) if lead else None)

        anchors: dict[tuple[str, str], _Anchor] = {}
        valued_keys: set[tuple[str, str]] = set()
        before = len(self.facts)
        for cue in cues:
            if company := company_at(cue.start):
                anchors.setdefault((company, cue.value), _Anchor(company, cue.value, cue.start, cue.end))
        for v in values_in(text, lo, hi):
            if v.kind == "amount" and is_total(text, v, lo, hi):
                continue  # a sum of several deals is no one party's amount
            s, e = segment_of(v.start)
            accepts = ACCEPTS[v.kind]
            pool = next((g for g in ([c for c in cues if s <= c.start < e], cues, lead_cues)
                         if any(c.value in accepts for c in g)), [])
            choices = [c for c in pool if c.value in accepts]
            company = self._party(v, [*ventures, *named]) or company_at(v.start)
            if not choices or company is None:
                continue
            cue = min(choices, key=lambda c: _distance(v, c))
            field = "share" if v.kind == "stake_percent" and cue.value == "offtake" else v.kind
            anchors.setdefault((company, cue.value), _Anchor(company, cue.value, v.start, v.end))
            valued_keys.add((company, cue.value))
            fact = self._fact(company, cue.value, field, v.value, v.norm, (2, self.published), unit, v.start)
            self.facts.append(fact)
        if not anchors:
            return []
        valued = len(self.facts) > before  # the sentence states an amount, a percentage or a term
        # A place or mineral goes to the nearest deal the sentence gives a value, not to a bare instrument word.
        placed = [a for key, a in anchors.items() if key in valued_keys]
        self._shared(unit, lead if valued else None, list(anchors.values()), agencies, companies, valued, placed)
        return list(anchors.values())

    def _shared(
        self, unit: _Unit, lead: _Unit | None, anchors: list[_Anchor], agencies: list[Hit], companies: list[Hit],
        valued: bool, placed: list[_Anchor] | None = None,
    ) -> None:
        """Agency, date, counterparty (for every deal the sentence names); place and mineral (for the nearest)."""
        text, lo, hi = self.text, unit.start, unit.end
        specific = [a for a in agencies if a.value != US_GOVERNMENT]
        dates = dates_in(text, lo, hi)
        head = self._head_date(unit)
        financiers = list(dict.fromkeys(c.value for c in companies if c.kind == "financier"))
        nearest: dict[int, list[Hit]] = defaultdict(list)
        candidates = [k for k, a in enumerate(anchors) if a in (placed or anchors)]
        for hit in [*locations_in(text, lo, hi), *minerals_in(text, lo, hi, companies)]:
            nearest[min(candidates, key=lambda k: anchors[k].gap(hit))].append(hit)
        for k, a in enumerate(anchors):
            def add(field: str, value: str, key: str, rank: tuple[int, ...], at: int, a: _Anchor = a) -> None:
                self.facts.append(self._fact(a.company, a.instrument, field, value, key, rank, unit, at))

            agency = min(specific or agencies, key=a.gap, default=None)
            if agency is not None:
                add("agency", agency.value, agency_family(agency.value), (2, self.published), agency.start)
            elif valued and (resolved := self._agency_in_context(unit, lead)):
                add("agency", resolved, agency_family(resolved), (1, self.published), lo)
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
        """The company named earlier in the paragraph or list item ('Acme Corp. announces... The Department...')."""
        block = self._block_start(self.units[i].start)
        for j in range(i - 1, -1, -1):
            if self.units[j].start < block:
                break
            if company := self._company_in(self.units[j]):
                return company
        return None

    def _company_in(self, unit: _Unit) -> str | None:
        named = [c for c in self._companies(self.text, unit.start, unit.end) if c.kind == "company"]
        if named:
            return named[0].value
        projects = self.book.projects_in(self.text, unit.start, unit.end)
        return projects[0].value if projects else None

    def _named_after(self, i: int, reach: int = 3) -> list[Hit]:
        """The instrument a later sentence of the chunk refers back to ('this award', 'the loan'), as a cue at the
        end of sentence ``i``."""
        end = self.units[i].end
        for unit in self.units[i + 1 : i + 1 + reach]:
            for m in _REFERS_BACK.finditer(self.text, unit.start, unit.end):
                found = [c for c in cues_in(self.text, m.start(1), m.end(1)) if c.strong]
                if found:
                    return [Hit("cue", found[0].value, end, end)]
        return []

    def _companies(self, text: str, lo: int, hi: int, skip: Sequence[Hit] = ()) -> list[Hit]:
        return self.book.companies_in(text, lo, hi, self.chunk.doc_id, skip)

    def _agencies(self, text: str, lo: int, hi: int) -> list[Hit]:
        return agencies_in(text, lo, hi, self.book.parents)

    def _party(self, value: Hit, parties: Sequence[Hit]) -> str | None:
        """The company the sentence hands this value to: '$150 million into X', 'a loan of $2.5 billion to X',
        'a $3.2 million agreement with X', 'awarded X $90 million'."""
        text = self.text
        for c in sorted(parties, key=lambda h: h.start):
            if c.start >= value.end and _TO_PARTY.fullmatch(text, value.end, c.start):
                return c.value
        before = [c for c in parties if 0 <= value.start - c.end <= 2]
        return before[-1].value if before else None

    def _previous(self, unit: _Unit) -> _Unit | None:
        """The sentence before this one in the same paragraph or list item (table rows stand alone)."""
        i = self.units.index(unit)
        if unit.row or i == 0 or self.units[i - 1].row or self.units[i - 1].start < self._block_start(unit.start):
            return None
        return self.units[i - 1]

    def _date_before(self, unit: _Unit) -> str | None:
        previous = self._previous(unit)
        found = [d.norm for d in dates_in(self.text, previous.start, previous.end) if "-" in d.norm] if previous else []
        return found[0] if len(set(found)) == 1 else None

    def _head_date(self, unit: _Unit) -> str | None:
        """The date that heads the list item holding this sentence ('- **July 10, 2025** – ...')."""
        block = self._block_start(unit.start)
        if block == unit.start:
            return None
        lead = _HEAD_DATE.match(self.text, block, unit.start)
        date = lang.DATE.match(self.text, lead.end() if lead else block, unit.start)
        return iso_date(date.group(0)) if date and "-" in iso_date(date.group(0)) else None

    def _agency_in_context(self, unit: _Unit, lead: _Unit | None) -> str | None:
        """'The Department' means the department named last before it; else the lead-in's or previous sentence's."""
        if BARE_DEPARTMENT.search(self.text, unit.start, unit.end):
            named = [a for a in self._agencies(self.text, 0, unit.start) if a.value.startswith("Department")]
            if named:
                return named[-1].value
            title = self.chunk.title
            titled = [a for a in self._agencies(title, 0, len(title)) if a.value.startswith("Department")]
            if titled:
                return titled[0].value
        for context in (lead, self._previous(unit)):
            if context is not None and (found := self._agencies(self.text, context.start, context.end)):
                return found[0].value
        return None

    def _fact(self, company: str, instrument: str, field: str, value: str, key: str, rank: tuple[int, ...],
              unit: _Unit, at: int) -> Fact:
        start, end = unit.start, unit.end
        if end - start > 300:  # quote the list item, not the whole list
            start, end = next(((s, e) for s, e in _segments(self.text, start, end) if s <= at < e), (start, end))
        c = self.chunk
        source = Provenance(c.chunk_id, c.doc_id, c.title, c.page, self.text[start:end], c.published, start, end, value)
        return Fact(company, instrument, field, value, key, rank, source)


def _units(text: str) -> list[_Unit]:
    """Sentences; a key-terms table ('Investment $35.6 million' on each line) becomes one unit per line."""
    units: list[_Unit] = []
    for start, end in evidence_units(text):
        lines = [(m.start(), m.end()) for m in re.finditer(r"[^\n]+", text[start:end])]
        lines = [(start + s, start + e) for s, e in lines]
        valued = [(s, e) for s, e in lines if e - s < 100 and has_value(text, s, e)]
        if len(lines) >= 3 and len(valued) >= 3:
            units.extend(_Unit(s, e, True) for s, e in lines)
        else:
            units.append(_Unit(start, end, False))
    return units


def _segments(text: str, lo: int, hi: int) -> list[tuple[int, int]]:
    """Clauses split at semicolons and list bullets: each list item gets its own company and values."""
    cuts = [lo, *(m.end() for m in _BULLET_BREAK.finditer(text, lo, hi)), hi]
    return [(s, e) for s, e in zip(cuts, cuts[1:], strict=False) if text[s:e].strip(" \n-*;")]


def _distance(value: Hit, cue: Hit) -> float:
    if cue.start >= value.end:
        return 0.8 * (cue.start - value.end)  # "$400 million of ... preferred stock": a value often precedes its noun
    return float(max(0, value.start - cue.end))





def is_heading(text: str) -> bool:
    """Titles and headings end without a full stop; they name a topic but do not state a fact."""
    stripped = text.strip().strip("*_ ")
    if ":\n" in stripped or ": \n" in stripped:  # a sentence introducing a list, merged with its items
        return False
    return stripped.startswith("#") or not re.search(r"[.!?:;)\]\"']$", stripped)
