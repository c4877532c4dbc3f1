"""Pure presentation for the CLI and the UI: escaped text, the cited sentence marked, Markdown export."""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Sequence
from pathlib import Path

from policyqa.types import Answer, Citation, Passage, StoredChunk, Turn

# Characters Markdown (and Streamlit's LaTeX) would interpret; document text must show them literally.
_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~$&:])")
_MARKER = re.compile(r"\[(\d+)\]")


def escape_markdown(text: str) -> str:
    """Text shown as data: no links, emphasis, HTML or formulas can come out of it."""
    return _MD_SPECIAL.sub(r"\\\1", text)


_TABLE_ROW = re.compile(r"^\s*\|.*\|\s*$")
_TABLE_RULE = re.compile(r"^\s*\|(?:\s*:?-+:?\s*\|)+\s*$")
_CELL_BORDER = re.compile(r"(?<!\\)\|")


def with_tables(text: str, render: Callable[[str], str]) -> str:
    """``render`` applied to the prose of ``text`` and to each cell of the Markdown tables in it (an answer from the
    deal table), the table's own pipes and rule kept, so the table stays a table once the text is escaped."""
    if not any(_TABLE_ROW.match(line) for line in text.splitlines()):
        return render(text)
    out: list[str] = []
    prose: list[str] = []
    for line in text.splitlines():
        if not _TABLE_ROW.match(line):
            prose.append(line)
            continue
        if prose:
            out += [render("\n".join(prose).strip()), ""]
            prose = []
        if _TABLE_RULE.match(line):
            out.append(line.strip())
            continue
        cells = _CELL_BORDER.split(line.strip())[1:-1]
        out.append("| " + " | ".join(render(c.strip().replace("\\|", "|")) for c in cells) + " |")
    if prose:
        out += ["", render("\n".join(prose).strip())]
    return "\n".join(out).strip()


def answer_markdown(answer: Answer, *, link: Callable[[int], str] | None = None) -> str:
    """The answer text, escaped, with ``[n]`` markers visible and unverified sentences flagged.

    With ``link``, each marker becomes a Markdown link to ``link(n)`` (the address that opens source n).
    """
    return with_tables(flag_unsupported(answer, "\u26a0\ufe0f *unverified:* ", ""), lambda part: _marked(part, link))


def _marked(text: str, link: Callable[[int], str] | None) -> str:
    parts = _MARKER.split(text)
    out: list[str] = []
    for i, part in enumerate(parts):
        if i % 2:
            out.append(f"**[[{part}]]({link(int(part))})**" if link else f"**[{part}]**")
        else:
            out.append(escape_markdown(part).replace("\\u26a0", "\u26a0"))
    return "".join(out).replace("\\*unverified\\:\\*", "*unverified:*")


def flag_unsupported(answer: Answer, before: str, after: str) -> str:
    """The answer text with each sentence the grounding check did not support wrapped in markers."""
    text = answer.text
    if answer.support is None:
        return text
    for sentence in answer.support.flagged:
        text = text.replace(sentence, f"{before}{sentence}{after}", 1)
    return text


def support_line(answer: Answer) -> str | None:
    """'Checked: 3 supported, 1 unsupported, 0 uncited' for answers written by a language model."""
    if answer.support is None:
        return None
    r = answer.support
    return f"Checked against the sources: {r.supported} supported, {r.unsupported} unsupported, {r.uncited} uncited"


def location(chunk: StoredChunk) -> str:
    """'Title, p. 3' or 'Title, Section > Subsection' for a citation line."""
    headings = [h for h in chunk.headings if h.strip().lower() != chunk.title.strip().lower()]
    where = f"p. {chunk.page}" if chunk.page is not None else " > ".join(headings)
    return f"{chunk.title}, {where}" if where else chunk.title


def unique_citations(answer: Answer) -> list[Citation]:
    """One citation per number, in number order (several quotes may share a passage)."""
    seen: dict[int, Citation] = {}
    for c in answer.citations:
        seen.setdefault(c.number, c)
    return [seen[n] for n in sorted(seen)]


def quotes_for(answer: Answer, number: int) -> list[tuple[int, int]]:
    return [(c.quote_start, c.quote_end) for c in answer.citations if c.number == number]


def html_text(text: str) -> str:
    """Document text as inert HTML: escaped, line breaks as <br> (a blank line would end an HTML block)."""
    return re.sub(r"\r\n?|\n", "<br>", html.escape(text))


def passage_html(chunk: StoredChunk, spans: Sequence[tuple[int, int]] = ()) -> str:
    """The passage as escaped HTML with the cited sentences in ``<mark>``; nothing in it can run or restyle."""
    return marked_html(chunk.text, spans)


def marked_html(text: str, spans: Sequence[tuple[int, int]] = ()) -> str:
    """``text`` as escaped HTML with each span in ``<mark>`` (overlaps merged) and line breaks as ``<br>``."""
    out: list[str] = []
    cursor = 0
    for start, end in sorted(spans):
        start, end = max(start, cursor), min(end, len(text))
        if start >= end:
            continue
        out.append(html.escape(text[cursor:start]))
        out.append(f"<mark>{html.escape(text[start:end])}</mark>")
        cursor = end
    out.append(html.escape(text[cursor:]))
    return re.sub(r"\r\n?|\n", "<br>", "".join(out))


