"""What a deal sentence names: instruments, amounts, percentages, terms, agencies, companies, dates, places, minerals.

Nothing here lists a company, project or place of any corpus. Companies are learned from the documents themselves
(:class:`NameBook`): legal suffixes ("Corp."), apposition ("Acme Magnets, a <state> company"), tickers
("Acme Metals (NYSE: ACME)"), short-name definitions ("Acme Optics (Acme)"), and the party a sentence gives money to
("investing $150 million into X", "awarded X $90 million", "X will receive"). Agencies come from the shared
vocabulary data (:mod:`policyqa.vocabulary`), numbers, dates and states from the text layer (:mod:`policyqa.text`).
"""

from __future__ import annotations

import functools
import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from policyqa import text as lang
from policyqa.types import StoredChunk
from policyqa.vocabulary import vocabulary

US_GOVERNMENT = "U.S. government"


@dataclass(frozen=True, slots=True)
class Hit:
    """One thing a stretch of text names, at ``text[start:end]``; ``norm`` is what equal statements share."""

    kind: str
    value: str
    start: int
    end: int
    strong: bool = True
    norm: str = ""

    def gap(self, other: Hit) -> int:
        return max(0, other.start - self.end, self.start - other.end)


# A sentence that gives the reader orders is a prompt injection, never a deal statement.
INSTRUCTION = re.compile(
    r"\b(?:ignore|disregard|forget)\s+(?:all\s+|any\s+|the\s+)?(?:previous|prior|above|earlier|your)\s+"
    r"(?:instructions|rules|prompts?)\b|\bsystem\s+prompt\b",
    re.I,
)


# -- instruments ----------------------------------------------------------------------------------------------------

_CUES: tuple[tuple[str, str, bool], ...] = (  # (instrument, pattern, strong)
    ("loan restructuring", r"restructur(?:ing|ed|es|e)|loan\s+amendments?|amendments?\s+to\s+the\s+loan|amended\s+loan"
                           r"|revised\s+(?:agreement|terms)", True),
    ("warrant", r"warrants?", True),
    ("equity stake", r"(?:equity\s+)?stakes?|equity\s+(?:position|positions|ownership|investment|interest)"
                     r"|(?:convertible\s+)?preferred\s+stock|common\s+stock|shareholder|holding|shares", True),
    ("price floor", r"price\s+floor|minimum\s+price|floor\s+price", True),
    ("offtake", r"off-?take|purchase\s+commitment|commit(?:ted|s)?\s+to\s+(?:buy|purchase)"
                r"|buys?\s+(?:all|\d+\s+percent)\s+of", True),
    ("loan", r"loans?(?!\s+Programs?)|conditional\s+commitments?", True),
    ("grant", r"grants?", True),
    ("award", r"award(?:s|ed)?", True),
    ("financing", r"financing|credit\s+facility", True),
    ("investment", r"invest(?:s|ed|ing|ment|ments)?(?!\s+advice)|joint\s+venture", False),
    # money a company receives in no form the sentence names: "X will receive $12 million from the Department"
    ("funding", r"fund(?:ed|ing)|receives?|received|receiving", False),
)
CUE_PATTERNS: tuple[tuple[str, re.Pattern[str], bool], ...] = tuple(
    (name, re.compile(rf"(?<![\w-])(?:{pattern})(?![\w-])", re.I), strong) for name, pattern, strong in _CUES
)
AS_WARRANTS = re.compile(r"\b(?:in\s+the\s+form\s+of|as)\s+warrants\b", re.I)
# Which instruments a kind of value can describe: a percentage is a stake only beside stake, equity, ownership,
# shareholder or warrant words; beside an offtake it is the share of output bought.
ACCEPTS: dict[str, tuple[str, ...]] = {
    "stake_percent": ("equity stake", "warrant", "offtake"),
    "term": ("price floor", "offtake", "loan", "financing", "grant"),
    "amount": tuple(name for name, _, _ in _CUES),
}


