"""The field's acronyms and alternative names, used to expand queries in both directions."""

from __future__ import annotations

import re
from collections.abc import Iterable

# Each group names one thing; any member found in a question brings the others into the search.
GROUPS: tuple[tuple[str, ...], ...] = (
    ("DoD", "Department of Defense", "Defense Department", "Department of War", "Pentagon"),
    ("DOE", "Department of Energy", "Energy Department"),
    ("DOI", "Department of the Interior", "Interior Department"),
    ("DPA", "Defense Production Act"),
    ("DPA Title III", "Title III of the Defense Production Act"),
    ("NdPr", "neodymium-praseodymium"),
    ("NdFeB", "neodymium-iron-boron"),
    ("FAST-41", "FAST-41 transparency", "Fixing America's Surface Transportation Act"),
    ("USGS", "U.S. Geological Survey", "Geological Survey"),
    ("ATVM", "Advanced Technology Vehicles Manufacturing"),
    ("DFC", "Development Finance Corporation"),
    ("EXIM", "Export-Import Bank"),
    ("OSC", "Office of Strategic Capital"),
    ("LPO", "Loan Programs Office"),
    ("Section 232", "Section 232 investigation", "national-security review of imports"),
    ("EO", "Executive Order"),
    ("GM", "General Motors"),
    ("LAC", "Lithium Americas"),
    ("MP", "MP Materials"),
    ("TMQ", "Trilogy Metals"),
    ("rare earths", "rare-earth", "rare earth elements"),
)

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
