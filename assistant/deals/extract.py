"""The deal table of a store or of chunks: read (rules, or a language model with the rules as fallback), then merged."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from assistant.deals.merge import merge_facts
from assistant.deals.model import Deal, Reading
from assistant.deals.rules import RuleReader
from policyqa.errors import PolicyQAError
from policyqa.types import Progress, StoredChunk

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel

    from policyqa.settings import Settings
    from policyqa.store import CorpusStore


@dataclass(frozen=True, slots=True)
class DealRun:
    """The deals of one extraction: which reader made them, and what the user should know about it."""

    deals: list[Deal]
    backend: str = "offline"
    notices: tuple[str, ...] = ()
    passages: int = 0  # candidate passages (LLM path)
    answered: int = 0  # passages whose facts come from the model
    failed: int = 0  # passages the rule reader stood in for
    dropped_deals: int = 0  # model deals whose quote, company or instrument did not check out
    dropped_cells: int = 0  # model cells not stated in their quote

    @classmethod
    def of(cls, reading: Reading) -> DealRun:
        """The merged table of a reading, with its counts and notices."""
        return cls(
            merge_facts(reading.all_facts(), reading.profile), backend=reading.backend, notices=reading.notices,
            passages=reading.passages, answered=reading.answered, failed=reading.failed,
            dropped_deals=reading.dropped_deals, dropped_cells=reading.dropped_cells,
        )


def extract_deals(store: CorpusStore) -> list[Deal]:
    """Every deal the ingested documents state, merged across documents, each cell with its sources.

    Only documents whose ingest completed are read, and nothing is cached: a document ingested a moment ago counts.

    Returns:
        Deals sorted by company, then date, then instrument.
    """
    return deals_from_chunks(complete_chunks(store))


def complete_chunks(store: CorpusStore) -> list[StoredChunk]:
    """The chunks of every document whose ingest completed, in document order."""
    chunks: list[StoredChunk] = []
    for record in store.documents():
        if record.state == "complete":
            ids = sorted(store.catalog.chunk_ids(record.meta.doc_id))
            found = store.get_chunks(ids)
            chunks.extend(found[i] for i in ids if i in found)
    return chunks


def deals_from_chunks(chunks: Iterable[StoredChunk]) -> list[Deal]:
    """The deals the rule reader finds in these chunks (the corpus's company names are learned from them)."""
    reading = RuleReader().read(chunks)
    return merge_facts(reading.all_facts(), reading.profile)


def run_deals(
    store: CorpusStore, settings: Settings, *, use_llm: bool = False, model: BaseChatModel | None = None,
    on_progress: Callable[[Progress], None] | None = None,
) -> DealRun:
    """The deal table by the rule reader (default), or by the configured LLM with the rule reader as fallback.

    Never raises for the model's sake: a model that cannot be built, times out or answers nonsense leaves the
    offline rows in place with a notice.
    """
    if not use_llm:
        return DealRun(extract_deals(store))
    from assistant.deals.llm import LLMDealReader

    name = settings.llm or "llm"
    chunks = complete_chunks(store)
    if model is None:
        try:
            from assistant.llm import make_chat_model

            model = make_chat_model(settings)
        except PolicyQAError as exc:
            notice = f"The language model ({name}) is not available ({exc}); the offline rows are shown."
            return DealRun(deals_from_chunks(chunks), notices=(notice,))
    reader = LLMDealReader(model, timeout_s=settings.llm_timeout_s, name=name)
    return DealRun.of(reader.read(chunks, on_progress=on_progress))


def corpus_key(store: CorpusStore) -> tuple[tuple[str, str, int], ...]:
    """What the deal table depends on: the id, content hash and chunk count of every complete document."""
    records = store.documents()
    return tuple(sorted((r.meta.doc_id, r.meta.content_hash, r.chunk_count) for r in records if r.state == "complete"))
