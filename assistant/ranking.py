"""Pure ranking functions, no I/O: reciprocal-rank fusion, near-duplicate collapse and MMR diversification."""

from __future__ import annotations

import re
from collections.abc import Callable, Hashable, Sequence
from typing import TypeVar

T = TypeVar("T")
K = TypeVar("K", bound=Hashable)

_WORD = re.compile(r"\w+")


def fuse_rankings(rankings: Sequence[Sequence[K]], *, k: int = 60, weights: Sequence[float] | None = None) -> dict[K, float]:
    """Reciprocal-rank fusion: each list contributes ``weight / (k + rank)`` (rank from 1) to its items."""
    weights = weights or [1.0] * len(rankings)
    scores: dict[K, float] = {}
    for ranking, weight in zip(rankings, weights, strict=True):
        for rank, item in enumerate(ranking, start=1):
            scores[item] = scores.get(item, 0.0) + weight / (k + rank)
    return dict(sorted(scores.items(), key=lambda kv: kv[1], reverse=True))


def word_set(text: str) -> frozenset[str]:
    return frozenset(w.lower() for w in _WORD.findall(text))


def jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    if not a or not b:
        return 0.0
    return len(a & b) / len(a | b)


def containment(a: frozenset[str], b: frozenset[str]) -> float:
    """Share of ``a``'s words found in ``b``: near 1 when ``a`` adds nothing to ``b``."""
    if not a or not b:
        return 0.0
    return len(a & b) / len(a)


def collapse_near_duplicates(items: Sequence[T], text: Callable[[T], str], *, threshold: float = 0.85) -> list[T]:
    """Drop an item whose words are almost all in a better-ranked item already kept (it adds nothing)."""
    kept: list[T] = []
    kept_words: list[frozenset[str]] = []
    for item in items:
        words = word_set(text(item))
        if any(containment(words, other) >= threshold for other in kept_words):
            continue
        kept.append(item)
        kept_words.append(words)
    return kept


def diversify(
    items: Sequence[T],
    relevance: Sequence[float],
    text: Callable[[T], str],
    group: Callable[[T], str],
    *,
    k: int,
    lambda_: float = 0.7,
    group_penalty: float = 0.15,
    free_per_group: int = 0,
) -> list[T]:
    """Maximal marginal relevance over word overlap, plus a penalty per item already taken from a group.

    ``relevance`` is normalised to [0, 1] here; the group penalty keeps one document from filling every slot
    when others are relevant, without excluding it when it is the only good source. The first
    ``free_per_group`` items of a group pay no penalty.
    """
    if not items:
        return []
    top = max(relevance) or 1.0
    rel = [r / top for r in relevance]
    words = [word_set(text(i)) for i in items]
    chosen: list[int] = []
    taken: dict[str, int] = {}
    remaining = list(range(len(items)))
    while remaining and len(chosen) < k:
        def gain(i: int) -> float:
            redundancy = max((jaccard(words[i], words[j]) for j in chosen), default=0.0)
            return lambda_ * rel[i] - (1 - lambda_) * redundancy - group_penalty * max(0, taken.get(group(items[i]), 0) - free_per_group)

        best = max(remaining, key=gain)
        chosen.append(best)
        remaining.remove(best)
        taken[group(items[best])] = taken.get(group(items[best]), 0) + 1
    return [items[i] for i in chosen]
