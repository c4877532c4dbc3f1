"""Every example question in README.md, asked through the real app (AppTest) with the real model over corpus/,
comes back with the fact the README gives after its arrow (or, for "no answer", a refusal).

The examples are read from the README's "What you can ask" list, so the README and this test cannot drift apart.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from ingest.pipeline import ingest_paths
from policyqa.settings import Settings
from policyqa.store import open_store
from tests.conftest import ROOT

pytestmark = [pytest.mark.model]

APP = str(ROOT / "streamlit_app.py")
README = ROOT / "README.md"
REFUSAL = "do not answer"
_PAIR = re.compile(r"\*(?P<question>[^*]+\?)\*\s*→\s*(?P<fact>[^;(\n]+)")


def readme_examples() -> list[list[tuple[str, str]]]:
    """The conversations of the README's example list: each bullet is one chat of (question, fact) turns."""
    text = README.read_text(encoding="utf-8")
    section = text.split("## What you can ask", 1)[1].split("\n## ", 1)[0]
    chats = []
    for line in section.splitlines():
        if line.startswith("- ") and "→" in line:
            chats.append([(m.group("question").strip(), m.group("fact").strip()) for m in _PAIR.finditer(line)])
    return chats


def shown_texts(app: AppTest) -> dict[str, list[str]]:
    """The text of every message the page shows, by kind of element (answers, notices, refusals)."""
    return {kind: [str(e.value) for e in getattr(app, kind)] for kind in ("markdown", "info", "warning", "caption")}


def test_the_readme_lists_examples_with_facts() -> None:
    chats = readme_examples()
    assert len(chats) >= 4 and all(chats), f"examples read from the README: {chats}"
    assert any(len(chat) == 2 for chat in chats), "at least one example is a follow-up"


@pytest.fixture(scope="module")
def store_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("readme") / "store"
    settings = Settings(store_dir=folder)
    store = open_store(settings)
    report = ingest_paths([ROOT / "corpus"], settings, store=store)
    store.close()
    assert report.ok, report.summary()
    return folder


@pytest.fixture
def app(store_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[AppTest]:
    monkeypatch.setenv("POLICYQA_STORE_DIR", str(store_dir))
    st.cache_resource.clear()
    at = AppTest.from_file(APP, default_timeout=120).run()
    assert not at.exception, at.exception
    yield at
    st.cache_resource.clear()


@pytest.mark.parametrize("chat", readme_examples(), ids=lambda chat: chat[0][0][:40])
def test_each_readme_example_comes_back_with_its_fact(app: AppTest, chat: list[tuple[str, str]]) -> None:
    for turn, (question, fact) in enumerate(chat, start=1):
        before = {kind: len(texts) for kind, texts in shown_texts(app).items()}
        app.chat_input[0].set_value(question).run()
        assert not app.exception, app.exception
        new = [t for kind, texts in shown_texts(app).items() for t in texts[before.get(kind, 0):]]
        shown = " ".join(new).replace("\\", "")
        if fact.startswith("no answer"):
            assert REFUSAL in shown, f"turn {turn} {question!r} should be refused; shown: {shown[:500]!r}"
        else:
            assert fact in shown, f"turn {turn} {question!r} should state {fact!r}; shown: {shown[:800]!r}"
