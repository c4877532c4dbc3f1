"""Run the `policyqa` CLI in a child process with the fake embedder: `python -m tests.integration.cli_driver ARGS`.

For tests that need a real process (a hang to time out, a lock to outlive, another user) without loading the model.
"""

from __future__ import annotations

import sys

import policyqa.embedding
from tests.fakes import FakeEmbedder

if __name__ == "__main__":
    policyqa.embedding.load_embedder = lambda settings: FakeEmbedder()  # type: ignore[assignment]
    from policyqa_cli import main

    main(sys.argv[1:], prog_name="policyqa")
