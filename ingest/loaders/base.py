"""The raw result every loader returns, and the byte checks and decoding the text formats share."""

from __future__ import annotations

import codecs
import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from policyqa.errors import LoadError
from policyqa.types import Section

log = logging.getLogger(__name__)

SNIFF_BYTES = 64 * 1024
_ALLOWED_CONTROLS = frozenset(b"\t\n\r\f")
_CONTROL_BYTES = frozenset(range(32)) | {127}
_MAX_CONTROL_SHARE = 0.10
_CP1252_MARGIN = 0.1
# Every C0 and C1 control but tab and newline: a terminal acts on them (ESC sequences clear the screen, recolour
# text or, as OSC 8, make links), so document text must never carry them to `policyqa ask`.
_CONTROL_CHARS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


@dataclass(frozen=True, slots=True)
class RawDocument:
    """What a loader found in one file, before metadata from outside the file is merged in."""

    sections: tuple[Section, ...]
    fields: dict[str, object]
    first_heading: str | None = None
    warnings: tuple[str, ...] = ()


def strip_controls(text: str) -> str:
    """``text`` without control characters (carriage returns and form feeds become newlines)."""
    return _CONTROL_CHARS.sub("", text.replace("\r\n", "\n").replace("\r", "\n").replace("\f", "\n"))


def assemble_sections(parts: Iterable[tuple[str, int | None, tuple[str, ...]]]) -> tuple[Section, ...]:
    """Build sections from (text, page, headings) triples, dropping empty texts and control characters.

    Offsets assume the document text is the section texts joined with a blank line,
    which is how ``LoadedDocument.text`` is defined.
    """
    sections: list[Section] = []
    offset = 0
    for text, page, headings in parts:
        text, headings = strip_controls(text), tuple(strip_controls(h) for h in headings)
        if not text.strip():
            continue
        sections.append(Section(text=text, page=page, headings=headings, offset=offset))
        offset += len(text) + 2
    return tuple(sections)


def fold_lone_headings(
    parts: Iterable[tuple[str, tuple[str, ...], bool]],
) -> list[tuple[str, None, tuple[str, ...]]]:
    """Prepend each heading-only part to the next part when that part lies under it.

    Parts are (text, headings, heading_only). "# Title" directly followed by "## Intro"
    then gives one section under ("Title", "Intro") instead of a section holding only a title.
    """
    items = [item for item in parts if item[0].strip()]
    folded: list[tuple[str, None, tuple[str, ...]]] = []
    pending = ""
    for index, (text, headings, heading_only) in enumerate(items):
        text = pending + text
        following = items[index + 1][1] if index + 1 < len(items) else ()
        if heading_only and len(following) > len(headings) and following[: len(headings)] == headings:
            pending = text + "\n\n"
            continue
        folded.append((text, None, headings))
        pending = ""
    return folded


def read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise LoadError(f"{path.name}: cannot read the file ({exc.strerror or exc})") from exc


def _utf16_bom(data: bytes) -> bool:
    return data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE))


def utf16_without_bom(data: bytes) -> str | None:
    """'utf-16-le' or 'utf-16-be' for UTF-16 text without a byte-order mark, else None.

    Text in Latin script stored as UTF-16 has a zero high byte in most code units: zeros at nearly every odd
    offset (little-endian) or every even one (big-endian), and almost none at the others. Binary data does not.
    """
    sample = data[:SNIFF_BYTES]
    sample = sample[: len(sample) - len(sample) % 2]
    if len(sample) < 4:
        return None
    even, odd = sample[0::2], sample[1::2]
    even_zeros, odd_zeros = even.count(0) / len(even), odd.count(0) / len(odd)
    for encoding, zeros, others in (("utf-16-le", odd_zeros, even_zeros), ("utf-16-be", even_zeros, odd_zeros)):
        if zeros >= 0.6 and others <= 0.05:
            try:
                text = sample.decode(encoding)
            except UnicodeDecodeError:
                return None
            controls = sum(1 for ch in text if ord(ch) < 32 and ch not in "\t\n\r\f")
            return encoding if controls <= _MAX_CONTROL_SHARE * len(text) else None
    return None


def check_text_bytes(data: bytes, name: str) -> None:
    """Raise LoadError when ``data`` is empty, only whitespace, or looks like binary data."""
    wide = "utf-16" if _utf16_bom(data) else utf16_without_bom(data)
    if wide:
        if not data.decode(wide, errors="replace").strip("\ufeff \t\r\n\f"):
            raise LoadError(f"{name}: empty file")
        return
    if not data.removeprefix(codecs.BOM_UTF8).strip():
        raise LoadError(f"{name}: empty file")
    sample = data[:SNIFF_BYTES]
    if b"\x00" in sample:
        raise LoadError(f"{name}: binary data, not text")
    controls = sum(1 for byte in sample if byte in _CONTROL_BYTES and byte not in _ALLOWED_CONTROLS)
    if controls > _MAX_CONTROL_SHARE * len(sample):
        raise LoadError(f"{name}: binary data, not text")


def decode_text(data: bytes, name: str) -> tuple[str, tuple[str, ...]]:
    """Decode text bytes as UTF-8, else the detected encoding, else Latin-1; warn when not UTF-8.

    Line endings are normalised to ``\\n``.
    """
    warnings: tuple[str, ...] = ()
    wide = utf16_without_bom(data) if not _utf16_bom(data) else None
    if _utf16_bom(data):
        text = data.decode("utf-16", errors="replace")
    elif wide:
        text = data.decode(wide, errors="replace")
        warnings = (f"{name}: UTF-16 without a byte-order mark; decoded as {wide}",)
    else:
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            encoding, text = _decode_guess(data)
            warnings = (f"{name}: not UTF-8; decoded as {encoding}",)
            log.info("%s decoded as %s", name, encoding)
    return text.replace("\r\n", "\n").replace("\r", "\n"), warnings


def _decode_guess(data: bytes) -> tuple[str, str]:
    try:
        from charset_normalizer import from_bytes
    except ImportError:
        return "latin-1", data.decode("latin-1")
    matches = list(from_bytes(data))
    if not matches:
        return "latin-1", data.decode("latin-1")
    best = matches[0]
    # Short Western text scores alike in several code pages (cp1250, cp1257, ...);
    # the corpus is English, where cp1252 is by far the likeliest of them.
    for match in matches:
        if match.encoding == "cp1252" and match.chaos <= best.chaos + _CP1252_MARGIN:
            return "cp1252", str(match)
    return best.encoding, str(best)


def read_text(path: Path) -> tuple[str, tuple[str, ...]]:
    """Read a text-like file, rejecting empty and binary files, and decode it."""
    data = read_bytes(path)
    check_text_bytes(data, path.name)
    return decode_text(data, path.name)
