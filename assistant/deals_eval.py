"""Kept for imports written before the deal tracker became a package: use :mod:`assistant.deals`."""

from __future__ import annotations

from assistant.deals import Score, field_matches, load_expected, score

__all__ = ["Score", "field_matches", "load_expected", "score"]
