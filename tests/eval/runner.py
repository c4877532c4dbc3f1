"""Ingest an evaluation set into a store and ask its questions: shared by the eval scripts and the eval tier.

A store folder given by the caller is reused (ingest is incremental, so a second run embeds nothing).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from assistant.assistant import Assistant
from assistant.evaluation import EvalReport, evaluate
from assistant.extractive import Signals
from ingest.pipeline import ingest_paths
from policyqa.settings import Settings
from policyqa.store import open_store
from policyqa.types import Answer, Turn
from tests.eval.sets import EvalSet


@dataclass
class SetRun:
    report: EvalReport
    signals: dict[str, Signals | None] = field(default_factory=dict)  # question id -> the answerer's signals
    answers: list[tuple[str, Answer]] = field(default_factory=list)


def open_assistant(eval_set: EvalSet, store_dir: Path, **overrides: object) -> Assistant:
    settings = Settings(store_dir=store_dir).with_overrides(**overrides)
    store = open_store(settings)
    result = ingest_paths(list(eval_set.documents), settings, store=store)
    if not result.ok and not result.chunks and not store.documents():
        raise RuntimeError(f"ingesting {eval_set.name} failed: {result.summary()}")
    return Assistant(settings, store=store)


def run_set(
    eval_set: EvalSet,
    assistant: Assistant,
    *,
    split: str | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> SetRun:
    questions = eval_set.load()
    signals: dict[str, Signals | None] = {}
    answers: list[tuple[str, Answer]] = []
    by_text = {q.question: q.id for q in questions.questions}

    def ask(question: str, history: Sequence[Turn]) -> Answer:
        answer = assistant.ask(question, history)
        answers.append((question, answer))
        signals[by_text.get(question, question)] = getattr(assistant.answerer, "last_signals", None)
        return answer

    report = evaluate(questions, ask, retrieved=lambda a: a.passages, split=split, progress=progress)
    return SetRun(report=report, signals=signals, answers=answers)