def section_html(text: str, passage: tuple[int, int], quotes: Sequence[tuple[int, int]] = ()) -> str:
    """A section with the cited passage set apart in a ``<blockquote>`` and its quoted sentences marked."""
    start, end = passage
    inside = [(max(a, start) - start, min(b, end) - start) for a, b in quotes if a < end and b > start]
    parts = [marked_html(text[:start].rstrip()), f"<blockquote>{marked_html(text[start:end], inside)}</blockquote>",
             marked_html(text[end:].lstrip())]
    return "".join(p for p in parts if p)


def source_line(number: int, chunk: StoredChunk) -> str:
    meta = " · ".join(x for x in (chunk.doc_type.value, chunk.published or "", Path(chunk.source).name) if x)
    return f"[{number}] {location(chunk)} ({meta})"


def answer_text(answer: Answer) -> str:
    """Plain text for the terminal: the answer, any notice, then the numbered sources."""
    lines = [flag_unsupported(answer, "[UNVERIFIED: ", "]")]
    if answer.notice:
        lines.append(f"note: {answer.notice}")
    if support_line(answer):
        lines.append(str(support_line(answer)))
    if answer.citations:
        lines.append("")
        lines.append("Sources:")
        for c in unique_citations(answer):
            lines.append("  " + source_line(c.number, c.chunk))
    elif answer.related:
        lines.append("")
        lines.append("Related passages:")
        for i, p in enumerate(answer.related, start=1):
            lines.append("  " + source_line(i, p.chunk))
    return "\n".join(lines)


# Only what would turn prose into markup: emphasis, code, links, HTML, strikethrough, tables. Dots, dollars,
# hyphens and parentheses stay as written, so an exported "$35.6 million." reads as "$35.6 million.".
_EXPORT_SPECIAL = re.compile(r"([\\`*_\[\]<>~|])")
_EXPORT_LINE_START = re.compile(r"^(\s*)([#>+\-=]|\d+[.)])", re.MULTILINE)
_EXPORT_AUTOLINK = re.compile(r"(?i)\b(https?|ftp|mailto|javascript|vbscript|data|file)(:)|\b(www)(\.)")


def export_text(text: str) -> str:
    """Document text for a Markdown file: plain where plain is safe, a backslash only before real markup."""
    text = _EXPORT_SPECIAL.sub(r"\\\1", _squash(text))
    text = _EXPORT_AUTOLINK.sub(lambda m: f"{m.group(1) or m.group(3)}\\{m.group(2) or m.group(4)}", text)
    return _EXPORT_LINE_START.sub(lambda m: f"{m.group(1)}\\{m.group(2)}", text)


def conversation_markdown(turns: Sequence[Turn], *, title: str = "policyqa conversation") -> str:
    """A Markdown export of a chat: questions and answers, then one numbered list of every source cited.

    Sources are numbered once for the whole chat (the same passage keeps its number across answers), and a
    marker repeated on consecutive sentences is written once, after the last of them.
    """
    numbers: dict[str, int] = {}
    sources: list[tuple[Citation, list[str]]] = []
    lines = [f"# {export_text(title)}", ""]
    for n, turn in enumerate(turns, start=1):
        lines += [f"## {n}. {export_text(turn.question)}", ""]
        answer = turn.answer
        local: dict[int, int] = {}
        for c in answer.citations:
            key = f"{c.chunk.chunk_id}"
            if key not in numbers:
                numbers[key] = len(numbers) + 1
                sources.append((c, []))
            local.setdefault(c.number, numbers[key])
            quote = _squash(c.quote)
            quotes = sources[numbers[key] - 1][1]
            if quote and quote not in quotes:
                quotes.append(quote)
        text = with_tables(flag_unsupported(answer, "(unverified) ", ""), lambda part: _export_answer(part, local))
        lines += [text if answer.answerable else f"*{text}*", ""]
        if answer.notice:
            lines += [f"Note: {export_text(answer.notice)}", ""]
        if answer.query and answer.query != turn.question:
            lines += [f"Search query: {export_text(answer.query)}", ""]
        if not answer.citations and answer.related:
            lines.append("Related passages: " + "; ".join(export_text(location(p.chunk)) for p in answer.related))
            lines.append("")
    if sources:
        lines += ["## Sources", ""]
        for number, (c, quotes) in enumerate(sources, start=1):
            facts = (c.chunk.doc_type.value, c.chunk.published or "", Path(c.chunk.source).name)
            meta = " \u00b7 ".join(x for x in facts if x)
            lines.append(f"{number}. {export_text(location(c.chunk))} ({export_text(meta)})")
            lines += [f"   > {export_text(q)}" for q in quotes]
        lines.append("")
    return "\n".join(lines)


def _export_answer(text: str, numbers: dict[int, int]) -> str:
    parts = _MARKER.split(text)
    markers = [int(parts[i]) for i in range(1, len(parts), 2)]
    out: list[str] = []
    for i, part in enumerate(parts):
        if not i % 2:
            lead, trail = part[: len(part) - len(part.lstrip())], part[len(part.rstrip()) :]
            out.append(f"{' ' if lead else ''}{export_text(part)}{' ' if trail else ''}" if part.strip() else " ")
            continue
        position = i // 2
        following = markers[position + 1] if position + 1 < len(markers) else None
        if following == int(part):
            if out:
                out[-1] = out[-1].rstrip(" ")
            continue  # the same source again on the next sentence: one marker after the last one
        out.append(f"[{numbers.get(int(part), int(part))}]")
    return re.sub(r" {2,}", " ", "".join(out)).strip()


def related_summary(passages: Sequence[Passage], limit: int = 3) -> list[str]:
    return [location(p.chunk) for p in passages[:limit]]


def _squash(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()
