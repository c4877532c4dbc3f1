"""`policyqa ask`, `chat` and `eval` through click's CliRunner, over a small corpus and the fake embedder."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner, Result

from policyqa_cli import main
from policyqa.settings import Settings
from tests.fakes import FakeEmbedder
from tests.integration.policy_corpus import FILES, LOAN_ID, STAKE_ID, write_policy_corpus


@pytest.fixture
def fake_model(monkeypatch: pytest.MonkeyPatch) -> None:
    """The Assistant and the pipeline import ``load_embedder`` lazily, so patching the module attribute is enough."""

    def load(settings: Settings) -> FakeEmbedder:
        return FakeEmbedder(max_tokens=256)

    monkeypatch.setattr("policyqa.embedding.load_embedder", load)


@pytest.fixture
def ingested(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fake_model: None) -> Path:
    monkeypatch.setenv("POLICYQA_STORE_DIR", str(tmp_path / "cli-store"))
    corpus = write_policy_corpus(tmp_path / "docs")
    result = run("ingest", "--quiet", str(corpus))
    assert result.exit_code == 0 and "4 added" in result.stdout, f"ingest failed: {result.output}"
    return corpus


def run(*args: str, input: str | None = None) -> Result:
    return CliRunner().invoke(main, list(args), input=input)


def test_ask_prints_the_answer_then_numbered_sources(ingested: Path) -> None:
    result = run("ask", "How many workers will Northwind Minerals hire to run the refinery?")

    assert result.exit_code == 0, f"exit {result.exit_code}: {result.output}"
    lines = result.stdout.splitlines()
    assert "300 workers" in lines[0] and "[1]" in lines[0], f"the answer comes first: {lines[:2]}"
    assert "Sources:" in lines, f"a Sources list should follow: {result.stdout}"
    sources = lines[lines.index("Sources:") + 1 :]
    assert sources[0].strip().startswith("[1] Northwind Minerals wins federal loan"), f"source lines: {sources}"
    assert FILES[LOAN_ID] in sources[0], f"the source names the file: {sources[0]!r}"


def test_ask_json_parses_and_carries_the_citations(ingested: Path) -> None:
    result = run("ask", "--json", "What percent stake will the Department of Defense get in Bluestone Copper?")

    assert result.exit_code == 0, f"exit {result.exit_code}: {result.output}"
    data = json.loads(result.stdout)
    assert data["answerable"] is True and "12 percent" in data["answer"], data
    assert data["citations"], f"citations expected: {data}"
    first = data["citations"][0]
    assert first["doc_id"] == STAKE_ID and first["doc_type"] == "filing" and first["page"] == 1, first
    assert "12 percent" in " ".join(first["quote"].split()), f"the quote is the cited sentence: {first['quote']!r}"


def test_ask_with_a_type_filter_cites_only_that_type(ingested: Path) -> None:
    question = "How much federal money will the company receive from the Department?"

    result = run("ask", "--json", "--type", "filing", question)


    data = json.loads(result.stdout)
    assert data["citations"] and {c["doc_type"] for c in data["citations"]} == {"filing"}, data["citations"]


def test_ask_an_unanswerable_question_lists_related_passages_and_exits_0(ingested: Path) -> None:
    result = run("ask", "What is the capital of France?")

    assert result.exit_code == 0, f"a refusal is not an error: {result.output}"
    assert "do not answer" in result.stdout and "Related passages:" in result.stdout, result.stdout
    assert "Sources:" not in result.stdout, result.stdout


def test_chat_answers_a_question_and_its_follow_up_showing_the_rewritten_query(ingested: Path) -> None:
    result = run(
        "chat", input="How much federal money did Northwind Minerals receive?\nWhen was that announced?\n\n"
    )

    assert result.exit_code == 0, f"exit {result.exit_code}: {result.output}"
    out = result.stdout
    assert out.count("Sources:") == 2, f"two answers with sources: {out}"
    assert "$250 million" in out and "June 16, 2025" in out, f"both facts answered: {out}"
    searched = re.findall(r"^\(searched for: (.*)\)$", out, re.M)
    assert len(searched) == 1, f"only the rewritten follow-up shows its query: {searched}"
    assert searched[0].startswith("When was that announced?") and "Northwind Minerals" in searched[0], searched


def test_chat_ends_at_end_of_input_without_an_empty_line(ingested: Path) -> None:
    result = run("chat", input="How much federal money did Northwind Minerals receive?\n")

    assert result.exit_code == 0, f"EOF ends the chat cleanly: {result.output}"
    assert "$250 million" in result.stdout, result.stdout


def write_question_set(path: Path) -> Path:
    questions = {
        "version": 1,
        "questions": [
            {"id": "loan", "kind": "fact", "question": "How much federal money did Northwind Minerals receive?",
             "expected_docs": [FILES[LOAN_ID]], "facts": ["$250 million"]},
            {"id": "loan-date", "kind": "follow-up", "follows": "loan", "question": "When was that announced?",
             "expected_docs": [FILES[LOAN_ID]], "facts": ["June 16, 2025"]},
            {"id": "stake", "kind": "fact",
             "question": "What percent stake will the Department of Defense get in Bluestone Copper?",
             "expected_docs": [FILES[STAKE_ID]], "facts": ["12 percent"]},
            {"id": "france", "kind": "unanswerable", "question": "What is the capital of France?"},
        ],
    }
    path.write_text(yaml.safe_dump(questions, sort_keys=False), encoding="utf-8")
    return path


def test_eval_prints_the_metrics_table_and_writes_the_json_report(ingested: Path, tmp_path: Path) -> None:
    question_set = write_question_set(tmp_path / "questions.yaml")
    report_path = tmp_path / "report.json"

    result = run("eval", str(question_set), "--json", str(report_path))

    assert result.exit_code == 0, f"exit {result.exit_code}: {result.output}"
    lines = result.stdout.splitlines()
    assert "hit@5" in lines[0] and "cite-prec" in lines[0], f"the table header comes first: {lines[:1]}"
    labels = [line.split("  ")[0].strip() for line in lines[1:] if line.strip() and not line.startswith("report")]
    assert {"all", "first questions", "follow-ups"} <= set(labels), f"rows: {labels}"
    assert f"report written to {report_path}" in result.stdout, result.stdout
    report = json.loads(report_path.read_text())
    assert report["overall"]["questions"] == 4, report["overall"]
    assert report["overall"]["hit_at_5"] == 1.0 and report["overall"]["refusal_accuracy"] == 1.0, report["overall"]
    assert [q["id"] for q in report["questions"]] == ["loan", "loan-date", "stake", "france"], report["questions"]


def test_eval_with_a_broken_question_set_prints_one_error_line(ingested: Path, tmp_path: Path) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text("version: 1\nquestions:\n  - id: Bad Id\n    kind: fact\n    question: x\n", encoding="utf-8")

    result = run("eval", str(broken))

    assert result.exit_code == 1, f"exit {result.exit_code}: {result.output}"
    assert result.stderr.startswith("error: ") and "Traceback" not in result.output, result.stderr
    assert "broken.yaml" in result.stderr, f"the error names the file: {result.stderr!r}"
