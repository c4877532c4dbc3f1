"""One contract for every Catalog: SQLite (FTS5) in the store folder and PostgreSQL (tsvector) shared by hosts."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from policyqa.settings import Settings
from policyqa.store.backends import open_catalog
from policyqa.store.protocol import Catalog
from policyqa.types import Chunk, DocType, DocumentMeta, Filters

OpenCatalog = Callable[[], Catalog]


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def catalog_settings(request: pytest.FixtureRequest, tmp_path: Path) -> Settings:
    """Settings naming a fresh collection in a SQLite file under tmp_path, or in the session's PostgreSQL."""
    collection = f"contract-{uuid.uuid4().hex[:12]}"
    settings = Settings(store_dir=tmp_path / "store", collection=collection)
    if request.param == "postgres":
        return settings.with_overrides(database_url=request.getfixturevalue("postgres_server"))
    return settings


@pytest.fixture
def open_another(catalog_settings: Settings) -> Iterator[OpenCatalog]:
    """Opens more catalogs on the same store, as other processes (or hosts) would; all closed at the end."""
    opened: list[Catalog] = []

    def _open() -> Catalog:
        opened.append(open_catalog(catalog_settings))
        return opened[-1]

    yield _open
    for c in opened:
        c.close()


@pytest.fixture
def catalog(open_another: OpenCatalog) -> Catalog:
    return open_another()


def meta(doc_id: str, *, title: str | None = None, published: str | None = "2024-03-01",
         doc_type: DocType = DocType.POLICY, source: str | None = None) -> DocumentMeta:
    return DocumentMeta(
        doc_id=doc_id, title=title or doc_id.title(), source=source or f"/docs/{doc_id}.md", doc_type=doc_type,
        published=published, publisher="Agency", content_hash=f"hash-{doc_id}", sources=("https://example.org/a",),
    )


def chunks(doc_id: str, *texts: str, tags: tuple[str, ...] = ()) -> list[Chunk]:
    out, start = [], 0
    for i, text in enumerate(texts):
        out.append(Chunk(doc_id=doc_id, index=i, text=text, page=i + 1 if i else None, start=start,
                         end=start + len(text), headings=("Part A", f"Section {i}"), context=f"{doc_id} context",
                         tags=tags, dates=("2024-01-15",) if i == 0 else ()))
        start += len(text)
    return out


def write(catalog: Catalog, m: DocumentMeta, cs: list[Chunk], *, complete: bool = True) -> None:
    catalog.mark_pending(m)
    catalog.delete_chunks(m.doc_id)
    catalog.add_chunks(m, cs)
    if complete:
        catalog.mark_complete(m.doc_id, len(cs))


def ids(hits: list[tuple[str, float]]) -> list[str]:
    return [h[0] for h in hits]


def test_an_empty_catalog_reports_nothing(catalog: Catalog) -> None:
    assert catalog.documents() == [], "documents listed in an empty catalog"
    assert catalog.counts() == (0, 0), "non-zero counts in an empty catalog"
    assert catalog.generation() == 0, "a fresh collection starts at generation 0"
    assert catalog.latest_published() is None and catalog.last_ingest() is None, "summaries of nothing"
    assert catalog.search("reporting duties", 5) == [], "hits in an empty catalog"
    assert catalog.get_chunks(["x:00000"]) == {}, "a chunk found in an empty catalog"


def test_a_completed_document_round_trips_every_field(catalog: Catalog) -> None:
    m = meta("alpha", published="2024-05-02")
    cs = chunks("alpha", "Refineries must report cobalt stocks quarterly.", "Penalties apply to late reports.",
                tags=("cobalt", "state:NV"))
    write(catalog, m, cs)
    record = catalog.document("alpha")
    assert record is not None and record.state == "complete" and record.chunk_count == 2, f"bad record {record}"
    assert record.meta == m, f"metadata changed on the way through: {record.meta} != {m}"
    assert catalog.documents_by_source(m.source) == [record], "lookup by source differs"
    stored = catalog.get_chunks([c.chunk_id for c in cs])
    assert set(stored) == {c.chunk_id for c in cs}, "chunks missing"
    first, second = stored[cs[0].chunk_id], stored[cs[1].chunk_id]
    assert (first.text, first.page, first.start, first.end) == (cs[0].text, None, 0, len(cs[0].text)), "span lost"
    assert second.page == 2 and second.headings == ("Part A", "Section 1"), "page or headings lost"
    assert first.context == "alpha context" and first.tags == ("cobalt", "state:NV"), "context or tags lost"
    assert first.dates == ("2024-01-15",) and second.dates == (), "dates lost"
    assert (first.title, first.doc_type, first.published, first.source) == (m.title, m.doc_type, m.published, m.source)
    assert catalog.counts() == (1, 2), "counts differ"
    assert catalog.latest_published() == "2024-05-02", "latest date differs"
    assert catalog.last_ingest() is not None, "no time of the last ingest"
    assert catalog.chunk_ids() == catalog.chunk_ids("alpha") == {c.chunk_id for c in cs}, "chunk ids differ"


