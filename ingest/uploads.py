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
        raise PolicyQAError(f"{clean}: unsupported file type; upload PDF, Word (.docx), HTML, Markdown or text")
    upload_dir.mkdir(parents=True, exist_ok=True)
    target = (upload_dir / clean).resolve()
    if target.parent != upload_dir.resolve():
        planted = (upload_dir / clean).is_symlink()
        reason = " (a symbolic link out of the upload folder has that name; not followed)" if planted else ""
        raise PolicyQAError(f"{name!r}: not a usable file name{reason}")
    target = _free_name(target, data)
    if not target.exists():
        with target.open("xb") as handle:  # "x": never replace a file that appeared meanwhile
            handle.write(data)
    return target


def _free_name(target: Path, data: bytes) -> Path:
    """``target``, or ``name-2.ext``, ``name-3.ext``…: a same-name upload with other content never overwrites.

    The same content uploaded again gets the path it already has, so re-adding it is an unchanged ingest.
    """
    stem, suffix = target.stem, target.suffix
    candidate, number = target, 1
    while candidate.exists() or candidate.is_symlink():
        if candidate.is_file() and not candidate.is_symlink() and candidate.read_bytes() == data:
            return candidate
        number += 1
        candidate = target.with_name(f"{stem}-{number}{suffix}")
    return candidate


def remove_upload(source: str | Path, upload_dir: Path) -> bool:
    """Delete a stored upload (and its metadata sidecar) when ``source`` lies inside ``upload_dir``.

    Files elsewhere (a corpus folder the user ingested) are never touched. Returns True when a file was deleted.
    """
    path = Path(source)
    try:
        inside = path.resolve().is_relative_to(upload_dir.resolve())
    except OSError:
        return False
    if not inside or path.is_symlink() or not path.is_file():
        return False
    path.unlink()
    Path(str(path) + ".meta.yaml").unlink(missing_ok=True)
    return True
