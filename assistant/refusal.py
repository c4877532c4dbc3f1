"""Whether the passages answer: a logistic model over evidence signals, fit on the tune halves of the dev sets.

No pattern decides a refusal on its own. The answerer measures signals that transfer to documents nobody tuned
for (how close the best sentence and passage are to the question, how much of the question's distinctive
vocabulary the evidence holds, whether the names the question gives occur, whether the noun the question asks
about occurs) and this model weighs them. Its weights and threshold live in
``policyqa/data/refusal.json``, written by ``benchmarks/fit_refusal.py``, which records the run they came from.
"""

from __future__ import annotations

import functools
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from policyqa.errors import ConfigError

DEFAULT_PATH = Path(__file__).resolve().parent.parent / "policyqa" / "data" / "refusal.json"

# What a low value of each signal means, in the words a refusal gives.
REASONS = {
    "similarity": "no passage found is close enough to the question",
    "coverage": "the passages found miss most of the question's terms",
    "sentence_coverage": "no sentence found states most of what the question asks about",
    "missing": "the documents never mention {missing}",
    "absent_names": "the passages found do not mention {absent}",

    "unknown": "the documents never use some of the question's terms",
    "head": "the passages found never mention the {head} asked about",
    "typed": "no sentence found states a value of the kind the question asks for",
}


@dataclass(frozen=True, slots=True)
class RefusalModel:
    """P(answerable) = sigmoid(bias + sum(weight * feature)); refuse below ``threshold``."""

    weights: Mapping[str, float]
    bias: float
    threshold: float
    means: Mapping[str, float]  # feature means over the answerable tune questions: what "typical" looks like
    fitted_on: str = ""

    def probability(self, features: Mapping[str, float]) -> float:
        z = self.bias + sum(w * features.get(name, 0.0) for name, w in self.weights.items())
        return 1.0 / (1.0 + math.exp(-max(-60.0, min(60.0, z))))

    def weakest(self, features: Mapping[str, float]) -> str:
        """The signal that pulls hardest towards a refusal, compared with a typical answerable question."""
        pull = {
            name: w * (features.get(name, 0.0) - self.means.get(name, 0.0)) for name, w in self.weights.items() if w
        }
        return min(pull, key=pull.__getitem__) if pull else "similarity"

    def to_dict(self) -> dict[str, object]:
        return {
            "weights": dict(self.weights), "bias": self.bias, "threshold": self.threshold, "means": dict(self.means),
            "fitted_on": self.fitted_on,
        }


@functools.lru_cache(maxsize=4)
def load_model(path: Path = DEFAULT_PATH) -> RefusalModel:
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        return RefusalModel(
            weights={str(k): float(v) for k, v in raw["weights"].items()},
            bias=float(raw["bias"]),
            threshold=float(raw["threshold"]),
            means={str(k): float(v) for k, v in raw.get("means", {}).items()},
            fitted_on=str(raw.get("fitted_on", "")),
        )
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise ConfigError(f"{path}: cannot read the refusal model ({exc})") from None


# The direction each signal can only push: more similarity or coverage never argues for a refusal, a name or term
# the documents lack never argues against one. The fit keeps each weight on its side of zero (or at zero): with
# few unanswerable questions an unconstrained fit gives a signal the wrong sign to explain one or two of them.
SIGNS = {
    "similarity": 1, "coverage": 1, "sentence_coverage": 1, "head": 1, "typed": 1, "absent_names": -1, "unknown": -1,
}


def fit(
    rows: list[tuple[Mapping[str, float], bool]],
    *,
    l2: float = 0.1,
    steps: int = 4000,
    rate: float = 0.5,
    signs: Mapping[str, int] | None = None,
) -> tuple[dict[str, float], float]:
    """Logistic regression by projected gradient descent (numpy only): rows of (features, answerable); a weight
    named in ``signs`` stays on that side of zero."""
    import numpy as np

    names = sorted(rows[0][0])
    signs = SIGNS if signs is None else signs
    low = np.array([0.0 if signs.get(n, 0) > 0 else -np.inf for n in names])
    high = np.array([0.0 if signs.get(n, 0) < 0 else np.inf for n in names])
    x = np.array([[f[n] for n in names] for f, _ in rows], dtype=float)
    y = np.array([1.0 if answerable else 0.0 for _, answerable in rows])
    # Classes weighted equally: the sets hold far fewer unanswerable questions than answerable ones.
    positive = y.mean()
    sample = np.where(y == 1, 0.5 / max(positive, 1e-9), 0.5 / max(1 - positive, 1e-9)) / len(y)
    w = np.zeros(len(names))
    b = 0.0
    for _ in range(steps):
        p = 1 / (1 + np.exp(-(x @ w + b)))
        grad = p - y
        w -= rate * (x.T @ (sample * grad) + l2 * w / len(y))
        w = np.clip(w, low, high)
        b -= rate * float(sample @ grad)
    return {n: float(v) for n, v in zip(names, w, strict=True)}, float(b)


def cut(probabilities: list[tuple[float, bool]], allowed: int) -> float:
    """The refusal threshold for (probability, answerable) pairs: above as many unanswerable questions as it can
    reach with at most ``allowed`` answerable ones below it, and no higher than the last of those, so that no
    answerable question is refused that buys no refusal that was due. It sits halfway to the next probability."""
    ordered = sorted(probabilities, key=lambda row: row[0])
    threshold, false_refusals = 0.0, 0
    for i, (p, answerable) in enumerate(ordered):
        if answerable:
            false_refusals += 1
            if false_refusals > allowed:
                break
        else:
            threshold = (p + ordered[i + 1][0]) / 2 if i + 1 < len(ordered) else p
    return threshold