def cues_in(text: str, lo: int, hi: int) -> list[Hit]:
    """Instrument words; where two overlap the longest wins, and weak cues ('investing') count only alone."""
    hits = [
        Hit("cue", name, m.start(), m.end(), strong) for name, pattern, strong in CUE_PATTERNS
        for m in pattern.finditer(text, lo, hi)
    ]
    hits.sort(key=lambda h: (h.start, -(h.end - h.start)))
    kept: list[Hit] = []
    for h in hits:
        if kept and h.start < kept[-1].end:
            continue
        kept.append(h)
    restructurings = [h for h in kept if h.value == "loan restructuring"]
    # "a restructuring of the federal loan" speaks of one instrument, not two.
    kept = [h for h in kept if h.value != "loan" or all(h.gap(r) >= 50 for r in restructurings)]
    if any(h.strong for h in kept):
        kept = [h for h in kept if h.strong]
    return kept


def as_warrant(cue: Hit) -> Hit:
    if cue.value != "equity stake":
        return cue
    return Hit(cue.kind, "warrant", cue.start, cue.end, cue.strong)


def names_instrument(quote: str, instrument: str) -> bool:
    """Whether the quote uses one of the cue words for this instrument."""
    return any(name == instrument and pattern.search(quote) for name, pattern, _ in CUE_PATTERNS)


# -- amounts, percentages, terms -------------------------------------------------------------------------------------

_QUALIFIER = re.compile(r"(?:about|approximately|roughly|around|nearly|almost|more\s+than|over|up\s+to|at\s+least|"
                        r"an\s+additional|a\s+further)\s+$", re.I)
_PER_UNIT = re.compile(r"\s+per\s+(?:metric\s+)?(?:kilogram|kg|ton|tonne|pound|lb|ounce|share)\b", re.I)
_TERM = re.compile(rf"\b(\d+|{'|'.join(lang.NUMBER_WORDS)})(?:-year\b|\s+years\b)", re.I)


# A sum of several deals, not one party's: "a total of $250 million", "part of over $100 million in awards".
_TOTAL_BEFORE = re.compile(r"(?:\btotal(?:s|ing|led|ling)?(?:\s+of)?|\ba\s+total\s+of|\bpart\s+of|\bcombined|\bsum\s+of"
                           r"|\bacross)\s+$", re.I)
_TOTAL_AFTER = re.compile(
    r"\s+(?:in|of)\s+(?:\w+\s+){0,2}(?:awards|grants|loans|investments|deals|contracts|projects)\b"
    r"|\s+(?:in\s+)?total\b"
    rf"|\s+(?:across|for|to)\s+(?:\d+|{'|'.join(lang.NUMBER_WORDS)}|several|multiple)\s+(?:\w+\s+)?"
    r"(?:projects|recipients|companies|awards)\b",
    re.I,
)


def is_total(text: str, value: Hit, lo: int, hi: int) -> bool:
    """Whether an amount sums several deals ('a total of $250 million', '$3 billion across 25 projects')."""
    return bool(_TOTAL_BEFORE.search(text[max(lo, value.start - 30) : value.start])
                or _TOTAL_AFTER.match(text[value.end : hi]))


def values_in(text: str, lo: int, hi: int) -> list[Hit]:
    """Amounts ('about $7.4 billion', '$110 per kilogram'), percentages and terms in years."""
    hits: list[Hit] = []
    for kind, pattern in (("amount", lang.AMOUNT), ("stake_percent", lang.PERCENT)):
        for m in pattern.finditer(text, lo, hi):
            start, end = m.start(), m.end()
            while end > start and text[end - 1] in ".,":
                end -= 1
            if kind == "amount" and not re.search(r"\d", text[start:end]):
                continue
            if kind == "amount" and (unit := _PER_UNIT.match(text, end, hi)):
                end = unit.end()
            if qualifier := _QUALIFIER.search(text, max(lo, start - 20), start):
                start = qualifier.start()
            display = re.sub(r"\s+", " ", text[start:end])
            display = re.sub(r"^(?:an additional|a further)\s+", "", display, flags=re.I)
            hits.append(Hit(kind, display[0].lower() + display[1:], start, end, norm=number_key(kind, display)))
    for m in _TERM.finditer(text, lo, hi):
        n = term_years(m.group(1))
        hits.append(Hit("term", f"{n} years", m.start(), m.end(), norm=str(n)))
    return hits


