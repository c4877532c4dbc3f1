"""Filings end to end: encrypted PDFs, cover-page headers kept out of citations, parallel parsing, ONNX embeddings."""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path

import numpy as np
import pytest

from assistant.assistant import Assistant
from assistant.filing_hints import FilingHints, calendar_quarter
from ingest.pipeline import ingest_paths
from policyqa.settings import Settings
from policyqa.store import CorpusStore, open_store
from policyqa.types import Outcome, StoredChunk
from tests.builders import write_corrupt_pdf, write_pdf
from tests.fakes import FakeEmbedder

COVER = """UNITED STATES
SECURITIES AND EXCHANGE COMMISSION
Washington, D.C. 20549
FORM 10-Q
QUARTERLY REPORT PURSUANT TO SECTION 13 OR 15(d) OF THE SECURITIES EXCHANGE ACT OF 1934
For the quarterly period ended {period}
Commission File Number: 001-99999
{company}
(Exact name of Registrant as specified in its charter)
Securities registered pursuant to Section 12(b) of the Act:
Title of each class Trading symbol(s) Name of each exchange on which registered
Common Stock, $0.01 par value per share {ticker} The Nasdaq Stock Market LLC"""

MDA = """PART I - FINANCIAL INFORMATION
Item 2. Management's Discussion and Analysis of Financial Condition and Results of Operations
Total net sales for the {label} were {sales} million, driven by strong demand for {product}.
The {label} brought higher services revenue. Gross margin improved in the {label}."""

LEGAL = """PART II - OTHER INFORMATION
Item 1. Legal Proceedings
The Company is defending a patent claim about {product} brought in the Eastern District of Texas."""


def write_filing(
    path: Path, company: str, ticker: str, period: str, label: str, product: str, **kwargs: object
) -> Path:
    pages = [
        COVER.format(company=company, ticker=ticker, period=period),
        MDA.format(label=label, sales="1,234", product=product),
        LEGAL.format(product=product),
    ]
    return write_pdf(path, pages, title="0000999999-23-000001", **kwargs)  # EDGAR's /Title: an accession number


def stored_chunks(store: CorpusStore) -> list[StoredChunk]:
    ids = sorted(store.catalog.chunk_ids())
    chunks = store.get_chunks(ids)
    return [chunks[i] for i in ids]


# -- encryption ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("engine", ["pdfium", "pypdf"])
def test_filing_encrypted_with_an_empty_user_password_is_ingested(
    tmp_path: Path, settings: Settings, engine: str
) -> None:
    path = write_filing(
        tmp_path / "acme.pdf",
        "Acme Widgets Inc.",
        "ACME",
        "July 1, 2023",
        "third quarter of 2023",
        "gizmos",
        owner_only=True,
    )
    settings = settings.with_overrides(pdf_engine=engine)
    store = open_store(settings)
    report = ingest_paths([path], settings, store=store, embedder=FakeEmbedder())
    (outcome,) = report.files
    assert outcome.outcome is Outcome.ADDED, f"{engine}: an owner-password-only PDF should be read: {outcome}"
    hits = store.lexical_search("patent claim gizmos Eastern District", 3)
    assert hits, f"{engine}: text of the encrypted filing is not searchable"
    store.close()


@pytest.mark.parametrize("engine", ["pdfium", "pypdf"])
def test_password_protected_filing_is_refused_with_a_clear_message(
    tmp_path: Path, settings: Settings, engine: str
) -> None:
    path = write_filing(
        tmp_path / "locked.pdf",
        "Acme Widgets Inc.",
        "ACME",
        "July 1, 2023",
        "third quarter of 2023",
        "gizmos",
        encrypt_password="s3cret",
    )
    report = ingest_paths([path], settings.with_overrides(pdf_engine=engine), embedder=FakeEmbedder())
    (outcome,) = report.files
    assert outcome.outcome is Outcome.FAILED, f"{engine}: a PDF that needs a password must fail: {outcome}"
    assert "locked.pdf" in outcome.message and "password-protected" in outcome.message, (
        f"{engine}: the message should name the file and the reason: {outcome.message!r}"
    )


# -- contextual headers -------------------------------------------------------------------------------


