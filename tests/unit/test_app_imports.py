"""streamlit_app.py and its pages in app/ are a thin shell: they import the libraries' public modules, never the
heavy stack under them."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT

APP = ROOT / "streamlit_app.py"
SHELL_FILES = [APP, *sorted(p for p in (ROOT / "app").glob("*.py") if p.name != "__init__.py")]
FORBIDDEN = ("chromadb", "sentence_transformers", "langchain", "torch", "sqlite3", "pypdf")
# What the app's own imports may not pull in at import time: the page must render before any model loads.
HEAVY_AT_IMPORT = ("torch", "sentence_transformers", "transformers", "chromadb", "pypdf")


def imported_modules(source: str) -> list[str]:
    """Every module named by an import statement anywhere in ``source``, or by importlib/__import__ with a literal."""
    names: list[str] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            names.append("." * node.level + (node.module or ""))
        elif isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant):
            func = node.func
            called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if called in ("import_module", "__import__") and isinstance(node.args[0].value, str):
                names.append(node.args[0].value)
    return names


def is_forbidden(module: str) -> bool:
    top = module.split(".")[0]
    return any(top == name or (name == "langchain" and top.startswith("langchain")) for name in FORBIDDEN)


def test_the_checker_sees_every_kind_of_import() -> None:
    source = (
        "import torch\nfrom langchain_core.embeddings import Embeddings\nimport os, sqlite3 as db\n"
        "def f():\n    import chromadb\n    importlib.import_module('pypdf')\n    __import__('sentence_transformers')\n"
    )

    flagged = sorted(m for m in imported_modules(source) if is_forbidden(m))

    assert flagged == ["chromadb", "langchain_core.embeddings", "pypdf", "sentence_transformers", "sqlite3", "torch"]


def test_the_app_has_one_module_per_page() -> None:
    assert {p.stem for p in SHELL_FILES} >= {"streamlit_app", "chat", "documents", "deals", "evaluation"}


@pytest.mark.parametrize("path", SHELL_FILES, ids=lambda p: p.name)
def test_streamlit_app_imports_no_storage_model_or_parsing_library(path: Path) -> None:
    modules = imported_modules(path.read_text(encoding="utf-8"))

    assert modules, "no imports found: is the path right?"
    flagged = [m for m in modules if is_forbidden(m)]
    assert flagged == [], f"{path.name} must stay a thin shell; move this into the library: {flagged}"


@pytest.mark.parametrize("path", SHELL_FILES, ids=lambda p: p.name)
def test_streamlit_app_imports_only_streamlit_the_stdlib_and_the_three_packages(path: Path) -> None:
    allowed = {"streamlit", "policyqa", "ingest", "assistant", "app", "__future__"} | set(sys.stdlib_module_names)
    modules = imported_modules(path.read_text(encoding="utf-8"))

    outside = sorted({m for m in modules if m.split(".")[0] not in allowed})

    assert outside == [], f"{path.name} imports something besides streamlit and the project packages: {outside}"


def test_importing_what_the_app_imports_loads_no_model_or_store_library() -> None:
    modules = [m for path in SHELL_FILES for m in imported_modules(path.read_text(encoding="utf-8"))]
    ours = sorted({m for m in modules if m.split(".")[0] in ("policyqa", "ingest", "assistant", "app")})
    code = (
        "import sys\n"
        + "".join(f"import {m}\n" for m in ours)
        + f"print(' '.join(sorted(m for m in sys.modules if m.split('.')[0] in {HEAVY_AT_IMPORT!r})))"
    )

    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)

    assert result.returncode == 0, f"importing {ours} failed: {result.stderr}"
    loaded = sorted({m.split(".")[0] for m in result.stdout.split()})
    assert loaded == [], f"importing the app's modules loads {loaded}; import it lazily inside its factory"