def term_years(word: str) -> int:
    word = word.lower()
    return int(word) if word.isdigit() else lang.NUMBER_WORDS[word]


def has_value(text: str, lo: int, hi: int) -> bool:
    return bool(lang.AMOUNT.search(text, lo, hi) or lang.PERCENT.search(text, lo, hi))


def number_key(kind: str, text: str) -> str:
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


# -- dates --------------------------------------------------------------------------------------------------------

def dates_in(text: str, lo: int, hi: int) -> list[Hit]:
    hits = []
    for m in lang.DATE.finditer(text, lo, hi):
        iso = iso_date(m.group(0))
        if iso:
            hits.append(Hit("date", iso, m.start(), m.end(), norm=iso))
    return hits


def iso_date(text: str) -> str:
    """'July 10, 2025' → '2025-07-10', 'October 2025' → '2025-10', '2025' → '2025' ('' when not a date)."""
    words = re.findall(r"[A-Za-z]+|\d+", text)
    month = next((lang.MONTH_NUMBER[w.lower()] for w in words if w.lower() in lang.MONTH_NUMBER), None)
    numbers = [int(w) for w in words if w.isdigit()]
    year = next((n for n in numbers if n >= 1900), None)
    day = next((n for n in numbers if n < 32), None)
    if year is None:
        return ""
    if month is None:
        return f"{year}"
    return f"{year}-{month:02d}-{day:02d}" if day else f"{year}-{month:02d}"


# -- agencies (from the vocabulary data) ------------------------------------------------------------------------------

def _words_pattern(name: str) -> str:
    """A name's words, any whitespace between them, a final plural 's' optional ('Loan Program(s) Office')."""
    words = []
    for w in name.split():
        escaped = re.escape(w)
        words.append(escaped[:-1] + "s?" if len(w) > 3 and w.endswith("s") and w[0].isupper() else escaped)
    return r"\s+".join(words)


@functools.lru_cache(maxsize=4)
def _agency_patterns(groups: tuple[tuple[str, ...], ...]) -> tuple[re.Pattern[str], dict[str, str]]:
    canonical: dict[str, str] = {}
    for group in groups:
        for name in group:
            canonical[_agency_norm(name)] = group[0]
    names = sorted(canonical, key=len, reverse=True)
    originals = {_agency_norm(n): n for g in groups for n in g}
    alternatives = "|".join(_words_pattern(originals[n]) for n in names)
    generic = (r"(?:Department\s+of\s+(?:the\s+)?[A-Z][a-z]+|(?-i:[A-Z][a-z]+)\s+Department(?!\s+of)"
               r"|Secretary\s+of\s+(?:the\s+)?[A-Z][a-z]+|(?-i:[A-Z][a-z]+)\s+Secretary\b)")
    pattern = re.compile(rf"(?<![\w-])(?:(?P<known>{alternatives})|(?P<generic>{generic}))(?![\w-])")
    return pattern, canonical


def _agency_norm(name: str) -> str:
    return re.sub(r"s\b", "", re.sub(r"\s+", " ", name.strip().lower()))


