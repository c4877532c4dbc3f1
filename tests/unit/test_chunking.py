"""Unit tests for ingest.chunking: coverage, token budget, exact spans, sentence units, overlap, termination."""

from __future__ import annotations

import itertools
import random

import pytest

from ingest.chunking import Chunker, split_units
from policyqa.types import Chunk, DocumentMeta, LoadedDocument, Section
from tests.fakes import FakeEmbedder

SEEDS = range(40)
# (model limit, chunk_tokens, overlap_tokens): the fake's default tiny limit, a mid one, MiniLM's 256.
CONFIGS = [(64, 200, 40), (128, 60, 20), (256, 200, 40), (256, 32, 0)]

_VOCAB_TEXT = (
    "the Department of Energy shall acquire a stake in lithium projects under Section 232 tariffs on copper "
    "imports and processed critical minerals while the Secretary reviews supply chains for national security "
    "U.S. Inc. Corp. Ltd. e.g. i.e. No. Dr. Jan. $1.2 billion 7.5% 2025 (a) (iii) naïve café “quoted” — "
    "refinery offtake agreement price-floor 10-K EO-14241 Mt. St. Gen."
)
_VOCAB = _VOCAB_TEXT.split()


def random_policy_text(rng: random.Random, paragraphs: int = 12) -> str:
    """Seeded policy-like text mixing prose, lists, tables, run-on sentences and enormous "words"."""
    blocks: list[str] = []
    for _ in range(paragraphs):
        kind = rng.random()
        if kind < 0.55:
            sentences = []
            for _ in range(rng.randint(1, 8)):
                words = [rng.choice(_VOCAB) for _ in range(rng.randint(1, 45))]
                sentences.append(" ".join(words).capitalize() + rng.choice([".", "?", "!", '."', ".)"]))
            blocks.append(rng.choice([" ", "  ", "\n"]).join(sentences))
        elif kind < 0.70:
            marker = rng.choice(["-", "*", "1.", "2)", "•"])
            items = [" ".join(rng.choice(_VOCAB) for _ in range(rng.randint(1, 20))) for _ in range(rng.randint(2, 9))]
            blocks.append("\n".join(f"{marker} {item}" for item in items))
        elif kind < 0.82:
            rows = ["| Mineral | Tariff | Year |", "|---|---|---|"]
            rows += [
                f"| {rng.choice(_VOCAB)} | {rng.randint(0, 50)}% | {rng.randint(2000, 2030)} |"
                for _ in range(rng.randint(1, 12))
            ]
            blocks.append("\n".join(rows))
        elif kind < 0.92:
            blocks.append(" ".join(rng.choice(_VOCAB).rstrip(".") for _ in range(rng.randint(150, 700))))
        else:
            blocks.append(rng.choice(["x/", "a.", "-", "—", "é"]) * rng.randint(100, 3000))
    separators = ["\n\n", "\n", "\n\n\n", " \n \t\n", "\n  "]
    text = blocks[0]
    for block in blocks[1:]:
        text += rng.choice(separators) + block
    return rng.choice(["", "  ", "\n"]) + text + rng.choice(["", "\n", "   "])


def make_document(
    texts: list[str], *, paged: bool, title: str = "Test Document", headings: tuple[str, ...] = ()
) -> LoadedDocument:
    """Sections joined the way LoadedDocument.text joins them, so offsets index into doc.text."""
    sections, offset = [], 0
    for number, text in enumerate(texts, start=1):
        sections.append(Section(text=text, page=number if paged else None, headings=headings, offset=offset))
        offset += len(text) + 2
    meta = DocumentMeta(doc_id="doc-1", title=title, source="/tmp/doc.txt")
    return LoadedDocument(meta=meta, sections=tuple(sections))


def section_of(doc: LoadedDocument, chunk: Chunk) -> Section:
    """The section a chunk came from: by page when paged, else by the offset range holding its span."""
    for section in doc.sections:
        if section.page is not None and section.page == chunk.page:
            return section
        if section.page is None and section.offset <= chunk.start and chunk.end <= section.offset + len(section.text):
            return section
    raise AssertionError(f"chunk {chunk.index} ({chunk.start}:{chunk.end}, page {chunk.page}) has no section")


