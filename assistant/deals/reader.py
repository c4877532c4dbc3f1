"""The seam between the deal table and whoever reads the passages: the rule reader or a language model."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol, runtime_checkable

from assistant.deals.model import Reading
from assistant.deals.recognisers import NameBook
from policyqa.types import StoredChunk


@runtime_checkable
class DealReader(Protocol):
    """Reads chunks into facts. Contract (tests/unit/test_deal_readers.py): every fact cites a chunk it was given,
    and its quote is exactly ``chunk.text[start:end]`` of that chunk."""

    name: str

    def read(self, chunks: Iterable[StoredChunk], *, book: NameBook | None = None) -> Reading:
        """Facts per chunk id; ``book`` is the corpus's learned names (learned from ``chunks`` when omitted)."""
        ...
