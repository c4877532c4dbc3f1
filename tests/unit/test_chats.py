"""assistant/chats.py: chats saved in SQLite come back with their citations; rename, delete, list order."""

from __future__ import annotations

from pathlib import Path

from assistant.chats import ChatStore, answer_from_dict, answer_to_dict, chats_path, open_chats
from policyqa.types import Answer, Citation, DocType, Passage, StoredChunk, SupportReport, Turn

TEXT = "The Department of Defense will take a 10% stake in Trilogy Metals. The deal closed on October 6, 2025."


def make_answer(question_word: str = "stake") -> Answer:
    chunk = StoredChunk(
        chunk_id="trilogy:00000", doc_id="trilogy", index=0, text=TEXT, page=3, start=10, end=10 + len(TEXT),
        headings=("Trilogy", "Stake"), title="Trilogy Metals stake", doc_type=DocType.ARTICLE,
        published="2025-10-06", source="/corpus/trilogy.pdf", context="Trilogy", tags=("alaska",),
        dates=("2025-10-06",),
    )
    end = TEXT.index(".") + 1
    citation = Citation(number=1, passage=Passage(chunk=chunk, score=0.8, dense_rank=1), quote_start=0, quote_end=end)
    return Answer(
        text=f"The Department of Defense will take a 10% {question_word} in Trilogy Metals. [1]",
        citations=(citation,), answerable=True, query="Trilogy Metals stake", backend="offline",
        notice="a notice", related=(Passage(chunk=chunk, score=0.5),), scope="published 2025",
        timings={"total_s": 0.1}, support=SupportReport(supported=1, flagged=("x",)),
    )


def test_answer_round_trips_through_json_with_its_citations() -> None:
    answer = make_answer()

    back = answer_from_dict(answer_to_dict(answer))

    assert back.citations == answer.citations, "citations must come back equal, spans and chunk fields included"
    assert back.citations[0].quote == "The Department of Defense will take a 10% stake in Trilogy Metals."
    assert (back.text, back.related, back.support, back.scope, back.notice) == (
        answer.text, answer.related, answer.support, answer.scope, answer.notice
    )


def test_a_saved_chat_is_listed_by_its_first_question_and_reopens_in_another_store(tmp_path: Path) -> None:
    store = open_chats(tmp_path)
    chat_id = store.create()
    store.add_turn(chat_id, Turn("How big is the stake?", make_answer()))
    store.add_turn(chat_id, Turn("When did it close?", make_answer("deal")))
    store.close()

    reopened = ChatStore(chats_path(tmp_path))
    listed = reopened.list()

    assert [(c.chat_id, c.title, c.turns) for c in listed] == [(chat_id, "How big is the stake?", 2)], listed
    turns = reopened.turns(chat_id)
    assert [t.question for t in turns] == ["How big is the stake?", "When did it close?"], turns
    assert turns[0].answer.citations == make_answer().citations, "the citations are lost on reopening"


def test_rename_keeps_the_name_and_delete_removes_chat_and_turns(tmp_path: Path) -> None:
    store = open_chats(tmp_path)
    first, second = store.create(), store.create()
    store.add_turn(first, Turn("First question", make_answer()))
    store.add_turn(second, Turn("Second question", make_answer()))

    store.rename(first, "  Trilogy   notes ")
    store.add_turn(first, Turn("Another question", make_answer()))
    store.delete(second)

    assert [(c.title, c.turns) for c in store.list()] == [("Trilogy notes", 2)], store.list()
    assert store.turns(second) == [], "the deleted chat's turns are still stored"


def test_list_puts_the_most_recently_used_chat_first_and_long_titles_are_cut(tmp_path: Path) -> None:
    store = open_chats(tmp_path)
    older, newer = store.create(), store.create()
    store.add_turn(newer, Turn("Newer " + "word " * 40, make_answer()))
    store.add_turn(older, Turn("Older question", make_answer()))

    titles = [c.title for c in store.list()]

    assert titles[0] == "Older question", f"the chat used last should come first: {titles}"
    assert len(titles[1]) <= 80 and titles[1].endswith("\u2026"), f"a long question should be cut: {titles[1]!r}"
