"""A question, parsed once: what it asks for (an amount, a date, a name...), the names it gives, the noun it asks
about, whether it asks for a list or a comparison. The retriever, the answerer and the refusal signals read this
one value instead of each parsing the text again.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

from assistant.glossary import known_words
from policyqa import text
from policyqa.vocabulary import vocabulary

_AMOUNT, _PERCENT, _DATE, _NUMBER, _QUANTITY = text.AMOUNT, text.PERCENT, text.DATE, text.NUMBER, text.QUANTITY
_DURATION = text.DURATION

_LIST_WORDS = re.compile(
    r"\b(list|summari[sz]e|what are the|name the|all the|which (?:\w+ )?(?:companies|orders|minerals|metals|banks|"
    r"states|ones|sources|agencies|projects)|in which (?:\w+ )?companies)\b",
    re.I,
)
_PERSON = re.compile(
    r"\b(?:Secretary|Director|Administrator|President|Chair(?:man|woman)?|chaired|executive director|"
    r"[A-Z][a-z]+ [A-Z][a-z]+(?=,? (?:the )?(?:executive|secretary|director|chief)))", re.I
)
_MINERAL = re.compile(
    r"\b(?:" + "|".join(re.escape(w).replace(r"\ ", r"[- ]") for w in vocabulary().mineral_words) + r")s?\b", re.I
)
# Asks how something moved across periods: the answer needs a statement from each period's document.
_TREND = re.compile(
    r"\b(?:over time|over the (?:reported |past |last |recent )?(?:quarters|periods|years|months)|"
    r"across (?:the |these |all |recent |several )?(?:reported )?(?:quarters|periods|years|filings|reports)|"
    r"trend(?:s|ed|ing)?|fluctuat(?:e|ed|es|ing|ion|ions))\b",
    re.I,
)
_COMPARISON = re.compile(r"\b(larger|smaller|bigger|greater|compare[sd]?|comparison|differ|difference|versus|vs\.?|more than|less than)\b", re.I)
_ANSWER_TYPES: list[tuple[re.Pattern[str], re.Pattern[str]]] = [
    (re.compile(r"\b(larger|smaller|bigger|compare).*\b(stake|share|ownership|percent)", re.I), _PERCENT),
    (re.compile(r"\b(larger|smaller|bigger|compare).*\b(investment|loan|purchase|amount|size|cost|financing)", re.I), _AMOUNT),
    (re.compile(r"\bwhich (?:\w+ )?(?:minerals|metals)\b|\bwhat (?:\w+ )?(?:minerals|metals)\b", re.I), _MINERAL),
    (re.compile(r"^\s*(?:and\s+)?who\b", re.I), _PERSON),
    (re.compile(r"\b(what|which)\s+(stake|share|percent|percentage|portion)|\bhow big\b.*\bstake|\bpercent", re.I), _PERCENT),
    (re.compile(r"\bhow much of\b", re.I), text.PORTION),
    (re.compile(r"\bhow often\b|\bhow frequently\b", re.I), text.FREQUENCY),
    (re.compile(r"\bhow (much|big|large)\b|\bwhat (amount|sum|value)\b|\bprice\b|\bcost\b|\bworth\b", re.I), _AMOUNT),
    (re.compile(r"\bby when\b|\bhow soon\b|\b(?:what|which) deadline\b", re.I), text.DEADLINE),
    (re.compile(r"\bwhen\b|\bwhat (date|day|year|month)\b|\bwhich (date|day|year)\b", re.I), _DATE),
    (re.compile(r"\bhow (?:long|far)\b", re.I), _QUANTITY),  # "211 miles", "a 10-year floor", "six months"
    (re.compile(r"\bwhat (?:term|period|duration)\b", re.I), _DURATION),
    (re.compile(r"\bhow many\b", re.I), _NUMBER),
]


# "What road ...", "which refinery ...": the answer is a name ending in that noun ("the Northgate Road").
_NAMED_KINDS = (
    "road|mine|project|refinery|plant|facility|smelter|deposit|district|order|act|law|program|programme|fund|"
    "agency|office|bank|company|corporation|loan|list|rule|report|strategy|initiative|partnership"
)
_ASKS_NAMED = re.compile(rf"\b(?:what|which)\s+(?:\w+\s+)?({_NAMED_KINDS})\b", re.I)


# One pattern per kind: a capitalised name ending in that noun, itself capitalised ("Defense Production Act").
_NAMED = {
    kind: re.compile(rf"\b(?:[A-Z][\w.&'-]*\s+){{1,5}}{kind.capitalize()}\b") for kind in _NAMED_KINDS.split("|")
}
_NAMED_PATTERNS = frozenset(_NAMED.values())


def is_named_kind(pattern: re.Pattern[str]) -> bool:
    """A name pattern only prefers sentences; unlike an amount or a date, its absence is no reason to refuse."""
    return pattern in _NAMED_PATTERNS


def expected_pattern(question: str) -> re.Pattern[str] | None:
    """What the question asks for: an amount, a percentage, a date, a quantity or a name (None if open)."""
    for asks, pattern in _ANSWER_TYPES:
        if asks.search(question):
            return pattern
    named = _ASKS_NAMED.search(question)
    if named:
        return _NAMED[named.group(1).lower()]
    return None


_NAME = re.compile(r"\b[A-Z][a-z]{2,}\b")
# Between "what"/"which" and the noun asked about: a copula and determiners ("what is the price floor ...").
_COPULA = r"(?:is|are|was|were|the|a|an|its|their|this|that)"
# Words that end the noun phrase asked about: prepositions, auxiliaries, relatives and the verbs questions use.
_PHRASE_END = (
    "of|on|in|for|to|from|at|by|with|did|does|do|will|would|is|are|was|were|has|have|had|can|could|should|may|"
    "might|must|that|which|who|came|come|comes|apply|applies|applied|carry|carries|cover|covers|covered|take|takes|"
    "took|make|makes|made|give|gives|gave|set|sets|say|says|said|require|requires|required|show|shows|showed|"
    "include|includes|included|impose|imposes|imposed|get|gets|got|go|goes|went|run|runs|ran"
)
_HEAD = re.compile(
    rf"\b(?:which|what|how many|how much)\s+(?:{_COPULA}\s+)*(?P<phrase>(?:[\w-]+\s+){{0,4}}?[a-z][\w-]*)"
    rf"(?=\s+(?:{_PHRASE_END})\b|\s*\?)",
)
# "What did the agency lend", "how much does it cost": an auxiliary right after the question word puts the
# subject next, and the phrase's last word is a verb, not the noun asked about.
_AUX_NEXT = re.compile(
    r"\b(?:which|what|how many|how much)\s+(?:did|does|do|will|would|can|could|has|have|had|should)\b"
)
_PRONOUNS = frozenset("it its they them this that these those he she one ones".split())


_QUESTION_OPENERS = frozenset(
    "which what who whom whose when where why how and but the in on for is are was were did does".split()
) | {m.lower() for m in text.MONTH_NAMES}


def question_names(question: str) -> list[str]:
    """Capitalised names in the question other than its first word and the glossary's terms."""
    known = known_words()
    return [
        m.group(0)
        for m in _NAME.finditer(question)
        if m.start() > 0 and m.group(0).lower() not in known and m.group(0).lower() not in _QUESTION_OPENERS
    ]


