"""Pure presentation for the CLI and the UI: escaped text, the cited sentence marked, Markdown export."""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from pathlib import Path

from policyqa.types import Answer, Citation, Passage, StoredChunk, Turn

# Characters Markdown (and Streamlit's LaTeX) would interpret; document text must show them literally.
_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~$&:])")
_MARKER = re.compile(r"\[(\d+)\]")


def escape_markdown(text: str) -> str:
    """Text shown as data: no links, emphasis, HTML or formulas can come out of it."""
    return _MD_SPECIAL.sub(r"\\\1", text)


def answer_markdown(answer: Answer) -> str:
    """The answer text, escaped, with ``[n]`` markers visible and unverified sentences flagged."""
    text = flag_unsupported(answer, "\u26a0\ufe0f *unverified:* ", "")
    parts = _MARKER.split(text)
    out: list[str] = []
    for i, part in enumerate(parts):
        out.append(f"**[{part}]**" if i % 2 else escape_markdown(part).replace("\\u26a0", "\u26a0"))
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
    text = chunk.text
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


def conversation_markdown(turns: Sequence[Turn], *, title: str = "policyqa conversation") -> str:
    """A Markdown export of a chat with every citation's document, location and quoted sentence."""
    lines = [f"# {title}", ""]
    for n, turn in enumerate(turns, start=1):
        lines += [f"## {n}. {escape_markdown(turn.question)}", ""]
        answer = turn.answer
        lines += [answer_markdown(answer), ""]
        if answer.notice:
            lines += [f"*{escape_markdown(answer.notice)}*", ""]
        if answer.query and answer.query != turn.question:
            lines += [f"Search query: {escape_markdown(answer.query)}", ""]
        if answer.citations:
            lines.append("Sources:")
            lines.append("")
            for c in answer.citations:
                lines.append(f"- {escape_markdown(source_line(c.number, c.chunk))}: "
                             f"\u201c{escape_markdown(_squash(c.quote))}\u201d")
            lines.append("")
        elif answer.related:
            lines.append("Related passages:")
            lines.append("")
            for p in answer.related:
                lines.append(f"- {escape_markdown(location(p.chunk))}")
            lines.append("")
    return "\n".join(lines)


def related_summary(passages: Sequence[Passage], limit: int = 3) -> list[str]:
    return [location(p.chunk) for p in passages[:limit]]


def _squash(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()