def test_cover_page_header_is_embedded_and_indexed_but_never_shown_in_citations(
    tmp_path: Path, settings: Settings
) -> None:
    path = write_filing(
        tmp_path / "acme-10q.pdf", "Acme Widgets Inc.", "ACME", "July 1, 2023", "third quarter of 2023", "gizmos"
    )
    embedder = FakeEmbedder(max_tokens=256)
    store = open_store(settings)
    report = ingest_paths([path], settings, store=store, embedder=embedder)
    assert report.ok, f"ingest failed: {report.files}"

    record = store.documents()[0]
    expected = "Acme Widgets Inc. (ACME) Form 10-Q for the quarterly period ended July 1, 2023 (Q3 2023)"
    assert record.meta.title == expected, (
        f"the accession-number /Title should give way to the cover page's: {record.meta.title!r}"
    )
    legal = next(c for c in stored_chunks(store) if "patent claim" in c.text)
    assert "Acme Widgets Inc." in legal.context and "July 1, 2023" in legal.context, f"header: {legal.context!r}"
    assert "Item 1. Legal Proceedings" in legal.context, f"the section heading is missing: {legal.context!r}"
    assert legal.headings[-1] == "Item 1. Legal Proceedings", f"heading path: {legal.headings}"
    assert any(text.startswith(legal.context) and "patent claim" in text for text in embedder.encoded), (
        "the header was not part of the embedded text"
    )
    header_only = store.lexical_search("ACME", 5)  # the ticker is on the cover page and in every header
    assert legal.chunk_id in [cid for cid, _ in header_only], "the header is not lexically indexed"

    assistant = Assistant(settings, store=store, embedder=embedder)
    answer = assistant.ask("Which patent claim about gizmos is the company defending?")
    cited = [c.chunk for c in answer.citations] or [p.chunk for p in answer.passages]
    assert cited, "the question should retrieve the legal proceedings passage"
    for chunk in cited:
        assert chunk.context and chunk.context not in chunk.text, "a citation's text must not carry the header"
        assert chunk.text == chunk.text.strip() and "Acme Widgets Inc. (ACME) 10-Q" not in chunk.text, (
            f"the header leaked into the cited text: {chunk.text[:80]!r}"
        )
    for citation in answer.citations:
        assert citation.chunk.context not in citation.quote, "the quoted sentence must come from the page text"
    store.close()


def test_question_naming_a_company_and_quarter_prefers_that_filing(tmp_path: Path, settings: Settings) -> None:
    folder = tmp_path / "filings"
    folder.mkdir()
    # Same words in both filings; only the company and the period tell them apart.
    write_filing(folder / "a.pdf", "Acme Widgets Inc.", "ACME", "July 1, 2023", "third quarter of 2023", "gizmos")
    write_filing(folder / "b.pdf", "Acme Widgets Inc.", "ACME", "April 1, 2023", "second quarter of 2023", "gizmos")
    write_filing(
        folder / "c.pdf", "Borealis Corporation", "BORE", "July 30, 2023", "second quarter of fiscal 2024", "gizmos"
    )
    store = open_store(settings)
    embedder = FakeEmbedder(max_tokens=256)
    assert ingest_paths([folder], settings, store=store, embedder=embedder).ok
    by_source = {Path(r.meta.source).name: r.meta.doc_id for r in store.documents()}
    assistant = Assistant(settings, store=store, embedder=embedder)

    def top_doc(question: str) -> str:
        return assistant.retriever.search(question, k=3)[0].chunk.doc_id

    assert top_doc("What drove Acme's total net sales in Q2 2023?") == by_source["b.pdf"], "Acme Q2 2023 is b.pdf"
    assert top_doc("What drove Acme's total net sales in the third quarter of 2023?") == by_source["a.pdf"]
    # Borealis names its quarter by fiscal year; the calendar quarter of a period ended July 30 is Q2.
    assert top_doc("What drove Borealis net sales in Q2 2023?") == by_source["c.pdf"]
    assert top_doc("In ACME's most recent 10-Q, what drove sales?") == by_source["a.pdf"], "latest is a.pdf"
    store.close()


def test_hints_come_only_from_filing_titles() -> None:
    assert FilingHints([]).match("What did Apple report in Q3 2023?") is None, "no filings, no hints"
    assert calendar_quarter(dt.date(2023, 10, 29)) == (3, 2023), "August to October is mostly Q3"
    assert calendar_quarter(dt.date(2022, 12, 31)) == (4, 2022), "October to December is Q4"


# -- parallel parsing ---------------------------------------------------------------------------------


def _filing_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "many"
    folder.mkdir()
    for n in range(4):
        write_filing(
            folder / f"filing-{n}.pdf",
            f"Company {chr(65 + n)} Inc.",
            f"CO{chr(65 + n)}",
            f"July {n + 1}, 2023",
            "third quarter of 2023",
            f"product{n}",
        )
    write_pdf(folder / "plain.pdf", ["A plain report about copper.", "Second page on zinc."])
    write_pdf(folder / "locked.pdf", ["Secret."], encrypt_password="hunter2")
    write_corrupt_pdf(folder / "broken.pdf")
    (folder / "notes.md").write_text("# Notes\n\nMarkdown is read in the ingesting process.\n")
    return folder


