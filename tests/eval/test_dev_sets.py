"""The dev sets the product was not written for (read from ../shared/datasets), with floors on each half.

minerals-dev (real U.S. government texts, evidence-level questions) is scored on both halves: "tune" is what
thresholds were fit on (benchmarks/fit_refusal.py), "check" is the honest figure. The sec-10q sample (six real
10-Q filings) is scored by document. The floors sit at or just under the figures measured on this machine (see
README "Answers on documents nobody tuned for"): they catch a regression; the README states the targets.
Skipped, with the reason, where the datasets are not next to the checkout.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from assistant.evaluation import EvalReport, MetricRow
from tests.answer_checks import unsupported_sentences
from tests.eval.runner import SetRun, open_assistant, run_set
from tests.eval.sets import eval_sets

pytestmark = [pytest.mark.eval, pytest.mark.model]

# (set, split) -> floors on the "all" row; refusals are counted over the unanswerable questions of the half.
# fact_recall: the share of the reference answers' figures found in the answers (assistant.evalset.reference_figures);
# measured 0.60 / 1.00 (7 figures) on minerals-dev tune / check and 0.17 on the sample, whose answers to questions
# about tables and periods are the weakest part of the offline answerer.
FLOORS: dict[tuple[str, str], dict[str, float]] = {
    ("minerals-dev", "tune"): {
        "hit_at_1": 0.70, "hit_at_5": 0.88, "first_citation": 0.65, "any_citation": 0.65, "fact_recall": 0.55,
    },
    ("minerals-dev", "check"): {
        "hit_at_1": 0.55, "hit_at_5": 0.83, "first_citation": 0.70, "any_citation": 0.77, "fact_recall": 0.85,
    },
    ("sec-10q-sample", "all"): {"hit_at_1": 0.95, "hit_at_5": 0.95, "citation_precision": 0.95, "fact_recall": 0.15},
}
MAX_FALSE_REFUSALS = {("minerals-dev", "tune"): 3, ("minerals-dev", "check"): 3, ("sec-10q-sample", "all"): 1}
MIN_UNANSWERABLE_REFUSED = 5  # of minerals-dev's 7 unanswerable questions, both halves together
MAX_FOLLOW_UP_GAP = 0.10  # follow-ups' hit@5 may trail first questions' by at most this, on each minerals-dev half


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[tuple[str, str], SetRun]]:
    sets = eval_sets()
    missing = [s.name for k in FLOORS for s in [sets[k[0]]] if not s.available]
    if missing:
        pytest.skip(f"dev sets not found next to the checkout ({', '.join(sorted(set(missing)))}; see tests/eval/sets.py)")
    results: dict[tuple[str, str], SetRun] = {}
    for name in dict.fromkeys(k[0] for k in FLOORS):
        assistant = open_assistant(sets[name], tmp_path_factory.mktemp(name) / "store")
        for set_name, split in FLOORS:
            if set_name == name:
                results[(name, split)] = run_set(sets[name], assistant, split=split)
                print(f"\n{name} ({split}):\n{results[(name, split)].report.table()}")
        assistant.store.close()
    yield results


def _fail(report: EvalReport, message: str) -> str:
    return f"{message}\n{report.table()}"


@pytest.mark.parametrize("key", list(FLOORS), ids=[f"{s}-{h}" for s, h in FLOORS])
def test_each_set_meets_its_floors(runs: dict[tuple[str, str], SetRun], key: tuple[str, str]) -> None:
    report = runs[key].report
    overall: MetricRow = report.overall
    for metric, floor in FLOORS[key].items():
        value = getattr(overall, metric)
        assert value is not None and value >= floor, _fail(report, f"{key}: {metric} {value} below {floor}")
    assert overall.false_refusals <= MAX_FALSE_REFUSALS[key], _fail(
        report, f"{key}: {overall.false_refusals} answerable questions refused"
    )


def test_unanswerable_minerals_questions_are_refused(runs: dict[tuple[str, str], SetRun]) -> None:
    results = [r for split in ("tune", "check") for r in runs[("minerals-dev", split)].report.results if r.unanswerable]
    refused = [r.id for r in results if not r.answerable]
    assert len(results) == 7, f"the set holds 7 unanswerable questions, scored {len(results)}"
    assert len(refused) >= MIN_UNANSWERABLE_REFUSED, f"refused only {refused} of {[r.id for r in results]}"


def test_no_answer_states_a_sentence_outside_its_citations(runs: dict[tuple[str, str], SetRun]) -> None:
    problems = [
        f"{q!r}: {p}" for run in runs.values() for q, a in run.answers if a.answerable for p in unsupported_sentences(a)
    ]
    assert not problems, f"{len(problems)} unsupported sentences:\n" + "\n".join(problems[:20])



@pytest.mark.parametrize("split", ["tune", "check"])
def test_follow_ups_retrieve_nearly_as_well_as_first_questions(runs: dict[tuple[str, str], SetRun], split: str) -> None:
    report = runs[("minerals-dev", split)].report
    first = [r for r in report.results if not r.is_follow_up and not r.unanswerable]
    follow = [r for r in report.results if r.is_follow_up]
    assert first and follow, _fail(report, "both kinds of question are needed")
    gap = sum(r.hit_at(5) for r in first) / len(first) - sum(r.hit_at(5) for r in follow) / len(follow)
    assert gap <= MAX_FOLLOW_UP_GAP, _fail(report, f"follow-ups trail first questions by {gap:.2f} at hit@5")
