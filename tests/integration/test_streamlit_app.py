"""streamlit_app.py through Streamlit's AppTest: ask, follow up, filter, new chat, export, feedback, uploads, errors.

The app builds ``Assistant(Settings())`` in a cached factory, so it reads the store from POLICYQA_STORE_DIR (set by
the autouse environment fixture); the real model is replaced by the fake embedder through
``policyqa.embedding.load_embedder``, which the assistant and the ingest pipeline both call lazily.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import streamlit as st
from streamlit.runtime.memory_media_file_storage import MemoryMediaFileStorage
from streamlit.testing.v1 import AppTest
from streamlit.testing.v1.element_tree import Block, Element

from assistant.feedback import read_feedback
from assistant.retrieval import Retriever
from ingest.pipeline import ingest_paths
from policyqa.errors import StoreUnavailable
from policyqa.settings import Settings
from policyqa.store import CorpusStore
from policyqa.types import DocType, Outcome, Turn
from tests.app_fixtures import (
    FILING_SENTENCE,
    ROAD_FOLLOW_UP,
    ROAD_SENTENCE,
    SCRIPT,
    STAKE_QUESTION,
    STAKE_SENTENCE,
    UNANSWERABLE_QUESTION,
    UPLOAD_BODY,
    UPLOAD_NAME,
    UPLOAD_QUESTION,
    WORKERS_QUESTION,
    WORKERS_SENTENCE,
    fake_embedder,
    write_corpus,
)
from tests.builders import write_corrupt_pdf
from tests.conftest import ROOT
from tests.fakes import FakeEmbedder

APP = str(ROOT / "streamlit_app.py")
CORPUS_DOCUMENTS = 4


def unescape(markdown: str) -> str:
    """Undo escape_markdown, so tests can compare with the plain document text."""
    return re.sub(r"\\(.)", r"\1", markdown)


@pytest.fixture
def opened_stores(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[CorpusStore]]:
    """Every store the app opens, closed at teardown (the resource cache only forgets them)."""
    import policyqa.store

    opened: list[CorpusStore] = []
    real_open = policyqa.store.open_store

    def open_and_remember(settings: Settings) -> CorpusStore:
        opened.append(real_open(settings))
        return opened[-1]

    monkeypatch.setattr(policyqa.store, "open_store", open_and_remember)
    yield opened
    for store in opened:
        store.close()


@pytest.fixture
def fake_model(monkeypatch: pytest.MonkeyPatch) -> list[FakeEmbedder]:
    made: list[FakeEmbedder] = []

    def load(settings: Settings) -> FakeEmbedder:
        made.append(fake_embedder())
        return made[-1]

    monkeypatch.setattr("policyqa.embedding.load_embedder", load)
    return made


@pytest.fixture
def store_dir(tmp_path: Path) -> Path:
    """The corpus ingested into the store the app will open (POLICYQA_STORE_DIR)."""
    settings = Settings()
    report = ingest_paths(write_corpus(tmp_path / "docs"), settings, embedder=fake_embedder())
    assert report.ok and report.count(Outcome.ADDED) == CORPUS_DOCUMENTS, report.summary()
    return settings.store_dir


@pytest.fixture
def media(monkeypatch: pytest.MonkeyPatch) -> list[MemoryMediaFileStorage]:
    """The in-memory media stores AppTest creates per run, so download data can be read back."""
    storages: list[MemoryMediaFileStorage] = []
    real_init = MemoryMediaFileStorage.__init__

    def init(self: MemoryMediaFileStorage, media_endpoint: str) -> None:
        real_init(self, media_endpoint)
        storages.append(self)

    monkeypatch.setattr(MemoryMediaFileStorage, "__init__", init)
    return storages


@pytest.fixture
def app(store_dir: Path, fake_model: list[FakeEmbedder], opened_stores: list[CorpusStore]) -> Iterator[AppTest]:
    st.cache_resource.clear()
    at = AppTest.from_file(APP, default_timeout=60)
    at.run()
    assert not at.exception, f"the app failed to start: {[e.value for e in at.exception]}"
    yield at
    st.cache_resource.clear()


MARKER = re.compile(r"\*\*\[\[(\d+)\]\]\(\?chat=(\w+)&cite=(\d+)-(\d+)\)\*\*")


def linked_markers(markdown: str) -> list[tuple[str, str, str, str]]:
    """The answer's [n] markers, each a link to ``?chat=ID&cite=TURN-N``: (n, chat id, turn, n)."""
    return MARKER.findall(markdown)


def ask(at: AppTest, question: str) -> AppTest:
    at.chat_input[0].set_value(question).run()
    assert not at.exception, f"exception after asking {question!r}: {[e.value for e in at.exception]}"
    return at


