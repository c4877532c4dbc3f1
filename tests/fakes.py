"""Deterministic stand-ins with real behaviour: an embedder that hashes words, fast and model-free."""

from __future__ import annotations

import hashlib
import re

import numpy as np

_TOKEN = re.compile(r"\w+|[^\w\s]")


class FakeEmbedder:
    """Bag-of-hashed-words vectors; ``count_tokens`` counts words and punctuation plus two specials."""

    name = "fake"

    def __init__(self, dimension: int = 64, max_tokens: int = 64) -> None:
        self.dimension = dimension
        self.max_tokens = max_tokens
        self.encoded: list[str] = []  # every text ever encoded, for "nothing was embedded" checks

    def count_tokens(self, texts: list[str]) -> list[int]:
        return [len(_TOKEN.findall(t)) + 2 for t in texts]

    def encode(self, texts: list[str]) -> np.ndarray:
        self.encoded.extend(texts)
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in _TOKEN.findall(text.lower()):
                digest = hashlib.blake2b(word.encode(), digest_size=4).digest()
                out[row, int.from_bytes(digest, "little") % self.dimension] += 1.0
            norm = np.linalg.norm(out[row])
            out[row] = out[row] / norm if norm else out[row]
            if not norm:
                out[row, 0] = 1.0
        return out

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self.encode(list(texts)).tolist()

    def embed_query(self, text: str) -> list[float]:
        return self.encode([text])[0].tolist()
