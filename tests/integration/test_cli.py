"""The policyqa command through click's CliRunner: ingest, docs, remove and check, with their exit codes."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from policyqa_cli import main
from policyqa.settings import Settings
from policyqa.store import open_store
from policyqa.types import DocType, DocumentMeta
from tests.builders import write_corrupt_pdf, write_markdown, write_pdf
from tests.fakes import FakeEmbedder

SUMMARY = re.compile(
    r"^(?P<added>\d+) added, (?P<updated>\d+) updated, (?P<unchanged>\d+) unchanged, (?P<removed>\d+) removed, "
    r"(?P<failed>\d+) failed(?:, (?P<skipped>\d+) skipped)?; (?P<chunks>\d+) chunks in \d+\.\d s$"
)


@pytest.fixture
def fake_model(monkeypatch: pytest.MonkeyPatch) -> list[FakeEmbedder]:
    """Replace the real model with fakes; the list collects every embedder the CLI asked for."""
    made: list[FakeEmbedder] = []

    def load(settings: Settings) -> FakeEmbedder:
        made.append(FakeEmbedder(max_tokens=128))
        return made[-1]

    monkeypatch.setattr("policyqa.embedding.load_embedder", load)
    return made


@pytest.fixture
def docs_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "docs"
    folder.mkdir()
    write_markdown(
        folder / "eo-14241.md",
        "# Purpose\n\nThe order expands domestic production of tungsten and copper.\n",
        front_matter={"title": "Executive Order 14241", "doc_type": "policy", "published": "2025-03-20"},
    )
    write_pdf(folder / "mp-8k.pdf", ["MP Materials sells NdPr oxide to the Department of Defense."], title="MP 8-K")
    return folder


def run(*args: str) -> Result:
    return CliRunner().invoke(main, list(args))


def summary_of(result: Result) -> dict[str, int]:
    last = result.stdout.strip().splitlines()[-1]
    match = SUMMARY.match(last)
    assert match, f"last line is not the ingest summary: {last!r}"
    return {k: int(v or 0) for k, v in match.groupdict().items()}


def test_ingest_prints_a_summary_line_and_exits_0(docs_dir: Path, fake_model: list[FakeEmbedder]) -> None:
    result = run("ingest", str(docs_dir))

    assert result.exit_code == 0, f"exit {result.exit_code}: {result.output}"
    counts = summary_of(result)
    assert (counts["added"], counts["failed"], counts["skipped"]) == (2, 0, 0), f"summary: {counts}"
    assert counts["chunks"] == len(fake_model[0].encoded) > 0, f"summary says {counts['chunks']} chunks"
    assert result.stderr == "", f"nothing should go to stderr on success: {result.stderr!r}"


def test_ingest_again_reports_unchanged_and_never_loads_the_model(
    docs_dir: Path, fake_model: list[FakeEmbedder]
) -> None:
    run("ingest", str(docs_dir))
    fake_model.clear()

    result = run("ingest", str(docs_dir))

    assert result.exit_code == 0, f"exit {result.exit_code}: {result.output}"
    assert summary_of(result)["unchanged"] == 2, f"summary: {result.stdout!r}"
    assert fake_model == [], "the model was loaded although nothing needed embedding"


def test_ingest_exits_1_when_a_file_fails_and_still_ingests_the_rest(
    docs_dir: Path, fake_model: list[FakeEmbedder]
) -> None:
    write_corrupt_pdf(docs_dir / "broken.pdf")

    result = run("ingest", str(docs_dir))

    assert result.exit_code == 1, f"a failed file must give exit status 1: {result.output}"
    assert re.search(r"^failed\s+broken\.pdf: ", result.stderr, re.M), f"no failed line on stderr: {result.stderr!r}"
    counts = summary_of(result)
    assert (counts["added"], counts["failed"]) == (2, 1), f"summary: {counts}"
    assert "Traceback" not in result.output, f"traceback printed: {result.output}"


def test_ingest_lists_skipped_files_and_exits_0(docs_dir: Path, fake_model: list[FakeEmbedder]) -> None:
    (docs_dir / "deck.pptx").write_bytes(b"PK\x03\x04")

    result = run("ingest", str(docs_dir))

    assert result.exit_code == 0, f"a skipped file is not a failure: {result.output}"
    assert re.search(r"^skipped\s+deck\.pptx: unsupported file type", result.stdout, re.M), f"output: {result.stdout!r}"
    assert summary_of(result)["skipped"] == 1, f"summary: {result.stdout!r}"


def test_ingest_of_a_missing_path_exits_1_naming_it(tmp_path: Path, fake_model: list[FakeEmbedder]) -> None:
    missing = tmp_path / "nowhere"

    result = run("ingest", str(missing))

    assert result.exit_code == 1, f"exit {result.exit_code}: {result.output}"
    assert f"{missing}: no such file or folder" in result.stderr, f"stderr: {result.stderr!r}"


def test_ingest_prune_reports_removed_documents(docs_dir: Path, fake_model: list[FakeEmbedder]) -> None:
    run("ingest", str(docs_dir))
    (docs_dir / "mp-8k.pdf").unlink()

    result = run("ingest", "--prune", str(docs_dir))

    assert result.exit_code == 0, f"exit {result.exit_code}: {result.output}"
    assert re.search(r"^removed\s+.*mp-8k\.pdf", result.stdout, re.M), f"no removed line: {result.stdout!r}"
    assert summary_of(result)["removed"] == 1, f"summary: {result.stdout!r}"


def test_ingest_rebuild_adds_everything_again(docs_dir: Path, fake_model: list[FakeEmbedder]) -> None:
    run("ingest", str(docs_dir))

    result = run("ingest", "--rebuild", str(docs_dir))

    assert result.exit_code == 0, f"exit {result.exit_code}: {result.output}"
    assert summary_of(result)["added"] == 2, f"rebuild should add every file again: {result.stdout!r}"


def test_docs_prints_a_table_of_documents(docs_dir: Path, fake_model: list[FakeEmbedder]) -> None:
    run("ingest", str(docs_dir))
    records = {r.meta.title: r for r in open_store(Settings()).documents()}

    result = run("docs")

    assert result.exit_code == 0, f"exit {result.exit_code}: {result.output}"
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["title", "type", "date", "chunks", "doc_id", "source"], f"header: {lines[0]!r}"
    eo = records["Executive Order 14241"]
    row = next((line for line in lines if line.startswith("Executive Order 14241")), "")
    assert row.split()[3:8] == ["policy", "2025-03-20", str(eo.chunk_count), eo.meta.doc_id, eo.meta.source], (
        f"row for the order: {row!r}"
    )
    mp = records["MP 8-K"]
    assert any(line.split()[:5] == ["MP", "8-K", "other", "2025-07-10", str(mp.chunk_count)] for line in lines), (
        f"no row for the PDF, dated from its creation date: {lines}"
    )
    total = sum(r.chunk_count for r in records.values())
    assert lines[-1].startswith(f"2 documents, {total} chunks in "), f"footer: {lines[-1]!r}"


def test_docs_on_an_empty_store_says_how_to_ingest() -> None:
    result = run("docs")

    assert result.exit_code == 0, f"exit {result.exit_code}: {result.output}"
    assert "policyqa ingest" in result.stdout, f"output: {result.stdout!r}"


def test_remove_deletes_the_document_and_its_chunks(docs_dir: Path, fake_model: list[FakeEmbedder]) -> None:
    run("ingest", str(docs_dir))
    store = open_store(Settings())
    doc_id = next(r.meta.doc_id for r in store.documents() if r.meta.title == "MP 8-K")

    result = run("remove", doc_id)

    assert result.exit_code == 0, f"exit {result.exit_code}: {result.output}"
    assert result.stdout.strip() == f"removed {doc_id}", f"output: {result.stdout!r}"
    assert store.document(doc_id) is None and not store.catalog.chunk_ids(doc_id), "document or chunks left behind"
    assert "MP 8-K" not in run("docs").stdout, "docs still lists the removed document"
    assert run("check").exit_code == 0, "the store is inconsistent after remove"


def test_remove_of_an_unknown_doc_id_exits_1_with_one_error_line(
    docs_dir: Path, fake_model: list[FakeEmbedder]
) -> None:
    run("ingest", str(docs_dir))

    result = run("remove", "no-such-doc")

    assert result.exit_code == 1, f"exit {result.exit_code}: {result.output}"
    assert result.stderr.strip() == "error: no such document: no-such-doc", f"stderr: {result.stderr!r}"
    assert "2 documents" in run("docs").stdout, "an unknown id removed something"


def test_check_says_a_fresh_store_is_consistent(docs_dir: Path, fake_model: list[FakeEmbedder]) -> None:
    run("ingest", str(docs_dir))

    result = run("check")

    assert result.exit_code == 0, f"exit {result.exit_code}: {result.output}"
    assert "store is consistent" in result.stdout, f"output: {result.stdout!r}"


def test_check_exits_1_on_a_half_written_document_and_repair_fixes_it(
    docs_dir: Path, fake_model: list[FakeEmbedder]
) -> None:
    run("ingest", str(docs_dir))
    store = open_store(Settings())
    store.begin_document(DocumentMeta(doc_id="half-done", title="Half", source="/gone.md", doc_type=DocType.OTHER))

    broken = run("check")
    repaired = run("check", "--repair")
    after = run("check")

    assert broken.exit_code == 1 and "pending documents: 1" in broken.stdout, f"check: {broken.output!r}"
    assert "check --repair" in broken.stdout, f"check should say how to repair: {broken.stdout!r}"
    assert repaired.exit_code == 0 and "repaired" in repaired.stdout, f"check --repair: {repaired.output!r}"
    assert after.exit_code == 0 and "store is consistent" in after.stdout, f"check after repair: {after.output!r}"
    assert "2 documents" in run("docs").stdout, "repair removed complete documents"


def test_an_invalid_setting_is_a_usage_error_naming_the_field() -> None:
    result = run("--collection", "ab", "docs")

    assert result.exit_code == 2, f"exit {result.exit_code}: {result.output}"
    assert "collection" in result.output and "Traceback" not in result.output, f"output: {result.output!r}"


@pytest.mark.model
def test_ingest_with_the_real_model_embeds_two_small_files(docs_dir: Path) -> None:
    from policyqa.embedding import load_embedder

    result = run("ingest", str(docs_dir))

    assert result.exit_code == 0, f"exit {result.exit_code}: {result.output}"
    assert summary_of(result)["added"] == 2, f"summary: {result.stdout!r}"
    settings = Settings()
    store = open_store(settings)
    hits = store.dense_search(load_embedder(settings).embed_query("rare earth oxide sold to the Pentagon"), k=1)
    top = store.get_chunks([hits[0][0]])[hits[0][0]]
    assert top.title == "MP 8-K", f"the real model's nearest chunk is from {top.title!r}"