def turns(at: AppTest) -> list[Turn]:
    return at.session_state["conversation"].turns


def expander(at: AppTest, starts_with: str, *, last: bool = False) -> Block:
    found = [e for e in at.expander if unescape(e.label).startswith(starts_with)]
    assert found, f"no expander starting {starts_with!r}: {[e.label for e in at.expander]}"
    return found[-1] if last else found[0]


def metric(at: AppTest, label: str) -> str:
    values = [m.value for m in at.metric if m.label == label]
    assert len(values) == 1, f"expected one {label!r} metric: {[(m.label, m.value) for m in at.metric]}"
    return values[0]


def export_button(at: AppTest) -> Element:
    """By its proto: AppTest's DownloadButton wrapper (and ``at.download_button``) arrived after streamlit 1.53."""
    found = list(at.get("download_button"))
    buttons = [b for b in found if b.proto.label == "Export"]
    assert len(buttons) == 1, f"expected one Export button: {[b.proto.label for b in found]}"
    return buttons[0]


def download_data(button: Element, storages: list[MemoryMediaFileStorage]) -> str:
    name = button.proto.url.rsplit("/", 1)[-1]
    assert storages, "AppTest created no media storage"
    return storages[-1].get_file(name).content.decode("utf-8")


# -- asking ---------------------------------------------------------------------------------------------


def test_question_gets_an_answer_with_a_marker_and_sources_marking_the_cited_sentence(app: AppTest) -> None:
    ask(app, STAKE_QUESTION)

    shown = [m.value for m in app.markdown]
    answers = [v for v in shown if linked_markers(v)]
    assert answers, f"no answer with a [1] marker among: {shown}"
    number, chat_id, turn, cited = linked_markers(answers[0])[0]
    assert (number, chat_id, turn, cited) == ("1", app.session_state["chat_id"], "0", "1"), linked_markers(answers[0])
    assert STAKE_SENTENCE in unescape(MARKER.sub("", answers[0])), f"answer should state the fact: {answers[0]!r}"
    assert "**Sources**" in shown, f"no Sources heading: {shown}"
    source = expander(app, "[1] Trilogy Metals stake")
    passage = " ".join(m.value for m in source.markdown)
    assert f"<mark>{STAKE_SENTENCE}</mark>" in passage, f"the cited sentence is not marked: {passage!r}"


def test_follow_up_searches_with_the_entity_of_the_previous_question(app: AppTest) -> None:
    ask(app, STAKE_QUESTION)
    ask(app, ROAD_FOLLOW_UP)

    searched = [unescape(e.label) for e in app.expander if unescape(e.label).startswith("Searched for: ")]
    assert len(searched) == 2, f"one 'Searched for' expander per turn: {searched}"
    assert searched[1].startswith(f"Searched for: {ROAD_FOLLOW_UP} "), f"rewritten query: {searched[1]!r}"
    assert "Trilogy Metals" in searched[1], f"the follow-up should carry 'Trilogy Metals': {searched[1]!r}"
    assert ROAD_SENTENCE in turns(app)[1].answer.text, f"follow-up answer: {turns(app)[1].answer.text!r}"


def test_doc_type_filter_restricts_citations_to_that_type(app: AppTest) -> None:
    question = "How big is the Department of Defense stake?"
    ask(app, question)
    unfiltered = {c.chunk.doc_type for c in turns(app)[0].answer.citations}
    assert DocType.ARTICLE in unfiltered, f"without a filter the article should be cited too: {unfiltered}"

    app.multiselect(key="filter_types").set_value(["filing"]).run()
    ask(app, question)

    answer = turns(app)[1].answer
    assert answer.answerable and answer.citations, f"expected a cited answer: {answer.text!r}"
    assert {c.chunk.doc_type for c in answer.citations} == {DocType.FILING}, (
        f"citations outside the filter: {[(c.chunk.title, c.chunk.doc_type) for c in answer.citations]}"
    )
    assert FILING_SENTENCE in answer.text, f"answer: {answer.text!r}"
    assert any("Filters apply: types filing" in unescape(c.value) for c in app.caption), "the filter is not shown"


def click(at: AppTest, label: str) -> AppTest:
    buttons = [b for b in at.button if b.label == label]
    assert len(buttons) == 1, f"expected one {label!r} button: {[b.label for b in at.button]}"
    buttons[0].click().run()
    assert not at.exception, f"exception after clicking {label!r}: {[e.value for e in at.exception]}"
    return at


def test_new_chat_clears_the_turns(app: AppTest) -> None:
    ask(app, STAKE_QUESTION)
    assert len(app.chat_message) == 2, f"one question and one answer: {len(app.chat_message)}"

    click(app, "New chat")

    assert turns(app) == [], f"turns left: {turns(app)}"
    assert len(app.chat_message) == 0, "chat messages are still shown"
    assert any("Ask about" in i.value for i in app.info), "the empty-chat hint should be back"
    assert export_button(app).proto.disabled, "Export should be disabled for an empty chat"


