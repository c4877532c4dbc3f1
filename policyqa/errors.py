"""Errors meant for users: each names the file, URL or setting at fault in one line."""

from __future__ import annotations


class PolicyQAError(Exception):
    """Base class; the CLI and UI print ``str(error)`` and no traceback."""


class LoadError(PolicyQAError):
    """A file could not be read into text (corrupt, encrypted, empty, binary, unsupported)."""


class StoreUnavailable(PolicyQAError):
    """The vector store (embedded directory or Chroma server) cannot be opened."""


class StoreBusy(PolicyQAError):
    """Another process holds the writer lock on the store."""


class ConfigError(PolicyQAError):
    """A setting is invalid or names something that does not exist."""


class LLMUnavailable(PolicyQAError):
    """The configured language model failed, timed out or answered nothing usable."""


class StoreDamaged(StoreUnavailable):
    """A file of the store is corrupt or truncated; `policyqa check --repair` rebuilds what it can."""


class StoreFull(PolicyQAError):
    """The disk holding the store is full; what was stored before is kept."""


class StoreReadOnly(PolicyQAError):
    """The store can be read but not written (permissions or a read-only mount)."""
