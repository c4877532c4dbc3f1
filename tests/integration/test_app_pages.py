"""The app's pages through AppTest: citations open their page, chats last, the queue, documents, evaluation.

Fixtures come from test_streamlit_app: the small corpus in POLICYQA_STORE_DIR, the fake embedder, the app.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest
from streamlit.testing.v1.element_tree import Block, Node

from app.chat import Pending
from assistant.chats import open_chats
from assistant.feedback import latest_feedback
from policyqa.settings import Settings
from policyqa.types import Filters
from tests.app_fixtures import (
    FILING_SENTENCE,
    ROAD_FOLLOW_UP,
    STAKE_QUESTION,
    STAKE_SENTENCE,
    UPLOAD_BODY,
    UPLOAD_NAME,
    WORKERS_QUESTION,
)
from tests.integration.test_streamlit_app import (  # noqa: F401  (fixtures)
    APP,
    CORPUS_DOCUMENTS,
    app,
    ask,
    click,
    fake_model,
    media,
    opened_stores,
    store_dir,
    turns,
    unescape,
)

FILING_QUESTION = "What stake will the Pentagon hold in MP Materials?"


def walk(node: Node) -> Iterator[Node]:
    yield node
    if isinstance(node, Block):
        for child in node.children.values():
            yield from walk(child)


def dialogs(at: AppTest) -> list[Block]:
    return list(at.get("dialog"))


def dialog_text(dialog: Block) -> str:
    return " ".join(unescape(str(getattr(n, "value", ""))) for n in walk(dialog) if n.type in ("markdown", "caption"))


def image_captions(node: Node) -> list[str]:
    """The caption of every image under ``node`` (an image without one gives "")."""
    return [img.caption for n in walk(node) if n.type == "image" for img in n.proto.imgs]


@pytest.fixture
def cleared_cache() -> Iterator[None]:
    """For tests that start the app themselves: no Assistant cached by an earlier test (its store is closed)."""
    st.cache_resource.clear()
    yield
    st.cache_resource.clear()


def fresh_session() -> AppTest:
    """A second browser session (a reload): same server caches, new session state."""
    at = AppTest.from_file(APP, default_timeout=60)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


# -- citations ----------------------------------------------------------------------------------------


def test_a_pdf_citation_opens_its_page_as_an_image_with_the_passage_marked(app: AppTest) -> None:
    ask(app, FILING_QUESTION)
    answer = turns(app)[0].answer
    assert answer.citations and answer.citations[0].chunk.source.endswith(".pdf"), answer.text

    click(app, "Show page 1")

    [dialog] = dialogs(app)
    assert image_captions(dialog) == ["Page 1 — the cited passage is marked"], f"no marked page image: {dialog}"
    text = dialog_text(dialog)
    assert "Page 1 of 1 · cited page" in text, text
    buttons = {b.label: b.disabled for b in walk(dialog) if b.type == "button"}
    assert buttons == {"Previous page": True, "Next page": True}, f"a one-page PDF has nowhere to step: {buttons}"


def test_the_cite_address_behind_a_marker_opens_that_source_after_a_reload(app: AppTest) -> None:
    ask(app, FILING_QUESTION)
    chat_id = app.session_state["chat_id"]

    reloaded = AppTest.from_file(APP, default_timeout=60)
    reloaded.query_params["chat"] = chat_id
    reloaded.query_params["cite"] = "0-1"
    reloaded.run()

    assert not reloaded.exception, [e.value for e in reloaded.exception]
    assert [t.question for t in turns(reloaded)] == [FILING_QUESTION], "the chat should be reopened from ?chat="
    [dialog] = dialogs(reloaded)
    assert image_captions(dialog) == ["Page 1 — the cited passage is marked"], dialog
    assert "MP Materials 8-K" in dialog_text(dialog), dialog_text(dialog)


def test_a_markdown_citation_opens_the_passage_inside_its_whole_section(app: AppTest) -> None:
    ask(app, STAKE_QUESTION)

    click(app, "Show in its section")

    [dialog] = dialogs(app)
    shown = [str(n.value) for n in walk(dialog) if n.type == "markdown" and "policyqa-section" in str(n.value)]
    assert shown, f"no section shown: {dialog_text(dialog)}"
    assert f"<mark>{STAKE_SENTENCE}</mark>" in shown[0], f"the cited sentence is not marked: {shown[0]!r}"
    assert "<blockquote>" in shown[0], "the passage should be set apart inside its section"
    assert "Trilogy Metals stake" in dialog_text(dialog)


# -- chats that last ------------------------------------------------------------------------------------


def test_a_chat_is_saved_listed_by_its_first_question_and_reopened_with_citations(app: AppTest) -> None:
    ask(app, STAKE_QUESTION)
    ask(app, ROAD_FOLLOW_UP)

    other = fresh_session()
    listed = [b for b in other.sidebar.button if unescape(b.label) == STAKE_QUESTION]
    assert listed, f"the chat is not listed by its first question: {[b.label for b in other.sidebar.button]}"
    listed[0].click().run()

    assert [t.question for t in turns(other)] == [STAKE_QUESTION, ROAD_FOLLOW_UP]
    assert turns(other)[0].answer.citations == turns(app)[0].answer.citations, "citations must survive the reload"
    assert other.session_state["chat_id"] == app.session_state["chat_id"]
    assert any(unescape(e.label).startswith("[1] Trilogy Metals stake") for e in other.expander), "sources not shown"


def test_a_chat_can_be_renamed_and_deleted(app: AppTest, store_dir: Path) -> None:
    ask(app, STAKE_QUESTION)
    chat_id = app.session_state["chat_id"]

    app.text_input(key=f"rename-{chat_id}").set_value("Trilogy notes").run()
    click(app, "Rename")
    assert [c.title for c in open_chats(store_dir).list()] == ["Trilogy notes"]
    assert any(unescape(b.label) == "Trilogy notes" for b in app.sidebar.button), "the list shows the new name"

    click(app, "Delete this chat")

    assert open_chats(store_dir).list() == [], "the chat is still stored"
    assert turns(app) == [] and "chat" not in app.query_params, "the page should show a new, empty chat"


def test_questions_queued_during_an_answer_are_all_answered_in_order(app: AppTest) -> None:
    # What the page holds when a second question arrives while the first is answered: the rerun stopped the
    # first answer, so its question is still first in the queue, and the second one follows it.
    app.session_state["queue"] = [Pending(STAKE_QUESTION, None, Filters(), None)]
    ask(app, WORKERS_QUESTION)

    assert [t.question for t in turns(app)] == [STAKE_QUESTION, WORKERS_QUESTION], "a question was lost"
    assert app.session_state["queue"] == [], "the queue should be empty once both are answered"
    assert STAKE_SENTENCE in turns(app)[0].answer.text


def test_ask_with_an_edited_query_shows_the_answer_under_that_query(app: AppTest) -> None:
    ask(app, STAKE_QUESTION)

    app.text_input(key="query-0").set_value("MP Materials Pentagon stake").run()
    click(app, "Ask with this query")

    second = turns(app)[1]
    assert second.question == "MP Materials Pentagon stake" and second.answer.query == "MP Materials Pentagon stake"
    assert FILING_SENTENCE in second.answer.text, second.answer.text


def test_feedback_takes_an_optional_comment(app: AppTest, store_dir: Path) -> None:
    ask(app, STAKE_QUESTION)
    chat_id = app.session_state["chat_id"]

    app.feedback[0].set_value(0).run()
    app.text_input(key=f"feedback-comment-{chat_id}-0").set_value("the amount is wrong").run()
    click(app, "Send comment")

    records = latest_feedback(store_dir)
    assert [(r["rating"], r["comment"], r["question"]) for r in records] == [(0, "the amount is wrong", STAKE_QUESTION)]


# -- documents -------------------------------------------------------------------------------------------


def documents_page(app: AppTest) -> AppTest:
    app.switch_page("app/documents.py").run()
    assert not app.exception, [e.value for e in app.exception]
    return app


def test_documents_page_lists_publisher_and_address_and_previews_a_document(app: AppTest) -> None:
    documents_page(app)

    table = app.dataframe[0].value
    assert list(table.columns)[:6] == ["title", "type", "published", "publisher", "url", "chunks"], table.columns
    assert len(table) == CORPUS_DOCUMENTS
    app.selectbox(key="preview_doc").set_value(
        next(d for d, t in zip(table["doc_id"], table["title"], strict=True) if t == "Trilogy Metals stake")
    ).run()
    previews = [unescape(m.value) for m in app.markdown if "policyqa-passage" in m.value]
    assert any(STAKE_SENTENCE in p for p in previews), f"no preview of the document: {previews}"


def test_remove_asks_first_and_then_deletes_the_uploaded_file(app: AppTest) -> None:
    app.file_uploader[0].set_value([(UPLOAD_NAME, UPLOAD_BODY, "text/markdown")]).run()
    click(app, "Add to the corpus")
    upload = Settings().uploads_dir / UPLOAD_NAME
    assert upload.is_file()
    documents_page(app)
    table = app.dataframe[0].value
    doc_id = next(d for d, t in zip(table["doc_id"], table["title"], strict=True) if t == "Cobalt refinery")

    app.selectbox(key="remove_doc").set_value(doc_id).run()
    click(app, "Remove…")
    assert len(app.dataframe[0].value) == CORPUS_DOCUMENTS + 1, "nothing may be removed before the confirmation"
    assert any("the uploaded file is deleted" in unescape(w.value) for w in app.warning), [w.value for w in app.warning]
    click(app, "Yes, remove it")

    assert len(app.dataframe[0].value) == CORPUS_DOCUMENTS, "the document should be gone"
    assert not upload.exists(), "the uploaded file should be deleted with the document"
    assert any("The uploaded file was deleted" in unescape(s.value) for s in app.success)


def test_cancel_keeps_the_document(app: AppTest) -> None:
    documents_page(app)
    click(app, "Remove…")
    click(app, "Cancel")

    assert len(app.dataframe[0].value) == CORPUS_DOCUMENTS


# -- deals and evaluation ----------------------------------------------------------------------------------


def test_deals_page_shows_the_table_and_the_sources_of_a_deal(app: AppTest) -> None:
    app.switch_page("app/deals.py").run()

    assert not app.exception, [e.value for e in app.exception]
    assert [h.value for h in app.header] == ["Deals"]
    assert app.dataframe and len(app.dataframe[0].value) >= 1, "no deals found in the corpus"
    assert any("<mark>" in m.value for m in app.markdown), "each cell should show the sentence it was read from"


def test_evaluation_page_runs_a_question_set_and_shows_the_report(app: AppTest, tmp_path: Path) -> None:
    qs = tmp_path / "questions.yaml"
    qs.write_text(json.dumps({"version": 1, "questions": [
        {"id": "trilogy-stake", "kind": "fact", "question": STAKE_QUESTION, "expected_docs": ["trilogy-stake.md"],
         "facts": ["10%"]},
        {"id": "world-cup", "kind": "unanswerable", "question": "Who won the 1998 World Cup final in football?",
         "expected_docs": [], "facts": []},
    ]}), encoding="utf-8")
    app.switch_page("app/evaluation.py").run()

    app.text_input(key="eval_path").set_value(str(qs)).run()
    click(app, "Run the evaluation")

    metrics = {m.label: m.value for m in app.metric}
    assert metrics["Questions"] == "2" and metrics["hit@1"] == "1.00", metrics
    assert metrics["Refusals"].startswith("1.00"), metrics
    rows = app.dataframe[-1].value
    assert list(rows["id"]) == ["trilogy-stake", "world-cup"] and list(rows["rank"])[0] == 1, rows


def test_evaluation_page_reads_a_json_lines_set_scored_by_evidence(app: AppTest, tmp_path: Path) -> None:
    qs = tmp_path / "questions.jsonl"
    rows = [
        {"id": "q-1", "kind": "single-doc", "question": STAKE_QUESTION, "reference_answer": "10%",
         "evidence": "The Department of Defense will take a 10% stake in Trilogy Metals for $35.6 million.",
         "doc": "trilogy-stake.md"},
        {"id": "q-2", "kind": "unanswerable", "question": "Who won the 1998 World Cup final in football?",
         "reference_answer": "NOT IN CORPUS", "evidence": "", "doc": None},
    ]
    qs.write_text("\n".join(json.dumps(r) for r in rows), encoding="utf-8")
    app.switch_page("app/evaluation.py").run()

    app.text_input(key="eval_path").set_value(str(qs)).run()
    click(app, "Run the evaluation")

    metrics = {m.label: m.value for m in app.metric}
    assert metrics["Questions"] == "2" and metrics["hit@1"] == "1.00", metrics
    assert metrics["Refusals"].startswith("1.00"), metrics


def test_evaluation_page_names_a_missing_question_set(app: AppTest, tmp_path: Path) -> None:
    app.switch_page("app/evaluation.py").run()
    app.text_input(key="eval_path").set_value(str(tmp_path / "none.yaml")).run()
    click(app, "Run the evaluation")

    errors = [unescape(e.value) for e in app.error]
    assert any("none.yaml: question set not found" in e for e in errors), errors


@pytest.mark.parametrize("page", ["app/chat.py", "app/documents.py", "app/deals.py", "app/evaluation.py"])
def test_every_page_renders_without_an_error(app: AppTest, page: str) -> None:
    app.switch_page(page).run()

    assert not app.exception, [e.value for e in app.exception]
    assert app.header, f"{page} has no header"


def test_pages_have_their_own_addresses() -> None:
    source = Path(APP).read_text(encoding="utf-8")

    for path in ("chat", "documents", "deals", "evaluation"):
        assert f'url_path="{path}"' in source, f"no address for the {path} page"



def test_a_refusal_under_a_filter_says_the_filter_was_on_and_points_to_the_deals_page(app: AppTest) -> None:
    app.multiselect(key="filter_types").set_value(["policy"]).run()

    ask(app, STAKE_QUESTION)

    answer = turns(app)[0].answer
    assert not answer.answerable, f"only the order is searched, which does not say it: {answer.text!r}"
    notices = [unescape(i.value) for i in app.info]
    assert any("limited by filters (types policy)" in n for n in notices), notices
    found = [n for n in walk(app.main) if n.type == "page_link"]  # page links have no AppTest accessor
    assert found and "Deals page" in found[0].proto.label, "no link to the Deals page under the refusal"


def test_the_pdf_dialog_offers_the_next_page_and_draws_it_unmarked(
    store_dir: Path, fake_model: object, opened_stores: object, cleared_cache: None, tmp_path: Path
) -> None:
    from ingest.pipeline import ingest_paths
    from tests.app_fixtures import fake_embedder
    from tests.builders import write_pdf, write_sidecar

    (tmp_path / "extra").mkdir()
    pdf = write_pdf(
        tmp_path / "extra" / "niobium.pdf",
        ["The niobium mine in Nebraska will cost $1.2 billion to build.", "Appendix: the site plan."],
    )
    write_sidecar(pdf, {"title": "Niobium filing", "doc_type": "filing"})
    assert ingest_paths([pdf], Settings(), embedder=fake_embedder()).ok
    at = fresh_session()
    ask(at, "How much will the niobium mine in Nebraska cost to build?")
    assert turns(at)[0].answer.citations[0].chunk.title == "Niobium filing", turns(at)[0].answer.text

    click(at, "Show page 1")
    [dialog] = dialogs(at)
    assert "Page 1 of 2 · cited page" in dialog_text(dialog)
    buttons = {b.label: b.disabled for b in walk(dialog) if b.type == "button"}
    assert buttons == {"Previous page": True, "Next page": False}, buttons

    # "Next page" reruns the dialog alone (a fragment), which AppTest does not replay; it keeps the page in the
    # session like this (the browser test clicks it for real), and the dialog then draws that page unmarked.
    chunk_id = turns(at)[0].answer.citations[0].chunk.chunk_id
    at.session_state[f"pdf-page-{chunk_id}"] = 2
    click(at, "Show page 1")

    [dialog] = dialogs(at)
    assert "Page 2 of 2" in dialog_text(dialog) and "cited page" not in dialog_text(dialog), dialog_text(dialog)
    assert image_captions(dialog) == ["Page 2"], "page 2 holds no cited passage to mark"


def test_the_original_address_of_a_cited_document_is_shown_and_listed(
    store_dir: Path, fake_model: object, opened_stores: object, cleared_cache: None, tmp_path: Path
) -> None:
    from ingest.pipeline import ingest_paths
    from tests.app_fixtures import fake_embedder
    from tests.builders import write_markdown, write_sidecar

    (tmp_path / "extra").mkdir()
    body = "# Tin smelter\n\nThe tin smelter in Texas employs 75 people.\n"
    note = write_markdown(tmp_path / "extra" / "tin.md", body)
    write_sidecar(note, {"sources": ["https://example.gov/tin-smelter"], "publisher": "Example Office"})
    assert ingest_paths([note], Settings(), embedder=fake_embedder()).ok
    at = fresh_session()

    ask(at, "How many people does the tin smelter in Texas employ?")

    source = next(e for e in at.expander if unescape(e.label).startswith("[1] Tin smelter"))
    links = [m.value for m in source.markdown if "Original:" in m.value]
    assert links == ['Original: <a href="https://example.gov/tin-smelter" target="_blank" rel="noopener noreferrer">'
                     "https://example.gov/tin-smelter</a>"], links
    documents_page(at)
    table = at.dataframe[0].value
    row = table[table["title"] == "Tin smelter"].iloc[0]
    assert (row["publisher"], row["url"]) == ("Example Office", "https://example.gov/tin-smelter"), row
