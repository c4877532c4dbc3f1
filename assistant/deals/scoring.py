"""Field-level precision and recall, and deal recall, of a deal table against a hand-checked one
(tests/eval/deals_expected.yaml, tests/eval/deals_minerals_dev.yaml).

How cells are compared is documented in the header of those files: amounts, percentages and terms as numbers,
agencies by family (the vocabulary's canonical name of the department), places by U.S. state (other places by
name), minerals as a subset of the accepted names, counterparties as a set. Every non-empty extracted cell counts as
a prediction, those of unexpected rows included; a row that is not expected, or has no scored cell, counts once.
A deal is recalled when a row with its company and instrument is extracted.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from assistant.deals.model import Deal
from assistant.deals.recognisers import agency_family
from policyqa import text as lang

SCORED = ("mineral", "amount", "stake_percent", "share", "term", "agency", "counterparty", "date", "location")


@dataclass
class Score:
    """Cells right, cells extracted, cells expected; ``problems`` says what differed."""

    correct: int = 0
    predicted: int = 0
    expected: int = 0
    problems: list[str] = field(default_factory=list)
    deals_expected: int = 0
    deals_found: int = 0  # expected deals with a row
    rows: int = 0  # rows extracted

    @property
    def deal_recall(self) -> float:
        return self.deals_found / self.deals_expected if self.deals_expected else 0.0

    @property
    def precision(self) -> float:
        return self.correct / self.predicted if self.predicted else 0.0

    @property
    def recall(self) -> float:
        return self.correct / self.expected if self.expected else 0.0

    def line(self, label: str) -> str:
        return (
            f"{label}: cell precision {self.precision:.3f}, cell recall {self.recall:.3f} ({self.correct} cells right "
            f"of {self.predicted} extracted and {self.expected} expected); deal recall {self.deal_recall:.3f} "
            f"({self.deals_found} of {self.deals_expected} deals, {self.rows} rows)"
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
    result.deals_expected, result.rows = len(wanted), len(found)
    for key, row in wanted.items():
        deal = found.get(key)
        if deal is None:
            result.problems.append(f"missing row {key}")
        else:
            result.deals_found += 1
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
        return _place(got, want)
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
    return agency_family(text)


def _place(got: str, want: str) -> bool:
    """The same U.S. state, or (for places abroad) the wanted place named."""
    got_state, want_state = lang.US_STATE.search(got), lang.US_STATE.search(want)
    if got_state or want_state:
        return bool(got_state and want_state and got_state.group(0) == want_state.group(0))
    return bool(want.strip()) and want.strip().lower() in got.lower()


def _names(text: str) -> set[str]:
    return {n.strip().lower() for n in re.split(r",|\band\b", text) if n.strip()}
