"""Incremental ingestion on a small corpus built by the tests: add, unchanged, edit, prune, rebuild, crash."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from ingest.pipeline import ingest_paths
from policyqa.errors import StoreUnavailable
from policyqa.settings import Settings
from policyqa.store import CorpusStore, open_store
from policyqa.types import Chunk, DocumentMeta, IngestReport, Outcome
from tests.builders import write_html, write_markdown, write_pdf
from tests.fakes import FakeEmbedder
from tests.integration.consistency import assert_consistent

BIG_TITLE = "Annual Critical Minerals Report"


def write_corpus(folder: Path) -> dict[str, Path]:
    """Four small documents, one per format, each with a word found nowhere else."""
    folder.mkdir(parents=True, exist_ok=True)
    return {
        "pdf": write_pdf(
            folder / "mp-materials-8k.pdf",
            [
                "MP Materials entered into a partnership with the Department of Defense. The agreement sets a "
                "price floor for NdPr oxide. " * 3,
                "The second page describes a loan for heavy rare earth separation. It also mentions molybdenum "
                "as a by-product of the Mountain Pass mine.",
            ],
            title="MP Materials Form 8-K",
        ),
        "md": write_markdown(
            folder / "eo-14241.md",
            "# Immediate Measures\n\n## Purpose\n\nThe order expands domestic mineral production. "
            "Agencies shall list priority projects, including tungsten mines.\n\n## Policy\n\n"
            "It is the policy of the United States to streamline permits.\n",
            front_matter={"title": "Executive Order 14241", "doc_type": "policy", "published": "2025-03-20"},
        ),
        "html": write_html(
            folder / "korea-zinc.html",
            "Korea Zinc Clarksville refinery",
            {
                "Financing": ["The Pentagon will take a stake in the refinery.", "Output includes germanium."],
                "Timeline": ["Construction starts in 2026 in Tennessee."],
            },
        ),
        "txt": _write(folder / "notes.txt", "Notes on stockpiles\n\nThe stockpile holds antimony and gallium.\n"),
    }


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def write_big_text(path: Path, sentences: int = 1200) -> Path:
    """A text document long enough to be streamed to the store in several batches (> 256 chunks)."""
    body = " ".join(f"Clause {i} requires the reporting of scandium stocks by each refinery." for i in range(sentences))
    return _write(path, f"{BIG_TITLE}\n\n{body}\n")


def outcomes_by_name(report: IngestReport) -> dict[str, Outcome]:
    return {Path(f.path).name: f.outcome for f in report.files}


def doc_id_of(report: IngestReport, path: Path) -> str:
    for f in report.files:
        if Path(f.path) == path.resolve() and f.doc_id:
            return f.doc_id
    raise AssertionError(f"no outcome with a doc_id for {path.name} in {report.files}")


def lexical_doc_ids(store: CorpusStore, word: str) -> set[str]:
    return {chunk_id.rsplit(":", 1)[0] for chunk_id, _ in store.lexical_search(word, k=50)}


def test_first_ingest_adds_every_file_with_its_chunks(
    tmp_path: Path, store_settings: Settings, store: CorpusStore, fake_embedder: FakeEmbedder
) -> None:
    files = write_corpus(tmp_path / "docs")
    report = ingest_paths([tmp_path / "docs"], store_settings, store=store, embedder=fake_embedder)

    assert report.ok, f"first ingest failed: {report.files}"
    assert outcomes_by_name(report) == {p.name: Outcome.ADDED for p in files.values()}, f"outcomes: {report.files}"
    records = {r.meta.doc_id: r for r in store.documents()}
    assert len(records) == 4, f"expected 4 documents, got {sorted(records)}"
    for outcome in report.files:
        record = records[outcome.doc_id]
        assert outcome.chunks > 0, f"{outcome.path} gave no chunks"
        assert record.chunk_count == outcome.chunks == len(store.catalog.chunk_ids(outcome.doc_id)), (
            f"{outcome.path}: outcome says {outcome.chunks} chunks, registry {record.chunk_count}"
        )
        assert record.meta.source == outcome.path, f"registry source {record.meta.source} != {outcome.path}"
    assert report.chunks == assert_consistent(store, store_settings), "report total differs from stored chunks"
    assert len(fake_embedder.encoded) == report.chunks, "each chunk should be embedded exactly once"


def test_lexical_search_finds_a_word_on_the_second_pdf_page(
    tmp_path: Path, store_settings: Settings, store: CorpusStore, fake_embedder: FakeEmbedder
) -> None:
    files = write_corpus(tmp_path / "docs")
    report = ingest_paths([tmp_path / "docs"], store_settings, store=store, embedder=fake_embedder)
    pdf_id = doc_id_of(report, files["pdf"])

    hits = store.lexical_search("molybdenum", k=5)
    assert hits, "lexical search found no chunk for a word in the PDF"
    chunk = store.get_chunks([hits[0][0]])[hits[0][0]]
    assert chunk.doc_id == pdf_id, f"top lexical hit is from {chunk.doc_id}, not the PDF {pdf_id}"
    assert "molybdenum" in chunk.text, f"top hit does not contain the word: {chunk.text!r}"
    assert chunk.page == 2, f"the word is on page 2, the chunk says page {chunk.page}"
    assert chunk.title == "MP Materials Form 8-K", f"the chunk's document title is {chunk.title!r}"


def test_dense_search_returns_the_chunk_whose_text_is_queried(
    tmp_path: Path, store_settings: Settings, store: CorpusStore, fake_embedder: FakeEmbedder
) -> None:
    write_corpus(tmp_path / "docs")
    ingest_paths([tmp_path / "docs"], store_settings, store=store, embedder=fake_embedder)
    target_id = store.lexical_search("germanium", k=1)[0][0]
    target = store.get_chunks([target_id])[target_id]
    query_text = f"{target.context}\n{target.text}" if target.context else target.text

    hits = store.dense_search(fake_embedder.embed_query(query_text), k=3)
    assert hits, "dense search returned nothing"
    assert hits[0][0] == target_id, f"dense top hit {hits[0]} is not the chunk whose text was queried ({target_id})"
    assert hits[0][1] == pytest.approx(1.0, abs=1e-4), f"identical vectors should have similarity 1, got {hits[0][1]}"


def test_reingest_of_unchanged_files_writes_nothing(
    tmp_path: Path, store_settings: Settings, store: CorpusStore, fake_embedder: FakeEmbedder
) -> None:
    write_corpus(tmp_path / "docs")
    first = ingest_paths([tmp_path / "docs"], store_settings, store=store, embedder=fake_embedder)
    stamps = {r.meta.doc_id: r.ingested_at for r in store.documents()}
    again = FakeEmbedder()

    second = ingest_paths([tmp_path / "docs"], store_settings, store=store, embedder=again)

    assert again.encoded == [], f"unchanged files were embedded again: {len(again.encoded)} texts"
    assert {f.outcome for f in second.files} == {Outcome.UNCHANGED}, f"outcomes: {second.files}"
    assert [f.chunks for f in second.files] == [f.chunks for f in first.files], "unchanged outcomes lost chunk counts"
    assert {r.meta.doc_id: r.ingested_at for r in store.documents()} == stamps, "registry rows were rewritten"
    assert assert_consistent(store, store_settings) == first.chunks, "chunk count changed on an unchanged re-ingest"


def test_editing_one_file_updates_only_it_and_drops_its_old_chunks(
    tmp_path: Path, store_settings: Settings, store: CorpusStore, fake_embedder: FakeEmbedder
) -> None:
    files = write_corpus(tmp_path / "docs")
    first = ingest_paths([tmp_path / "docs"], store_settings, store=store, embedder=fake_embedder)
    md_id = doc_id_of(first, files["md"])
    write_markdown(
        files["md"],
        "# Immediate Measures\n\n## Purpose\n\nThe amended order now covers vanadium only.\n",
        front_matter={"title": "Executive Order 14241", "doc_type": "policy", "published": "2025-03-20"},
    )
    again = FakeEmbedder()

    second = ingest_paths([tmp_path / "docs"], store_settings, store=store, embedder=again)

    expected = {p.name: Outcome.UNCHANGED for p in files.values()} | {files["md"].name: Outcome.UPDATED}
    assert outcomes_by_name(second) == expected, f"outcomes after editing one file: {second.files}"
    assert doc_id_of(second, files["md"]) == md_id, "an edited file must keep its doc_id"
    assert again.encoded and all("Executive Order 14241" in t for t in again.encoded), (
        "only the edited document's chunks should be embedded"
    )
    assert lexical_doc_ids(store, "tungsten") == set(), "the old version's chunks are still searchable"
    assert lexical_doc_ids(store, "vanadium") == {md_id}, "the new version is not searchable"
    record = store.document(md_id)
    assert record is not None and record.chunk_count == len(store.catalog.chunk_ids(md_id)), "stale chunk count"
    assert_consistent(store, store_settings)


def test_deleted_file_is_removed_by_prune_with_its_chunks(
    tmp_path: Path, store_settings: Settings, store: CorpusStore, fake_embedder: FakeEmbedder
) -> None:
    files = write_corpus(tmp_path / "docs")
    first = ingest_paths([tmp_path / "docs"], store_settings, store=store, embedder=fake_embedder)
    html_id = doc_id_of(first, files["html"])
    html_chunks = store.catalog.chunk_ids(html_id)
    files["html"].unlink()

    second = ingest_paths([tmp_path / "docs"], store_settings, store=store, embedder=fake_embedder, prune=True)

    removed = [f for f in second.files if f.outcome is Outcome.REMOVED]
    assert [(f.doc_id, f.chunks) for f in removed] == [(html_id, len(html_chunks))], f"outcomes: {second.files}"
    assert store.document(html_id) is None, "the deleted file's document is still registered"
    assert lexical_doc_ids(store, "germanium") == set(), "the deleted file's chunks are still searchable"
    dense_ids = {i for i, _ in store.dense_search(np.ones(fake_embedder.dimension) / 8.0, k=1000)}
    assert not dense_ids & html_chunks, "the deleted file's vectors are still in Chroma"
    assert len(store.documents()) == 3, f"documents left: {[r.meta.doc_id for r in store.documents()]}"
    assert_consistent(store, store_settings)


def test_deleted_file_is_kept_without_prune(
    tmp_path: Path, store_settings: Settings, store: CorpusStore, fake_embedder: FakeEmbedder
) -> None:
    files = write_corpus(tmp_path / "docs")
    first = ingest_paths([tmp_path / "docs"], store_settings, store=store, embedder=fake_embedder)
    files["txt"].unlink()

    second = ingest_paths([tmp_path / "docs"], store_settings, store=store, embedder=fake_embedder)

    assert Outcome.REMOVED not in {f.outcome for f in second.files}, f"removed without --prune: {second.files}"
    assert store.document(doc_id_of(first, files["txt"])) is not None, "document removed without --prune"


def test_rebuild_empties_the_store_and_embeds_everything_again(
    tmp_path: Path, store_settings: Settings, store: CorpusStore, fake_embedder: FakeEmbedder
) -> None:
    write_corpus(tmp_path / "docs")
    first = ingest_paths([tmp_path / "docs"], store_settings, store=store, embedder=fake_embedder)
    chunk_ids = store.catalog.chunk_ids()
    again = FakeEmbedder()

    rebuilt = ingest_paths([tmp_path / "docs"], store_settings, store=store, embedder=again, rebuild=True)

    assert {f.outcome for f in rebuilt.files} == {Outcome.ADDED}, f"rebuild outcomes: {rebuilt.files}"
    assert len(again.encoded) == first.chunks, f"rebuild embedded {len(again.encoded)} of {first.chunks} chunks"
    assert store.catalog.chunk_ids() == chunk_ids, "rebuild changed the chunk ids"
    assert assert_consistent(store, store_settings) == first.chunks, "rebuild left a different number of chunks"


def test_two_files_with_the_same_name_in_different_folders_both_survive(
    tmp_path: Path, store_settings: Settings, store: CorpusStore, fake_embedder: FakeEmbedder
) -> None:
    first_file = _write(tmp_path / "docs" / "2024" / "policy.txt", "Policy 2024\n\nThe old rule covers nickel.\n")
    second_file = _write(tmp_path / "docs" / "2025" / "policy.txt", "Policy 2025\n\nThe new rule covers cobalt.\n")

    report = ingest_paths([tmp_path / "docs"], store_settings, store=store, embedder=fake_embedder)

    first_id, second_id = doc_id_of(report, first_file), doc_id_of(report, second_file)
    assert first_id != second_id, f"both files got the doc_id {first_id}"
    assert {r.meta.source for r in store.documents()} == {str(first_file.resolve()), str(second_file.resolve())}, (
        f"documents stored: {[(r.meta.doc_id, r.meta.source) for r in store.documents()]}"
    )
    assert lexical_doc_ids(store, "nickel") == {first_id}, "the first file's text is lost"
    assert lexical_doc_ids(store, "cobalt") == {second_id}, "the second file's text is lost"
    assert_consistent(store, store_settings)

    _write(second_file, "Policy 2025\n\nThe new rule now covers cobalt and lithium.\n")
    again = ingest_paths([tmp_path / "docs"], store_settings, store=store, embedder=FakeEmbedder())
    assert [f.outcome for f in again.files] == [Outcome.UNCHANGED, Outcome.UPDATED], (
        f"editing one of two same-named files: {again.files}"
    )
    assert [doc_id_of(again, first_file), doc_id_of(again, second_file)] == [first_id, second_id], "doc_ids moved"
    assert lexical_doc_ids(store, "nickel") == {first_id}, "editing one same-named file lost the other"
    assert_consistent(store, store_settings)


class FailingEmbedder(FakeEmbedder):
    """Raises on the ``fail_on``-th encode call that embeds chunks of the document titled ``title``."""

    def __init__(self, title: str, fail_on: int) -> None:
        super().__init__()
        self.title, self.fail_on, self.calls = title, fail_on, 0

    def encode(self, texts: list[str]) -> np.ndarray:
        if any(t.startswith(self.title) for t in texts):
            self.calls += 1
            if self.calls == self.fail_on:
                raise RuntimeError("simulated crash while embedding")
        return super().encode(texts)


class FailingStore(CorpusStore):
    """Raises on the ``fail_on``-th write that carries chunks of the document titled ``title``."""

    def __init__(self, settings: Settings, title: str, fail_on: int) -> None:
        super().__init__(settings)
        self.title, self.fail_on, self.calls = title, fail_on, 0

    def add_documents(self, batch: Sequence[tuple[DocumentMeta, Sequence[Chunk]]], vectors: np.ndarray) -> None:
        if any(meta.title == self.title for meta, _ in batch):
            self.calls += 1
            if self.calls == self.fail_on:
                raise StoreUnavailable(f"writing to Chroma at {self.location} failed: simulated outage")
        super().add_documents(batch, vectors)


def reference_ingest(folder: Path, tmp_path: Path) -> tuple[dict[str, int], set[str]]:
    """Documents with their chunk counts, and chunk ids, of a clean ingest of ``folder`` into a fresh store."""
    settings = Settings(store_dir=tmp_path / "reference", collection="reference")
    store = open_store(settings)
    ingest_paths([folder], settings, store=store, embedder=FakeEmbedder())
    expected = {r.meta.doc_id: r.chunk_count for r in store.documents()}, store.catalog.chunk_ids()
    store.close()
    return expected


@pytest.mark.parametrize("failing", ["embedder", "store"])
def test_a_document_that_failed_half_way_is_redone_exactly_on_the_next_run(
    tmp_path: Path, store_settings: Settings, failing: str
) -> None:
    files = write_corpus(tmp_path / "docs")
    big = write_big_text(tmp_path / "docs" / "big-report.txt")
    expected, expected_ids = reference_ingest(tmp_path / "docs", tmp_path)

    if failing == "embedder":
        broken_store, embedder = open_store(store_settings), FailingEmbedder(BIG_TITLE, fail_on=2)
    else:
        broken_store, embedder = FailingStore(store_settings, BIG_TITLE, fail_on=2), FakeEmbedder()
    crashed = ingest_paths([tmp_path / "docs"], store_settings, store=broken_store, embedder=embedder)
    big_outcome = next(f for f in crashed.files if Path(f.path).name == big.name)
    assert big_outcome.outcome is Outcome.FAILED, f"the interrupted document should fail, got {big_outcome}"
    assert big.name in big_outcome.message and "\n" not in big_outcome.message, f"message: {big_outcome.message!r}"
    assert not crashed.ok, "a report with a failed file must not be ok"
    assert max(expected.values()) > 2 * 256, "the big document must need several write batches"
    assert lexical_doc_ids(broken_store, "scandium") == set(), "half a document is visible to searches"
    for path in files.values():
        assert outcomes_by_name(crashed)[path.name] is Outcome.ADDED, f"{path.name} suffered from another's failure"
    broken_store.close()

    store = open_store(store_settings)
    recovered = ingest_paths([tmp_path / "docs"], store_settings, store=store, embedder=FakeEmbedder())

    assert recovered.ok, f"the recovery run failed: {recovered.files}"
    assert outcomes_by_name(recovered)[big.name] in (Outcome.ADDED, Outcome.UPDATED), f"outcomes: {recovered.files}"
    assert {r.meta.doc_id: r.chunk_count for r in store.documents()} == expected, "documents differ from a clean run"
    assert store.catalog.chunk_ids() == expected_ids, "chunk ids differ from a clean run"
    assert assert_consistent(store, store_settings) == sum(expected.values()), "duplicate or missing chunks"
    store.close()


def test_a_failed_write_of_queued_documents_fails_each_of_them_and_the_next_run_redoes_them(
    tmp_path: Path, store_settings: Settings
) -> None:
    files = write_corpus(tmp_path / "docs")
    expected, expected_ids = reference_ingest(tmp_path / "docs", tmp_path)
    broken_store = FailingStore(store_settings, "Executive Order 14241", fail_on=1)

    crashed = ingest_paths([tmp_path / "docs"], store_settings, store=broken_store, embedder=FakeEmbedder())

    assert outcomes_by_name(crashed) == {p.name: Outcome.FAILED for p in files.values()}, (
        f"documents written in the failed batch should all fail: {crashed.files}"
    )
    for outcome in crashed.files:
        assert Path(outcome.path).name in outcome.message and "simulated outage" in outcome.message, (
            f"message should name the file and the cause: {outcome.message!r}"
        )
    assert not crashed.ok, "a report with failed files must not be ok"
    assert lexical_doc_ids(broken_store, "tungsten") == set(), "a document whose write failed is searchable"
    broken_store.close()

    store = open_store(store_settings)
    recovered = ingest_paths([tmp_path / "docs"], store_settings, store=store, embedder=FakeEmbedder())

    assert recovered.ok, f"the recovery run failed: {recovered.files}"
    assert {r.meta.doc_id: r.chunk_count for r in store.documents()} == expected, "documents differ from a clean run"
    assert store.catalog.chunk_ids() == expected_ids, "chunk ids differ from a clean run"
    assert_consistent(store, store_settings)
    store.close()
