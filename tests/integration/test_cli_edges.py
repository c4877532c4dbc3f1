"""Smaller edges: UTF-16 without a BOM, unprintable names in `docs`, bad filter values, the `docs` footer."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from ingest.pipeline import ingest_paths
from policyqa_cli import main
from policyqa.settings import Settings
from policyqa.store import open_store
from policyqa.types import Outcome
from tests.fakes import FakeEmbedder


@pytest.fixture(autouse=True)
def _fake_model(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("policyqa.embedding.load_embedder", lambda settings: FakeEmbedder())


def run(settings: Settings, *args: str) -> Result:
    base = ["--store-dir", str(settings.store_dir), "--collection", settings.collection]
    return CliRunner().invoke(main, [*base, *args])


@pytest.mark.parametrize("encoding", ["utf-16-le", "utf-16-be"])
def test_utf16_text_without_a_bom_is_decoded(tmp_path: Path, settings: Settings, encoding: str) -> None:
    path = tmp_path / "wide.txt"
    path.write_bytes("The cobalt reserve holds 4,321 tonnes — café grade.\n".encode(encoding))

    report = ingest_paths([path], settings, embedder=FakeEmbedder())

    (outcome,) = report.files
    assert outcome.outcome is Outcome.ADDED, outcome
    store = open_store(settings)
    try:
        texts = [c.text for c in store.get_chunks(sorted(store.catalog.chunk_ids())).values()]
    finally:
        store.close()
    assert texts and "4,321 tonnes — café" in texts[0], texts


def test_docs_escapes_newlines_bidi_overrides_and_escapes_in_names_and_titles(
    tmp_path: Path, settings: Settings
) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "evil\u202etxt.md").write_text("# Plain\n\nA note on quotas.\n")
    (docs / "two\nlines.md").write_text("---\ntitle: \"Title \\u202e with \\e[31m colour\"\n---\nA second note.\n")

    assert run(settings, "ingest", "-q", str(docs)).exit_code == 0
    result = run(settings, "docs")

    assert result.exit_code == 0, result.output
    assert "\u202e" not in result.output and "\x1b" not in result.output, repr(result.output)
    assert "\\u202e" in result.output and "two\\nlines.md" in result.output, result.output
    assert len(result.output.splitlines()) == 2 + 2, f"one line per document plus header and footer: {result.output!r}"


@pytest.mark.parametrize(
    ("option", "value"),
    [("--since", "2025-13-45"), ("--until", "notadate"), ("--type", "bogus")],
)
@pytest.mark.parametrize("command", ["ask", "chat"])
def test_bad_filter_values_are_usage_errors(settings: Settings, command: str, option: str, value: str) -> None:
    args = [command, "What is the quota?"] if command == "ask" else [command]
    result = run(settings, *args, option, value)

    assert result.exit_code == 2, f"{option} {value}: {result.output}"
    assert value in result.output and "Usage:" in result.output, result.output


def test_good_filter_values_and_type_aliases_are_accepted(settings: Settings) -> None:
    filters = ["--since", "2025-01-01", "--until", "2025-12-31", "--type", "8-K"]
    result = run(settings, "ask", "What is the quota?", *filters)

    assert result.exit_code == 0, result.output


def test_docs_footer_counts_the_documents_it_lists_including_pending_ones(tmp_path: Path, settings: Settings) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    for name in ("a", "b"):
        (docs / f"{name}.md").write_text(f"# {name}\n\nNote {name} on the quota.\n")
    assert ingest_paths([docs], settings, embedder=FakeEmbedder()).ok
    store = open_store(settings)
    try:
        record = store.documents()[0]
        store.catalog.mark_pending(record.meta)  # as if its rewrite were under way
    finally:
        store.close()

    result = run(settings, "docs")

    lines = result.output.splitlines()
    assert len(lines) == 1 + 2 + 1, result.output
    assert lines[-1].startswith("2 documents (1 pending"), f"footer: {lines[-1]!r}"
    assert "pending" in [line for line in lines if record.meta.doc_id in line][0], result.output
