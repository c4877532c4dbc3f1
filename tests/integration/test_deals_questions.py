"""List and comparison questions answered from the deal table (tests/eval/deals_questions.yaml), on the starter
corpus (fast tier) and on minerals-dev (eval tier): the rows asked for, every cell citing the sentence it states."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
import yaml

from assistant.deals import Deal, answer_from_deals, complete_chunks, deals_from_chunks
from policyqa.settings import Settings
from policyqa.store import CorpusStore
from policyqa.types import Answer, StoredChunk
from tests.integration.deals_corpus import ROOT, corpus_settings, corpus_store, ingest_with_fake_model  # noqa: F401 - fixtures

QUESTIONS = yaml.safe_load((ROOT / "tests" / "eval" / "deals_questions.yaml").read_text(encoding="utf-8"))["questions"]
MINERALS_DEV = ROOT.parent / "shared" / "datasets" / "minerals-dev" / "docs"
_ROW = re.compile(r"^\| (?!Company|---)(.*) \|$", re.M)


@pytest.fixture(scope="module")
def starter(corpus_store: CorpusStore) -> tuple[list[Deal], dict[str, StoredChunk]]:  # noqa: F811
    chunks = complete_chunks(corpus_store)
    return deals_from_chunks(chunks), {c.chunk_id: c for c in chunks}


@pytest.fixture(scope="module")
def minerals_dev(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[list[Deal], dict[str, StoredChunk]]]:
    if not MINERALS_DEV.is_dir():
        pytest.skip(f"minerals-dev is not at {MINERALS_DEV} (../shared/datasets/minerals-dev from the repository)")
    settings = Settings(store_dir=tmp_path_factory.mktemp("mdevq") / "store", collection="deals-mdevq", chroma_url=None)
    store = ingest_with_fake_model(settings, MINERALS_DEV)
    try:
        chunks = complete_chunks(store)
        yield deals_from_chunks(chunks), {c.chunk_id: c for c in chunks}
    finally:
        store.close()


def table_rows(answer: Answer) -> list[list[str]]:
    return [[c.strip() for c in m.group(1).split(" | ")] for m in _ROW.finditer(answer.text)]


def check(question: dict[str, Any], deals: list[Deal], chunks: dict[str, StoredChunk]) -> None:
    answer = answer_from_deals(question["question"], deals, chunks)
    if question.get("table") is False:
        assert answer is None, f"{question['id']}: answered from the table:\n{answer.text if answer else ''}"
        return
    assert answer is not None, f"{question['id']}: not answered from the table"
    rows = table_rows(answer)
    numbers = {c.number for c in answer.citations}
    for row in rows:
        for cell in row:
            if cell != "–":
                cited = re.findall(r"\[(\d+)\]", cell)
                assert cited and all(int(n) in numbers for n in cited), f"{question['id']}: uncited cell {cell!r}"
    for c in answer.citations:
        assert c.chunk.text[c.quote_start : c.quote_end] == c.quote and c.quote, f"{question['id']}: citation {c}"
    got = {(re.sub(r"\s*\[\d+\]", "", r[0]), re.sub(r"\s*\[\d+\]", "", r[1])) for r in rows}
    wanted = {tuple(r) for r in question["rows"]}
    assert wanted <= got, f"{question['id']}: missing {wanted - got}\n{answer.text}"
    if question.get("only"):
        assert got == wanted, f"{question['id']}: extra rows {got - wanted}\n{answer.text}"
    for fact in question.get("facts", []):
        assert fact in answer.text, f"{question['id']}: {fact!r} not in\n{answer.text}"


@pytest.mark.parametrize("question", [q for q in QUESTIONS if q["corpus"] == "starter"], ids=lambda q: q["id"])
def test_starter_questions(question: dict[str, Any], starter: tuple[list[Deal], dict[str, StoredChunk]]) -> None:
    check(question, *starter)


@pytest.mark.eval
@pytest.mark.parametrize("question", [q for q in QUESTIONS if q["corpus"] == "minerals-dev"], ids=lambda q: q["id"])
def test_minerals_dev_questions(
    question: dict[str, Any], minerals_dev: tuple[list[Deal], dict[str, StoredChunk]]
) -> None:
    check(question, *minerals_dev)
