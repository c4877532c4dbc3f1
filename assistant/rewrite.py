"""Follow-up questions made standalone: a rule-based rewriter that carries entities and topic forward."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Protocol

from policyqa.text import MONTH_NAMES
from policyqa.types import Turn


class QueryRewriter(Protocol):
    """Turns a question plus the conversation so far into the query that retrieval should use."""

    def rewrite(self, question: str, history: Sequence[Turn]) -> str: ...


_QUESTION_WORDS = frozenset(
    "what which who whom whose when where why how is are was were did does do can could should would will "
    "and but or so the a an in on of for to by with from as at it its this that these those they their "
    "there then also same".split()
)
_PRONOUNS = re.compile(
    r"\b(it|its|it's|one|ones|that|this|these|those|they|them|their|theirs|he|she|his|her|the same|the company|"
    r"the companies|the deal|the stake|the loan|the order|the project|the agreement|the plant|the road|"
    r"the refinery|the mine|the government's|then|there)\b",
    re.IGNORECASE,
)
_WHAT_ABOUT = re.compile(r"^\s*(?:and\s+)?(?:what|how)\s+about\s+(?P<subject>.+?)\s*\??\s*$", re.IGNORECASE)
_AND_ONLY = re.compile(
    r"^\s*and\s+(?!(?:what|which|who|whom|when|where|why|how|is|are|was|were|did|does|do)\b)"
    r"(?P<subject>(?:\S+\s*){1,5}?)\s*\??\s*$",
    re.IGNORECASE,
)
# Names: runs of capitalised words or acronyms, optionally joined by "of"/"and"/"&"; order numbers; tickers.
_ENTITY = re.compile(
    r"(?:\b(?:EO|Executive Order)\s+\d{5}\b)"
    r"|(?:\b(?:[A-Z][\w'&.-]*[A-Za-z0-9]|[A-Z]{2,}[a-z]*)(?:\s+(?:of|and|&|the)?\s*(?:[A-Z][\w'&.-]*[A-Za-z0-9]|[A-Z]{2,}))*)"
)
_CONTENT = re.compile(r"[A-Za-z$%][\w$%.-]*[\w%]|\d[\d.,]*")
_STOP = _QUESTION_WORDS | frozenset(
    "much many big large size amount about been has have had be much did u.s us government federal "
    "announce announced approve approved happen happened same day date year".split()
)


_GENERIC_NAMES = frozenset(
    {"u.s", "us", "the", "department", "government", "president", "the department", "united states", "america"}
    | {m.lower() for m in MONTH_NAMES}
)


def entities(text: str) -> list[str]:
    """Named things in ``text`` (companies, agencies, places, order numbers), first occurrence order."""
    found: list[str] = []
    for match in _ENTITY.finditer(text):
        name = match.group(0).strip(" .,'")
        sentence_start = match.start() == 0 or bool(re.search(r"[.!?:]\s+$|^\W+$", text[max(0, match.start() - 3) : match.start()]))
        if sentence_start and " " not in name and name[1:].islower() and not any(c.isdigit() for c in name):
            continue  # "Under the agreement..." : a capital only because a sentence starts there
        first = name.split()[0].lower()
        if first in _QUESTION_WORDS:
            name = " ".join(name.split()[1:])
        if not name or name.lower() in _QUESTION_WORDS or name.lower() in _GENERIC_NAMES or name in found:
            continue
        found.append(name)
    return found


def content_words(text: str) -> list[str]:
    return [w for w in _CONTENT.findall(text) if w.lower() not in _STOP]


def changes_subject(question: str) -> bool:
    """'What about X?' or 'And X?': the earlier question asked again about a new subject."""
    return bool(_WHAT_ABOUT.match(question) or _AND_ONLY.match(question))


def is_follow_up(question: str) -> bool:
    """Elliptical or anaphoric: 'what about X?', pronouns, or too few words of its own to search with."""
    if changes_subject(question):
        return True
    if _PRONOUNS.search(question):
        return True
    return len(content_words(question)) <= 1


# "that route", "this order", "the same memo", "the two companies": a phrase pointing back at what was discussed,
# even in a question that names something of its own ("How much of that route crosses BLM land?").
_POINTS_BACK = re.compile(
    r"\b(?:that|this|these|those|the same|the two|the three|both|either|such)\s+(?!is\b|was\b|are\b|were\b)[a-z]",
    re.IGNORECASE,
)
MAX_TOPIC_WORDS = 8


class RuleRewriter:
    """Offline follow-up resolution: replaces the subject for 'what about X?', otherwise appends the
    entities of the previous standalone query, the names its answer gave, and its topic words."""

    def rewrite(self, question: str, history: Sequence[Turn]) -> str:
        question = question.strip()
        if not history or not is_follow_up(question):
            return question
        points_back = bool(_POINTS_BACK.search(question))
        if entities(question) and not changes_subject(question) and not points_back:
            # It names its own subject ("Where is Northwind Minerals building its refinery?"): nothing to carry.
            return question
        previous = history[-1].answer.query or history[-1].question
        previous_entities = entities(previous)
        swap = _WHAT_ABOUT.match(question) or _AND_ONLY.match(question)
        if swap:
            subject = swap.group("subject").strip().rstrip("?").rstrip()  # _AND_ONLY's \S+ takes the "?" along
            if previous_entities:
                main = previous_entities[0]
                return previous.replace(main, subject, 1)
            return f"{previous} {subject}"
        # The chain's subject persists through the standalone queries; the names the last answer gave ("the
        # Northgate Road") are what "it" means; the topic words of the last query say what was being asked about.
        answer_entities = [e for e in entities(history[-1].answer.text) if e not in previous_entities][:2]
        carried: list[str] = []
        for e in [*previous_entities, *answer_entities]:
            key = e.lower().removesuffix("'s")
            if key in question.lower() or key in _GENERIC_NAMES or any(key in c.lower() for c in carried):
                continue
            carried.append(e.removesuffix("'s"))
        extra = " ".join(carried)
        asked = {w.lower() for w in content_words(question)}
        topic = [
            w for w in dict.fromkeys(content_words(previous))
            if w.lower() not in asked and w.lower() not in extra.lower() and w.lower() not in _GENERIC_NAMES
        ][:MAX_TOPIC_WORDS]
        extra = " ".join([*carried, *topic])
        return f"{question} {extra}".strip() if extra else question
