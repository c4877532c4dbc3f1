"""The evaluation question-set loader: schema checks, one-line errors and follow-up chains."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from assistant.evalset import KINDS, QuestionSet, chain_of, load_question_set
from policyqa.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]
REAL_SET = ROOT / "tests" / "eval" / "questions.yaml"


def _q(qid: str, kind: str = "fact", **extra: Any) -> dict[str, Any]:
    question: dict[str, Any] = {
        "id": qid,
        "kind": kind,
        "question": f"Question {qid}?",
        "expected_docs": ["doc.md"],
        "facts": ["fact"],
    }
    if kind == "unanswerable":
        question.update(expected_docs=[], facts=[])
    question.update(extra)
    return question


def _write(tmp_path: Path, questions: list[dict[str, Any]], version: int = 1) -> Path:
    path = tmp_path / "questions.yaml"
    path.write_text(yaml.safe_dump({"version": version, "questions": questions}, sort_keys=False))
    return path


def _error(path: Path) -> str:
    with pytest.raises(ConfigError) as info:
        load_question_set(path)
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(str(path))
    return message


def test_valid_set_loads_and_chains(tmp_path: Path) -> None:
    path = _write(tmp_path, [
        _q("first"),
        _q("second", "follow-up", follows="first"),
        _q("other", "unanswerable"),
        _q("third", "follow-up", follows="second"),
    ])
    qset = load_question_set(path)
    assert isinstance(qset, QuestionSet)
    assert [q.id for q in chain_of(qset, "third")] == ["first", "second", "third"]
    assert [q.id for q in chain_of(qset, "second")] == ["first", "second"]
    assert [q.id for q in chain_of(qset, "first")] == ["first"]
    assert [[q.id for q in chain] for chain in qset.chains()] == [["first", "second", "third"]]
    assert not qset.get("other").answerable


def test_chain_of_unknown_id(tmp_path: Path) -> None:
    qset = load_question_set(_write(tmp_path, [_q("only")]))
    with pytest.raises(KeyError, match="nope"):
        chain_of(qset, "nope")


def test_duplicate_id(tmp_path: Path) -> None:
    message = _error(_write(tmp_path, [_q("same"), _q("other"), _q("same")]))
    assert "question 'same' (#3)" in message
    assert "duplicate id" in message and "#1" in message


def test_dangling_follows(tmp_path: Path) -> None:
    message = _error(_write(tmp_path, [_q("a"), _q("b", "follow-up", follows="ghost")]))
    assert "question 'b' (#2): follows 'ghost', which is not an earlier question" in message


def test_follows_a_later_question(tmp_path: Path) -> None:
    message = _error(_write(tmp_path, [_q("a", "follow-up", follows="b"), _q("b")]))
    assert "question 'a' (#1): follows 'b', which is not an earlier question" in message


def test_follow_up_without_follows(tmp_path: Path) -> None:
    message = _error(_write(tmp_path, [_q("a", "follow-up")]))
    assert "question 'a' (#1)" in message and "needs 'follows'" in message


def test_follows_on_a_non_follow_up(tmp_path: Path) -> None:
    message = _error(_write(tmp_path, [_q("a"), _q("b", "fact", follows="a")]))
    assert "question 'b' (#2)" in message and "only follow-up questions may have 'follows'" in message


def test_bad_kind(tmp_path: Path) -> None:
    message = _error(_write(tmp_path, [_q("a"), _q("b", "trivia")]))
    assert "question 'b' (#2): kind:" in message
    assert "'fact'" in message


def test_unanswerable_with_expected_docs(tmp_path: Path) -> None:
    message = _error(_write(tmp_path, [_q("u", "unanswerable", expected_docs=["doc.md"])]))
    assert "question 'u' (#1)" in message and "unanswerable" in message and "expected_docs" in message


def test_unanswerable_with_facts(tmp_path: Path) -> None:
    message = _error(_write(tmp_path, [_q("u", "unanswerable", facts=["$1"])]))
    assert "unanswerable" in message


def test_answerable_without_expected_docs(tmp_path: Path) -> None:
    message = _error(_write(tmp_path, [_q("a", expected_docs=[])]))
    assert "question 'a' (#1)" in message and "at least one expected doc" in message


def test_id_must_be_kebab_case(tmp_path: Path) -> None:
    message = _error(_write(tmp_path, [_q("Not_Kebab")]))
    assert "kebab-case" in message


def test_unknown_field(tmp_path: Path) -> None:
    message = _error(_write(tmp_path, [_q("a", answer="x")]))
    assert "question 'a' (#1): answer:" in message


def test_missing_questions_key(tmp_path: Path) -> None:
    path = tmp_path / "questions.yaml"
    path.write_text("version: 1\n")
    assert "questions" in _error(path)


def test_bad_yaml(tmp_path: Path) -> None:
    path = tmp_path / "questions.yaml"
    path.write_text("version: 1\nquestions:\n  - id: a\n    kind: [unclosed\n")
    message = _error(path)
    assert "not valid YAML" in message and "line" in message


def test_not_a_mapping(tmp_path: Path) -> None:
    path = tmp_path / "questions.yaml"
    path.write_text("- just\n- a list\n")
    assert "expected a mapping" in _error(path)


def test_missing_file(tmp_path: Path) -> None:
    message = _error(tmp_path / "absent.yaml")
    assert "not found" in message


def test_real_question_set() -> None:
    qset = load_question_set(REAL_SET)
    assert len(qset.questions) >= 40
    assert {q.kind for q in qset.questions} == set(KINDS)
    chains = qset.chains()
    assert len(chains) >= 8
    assert all(2 <= len(chain) <= 3 for chain in chains)
    assert sum(1 for q in qset.questions if q.kind == "unanswerable") >= 6
