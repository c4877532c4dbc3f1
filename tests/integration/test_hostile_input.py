"""Hostile input: crafted PDFs, active content in HTML and Markdown, odd questions; bounded, clear, inert."""

from __future__ import annotations

import functools
import re
import time
import zlib
from collections.abc import Callable, Iterator
from html.parser import HTMLParser
from pathlib import Path

import pytest
from click.testing import CliRunner
from markdown_it import MarkdownIt

from assistant import Assistant, Conversation
from assistant.render import answer_markdown, answer_text, conversation_markdown, passage_html
from ingest.pipeline import ingest_paths
from policyqa_cli import main
from policyqa.settings import Settings
from policyqa.store import CorpusStore, open_store
from policyqa.types import Answer, Citation, DocType, Outcome, Passage, StoredChunk, Turn
from tests.big_files import MB, PeakRss
from tests.builders import write_markdown
from tests.fakes import FakeEmbedder
from tests.integration.policy_corpus import write_policy_corpus
from tests.integration.test_bad_input import assert_one_line_naming

PDF_SECONDS_LIMIT = 60  # each file below takes well under a second when the limits hold
PDF_PEAK_RSS_LIMIT_MB = 300  # measured at most about 90 MB (pypdf's 75 MB decompression cap plus parsing)

# -- PDFs written byte by byte ----------------------------------------------------------------------------------

FONT = b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"
PAGE = (
    b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 3 0 R >> %s>> "
    b"/Contents %d 0 R >>"
)


def pdf_bytes(objects: list[bytes], *, root: int = 1) -> bytes:
    """A PDF of ``objects`` (numbered from 1) with a correct cross-reference table."""
    out = bytearray(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root %d 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, root, xref)
    return bytes(out)


@functools.cache
def stream(data: bytes, *, extra: bytes = b"") -> bytes:
    packed = zlib.compress(data, 1)
    return b"<< /Length %d /Filter /FlateDecode %s>>\nstream\n" % (len(packed), extra) + packed + b"\nendstream"


def text_pdf(contents: list[bytes], *, resources: bytes = b"", extra: list[bytes] | None = None) -> bytes:
    """One page per content stream; ``extra`` objects follow the pages (numbered from 4 + 2 * pages)."""
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>", b"", FONT]
    kids = []
    for content in contents:
        kids.append(len(objects) + 1)
        objects += [PAGE % (resources, len(objects) + 2), content]
    objects[1] = b"<< /Type /Pages /Kids [%s] /Count %d >>" % (b" ".join(b"%d 0 R" % k for k in kids), len(kids))
    return pdf_bytes(objects + (extra or []))


def show(text: bytes) -> bytes:
    return b"BT /F1 12 Tf 72 720 Td (" + text + b") Tj ET\n"


def empty_pages(count: int) -> bytes:
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>", b""]
    objects += [b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] >>"] * count
    kids = b" ".join(b"%d 0 R" % (i + 3) for i in range(count))
    objects[1] = b"<< /Type /Pages /Kids [%s] /Count %d >>" % (kids, count)
    return pdf_bytes(objects)


def deep_page_tree(depth: int) -> bytes:
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>"]
    objects += [b"<< /Type /Pages /Kids [%d 0 R] /Count 1 >>" % (n + 3) for n in range(depth)]
    return pdf_bytes(objects + [b"<< /Type /Page /MediaBox [0 0 612 792] >>"])


def cyclic_page_tree() -> bytes:
    return pdf_bytes([
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [2 0 R 3 0 R] /Count 2 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] >>",
    ])


def form_drawn_many_times(form_ops: int, draws: int) -> bytes:
    """A small form XObject of text operators drawn ``draws`` times by one page: work multiplies, size does not."""
    body = b"BT /F1 12 Tf 72 720 Td " + b"(A) Tj " * form_ops + b"ET\n"
    form = stream(
        body, extra=b"/Type /XObject /Subtype /Form /BBox [0 0 612 792] /Resources << /Font << /F1 3 0 R >> >> "
    )
    return text_pdf([stream(b"/Fm0 Do\n" * draws)], resources=b"/XObject << /Fm0 6 0 R >> ", extra=[form])


def readable() -> bytes:
    return text_pdf([stream(show(b"The Zephyr refinery recovers gallium from zinc residues."))])


