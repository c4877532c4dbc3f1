"""policyqa chat: a thin Streamlit shell over the assistant and ingest libraries."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterator
from pathlib import Path

import streamlit as st

from assistant import Assistant, Conversation
from assistant.deals import deals_csv, deals_table
from assistant.deals_llm import DealRun, corpus_key, run_deals
from assistant.feedback import record_feedback
from assistant.render import (
    answer_markdown,
    conversation_markdown,
    escape_markdown,
    html_text,
    location,
    passage_html,
    quotes_for,
    support_line,
    unique_citations,
)
from ingest.pipeline import ingest_paths
from ingest.reindex import reindex_all
from ingest.uploads import save_upload
from policyqa.errors import PolicyQAError
from policyqa.settings import Settings
from policyqa.tags import TAGS
from policyqa.types import Answer, DocType, Filters, IngestReport, Outcome, Passage, Progress, StoredChunk, Turn

st.set_page_config(page_title="policyqa", page_icon=":material/policy:", layout="wide")


@st.cache_resource(show_spinner="Loading the embedding model and the document store…")
def load_assistant() -> Assistant:
    """One model and one store per server process."""
    assistant = Assistant(Settings())
    assistant.warm_up()  # the first user's answer pays no first-call costs
    return assistant


def conversation(assistant: Assistant) -> Conversation:
    if "conversation" not in st.session_state:
        st.session_state.conversation = Conversation(assistant)
    return st.session_state.conversation


# -- sidebar ---------------------------------------------------------------------------------------------


def sidebar(assistant: Assistant) -> tuple[str, Filters]:
    stats = assistant.store.stats()
    with st.sidebar:
        st.title("policyqa")
        view = st.radio("View", ["Chat", "Documents", "Deals"], horizontal=True, label_visibility="collapsed")
        last = stats.last_ingest[:16].replace("T", " ") if stats.last_ingest else "never"
        c1, c2 = st.columns(2)
        c1.metric("Documents", stats.documents)
        c2.metric("Chunks", stats.chunks)
        st.caption(f"Last ingest: {last} UTC")
        filters = filter_controls(assistant)
        backends = list(assistant.backends)
        st.selectbox(
            "Answer mode",
            backends,
            index=backends.index(assistant.default_backend),
            format_func=lambda b: "Offline (quotes)" if b == "offline" else f"LLM: {b}",
            key="backend",
            help="The offline mode quotes the documents. A language model (POLICYQA_LLM) writes prose; "
            "every sentence it writes is checked against the passage it cites.",
        )
        upload_panel(assistant)
    return view, filters


def filter_controls(assistant: Assistant) -> Filters:
    with st.expander("Filters for the next questions", expanded=False):
        types = st.multiselect("Document types", [t.value for t in DocType], key="filter_types")
        use_dates = st.checkbox("Only documents published between", key="filter_use_dates")
        date_from = date_to = None
        if use_dates:
            span = st.date_input(
                "Published between", value=(dt.date(2025, 1, 1), dt.date.today()), key="filter_dates",
                label_visibility="collapsed",
            )
            if isinstance(span, tuple) and len(span) == 2:
                date_from, date_to = span[0].isoformat(), span[1].isoformat()
        records = assistant.store.documents()
        titles = {r.meta.doc_id: r.meta.title for r in records}
        chosen = st.multiselect(
            "Only these documents", list(titles), format_func=lambda d: titles.get(d, d), key="filter_docs"
        )
        tags = st.multiselect("Minerals and places (any of)", list(TAGS), key="filter_tags")
    return Filters(
        doc_types=tuple(DocType(t) for t in types), date_from=date_from, date_to=date_to, doc_ids=tuple(chosen),
        tags=tuple(tags),
    )


def upload_panel(assistant: Assistant) -> None:
    settings = assistant.settings
    st.subheader("Add documents")
    files = st.file_uploader(
        "PDF, HTML, Markdown or text",
        type=["pdf", "html", "htm", "md", "markdown", "txt"],
        accept_multiple_files=True,
        key=f"uploader-{st.session_state.get('upload_round', 0)}",
        max_upload_size=max(1, math.ceil(settings.max_upload_mb)),
        help=f"Up to {settings.max_upload_mb:g} MB per file (POLICYQA_MAX_UPLOAD_MB).",
    )
    if files and st.button("Add to the corpus", type="primary"):
        saved: list[Path] = []
        problems: list[str] = []
        for f in files:
            try:
                saved.append(save_upload(f.name, f.getvalue(), settings.uploads_dir, max_mb=settings.max_upload_mb))
            except PolicyQAError as exc:
                problems.append(str(exc))
        report = run_ingest(lambda cb: ingest_paths(saved, settings, store=assistant.store, embedder=assistant.embedder, on_progress=cb)) if saved else None
        st.session_state.last_upload = (report, problems)
        st.session_state.upload_round = st.session_state.get("upload_round", 0) + 1
        st.rerun()
    if "last_upload" in st.session_state:
        report, problems = st.session_state.last_upload
        for message in problems:
            st.error(message, icon=":material/block:")
        if report is not None:
            show_report(report)


def run_ingest(job) -> IngestReport | None:  # type: ignore[no-untyped-def]
    """Run an ingest with a progress bar for files and a counter for embedded chunks."""
    bar = st.progress(0.0, text="Starting…")
    chunks_line = st.empty()

    def on_progress(p: Progress) -> None:
        if p.stage == "files" and p.total:
            bar.progress(min(1.0, p.done / p.total), text=f"File {p.done} of {p.total}: {p.item}")
        elif p.stage == "chunks":
            chunks_line.caption(f"{p.done} chunks embedded")

    try:
        report = job(on_progress)
    except PolicyQAError as exc:
        st.error(str(exc))
        return None
    bar.progress(1.0, text="Done")
    return report


def show_report(report: IngestReport) -> None:
    icons = {Outcome.ADDED: "✅", Outcome.UPDATED: "🔁", Outcome.UNCHANGED: "⏸️", Outcome.FAILED: "❌",
             Outcome.SKIPPED: "⚠️", Outcome.REMOVED: "🗑️"}
    st.caption(escape_markdown(report.summary()))
    for f in report.files:
        name = Path(f.path).name
        line = f"{icons.get(f.outcome, '')} **{f.outcome.value}** {escape_markdown(name)}"
        if f.message:
            line += f": {escape_markdown(f.message.removeprefix(f'{name}: '))}"  # messages name the file already
        (st.error if f.outcome is Outcome.FAILED else st.markdown)(line)


# -- chat ------------------------------------------------------------------------------------------------


def chat_view(assistant: Assistant, filters: Filters) -> None:
    convo = conversation(assistant)
    top = st.columns([6, 1.3, 1.3])
    top[0].header("Ask the documents")
    if top[1].button("New chat", icon=":material/add_comment:", width="stretch"):
        convo.reset()
        st.session_state.pop("pending", None)
        # The new chat's turns reuse the indexes; a stale marker would swallow their first thumbs.
        for key in [k for k in st.session_state if str(k).startswith("feedback-saved-")]:
            del st.session_state[key]
        st.rerun()
    top[2].download_button(
        "Export",
        conversation_markdown(convo.turns),
        file_name="policyqa-conversation.md",
        mime="text/markdown",
        icon=":material/download:",
        disabled=not convo.turns,
        width="stretch",
    )
    if not filters.empty:
        st.caption(f"Filters apply: {describe_filters(filters)}")
    if not convo.turns:
        st.info(
            "Ask about U.S. critical-minerals policy, e.g. *How big is the government's stake in Trilogy Metals?* "
            "Follow-up questions work: *What road was approved the same day?*",
            icon=":material/lightbulb:",
        )
    for index, turn in enumerate(convo.turns):
        render_turn(assistant, index, turn)
    pending = st.session_state.pop("pending", None)
    question = st.chat_input("Ask a question about the documents")
    if pending is not None:
        question, query = pending
    else:
        query = None
    if question:
        asked = len(convo.turns)
        with st.chat_message("user"):
            st.markdown(escape_markdown(question))
        with st.chat_message("assistant"):
            st.write_stream(stream_text(convo, question, filters, query, st.session_state.get("backend")))
        if len(convo.turns) > asked:  # after an error, keep the streamed message on screen
            st.rerun()


def stream_text(
    convo: Conversation, question: str, filters: Filters, query: str | None, backend: str | None
) -> Iterator[str]:
    try:
        for event in convo.stream(question, filters, query=query, backend=backend):
            if isinstance(event, str):
                yield escape_markdown(event)
    except PolicyQAError as exc:
        yield f"\n\n**Error:** {escape_markdown(str(exc))}"


def describe_filters(filters: Filters) -> str:
    parts = []
    if filters.doc_types:
        parts.append("types " + ", ".join(t.value for t in filters.doc_types))
    if filters.date_from or filters.date_to:
        parts.append(f"published {filters.date_from or '…'} to {filters.date_to or '…'}")
    if filters.doc_ids:
        parts.append(f"{len(filters.doc_ids)} chosen document(s)")
    if filters.tags:
        parts.append("about " + " or ".join(filters.tags))
    return "; ".join(parts)


def render_turn(assistant: Assistant, index: int, turn: Turn) -> None:
    answer = turn.answer
    with st.chat_message("user"):
        st.markdown(escape_markdown(turn.question))
    with st.chat_message("assistant"):
        if answer.answerable:
            st.markdown(answer_markdown(answer))
        else:
            st.warning(escape_markdown(answer.text), icon=":material/search_off:")
        if answer.notice:
            st.info(escape_markdown(answer.notice))
        seconds = answer.timings.get("total_s")
        meta = [f"answered by {answer.backend}"] + ([f"{seconds:.2f} s"] if seconds is not None else [])
        if answer.scope:
            meta.append(answer.scope)
        if support_line(answer):
            meta.append(str(support_line(answer)))
        st.caption(" · ".join(meta))
        if answer.answerable:
            render_sources(answer, index)
        elif answer.related:
            st.markdown("**Related passages**")
            for n, passage in enumerate(answer.related, start=1):
                render_passage(passage, f"related-{index}-{n}", label=f"{n}. {location(passage.chunk)}")
        render_query_editor(turn, index)
        rating = st.feedback("thumbs", key=f"feedback-{index}")
        if rating is not None and st.session_state.get(f"feedback-saved-{index}") != rating:
            record_feedback(assistant.settings.store_dir, turn.question, answer, int(rating))
            st.session_state[f"feedback-saved-{index}"] = rating
            st.toast("Thanks: feedback saved.")


def render_sources(answer: Answer, index: int) -> None:
    st.markdown("**Sources**")
    for citation in unique_citations(answer):
        chunk = citation.chunk
        passage = citation.passage
        render_passage(
            passage,
            f"cite-{index}-{citation.number}",
            label=f"[{citation.number}] {location(chunk)}",
            spans=quotes_for(answer, citation.number),
        )


def render_passage(passage: Passage, key: str, *, label: str, spans: list[tuple[int, int]] | None = None) -> None:
    chunk = passage.chunk
    with st.expander(escape_markdown(label)):
        st.caption(escape_markdown(document_line(chunk)))
        st.markdown(
            f"<div class='policyqa-passage'>{passage_html(chunk, spans or [])}</div>", unsafe_allow_html=True
        )
        offer_original(chunk, key)


def document_line(chunk: StoredChunk) -> str:
    parts = [chunk.title, chunk.doc_type.value, chunk.published or "undated"]
    if chunk.page is not None:
        parts.append(f"page {chunk.page}")
    parts.append(Path(chunk.source).name)
    return " · ".join(parts)


def offer_original(chunk: StoredChunk, key: str) -> None:
    path = Path(chunk.source)
    if not path.is_file():
        st.caption("The original file is no longer at its source path.")
        return
    mime = {".pdf": "application/pdf", ".html": "text/html", ".htm": "text/html", ".md": "text/markdown"}.get(
        path.suffix.lower(), "text/plain"
    )
    label = f"Download {path.name}" + (f" (cited on page {chunk.page})" if chunk.page else "")
    st.download_button(label, path.read_bytes(), file_name=path.name, mime=mime, key=f"dl-{key}")


def render_query_editor(turn: Turn, index: int) -> None:
    with st.expander(f"Searched for: {escape_markdown(turn.answer.query)}"):
        edited = st.text_input("Search query", value=turn.answer.query, key=f"query-{index}")
        if st.button("Re-run with this query", key=f"rerun-{index}"):
            st.session_state.pending = (turn.question, edited)
            st.rerun()


# -- documents -------------------------------------------------------------------------------------------


def documents_view(assistant: Assistant) -> None:
    st.header("Documents")
    records = assistant.store.documents()
    if not records:
        st.info("No documents yet: add some in the sidebar, or run `policyqa ingest PATH`.")
        return
    st.dataframe(
        [
            {"title": r.meta.title, "type": r.meta.doc_type.value, "published": r.meta.published or "",
             "chunks": r.chunk_count, "state": r.state, "doc_id": r.meta.doc_id, "file": Path(r.meta.source).name}
            for r in records
        ],
        width="stretch",
        hide_index=True,
    )
    left, right = st.columns(2)
    with left:
        titles = {r.meta.doc_id: r.meta.title for r in records}
        doc_id = st.selectbox("Remove a document", list(titles), format_func=lambda d: titles[d], key="remove_doc")
        if st.button("Remove", icon=":material/delete:"):
            try:
                with assistant.store.writer_lock():
                    assistant.store.remove(doc_id)
                st.session_state.notice = f"Removed {titles[doc_id]}."
            except PolicyQAError as exc:
                st.session_state.notice = str(exc)
            st.rerun()
    with right:
        st.write("Re-read every document from its file and rebuild the indexes.")
        if st.button("Re-index all", icon=":material/refresh:"):
            report = run_ingest(
                lambda cb: reindex_all(assistant.settings, store=assistant.store, embedder=assistant.embedder, on_progress=cb)
            )
            if report is not None:
                show_report(report)
    if "notice" in st.session_state:
        st.success(escape_markdown(st.session_state.pop("notice")))


# -- deals ---------------------------------------------------------------------------------------------


def deals_view(assistant: Assistant) -> None:
    st.header("Deals")
    st.caption(
        "Government–industry actions found in the documents. Every cell comes from a passage: pick a deal below "
        "to see where each value was read."
    )
    llm = assistant.settings.llm
    use_llm = bool(llm) and st.toggle(
        f"Read with the language model ({llm})", key="deals_llm",
        help="The model reads each passage that may state a deal. Every value it gives must be stated in the sentence "
        "it quotes, or it is left out; the offline patterns stand in wherever the model fails.",
    )
    run = deal_run(assistant, use_llm)
    for notice in run.notices:
        st.warning(escape_markdown(notice))
    deals = run.deals
    if not deals:
        st.info("No deals found yet: ingest some documents first.")
        return
    st.dataframe(deals_table(deals), width="stretch", hide_index=True)
    reader = "the offline patterns"
    if run.backend != "offline":
        reader = f"{run.backend} ({run.answered} of {run.passages} passages)"
    st.caption(escape_markdown(f"Read by {reader}."))
    st.download_button("Download CSV", deals_csv(deals), file_name="policyqa-deals.csv", mime="text/csv",
                       icon=":material/download:")
    labels = [f"{d.company}: {d.instrument}" for d in deals]
    index = st.selectbox("Sources of a deal", range(len(deals)), format_func=lambda i: labels[i], key="deal_pick")
    deal = deals[index]
    for name, cell in deal.fields.items():
        source = cell.source
        with st.expander(escape_markdown(f"{name}: {cell.value}")):
            where = f"{source.title}" + (f", page {source.page}" if source.page is not None else "")
            st.caption(escape_markdown(f"{where} · published {source.published or 'undated'}"))
            st.markdown(f"<mark>{html_text(source.quote)}</mark>", unsafe_allow_html=True)
            for other in cell.sources[1:]:
                st.caption(escape_markdown(f"also: {other.reference} — {other.value or other.quote[:80]}"))


def deal_run(assistant: Assistant, use_llm: bool) -> DealRun:
    """The deal table, kept for the session until the documents or the reader change: every click on this page
    reruns the script, and reading the corpus (with a model: a long while) need not be repeated."""
    corpus = corpus_key(assistant.store)
    key = (assistant.settings.llm if use_llm else None, corpus)
    runs = {k: run for k, run in st.session_state.get("deal_runs", {}).items() if k[1] == corpus}
    st.session_state.deal_runs = runs
    if key not in runs:
        if not use_llm:
            runs[key] = run_deals(assistant.store, assistant.settings)
            return runs[key]
        bar = st.progress(0.0, text="The language model is reading the passages…")

        def update(p: Progress) -> None:
            done = p.done / p.total if p.total else 1.0
            bar.progress(done, text=f"The language model has read {p.done} of {p.total} passages…")

        runs[key] = run_deals(assistant.store, assistant.settings, use_llm=True, on_progress=update)
        bar.empty()
    return runs[key]


def main() -> None:
    try:
        assistant = load_assistant()
    except PolicyQAError as exc:
        st.error(f"policyqa cannot start: {exc}")
        st.stop()
    view, filters = sidebar(assistant)
    if view == "Chat":
        chat_view(assistant, filters)
    elif view == "Deals":
        deals_view(assistant)
    else:
        documents_view(assistant)


main()
