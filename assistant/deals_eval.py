"""Field-level precision and recall of a deal table against a hand-checked one (tests/eval/deals_expected.yaml).

How cells are compared is documented in the header of that file: amounts, percentages and terms as numbers,
agencies by family, places by U.S. state, minerals as a subset of the accepted names, counterparties as a set.
Every non-empty extracted cell counts as a prediction, those of unexpected rows included; a row that is not
expected, or has no scored cell, counts once.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from assistant.deals import Deal

SCORED = ("mineral", "amount", "stake_percent", "share", "term", "agency", "counterparty", "date", "location")
_AGENCY_FAMILIES = (
    ("dod", r"defense|war\b|strategic capital|\bdod\b|pentagon"),
    ("doe", r"energy|loan programs|\bdoe\b"),
    ("us", r"u\.s\. government|federal government|united states government"),
)
_STATES = r"alaska|arizona|california|nevada|tennessee|texas|montana|minnesota|idaho|utah|wyoming|new mexico"


@dataclass
class Score:
    """Cells right, cells extracted, cells expected; ``problems`` says what differed."""

    correct: int = 0
    predicted: int = 0
    expected: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def precision(self) -> float:
        return self.correct / self.predicted if self.predicted else 0.0

    @property
    def recall(self) -> float:
        return self.correct / self.expected if self.expected else 0.0

    def line(self, label: str) -> str:
        return (
            f"{label}: precision {self.precision:.3f}, recall {self.recall:.3f} ({self.correct} cells right of "
            f"{self.predicted} extracted and {self.expected} expected)"
        )


def load_expected(path: Path) -> list[dict[str, Any]]:
    """The ``deals:`` list of a hand-checked table."""
    import yaml

    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict) or not isinstance(data.get("deals"), list):
        from policyqa.errors import ConfigError

        raise ConfigError(f"{path}: expected a YAML mapping with a 'deals:' list")
    return data["deals"]


def score(deals: Sequence[Deal], expected: Sequence[dict[str, Any]]) -> Score:
    """Field-level scores of an extracted table against the expected rows."""
    result = Score()
    found = {_key(d.company, d.instrument): d for d in deals}
    wanted = {_key(row["company"], row["instrument"]): row for row in expected}
    for key, row in wanted.items():
        deal = found.get(key)
        if deal is None:
            result.problems.append(f"missing row {key}")
        for name, want in row["fields"].items():
            result.expected += 1
            got = deal.value(name) if deal else ""
            if got and field_matches(name, got, want):
                result.correct += 1
            elif deal is not None:
                result.problems.append(f"{key} {name}: got {got!r}, want {want!r}")
    for key, extracted in found.items():
        cells = {name: extracted.value(name) for name in SCORED if extracted.value(name)}
        result.predicted += len(cells) or 1
        if key not in wanted:
            result.problems.append(f"unexpected row {key}: {cells}")
            continue
        extra = {name: value for name, value in cells.items() if name not in wanted[key]["fields"]}
        result.problems.extend(f"{key} {name}: extra {value!r}" for name, value in extra.items())
    return result


def field_matches(name: str, got: str, want: Any) -> bool:
    """Whether an extracted cell says what the hand-checked table says."""
    if name == "mineral":
        named = {m.strip().lower() for m in got.split(",") if m.strip()}
        return bool(named) and named <= {m.lower() for m in want}
    if isinstance(want, list):
        return any(field_matches(name, got, w) for w in want)
    want = str(want)
    if name in ("amount", "stake_percent", "share", "term"):
        return _number(got) == _number(want)
    if name == "agency":
        return _agency(got) == _agency(want)
    if name == "location":
        return _state(got) == _state(want)
    if name == "counterparty":
        return _names(got) == _names(want)
    return got.strip() == want.strip()


def _key(company: str, instrument: str) -> tuple[str, str]:
    return re.sub(r"[\s–—-]+", " ", company.lower()).strip(), instrument.lower()


def _number(text: str) -> tuple[float, str] | None:
    match = re.search(r"\d[\d,]*(?:\.\d+)?", text)
    if match is None:
        return None
    value = float(match.group(0).replace(",", ""))
    lowered = text.lower()
    value *= 1e9 if "billion" in lowered else 1e6 if "million" in lowered else 1
    unit = re.search(r"per (\w+)", lowered)
    return value, unit.group(1) if unit else ""


def _agency(text: str) -> str:
    lowered = text.lower()
    return next((family for family, pattern in _AGENCY_FAMILIES if re.search(pattern, lowered)), lowered)


def _state(text: str) -> str:
    match = re.search(_STATES, text.lower())
    return match.group(0) if match else text.lower()


def _names(text: str) -> set[str]:
    return {n.strip().lower() for n in re.split(r",|\band\b", text) if n.strip()}