def canonical_agency(name: str) -> str:
    """The vocabulary's name for an agency ('Department of War' → 'Department of Defense'; 'Energy Secretary' →
    'Department of Energy'); a department the vocabulary lacks as written ('Department of the Treasury')."""
    _, canonical = _agency_patterns(vocabulary().agencies)
    spaced = re.sub(r"\s+", " ", name.strip())
    if found := canonical.get(_agency_norm(spaced)):
        return found
    m = re.fullmatch(r"(?:Secretary|Department) of (the )?(\w+)|(\w+) (?:Department|Secretary)", spaced)
    if m:
        dept = f"Department of {m.group(1) or ''}{m.group(2) or m.group(3)}"
        return canonical.get(_agency_norm(dept), dept)
    return spaced


BARE_DEPARTMENT = re.compile(r"\b[Tt]he\s+Department\b(?!\s+of\b)")


def agencies_in(text: str, lo: int, hi: int, parents: dict[str, str] | None = None) -> list[Hit]:
    """Government bodies named between ``lo`` and ``hi``; an office named right after its department ('the
    Department of Energy Loan Program Office') is one hit, 'Department of Energy – Loan Programs Office', and an
    office whose department the corpus named that way elsewhere (``parents``) is shown with it."""
    pattern, _ = _agency_patterns(vocabulary().agencies)
    hits: list[Hit] = []
    for m in pattern.finditer(text, lo, hi):
        if m.group("generic") and re.match(r"(?:The|This|That|Each|Every)\s", m.group(0)):
            continue
        hits.append(Hit("agency", canonical_agency(m.group(0)), m.start(), m.end()))
    for m in lang.GOVERNMENT.finditer(text, lo, hi):
        if not any(m.start() < h.end and h.start < m.end() for h in hits):
            hits.append(Hit("agency", US_GOVERNMENT, m.start(), m.end()))
    hits.sort(key=lambda h: h.start)
    merged: list[Hit] = []
    for h in hits:
        prev = merged[-1] if merged else None
        if (prev is not None and prev.value.startswith("Department") and not h.value.startswith("Department")
                and h.value != US_GOVERNMENT and re.fullmatch(r"\s*(?:'s\s*)?", text[prev.end : h.start])):
            merged[-1] = Hit("agency", f"{prev.value} – {h.value}", prev.start, h.end)
            continue
        merged.append(h)
    if parents:
        merged = [
            Hit("agency", f"{parents[h.value]} – {h.value}", h.start, h.end) if h.value in parents else h
            for h in merged
        ]
    return merged


def agency_family(name: str) -> str:
    """What two names of one agency share: the department of 'Department of Defense – Office of Strategic Capital',
    the vocabulary's canonical name otherwise (lower-cased)."""
    return canonical_agency(name.split(" – ")[0]).lower()


def agency_parents(chunks: Iterable[StoredChunk]) -> dict[str, str]:
    """Offices the documents name right after their department ('Department of Energy Loan Program Office')."""
    parents: dict[str, str] = {}
    for c in chunks:
        for h in agencies_in(c.text, 0, len(c.text)):
            if " – " in h.value:
                parent, office = h.value.split(" – ", 1)
                parents.setdefault(office, parent)
    return parents


# -- minerals and places ----------------------------------------------------------------------------------------------

@functools.lru_cache(maxsize=4)
def _mineral_table(words: tuple[str, ...], aliases: tuple[tuple[str, ...], ...]) -> tuple[re.Pattern[str],
                                                                                          dict[str, str]]:
    canonical: dict[str, str] = {}
    lowered = {w.lower() for w in words}
    for group in aliases:  # a group of names of one mineral ('NdPr', 'neodymium-praseodymium')
        if any(_singular(n.lower()) in {_singular(w) for w in lowered} for n in group):
            for n in group:
                canonical[_singular(n.lower())] = group[0]
    for w in words:
        canonical.setdefault(_singular(w.lower()), w)
    names = sorted({*canonical, *(n.lower() for n in lowered)}, key=len, reverse=True)
    alternatives = "|".join(re.escape(n).replace(r"\ ", r"[- ]").replace(r"\-", r"[- ]") for n in names)
    return re.compile(rf"(?<![\w-])(?:{alternatives})s?(?![\w]|-free)", re.I), canonical


