"""assistant/render.py: escaped answer text, citation lines, passages with the cited sentence marked, exports."""

from __future__ import annotations

from assistant.render import (
    answer_markdown,
    answer_text,
    conversation_markdown,
    escape_markdown,
    location,
    passage_html,
    quotes_for,
    related_summary,
    source_line,
    unique_citations,
)
from policyqa.types import Answer, Citation, DocType, Passage, StoredChunk, Turn

LOAN_TEXT = "The Department of Energy lent Northwind Minerals $250 million. The loan was announced on June 16, 2025."


def chunk(
    text: str = LOAN_TEXT,
    *,
    doc_id: str = "northwind-loan",
    title: str = "Northwind loan",
    page: int | None = None,
    headings: tuple[str, ...] = (),
    doc_type: DocType = DocType.ARTICLE,
    published: str | None = "2025-06-16",
    source: str = "/corpus/northwind-loan.html",
) -> StoredChunk:
    return StoredChunk(
        chunk_id=f"{doc_id}:00000", doc_id=doc_id, index=0, text=text, page=page, start=0, end=len(text),
        headings=headings, title=title, doc_type=doc_type, published=published, source=source,
    )


def cite(number: int, c: StoredChunk, sentence: str) -> Citation:
    start = c.text.index(sentence)
    end = start + len(sentence)
    return Citation(number=number, passage=Passage(chunk=c, score=1.0), quote_start=start, quote_end=end)


def test_escape_markdown_leaves_no_link_emphasis_html_or_formula_active() -> None:
    escaped = escape_markdown("[click](http://x.y) *bold* <b>x</b> $5 `code` # head")

    unescaped = [ch for i, ch in enumerate(escaped) if ch in "[]()*<>$`#" and (i == 0 or escaped[i - 1] != "\\")]
    assert unescaped == [], f"special characters left unescaped: {unescaped} in {escaped!r}"
    assert escaped.replace("\\", "") == "[click](http://x.y) *bold* <b>x</b> $5 `code` # head", "only backslashes added"


def test_answer_markdown_keeps_markers_visible_and_escapes_the_rest() -> None:
    answer = Answer(text="Costs *$250 million* [1] and [2].", citations=(), answerable=True, query="q")

    md = answer_markdown(answer)

    assert "**[1]**" in md and "**[2]**" in md, f"markers should be shown in bold: {md!r}"
    assert "\\*\\$250 million\\*" in md, f"document text should be escaped: {md!r}"


def test_location_names_the_page_of_a_paged_document() -> None:
    assert location(chunk(title="Bluestone 8-K", page=3)) == "Bluestone 8-K, p. 3"


def test_location_names_the_headings_below_the_title() -> None:
    c = chunk(title="EO 15001", headings=("EO 15001", "Sec. 2", "Policy"))

    assert location(c) == "EO 15001, Sec. 2 > Policy"


def test_location_falls_back_to_the_only_heading_or_the_bare_title() -> None:
    assert location(chunk(title="T", headings=("Purpose",))) == "T, Purpose"
    assert location(chunk(title="T")) == "T"


def test_unique_citations_gives_one_per_number_in_number_order() -> None:
    c = chunk()
    first, second = LOAN_TEXT.split(". ")
    citations = (cite(2, c, "The loan"), cite(1, c, first), cite(2, c, second))
    answer = Answer(text="x", citations=citations, answerable=True, query="q")

    assert [x.number for x in unique_citations(answer)] == [1, 2]
    assert quotes_for(answer, 2) == [(citations[0].quote_start, citations[0].quote_end),
                                     (citations[2].quote_start, citations[2].quote_end)], "both quotes of [2]"


def test_passage_html_marks_cited_spans_and_escapes_everything() -> None:
    c = chunk("Intro <script>alert(1)</script>.\nThe cited & quoted sentence. Tail.")
    start = c.text.index("The cited")
    end = c.text.index(" Tail")

    html = passage_html(c, [(start, end)])

    assert "<script>" not in html and "&lt;script&gt;" in html, f"markup must be escaped: {html!r}"
    assert "<mark>The cited &amp; quoted sentence.</mark>" in html, f"the span should be marked: {html!r}"
    assert "<br>" in html, "line breaks are kept as <br>"


def test_passage_html_tolerates_overlapping_and_out_of_range_spans() -> None:
    c = chunk("abcdefghij")

    html = passage_html(c, [(6, 50), (2, 5), (3, 7)])

    assert html == "ab<mark>cde</mark><mark>fg</mark><mark>hij</mark>", html


def test_source_line_shows_number_location_type_date_and_file_name() -> None:
    line = source_line(2, chunk(page=4, title="Bluestone 8-K", doc_type=DocType.FILING, published="2025-08-20",
                                source="/x/y/bluestone-8k.pdf"))

    assert line == "[2] Bluestone 8-K, p. 4 (filing · 2025-08-20 · bluestone-8k.pdf)", line


def test_answer_text_lists_sources_after_the_answer_and_the_notice() -> None:
    c = chunk()
    answer = Answer(
        text="The Department of Energy lent Northwind Minerals $250 million. [1]",
        citations=(cite(1, c, "The Department of Energy lent Northwind Minerals $250 million."),),
        answerable=True, query="q", notice="The question was cut.",
    )

    lines = answer_text(answer).splitlines()

    assert lines[0] == answer.text and lines[1] == "note: The question was cut.", lines
    assert "Sources:" in lines, f"a Sources heading is expected: {lines}"
    assert lines[-1].strip().startswith("[1] Northwind loan"), f"the source line should follow: {lines}"