def local_span(section: Section, chunk: Chunk) -> tuple[int, int]:
    base = 0 if section.page is not None else section.offset
    return chunk.start - base, chunk.end - base


def make_chunker(embedder: FakeEmbedder, chunk_tokens: int = 200, overlap_tokens: int = 40) -> Chunker:
    return Chunker(
        embedder.count_tokens, max_tokens=embedder.max_tokens, chunk_tokens=chunk_tokens, overlap_tokens=overlap_tokens
    )


def chunk_all(chunker: Chunker, doc: LoadedDocument) -> list[Chunk]:
    """All chunks, but never more than one per source character: a looping chunker fails instead of hanging."""
    limit = sum(len(s.text) for s in doc.sections) + 1
    chunks = list(itertools.islice(chunker.chunk_document(doc), limit + 1))
    assert len(chunks) <= limit, f"chunker produced more chunks ({len(chunks)}) than characters: it loops"
    return chunks


def assert_invariants(doc: LoadedDocument, chunks: list[Chunk], embedder: FakeEmbedder, chunker: Chunker) -> None:
    """Coverage, token limit, exact spans, consecutive indexes and small, progressing overlap."""
    assert [c.index for c in chunks] == list(range(len(chunks))), "chunk indexes are not 0..n-1 in order"
    assert len({c.chunk_id for c in chunks}) == len(chunks), "chunk ids are not unique"
    covered = {id(s): [False] * len(s.text) for s in doc.sections}
    full_text = doc.text
    for chunk in chunks:
        section = section_of(doc, chunk)
        start, end = local_span(section, chunk)
        assert chunk.text == section.text[start:end], (
            f"chunk {chunk.index} text is not its section's span {start}:{end}"
        )
        if section.page is not None:
            assert chunk.page == section.page, f"chunk {chunk.index} has page {chunk.page}, not {section.page}"
        else:
            assert full_text[chunk.start : chunk.end] == chunk.text, f"chunk {chunk.index} is not doc.text[start:end]"
        assert chunk.text.strip() == chunk.text and chunk.text, f"chunk {chunk.index} is empty or not trimmed"
        tokens = embedder.count_tokens([chunk.indexed_text])[0]
        assert tokens <= embedder.max_tokens, (
            f"chunk {chunk.index} embeds {tokens} tokens > limit {embedder.max_tokens}"
        )
        covered[id(section)][start:end] = [True] * (end - start)
    for section in doc.sections:
        lost = [i for i, ch in enumerate(section.text) if not ch.isspace() and not covered[id(section)][i]]
        assert not lost, (
            f"{len(lost)} non-space characters in no chunk, first at {lost[0]}: {section.text[lost[0] :][:40]!r}"
        )
    for prev, nxt in itertools.pairwise(chunks):
        if section_of(doc, prev) is not section_of(doc, nxt):
            continue
        assert nxt.start > prev.start and nxt.end > prev.end, f"chunk {nxt.index} does not move past chunk {prev.index}"
        if nxt.start < prev.end:
            section = section_of(doc, prev)
            shared = section.text[local_span(section, nxt)[0] : local_span(section, prev)[1]]
            shared_tokens = embedder.count_tokens([shared])[0] - chunker.special_tokens
            assert shared_tokens <= chunker.overlap_tokens, (
                f"chunks {prev.index}/{nxt.index} share {shared_tokens} tokens > overlap {chunker.overlap_tokens}"
            )


@pytest.mark.parametrize("max_tokens, chunk_tokens, overlap", CONFIGS)
@pytest.mark.parametrize("seed", SEEDS)
def test_random_policy_text_chunks_cover_everything_within_budget_with_exact_spans(
    seed: int, max_tokens: int, chunk_tokens: int, overlap: int
) -> None:
    rng = random.Random(seed)
    embedder = FakeEmbedder(max_tokens=max_tokens)
    chunker = make_chunker(embedder, chunk_tokens, overlap)
    paged = seed % 2 == 0
    headings = ("Part I", "Definitions") if seed % 3 == 0 else ()
    doc = make_document([random_policy_text(rng) for _ in range(rng.randint(1, 4))], paged=paged, headings=headings)
    chunks = chunk_all(chunker, doc)
    assert chunks, "a non-empty document gave no chunks"
    assert_invariants(doc, chunks, embedder, chunker)


