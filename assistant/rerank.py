"""Optional cross-encoder reranking, used only when ``POLICYQA_RERANKER_MODEL`` names a local model."""

from __future__ import annotations

import os
from collections.abc import Sequence

from policyqa.errors import ConfigError


class CrossEncoderReranker:
    """A sentence-transformers ``CrossEncoder`` loaded offline from a path or cached name."""

    def __init__(self, model: str) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        from sentence_transformers import CrossEncoder

        try:
            self._model = CrossEncoder(model, device="cpu")
        except Exception as exc:
            raise ConfigError(f"reranker model {model!r} could not be loaded offline: {exc}") from exc

    def score(self, query: str, texts: Sequence[str]) -> list[float]:
        if not texts:
            return []
        scores = self._model.predict([(query, t) for t in texts], show_progress_bar=False)
        return [float(s) for s in scores]