def broken_xref(kind: str) -> bytes:
    good = readable()
    xref = good.index(b"xref\n")
    tail = good[good.index(b"trailer") :]
    return {
        "garbage": good[:xref] + b"xref\n0 9\ngarbage garbage\n" + tail,
        "missing": good[:xref] + tail,
        "wrong-startxref": good.replace(b"startxref\n%d" % xref, b"startxref\n999999"),
        "prev-loop": good.replace(b"/Size", b"/Prev %d /Size" % xref),
        "huge-count": good[:xref] + b"xref\n0 99999999\n" + tail,
        "truncated": good[: len(good) // 2],
    }[kind]


# name -> (bytes, expected outcomes, words of which one must appear in a failure or skip message, settings overrides)
PdfCase = tuple[Callable[[], bytes], tuple[Outcome, ...], tuple[str, ...], dict[str, object]]
BLANKS = b" " * 4_000_000  # under the 4 MB page limit: 40 such pages are over the 128 MB limit for a file
FAILED, SKIPPED, ADDED = Outcome.FAILED, Outcome.SKIPPED, Outcome.ADDED
HOSTILE_PDFS: dict[str, PdfCase] = {
    "2500-empty-pages-over-the-page-limit": (lambda: empty_pages(2500), (FAILED,), ("limit of 2000 pages",), {}),
    "3000-empty-pages-under-a-raised-limit": (
        lambda: empty_pages(3000), (SKIPPED,), ("no extractable text",), {"max_pdf_pages": 5000},
    ),
    "flate-bomb-of-300-mb": (lambda: text_pdf([stream(b" " * 300_000_000)]), (FAILED,), ("decompression",), {}),
    "70-mb-of-text-operators": (
        lambda: text_pdf([stream(b"BT /F1 12 Tf 72 720 Td " + b"(A) Tj " * 10_000_000 + b"ET\n")]), (FAILED,),
        ("decompression bomb",), {},
    ),
    "70-mb-of-blanks-on-one-page": (
        lambda: text_pdf([stream(show(b"Page") + b" " * 70_000_000)]), (FAILED,), ("decompression bomb",), {},
    ),
    "4-mb-of-blanks-on-each-of-40-pages": (
        lambda: text_pdf([stream(show(b"Page") + BLANKS)] * 40), (FAILED,), ("128 MB in all",), {},
    ),
    "a-form-drawn-300-times": (lambda: form_drawn_many_times(10_000, 300), (FAILED,), ("decompression bomb",), {}),
    "100000-nested-arrays-in-a-stream-dictionary": (
        lambda: text_pdf([stream(show(b"Nested"), extra=b"/X " + b"[" * 100_000 + b"]" * 100_000 + b" ")]),
        (FAILED, SKIPPED, ADDED), ("not a readable pdf", "no extractable text"), {},
    ),
    "20000-nested-dictionaries": (
        lambda: text_pdf([stream(show(b"Nested"), extra=b"/X " + b"<< /A " * 20_000 + b">> " * 20_000)]),
        (FAILED, SKIPPED, ADDED), ("not a readable pdf", "no extractable text"), {},
    ),
    "200000-nested-arrays-in-the-content": (
        lambda: text_pdf([stream(show(b"Hello") + b"[" * 200_000 + b"]" * 200_000)]),
        (FAILED, SKIPPED, ADDED), ("not a readable pdf", "no extractable text"), {},
    ),
    "page-tree-5000-levels-deep": (lambda: deep_page_tree(5000), (FAILED,), ("page tree depth",), {}),
    "page-tree-that-contains-itself": (cyclic_page_tree, (FAILED,), ("cyclic",), {}),
    "garbage-xref-table": (lambda: broken_xref("garbage"), (FAILED, ADDED), ("not a readable pdf",), {}),
    "no-xref-table": (lambda: broken_xref("missing"), (ADDED,), (), {}),
    "startxref-past-the-end": (lambda: broken_xref("wrong-startxref"), (ADDED,), (), {}),
    "xref-that-points-to-itself": (lambda: broken_xref("prev-loop"), (ADDED,), (), {}),
    "xref-declaring-99999999-objects": (
        lambda: broken_xref("huge-count"), (FAILED, ADDED), ("not a readable pdf",), {},
    ),
    "truncated-half-way": (lambda: broken_xref("truncated"), (FAILED,), ("not a readable pdf",), {}),
}
# Both engines read the same bytes, built once.
HOSTILE_PDFS = {name: (functools.cache(make), *rest) for name, (make, *rest) in HOSTILE_PDFS.items()}  # type: ignore
ENGINES = ["pypdf", "pdfium"] if "pdf_engine" in Settings.model_fields else ["default"]


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("case", list(HOSTILE_PDFS))
def test_hostile_pdf_fails_or_is_skipped_with_one_line_in_bounded_time_and_memory(
    case: str, engine: str, tmp_path: Path, settings: Settings
) -> None:
    make, expected, words, overrides = HOSTILE_PDFS[case]
    folder = tmp_path / "in"
    folder.mkdir()
    path = folder / f"{case}.pdf"
    path.write_bytes(make())
    if engine != "default":
        overrides = {**overrides, "pdf_engine": engine}
    configured = settings.with_overrides(**overrides)
    store = open_store(configured)

    started = time.monotonic()
    with PeakRss() as rss:
        report = ingest_paths([path], configured, store=store, embedder=FakeEmbedder())
    seconds = time.monotonic() - started

    (outcome,) = report.files
    assert outcome.outcome in expected, f"{case} ({engine}): {outcome}"
    if outcome.outcome is not ADDED:
        assert_one_line_naming(outcome, path, words)
    assert seconds < PDF_SECONDS_LIMIT, f"{case} ({engine}) took {seconds:.0f} s"
    assert rss.peak_delta_mb < PDF_PEAK_RSS_LIMIT_MB, f"{case} ({engine}) raised memory by {rss.peak_delta_mb:.0f} MB"
    assert store.check().ok, f"{case} ({engine}) left the store inconsistent: {store.check()}"
    if outcome.outcome is ADDED and "xref" in case:
        assert store.lexical_search("Zephyr gallium", 1), f"{case}: the recovered PDF's text is not searchable"
    store.close()


# -- active content in HTML and Markdown ------------------------------------------------------------------------

HOSTILE_HTML = """<!DOCTYPE html><html><head><title>Zephyr deal</title>
<meta http-equiv="refresh" content="0; url=javascript:alert('meta')">
<script>alert('script')</script><style>body { display: none }</style>
<link rel="stylesheet" href="javascript:alert('css')"><base href="javascript:alert('base')//">
</head><body onload="alert('body')"><main>
<h1 onclick="alert('h1')">The Zephyr deal</h1>
<p onmouseover="alert('p')">The Department of Energy signed the Zephyr deal, worth $410 million, on May 5, 2025.
<a href="javascript:alert('link')">Read the announcement</a> <img src=x onerror="alert('img')">
<iframe src="javascript:alert('iframe')" srcdoc="<script>alert('srcdoc')</script>">IFRAMETEXT</iframe>
<svg onload="alert('svg')"><script>alert('svg script')</script></svg>
<object data="javascript:alert('object')">OBJECTTEXT</object><embed src="javascript:alert('embed')">
<form action="javascript:alert('form')"><input value="FORMTEXT"><button>BUTTONTEXT</button></form>
<template><script>alert('template')</script></template><noscript><img src=x onerror=alert('noscript')></noscript>
The refinery in Zephyr, Nevada will recover gallium.</p>
<p>&lt;script&gt;alert('entity')&lt;/script&gt; was printed in the memo as text.</p>
</main></body></html>
"""

HOSTILE_MARKDOWN = """# The Quorra deal

The Department of the Interior signed the Quorra deal, worth $250 million, on June 9, 2025.
Click [here](javascript:alert(1)) or <img src=x onerror=alert(1)> to see the $400 million deal.
<script>alert('md script')</script>
<iframe src="https://evil.example/frame"></iframe>
See ![chart](https://evil.example/pixel.png "tracker") and <javascript:alert(2)> and <https://evil.example/auto>.
A [reference link][evil] and a bare link https://evil.example/bare and www.evil.example too.
Formulas $x^2$ and :red[red text] and **bold** and `code` and ~~struck~~ stay as written.

[evil]: javascript:alert(3)

Heading by underline
====================

<div style="position:fixed;top:0;left:0;width:100%;height:100%">covering div</div>
"""

ACTIVE_TOKENS = {"link_open", "image", "html_inline", "html_block"}


def markdown_tokens(text: str) -> Iterator[str]:
    """The token types a CommonMark renderer with raw HTML and tables (as Streamlit's) makes of ``text``."""
    parser = MarkdownIt("commonmark", {"html": True}).enable(["table", "strikethrough"])
    for token in parser.parse(text):
        yield token.type
        for child in token.children or []:
            yield child.type


def assert_inert_markdown(text: str, what: str, *, streamlit: bool = True) -> None:
    """No link, image or HTML comes out of ``text``; ``streamlit`` adds its $formulas$ and :colour[markup]
    (which a Markdown file read elsewhere does not have, so the export leaves "$" as written)."""
    active = sorted(set(markdown_tokens(text)) & ACTIVE_TOKENS)
    assert not active, f"{what} renders as {active}: {text[:500]!r}"
    headings = [t for t in markdown_tokens(text) if t == "heading_open"]
    assert len(headings) <= text.count("\n#") + text.startswith("#"), f"{what}: document text became a heading"
    bare = re.findall(r"(?i)(?:javascript|vbscript|data|https?|ftp|mailto):|www\.", text)
    assert not bare, f"{what}: {bare} could be auto-linked: {text[:500]!r}"
    formula = re.search(r"(?<!\\)\$|(?<!\\):[a-z]+(?<!\\)\[", text) if streamlit else None
    assert not formula, f"{what}: formula or colour markup left active at {formula}: {text[:500]!r}"


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, list[tuple[str, str | None]]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, attrs))


