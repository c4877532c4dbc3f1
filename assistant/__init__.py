"""The answering half: retrieval, follow-up rewriting, cited answers, evaluation."""

from __future__ import annotations

from assistant.assistant import Assistant, Conversation

__all__ = ["Assistant", "Conversation"]