def test_paged_chunk_spans_index_into_their_page_not_the_document() -> None:
    embedder = FakeEmbedder(max_tokens=256)
    doc = make_document(["Page one says zinc.", "Page two says copper. It also says lithium."], paged=True)
    chunks = chunk_all(make_chunker(embedder), doc)
    second = [c for c in chunks if c.page == 2]
    assert second and second[0].start == 0, f"page-2 chunk should start at 0 within its page, got {second[:1]}"
    assert doc.sections[1].text[second[0].start : second[0].end] == second[0].text, "page span does not match"


def test_unpaged_chunk_spans_index_into_the_whole_document_text() -> None:
    embedder = FakeEmbedder(max_tokens=256)
    doc = make_document(["First section about zinc.", "Second section about copper."], paged=False)
    chunks = chunk_all(make_chunker(embedder), doc)
    last = chunks[-1]
    assert last.start == len(doc.sections[0].text) + 2, f"second section's chunk should start after the first: {last}"
    assert doc.text[last.start : last.end] == "Second section about copper.", "document span does not match"


@pytest.mark.parametrize(
    "text, expected",
    [
        (
            "Acme Inc. signed a deal with the U.S. Department of Energy. The loan closed in May.",
            ["Acme Inc. signed a deal with the U.S. Department of Energy.", "The loan closed in May."],
        ),
        (
            "Dr. Smith of MP Materials Corp. spoke, e.g. about magnets. Was it approved? Yes! It was.",
            ["Dr. Smith of MP Materials Corp. spoke, e.g. about magnets.", "Was it approved?", "Yes!", "It was."],
        ),
        (
            'He said "the U.K. and the U.S. agree." Then he left.',
            ['He said "the U.K. and the U.S. agree."', "Then he left."],
        ),
        (
            "Prices rose 7.5% to $1.2 billion in 2025. Output fell.",
            ["Prices rose 7.5% to $1.2 billion in 2025.", "Output fell."],
        ),
    ],
)
def test_sentence_units_keep_abbreviations_and_initialisms_together(text: str, expected: list[str]) -> None:
    units = [text[s:e] for s, e in split_units(text)]
    assert units == expected, f"sentence split of {text!r} gave {units}"


def test_list_items_and_table_rows_are_separate_units_even_without_stops() -> None:
    text = (
        "The order requires:\n- a list of critical minerals\n- a report in 90 days\n1. first numbered item\n"
        "| Mineral | Tariff |\n|---|---|\n| Copper | 50% |\nItem 7 Management discussion"
    )
    units = [text[s:e] for s, e in split_units(text)]
    assert units == text.split("\n"), f"each list line and table row should be its own unit, got {units}"


def test_table_rows_are_never_cut_when_each_fits_the_budget() -> None:
    embedder = FakeEmbedder(max_tokens=64)
    rows = ["| Mineral | Tariff | Year |", "|---|---|---|"] + [f"| mineral{i} | {i}% | {2000 + i} |" for i in range(40)]
    text = "\n".join(rows)
    chunks = chunk_all(make_chunker(embedder), make_document([text], paged=True))
    for chunk in chunks:
        assert chunk.start == 0 or text[chunk.start - 1] == "\n", (
            f"chunk {chunk.index} starts mid-row: {chunk.text[:30]!r}"
        )
        assert chunk.end == len(text) or text[chunk.end] == "\n", (
            f"chunk {chunk.index} ends mid-row: {chunk.text[-30:]!r}"
        )
    assert len(chunks) > 1, "the table should need several chunks at this budget"


