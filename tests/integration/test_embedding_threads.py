"""The real model shared by many chat sessions (threads): no call may break another's."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from policyqa.embedding import SentenceEmbedder

pytestmark = pytest.mark.model

TEXTS = [
    "The Department of Energy restructured the loan to Lithium Americas. " * (i % 7 + 1) for i in range(12)
]


@pytest.mark.parametrize("backend", ["torch", "onnx"])
def test_eight_threads_counting_and_encoding_at_once_all_succeed_with_the_same_vectors(
    backend: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    # Unguarded, transformers' tokenizer failed about once in 480 such calls ("Unable to create tensor"), as one
    # of 400 questions from 8 Streamlit sessions did; a race shows up only sometimes, so this test can miss one.
    embedder = SentenceEmbedder(backend=backend, cache_dir=tmp_path_factory.getbasetemp() / "models")
    assert embedder.backend == backend, "the ONNX backend fell back to torch"
    reference = embedder.encode(TEXTS)
    expected_counts = embedder.count_tokens(TEXTS)
    errors: list[str] = []
    mismatches: list[int] = []

    def session(n: int) -> None:
        for i in range(60):
            try:
                if (i + n) % 2:
                    if embedder.count_tokens(TEXTS) != expected_counts:
                        mismatches.append(i)
                else:
                    rows = (i % 5) + 2
                    if not np.allclose(embedder.encode(TEXTS[:rows]), reference[:rows], atol=1e-4):
                        mismatches.append(i)
            except Exception as exc:  # the failure this test looks for
                errors.append(f"{type(exc).__name__}: {str(exc)[:120]}")

    threads = [threading.Thread(target=session, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert not errors, f"{len(errors)} of 480 calls failed: {sorted(set(errors))}"
    assert not mismatches, f"{len(mismatches)} calls returned other counts or vectors"