def test_answer_text_of_a_refusal_lists_related_passages() -> None:
    refusal = Answer(
        text="The documents do not answer this question.", citations=(), answerable=False, query="q",
        related=(Passage(chunk=chunk(), score=0.1),),
    )

    text = answer_text(refusal)

    assert "Related passages:" in text and "Sources:" not in text, text
    assert related_summary(refusal.related) == ["Northwind loan"]


def test_conversation_markdown_exports_questions_queries_and_quoted_citations() -> None:
    c = chunk()
    sentence = "The loan was announced on June 16, 2025."
    answer = Answer(
        text=f"{sentence} [1]", citations=(cite(1, c, sentence),), answerable=True,
        query="When was that announced? Northwind Minerals",
    )

    md = conversation_markdown([Turn("When was that announced?", answer)])

    assert md.startswith("# policyqa conversation"), md
    assert "## 1. When was that announced?" in md, f"the question is a heading: {md}"
    assert "Search query: When was that announced? Northwind Minerals" in md, f"the rewritten query is shown: {md}"
    assert f"> {sentence}" in md, f"the cited sentence is quoted under its source: {md}"


def test_conversation_markdown_has_no_backslashes_in_plain_prose_and_one_numbered_source_list() -> None:
    loan = chunk()
    other = chunk("Northwind Minerals will build a refinery in Ohio.", doc_id="refinery", title="Refinery")
    first = "The Department of Energy lent Northwind Minerals $250 million."
    second = "The loan was announced on June 16, 2025."
    one = Answer(
        text=f"{first} [1] {second} [1]", citations=(cite(1, loan, first), cite(1, loan, second)), answerable=True,
        query="How much?",
    )
    refinery = "Northwind Minerals will build a refinery in Ohio."
    two = Answer(
        text=f"{refinery} [1] {second} [2]", citations=(cite(1, other, refinery), cite(2, loan, second)),
        answerable=True, query="And then?",
    )

    md = conversation_markdown([Turn("How much?", one), Turn("And then?", two)])

    assert "\\" not in md, f"plain prose needs no backslash escapes: {md}"
    assert f"{first} {second} [1]" in md, f"a marker repeated on consecutive sentences is written once: {md}"
    assert f"{refinery} [2] {second} [1]" in md, f"the second answer is renumbered to the chat's list: {md}"
    assert md.count("## Sources") == 1, f"one source list for the whole chat: {md}"
    listed = [line for line in md.splitlines() if line[:3] in ("1. ", "2. ")]
    assert listed == ["1. Northwind loan (article \u00b7 2025-06-16 \u00b7 northwind-loan.html)",
                      "2. Refinery (article \u00b7 2025-06-16 \u00b7 northwind-loan.html)"], listed


def test_answer_markdown_links_each_marker_when_given_an_address() -> None:
    answer = Answer(text="Costs $250 million [1] and [2].", citations=(), answerable=True, query="q")

    md = answer_markdown(answer, link=lambda n: f"?cite={n}")

    assert "**[[1]](?cite=1)**" in md and "**[[2]](?cite=2)**" in md, md


def test_section_html_sets_the_passage_apart_and_marks_its_quote_escaped() -> None:
    from assistant.render import section_html

    text = "Before <b>it</b>. The passage holds the quote. After."
    start = text.index("The passage")
    end = text.index(" After.")
    quote = text.index("the quote")

    html_out = section_html(text, (start, end), [(quote, quote + len("the quote"))])

    assert html_out == ("Before &lt;b&gt;it&lt;/b&gt;.<blockquote>The passage holds <mark>the quote</mark>."
                        "</blockquote>After."), html_out


TABLE_ANSWER = (
    "The documents state 2 deals:\n\n| Company | Amount |\n|---|---|\n"
    "| Northwind Minerals [1] | $400 million [1] |\n| Pipe \\| Works [2] | – |"
)


def test_a_table_answer_stays_a_table_with_its_cells_escaped_and_marked() -> None:
    from assistant.render import answer_markdown

    rendered = answer_markdown(Answer(text=TABLE_ANSWER, citations=(), answerable=True, query="q")).splitlines()

    assert rendered[2:4] == ["| Company | Amount |", "|---|---|"], rendered
    assert rendered[4] == "| Northwind Minerals **[1]** | \\$400 million **[1]** |", rendered
    assert rendered[5] == "| Pipe \\| Works **[2]** | – |", "a pipe inside a value stays escaped"
    assert rendered[0].startswith("The documents state 2 deals") and rendered[1] == "", rendered


def test_the_export_keeps_a_table_answer_a_table() -> None:
    from assistant.render import conversation_markdown

    exported = conversation_markdown([Turn("Which deals?", Answer(text=TABLE_ANSWER, citations=(), answerable=True,
                                                                  query="Which deals?"))])

    assert "| Company | Amount |\n|---|---|\n| Northwind Minerals [1] | $400 million [1] |" in exported, exported
