"""The one-time ONNX export: in a child process, so torch never loads where the product runs; failures explained."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from policyqa.embedding import resolve_model_path
from policyqa.errors import ConfigError
from policyqa.onnx_backend import load_onnx_encoder
from policyqa.settings import DEFAULT_MODEL

pytestmark = pytest.mark.model

PROBE = """
import sys
from pathlib import Path
from policyqa.embedding import SentenceEmbedder
embedder = SentenceEmbedder(backend="onnx", cache_dir=Path(sys.argv[1]))
embedder.encode(["a sentence"])
print(embedder.backend, "torch" in sys.modules, "transformers" in sys.modules)
"""


def test_a_first_use_exports_in_a_child_and_torch_never_loads_in_the_process(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-c", PROBE, str(tmp_path / "models")], capture_output=True, text=True, timeout=600
    )

    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ["onnx", "False", "False"], f"backend, torch loaded, transformers loaded: {done.stdout}"
    assert list((tmp_path / "models").glob("*/model.onnx")), "the export was not cached"


def test_a_failed_export_raises_a_config_error_with_the_childs_reason(tmp_path: Path) -> None:
    model = tmp_path / "broken-model"
    shutil.copytree(resolve_model_path(DEFAULT_MODEL), model)
    for weights in model.glob("*.safetensors"):
        weights.write_bytes(b"not safetensors")

    with pytest.raises(ConfigError, match="exporting broken-model to ONNX failed: .+"):
        load_onnx_encoder(model, tmp_path / "models", quantized=False)
    assert not list((tmp_path / "models").glob("*/model.onnx")), "a failed export left a model file behind"