def test_export_downloads_the_question_and_its_citation(app: AppTest, media: list[MemoryMediaFileStorage]) -> None:
    assert export_button(app).proto.disabled, "Export should be disabled before any question"

    ask(app, STAKE_QUESTION)

    button = export_button(app)
    assert not button.proto.disabled, "Export should be enabled once there is an answer"
    exported = unescape(download_data(button, media))
    assert STAKE_QUESTION in exported, f"the question is missing from the export: {exported!r}"
    assert "\n1. Trilogy Metals stake" in exported, f"the numbered source is missing: {exported!r}"
    assert f"> {STAKE_SENTENCE}" in exported, f"the quoted sentence is missing: {exported!r}"
    assert "\\" not in download_data(button, media), "the export should have no backslash escapes here"


# -- feedback ---------------------------------------------------------------------------------------------


def test_thumbs_up_appends_a_feedback_record_beside_the_store(app: AppTest, store_dir: Path) -> None:
    ask(app, STAKE_QUESTION)

    app.feedback[0].set_value(1).run()

    assert not app.exception, f"exception: {[e.value for e in app.exception]}"
    records = read_feedback(store_dir)
    assert len(records) == 1, f"records: {records}"
    record = records[0]
    assert (record["rating"], record["question"]) == (1, STAKE_QUESTION), f"record: {record}"
    assert STAKE_SENTENCE in str(record["answer"]), f"record answer: {record['answer']!r}"
    citations = record["citations"]
    assert isinstance(citations, list) and citations, f"no citations recorded: {record}"
    assert citations[0]["title"] == "Trilogy Metals stake" and citations[0]["quote"] == STAKE_SENTENCE, citations
    assert (store_dir / "feedback.jsonl").is_file(), "feedback.jsonl should sit beside the store"


def test_feedback_in_a_new_chat_is_recorded_too(app: AppTest, store_dir: Path) -> None:
    ask(app, STAKE_QUESTION)
    app.feedback[0].set_value(1).run()
    click(app, "New chat")

    ask(app, WORKERS_QUESTION)
    app.feedback[0].set_value(1).run()

    records = read_feedback(store_dir)
    assert [r["question"] for r in records] == [STAKE_QUESTION, WORKERS_QUESTION], (
        f"the thumbs-up on the new chat's first answer was not saved: {records}"
    )


# -- uploads ----------------------------------------------------------------------------------------------


def test_upload_adds_the_good_file_and_names_the_corrupt_one_in_one_line(app: AppTest, tmp_path: Path) -> None:
    assert metric(app, "Documents") == str(CORPUS_DOCUMENTS)
    corrupt = write_corrupt_pdf(tmp_path / "broken.pdf").read_bytes()

    app.file_uploader[0].set_value(
        [(UPLOAD_NAME, UPLOAD_BODY, "text/markdown"), ("broken.pdf", corrupt, "application/pdf")]
    ).run()
    click(app, "Add to the corpus")

    errors = [unescape(e.value) for e in app.error]
    assert len(errors) == 1, f"one error line for the corrupt file: {errors}"
    assert "broken.pdf" in errors[0] and "\n" not in errors[0], f"one line naming the file: {errors[0]!r}"
    assert errors[0].count("broken.pdf") == 1, f"the file is named more than once: {errors[0]!r}"
    added = [unescape(m.value) for m in app.markdown if "added" in m.value]
    assert any(UPLOAD_NAME in line for line in added), f"no 'added' line for {UPLOAD_NAME}: {added}"
    assert metric(app, "Documents") == str(CORPUS_DOCUMENTS + 1), "the sidebar count should include the upload"
    assert (Settings().uploads_dir / UPLOAD_NAME).is_file(), "the upload should be saved in the uploads folder"
    assert app.file_uploader[0].value == [], "the uploader should be emptied after adding"

    ask(app, UPLOAD_QUESTION)
    answer = turns(app)[0].answer
    assert answer.answerable and answer.citations[0].chunk.title == "Cobalt refinery", f"answer: {answer.text!r}"


