"""The Documents page: what is stored (publisher, address, a preview), adding files or an address, removing."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from app.common import open_page, run_ingest, show_report, upload_panel
from assistant import Assistant
from assistant.render import escape_markdown, location, marked_html
from ingest.pipeline import ingest_paths
from ingest.reindex import reindex_all
from ingest.uploads import remove_upload
from ingest.web import fetch_url
from policyqa.errors import PolicyQAError
from policyqa.types import DocType, DocumentRecord

PREVIEW_CHUNKS = 3


def render() -> None:
    assistant = open_page("Documents")
    if "notice" in st.session_state:
        st.success(escape_markdown(st.session_state.pop("notice")))
    records = assistant.store.documents()
    if not records:
        st.info("No documents yet: add files or an address below, or run `policyqa ingest PATH`.")
    else:
        documents_table(records)
        preview(assistant, records)
        remove_panel(assistant, records)
    left, right = st.columns(2)
    with left:
        upload_panel(assistant)
    with right:
        url_panel(assistant)
    st.subheader("Re-index")
    st.write("Re-read every document from its file and rebuild the indexes.")
    if st.button("Re-index all", icon=":material/refresh:"):
        report = run_ingest(
            assistant,
            lambda cb: reindex_all(
                assistant.settings, store=assistant.store, embedder=assistant.embedder, on_progress=cb
            )
        )
        if report is not None:
            show_report(report)


def documents_table(records: list[DocumentRecord]) -> None:
    st.dataframe(
        [
            {"title": r.meta.title, "type": r.meta.doc_type.value, "published": r.meta.published or "",
             "publisher": r.meta.publisher or "", "url": r.meta.sources[0] if r.meta.sources else None,
             "chunks": r.chunk_count, "state": r.state, "file": Path(r.meta.source).name, "doc_id": r.meta.doc_id}
            for r in records
        ],
        column_config={"url": st.column_config.LinkColumn("url", display_text=r"https?://([^/]+)")},
        width="stretch",
        hide_index=True,
    )


def preview(assistant: Assistant, records: list[DocumentRecord]) -> None:
    titles = {r.meta.doc_id: r.meta.title for r in records}
    doc_id = st.selectbox("Preview a document", list(titles), format_func=lambda d: titles[d], key="preview_doc")
    record = next(r for r in records if r.meta.doc_id == doc_id)
    ids = [f"{doc_id}:{i:05d}" for i in range(min(PREVIEW_CHUNKS, record.chunk_count))]
    chunks = assistant.store.get_chunks(ids)
    with st.container(border=True):
        meta = record.meta
        st.markdown(f"**{escape_markdown(meta.title)}**")
        facts = [meta.doc_type.value, meta.published or "undated", meta.publisher or "", Path(meta.source).name]
        st.caption(escape_markdown(" · ".join(f for f in facts if f)))
        for url in meta.sources:
            st.caption(escape_markdown(url))
        for chunk_id in ids:
            chunk = chunks.get(chunk_id)
            if chunk is not None:
                st.caption(escape_markdown(location(chunk)))
                st.markdown(f"<div class='policyqa-passage'>{marked_html(chunk.text)}</div>", unsafe_allow_html=True)
        if record.chunk_count > len(ids):
            st.caption(f"… and {record.chunk_count - len(ids)} more passages.")


def remove_panel(assistant: Assistant, records: list[DocumentRecord]) -> None:
    titles = {r.meta.doc_id: r.meta.title for r in records}
    st.subheader("Remove")
    doc_id = st.selectbox("Remove a document", list(titles), format_func=lambda d: titles[d], key="remove_doc")
    if st.button("Remove…", icon=":material/delete:"):
        st.session_state.confirm_remove = doc_id
    pending = st.session_state.get("confirm_remove")
    if pending not in titles:
        return
    record = next(r for r in records if r.meta.doc_id == pending)
    uploaded = Path(record.meta.source).resolve().is_relative_to(assistant.settings.uploads_dir.resolve())
    st.warning(
        escape_markdown(
            f"Remove “{titles[pending]}” from the corpus? Its passages leave the indexes"
            + (" and the uploaded file is deleted." if uploaded else "; the file itself stays where it is.")
        )
    )
    yes, no = st.columns(2)
    if yes.button("Yes, remove it", type="primary", key="confirm_remove_yes"):
        try:
            with assistant.store.writer_lock():
                assistant.store.remove(pending)
            deleted = remove_upload(record.meta.source, assistant.settings.uploads_dir)
            gone = " The uploaded file was deleted." if deleted else ""
            st.session_state.notice = f"Removed {titles[pending]}.{gone}"
        except PolicyQAError as exc:
            st.session_state.notice = str(exc)
        st.session_state.pop("confirm_remove", None)
        st.rerun()
    if no.button("Cancel", key="confirm_remove_no"):
        st.session_state.pop("confirm_remove", None)
        st.rerun()


def url_panel(assistant: Assistant) -> None:
    st.subheader("Add by address")
    with st.form("add_url", clear_on_submit=False, border=False):
        url = st.text_input("Address (http or https)", key="url_address")
        title = st.text_input("Title (optional: else the document's own)", key="url_title")
        doc_type = st.selectbox("Type", [t.value for t in DocType], index=len(DocType) - 1, key="url_type")
        publisher = st.text_input("Publisher (optional)", key="url_publisher")
        submitted = st.form_submit_button("Download and add", type="primary", icon=":material/public:")
    if not submitted or not url.strip():
        return
    settings = assistant.settings
    try:
        with st.spinner("Downloading…"):
            outcome = fetch_url(url, settings, title=title, doc_type=doc_type, publisher=publisher)
    except PolicyQAError as exc:
        st.error(str(exc))
        return
    if outcome.status == "failed" or outcome.path is None:
        st.error(escape_markdown(outcome.message or f"{url}: download failed"))
        return
    path = Path(outcome.path)
    report = run_ingest(
        assistant,
        lambda cb: ingest_paths([path], settings, store=assistant.store, embedder=assistant.embedder, on_progress=cb),
    )
    if report is not None:
        show_report(report)


if __name__ in ("__main__", "__page__"):  # a page file runs as __main__ (older releases: __page__)
    render()