def test_a_pending_document_is_invisible_to_reads_but_listed_in_the_registry(catalog: Catalog) -> None:
    write(catalog, meta("done"), chunks("done", "Lithium brine permits are issued by the state."))
    write(catalog, meta("half"), chunks("half", "Lithium brine permits expire after ten years."), complete=False)
    assert {r.meta.doc_id: r.state for r in catalog.documents()} == {"done": "complete", "half": "pending"}
    assert ids(catalog.search("lithium brine permits", 10)) == ["done:00000"], "a pending document was searched"
    assert set(catalog.get_chunks(["done:00000", "half:00000"])) == {"done:00000"}, "a pending chunk was read"
    assert catalog.counts()[0] == 1, "a pending document was counted"
    assert catalog.chunk_ids("half") == {"half:00000"}, "the pending chunks are not listed for check/repair"


def test_search_ranks_the_chunk_with_more_of_the_query_first_and_respects_k(catalog: Catalog) -> None:
    write(catalog, meta("doc"), chunks(
        "doc",
        "The permit covers groundwater monitoring only.",
        "Groundwater monitoring wells and permit fees for monitoring groundwater discharge.",
        "Unrelated text about budget appropriations.",
    ))
    hits = catalog.search("groundwater monitoring permit fees", 10)
    assert ids(hits)[:2] == ["doc:00001", "doc:00000"], f"ranking differs: {hits}"
    assert hits[0][1] > hits[1][1] > 0, f"scores are not higher-is-better: {hits}"
    assert "doc:00002" not in ids(hits), "a chunk without any query term matched"
    assert len(catalog.search("groundwater monitoring permit fees", 1)) == 1, "k not applied"
    assert ids(catalog.search("monitored", 10)), "no stemming: 'monitored' should find 'monitoring'"


def test_search_treats_query_syntax_as_text_and_stopwords_as_nothing(catalog: Catalog) -> None:
    write(catalog, meta("doc"), chunks("doc", "Section 10-K filings disclose risk (material) at 5%."))
    for hostile in ['"unbalanced', "risk AND NOT (", "a & b | !c :* 'x'", "NEAR(risk filings)", "risk) OR (1=1"]:
        catalog.search(hostile, 5)  # must not raise
    assert ids(catalog.search("risk) OR (1=1", 5)) == ["doc:00000"], "terms inside syntax were not searched"
    assert catalog.search("the and of which", 5) == [], "a query of stopwords matched"


def test_filters_restrict_search_the_same_way_in_every_catalog(catalog: Catalog) -> None:
    write(catalog, meta("old", published="2019-06-30", doc_type=DocType.ARTICLE),
          chunks("old", "Tariff schedule for imported graphite.", tags=("graphite",)))
    write(catalog, meta("new", published="2024-02-01", doc_type=DocType.POLICY),
          chunks("new", "Tariff schedule for imported nickel.", tags=("nickel",)))
    write(catalog, meta("undated", published=None), chunks("undated", "Tariff schedule, no date."))
    q = "tariff schedule"
    assert set(ids(catalog.search(q, 10))) == {"old:00000", "new:00000", "undated:00000"}
    assert ids(catalog.search(q, 10, Filters(doc_types=(DocType.ARTICLE,)))) == ["old:00000"], "doc type filter"
    assert ids(catalog.search(q, 10, Filters(doc_ids=("new",)))) == ["new:00000"], "doc id filter"
    assert ids(catalog.search(q, 10, Filters(date_from="2023-01-01"))) == ["new:00000"], "date_from filter"
    assert ids(catalog.search(q, 10, Filters(date_to="2020-01-01"))) == ["old:00000"], "date_to keeps undated out"
    assert ids(catalog.search(q, 10, Filters(tags=("nickel", "cobalt")))) == ["new:00000"], "tag filter"