def assert_inert_html(fragment: str, what: str) -> None:
    parser = _Tags()
    parser.feed(fragment)
    unexpected = [(tag, attrs) for tag, attrs in parser.tags if tag not in ("mark", "br") or attrs]
    assert not unexpected, f"{what} holds markup from the document: {unexpected[:5]}"


def assert_plain_terminal_text(text: str, what: str) -> None:
    controls = sorted({hex(ord(ch)) for ch in text if (ord(ch) < 32 and ch != "\n") or 0x7F <= ord(ch) <= 0x9F})
    assert not controls, f"{what} carries control characters a terminal would act on: {controls}"


@pytest.fixture(scope="module")
def hostile_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Settings, CorpusStore, FakeEmbedder]]:
    """The policy corpus plus hostile HTML, Markdown and text, shared by the tests below (they only read it)."""
    tmp_path = tmp_path_factory.mktemp("hostile")
    settings = Settings(store_dir=tmp_path / "store", collection="hostile")
    folder = write_policy_corpus(tmp_path / "corpus")
    (folder / "zephyr-deal.html").write_text(HOSTILE_HTML, encoding="utf-8")
    write_markdown(folder / "quorra-deal.md", HOSTILE_MARKDOWN, front_matter={
        "title": "Quorra deal [click](javascript:alert(4)) <b onmouseover=alert(5)>"
        "\u001b]8;;https://evil.example\u001b\\",
        "doc_type": "article", "published": "2025-06-09",
    })
    (folder / "terminal.txt").write_text(
        "Terminal memo\n\nThe Yarrow deal is worth \x1b[31m$90 million\x1b[0m.\x1b]8;;https://evil.example\x1b\\ "
        "Open\x1b]8;;\x1b\\ it.\x1b[2J\x9b2J The Yarrow deal closes in July 2025.\n", encoding="utf-8",
    )
    embedder = FakeEmbedder(max_tokens=256)  # chunks of whole paragraphs, as the real model's 256 word pieces give
    store = open_store(settings)
    report = ingest_paths([folder], settings, store=store, embedder=embedder)
    assert report.ok, report.files
    yield settings, store, embedder
    store.close()


