"""The Chat page: saved conversations, answers whose [n] open their source, questions queued while one is answered."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass

import streamlit as st

from app.citations import render_passage, source_dialog
from app.common import assistant_or_stop, chat_store, corpus_metrics, upload_panel
from assistant import Assistant, Conversation
from assistant.chats import ChatStore
from assistant.feedback import record_feedback
from assistant.render import (
    answer_markdown,
    conversation_markdown,
    escape_markdown,
    location,
    quotes_for,
    support_line,
    unique_citations,
)
from policyqa.errors import PolicyQAError
from policyqa.tags import TAGS
from policyqa.types import Answer, DocType, Filters, Turn


@dataclass(frozen=True, slots=True)
class Pending:
    """A question waiting for its answer; it stays queued until the answer is saved, so a rerun never loses it."""

    question: str
    query: str | None
    filters: Filters
    backend: str | None


def render() -> None:
    assistant = assistant_or_stop()
    chats = chat_store(assistant)
    convo = conversation(assistant)
    open_requested_chat(chats, convo)
    with st.sidebar:
        corpus_metrics(assistant)
        chat_list(chats, convo)
        filters = filter_controls(assistant)
        backend_choice(assistant)
        upload_panel(assistant)
    st.session_state.current_filters = filters
    header(chats, convo)
    if not filters.empty:
        st.caption(f"Filters apply: {describe_filters(filters)}")
    if not convo.turns and not queue():
        st.info(
            "Ask about the documents in the store. Follow-up questions work: they are read with the "
            "conversation before them.",
            icon=":material/lightbulb:",
        )
    for index, turn in enumerate(convo.turns):
        render_turn(assistant, index, turn)
    if "chat_error" in st.session_state:
        st.error(escape_markdown(st.session_state.chat_error))
    question = st.chat_input("Ask a question about the documents")
    if question:
        st.session_state.pop("chat_error", None)
        queue().append(Pending(question, None, filters, st.session_state.get("backend")))
    if queue():
        answer_queue(assistant, chats, convo)
    open_requested_citation(assistant, convo)


# -- state ---------------------------------------------------------------------------------------------


def conversation(assistant: Assistant) -> Conversation:
    if "conversation" not in st.session_state:
        st.session_state.conversation = Conversation(assistant)
        st.session_state.chat_id = None
    return st.session_state.conversation


def queue() -> list[Pending]:
    return st.session_state.setdefault("queue", [])


def open_chat(chats: ChatStore, convo: Conversation, chat_id: str | None) -> None:
    """Show a saved chat (or a new, empty one for None); its address is kept in the URL's ``chat`` parameter."""
    convo.reset()
    if chat_id is not None:
        convo.turns.extend(chats.turns(chat_id))
        st.query_params["chat"] = chat_id
    else:
        st.query_params.pop("chat", None)
    st.session_state.chat_id = chat_id
    st.session_state.queue = []
    st.session_state.pop("chat_error", None)


def open_requested_chat(chats: ChatStore, convo: Conversation) -> None:
    """``?chat=ID`` (a reload, a bookmark, a citation link) opens that chat if it exists."""
    wanted = st.query_params.get("chat")
    if wanted is None or wanted == st.session_state.get("chat_id"):
        return
    if chats.get(wanted) is None:
        st.query_params.pop("chat", None)
        return
    open_chat(chats, convo, wanted)


# -- sidebar -------------------------------------------------------------------------------------------


def chat_list(chats: ChatStore, convo: Conversation) -> None:
    st.subheader("Chats")
    if st.button("New chat", icon=":material/add_comment:", width="stretch", key="new_chat"):
        open_chat(chats, convo, None)
        st.rerun()
    current = st.session_state.get("chat_id")
    for chat in chats.list()[:50]:
        label = escape_markdown(chat.title)
        if st.button(
            label, key=f"chat-{chat.chat_id}", width="stretch",
            type="primary" if chat.chat_id == current else "tertiary",
            help=f"{chat.turns} question(s), last {chat.updated_at[:16].replace('T', ' ')} UTC",
        ) and chat.chat_id != current:
            open_chat(chats, convo, chat.chat_id)
            st.rerun()


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


