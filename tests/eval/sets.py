"""The evaluation sets: the starter corpus's own, and the dev sets read from ``../shared/datasets`` (never shipped).

Each set is documents plus questions; ``split`` of a question (odd id tune, even id check) is stated once, in
``assistant.evalset.EvalQuestion.split``. Tests, benchmarks and ``benchmarks/fit_refusal.py`` all take their sets
from here, so every figure is measured on the same material.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from assistant.evalset import QuestionSet, load_question_set

ROOT = Path(__file__).resolve().parents[2]
SHARED = ROOT.parent / "shared" / "datasets"
# A sample of the 10-Q set small enough for the test run: the 2023 Q2 and Q3 filings of the three companies, and
# the questions answered from them alone.
SEC_SAMPLE = tuple(f"2023 {q} {t}.pdf" for q in ("Q2", "Q3") for t in ("AAPL", "AMZN", "NVDA"))


@dataclass(frozen=True)
class EvalSet:
    name: str
    documents: tuple[Path, ...]
    questions: Path
    only_docs: tuple[str, ...] = ()  # keep the questions answered from these documents alone

    @property
    def available(self) -> bool:
        return self.questions.is_file() and all(p.exists() for p in self.documents)

    def load(self) -> QuestionSet:
        qs = load_question_set(self.questions)
        if not self.only_docs:
            return qs
        keep = [q for q in qs.questions if q.expected_docs and set(q.expected_docs) <= set(self.only_docs)]
        return QuestionSet(version=qs.version, questions=keep)


def eval_sets(shared: Path = SHARED) -> dict[str, EvalSet]:
    sec = shared / "sec-10q"
    return {
        "starter": EvalSet("starter", (ROOT / "corpus",), ROOT / "tests" / "eval" / "questions.yaml"),
        "minerals-dev": EvalSet(
            "minerals-dev", (shared / "minerals-dev" / "docs",), shared / "minerals-dev" / "questions.jsonl"
        ),
        "sec-10q-sample": EvalSet(
            "sec-10q-sample", tuple(sec / "pdfs" / name for name in SEC_SAMPLE), sec / "questions.jsonl", SEC_SAMPLE
        ),
        # The whole 10-Q set (12 filings, 116 questions): too slow for the test run, measured by the benchmarks.
        "sec-10q": EvalSet("sec-10q", (sec / "pdfs",), sec / "questions.jsonl"),
    }
