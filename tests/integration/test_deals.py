"""The deal tracker on the ingested starter corpus: field-level precision and recall against a hand-checked table."""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from assistant.deals import COLUMNS, Deal, deals_csv, deals_table, extract_deals
from assistant.deals import load_expected, score
from ingest.pipeline import ingest_paths
from policyqa_cli import main
from policyqa.settings import Settings
from policyqa.store import CorpusStore
from tests.builders import write_markdown
from tests.fakes import FakeEmbedder
from tests.integration.deals_corpus import CORPUS, EXPECTED, ingest_with_fake_model
from tests.integration.deals_corpus import corpus_settings, corpus_store, offline_deals  # noqa: F401 - fixtures

EXPECTED_CELLS = 58  # the starter table: every cell right, none extra (issue 14 keeps it at 58 of 58)


@pytest.fixture(scope="module")
def deals(offline_deals: list[Deal]) -> list[Deal]:
    return offline_deals


# -- scoring (assistant.deals.scoring) ----------------------------------------------------------------------------

def test_deals_match_the_hand_checked_table(deals: list[Deal], capsys: pytest.CaptureFixture[str]) -> None:
    expected = load_expected(EXPECTED)

    result = score(deals, expected)

    with capsys.disabled():
        print(
            f"\ndeals: {len(deals)} rows extracted, {len(expected)} expected; fields: {result.correct} correct of "
            f"{result.predicted} extracted and {result.expected} expected; precision {result.precision:.3f}, "
            f"recall {result.recall:.3f}"
        )
        for problem in result.problems:
            print(f"  {problem}")
    assert result.expected == EXPECTED_CELLS, f"the table has {result.expected} cells"
    assert result.correct == result.predicted == EXPECTED_CELLS, f"{result.line('offline')}: {result.problems}"
    assert result.deals_found == result.deals_expected == result.rows, result.problems


# -- provenance, CSV, freshness, CLI ------------------------------------------------------------------------------

def test_every_cell_quotes_its_chunk_exactly(deals: list[Deal], corpus_store: CorpusStore) -> None:
    sources = [(d, name, s) for d in deals for name, cell in d.fields.items() for s in cell.sources]
    chunks = corpus_store.get_chunks([s.chunk_id for _, _, s in sources])

    assert deals and all(set(d.fields) >= {"company", "instrument"} for d in deals), "every row cites its key"
    for deal, name, source in sources:
        chunk = chunks.get(source.chunk_id)
        assert chunk is not None, f"{deal.company} {name}: no chunk {source.chunk_id}"
        assert source.quote and source.quote in chunk.text, f"{deal.company} {name}: quote not in {source.chunk_id}"
        assert chunk.text[source.start : source.end] == source.quote, f"{deal.company} {name}: span is off"
        assert (source.doc_id, source.title, source.page, source.published) == (
            chunk.doc_id, chunk.title, chunk.page, chunk.published
        ), f"{deal.company} {name}: document fields differ from the chunk's"


def test_each_cell_value_is_stated_in_its_first_source(deals: list[Deal]) -> None:
    for deal in deals:
        for name in ("amount", "stake_percent", "share"):
            if name in deal.fields:
                cell = deal.fields[name]
                number = re.search(r"\d[\d.,]*\d|\d", cell.value)
                assert number and number.group(0) in cell.source.quote, f"{deal.company} {name} {cell.value!r}"


def test_csv_round_trips_through_the_csv_module(deals: list[Deal]) -> None:
    text = deals_csv(deals)

    reader = csv.DictReader(io.StringIO(text))
    rows = list(reader)

    assert reader.fieldnames == [*COLUMNS, "sources"], f"header: {reader.fieldnames}"
    table = deals_table(deals)
    assert rows == [{k: row[k] for k in [*COLUMNS, "sources"]} for row in table], "CSV differs from the table"
    assert all(row["sources"] for row in rows), "every row lists its sources"
    assert any("p. " in row["sources"] for row in rows), "PDF sources carry page numbers"


def test_a_newly_ingested_document_appears_on_the_next_call(tmp_path: Path, settings: Settings) -> None:
    store = ingest_with_fake_model(settings, CORPUS)
    before = extract_deals(store)
    folder = tmp_path / "new"
    folder.mkdir()
    write_markdown(
        folder / "acme-lithium-grant.md",
        "# Acme Lithium wins federal grant\n\n"
        "Acme Lithium Corp. will receive a $20 million grant from the Department of Energy to build a lithium "
        "hydroxide plant in Reno, Nevada. The grant was announced on March 3, 2026.\n",
        front_matter={"title": "Acme Lithium wins federal grant", "doc_type": "article", "published": "2026-03-04"},
    )
    ingest_paths([folder], settings, store=store, embedder=FakeEmbedder(max_tokens=256))

    after = extract_deals(store)
    store.close()

    assert not any(d.company.startswith("Acme") for d in before), "Acme is not in the starter corpus"
    acme = [d for d in after if d.company == "Acme Lithium Corp."]
    assert [d.instrument for d in acme] == ["grant"], f"rows: {[(d.company, d.instrument) for d in after]}"
    got = {name: acme[0].value(name) for name in ("amount", "agency", "date", "location", "mineral")}
    assert got == {
        "amount": "$20 million", "agency": "Department of Energy", "date": "2026-03-03", "location": "Reno, Nevada",
        "mineral": "lithium",
    }, "the date stated in the sentence, not the publication date"
    assert len(after) == len(before) + 1, "the other rows are unchanged"


def test_cli_prints_the_table_and_writes_csv(
    corpus_settings: Settings, corpus_store: CorpusStore, tmp_path: Path
) -> None:
    out = tmp_path / "deals.csv"

    result = CliRunner().invoke(
        main,
        ["--store-dir", str(corpus_settings.store_dir), "--collection", corpus_settings.collection,
         "deals", "--csv", str(out)],
    )

    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].split()[:2] == ["company", "instrument"], f"header: {lines[0]!r}"
    mp = next(line for line in lines if line.startswith("MP Materials") and "$400 million" in line)
    assert "equity stake" in mp and "Department of Defense" in mp and re.search(r"\[[^\]]+\]", mp), mp
    assert "[MP Materials: Form 8-K-Style Summary" in result.stdout or "[Timeline" in result.stdout
    rows = list(csv.DictReader(io.StringIO(out.read_text(encoding="utf-8"))))
    assert len(rows) == len(extract_deals(corpus_store)) > 0, "one CSV row per deal"
    assert f"written to {out}" in result.stdout


def test_cli_on_an_empty_store_says_what_to_do(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["--store-dir", str(tmp_path / "empty"), "deals"])

    assert result.exit_code == 0, result.output
    assert "policyqa ingest" in result.stdout, result.stdout
