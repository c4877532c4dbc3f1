"""Load and validate the evaluation question set (tests/eval/questions.yaml)."""

from __future__ import annotations

import json
import re
import zlib
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from policyqa.errors import ConfigError

Kind = Literal["fact", "comparison", "date", "multi-document", "follow-up", "unanswerable", "time", "acronym"]
KINDS: tuple[str, ...] = (
    "fact", "comparison", "date", "multi-document", "follow-up", "unanswerable", "time", "acronym"
)
NOT_IN_CORPUS = "NOT IN CORPUS"
# The kinds of the JSON Lines sets (minerals-dev, sec-10q) in this module's vocabulary.
_JSONL_KINDS = {
    "single-doc": "fact", "multi-doc": "multi-document", "follow-up": "follow-up", "unanswerable": "unanswerable",
    "single-doc rag": "fact", "multi-doc rag": "multi-document",
}

_KEBAB = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")


def _label(qid: object, position: int) -> str:
    """How messages name a question: its id and its 1-based position in the file."""
    return f"question '{qid}' (#{position})" if qid else f"question #{position}"


class EvalQuestion(BaseModel):
    """One turn to ask; ``facts`` must appear in a good answer, ``expected_docs`` are the documents to cite."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str
    kind: Kind
    question: str = Field(min_length=1)
    expected_docs: list[str] = Field(default_factory=list)
    facts: list[str] = Field(default_factory=list)
    follows: str | None = None
    # Verbatim passages that hold the answer (one per document the answer needs): when given, a retrieved or
    # cited passage counts as a hit only if it holds one of them (the word 5-gram rule of assistant.evaluation).
    evidence: list[str] = Field(default_factory=list)
    standalone: str | None = None  # a follow-up rewritten to stand alone (for rewriter checks)

    @field_validator("id")
    @classmethod
    def _kebab_id(cls, value: str) -> str:
        if not _KEBAB.match(value):
            raise ValueError(f"id {value!r} is not kebab-case (lowercase letters, digits and hyphens)")
        return value

    @field_validator("question")
    @classmethod
    def _question_text(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("question text is empty")
        return value

    @field_validator("expected_docs", "facts")
    @classmethod
    def _no_blank_entries(cls, value: list[str]) -> list[str]:
        if any(not item.strip() for item in value):
            raise ValueError("contains an empty string")
        if len(set(value)) != len(value):
            raise ValueError("contains duplicates")
        return value

    @model_validator(mode="after")
    def _kind_rules(self) -> EvalQuestion:
        if self.kind == "follow-up" and not self.follows:
            raise ValueError("a follow-up question needs 'follows' (the id of the previous turn)")
        if self.kind != "follow-up" and self.follows is not None:
            raise ValueError(f"only follow-up questions may have 'follows' (kind is {self.kind!r})")
        if self.kind == "unanswerable" and (self.expected_docs or self.facts or self.evidence):
            raise ValueError("an unanswerable question must have empty expected_docs and facts")
        if self.kind != "unanswerable" and not self.expected_docs:
            raise ValueError("an answerable question needs at least one expected doc")
        return self

    @property
    def answerable(self) -> bool:
        return self.kind != "unanswerable"

    @property
    def split(self) -> str:
        """The half a question belongs to: an id ending in an odd number tunes, an even one checks; an id without a
        number goes by the parity of its CRC-32 (a stable coin toss).

        The rule is fixed once for every set, so that thresholds fit on "tune" are reported on "check".
        """
        digits = re.search(r"(\d+)$", self.id)
        number = int(digits.group(1)) if digits else zlib.crc32(self.id.encode("utf-8"))
        return "tune" if number % 2 == 1 else "check"


class QuestionSet(BaseModel):
    """The whole set, in file order; follow-up chains refer back to earlier questions by id."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    version: int
    questions: list[EvalQuestion]

    @model_validator(mode="after")
    def _cross_checks(self) -> QuestionSet:
        seen: dict[str, int] = {}
        for position, question in enumerate(self.questions, start=1):
            label = _label(question.id, position)
            if question.id in seen:
                raise ValueError(f"{label}: duplicate id, already used by question #{seen[question.id]}")
            if question.follows is not None:
                if question.follows == question.id:
                    raise ValueError(f"{label}: follows itself")
                if question.follows not in seen:
                    raise ValueError(f"{label}: follows {question.follows!r}, which is not an earlier question")
            seen[question.id] = position
        return self

    def get(self, question_id: str) -> EvalQuestion:
        for question in self.questions:
            if question.id == question_id:
                return question
        raise KeyError(f"no question with id {question_id!r}")

    def chains(self) -> list[list[EvalQuestion]]:
        """Every conversation of two or more turns, each ending at a turn no other question follows."""
        followed = {q.follows for q in self.questions if q.follows}
        return [chain_of(self, q.id) for q in self.questions if q.follows and q.id not in followed]