def test_a_very_long_sentence_without_stops_is_split_within_budget() -> None:
    embedder = FakeEmbedder(max_tokens=128)
    text = " ".join(f"clause{i} of the agreement and" for i in range(1500))
    doc = make_document([text], paged=False)
    chunker = make_chunker(embedder)
    chunks = chunk_all(chunker, doc)
    assert len(chunks) > 10, f"a {len(text)}-character run-on sentence gave only {len(chunks)} chunks"
    assert_invariants(doc, chunks, embedder, chunker)
    inner = chunks[1:-1]
    assert all(c.text.split()[0] in text.split() for c in inner), "word windows should start at word boundaries"


@pytest.mark.parametrize("word", ["x/" * 4000, "-" * 5000, "a." * 3000])
def test_a_single_enormous_word_is_cut_within_budget(word: str) -> None:
    embedder = FakeEmbedder(max_tokens=64)
    doc = make_document([f"Before the blob. {word} After the blob."], paged=True)
    chunker = make_chunker(embedder)
    chunks = chunk_all(chunker, doc)
    assert len(chunks) > 20, f"an enormous word of {len(word)} characters gave only {len(chunks)} chunks"
    assert_invariants(doc, chunks, embedder, chunker)


def test_overlap_larger_than_the_chunk_is_capped_and_the_chunker_terminates() -> None:
    embedder = FakeEmbedder(max_tokens=256)
    chunker = make_chunker(embedder, chunk_tokens=40, overlap_tokens=10_000)
    assert chunker.overlap_tokens <= chunker.budget // 3, f"overlap {chunker.overlap_tokens} not capped below budget"
    sentences = " ".join(f"Sentence number {i} is short." for i in range(300))
    doc = make_document([sentences], paged=False)
    chunks = chunk_all(chunker, doc)
    assert_invariants(doc, chunks, embedder, chunker)


def test_consecutive_chunks_share_a_little_text_when_overlap_is_set() -> None:
    embedder = FakeEmbedder(max_tokens=256)
    chunker = make_chunker(embedder, chunk_tokens=60, overlap_tokens=15)
    doc = make_document([" ".join(f"Rule {i} applies to zinc." for i in range(200))], paged=False)
    chunks = chunk_all(chunker, doc)
    overlapping = sum(1 for a, b in itertools.pairwise(chunks) if b.start < a.end)
    assert overlapping == len(chunks) - 1, f"only {overlapping} of {len(chunks) - 1} neighbours overlap"
    assert_invariants(doc, chunks, embedder, chunker)


def test_zero_overlap_gives_disjoint_chunks() -> None:
    embedder = FakeEmbedder(max_tokens=256)
    chunker = make_chunker(embedder, chunk_tokens=60, overlap_tokens=0)
    doc = make_document([" ".join(f"Rule {i} applies to zinc." for i in range(200))], paged=False)
    chunks = chunk_all(chunker, doc)
    assert all(b.start >= a.end for a, b in itertools.pairwise(chunks)), "chunks overlap with overlap_tokens=0"


def test_context_header_carries_title_and_headings_and_long_headers_are_trimmed() -> None:
    embedder = FakeEmbedder(max_tokens=128)
    chunker = make_chunker(embedder)
    doc = make_document(["Some text."], paged=False, title="Order 14241", headings=("Sec. 2", "Policy"))
    (chunk,) = chunk_all(chunker, doc)
    assert chunk.context == "Order 14241 > Sec. 2 > Policy", f"unexpected context {chunk.context!r}"
    assert chunk.indexed_text == f"{chunk.context}\n{chunk.text}", "indexed text is not context + newline + text"

    long_title = " ".join(f"word{i}" for i in range(500))
    doc = make_document([" ".join(["Text goes here."] * 200)], paged=False, title=long_title)
    chunks = chunk_all(chunker, doc)
    context_tokens = embedder.count_tokens([chunks[0].context])[0] - chunker.special_tokens
    assert 0 < context_tokens <= chunker.max_context_tokens, f"context of {context_tokens} tokens was not trimmed"
    assert_invariants(doc, chunks, embedder, chunker)


@pytest.mark.parametrize("text", ["", "   ", "\n\n\t\n"])
def test_whitespace_only_sections_give_no_chunks(text: str) -> None:
    embedder = FakeEmbedder()
    assert chunk_all(make_chunker(embedder), make_document([text], paged=False)) == [], "blank text gave chunks"


