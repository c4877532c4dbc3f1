"""HTML loader: keeps the readable main content as plain text split at h1-h3, never scripts or page chrome."""

from __future__ import annotations

import logging
from pathlib import Path

from bs4 import BeautifulSoup, NavigableString, Tag
from bs4.element import PageElement, PreformattedString

from ingest.loaders.base import RawDocument, assemble_sections, check_text_bytes, fold_lone_headings, read_bytes
from policyqa.errors import LoadError

log = logging.getLogger(__name__)

_DROPPED_TAGS = (
    "script",
    "style",
    "noscript",
    "nav",
    "header",
    "footer",
    "aside",
    "form",
    "iframe",
    "svg",
    "template",
    "button",
    "object",
    "embed",
    "canvas",
    "dialog",
)
_DROPPED_ROLES = frozenset({"navigation", "banner", "contentinfo", "search"})
_SECTION_LEVELS = {"h1": 1, "h2": 2, "h3": 3}
_CONTENT_MARKERS = ("main", "article", "h1", "h2")
_BLOCK_TAGS = frozenset(
    {
        "address",
        "article",
        "blockquote",
        "body",
        "caption",
        "dd",
        "details",
        "div",
        "dl",
        "dt",
        "fieldset",
        "figcaption",
        "figure",
        "h4",
        "h5",
        "h6",
        "hr",
        "html",
        "li",
        "main",
        "ol",
        "p",
        "section",
        "summary",
        "table",
        "tbody",
        "tfoot",
        "thead",
        "ul",
    }
)
_PUBLISHED_KEYS = (
    "article:published_time",
    "date",
    "dc.date",
    "dc.date.issued",
    "dcterms.date",
    "dcterms.issued",
    "pubdate",
    "citation_publication_date",
)
_PUBLISHER_KEYS = ("publisher", "og:site_name", "author", "dc.publisher", "dcterms.publisher")


def load_html(path: Path) -> RawDocument:
    """Load an HTML page as plain text: main content only, sections at h1-h3 with heading paths.

    Raises:
        LoadError: the file is unreadable, empty, binary or absurdly nested.
    """
    data = read_bytes(path)
    check_text_bytes(data, path.name)
    try:
        return _parse(data, path.name)
    except RecursionError as exc:
        raise LoadError(f"{path.name}: HTML is nested too deeply to read") from exc


def _parse(data: bytes, name: str) -> RawDocument:
    soup = BeautifulSoup(data, "html.parser")
    fields = _meta_fields(soup)
    title_tag = next((t for t in soup.find_all("title") if t.find_parent("svg") is None), None)
    title = _collapse(title_tag.get_text(" ")) if isinstance(title_tag, Tag) else ""
    walker = _Walker()
    walker.walk(_main_content(soup))
    walker.flush()
    title = title or walker.first_h1 or ""
    if title:
        fields["title"] = title
    sections = assemble_sections(walker.parts())
    warnings: tuple[str, ...] = ()
    if not sections:
        warnings = (f"{name}: no readable text in the page",)
        log.info("%s: no readable text", name)
    return RawDocument(sections=sections, fields=fields, first_heading=walker.first_heading, warnings=warnings)


def _meta_fields(soup: BeautifulSoup) -> dict[str, object]:
    found: dict[str, str] = {}
    for meta in soup.find_all("meta"):
        if not isinstance(meta, Tag):
            continue
        key = str(meta.get("name") or meta.get("property") or meta.get("itemprop") or "").strip().lower()
        content = _collapse(str(meta.get("content") or ""))
        if key and content and key not in found:
            found[key] = content
    fields: dict[str, object] = {}
    if "description" in found:
        fields["description"] = found["description"]
    for key in _PUBLISHED_KEYS:
        if key in found:
            fields["published"] = found[key]
            break
    for key in _PUBLISHER_KEYS:
        if key in found:
            fields["publisher"] = found[key]
            break
    return fields


