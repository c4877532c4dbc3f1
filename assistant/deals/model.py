"""The deal table's values: a cited cell, a deal row, a fact one reader read from one sentence, and a reading."""

from __future__ import annotations

from dataclasses import dataclass, field

COLUMNS = (
    "company", "mineral", "instrument", "amount", "stake_percent", "agency", "date", "location", "counterparty",
    "term", "share",
)
INSTRUMENTS = (
    "equity stake", "warrant", "loan", "loan restructuring", "price floor", "offtake", "grant", "award", "financing",
    "investment", "funding",
)
VALUE_FIELDS = ("amount", "stake_percent", "share", "term")  # a row exists only if some passage gives one of these


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
        for name in (*VALUE_FIELDS, "company"):
            if name in self.fields:
                return self.fields[name].source
        return next(iter(self.fields.values())).source


@dataclass(frozen=True, slots=True)
class Fact:
    """One value a reader found for one company's deal of one kind, with the sentence it is stated in."""

    company: str
    instrument: str
    field: str
    value: str
    key: str  # what agreeing statements share ('$2.26 billion' and 'about $2.26 billion')
    rank: tuple[int, ...]  # higher wins when statements disagree
    source: Provenance


@dataclass(frozen=True, slots=True)
class Reading:
    """What a reader found in a set of chunks: facts per chunk id (every chunk read has an entry), the minerals named
    beside each company whatever the sentence is about (``profile``), and what the user should know about the run."""

    facts: dict[str, list[Fact]]
    profile: list[Fact] = field(default_factory=list)
    notices: tuple[str, ...] = ()
    backend: str = "offline"
    passages: int = 0  # candidate passages (LLM reader)
    answered: int = 0  # passages whose facts come from the model
    failed: int = 0  # passages the rule reader stood in for
    dropped_deals: int = 0  # model deals whose quote, company or instrument did not check out
    dropped_cells: int = 0  # model cells not stated in their quote

    def all_facts(self) -> list[Fact]:
        return [f for found in self.facts.values() for f in found]
