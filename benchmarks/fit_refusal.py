"""Fit the refusal model (assistant/refusal.py) on the tune halves of the evaluation sets and write it.

Usage: python benchmarks/fit_refusal.py [--sets starter,minerals-dev,sec-10q] [--stores DIR]
                                        [--max-false-refusals 0.03] [--out policyqa/data/refusal.json]

Every question of each set's tune half is asked with refusals off; the answerer's signals for each, labelled
answerable or not, fit a logistic regression (classes weighted equally; each weight kept on the side of zero that
assistant.refusal.SIGNS gives it, so a signal can drop out but never argue backwards). The threshold is the highest
probability cut that keeps false refusals on the tune half at or under --max-false-refusals, lowered to just above the
last unanswerable question it refuses (assistant.refusal.cut). The check halves are
never read.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import tempfile
from pathlib import Path

from _common import ROOT, fmt, load_average, table

from assistant.refusal import RefusalModel, cut, fit
from tests.eval.runner import open_assistant, run_set
from tests.eval.sets import eval_sets

NEVER_REFUSE = RefusalModel(weights={}, bias=0.0, threshold=-1.0, means={})
# The signals the model weighs are those of Signals.features(). Left out after trying them on the tune halves: the
# dense and keyword ranks of the top passage and the coverage of the best sentence alone: they took weights of the
# wrong sign or near zero, i.e. they fit noise in the few unanswerable questions. Whether a stated sentence holds
# what the question asks for was left out for the same reason until the signs were held and the whole sec-10q
# tune half joined the fit: since then it takes a weight and refuses one more tune question ("how many jobs ..."). The best sentence's and the best passage's similarity enter as their maximum:
# apart, the passage one took most of the weight and refused questions about a person, whose name embeds far from
# any passage. A name the question gives that no document holds is not fit: it refuses on its own (see
# assistant/extractive.py), and the tune halves hold no such question to learn a weight from. The two coverage
# signals stay in the fit although, with the signs held, they fit to zero weight (run of 2026-12-03): left free,
# they took negative weights, i.e. more of the question's words in the passages argued for a refusal.


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    # The whole 10-Q set, not the test run's sample: its tune half adds 56 questions phrased the way analysts ask.
    parser.add_argument("--sets", default="starter,minerals-dev,sec-10q")
    parser.add_argument("--stores", type=Path, help="reuse stores in this folder (one per set)")
    # Tighter than the 5 % the product aims for on documents it has not seen: a cut fit to the tune halves' few
    # unanswerable questions sits at a cliff, and unseen questions fall on both sides of it.
    parser.add_argument("--max-false-refusals", type=float, default=0.03)
    parser.add_argument("--l2", type=float, default=0.3)
    parser.add_argument("--out", type=Path, default=ROOT / "policyqa" / "data" / "refusal.json")
    args = parser.parse_args()
    print(load_average())
    stores = args.stores or Path(tempfile.mkdtemp(prefix="policyqa-fit-"))
    sets = eval_sets()
    rows: list[tuple[dict[str, float], bool, str]] = []
    for name in args.sets.split(","):
        eval_set = sets[name]
        if not eval_set.available:
            print(f"{name}: not available, skipped")
            continue
        assistant = open_assistant(eval_set, stores / name)
        assistant.backends["offline"][1].refusal = NEVER_REFUSE
        run = run_set(eval_set, assistant, split="tune")
        for result in run.report.results:
            signals = run.signals.get(result.id)
            if signals is not None:
                rows.append((signals.features(), not result.unanswerable, f"{name}/{result.id}"))
        print(f"{name}: {len(run.report.results)} tune questions")
    answerable = [f for f, a, _ in rows if a]
    weights, bias = fit([(f, a) for f, a, _ in rows], l2=args.l2)
    model = RefusalModel(weights=weights, bias=bias, threshold=0.5, means={})
    probs = sorted(((model.probability(f), a, qid) for f, a, qid in rows), key=lambda r: r[0])
    n_answerable = sum(1 for _, a, _ in probs if a)
    allowed = int(args.max_false_refusals * n_answerable)
    threshold = cut([(p, a) for p, a, _ in probs], allowed)
    means = {k: sum(f[k] for f in answerable) / len(answerable) for k in answerable[0]}
    fitted_on = (
        f"benchmarks/fit_refusal.py on {dt.date.today().isoformat()}: tune halves of {args.sets} "
        f"({n_answerable} answerable, {len(rows) - n_answerable} unanswerable), l2={args.l2}, "
        f"max false refusals {args.max_false_refusals}"
    )
    model = RefusalModel(weights=weights, bias=bias, threshold=threshold, means=means, fitted_on=fitted_on)
    args.out.write_text(json.dumps(model.to_dict(), indent=2) + "\n", encoding="utf-8")
    print(table(("signal", "weight", "answerable mean"), [(k, fmt(v, 3), fmt(means[k], 3)) for k, v in weights.items()]))
    print(f"bias {bias:.3f}; threshold {threshold:.3f}")
    refused = [(qid, a) for p, a, qid in probs if p < threshold]
    print(f"tune: refused {sum(1 for _, a in refused if not a)} of {len(rows) - n_answerable} unanswerable, "
          f"{sum(1 for _, a in refused if a)} of {n_answerable} answerable")
    for p, a, qid in probs[:15]:
        print(f"  {p:.3f} {'answerable  ' if a else 'UNANSWERABLE'} {qid}")
    print(f"written to {args.out}")


if __name__ == "__main__":
    main()
