"""Read one file for ingest, in a parse worker process or inline: a light module, so workers start fast and small."""

from __future__ import annotations

import logging
from pathlib import Path

from ingest.loaders import load_document
from policyqa.errors import PolicyQAError
from policyqa.types import LoadedDocument

log = logging.getLogger(__name__)


def failure_message(path: Path, exc: BaseException) -> str:
    """The one-line outcome message for a file that failed (one bad file never stops the others)."""
    if isinstance(exc, PolicyQAError):
        return str(exc) if path.name in str(exc) else f"{path.name}: {exc}"  # store errors name no file
    if isinstance(exc, OSError):
        return f"{path.name}: {exc.strerror or exc}"
    log.error("unexpected error ingesting %s", path, exc_info=exc)
    return f"{path.name}: {type(exc).__name__}: {exc}"


def load_file(path: Path, content_hash: str, max_pdf_pages: int, pdf_engine: str) -> LoadedDocument | str:
    """Read one file; the document, or the one-line message saying why it failed.

    Failures come back as text, so every exception, whatever its type, reaches the ingest report from a
    worker process exactly as it would from the ingesting process.
    """
    try:
        return load_document(path, content_hash=content_hash, max_pdf_pages=max_pdf_pages, pdf_engine=pdf_engine)
    except Exception as exc:
        return failure_message(path, exc)