def _is_dropped(tag: Tag) -> bool:
    """True for page chrome and anything never shown as text: scripts, navigation, forms, hidden elements."""
    if tag.name in _DROPPED_TAGS:
        # A <header> inside the article usually holds the article's own title and date.
        if tag.name == "header" and tag.find_parent(("article", "main")) is not None:
            return False
        # ASP.NET WebForms pages wrap the whole page, content included, in one <form>.
        return not (tag.name == "form" and tag.find(list(_CONTENT_MARKERS)) is not None)
    role = str(tag.get("role") or "").strip().lower()
    return role in _DROPPED_ROLES or tag.has_attr("hidden") or str(tag.get("aria-hidden")).lower() == "true"


def _main_content(soup: BeautifulSoup) -> Tag:
    main = soup.find("main") or soup.find(True, attrs={"role": "main"})
    if isinstance(main, Tag):
        return main
    articles = soup.find_all("article")
    if len(articles) == 1 and isinstance(articles[0], Tag):
        return articles[0]
    body = soup.find("body")
    if isinstance(body, Tag):
        return body
    return soup


def _is_text(node: object) -> bool:
    return isinstance(node, NavigableString) and not isinstance(node, PreformattedString)


def _collapse(text: str) -> str:
    return " ".join(text.split())


def _inline_text(tag: Tag, *, preformatted: bool = False) -> str:
    """The text inside ``tag`` without dropped elements; whitespace collapsed unless ``preformatted``."""
    pieces: list[str] = []
    pending: list[PageElement] = list(reversed(list(tag.children)))
    while pending:
        node = pending.pop()
        if _is_text(node):
            pieces.append(str(node))
        elif isinstance(node, Tag) and not _is_dropped(node):
            if node.name == "br":
                pieces.append("\n" if preformatted else " ")
            elif not preformatted and (node.name in _BLOCK_TAGS or node.name in ("td", "th")):
                pieces.append(" ")
            pending.extend(reversed(list(node.children)))
    text = "".join(pieces)
    if preformatted:
        return "\n".join(line.rstrip() for line in text.strip("\n").split("\n"))
    return _collapse(text)


class _Walker:
    """Collects block texts in document order, starting a new section at each h1-h3."""

    def __init__(self) -> None:
        self._sections: list[tuple[tuple[str, ...], list[str]]] = [((), [])]
        self._stack: list[tuple[int, str]] = []
        self._inline: list[str] = []
        self.first_heading: str | None = None
        self.first_h1: str | None = None

    def walk(self, root: Tag) -> None:
        """Visit ``root``'s content in document order; iterative, so deeply nested pages cannot overflow the stack."""
        pending: list[PageElement | None] = list(reversed(list(root.children)))
        while pending:
            node = pending.pop()
            if node is None:
                self.flush()
            elif _is_text(node):
                self._inline.append(str(node))
            elif not isinstance(node, Tag) or _is_dropped(node):
                continue
            elif node.name in _SECTION_LEVELS:
                self._heading(node)
            elif node.name == "pre":
                self.flush()
                self._add(_inline_text(node, preformatted=True))
            elif node.name == "tr":
                self.flush()
                cells = [_inline_text(cell) for cell in node.find_all(("td", "th"), recursive=False)]
                self._add(" | ".join(cell for cell in cells if cell))
            elif node.name == "br":
                self._inline.append(" ")
            else:
                if node.name in _BLOCK_TAGS:
                    self.flush()
                    pending.append(None)
                pending.extend(reversed(list(node.children)))

    def flush(self) -> None:
        if self._inline:
            self._add(_collapse("".join(self._inline)))
            self._inline = []

    def parts(self) -> list[tuple[str, None, tuple[str, ...]]]:
        return fold_lone_headings(
            ("\n\n".join(blocks), headings, bool(headings) and len(blocks) == 1) for headings, blocks in self._sections
        )

    def _heading(self, tag: Tag) -> None:
        self.flush()
        text = _inline_text(tag)
        if not text:
            return
        level = _SECTION_LEVELS[tag.name]
        self._stack = [(lvl, title) for lvl, title in self._stack if lvl < level]
        self._stack.append((level, text))
        self.first_heading = self.first_heading or text
        if level == 1:
            self.first_h1 = self.first_h1 or text
        self._sections.append((tuple(title for _, title in self._stack), [text]))

    def _add(self, text: str) -> None:
        if text.strip():
            self._sections[-1][1].append(text)
