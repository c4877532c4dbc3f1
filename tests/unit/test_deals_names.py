"""The deal tracker knows no company, project or place of the starter corpus: a name from corpus/ in its code fails.

Names come from the starter corpus itself: the companies, places and counterparties of its hand-checked deal table
(tests/eval/deals_expected.yaml), its tickers ("(NYSE: MP)"), and the projects, sites and places it names ("10X
Facility", "Thacker Pass", "Humboldt County"). The rest of assistant/ is scanned by the answerer's own test.
"""

from __future__ import annotations

import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
CORPUS = ROOT / "corpus"
DEAL_CODE = ROOT / "assistant" / "deals"
_SITE = re.compile(
    r"\b((?:[A-Z0-9][\w-]*\s){0,2}[A-Z0-9][\w-]*)\s+(?:Facility|Pass|Projects?|Mine|District|Road|County)\b"
)
_TICKER = re.compile(r"\((?:NYSE(?: American)?|Nasdaq|TSX|ASX):\s*([A-Z]+)\)")
_NOT_NAMES = {"The", "A", "An", "Mining", "Mineral", "Critical", "Road", "Access", "Industrial"}


def corpus_names() -> set[str]:
    names: set[str] = set()
    table = yaml.safe_load((ROOT / "tests" / "eval" / "deals_expected.yaml").read_text(encoding="utf-8"))
    for row in table["deals"]:
        names.update(re.split(r"\s*[–-]\s*|\s+joint venture", row["company"]))
        for field in ("location", "counterparty"):
            value = row["fields"].get(field)
            for v in value if isinstance(value, list) else [value] if value else []:
                names.update(p.strip() for p in re.split(r",|\band\b", str(v)))
    for path in CORPUS.rglob("*"):
        if path.suffix not in (".md", ".html", ".yaml"):
            continue
        text = path.read_text(encoding="utf-8", errors="replace")
        names.update(m.group(1) for m in _TICKER.finditer(text))
        for m in _SITE.finditer(text):
            words = m.group(1).split()
            while words and words[0] in _NOT_NAMES:
                words.pop(0)
            if words:
                names.add(" ".join(words))
    return {n for n in names if n and len(n) >= 2 and n not in _NOT_NAMES}


def test_the_name_list_is_read_from_the_corpus() -> None:
    names = corpus_names()

    assert {"MP Materials", "Lithium Americas", "Trilogy Metals", "Thacker Pass", "10X", "MP"} <= names, sorted(names)


def test_no_name_of_the_starter_corpus_appears_in_the_deal_code() -> None:
    names = corpus_names()
    found = []
    for path in sorted(DEAL_CODE.rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        for name in names:
            for m in re.finditer(rf"(?<![\w-]){re.escape(name)}(?![\w-])", text):
                line = text.count("\n", 0, m.start()) + 1
                found.append(f"{path.relative_to(ROOT)}:{line}: {name}")

    assert DEAL_CODE.is_dir() and list(DEAL_CODE.rglob("*.py")), "the deal package is where this test looks"
    assert not found, "names of the starter corpus in the deal code:\n" + "\n".join(found)