def backend_choice(assistant: Assistant) -> None:
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


# -- header: export, rename, delete ---------------------------------------------------------------------


def header(chats: ChatStore, convo: Conversation) -> None:
    chat_id = st.session_state.get("chat_id")
    summary = chats.get(chat_id) if chat_id else None
    top = st.columns([6, 1.3, 1.3])
    top[0].header(escape_markdown(summary.title) if summary else "Ask the documents")
    top[1].download_button(
        "Export",
        conversation_markdown(convo.turns, title=summary.title if summary else "policyqa conversation"),
        file_name="policyqa-conversation.md",
        mime="text/markdown",
        icon=":material/download:",
        disabled=not convo.turns,
        width="stretch",
    )
    with top[2].popover("Chat", icon=":material/edit:", disabled=summary is None, width="stretch"):
        if summary is not None:
            name = st.text_input("Name", value=summary.title, key=f"rename-{summary.chat_id}")
            if st.button("Rename", key="rename_chat"):
                chats.rename(summary.chat_id, name)
                st.rerun()
            if st.button("Delete this chat", key="delete_chat", type="primary", icon=":material/delete:"):
                chats.delete(summary.chat_id)
                open_chat(chats, convo, None)
                st.rerun()


# -- answering -------------------------------------------------------------------------------------------


def answer_queue(assistant: Assistant, chats: ChatStore, convo: Conversation) -> None:
    """Answer every queued question in order. A question sent meanwhile reruns the page, which finds the queue
    still holding the question being answered (it leaves only once its answer is saved) and starts again."""
    waiting = queue()
    if len(waiting) > 1:
        st.caption(f"{len(waiting)} questions queued: they are answered one after the other.")
    for item in list(waiting):
        with st.chat_message("user"):
            st.markdown(escape_markdown(item.question))
        with st.chat_message("assistant"):
            st.write_stream(stream_answer(assistant, chats, convo, item))
    st.rerun()


def stream_answer(assistant: Assistant, chats: ChatStore, convo: Conversation, item: Pending) -> Iterator[str]:
    try:
        for event in assistant.stream(
            item.question, list(convo.turns), item.filters, query=item.query, backend=item.backend
        ):
            if isinstance(event, Answer):
                save_turn(chats, convo, Turn(item.question, with_filter_notice(event, item.filters)))
            else:
                yield escape_markdown(event)
    except PolicyQAError as exc:
        queue().remove(item)
        st.session_state.chat_error = str(exc)
        yield f"\n\n**Error:** {escape_markdown(str(exc))}"


def with_filter_notice(answer: Answer, filters: Filters) -> Answer:
    """A refusal under filters says so (saved with the turn): the answer may lie in the documents filtered out."""
    if answer.answerable or filters.empty:
        return answer
    said = f"The search was limited by filters ({describe_filters(filters)}); clear them in the sidebar to search "
    said += "every document."
    return dataclasses.replace(answer, notice=f"{answer.notice} {said}" if answer.notice else said)


def save_turn(chats: ChatStore, convo: Conversation, turn: Turn) -> None:
    """Keep the turn, save it, and only then take its question off the queue (no Streamlit call in between)."""
    chat_id = st.session_state.get("chat_id")
    if chat_id is None:
        chat_id = chats.create(turn.question)
        st.session_state.chat_id = chat_id
    chats.add_turn(chat_id, turn)
    convo.turns.append(turn)
    waiting = queue()
    if waiting:
        waiting.pop(0)
    st.query_params["chat"] = chat_id


# -- one turn ---------------------------------------------------------------------------------------------


def cite_link(index: int) -> object:
    chat_id = st.session_state.get("chat_id")
    return lambda n: f"?chat={chat_id}&cite={index}-{n}"


