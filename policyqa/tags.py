"""The minerals and jurisdictions chunks are tagged with (from the vocabulary data), usable as retrieval filters."""

from __future__ import annotations

import re

from policyqa.vocabulary import vocabulary


def minerals() -> dict[str, tuple[str, ...]]:
    return vocabulary().minerals


def jurisdictions() -> dict[str, tuple[str, ...]]:
    return vocabulary().jurisdictions


def tag_key(tag: str) -> str:
    """The Chroma metadata key of a tag: ``tag_rare_earths``."""
    return "tag_" + re.sub(r"\W+", "_", tag.lower()).strip("_")


TAGS: tuple[str, ...] = vocabulary().tags  # read once at import; the vocabulary file is fixed for a process
