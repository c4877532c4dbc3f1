"""No knowledge of one corpus in code: names that the starter corpus gives (companies, projects, places, people)
must not appear in the product's answering, ingest or kernel code. They come from the documents, or from the
vocabulary data file a user edits (policyqa/data/vocabulary.yaml)."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
# The deal tracker's modules are also checked against its own hand-checked table (tests/unit/test_deals_names.py).
CODE = [p for folder in ("assistant", "ingest", "policyqa") for p in (ROOT / folder).rglob("*.py")]
VOCABULARY = ROOT / "policyqa" / "data" / "vocabulary.yaml"
# Words that make a capitalised run a title or an institution of the field rather than a name of this corpus.
_GENERIC = frozenset(
    """The A An And Of In On For To By With At From Department Office Secretary President Act Order Executive
    United States Federal National Government Agency Administration Bureau Council Program Programs Section Title
    Critical Minerals Mineral List Fact Sheet Form Item Note Energy Defense Interior Commerce Treasury War Loan
    Key Terms Summary Price Floor Equity Stake U.S Inc Corp Corporation Company Co LLC Ltd Group Holdings
    January February March April May June July August September October November December Source Sources Date
    What Which How Who When Where Why Under""".split()
)
_RUN = re.compile(r"\b[A-Z][a-zA-Z0-9&'-]+(?:\s+[A-Z][a-zA-Z0-9&'-]+){1,3}\b")


def corpus_names() -> set[str]:
    """Capitalised multi-word names the starter corpus uses at least twice, other than the field's vocabulary."""
    counts: Counter[str] = Counter()
    for path in (ROOT / "corpus").rglob("*"):
        if path.suffix.lower() in {".md", ".txt", ".html", ".htm"}:
            counts.update(m.group(0) for m in _RUN.finditer(path.read_text(encoding="utf-8", errors="ignore")))
    vocabulary = VOCABULARY.read_text(encoding="utf-8").lower()
    return {
        name for name, n in counts.items()
        if n >= 2 and not all(w in _GENERIC for w in name.split()) and name.lower() not in vocabulary
    }


def test_the_check_finds_names_in_the_corpus() -> None:
    names = corpus_names()
    assert len(names) >= 10, f"too few names found for the check to mean anything: {sorted(names)}"


def test_no_name_of_the_starter_corpus_appears_in_product_code() -> None:
    names = corpus_names()
    offenders = []
    for path in CODE:
        text = path.read_text(encoding="utf-8")
        offenders.extend(f"{path.relative_to(ROOT)}: {name}" for name in names if name in text)
    assert not offenders, "corpus names in code (move them to the documents or the vocabulary):\n" + "\n".join(
        sorted(offenders)
    )


def test_the_vocabulary_file_holds_no_corpus_company_names() -> None:
    data = yaml.safe_load(VOCABULARY.read_text(encoding="utf-8"))
    listed = {name.lower() for group in data.get("aliases", []) + data.get("agencies", []) for name in group}
    for company in ("mp materials", "lithium americas", "trilogy metals", "korea zinc"):
        assert company not in listed, f"{company} is a company of the starter corpus, not the field's vocabulary"