def _ingest(folder: Path, settings: Settings, workers: int) -> tuple[list[tuple[str, str, str]], list[StoredChunk]]:
    settings = settings.with_overrides(store_dir=settings.store_dir / f"w{workers}", parse_workers=workers)
    store = open_store(settings)
    events = []
    report = ingest_paths(
        [folder], settings, store=store, embedder=FakeEmbedder(max_tokens=128), on_progress=events.append
    )
    outcomes = [(Path(f.path).name, f.outcome.value, f.message) for f in report.files]
    chunks = stored_chunks(store)
    store.close()
    assert [e.item for e in events if e.stage == "files"] == [Path(f.path).name for f in report.files], (
        "progress should report every file, in order"
    )
    return outcomes, chunks


def test_parallel_parsing_stores_exactly_what_serial_parsing_stores(tmp_path: Path, settings: Settings) -> None:
    folder = _filing_folder(tmp_path)
    serial_outcomes, serial_chunks = _ingest(folder, settings, workers=1)
    parallel_outcomes, parallel_chunks = _ingest(folder, settings, workers=2)

    assert parallel_outcomes == serial_outcomes, "outcomes and messages must not depend on the worker count"
    failed = {name: message for name, outcome, message in serial_outcomes if outcome == "failed"}
    assert set(failed) == {"locked.pdf", "broken.pdf"}, f"per-file errors: {failed}"
    assert "password-protected" in failed["locked.pdf"] and "not a readable PDF" in failed["broken.pdf"], failed
    assert len(serial_chunks) > 8, "the folder should give a good number of chunks"

    def fields(chunk: StoredChunk) -> dict[str, object]:
        data = dataclasses.asdict(chunk)
        data["source"] = Path(str(data["source"])).name
        return data

    assert [fields(c) for c in parallel_chunks] == [fields(c) for c in serial_chunks], (
        "parallel parsing must give byte-identical chunks, ids, spans, headers and headings"
    )


# -- ONNX embeddings ----------------------------------------------------------------------------------

SAMPLE = [
    "The weather is lovely today.",
    "It's so sunny outside!",
    "He drove to the stadium.",
    "Total net sales for the third quarter of 2023 were $81,797 million, down 1% from a year earlier.",
    "Apple Inc. (AAPL) 10-Q Q3 2023, quarter ended July 1, 2023 > Note 5 – Income Taxes\nThe Company's effective "
    "tax rate for the third quarter of 2023 was 12.5%, lower than the statutory federal income tax rate of 21%.",
    "Products $ 60,584 $ 63,355 $ 230,901 $ 245,241\nServices 21,213 19,604 62,886 58,941\nTotal net sales 81,797",
    "NVIDIA's Data Center revenue was a record $14.51 billion, up 279% from a year ago, driven by demand for GPUs.",
    "We are subject to risks related to government contracts and related procurement regulations.",
]


@pytest.mark.model
@pytest.mark.parametrize(("backend", "floor", "mean_floor"), [("onnx", 0.999, 0.9999), ("onnx-int8", 0.98, 0.99)])
def test_onnx_vectors_match_torch_vectors(tmp_path: Path, backend: str, floor: float, mean_floor: float) -> None:
    pytest.importorskip("onnxruntime", reason="the ONNX backend needs onnxruntime")
    if backend == "onnx-int8":
        pytest.importorskip("onnx", reason="int8 quantization needs the onnx package")
    from policyqa.embedding import SentenceEmbedder

    torch_model = SentenceEmbedder()
    onnx_model = SentenceEmbedder(backend=backend, cache_dir=tmp_path / "models")
    assert onnx_model.backend == backend, "the ONNX backend fell back to torch"
    reference, vectors = torch_model.encode(SAMPLE), onnx_model.encode(SAMPLE)
    cosines = (reference * vectors).sum(axis=1)
    assert cosines.min() >= floor and cosines.mean() >= mean_floor, (
        f"{backend} cosines to torch: {np.round(cosines, 4)}"
    )
    assert onnx_model.count_tokens(SAMPLE) == torch_model.count_tokens(SAMPLE), "token counts must agree"
    long_text = " ".join(["revenue"] * 600)
    assert onnx_model.count_tokens([long_text]) == torch_model.count_tokens([long_text]), "counting never truncates"
    assert onnx_model.max_tokens == torch_model.max_tokens, "both backends embed the same number of tokens"
    again = SentenceEmbedder(backend=backend, cache_dir=tmp_path / "models")  # from the cache, no export
    assert np.allclose(again.encode(SAMPLE), vectors, atol=1e-6), "the cached export gives other vectors"
    # int8 activations are scaled per batch, so a text's vector moves a little with its batch-mates.
    alone = np.vstack([again.encode([text]) for text in SAMPLE])
    assert ((alone * reference).sum(axis=1)).min() >= floor, "a text encoded alone strays from torch"
