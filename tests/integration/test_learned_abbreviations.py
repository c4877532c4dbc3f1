"""An abbreviation a document defines ("Harbor Minerals Authority (HMA)") finds the passages that use only the full
name: the retriever looks the definition up in the corpus, not in any list."""

from __future__ import annotations

from pathlib import Path

from assistant.retrieval import Retriever
from ingest.pipeline import ingest_paths
from policyqa.settings import Settings
from policyqa.store import open_store
from tests.builders import write_markdown
from tests.fakes import FakeEmbedder


def test_a_defined_abbreviation_brings_in_passages_that_spell_the_name_out(tmp_path: Path) -> None:
    folder = tmp_path / "docs"
    folder.mkdir()
    write_markdown(folder / "charter.md", "# Charter\n\nThe Harbor Minerals Authority (HMA) was created by statute.\n",
                   front_matter={"doc_id": "charter"})
    write_markdown(folder / "grant.md", "# Grant\n\nThe Harbor Minerals Authority approved a $12 million dock grant.\n",
                   front_matter={"doc_id": "grant"})
    write_markdown(folder / "other.md", "# Other\n\nA separate agency approved a road loan in Ohio.\n",
                   front_matter={"doc_id": "other"})
    settings = Settings(store_dir=tmp_path / "store", collection="abbreviations")
    store = open_store(settings)
    embedder = FakeEmbedder(max_tokens=256)
    ingest_paths([folder], settings, store=store, embedder=embedder)
    retriever = Retriever(store, embedder, settings)

    query = "How much did the HMA give?"
    expanded = retriever.expand(query)
    lexical = [cid.split(":")[0] for cid, _ in store.lexical_search(expanded, 3)]
    plain = [cid.split(":")[0] for cid, _ in store.lexical_search(query, 3)]

    assert "Harbor Minerals Authority" in expanded, expanded
    assert "grant" in lexical and "grant" not in plain, (lexical, plain)
    assert retriever.expand("How much did the XYZ give?") == "How much did the XYZ give?", "undefined: unchanged"
    store.close()
