"""A cited source on screen: the passage under the answer, and a dialog with the PDF page or the whole section."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

import streamlit as st

from assistant import Assistant
from assistant.render import escape_markdown, passage_html, section_html
from assistant.sources import is_pdf, render_pdf_page, section_view
from policyqa.errors import PolicyQAError
from policyqa.types import Passage, StoredChunk


def document_line(chunk: StoredChunk) -> str:
    parts = [chunk.title, chunk.doc_type.value, chunk.published or "undated"]
    if chunk.page is not None:
        parts.append(f"page {chunk.page}")
    parts.append(Path(chunk.source).name)
    return " · ".join(parts)


def document_urls(assistant: Assistant, doc_id: str) -> tuple[str, ...]:
    """The public addresses the document came from (its sidecar's ``sources``), http(s) only."""
    record = assistant.store.document(doc_id)
    if record is None:
        return ()
    return tuple(u for u in record.meta.sources if urlsplit(u).scheme in ("http", "https"))


def show_urls(urls: tuple[str, ...]) -> None:
    for url in urls:
        st.markdown(f"Original: <a href=\"{_attr(url)}\" target=\"_blank\" rel=\"noopener noreferrer\">"
                    f"{_attr(url)}</a>", unsafe_allow_html=True)


def _attr(text: str) -> str:
    import html

    return html.escape(text, quote=True)


def render_passage(
    assistant: Assistant, passage: Passage, key: str, *, label: str, spans: list[tuple[int, int]] | None = None
) -> None:
    """An expander with the passage (cited sentences marked), the document's address and a button to the page."""
    chunk = passage.chunk
    with st.expander(escape_markdown(label)):
        st.caption(escape_markdown(document_line(chunk)))
        st.markdown(
            f"<div class='policyqa-passage'>{passage_html(chunk, spans or [])}</div>", unsafe_allow_html=True
        )
        show_urls(document_urls(assistant, chunk.doc_id))
        if not Path(chunk.source).is_file():
            st.caption("The original file is no longer at its source path.")
        elif st.button(open_label(chunk), key=f"open-{key}", icon=":material/visibility:"):
            source_dialog(assistant, chunk, spans or [])


def open_label(chunk: StoredChunk) -> str:
    if is_pdf(chunk):
        return f"Show page {chunk.page}" if chunk.page else "Show the PDF"
    return "Show in its section"


@st.dialog("Source", width="large")
def source_dialog(assistant: Assistant, chunk: StoredChunk, spans: list[tuple[int, int]]) -> None:
    """The cited page of a PDF (passage marked, previous/next page) or the section of any other document."""
    st.markdown(f"**{escape_markdown(chunk.title)}**")
    st.caption(escape_markdown(document_line(chunk)))
    show_urls(document_urls(assistant, chunk.doc_id))
    if is_pdf(chunk) and Path(chunk.source).is_file():
        _pdf_page(chunk, spans)
        return
    view = section_view(chunk, spans)
    if view.headings:
        st.caption(escape_markdown(" > ".join(view.headings)))
    if not view.whole:
        st.caption("The file could not be re-read; the cited passage alone is shown.")
    st.markdown(
        f"<div class='policyqa-section'>{section_html(view.text, view.passage, view.quotes)}</div>",
        unsafe_allow_html=True,
    )


def _pdf_page(chunk: StoredChunk, spans: list[tuple[int, int]]) -> None:
    key = f"pdf-page-{chunk.chunk_id}"
    cited = chunk.page or 1
    page = st.session_state.get(key, cited)
    marks = [chunk.text[a:b] for a, b in spans] or [chunk.text]
    try:
        image = render_pdf_page(chunk.source, page, marks if page == cited else [])
    except PolicyQAError as exc:
        st.error(str(exc))
        return
    left, middle, right = st.columns([1, 2, 1])
    if left.button("Previous page", key=f"{key}-prev", disabled=page <= 1, icon=":material/chevron_left:"):
        st.session_state[key] = page - 1
        st.rerun(scope="fragment")
    middle.markdown(f"Page {page} of {image.pages}" + (" · cited page" if page == cited else ""))
    if right.button("Next page", key=f"{key}-next", disabled=page >= image.pages, icon=":material/chevron_right:"):
        st.session_state[key] = page + 1
        st.rerun(scope="fragment")
    caption = f"Page {page}" + (" — the cited passage is marked" if page == cited and image.marked else "")
    st.image(image.png, caption=caption, width="stretch", output_format="PNG")