def render_turn(assistant: Assistant, index: int, turn: Turn) -> None:
    answer = turn.answer
    with st.chat_message("user"):
        st.markdown(escape_markdown(turn.question))
    with st.chat_message("assistant"):
        if answer.answerable:
            st.markdown(answer_markdown(answer, link=cite_link(index)))  # type: ignore[arg-type]
        else:
            st.warning(escape_markdown(answer.text), icon=":material/search_off:")
        if answer.notice:
            st.info(escape_markdown(answer.notice))
        if not answer.answerable:
            st.page_link("app/deals.py", label="Asking for a list of deals? The Deals page tables them all.",
                         icon=":material/handshake:")
        seconds = answer.timings.get("total_s")
        meta = [f"answered by {answer.backend}"] + ([f"{seconds:.2f} s"] if seconds is not None else [])
        if answer.scope:
            meta.append(answer.scope)
        if support_line(answer):
            meta.append(str(support_line(answer)))
        st.caption(" · ".join(meta))
        if answer.answerable:
            st.markdown("**Sources**")
            for citation in unique_citations(answer):
                render_passage(
                    assistant, citation.passage, f"cite-{index}-{citation.number}",
                    label=f"[{citation.number}] {location(citation.chunk)}",
                    spans=quotes_for(answer, citation.number),
                )
        elif answer.related:
            st.markdown("**Related passages**")
            for n, passage in enumerate(answer.related, start=1):
                render_passage(assistant, passage, f"related-{index}-{n}", label=f"{n}. {location(passage.chunk)}")
        render_query_editor(turn, index)
        render_feedback(assistant, index, turn)


def render_query_editor(turn: Turn, index: int) -> None:
    with st.expander(f"Searched for: {escape_markdown(turn.answer.query)}"):
        edited = st.text_input("Search query", value=turn.answer.query, key=f"query-{index}")
        if st.button("Ask with this query", key=f"rerun-{index}"):
            # A new question of its own: its answer is shown under the query it searched for, not the old question.
            filters = st.session_state.get("current_filters", Filters())
            queue().append(Pending(edited, edited, filters, st.session_state.get("backend")))
            st.rerun()


def render_feedback(assistant: Assistant, index: int, turn: Turn) -> None:
    chat_id = st.session_state.get("chat_id")
    record_id = f"{chat_id}-{index}"
    rating = st.feedback("thumbs", key=f"feedback-{record_id}")
    if rating is None:
        return
    saved = st.session_state.get(f"feedback-saved-{record_id}")
    if saved != rating:
        record_feedback(assistant.settings.store_dir, turn.question, turn.answer, int(rating), record_id=record_id)
        st.session_state[f"feedback-saved-{record_id}"] = rating
        st.toast("Thanks: feedback saved.")
    comment = st.text_input(
        "What was right or wrong? (optional)", key=f"feedback-comment-{record_id}", placeholder="e.g. wrong year"
    )
    if st.button("Send comment", key=f"feedback-send-{record_id}", disabled=not comment.strip()):
        record_feedback(
            assistant.settings.store_dir, turn.question, turn.answer, int(rating), comment=comment,
            record_id=record_id,
        )
        st.toast("Thanks: comment saved.")


def open_requested_citation(assistant: Assistant, convo: Conversation) -> None:
    """``?cite=T-N`` (the link behind an answer's [N]) opens source N of turn T in a dialog."""
    wanted = st.query_params.get("cite")
    if not wanted:
        return
    st.query_params.pop("cite", None)
    try:
        index, number = (int(x) for x in wanted.split("-", 1))
        answer = convo.turns[index].answer
        citation = next(c for c in unique_citations(answer) if c.number == number)
    except (ValueError, IndexError, StopIteration):
        st.toast("That citation is not in this chat.")
        return
    source_dialog(assistant, citation.chunk, quotes_for(answer, number))


if __name__ in ("__main__", "__page__"):  # a page file runs as __main__ (older releases: __page__)
    render()
