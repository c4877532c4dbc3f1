"""The Evaluation page: run a question set against the store with a progress bar and show its report."""

from __future__ import annotations

import dataclasses
import tempfile
from collections.abc import Sequence
from pathlib import Path

import streamlit as st

from app.common import open_page
from assistant.evalset import load_question_set
from assistant.evaluation import EvalReport, evaluate
from assistant.render import escape_markdown
from policyqa.errors import PolicyQAError
from policyqa.types import Answer, Turn

DEFAULT_SET = Path("tests/eval/questions.yaml")  # relative to where the app was started, like `policyqa eval`


def render() -> None:
    assistant = open_page("Evaluation")
    st.caption(
        "Ask every question of a question set (YAML: id, question, expected_docs, facts, follows; or JSON Lines with "
        "verbatim evidence, as `policyqa eval` reads) and score the answers: hit@k and MRR, facts found, citations, "
        "refusals."
    )
    path_text = st.text_input("Question set file", value=str(DEFAULT_SET) if DEFAULT_SET.is_file() else "",
                              key="eval_path")
    uploaded = st.file_uploader("…or upload one", type=["yaml", "yml", "jsonl"], key="eval_upload")
    if st.button("Run the evaluation", type="primary", icon=":material/play_arrow:"):
        try:
            question_set = load_question_set(_set_path(uploaded, path_text))
        except (PolicyQAError, OSError) as exc:
            st.error(escape_markdown(str(exc)))
            return
        total = len(question_set.questions)
        bar = st.progress(0.0, text=f"0 of {total} questions")
        asked = [0]

        def ask(question: str, history: Sequence[Turn]) -> Answer:
            answer = assistant.ask(question, history)
            asked[0] += 1
            bar.progress(asked[0] / total, text=f"{asked[0]} of {total} questions")
            return answer

        st.session_state.eval_report = evaluate(question_set, ask, retrieved=lambda a: a.passages)
        bar.progress(1.0, text=f"{total} of {total} questions answered")
    report = st.session_state.get("eval_report")
    if report is not None:
        show_report(report)


def _set_path(uploaded: object, path_text: str) -> Path:
    if uploaded is not None:
        folder = Path(tempfile.mkdtemp(prefix="policyqa-eval-"))
        suffix = ".jsonl" if str(getattr(uploaded, "name", "")).endswith(".jsonl") else ".yaml"
        target = folder / f"questions{suffix}"
        target.write_bytes(uploaded.getvalue())  # type: ignore[attr-defined]
        return target
    if not path_text.strip():
        raise PolicyQAError("give a question set file or upload one")
    return Path(path_text.strip())


def show_report(report: EvalReport) -> None:
    overall = report.overall
    cols = st.columns(5)
    cols[0].metric("Questions", overall.questions)
    cols[1].metric("hit@1", _f(overall.hit_at_1))
    cols[2].metric("hit@5", _f(overall.hit_at_5))
    cols[3].metric("MRR", _f(overall.mrr))
    refused = f"{_f(overall.refusal_accuracy)} ({overall.false_refusals} false)"
    cols[4].metric("Refusals", refused)
    st.subheader("By kind")
    st.dataframe([dataclasses.asdict(r) for r in (overall, *report.rows)], width="stretch", hide_index=True)
    st.subheader("Per question")
    st.dataframe(
        [
            {"id": r.id, "kind": r.kind, "question": r.question, "rank": r.rank, "answered": r.answerable,
             "expected": ", ".join(r.expected_docs) or "(should refuse)",
             "cited": ", ".join(dict.fromkeys(r.cited_docs)),
             "facts": f"{r.facts_found}/{r.facts_total}", "seconds": round(r.seconds, 3)}
            for r in report.results
        ],
        width="stretch",
        hide_index=True,
    )


def _f(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


if __name__ in ("__main__", "__page__"):  # a page file runs as __main__ (older releases: __page__)
    render()
