"""The table check of tests/answer_checks.py passes a table whose every figure is in its cited quote, and fails
one with an invented figure, an uncited cell or prose outside the table."""

from __future__ import annotations

import pytest

from policyqa.types import Answer, Citation, DocType, Passage, StoredChunk
from tests.answer_checks import unsupported_cells

TEXT = "The Department of War will invest $400 million in Northwind Minerals on July 10, 2025."


def table_answer(cells: str, intro: str = "The documents state 1 deal:") -> Answer:
    chunk = StoredChunk(
        chunk_id="d:00000", doc_id="d", index=0, text=TEXT, page=None, start=0, end=len(TEXT), headings=(),
        title="D", doc_type=DocType.ARTICLE, published="2025-07-11", source="/d.md",
    )
    citation = Citation(number=1, passage=Passage(chunk=chunk, score=1.0), quote_start=0, quote_end=len(TEXT))
    text = f"{intro}\n\n| Company | Amount | Agency | Date |\n|---|---|---|---|\n{cells}"
    return Answer(text=text, citations=(citation,), answerable=True, query="q")


def test_a_table_whose_figures_are_in_their_quotes_passes() -> None:
    answer = table_answer("| Northwind Minerals [1] | $400 million [1] | Department of Defense [1] | 2025-07-10 [1] |")
    assert unsupported_cells(answer) == []


@pytest.mark.parametrize(
    ("cells", "intro"),
    [
        ("| Northwind Minerals [1] | $450 million [1] | Department of Defense [1] | 2025-07-10 [1] |", "Deals:"),
        ("| Northwind Minerals [1] | $400 million | Department of Defense [1] | 2025-07-10 [1] |", "Deals:"),
        ("| Northwind Minerals [1] | $400 million [1] | Department of Defense [1] | 2024-01-02 [1] |", "Deals:"),
        ("| Northwind Minerals [1] | $400 million [2] | Department of Defense [1] | 2025-07-10 [1] |", "Deals:"),
        ("| Northwind Minerals [1] | $400 million [1] | Department of Defense [1] | 2025-07-10 [1] |", "It is big."),
    ],
    ids=["invented figure", "uncited cell", "wrong date", "no such citation", "uncited prose"],
)
def test_a_table_with_an_unsupported_cell_fails(cells: str, intro: str) -> None:
    assert unsupported_cells(table_answer(cells, intro)), cells