def _singular(word: str) -> str:
    return word[:-1] if word.endswith("s") and len(word) > 4 else word


def minerals_in(text: str, lo: int, hi: int, skip: Sequence[Hit] = ()) -> list[Hit]:
    """Minerals named ('rare-earth' → 'rare earths'); not inside a company's name, not 'rare earth-free'."""
    vocab = vocabulary()
    pattern, canonical = _mineral_table(vocab.mineral_words, vocab.aliases)
    hits = []
    for m in pattern.finditer(text, lo, hi):
        if any(m.start() < h.end and h.start < m.end() for h in skip):  # the "Zinc" of "Acme Zinc"
            continue
        word = _singular(re.sub(r"[- ]+", " ", m.group(0).lower()))
        name = canonical.get(word) or canonical.get(word.replace(" ", "-")) or word
        hits.append(Hit("mineral", name, m.start(), m.end()))
    return hits


_PLACE = r"(?:[A-Z][a-z]+\s){0,2}[A-Z][a-z]+"
_LOCATION = re.compile(rf"(?:\b({_PLACE}),\s+)?({lang.US_STATE.pattern})(?:'s\s+({_PLACE}))?")


_SITE_WORDS = r"(?:mine|deposit|project|refinery|smelter|plant|facility|site|operations?)"
_ABROAD = re.compile(
    rf"\b{_SITE_WORDS}\s+in\s+((?>{lang.NAME_WORD}(?: {lang.NAME_WORD}){{0,2}}))(?![\w'’-])"  # "a mine in X"
    rf"|\b((?>{lang.NAME_WORD})),\s+((?>{lang.NAME_WORD}))\s+{_SITE_WORDS}\b"  # "its X, Y mine"
)


def locations_in(text: str, lo: int, hi: int) -> list[Hit]:
    """Places: a U.S. town and its state, a state, a county and its state; where the sentence names no U.S. state,
    the place a mine, plant or project is said to be in ('a mine in X', 'its X, Y mine')."""
    hits = []
    for m in _LOCATION.finditer(text, lo, hi):
        words = (m.group(1) or m.group(3) or "").split()
        while words and words[0] in lang.NOT_NAME_WORDS:  # "The Acme Pass, <state>"
            words.pop(0)
        state = m.group(2)
        hits.append(Hit("location", f"{' '.join(words)}, {state}" if words else state, m.start(), m.end(), norm=state))
    if hits:
        return hits
    for m in _ABROAD.finditer(text, lo, hi):
        place = m.group(1) or f"{m.group(2)}, {m.group(3)}"
        words = place.replace(",", "").split()
        if any(w in lang.NOT_NAME_WORDS or w in lang.NOT_COMPANY_HEADS for w in words) or agencies_in(place, 0,
                                                                                                        len(place)):
            continue
        hits.append(Hit("location", place, m.start(), m.end(), norm=place.split(", ")[-1]))
    return hits


# -- companies, learned from the documents ----------------------------------------------------------------------------