def test_term_counts_say_whether_a_term_occurs_anywhere(catalog: Catalog) -> None:
    write(catalog, meta("doc"), chunks("doc", "Vanadium batteries.", "Vanadium mines.", "Zinc smelters."))
    assert catalog.term_counts(["vanadium", "uranium"]) == {"vanadium": 1, "uranium": 0}, "presence differs"
    assert catalog.term_counts(["vanadium"], limit=10) == {"vanadium": 2}, "count up to the limit differs"
    assert catalog.term_counts(["the"]) == {}, "a stopword was counted"


def test_rewriting_a_document_replaces_its_chunks_and_metadata(catalog: Catalog) -> None:
    write(catalog, meta("doc", title="First"), chunks("doc", "Old wording on quotas.", "More old wording."))
    write(catalog, meta("doc", title="Second"), chunks("doc", "New wording on export licences."))
    record = catalog.document("doc")
    assert record is not None and record.meta.title == "Second" and record.chunk_count == 1, f"{record}"
    assert catalog.chunk_ids("doc") == {"doc:00000"}, "old chunks left behind"
    assert catalog.search("quotas", 5) == [], "the old text is still searchable"
    assert ids(catalog.search("export licences", 5)) == ["doc:00000"], "the new text is not searchable"


def test_removing_and_clearing_leave_nothing_and_advance_the_generation(catalog: Catalog) -> None:
    write(catalog, meta("a"), chunks("a", "Alpha text on tungsten."))
    write(catalog, meta("b"), chunks("b", "Beta text on tungsten."))
    before = catalog.generation()
    catalog.delete_chunks("a")
    catalog.delete_document("a")
    assert catalog.document("a") is None and catalog.chunk_ids("a") == set(), "removed document left behind"
    assert ids(catalog.search("tungsten", 5)) == ["b:00000"], "removed chunk still searchable"
    assert catalog.generation() == before + 1, "removal did not advance the generation"
    catalog.clear()
    assert catalog.documents() == [] and catalog.counts() == (0, 0), "clear left rows"
    assert catalog.generation() == before + 2, "clear reset or skipped the generation"
    assert catalog.last_ingest() is None, "clear kept the last-ingest time"


def test_documents_are_listed_newest_first_undated_last_then_by_title(catalog: Catalog) -> None:
    for doc_id, title, published in [("a", "Bravo", "2021-01-01"), ("b", "Alpha", "2021-01-01"),
                                     ("c", "Charlie", None), ("d", "Delta", "2023-07-04")]:
        write(catalog, meta(doc_id, title=title, published=published), chunks(doc_id, f"{title} text."))
    assert [r.meta.title for r in catalog.documents()] == ["Delta", "Alpha", "Bravo", "Charlie"], "order differs"


def test_collections_in_one_store_never_see_each_other(catalog: Catalog, catalog_settings: Settings) -> None:
    other = open_catalog(catalog_settings.with_overrides(collection=catalog_settings.collection + "-other"))
    try:
        write(other, meta("theirs"), chunks("theirs", "Manganese nodules on the seabed."))
        assert catalog.documents() == [] and catalog.search("manganese", 5) == [], "another collection leaked in"
        assert catalog.generation() == 0, "another collection's writes moved this generation"
        assert catalog.term_counts(["manganese"]) == {"manganese": 0}, "another collection's terms counted"
    finally:
        other.clear()
        other.close()


def test_a_second_opener_sees_writes_and_tells_them_apart_from_its_own(
    catalog: Catalog, open_another: OpenCatalog
) -> None:
    reader = open_another()
    start = reader.seen_generation
    write(catalog, meta("doc"), chunks("doc", "Rare earth magnets."))
    assert catalog.seen_generation == catalog.generation(), "the writer's own write looks like someone else's"
    assert reader.generation() == start + 1 and reader.seen_generation == start, "the reader missed the change"
    assert ids(reader.search("magnets", 5)) == ["doc:00000"], "the reader does not see the completed document"