def chain_of(question_set: QuestionSet, question_id: str) -> list[EvalQuestion]:
    """The turns from the conversation's first question up to ``question_id``, in history order."""
    turns = [question_set.get(question_id)]
    while turns[-1].follows is not None:
        if len(turns) > len(question_set.questions):  # unreachable for a validated set; guards cycles
            raise ValueError(f"follow-up chain of {question_id!r} does not end")
        turns.append(question_set.get(turns[-1].follows))
    turns.reverse()
    return turns


def _describe(error: ValidationError, raw: dict[str, Any]) -> str:
    """One line naming the question and the problem of the first validation error."""
    problems = error.errors()
    first = problems[0]
    message = str(first.get("msg", "invalid value"))
    if first.get("type") == "value_error" and message.startswith("Value error, "):
        message = message[len("Value error, ") :]
    loc = tuple(first.get("loc", ()))
    where = ""
    if len(loc) >= 2 and loc[0] == "questions" and isinstance(loc[1], int):
        items = raw.get("questions") or []
        item = items[loc[1]] if loc[1] < len(items) else None
        qid = item.get("id") if isinstance(item, dict) else None
        where = _label(qid, loc[1] + 1) + ": "
        field = ".".join(str(part) for part in loc[2:])
        if field:
            where += f"{field}: "
    elif loc:
        where = ".".join(str(part) for part in loc) + ": "
    more = f" (and {len(problems) - 1} more problem{'s' if len(problems) > 2 else ''})" if len(problems) > 1 else ""
    return f"{where}{message}{more}"


_SOURCES = re.compile(r"\(?\bSOURCE(?:\(S\))?:[^)\n]*\)?", re.I)  # "(SOURCE: 2023 Q1 AAPL.pdf)": not a fact
_YEAR = re.compile(r"(?:19|20)\d\d")
_FIGURE = re.compile(r"(?<![\w.,])(\d[\d,]*(?:\.\d+)?)(\s*(?:%|percent\b))?")


def reference_figures(answer: str, question: str = "") -> list[str]:
    """The figures a reference answer gives, as facts to look for in an answer: numbers of three digits or more
    ("7,709", "232", "1.35") and percentages ("10%" gives "10"), written as the answer writes them, without the
    source file names it cites, without years (a filing's answers name its periods in every sentence, so a year
    found says little) and without those the question itself gives. Wording is free; figures are what a reader
    checks."""
    given = {m.group(1).rstrip(",") for m in _FIGURE.finditer(question)}
    figures: list[str] = []
    for match in _FIGURE.finditer(_SOURCES.sub(" ", answer)):
        number = match.group(1).rstrip(",")
        if _YEAR.fullmatch(number) and not match.group(2):
            continue
        if (sum(ch.isdigit() for ch in number) >= 3 or match.group(2)) and number not in given:
            figures.append(number)
    return list(dict.fromkeys(figures))


def _from_jsonl(text: str, path: Path) -> dict[str, Any]:
    """The JSON Lines sets (one question a line: ``question``, ``doc``/``source_docs``, ``evidence``,
    ``supporting``, ``follows``, ``reference_answer`` = "NOT IN CORPUS" when unanswerable) as a YAML-shaped set."""
    questions: list[dict[str, Any]] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"{path}: line {number} is not JSON ({exc.msg})") from None
        if not isinstance(row, dict):
            raise ConfigError(f"{path}: line {number} is not a JSON object")
        unanswerable = row.get("reference_answer") == NOT_IN_CORPUS
        raw_kind = str(row.get("kind") or row.get("question_type") or "single-doc").lower()
        kind = "unanswerable" if unanswerable else "follow-up" if row.get("follows") else _JSONL_KINDS.get(raw_kind, "fact")
        docs = [row["doc"]] if row.get("doc") else list(row.get("source_docs") or [])
        evidence = [row["evidence"]] if row.get("evidence") else []
        for extra in row.get("supporting") or []:
            if extra.get("doc") and extra["doc"] not in docs:
                docs.append(extra["doc"])
            if extra.get("evidence"):
                evidence.append(extra["evidence"])
        item: dict[str, Any] = {"id": row.get("id"), "kind": kind, "question": row.get("question", "")}
        if not unanswerable:
            item |= {"expected_docs": docs, "evidence": evidence}
            reference = str(row.get("reference_answer") or "")
            item |= {"facts": reference_figures(reference, str(row.get("question", "")))}
        if row.get("follows"):
            item |= {"follows": row["follows"], "standalone": row.get("standalone_question")}
        questions.append(item)
    return {"version": 1, "questions": questions}


def load_question_set(path: str | Path) -> QuestionSet:
    """Read and validate a question set (YAML, or JSON Lines as in ``minerals-dev``); every failure is a one-line
    ConfigError naming the file."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: question set not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc)
        raise ConfigError(f"{path}: cannot read question set ({reason})") from None
    if path.suffix == ".jsonl":
        raw = _from_jsonl(text, path)
        try:
            return QuestionSet.model_validate(raw)
        except ValidationError as exc:
            raise ConfigError(f"{path}: {_describe(exc, raw)}") from None
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or "syntax error"
        at = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        raise ConfigError(f"{path}: not valid YAML{at}: {problem}") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a mapping with 'version' and 'questions'")
    try:
        return QuestionSet.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(f"{path}: {_describe(exc, raw)}") from None