_NAME = lang.PROPER_NAME
_SUFFIXED = re.compile(rf"({_NAME})(,? ){lang.LEGAL_SUFFIX.pattern}")
_TICKER = re.compile(rf"({_NAME})\s*\((?:{'|'.join(map(re.escape, lang.EXCHANGES))})\s*:\s*([A-Z][A-Z.]*)\)")
_SHORT = re.compile(rf"({_NAME}(?:,?\s+{lang.LEGAL_SUFFIX.pattern})?)\s+\(({_NAME})\)")
_APPOSITION = re.compile(
    rf"((?>{_NAME})),\s+(?:a|an|the)\s+[^,.;()]{{0,60}}?\b(?:{'|'.join(lang.COMPANY_NOUNS)})\b"
)
_PARENT = re.compile(rf"\b(?:a|an)\s+({_NAME})\s+(?:subsidiary|affiliate|unit)\b")
_PARTY = re.compile(rf"(?<![\w-])(?:into|to|with)\s+((?>{_NAME}))(?!\s*\()|(?<![\w-])awarded\s+((?>{_NAME}))\s+(?=\$)")
_SUBJECT = re.compile(
    rf"({_NAME})\s+(?:will\s+(?:receive|invest|borrow)|receives|received|invests|borrowed)\b"
)
_HOLDING_IN = re.compile(rf"\b(?i:shareholder|stake|equity|stock|ownership)\s+in\s+((?>{_NAME}))")
_JOINT_VENTURE = re.compile(rf"({_NAME})\s*[–—-]\s*({_NAME})\s+joint\s+venture")
_FINANCIERS = re.compile(
    rf"\b(?:banks|lenders|financiers|investors),\s+({_NAME}(?:,\s+{_NAME})*,?\s+and\s+{_NAME}),\s+"
    r"(?:committed|provided|agreed|lent|extended|arranged|will)\b"
)
_OWNS = r"(?:owns(?:\s+and\s+operates)?|operates|runs|is\s+developing|develops|explores|holds)"
_PROJECT_PATTERNS = (
    rf"(?P<owner>{{company}})(?:\s*\([^)]*\))?\s+{_OWNS}\s+(?:the\s+)?(?P<project>{_NAME})",
    rf"(?P<owner>{{company}}),\s+(?:which\s+{_OWNS}|developer\s+of|owner\s+of|operator\s+of)\s+the\s+(?P<project>{_NAME})",
)
_KNOWN_AS = re.compile(rf"known\s+as\s+the\s+[\"“]?({_NAME})")
_PROJECT_TAIL = re.compile(r"\s+(?:Mineral\s+)?(?:Projects?|Mine|Facility|Site)$")


def _clean_name(name: str) -> str:
    """A candidate name without the sentence words before it ('The', 'In') and its possessive."""
    words = name.split()
    while words and words[0] in lang.NOT_NAME_WORDS:
        words.pop(0)
    return " ".join(words)


@functools.lru_cache(maxsize=8)
def _agency_words() -> frozenset[str]:
    return frozenset(_agency_norm(n) for g in vocabulary().agencies for n in g)


def _is_company_name(name: str, *, single_ok: bool) -> bool:
    words = name.split()
    if not words or (len(words) == 1 and not single_ok):
        return False
    if words[-1] in lang.NOT_COMPANY_HEADS and not lang.LEGAL_SUFFIX.fullmatch(words[-1]):
        return False
    if all(w in lang.GENERIC_NAME_WORDS or w in lang.NOT_NAME_WORDS for w in words):
        return False
    if lang.US_STATE.fullmatch(name) or name.lower() in lang.MONTH_NUMBER:
        return False
    if _agency_norm(name) in _agency_words() or re.match(r"(?:Department|Office|Secretary|Bureau)\b", name):
        return False
    return not agencies_in(name, 0, len(name))