def asked_head(question: str) -> str | None:
    """The noun a question asks for: 'city' in 'In which city will ...', 'rate' in 'What tariff rate came ...'."""
    lowered = question.lower()
    match = _HEAD.search(lowered)
    if not match or _AUX_NEXT.match(lowered, match.start()):
        return None
    head = match.group("phrase").split()[-1]
    return None if head in _PRONOUNS else head



MINERAL = _MINERAL


@dataclass(frozen=True, slots=True)
class Question:
    """What a question asks, read once (see :func:`parse_question`)."""

    text: str
    wanted: re.Pattern[str] | None  # the kind of value that answers it; None for an open question
    names: tuple[str, ...]  # capitalised names it gives, other than the glossary's terms
    head: str | None  # the noun it asks about ("jobs" in "how many jobs")
    listing: bool  # asks for several things ("which companies", "list")
    comparison: bool  # compares ("larger", "compare", "versus")
    trend: bool = False  # asks how something moved across periods ("over time", "across quarters", "trend")


@functools.lru_cache(maxsize=1024)
def parse_question(question: str) -> Question:
    return Question(
        text=question,
        wanted=expected_pattern(question),
        names=tuple(question_names(question)),
        head=asked_head(question),
        listing=bool(_LIST_WORDS.search(question)),
        comparison=bool(_COMPARISON.search(question)),
        trend=bool(_TREND.search(question)),
    )
