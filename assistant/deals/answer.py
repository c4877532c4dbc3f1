"""List and comparison questions about deals, answered from the deal table as a short Markdown table whose every
cell cites the sentence it was read from.

"Which companies has the Department of War invested in, and how much?" and "Compare the A and B deals" ask for
several rows, which a passage-by-passage answerer gives as one sentence or a refusal. Whether a question is such a
question is decided by signals, not by its wording as a whole: it asks for several companies or deals ("which
companies", "list", "each", "all"), or compares ("compare", "versus", "difference between") parties the table
names; and it is about deals (an instrument word, an agency, or companies of the table).
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from assistant.deals.extract import complete_chunks, corpus_key, deals_from_chunks
from assistant.deals.model import INSTRUMENTS, Deal, Field, Provenance
from assistant.deals.recognisers import US_GOVERNMENT, Hit, agencies_in, agency_family, cues_in, minerals_in
from policyqa import text as lang
from policyqa.types import Answer, Citation, Passage, StoredChunk

if TYPE_CHECKING:
    from policyqa.store import CorpusStore

log = logging.getLogger(__name__)

MAX_ROWS = 15  # a short table; the Deals page has the rest
BACKEND = "deal table"

_LIST = re.compile(
    r"\b(?:which|what)\s+(?:\w+\s+){0,2}(?:companies|firms|deals|investments|loans|stakes|awards|grants|recipients|"
    r"transactions|agreements|warrants)\b|\b(?:list|all|every|each|summari[sz]e|tabulate|table)\b"
    r"|\bin\s+which\s+companies\b|\bwho\s+(?:got|received|has\s+received)\b",
    re.I,
)
_COMPARE = re.compile(
    r"\b(?:compare[sd]?|comparison|versus|vs\.?|difference\s+between|differ|side\s+by\s+side)\b", re.I
)
_DEAL_WORDS = re.compile(r"\b(?:deals?|invest\w*|fund\w*|financ\w*|money|how\s+much|backed|backing|stakes?|equity|"
                         r"loans?|grants?|awards?|awarded|warrants?|price\s+floors?|offtakes?)\b", re.I)
_COLUMNS = (("company", "Company"), ("instrument", "Instrument"), ("amount", "Amount"), ("stake_percent", "Stake"),
            ("agency", "Agency"), ("date", "Date"))


@dataclass(frozen=True, slots=True)
class DealQuestion:
    """What a question asks of the deal table: the companies, agencies, instruments and minerals it names."""

    companies: tuple[str, ...]
    agencies: tuple[str, ...]  # agency families
    instruments: tuple[str, ...]
    minerals: tuple[str, ...]
    listing: bool
    comparing: bool
    years: tuple[str, ...] = ()


def read_question(question: str, deals: Sequence[Deal]) -> DealQuestion:
    """The question's parts the table can filter on (companies are matched against the table's names)."""
    spans = {name: _names(question, name) for name in dict.fromkeys(d.company for d in deals)}
    companies = tuple(name for name, found in spans.items() if found)
    named = [Hit("company", name, *span) for name, found in spans.items() for span in found]
    # "the government" is every agency; a named one ("the Department of War") narrows the table to its deals
    agencies = tuple(dict.fromkeys(agency_family(h.value) for h in agencies_in(question, 0, len(question))
                                   if h.value != US_GOVERNMENT))
    cues = cues_in(question, 0, len(question))
    instruments = tuple(dict.fromkeys(c.value for c in cues if c.strong))
    if not instruments and any(c.value == "investment" for c in cues):
        # "invested in": money put into a company, not a price it is promised or output bought from it
        instruments = tuple(i for i in INSTRUMENTS if i not in ("price floor", "offtake"))
    minerals = tuple(dict.fromkeys(m.value for m in minerals_in(question, 0, len(question), named)))
    if "equity stake" in instruments and "warrant" not in instruments:
        instruments += ("warrant",)  # a stake held as warrants is a stake ("equity ownership ... as warrants")
    years = tuple(dict.fromkeys(re.findall(r"\b(?:19|20)\d{2}\b", question)))
    return DealQuestion(companies, agencies, instruments, minerals, bool(_LIST.search(question)),
                        bool(_COMPARE.search(question)), years)


def is_deal_question(question: str, deals: Sequence[Deal]) -> bool:
    """Whether the question asks for several deals (a list or a comparison) that the table can answer."""
    q = read_question(question, deals)
    about_deals = bool(_DEAL_WORDS.search(question) or q.companies or q.instruments or q.agencies)
    if q.comparing and len(q.companies) >= 2:
        return True
    if q.listing and about_deals:
        return len(q.companies) != 1 or q.comparing
    return len(q.companies) >= 2 and about_deals and bool(re.search(r"\b(?:and|or|both)\b", question, re.I))


def answer_from_deals(
    question: str, deals: Sequence[Deal], chunks: Mapping[str, StoredChunk], *, max_rows: int = MAX_ROWS,
) -> Answer | None:
    """A Markdown table of the deals the question asks for, every cell citing its sentence; ``None`` when the
    question is not a list or comparison question about deals, or no row of the table fits it.

    Args:
        question: the user's question (a follow-up already made standalone).
        deals: the deal table (:func:`assistant.deals.extract_deals`).
        chunks: the chunks the table cites, by chunk id (a cell whose chunk is missing is shown without a citation).
    """
    if not deals or not is_deal_question(question, deals):
        return None
    q = read_question(question, deals)
    rows = [d for d in deals if _fits(d, q)]
    for company in q.companies:  # a comparison shows each side, even one the other filters leave out
        if not any(d.company == company for d in rows):
            rows += [d for d in deals if d.company == company]
    if not rows:
        return None
    rows.sort(key=lambda d: (q.companies.index(d.company) if d.company in q.companies else len(q.companies),
                             -_dollars(d.value("amount")), d.company.lower()))
    shown = rows[:max_rows]
    citations: list[Citation] = []
    numbers: dict[tuple[str, int, int], int] = {}

    def cite(source: Provenance) -> str:
        key = (source.chunk_id, source.start, source.end)
        chunk = chunks.get(source.chunk_id)
        if chunk is None or chunk.text[source.start : source.end] != source.quote:
            return ""
        if key not in numbers:
            numbers[key] = len(citations) + 1
            citations.append(Citation(numbers[key], Passage(chunk, 1.0), source.start, source.end))
        return f" [{numbers[key]}]"

    def cell(field: Field | None) -> str:
        if field is None or not field.value:
            return "–"
        return _escape(field.value) + cite(field.source)

    lines = ["| " + " | ".join(label for _, label in _COLUMNS) + " |", "|" + "---|" * len(_COLUMNS)]
    for deal in shown:
        lines.append("| " + " | ".join(cell(deal.fields.get(name)) for name, _ in _COLUMNS) + " |")
    if not citations:
        return None
    companies = list(dict.fromkeys(d.company for d in shown))
    lead = (f"The documents state {len(rows)} deal{'s' if len(rows) != 1 else ''} of {len(companies)} "
            f"compan{'ies' if len(companies) != 1 else 'y'} that fit the question")
    lead += f"; the {max_rows} largest are shown:" if len(rows) > max_rows else ":"
    text = lead + "\n\n" + "\n".join(lines)
    return Answer(text=text, citations=tuple(citations), answerable=True, query=question, backend=BACKEND,
                  passages=tuple(c.passage for c in citations))


def _fits(deal: Deal, q: DealQuestion) -> bool:
    if q.companies and deal.company not in q.companies:
        return False
    # With two companies named, an agency names one side ("the Defense Department's purchase in A compared with
    # the government's investment in B"), not a filter on both.
    if q.agencies and len(q.companies) < 2 and agency_family(deal.value("agency")) not in q.agencies:
        return False
    if q.years and deal.value("date") and deal.value("date")[:4] not in q.years:
        return False
    if q.instruments and deal.instrument not in q.instruments:
        return False
    if q.minerals:
        named = {m.strip().lower() for m in deal.value("mineral").split(",")}
        if not named & {m.lower() for m in q.minerals}:
            return False
    return True


def _names(question: str, company: str) -> list[tuple[int, int]]:
    """Whether the question names the company: its full name, or its name without a legal suffix or its last word
    ('Acme Lithium' in 'the Acme Lithium deal' for 'Acme Lithium Corp.', 'Acme' for 'Acme Lithium')."""
    bare = re.sub(r",?\s+(?:Inc\.|Corp\.|Corporation|Co\.|Company|Ltd\.|LLC|plc)$", "", company)
    forms = {company, bare}
    words = bare.split()
    if (len(words) > 1 and len(words[0]) >= 4 and words[0][0].isupper() and words[0] not in lang.GENERIC_NAME_WORDS
            and not minerals_in(words[0], 0, len(words[0]))):
        forms.add(words[0])
    return [(m.start(), m.end()) for f in forms
            for m in re.finditer(rf"(?<![\w-]){re.escape(f)}(?![\w-])", question, re.I if len(f) > 4 else 0)]


def _dollars(amount: str) -> float:
    number = re.search(r"\d[\d,]*(?:\.\d+)?", amount)
    if number is None or "per " in amount:
        return 0.0
    value = float(number.group(0).replace(",", ""))
    for word, factor in (("trillion", 1e12), ("billion", 1e9), ("million", 1e6)):
        if word in amount.lower():
            value *= factor
    return value


def _escape(value: str) -> str:
    return value.replace("|", "\\|")


class DealAnswerer:
    """Answers list and comparison questions from a store's deal table, read again only when the corpus changes."""

    def __init__(self, store: CorpusStore) -> None:
        self.store = store
        self._key: object = None
        self._deals: list[Deal] = []
        self._chunks: dict[str, StoredChunk] = {}
        self._lock = threading.Lock()  # one reading of the corpus at a time; a question waits for one under way

    def answer(self, question: str) -> Answer | None:
        """The table answer to ``question``, or ``None`` (then the passage answerer answers)."""
        if not (_DEAL_WORDS.search(question) or _COMPARE.search(question) or _LIST.search(question)):
            return None  # most questions: no need to look at the table
        deals, chunks = self.table()
        return answer_from_deals(question, deals, chunks)

    def table(self) -> tuple[list[Deal], dict[str, StoredChunk]]:
        """The deals of the corpus as it is now and the chunks they cite, read again only when it changed."""
        with self._lock:
            key = corpus_key(self.store)
            if key != self._key:
                chunks = complete_chunks(self.store)
                self._deals = deals_from_chunks(chunks)
                self._chunks = {c.chunk_id: c for c in chunks}
                self._key = key
            return self._deals, self._chunks

    def warm_in_background(self) -> threading.Thread:
        """Read the table in a daemon thread, so the first list question does not wait for it (seconds on a few
        thousand chunks); a question asked meanwhile waits for that reading instead of starting its own."""
        thread = threading.Thread(target=self._warm, name="deal-table", daemon=True)
        thread.start()
        return thread

    def _warm(self) -> None:
        try:
            self.table()
        except Exception:  # noqa: BLE001 - a failed warm-up is retried, and reported, by the first question
            log.warning("the deal table could not be read ahead of the first question", exc_info=True)
