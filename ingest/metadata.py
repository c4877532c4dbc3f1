"""Document metadata: a sidecar ``.meta.yaml``, in-file fields and fallbacks merged into a DocumentMeta."""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import re
import unicodedata
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import yaml

from ingest.bounded_yaml import YamlRefused, load_bounded_yaml
from policyqa.errors import LoadError
from policyqa.types import DocType, DocumentMeta

if TYPE_CHECKING:
    from ingest.loaders.base import RawDocument

log = logging.getLogger(__name__)

SIDECAR_SUFFIX = ".meta.yaml"
SLUG_MAX_CHARS = 60
_HASH_BLOCK = 1024 * 1024
_SIDECAR_SEPARATOR = b"\x00policyqa-sidecar\x00"
_ISO_DATE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})(?:$|[T ])")
_DATE_FORMATS = (
    "%Y-%m-%d",
    "%Y/%m/%d",
    "%B %d, %Y",
    "%b %d, %Y",
    "%B %d %Y",
    "%b %d %Y",
    "%d %B %Y",
    "%d %b %Y",
    "%d %B, %Y",
    "%b. %d, %Y",
    "%m/%d/%Y",
    "%Y%m%d",
)


def sidecar_path(path: Path) -> Path:
    """The metadata sidecar of ``path``: ``a.pdf`` -> ``a.pdf.meta.yaml``."""
    return path.with_name(path.name + SIDECAR_SUFFIX)


def read_sidecar(path: Path) -> dict[str, object]:
    """Read the fields in ``path``'s sidecar, or an empty dict when there is none.

    Raises:
        LoadError: the sidecar exists but cannot be read or is not a YAML mapping.
    """
    sidecar = sidecar_path(path)
    if not sidecar.is_file():
        return {}
    if sidecar.is_symlink() and not sidecar.resolve().is_relative_to(sidecar.parent.resolve()):
        raise LoadError(f"{sidecar.name}: symbolic link to a file outside the folder; not followed")
    try:
        data = load_bounded_yaml(sidecar.read_text(encoding="utf-8-sig"))
    except YamlRefused as exc:
        raise LoadError(f"{sidecar.name}: metadata sidecar refused ({exc})") from None
    except OSError as exc:
        raise LoadError(f"{sidecar.name}: cannot read the metadata sidecar ({exc.strerror or exc})") from exc
    except UnicodeDecodeError as exc:
        raise LoadError(f"{sidecar.name}: malformed metadata sidecar (not UTF-8 text)") from exc
    except yaml.YAMLError as exc:
        raise LoadError(f"{sidecar.name}: malformed metadata sidecar ({yaml_error_reason(exc)})") from exc
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise LoadError(f"{sidecar.name}: malformed metadata sidecar (expected a mapping of fields)")
    return {str(key).strip().lower(): value for key, value in data.items()}


def yaml_error_reason(exc: yaml.YAMLError, *, first_line: int = 1) -> str:
    """A one-line description of a YAML error, with its line number counted from ``first_line``."""
    problem = getattr(exc, "problem", None) or getattr(exc, "context", None)
    mark = getattr(exc, "problem_mark", None)
    if problem and mark is not None:
        return f"{problem} at line {mark.line + first_line}"
    text = " ".join(str(exc).split())
    return text[:120] or type(exc).__name__


def build_meta(path: Path, raw: RawDocument, *, content_hash: str) -> DocumentMeta:
    """Merge metadata with precedence sidecar > fields found in the file > fallbacks.

    Raises:
        LoadError: the sidecar is malformed.
    """
    layers = (read_sidecar(path), {str(k).strip().lower(): v for k, v in raw.fields.items()})
    title = _text(_pick(layers, "title")) or (raw.first_heading or "").strip() or prettify_stem(path)
    doc_id = slugify(_text(_pick(layers, "doc_id"))) or make_doc_id(path)
    return DocumentMeta(
        doc_id=doc_id,
        title=title,
        source=str(path.resolve()),
        doc_type=DocType.parse(_pick(layers, "doc_type", "type")),
        published=normalise_date(_pick(layers, "published", "date")),
        publisher=_text(_pick(layers, "publisher", "author")) or None,
        content_hash=content_hash,
        sources=_sources(layers),
    )


