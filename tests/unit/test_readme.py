"""The README says what the code does: its configuration table is Settings, and it lists every CLI command."""

from __future__ import annotations

from policyqa_cli import main
from policyqa.settings import Settings
from policyqa.settings_doc import END, START, settings_table, with_table
from tests.conftest import ROOT

README = ROOT / "README.md"


def test_the_readme_configuration_table_is_generated_from_settings() -> None:
    text = README.read_text(encoding="utf-8")

    assert with_table(text) == text, "README table != Settings: run python -m policyqa.settings_doc README.md"


def test_the_table_has_one_row_per_setting_with_its_default() -> None:
    table = settings_table()

    rows = table.splitlines()[2:]
    assert len(rows) == len(Settings.model_fields), rows
    assert "| `POLICYQA_EMBEDDING_BACKEND` | `onnx` |" in table, "the default backend is onnx"
    assert "| `POLICYQA_LLM` | unset |" in table


def test_a_stale_table_is_detected() -> None:
    stale = f"intro\n{START}\n| old | table |\n{END}\nrest\n"

    assert with_table(stale) != stale
    assert with_table(with_table(stale)) == with_table(stale), "regenerating is stable"


def test_every_cli_command_is_in_the_readme() -> None:
    text = README.read_text(encoding="utf-8")

    missing = [name for name in main.commands if f"policyqa {name}" not in text]

    assert missing == [], f"commands missing from the README's command list: {missing}"
