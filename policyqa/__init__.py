"""policyqa: cited question answering over policy documents."""

from __future__ import annotations

__version__ = "0.1.0"
