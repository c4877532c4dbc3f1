"""Markdown loader: YAML front matter becomes fields, ATX headings (# to ###) split the sections."""

from __future__ import annotations

import logging
import re
from pathlib import Path

import yaml

from ingest.bounded_yaml import YamlRefused, load_bounded_yaml
from ingest.loaders.base import RawDocument, assemble_sections, fold_lone_headings, read_text
from ingest.metadata import yaml_error_reason
from policyqa.errors import LoadError

log = logging.getLogger(__name__)

_HEADING = re.compile(r"^ {0,3}(#{1,3})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$")
_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
_FRONT_MATTER_END = ("---", "...")


def load_markdown(path: Path) -> RawDocument:
    """Load a Markdown file, keeping each section's Markdown as written.

    Raises:
        LoadError: the file is unreadable, empty or binary.
    """
    text, warnings = read_text(path)
    try:
        fields, body, fm_warning = split_front_matter(text)
    except YamlRefused as exc:
        raise LoadError(f"{path.name}: front matter refused ({exc})") from None
    if fm_warning:
        warnings += (f"{path.name}: {fm_warning}",)
        log.info("%s: %s", path.name, fm_warning)
    parts, first_heading = _split_sections(body)
    sections = assemble_sections(parts)
    if not sections:
        warnings += (f"{path.name}: no text besides the front matter",)
    return RawDocument(sections=sections, fields=fields, first_heading=first_heading, warnings=warnings)


def split_front_matter(text: str) -> tuple[dict[str, object], str, str | None]:
    """Return (front matter fields, body, warning); malformed front matter gives no fields and a warning.

    Raises:
        YamlRefused: the front matter is well-formed but too large, deep or aliased to be metadata.
    """
    lines = text.split("\n")
    if not lines or lines[0].rstrip() != "---":
        return {}, text, None
    for end in range(1, len(lines)):
        if lines[end].rstrip() in _FRONT_MATTER_END:
            break
    else:
        return {}, text, "front matter has no closing '---' line; ignored"
    block = "\n".join(lines[1:end])
    body = "\n".join(lines[end + 1 :])
    try:
        data = load_bounded_yaml(block)
    except yaml.YAMLError as exc:
        return {}, body, f"malformed front matter ignored ({yaml_error_reason(exc, first_line=2)})"
    if data is None:
        return {}, body, None
    if not isinstance(data, dict):
        return {}, body, "front matter is not a mapping; ignored"
    return {str(key).strip().lower(): value for key, value in data.items()}, body, None


def _split_sections(body: str) -> tuple[list[tuple[str, None, tuple[str, ...]]], str | None]:
    parts: list[tuple[str, tuple[str, ...], bool]] = []
    stack: list[tuple[int, str]] = []
    current: list[str] = []
    headings: tuple[str, ...] = ()
    starts_with_heading = False
    first_heading: str | None = None
    fence: str | None = None
    for line in body.split("\n"):
        fence_match = _FENCE.match(line)
        if fence_match:
            marker = fence_match.group(1)
            if fence is None:
                fence = marker
            elif marker[0] == fence[0] and len(marker) >= len(fence):
                fence = None
        elif fence is None:
            heading = _HEADING.match(line)
            if heading:
                parts.append(_part(current, headings, starts_with_heading))
                level = len(heading.group(1))
                title = (heading.group(2) or "").strip()
                stack = [(lvl, text) for lvl, text in stack if lvl < level]
                if title:
                    stack.append((level, title))
                    first_heading = first_heading or title
                headings = tuple(text for _, text in stack)
                current = []
                starts_with_heading = True
        current.append(line)
    parts.append(_part(current, headings, starts_with_heading))
    return fold_lone_headings(parts), first_heading


def _part(lines: list[str], headings: tuple[str, ...], starts_with_heading: bool) -> tuple[str, tuple[str, ...], bool]:
    text = _strip_blank_lines(lines)
    return text, headings, starts_with_heading and "\n" not in text


def _strip_blank_lines(lines: list[str]) -> str:
    start, end = 0, len(lines)
    while start < end and not lines[start].strip():
        start += 1
    while end > start and not lines[end - 1].strip():
        end -= 1
    return "\n".join(lines[start:end])