def test_upload_over_the_size_limit_is_refused_naming_the_limit(
    store_dir: Path, fake_model: list[FakeEmbedder], opened_stores: list[CorpusStore], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("POLICYQA_MAX_UPLOAD_MB", "0.001")
    st.cache_resource.clear()
    at = AppTest.from_file(APP, default_timeout=60).run()

    at.file_uploader[0].set_value(("big.md", b"# Big\n\n" + b"word " * 1000, "text/markdown")).run()
    click(at, "Add to the corpus")
    st.cache_resource.clear()

    errors = [unescape(e.value) for e in at.error]
    assert len(errors) == 1 and "big.md" in errors[0] and "0.001 MB" in errors[0], f"errors: {errors}"
    assert metric(at, "Documents") == str(CORPUS_DOCUMENTS), "nothing should be added"


# -- errors and refusals ----------------------------------------------------------------------------------


def test_an_error_while_answering_is_shown_and_the_page_keeps_working(
    app: AppTest, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_search = Retriever.search
    calls: list[int] = []

    def failing_once(self: Retriever, *args: object, **kwargs: object) -> object:
        calls.append(1)
        if len(calls) == 1:
            raise StoreUnavailable("the document store at /nowhere is unavailable")
        return real_search(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(Retriever, "search", failing_once)

    ask(app, STAKE_QUESTION)

    shown = " ".join(unescape(m.value) for m in app.markdown) + " ".join(unescape(e.value) for e in app.error)
    assert "the document store at /nowhere is unavailable" in shown, f"the error is not shown: {shown!r}"
    assert turns(app) == [], "a failed question should not become a turn"

    ask(app, STAKE_QUESTION)
    assert len(turns(app)) == 1 and turns(app)[0].answer.answerable, "the next question should be answered"
    assert any(linked_markers(m.value) for m in app.markdown), "the answer should be rendered after the error"


def test_unanswerable_question_shows_a_warning_and_related_passages(app: AppTest) -> None:
    ask(app, UNANSWERABLE_QUESTION)

    warnings = [w.value for w in app.warning]
    assert any("do not answer" in w for w in warnings), f"no refusal warning: {warnings}"
    assert "**Related passages**" in [m.value for m in app.markdown], "no related passages heading"
    related = [e for e in app.expander if re.match(r"\d+\\?\. ", e.label)]
    assert related, f"no related passage expanders: {[e.label for e in app.expander]}"
    assert "**Sources**" not in [m.value for m in app.markdown], "a refusal has no sources"


def test_markup_inside_a_document_is_rendered_escaped(app: AppTest) -> None:
    ask(app, WORKERS_QUESTION)
    ask(app, "Where can I read more about the Zephyr Lithium plant?")

    shown = [m.value for m in app.markdown]
    assert not [v for v in shown if re.search(r"(?<!\\)<script", v, re.I)], f"unescaped <script> rendered: {shown}"
    passages = [v for v in shown if v.startswith("<div class='policyqa-passage'>") and "Zephyr" in v]
    assert passages and all("&lt;script&gt;alert(1)&lt;/script&gt;" in v for v in passages), (
        f"the passage should show the script as text: {passages}"
    )
    answer = turns(app)[1].answer
    assert "javascript:" in answer.text, f"this answer should quote the link sentence: {answer.text!r}"
    rendered = next(v for v in shown if "javascript" in v and not v.startswith("<div"))
    assert r"\[click\]\(javascript\:alert\(1\)\)" in rendered, f"the Markdown link is not escaped: {rendered!r}"
    assert r"\<script\>" in rendered, f"the script tag is not escaped in the answer: {rendered!r}"
    assert WORKERS_SENTENCE in unescape(rendered) or WORKERS_SENTENCE in unescape(" ".join(shown))
    assert SCRIPT in answer.text, "the stored answer keeps the document's text unchanged"


CR_PAGE = (
    "<html><head><title>Gallium note</title></head><body><main><h1>Gallium note</h1>"
    "<p>The gallium plant in Ohio will cost $120 million and employ 300 people.</p>"
    "<pre>Gallium plant details\r\r[click here](javascript:alert(1)) costs $5 and $6</pre></main></body></html>"
)


def test_passage_html_never_contains_a_line_break_that_would_end_the_html_block(
    store_dir: Path, fake_model: list[FakeEmbedder], opened_stores: list[CorpusStore], tmp_path: Path
) -> None:
    page = tmp_path / "extra" / "gallium.html"
    page.parent.mkdir()
    page.write_bytes(CR_PAGE.encode())
    assert ingest_paths([page], Settings(), embedder=fake_embedder()).ok
    st.cache_resource.clear()
    at = AppTest.from_file(APP, default_timeout=60).run()

    ask(at, "What are the gallium plant details?")
    st.cache_resource.clear()

    shown = [m.value for m in at.markdown]
    passages = [v for v in shown if v.startswith("<div class='policyqa-passage'>") and "Gallium" in v]
    assert passages, f"the gallium passage was not shown: {[v[:80] for v in shown]}"
    breaks = [v for v in passages if "\r" in v or "\n" in v]
    assert breaks == [], f"a raw line break in passage HTML lets Markdown parse document text: {breaks}"
