"""Company filings state loans, investments and stakes of the company's own (cash flows, buybacks, notes it holds);
none of them is a government–industry deal. A sample of ../shared/datasets/sec-10q must give no deal row."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from assistant.deals import NameBook, complete_chunks, deals_from_chunks
from policyqa.settings import Settings
from policyqa.types import StoredChunk
from tests.integration.deals_corpus import ROOT, ingest_with_fake_model

pytestmark = pytest.mark.eval

PDFS = ROOT.parent / "shared" / "datasets" / "sec-10q" / "pdfs"
SAMPLE = 3  # the first filings by sorted file name: one of each company in the set


@pytest.fixture(scope="module")
def chunks(tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[StoredChunk]]:
    paths = sorted(PDFS.glob("*.pdf"))[:SAMPLE] if PDFS.is_dir() else []
    if not paths:
        pytest.skip(f"sec-10q is not at {PDFS} (../shared/datasets/sec-10q from the repository)")
    settings = Settings(store_dir=tmp_path_factory.mktemp("sec") / "store", collection="deals-sec", chroma_url=None)
    store = ingest_with_fake_model(settings, *paths)
    try:
        yield complete_chunks(store)
    finally:
        store.close()


def test_company_filings_give_no_government_deal(chunks: list[StoredChunk]) -> None:
    deals = deals_from_chunks(chunks)

    assert len(chunks) > 100, "the filings were read"
    assert deals == [], [(d.company, d.instrument, d.value("amount"), d.source.quote[:80]) for d in deals]
    assert NameBook.learn(chunks).companies, "the filings name companies; none of them made a deal here"
