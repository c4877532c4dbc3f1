"""The Deals page: government–industry actions read from the documents, each cell with the passage behind it."""

from __future__ import annotations

import streamlit as st

from app.common import open_page
from assistant import Assistant
from assistant.deals import deals_csv, deals_table
from assistant.deals_llm import DealRun, corpus_key, run_deals
from assistant.render import escape_markdown, html_text
from policyqa.types import Progress


def render() -> None:
    assistant = open_page("Deals")
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


if __name__ in ("__main__", "__page__"):  # a page file runs as __main__ (older releases: __page__)
    render()