@dataclass(frozen=True)
class NameBook:
    """The company names a corpus states, with their short forms and the projects they own, learned by
    :meth:`learn` from the documents; nothing in it comes from code."""

    companies: frozenset[str] = frozenset()
    aliases: dict[str, str] = field(default_factory=dict)  # short form (ticker, "(Lattice)") → company
    doc_aliases: dict[str, dict[str, str]] = field(default_factory=dict)  # per document: first word → company
    projects: dict[str, str] = field(default_factory=dict)  # project → company
    financiers: frozenset[str] = frozenset()  # banks and other lenders named as such
    parents: dict[str, str] = field(default_factory=dict)  # agency office → its department

    @classmethod
    def learn(cls, chunks: Iterable[StoredChunk]) -> NameBook:
        chunks = list(chunks)
        companies: set[str] = set()
        aliases: dict[str, str] = {}
        financiers: set[str] = set()
        titles = sorted({c.title for c in chunks})
        texts = [c.text for c in chunks] + titles
        for text in texts:
            for m in _SUFFIXED.finditer(text):
                name = _clean_name(m.group(0))
                if _is_company_name(name, single_ok=True) and _is_company_name(_clean_name(m.group(1)), single_ok=True):
                    companies.add(re.sub(r"\s+", " ", name))
            for m in _TICKER.finditer(text):
                name = _clean_name(m.group(1))
                if _is_company_name(name, single_ok=True):
                    companies.add(name)
                    aliases[m.group(2)] = name
            for pattern, single_ok in ((_APPOSITION, True), (_PARENT, True), (_SUBJECT, False),
                                       (_HOLDING_IN, True)):
                for m in pattern.finditer(text):
                    name = _clean_name(m.group(1))
                    if _is_company_name(name, single_ok=single_ok):
                        companies.add(name)
            for m in _PARTY.finditer(text if text not in titles else ""):  # a title capitalises every word
                name = _clean_name(m.group(1) or m.group(2))
                sentence = text[max(0, m.start() - 200) : m.end() + 200]
                if has_value(sentence, 0, len(sentence)) and _is_company_name(name, single_ok=bool(m.group(2))):
                    companies.add(name)
            for m in _FINANCIERS.finditer(text):
                for name in re.split(r",\s+(?:and\s+)?|\s+and\s+", m.group(1)):
                    if name.strip():
                        financiers.add(name.strip())
        for text in texts:  # "Acme Optics (Acme)": a short form of a name learned above, or of a new one
            for m in _SHORT.finditer(text):
                full, short = _clean_name(m.group(1)), m.group(2)
                is_prefix = full.split()[: len(short.split())] == short.split() and len(short) < len(full)
                if is_prefix and (full in companies or _is_company_name(full, single_ok=False)):
                    companies.add(full)
                    aliases[short] = full
        companies -= financiers
        book = cls(frozenset(companies), aliases, {}, {}, frozenset(financiers), agency_parents(chunks))
        return book._with_documents(chunks)

    def _with_documents(self, chunks: Sequence[StoredChunk]) -> NameBook:
        """Add what needs the names first: per-document first-word short forms ('Syrah' for 'Syrah Technologies'
        where that document names it) and the projects companies own."""
        by_doc: dict[str, list[StoredChunk]] = defaultdict(list)
        for c in chunks:
            by_doc[c.doc_id].append(c)
        doc_aliases: dict[str, dict[str, str]] = {}
        projects: dict[str, str] = {}
        for doc_id, found in by_doc.items():
            text = "\n".join(c.text for c in found)
            named = {h.value for h in self.companies_in(text, 0, len(text))}
            first: dict[str, str] = {}
            for name in named:
                word = name.split()[0]
                if (len(name.split()) > 1 and len(word) >= 4 and word not in lang.GENERIC_NAME_WORDS
                        and not minerals_in(word, 0, len(word))
                        and word not in lang.NOT_NAME_WORDS and word not in self.aliases
                        and re.search(rf"\b{re.escape(word)}(?:'s|’s)?\s+[a-z]", text)):
                    first[word] = None if word in first and first[word] != name else name  # type: ignore[assignment]
            doc_aliases[doc_id] = {w: n for w, n in first.items() if n}
            owner_names = sorted({*named, *self.aliases, *doc_aliases[doc_id]}, key=len, reverse=True)
            if owner_names:
                company = "|".join(re.escape(n) for n in owner_names)
                for template in _PROJECT_PATTERNS:
                    for m in re.finditer(template.replace("{company}", company), text):
                        owner = self._canonical(m.group("owner"), doc_aliases[doc_id])
                        project = _clean_name(m.group("project"))
                        if project and project not in named and not lang.US_STATE.fullmatch(project):
                            projects.setdefault(project, owner)
            title_owner = self.title_company(found[0].title, doc_id, doc_aliases)
            if title_owner:
                for m in _KNOWN_AS.finditer(text):
                    projects.setdefault(_clean_name(m.group(1)), title_owner)
        for project, owner in list(projects.items()):
            short = _PROJECT_TAIL.sub("", project)
            if short != project and len(short.split()) >= 2:
                projects.setdefault(short, owner)
        return NameBook(self.companies, self.aliases, doc_aliases, projects, self.financiers, self.parents)

    def _canonical(self, name: str, doc_aliases: dict[str, str] | None = None) -> str:
        return self.aliases.get(name) or (doc_aliases or {}).get(name) or name

    @functools.cached_property
    def _pattern(self) -> re.Pattern[str] | None:
        names = sorted({*self.companies, *self.aliases, *self.financiers}, key=len, reverse=True)
        if not names:
            return None
        return re.compile(rf"(?<![\w-])(?:{'|'.join(_flexible(n) for n in names)})(?![\w-])")

    def companies_in(self, text: str, lo: int, hi: int, doc_id: str | None = None,
                     skip: Sequence[Hit] = ()) -> list[Hit]:
        """Companies (and financiers) named between ``lo`` and ``hi``, as their full names; ``doc_id`` adds that
        document's short forms."""
        hits: list[Hit] = []
        local = self.doc_aliases.get(doc_id or "", {})
        patterns = [p for p in (self._pattern, _local_pattern(tuple(sorted(local)))) if p is not None]
        for pattern in patterns:
            for m in pattern.finditer(text, lo, hi):
                if any(m.start() < h.end and h.start < m.end() for h in [*hits, *skip]):
                    continue
                name = re.sub(r"\s+", " ", m.group(0))
                kind = "financier" if name in self.financiers else "company"
                hits.append(Hit(kind, self._canonical(name, local), m.start(), m.end()))
        return sorted(hits, key=lambda h: h.start)

    def joint_ventures_in(self, text: str, lo: int, hi: int) -> list[Hit]:
        """'Acme Lithium–Beta Motors joint venture', one company of its own."""
        hits = []
        for m in _JOINT_VENTURE.finditer(text, lo, hi):
            first = _clean_name(m.group(1))
            if first:
                start = m.start(1) + m.group(1).index(first)
                hits.append(Hit("company", f"{first}–{m.group(2)} joint venture", start, m.end()))
        return hits

    def projects_in(self, text: str, lo: int, hi: int) -> list[Hit]:
        """Projects whose owner the documents state, as hits naming the owner."""
        if not self.projects:
            return []
        names = "|".join(re.escape(p) for p in sorted(self.projects, key=len, reverse=True))
        return [Hit("company", self.projects[m.group(0)], m.start(), m.end())
                for m in re.finditer(rf"(?<![\w-])(?:{names})(?![\w-])", text[:hi]) if m.start() >= lo]

    def title_company(self, title: str, doc_id: str | None = None,
                      doc_aliases: dict[str, dict[str, str]] | None = None) -> str | None:
        """The one company a document's title names (its subject), if it names exactly one."""
        found = {h.value for h in self.companies_in(title, 0, len(title)) if h.kind == "company"}
        if not found and doc_aliases and doc_id in doc_aliases:
            found = {n for w, n in doc_aliases[doc_id].items() if re.search(rf"\b{re.escape(w)}\b", title)}
        return found.pop() if len(found) == 1 else None


@functools.lru_cache(maxsize=256)
def _local_pattern(words: tuple[str, ...]) -> re.Pattern[str] | None:
    if not words:
        return None
    return re.compile(rf"(?<![\w-])(?:{'|'.join(re.escape(w) for w in words)})(?![\w-]| [A-Z])")


def _flexible(name: str) -> str:
    return r"\s+".join(re.escape(w) for w in name.split())