def test_chunking_is_deterministic() -> None:
    embedder = FakeEmbedder(max_tokens=128)
    doc = make_document([random_policy_text(random.Random(7))], paged=False)
    first = chunk_all(make_chunker(embedder), doc)
    second = chunk_all(make_chunker(embedder), doc)
    assert first == second, "the same document chunked twice gave different chunks"


def realistic_policy_text(paragraphs: int = 60) -> str:
    """Long text in the shape of an executive order or 10-K: prose, lists, tables, a URL and a run-on clause."""
    rng = random.Random(2025)
    parts = [
        "Section 1. Purpose. The United States depends on imports of processed critical minerals, including "
        "lithium, cobalt, graphite and rare-earth elements, which exposes U.S. manufacturers to supply shocks.",
        "Sec. 2. Policy. It is the policy of the United States to expand domestic production, e.g. by the "
        "Department of Energy's Loan Programs Office, and to take equity stakes in companies such as MP "
        "Materials Corp. and Lithium Americas Inc. where warranted.",
        "| Company | Instrument | Amount (US$ million) | Date |\n|---|---|---|---|\n"
        "| MP Materials | Preferred stock | 400 | 2025-07-10 |\n"
        "| Lithium Americas | Warrants (5%) | 2,260 | 2025-10-01 |",
        "Item 1A. Risk Factors\n- Price floors may be revised.\n- Offtake agreements run for ten years.\n"
        "- Naïve assumptions about cobalt—and café-style “quotes”—are not forecasts.",
        "See https://www.federalregister.gov/documents/2025/03/25/2025-05069/immediate-measures-to-increase-"
        "american-mineral-production?utm_source=policyqa&utm_medium=test&utm_campaign=" + "x" * 400 + " for details.",
        "whereas " + " and whereas ".join(f"the Secretary of the Interior shall review permit {i}" for i in range(120)),
        "ΑΒΓ Greek, 中文 characters, emoji 🙂 and accents (é, ü, ñ) appear in some filings.",
    ]
    for i in range(paragraphs):
        words = [rng.choice(_VOCAB) for _ in range(rng.randint(40, 160))]
        parts.append(f"({i}) " + " ".join(words) + ".")
    return "\n\n".join(parts)


@pytest.mark.model
@pytest.mark.parametrize("chunk_tokens", [None, 10_000], ids=["default-settings", "chunk-tokens-over-model-limit"])
def test_every_chunk_fits_the_real_tokenizer_limit_without_truncation(chunk_tokens: int | None) -> None:
    from policyqa.embedding import load_embedder
    from policyqa.settings import Settings

    settings = Settings().with_overrides(chunk_tokens=chunk_tokens)
    embedder = load_embedder(settings)
    assert embedder.max_tokens == 256, f"all-MiniLM-L6-v2 should embed 256 word pieces, got {embedder.max_tokens}"
    chunker = Chunker(
        embedder.count_tokens,
        max_tokens=embedder.max_tokens,
        chunk_tokens=settings.chunk_tokens,
        overlap_tokens=settings.chunk_overlap_tokens,
    )
    title = "Executive Order 14241: Immediate Measures to Increase American Mineral Production " * 4
    doc = LoadedDocument(
        meta=DocumentMeta(doc_id="eo-14241", title=title, source="/tmp/eo.txt"),
        sections=tuple(
            Section(text=realistic_policy_text(), page=page, headings=("Part I", "Findings and Definitions"))
            for page in (1, 2)
        ),
    )
    chunks = list(chunker.chunk_document(doc))
    assert len(chunks) > 20, f"a long realistic text gave only {len(chunks)} chunks"
    counts = embedder.count_tokens([c.indexed_text for c in chunks])
    too_long = [(c.index, n) for c, n in zip(chunks, counts, strict=True) if n > embedder.max_tokens]
    assert not too_long, f"chunks over the real model's 256-token limit (would be truncated): {too_long[:5]}"
    for chunk in chunks:
        section = doc.sections[chunk.page - 1]
        assert section.text[chunk.start : chunk.end] == chunk.text, f"chunk {chunk.index} span does not match its page"
