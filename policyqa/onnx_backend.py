"""ONNX Runtime inference for mean-pooled sentence-transformers models, exported once and cached on disk.

Measured on 2 CPU cores with 320 filing chunks: torch 22 chunks per CPU-second (790 MB peak RSS); ONNX float32
28 (identical vectors, 420 MB); ONNX with per-channel int8 weights 45 (410 MB; cosine to the float vectors 0.99 on
average, and since activations are quantized with one scale per batch, a text's int8 vector also moves slightly
with the texts batched with it). sentence-transformers' own ONNX backend needs ``optimum``,
whose current release pins transformers 4.x; this module needs only onnxruntime (already required by chromadb),
torch for the one-time export, and the ``onnx`` package for int8 quantization. Once a model is exported, loading
it imports neither torch nor transformers.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import subprocess
import sys
import tempfile
import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from policyqa.errors import ConfigError

if TYPE_CHECKING:
    import onnxruntime

log = logging.getLogger(__name__)

_OPSET = 17
_EXPORT_TIMEOUT_S = 600
BATCH_TOKENS = 2048  # padded tokens per inference call: 8 texts of 256 word pieces, ~400 MB peak RSS in all


def token_batches(lengths: Sequence[int], batch_size: int, budget: int = BATCH_TOKENS) -> Iterator[list[int]]:
    """Indexes of texts in batches, longest first, each holding at most ``budget`` padded tokens (and ``batch_size``
    texts). Peak memory follows the largest batch (attention grows with rows x length^2), and small, evenly padded
    batches run faster on CPU; both backends batch this way."""
    order = sorted(range(len(lengths)), key=lambda i: lengths[i], reverse=True)
    start = 0
    while start < len(order):
        rows = max(1, min(batch_size, budget // max(1, lengths[order[start]])))
        yield order[start : start + rows]
        start += rows


class OnnxEncoder:
    """Tokenize, run the exported transformer, mean-pool over the attention mask, normalize."""

    def __init__(self, model_dir: Path, onnx_path: Path, *, batch_size: int = 64) -> None:
        import onnxruntime as ort
        from tokenizers import Tokenizer

        max_seq = _max_seq_length(model_dir)
        self._counter = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
        self._counter.no_truncation()
        self._counter.no_padding()
        self._tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
        self._tokenizer.enable_truncation(max_length=max_seq)
        self._tokenizer.no_padding()
        pad_id = self._tokenizer.token_to_id("[PAD]")
        self._pad_id = pad_id if pad_id is not None else 0
        options = ort.SessionOptions()
        options.log_severity_level = 3
        self._session: onnxruntime.InferenceSession = ort.InferenceSession(
            str(onnx_path), options, providers=["CPUExecutionProvider"]
        )
        self._inputs = [i.name for i in self._session.get_inputs()]
        self.batch_size = batch_size
        self.max_tokens = max_seq
        self.dimension = int(self._session.get_outputs()[0].shape[-1])
        self.path = onnx_path

    def count_tokens(self, texts: list[str]) -> list[int]:
        return [len(e.ids) for e in self._counter.encode_batch(texts)] if texts else []

    def encode(self, texts: list[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        encodings = self._tokenizer.encode_batch(texts) if texts else []
        # Longest first, batched by padded size: the session's memory arena keeps its largest allocation (the
        # attention scores grow with rows x length^2), so a fixed token budget bounds peak RSS; throughput is
        # flat from 8 to 32 texts of 256 tokens per batch.
        for batch in token_batches([len(e.ids) for e in encodings], self.batch_size):
            longest = len(encodings[batch[0]].ids)
            ids = np.full((len(batch), longest), self._pad_id, dtype=np.int64)
            mask = np.zeros((len(batch), longest), dtype=np.int64)
            types = np.zeros((len(batch), longest), dtype=np.int64)
            for row, index in enumerate(batch):
                encoding = encodings[index]
                n = len(encoding.ids)
                ids[row, :n], mask[row, :n], types[row, :n] = encoding.ids, encoding.attention_mask, encoding.type_ids
            feed = {"input_ids": ids, "attention_mask": mask, "token_type_ids": types}
            hidden = self._session.run(None, {name: feed[name] for name in self._inputs})[0]
            weights = mask[..., None].astype(np.float32)
            pooled = (hidden * weights).sum(axis=1) / np.clip(weights.sum(axis=1), 1e-9, None)
            out[batch] = pooled / np.clip(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12, None)
        return out


def load_onnx_encoder(model_dir: Path, cache_dir: Path, *, quantized: bool, batch_size: int = 64) -> OnnxEncoder:
    """The model as ONNX, exported (and quantized) into ``cache_dir`` on first use.

    Raises:
        ConfigError: the model is not one this backend can run (it must mean-pool and normalize), or a
            package the export needs is missing.
    """
    _check_supported(model_dir)
    folder = cache_dir / _cache_key(model_dir)
    fp32 = folder / "model.onnx"
    if not fp32.exists():
        _export_in_child(model_dir, fp32)
    path = fp32
    if quantized:
        path = folder / "model-int8.onnx"
        if not path.exists():
            _quantize(fp32, path)
    return OnnxEncoder(model_dir, path, batch_size=batch_size)


def _check_supported(model_dir: Path) -> None:
    try:
        modules = json.loads((model_dir / "modules.json").read_text())
        pooling = json.loads((model_dir / "1_Pooling" / "config.json").read_text())
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{model_dir}: not a sentence-transformers folder the ONNX backend can read ({exc})") from exc
    kinds = [m.get("type", "").rsplit(".", 1)[-1] for m in modules]
    others = ("pooling_mode_cls_token", "pooling_mode_max_tokens", "pooling_mode_mean_sqrt_len_tokens")
    mean_only = pooling.get("pooling_mode_mean_tokens") and not any(pooling.get(k) for k in others)
    if kinds != ["Transformer", "Pooling", "Normalize"] or not mean_only:
        raise ConfigError(f"{model_dir}: the ONNX backend runs mean-pooled, normalized models only (modules {kinds})")
    if not (model_dir / "tokenizer.json").exists():
        raise ConfigError(f"{model_dir}: the ONNX backend needs the model's tokenizer.json")


def _max_seq_length(model_dir: Path) -> int:
    try:
        return int(json.loads((model_dir / "sentence_bert_config.json").read_text())["max_seq_length"])
    except (OSError, ValueError, KeyError):
        return 512


def _cache_key(model_dir: Path) -> str:
    """The model folder's name plus a hash of its weights' names, sizes and times: a changed model re-exports."""
    digest = hashlib.sha1(str(model_dir.resolve()).encode(), usedforsecurity=False)
    for weights in sorted(model_dir.glob("*.safetensors")) + sorted(model_dir.glob("*.bin")):
        stat = weights.stat()
        digest.update(f"{weights.name}:{stat.st_size}:{stat.st_mtime_ns}".encode())
    return f"{model_dir.name}-{digest.hexdigest()[:12]}"


def _export_in_child(model_dir: Path, target: Path) -> None:
    """Run ``_export`` in a process of its own: torch and transformers (about 400 MB) never enter this one.

    Raises:
        ConfigError: the export failed; the message carries the child's last line of error output.
    """
    command = [sys.executable, "-m", "policyqa.onnx_backend", str(model_dir), str(target)]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=_EXPORT_TIMEOUT_S, check=False)
    except subprocess.TimeoutExpired as exc:
        raise ConfigError(f"exporting {model_dir.name} to ONNX took over {_EXPORT_TIMEOUT_S} s") from exc
    if done.returncode != 0 or not target.exists():
        lines = [line for line in done.stderr.strip().splitlines() if line.strip()]
        raise ConfigError(f"exporting {model_dir.name} to ONNX failed: {lines[-1] if lines else done.returncode}")


def _export(model_dir: Path, target: Path) -> None:
    """Export the transformer (token embeddings out) with dynamic batch and sequence axes; atomically."""
    try:
        import torch
        from transformers import AutoModel, AutoTokenizer
        from transformers.utils import logging as hf_logging
    except ImportError as exc:
        raise ConfigError(f"exporting the model to ONNX needs torch and transformers ({exc})") from exc

    class _TokenEmbeddings(torch.nn.Module):
        def __init__(self, model: Any) -> None:
            super().__init__()
            self.model = model

        def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
            return self.model(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            ).last_hidden_state

    log.info("exporting %s to ONNX at %s (once)", model_dir, target)
    hf_logging.disable_progress_bar()
    model = AutoModel.from_pretrained(str(model_dir)).eval()
    tokenizer = AutoTokenizer.from_pretrained(str(model_dir))
    sample = tokenizer(["an example sentence", "another"], padding=True, return_tensors="pt")
    names = ["input_ids", "attention_mask", "token_type_ids"]
    axes = {name: {0: "batch", 1: "sequence"} for name in [*names, "token_embeddings"]}
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=target.parent, suffix=".onnx.tmp", delete=False) as tmp:
        partial = Path(tmp.name)
    try:
        # The tracer warns about shapes it treats as constants; the dynamic axes cover them, and the export is
        # checked against torch's vectors by a test. Users running their first ingest need not read them.
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(
                _TokenEmbeddings(model),
                tuple(sample[name] for name in names),
                str(partial),
                input_names=names,
                output_names=["token_embeddings"],
                dynamic_axes=axes,
                opset_version=_OPSET,
                dynamo=False,  # the TorchScript exporter needs no onnxscript and handles BERT's dynamic axes
            )
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)


def _quantize(source: Path, target: Path) -> None:
    """Per-channel int8 weights for the MatMuls, activations quantized on the fly (dynamic quantization).

    Per-tensor quantization costs too much accuracy on MiniLM (cosine to float as low as 0.90); per-channel
    keeps it at 0.99 on average.
    """
    try:
        import onnx
        from onnxruntime.quantization import QuantType, quantize_dynamic
    except ImportError as exc:
        raise ConfigError(f"int8 quantization needs the 'onnx' package (pip install onnx): {exc}") from exc
    log.info("quantizing %s to int8 at %s (once)", source, target)
    with tempfile.NamedTemporaryFile(dir=target.parent, suffix=".onnx.tmp", delete=False) as tmp:
        partial = Path(tmp.name)
    try:
        quantize_dynamic(
            str(source),
            str(partial),
            weight_type=QuantType.QInt8,
            per_channel=True,
            op_types_to_quantize=["MatMul"],
            extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT},
        )
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)


if __name__ == "__main__":  # python -m policyqa.onnx_backend MODEL_DIR TARGET: the export, in its own process
    _export(Path(sys.argv[1]), Path(sys.argv[2]))
