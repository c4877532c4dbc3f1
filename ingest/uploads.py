"""Save files uploaded through the UI: names that cannot escape the upload folder, a size limit."""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path

from ingest.loaders import SUPPORTED_SUFFIXES
from policyqa.errors import PolicyQAError

_UNSAFE = re.compile(r"[^A-Za-z0-9._ -]+")
MAX_NAME = 120


def safe_filename(name: str) -> str:
    """A plain file name from whatever the browser sent: no folders, NUL, control characters or dot-files."""
    name = unicodedata.normalize("NFKC", name or "").replace("\x00", "")
    name = re.split(r"[\\/]", name)[-1]
    name = _UNSAFE.sub("_", name).strip(" .")
    stem, dot, suffix = name.rpartition(".")
    if not dot:
        stem, suffix = name, ""
    suffix = suffix[:10]
    stem = stem[: MAX_NAME - len(suffix) - 1] or "upload"
    return f"{stem}.{suffix}" if suffix else stem


def save_upload(name: str, data: bytes, upload_dir: Path, *, max_mb: float) -> Path:
    """Write an uploaded file under ``upload_dir`` and return its path.

    Raises:
        PolicyQAError: the file is over the size limit, of an unsupported type, or its name is unusable.
    """
    clean = safe_filename(name)
    size_mb = len(data) / 1_048_576
    if size_mb > max_mb:
        raise PolicyQAError(f"{clean}: {size_mb:.1f} MB is over the upload limit of {max_mb:g} MB (POLICYQA_MAX_UPLOAD_MB)")
    if Path(clean).suffix.lower() not in SUPPORTED_SUFFIXES:
        raise PolicyQAError(f"{clean}: unsupported file type; upload PDF, HTML, Markdown or text")
    upload_dir.mkdir(parents=True, exist_ok=True)
    target = (upload_dir / clean).resolve()
    if target.parent != upload_dir.resolve():
        planted = (upload_dir / clean).is_symlink()
        reason = " (a symbolic link out of the upload folder has that name; not followed)" if planted else ""
        raise PolicyQAError(f"{name!r}: not a usable file name{reason}")
    target.write_bytes(data)
    return target