def _pick(layers: Sequence[Mapping[str, object]], *keys: str) -> object:
    for layer in layers:
        for key in keys:
            value = layer.get(key)
            if value is not None and value != "" and value != []:
                return value
    return None


def _text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, (list, tuple)):
        return ", ".join(_text(item) for item in value if _text(item))
    return " ".join(str(value).split())


def _sources(layers: Sequence[Mapping[str, object]]) -> tuple[str, ...]:
    for layer in layers:
        found: list[str] = []
        for key in ("sources", "url"):
            value = layer.get(key)
            items = value if isinstance(value, (list, tuple)) else [value]
            found.extend(_text(item) for item in items if _text(item))
        if found:
            return tuple(dict.fromkeys(found))
    return ()


def normalise_date(value: object) -> str | None:
    """Return ``value`` as an ISO date (YYYY-MM-DD), or None when it is missing or unparseable.

    Accepts dates, datetimes, 8-digit integers (20250710) and strings such as
    "2025-07-10", "2025-07-10T08:00:00Z", "July 10, 2025" and "10 July 2025".
    """
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, dt.datetime):
        return value.date().isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, int):
        value = str(value)
    text = " ".join(str(value).split())
    if not text:
        return None
    iso = _ISO_DATE.match(text)
    if iso:
        return _valid_date(*(int(part) for part in iso.groups()))
    for fmt in _DATE_FORMATS:
        try:
            return dt.datetime.strptime(text, fmt).date().isoformat()
        except ValueError:
            continue
    return _parse_with_dateutil(text)


def _valid_date(year: int, month: int, day: int) -> str | None:
    try:
        return dt.date(year, month, day).isoformat()
    except ValueError:
        return None


def _parse_with_dateutil(text: str) -> str | None:
    try:
        from dateutil import parser
    except ImportError:
        return None
    try:
        parsed = parser.parse(text, default=dt.datetime(1, 1, 1))
    except (ValueError, OverflowError) as exc:
        log.debug("unparseable date %r: %s", text, exc)
        return None
    if parsed.year < 1000:
        return None
    return parsed.date().isoformat()


def slugify(text: str, *, max_chars: int = SLUG_MAX_CHARS) -> str:
    """Lowercase ASCII letters, digits and single hyphens, at most ``max_chars`` long."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")
    return slug[:max_chars].rstrip("-")


def make_doc_id(path: Path) -> str:
    """A stable id from the file name alone, so moving the folder keeps it: ``mp-materials-8k-1a2b3c4d``."""
    digest = hashlib.sha1(path.name.encode("utf-8"), usedforsecurity=False).hexdigest()[:8]
    return f"{slugify(path.stem) or 'doc'}-{digest}"


def prettify_stem(path: Path) -> str:
    """A readable title from a file name: ``eo-14241-mineral-production.pdf`` -> ``Eo 14241 Mineral Production``."""
    words = re.split(r"[\s_\-.]+", path.stem)
    return " ".join(word[:1].upper() + word[1:] for word in words if word) or path.name


def content_hash_of(path: Path) -> str:
    """SHA-256 of the file's bytes followed by its sidecar's, so editing either counts as a change.

    Raises:
        LoadError: the file cannot be read.
    """
    digest = hashlib.sha256()
    try:
        with path.open("rb") as stream:
            while block := stream.read(_HASH_BLOCK):
                digest.update(block)
        sidecar = sidecar_path(path)
        if sidecar.is_file():
            digest.update(_SIDECAR_SEPARATOR)
            digest.update(sidecar.read_bytes())
    except OSError as exc:
        raise LoadError(f"{path.name}: cannot read the file ({exc.strerror or exc})") from exc
    return digest.hexdigest()
