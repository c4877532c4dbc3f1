"""The kernel (policyqa/) imports neither the ingest nor the assistant package: the shells (the CLI in
policyqa_cli/, the app in streamlit_app.py and app/) sit on top of all three."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def imported_packages(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return found


def test_the_kernel_imports_neither_ingest_nor_assistant() -> None:
    offenders = {
        str(p.relative_to(ROOT)): sorted(imported_packages(p) & {"ingest", "assistant", "policyqa_cli", "app"})
        for p in (ROOT / "policyqa").rglob("*.py")
    }
    offenders = {k: v for k, v in offenders.items() if v}
    assert not offenders, f"kernel modules importing a layer above them: {offenders}"


def test_the_check_sees_the_cli_imports() -> None:
    assert {"ingest", "assistant"} <= imported_packages(ROOT / "policyqa_cli" / "__init__.py")
