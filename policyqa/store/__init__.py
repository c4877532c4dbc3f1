"""Storage: Chroma for vectors, SQLite beside it for the document registry and the lexical index."""

from __future__ import annotations

from policyqa.store.corpus import CorpusStore, open_store

__all__ = ["CorpusStore", "open_store"]
