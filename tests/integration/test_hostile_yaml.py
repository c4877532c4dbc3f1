"""Hostile YAML in front matter and sidecars: each file fails in one line, fast, and never holds the writer lock."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.unit.test_bounded_yaml import alias_bomb, deep_nesting

GOOD = "# Quota\n\nThe authority set a lithium quota of 1,234 tonnes for 2025.\n"


def run_cli(store: Path, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1"}
    return subprocess.run(
        [sys.executable, "-m", "tests.integration.cli_driver", "--store-dir", str(store), *args],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout,
    )


def write_hostile(folder: Path, case: str) -> str:
    """Write one hostile file (plus a sidecar where the case needs one); returns the name the report must give."""
    if case == "front-matter-title-bomb":
        (folder / "bomb.md").write_text("---\n" + alias_bomb() + "---\n" + GOOD)
        return "bomb.md"
    if case == "front-matter-date-bomb":
        (folder / "bomb.md").write_text("---\n" + alias_bomb(key="published") + "---\n" + GOOD)
        return "bomb.md"
    if case == "sidecar-bomb":
        (folder / "notes.txt").write_text("Notes on the quota.\n")
        (folder / "notes.txt.meta.yaml").write_text(alias_bomb())
        return "notes.txt.meta.yaml"
    if case == "front-matter-30k-deep":
        (folder / "deep.md").write_text("---\n" + deep_nesting(30_000) + "---\n" + GOOD)
        return "deep.md"
    raise AssertionError(case)


CASES = ["front-matter-title-bomb", "front-matter-date-bomb", "sidecar-bomb", "front-matter-30k-deep"]


@pytest.mark.parametrize("case", CASES)
def test_hostile_yaml_fails_its_file_in_one_line_and_the_next_ingest_is_not_locked_out(
    tmp_path: Path, case: str
) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "good.md").write_text(GOOD)
    name = write_hostile(docs, case)

    first = run_cli(tmp_path / "store", "ingest", "-q", str(docs))  # the old code ran for minutes here
    (docs / "later.md").write_text(GOOD.replace("1,234", "5,678"))
    second = run_cli(tmp_path / "store", "ingest", "-q", str(docs))

    assert first.returncode == 1, f"the hostile file must fail the ingest: {first.stdout}{first.stderr}"
    failed = [line for line in first.stderr.splitlines() if line.startswith("failed")]
    assert len(failed) == 1 and name in failed[0], f"one failed line naming {name}: {first.stderr}"
    assert "refused" in failed[0], failed[0]
    assert len(first.stderr.splitlines()) <= 3, f"no traceback flood: {first.stderr[:2000]}"
    assert "1 added" in first.stdout, f"the good file is stored: {first.stdout}"
    assert "another ingest" not in second.stderr, second.stderr
    assert "1 added" in second.stdout, f"the next ingest runs normally: {second.stdout}{second.stderr}"
