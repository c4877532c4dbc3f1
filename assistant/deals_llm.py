"""Kept for imports written before the deal tracker became a package: use :mod:`assistant.deals`."""

from __future__ import annotations

from assistant.deals import DEALS_SYSTEM, DealRun, LLMDealReader, corpus_key, run_deals

__all__ = ["DEALS_SYSTEM", "DealRun", "LLMDealReader", "corpus_key", "run_deals"]
