"""What every page shares: one Assistant and one chat store per server, ingest progress, the upload panel."""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

import streamlit as st

from assistant import Assistant
from assistant.chats import ChatStore, open_chats
from assistant.render import escape_markdown
from ingest.pipeline import ingest_paths
from ingest.uploads import save_upload
from policyqa.errors import PolicyQAError
from policyqa.settings import Settings
from policyqa.types import IngestReport, Outcome, Progress

# Served from the app's own files: an emoji or :material/…: page icon makes the browser fetch it from a CDN.
ICON = Path(__file__).with_name("icon.png")
UPLOAD_TYPES = ["pdf", "docx", "html", "htm", "md", "markdown", "txt"]


@st.cache_resource(show_spinner="Loading the embedding model and the document store…")
def load_assistant() -> Assistant:
    """One model and one store per server process."""
    assistant = Assistant(Settings())
    assistant.warm_up()  # the first user's answer pays no first-call costs
    return assistant


@st.cache_resource
def load_chats(store_dir: str) -> ChatStore:
    return open_chats(Path(store_dir))


def assistant_or_stop() -> Assistant:
    try:
        return load_assistant()
    except PolicyQAError as exc:
        st.error(f"policyqa cannot start: {exc}")
        st.stop()
        raise  # unreachable: st.stop ends the run


def open_page(title: str) -> Assistant:
    """The assistant for a page with the corpus figures in its sidebar and ``title`` as its header (or the page
    stops with the reason the assistant cannot start)."""
    assistant = assistant_or_stop()
    with st.sidebar:
        corpus_metrics(assistant)
    st.header(title)
    return assistant


def chat_store(assistant: Assistant) -> ChatStore:
    return load_chats(str(assistant.settings.store_dir))


def corpus_metrics(assistant: Assistant) -> None:
    stats = assistant.store.stats()
    last = stats.last_ingest[:16].replace("T", " ") if stats.last_ingest else "never"
    c1, c2 = st.columns(2)
    c1.metric("Documents", stats.documents)
    c2.metric("Chunks", stats.chunks)
    st.caption(f"Last ingest: {last} UTC")


def upload_panel(assistant: Assistant) -> None:
    settings = assistant.settings
    st.subheader("Add documents")
    files = st.file_uploader(
        "PDF, Word, HTML, Markdown or text",
        type=UPLOAD_TYPES,
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
        report = None
        if saved:
            report = run_ingest(
                assistant,
                lambda cb: ingest_paths(
                    saved, settings, store=assistant.store, embedder=assistant.embedder, on_progress=cb
                )
            )
        st.session_state.last_upload = (report, problems)
        st.session_state.upload_round = st.session_state.get("upload_round", 0) + 1
        st.rerun()
    if "last_upload" in st.session_state:
        report, problems = st.session_state.last_upload
        for message in problems:
            st.error(message, icon=":material/block:")
        if report is not None:
            show_report(report)


def run_ingest(
    assistant: Assistant, job: Callable[[Callable[[Progress], None]], IngestReport]
) -> IngestReport | None:
    """Run an ingest with a progress bar for files and a counter for embedded chunks, then read the changed
    corpus's deal table in the background (the next list question need not wait for it)."""
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
    assistant.deals.warm_in_background()
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
