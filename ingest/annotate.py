"""Tags and dates a chunk carries: minerals and jurisdictions it mentions (vocabulary data), dates its text states."""

from __future__ import annotations

from policyqa.tags import jurisdictions, minerals
from policyqa.text import dates_in

__all__ = ["dates_in", "tags_for"]


def tags_for(text: str) -> tuple[str, ...]:
    lowered = text.lower()
    words = (*minerals().items(), *jurisdictions().items())
    return tuple(tag for tag, said in words if any(w in lowered for w in said))
