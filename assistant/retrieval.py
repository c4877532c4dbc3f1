"""Hybrid retrieval: dense search in Chroma and BM25 in SQLite, fused by reciprocal rank, then diversified.

A question that names a filer or a quarter ("Apple's Q3 2023 10-Q") adds rankings restricted to the filings it
names (:mod:`assistant.filing_hints`), so their passages rise while the others still count.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol

from assistant.filing_hints import FilingHints
from assistant.glossary import expand_query
from assistant.ranking import collapse_near_duplicates, diversify, fuse_rankings
from policyqa.types import Filters, Passage

if TYPE_CHECKING:
    from policyqa.embedding import TextEmbedder
    from policyqa.settings import Settings
    from policyqa.store import CorpusStore

log = logging.getLogger(__name__)

HINT_WEIGHT = 1.0  # weight in the fusion of each ranking restricted to the filings a question names
OTHER_FILER_FACTOR = 0.5  # score kept by passages from filings of companies a question does not name


class Reranker(Protocol):
    """Scores (query, passage) pairs; higher is more relevant."""

    def score(self, query: str, texts: Sequence[str]) -> list[float]: ...


class Retriever:
    def __init__(
        self,
        store: CorpusStore,
        embedder: TextEmbedder,
        settings: Settings,
        *,
        reranker: Reranker | None = None,
    ) -> None:
        self.store = store
        self.embedder = embedder
        self.settings = settings
        self.reranker = reranker
        self.last_query_vector: Sequence[float] | None = None
        self._hints: tuple[object, FilingHints] | None = None

    def search(
        self,
        query: str,
        filters: Filters | None = None,
        *,
        k: int | None = None,
        query_vector: Sequence[float] | None = None,
        prefer_docs: Sequence[str] = (),
        prefer: Filters | None = None,
        also: tuple[str, Sequence[float]] | None = None,
    ) -> list[Passage]:
        """The ``k`` best passages for ``query``: fused, near-duplicates collapsed, redundant ones passed over (and,
        with ``doc_penalty`` set, one document kept from filling every slot).

        ``prefer_docs`` (the documents a conversation has been citing) adds a third ranking, searched within
        those documents only, so a follow-up finds the passage in the document it is about. ``prefer`` (the
        question's time range) adds rankings restricted to it: passages in range rise, others still count.
        ``also`` (a follow-up as typed, with its vector) adds its own two rankings at ``follow_up_weight``: what the
        question says by itself still counts when the conversation's words pull elsewhere.
        """
        k = k or self.settings.retrieval_k
        n = self.settings.candidate_k
        vector = query_vector if query_vector is not None else self.embedder.encode([query])[0]
        self.last_query_vector = vector
        lexical_query = expand_query(query)
        dense = self.store.dense_search(vector, n, filters)
        lexical = self.store.lexical_search(lexical_query, n, filters)
        dense_ids = [cid for cid, _ in dense]
        lexical_ids = [cid for cid, _ in lexical]
        rankings = [dense_ids, lexical_ids]
        weights = [1.0, self.settings.lexical_weight]
        base = filters or Filters()

        def rank_within(narrowed: Filters, weight: float) -> None:
            """Both searches again inside ``narrowed``: a ranking that lifts the passages it holds."""
            rankings.append([cid for cid, _ in self.store.dense_search(vector, n, narrowed)])
            rankings.append([cid for cid, _ in self.store.lexical_search(lexical_query, n, narrowed)])
            weights.extend((weight, weight))

        if also is not None:
            rankings.append([cid for cid, _ in self.store.dense_search(also[1], n, filters)])
            rankings.append([cid for cid, _ in self.store.lexical_search(expand_query(also[0]), n, filters)])
            weights.extend((self.settings.follow_up_weight, self.settings.follow_up_weight))
        hint = None if filters and filters.doc_ids else self.filing_hints().match(query)
        if hint is not None:
            rank_within(dataclasses.replace(base, doc_ids=hint.doc_ids), HINT_WEIGHT)
        if prefer_docs:
            rank_within(dataclasses.replace(base, doc_ids=tuple(prefer_docs)), 1.0)
        if prefer is not None and not prefer.empty:
            narrowed = dataclasses.replace(
                base,
                date_from=max(filter(None, (prefer.date_from, base.date_from)), default=None),
                date_to=min(filter(None, (prefer.date_to, base.date_to)), default=None),
            )
            rank_within(narrowed, self.settings.time_weight)
        fused = fuse_rankings(rankings, k=self.settings.rrf_k, weights=weights)
        chunks = self.store.get_chunks(list(fused))
        dense_rank = {cid: i for i, cid in enumerate(dense_ids, start=1)}
        dense_score = dict(dense)
        lexical_rank = {cid: i for i, cid in enumerate(lexical_ids, start=1)}
        passages = [
            Passage(
                chunk=chunks[cid],
                score=score,
                dense_rank=dense_rank.get(cid),
                lexical_rank=lexical_rank.get(cid),
                dense_score=dense_score.get(cid),
            )
            for cid, score in fused.items()
            if cid in chunks  # a document being rewritten is invisible until it is complete
        ]
        if hint is not None and hint.exclude:
            passages = _demote(passages, frozenset(hint.exclude))
        if self.reranker is not None and passages:
            passages = self._rerank(query, passages[: max(k * 3, 10)])
        passages = collapse_near_duplicates(passages, lambda p: p.chunk.text)
        return diversify(
            passages,
            [p.score for p in passages],
            lambda p: p.chunk.text,
            lambda p: p.chunk.doc_id,
            k=k,
            lambda_=self.settings.mmr_lambda,
            group_penalty=self.settings.doc_penalty,
            free_per_group=2,
        )

    def filing_hints(self) -> FilingHints:
        """Hints built from the stored titles, rebuilt when the documents change (the store's generation, which
        every completed or removed document advances: one small read per query instead of counting chunks)."""
        key = self.store.catalog.generation()
        if self._hints is None or self._hints[0] != key:
            self._hints = (key, FilingHints(self.store.documents()))
        return self._hints[1]

    def _rerank(self, query: str, passages: list[Passage]) -> list[Passage]:
        assert self.reranker is not None
        scores = self.reranker.score(query, [p.chunk.text for p in passages])
        order = sorted(range(len(passages)), key=lambda i: scores[i], reverse=True)
        low = min(scores)
        return [
            Passage(
                chunk=passages[i].chunk,
                score=float(scores[i] - low + 1e-6),
                dense_rank=passages[i].dense_rank,
                lexical_rank=passages[i].lexical_rank,
                dense_score=passages[i].dense_score,
            )
            for i in order
        ]


def _demote(passages: list[Passage], doc_ids: frozenset[str]) -> list[Passage]:
    """Passages of ``doc_ids`` with their score scaled down, everything re-sorted by score."""
    scaled = [
        dataclasses.replace(p, score=p.score * OTHER_FILER_FACTOR) if p.chunk.doc_id in doc_ids else p
        for p in passages
    ]
    return sorted(scaled, key=lambda p: p.score, reverse=True)