def stored_texts(store: CorpusStore, source_name: str) -> list[str]:
    (record,) = [r for r in store.documents() if Path(r.meta.source).name == source_name]
    chunks = store.get_chunks(sorted(store.catalog.chunk_ids(record.meta.doc_id)))
    return [c.text for c in chunks.values()] + [record.meta.title]


def test_html_loader_keeps_the_text_and_drops_scripts_frames_handlers_and_links(
    hostile_store: tuple[Settings, CorpusStore, FakeEmbedder],
) -> None:
    _, store, _ = hostile_store
    text = "\n".join(stored_texts(store, "zephyr-deal.html"))

    assert "worth $410 million" in text and "recover gallium" in text, f"the page's text was lost: {text!r}"
    dropped = ("javascript", "onerror", "onload", "onclick", "IFRAMETEXT", "OBJECTTEXT", "BUTTONTEXT", "FORMTEXT")
    for leftover in dropped:
        assert leftover not in text, f"{leftover!r} survived the HTML loader: {text!r}"
    # The memo prints "<script>alert('entity')</script>" as text (escaped in the page); nothing else says alert.
    assert text.count("alert") == 1 and "<script>alert('entity')</script>" in text, text


def test_no_control_characters_reach_stored_text_or_titles(
    hostile_store: tuple[Settings, CorpusStore, FakeEmbedder],
) -> None:
    _, store, _ = hostile_store
    for name in ("terminal.txt", "quorra-deal.md", "zephyr-deal.html"):
        for text in stored_texts(store, name):
            assert_plain_terminal_text(text.replace("\t", " "), f"stored text of {name}")
    assert any("$90 million" in t for t in stored_texts(store, "terminal.txt")), "the memo's text was lost"


