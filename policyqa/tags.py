"""The minerals and jurisdictions chunks are tagged with, usable as retrieval filters."""

from __future__ import annotations

import re

MINERALS: dict[str, tuple[str, ...]] = {
    "lithium": ("lithium",),
    "rare earths": ("rare earth", "rare-earth", "ndpr", "neodymium", "praseodymium", "ndfeb"),
    "copper": ("copper",),
    "zinc": ("zinc",),
    "germanium": ("germanium",),
    "gallium": ("gallium",),
    "antimony": ("antimony",),
}
JURISDICTIONS: dict[str, tuple[str, ...]] = {
    "Alaska": ("alaska", "ambler", "brooks range"),
    "Arizona": ("arizona",),
    "Nevada": ("nevada", "thacker pass", "humboldt county"),
    "California": ("california", "mountain pass"),
    "Tennessee": ("tennessee", "clarksville"),
}
TAGS: tuple[str, ...] = (*MINERALS, *JURISDICTIONS)


def tag_key(tag: str) -> str:
    """The Chroma metadata key of a tag: ``tag_rare_earths``."""
    return "tag_" + re.sub(r"\W+", "_", tag.lower()).strip("_")
