"""The field's acronyms and alternative names, used to expand queries in both directions."""

from __future__ import annotations

import re
from collections.abc import Iterable

from policyqa.vocabulary import vocabulary

# Each group names one thing; any member found in a question brings the others into the search. The groups come
# from the vocabulary data file (the field's terms, which a user can edit); no corpus's names are written here.
GROUPS: tuple[tuple[str, ...], ...] = vocabulary().aliases

_INDEX: dict[str, tuple[str, ...]] = {}
for _group in GROUPS:
    for _name in _group:
        _INDEX.setdefault(_name.lower(), ())
        _INDEX[_name.lower()] = tuple(dict.fromkeys(_INDEX[_name.lower()] + _group))


def _pattern(name: str) -> re.Pattern[str]:
    flags = 0 if name.isupper() or any(c.isupper() for c in name[1:]) else re.IGNORECASE
    return re.compile(rf"(?<![\w-]){re.escape(name)}(?![\w-])", flags)


_PATTERNS = [(name, _pattern(name)) for group in GROUPS for name in group]


def synonyms(term: str) -> tuple[str, ...]:
    """Every name of what ``term`` names (itself included), or just ``term``."""
    return _INDEX.get(term.lower(), (term,))


def expansions(text: str) -> list[str]:
    """Alternative names for the glossary terms in ``text`` that ``text`` does not already use."""
    found: list[str] = []
    lowered = text.lower()
    for name, pattern in _PATTERNS:
        if pattern.search(text):
            for other in synonyms(name):
                if other.lower() not in lowered and other not in found:
                    found.append(other)
    return found


def expand_query(text: str) -> str:
    extra = expansions(text)
    return f"{text} ({'; '.join(extra)})" if extra else text


def known_words(names: Iterable[str] | None = None) -> frozenset[str]:
    """Lower-case words of every glossary name: such words are never 'unknown to the corpus'."""
    names = names if names is not None else (n for g in GROUPS for n in g)
    return frozenset(w for n in names for w in re.findall(r"\w+", n.lower()))