def test_rendered_answers_passages_and_exports_carry_no_active_markup_from_documents(
    hostile_store: tuple[Settings, CorpusStore, FakeEmbedder],
) -> None:
    settings, store, embedder = hostile_store
    conversation = Conversation(Assistant(settings, store=store, embedder=embedder))
    questions = [
        "Where do I click to see the $400 million deal?",
        "When did the Department of the Interior sign the Quorra deal?",
        "How much did the Department of Energy pay in the Zephyr deal?",
        "What is the Yarrow deal worth?",
    ]
    answers = [conversation.ask(q) for q in questions]

    passages = [p for a in answers for p in a.passages]
    hostile = [p for p in passages if any(s in p.chunk.text for s in ("javascript:", "onerror", "<script>"))]
    assert hostile, "no passage with active content was retrieved: the test proves nothing"
    assert any("javascript" in a.text or "onerror" in a.text for a in answers), (
        f"no answer quotes the hostile sentence: {[a.text for a in answers]}"
    )
    for answer in answers:
        assert_inert_markdown(answer_markdown(answer), "answer_markdown")
        assert_plain_terminal_text(answer_text(answer), "answer_text")
    for passage in passages:
        spans = [(0, len(passage.chunk.text) // 2)]
        assert_inert_html(passage_html(passage.chunk, spans), f"passage_html of {passage.chunk.chunk_id}")
    assert_inert_markdown(conversation_markdown(conversation.turns), "conversation_markdown", streamlit=False)


def test_an_answer_quoting_a_link_and_an_image_tag_renders_them_as_text() -> None:
    sentence = "Click [here](javascript:alert(1)) or <img src=x onerror=alert(1)> to see the $400 million deal."
    text = f"The Quorra deal was signed. {sentence}"
    c = StoredChunk(
        chunk_id="quorra:00000", doc_id="quorra", index=0, text=text, page=None, start=0, end=len(text), headings=(),
        title="Quorra [deal](https://evil.example) <b>x</b>", doc_type=DocType.ARTICLE, published="2025-06-09",
        source="/corpus/quorra.md",
    )
    start = c.text.index(sentence)
    end = start + len(sentence)
    citation = Citation(number=1, passage=Passage(chunk=c, score=1.0), quote_start=start, quote_end=end)
    answer = Answer(text=f"{sentence} [1]", citations=(citation,), answerable=True, query="q")

    md = answer_markdown(answer)
    export = conversation_markdown([Turn("What is <b>the</b> [deal](javascript:x)?", answer)])

    assert_inert_markdown(md, "answer_markdown")
    assert_inert_markdown(export, "conversation_markdown", streamlit=False)
    assert_inert_html(passage_html(c, [(start, start + len(sentence))]), "passage_html")
    assert "**[1]**" in md, f"the citation marker should stay visible: {md!r}"
    assert md.replace("\\", "").replace("**[1]**", "[1]") == answer.text, "escaping should only add backslashes"
    assert_plain_terminal_text(answer_text(answer), "answer_text")


# -- odd questions ------------------------------------------------------------------------------------------------

ODD_QUESTIONS = {
    "empty": "",
    "blank": " \t\n ",
    "only-controls": "\x00\x01\x1b\x07\x7f",
    "100-kb": "What did the Department of Energy lend? " * 2600,
    "100-kb-one-word": "x" * 100_000,
    "control-characters-inside": "How much\x00 did\x1b[31m Northwind\r\n get\x07?",
    "chinese": "能源部向Northwind Minerals提供了多少贷款？",
    "arabic": "ما هو مبلغ القرض الذي قدمته وزارة الطاقة؟",
    "emoji": "💰🏭⛏️ how big is the gallium loan? 🤔",
    "right-to-left-override": "\u202eHow much was the gallium loan?",
    "invalid-utf8-from-a-terminal": "How much was the \udcff\udcfe loan?",
    "lone-surrogate": "\ud800",
    "fts-syntax": 'gallium" OR "loan* NEAR(refinery) AND NOT ^col:x',
    "sql": "'; DROP TABLE chunks; --",
    "markdown": "What is [the loan](javascript:alert(1)) <script>alert(1)</script>?",
    "punctuation": "?!.,;:-%$",
    "zero-width": "\u200b\u200c\u200d",
}


def assert_answered(answer: Answer, case: str) -> None:
    assert isinstance(answer, Answer), f"{case}: no Answer"
    assert answer.text.strip(), f"{case}: an empty answer"
    assert answer.answerable or answer.citations == (), f"{case}: a refusal with citations"


@pytest.mark.parametrize("case", list(ODD_QUESTIONS))
def test_odd_questions_get_an_answer_or_a_clear_message(
    case: str, hostile_store: tuple[Settings, CorpusStore, FakeEmbedder]
) -> None:
    settings, store, embedder = hostile_store
    answer = Assistant(settings, store=store, embedder=embedder).ask(ODD_QUESTIONS[case])

    assert_answered(answer, case)
    if case in ("empty", "blank", "only-controls", "lone-surrogate"):
        assert answer.text == "Please type a question.", f"{case}: {answer.text!r}"
    if case.startswith("100-kb"):
        assert answer.notice and "cut to its first" in answer.notice, f"{case}: no notice that it was cut"
    assert_inert_markdown(answer_markdown(answer), f"answer_markdown ({case})")


def test_cli_ask_with_bytes_that_are_not_utf8_answers_instead_of_crashing(
    hostile_store: tuple[Settings, CorpusStore, FakeEmbedder], monkeypatch: pytest.MonkeyPatch
) -> None:
    settings, _, _ = hostile_store
    monkeypatch.setattr("policyqa.embedding.load_embedder", lambda s: FakeEmbedder())
    args = ["--store-dir", str(settings.store_dir), "--collection", settings.collection, "ask"]

    result = CliRunner().invoke(main, [*args, "How much was the \udcff\udcfe gallium loan?"])

    assert result.exit_code == 0, f"exit {result.exit_code}: {result.output} {result.exception!r}"
    assert "Traceback" not in result.output, result.output


@pytest.fixture(scope="module")
def real_assistant(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Assistant]:
    from policyqa.embedding import load_embedder

    folder = tmp_path_factory.mktemp("real")
    settings = Settings(store_dir=folder / "store", collection="hostile-real")
    embedder = load_embedder(settings)
    store = open_store(settings)
    assert ingest_paths([write_policy_corpus(folder / "corpus")], settings, store=store, embedder=embedder).ok
    yield Assistant(settings, store=store, embedder=embedder)
    store.close()


@pytest.mark.model
@pytest.mark.parametrize("case", list(ODD_QUESTIONS))
def test_odd_questions_with_the_real_model(case: str, real_assistant: Assistant) -> None:
    answer = real_assistant.ask(ODD_QUESTIONS[case])

    assert_answered(answer, case)
    if case in ("empty", "blank", "only-controls", "lone-surrogate"):
        assert answer.text == "Please type a question.", f"{case}: {answer.text!r}"
    assert_inert_markdown(answer_markdown(answer), f"answer_markdown ({case})")
