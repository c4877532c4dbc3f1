"""A small mixed-format corpus for the UI tests (AppTest and the browser), with facts each test can ask about."""

from __future__ import annotations

from pathlib import Path

from tests.builders import write_html, write_markdown, write_pdf, write_sidecar
from tests.fakes import FakeEmbedder

# Passages must hold whole sentences for the offline answerer; 64 tokens (the fake's default) cuts them apart.
FAKE_MAX_TOKENS = 256

STAKE_QUESTION = "How big is the government's stake in Trilogy Metals?"
STAKE_SENTENCE = "The Department of Defense will take a 10% stake in Trilogy Metals for $35.6 million."
ROAD_FOLLOW_UP = "What road was approved the same day?"
ROAD_SENTENCE = "The Ambler Road to the mining district was approved on October 6, 2025."
FILING_SENTENCE = "The Pentagon will hold a 15% stake in MP Materials after the investment."
WORKERS_QUESTION = "How many workers does the Zephyr Lithium plant employ?"
WORKERS_SENTENCE = "The Zephyr Lithium plant in Nevada employs 450 workers."
UNANSWERABLE_QUESTION = "Who won the 1998 World Cup final in football?"
SCRIPT = "<script>alert(1)</script>"
JS_LINK = "[click](javascript:alert(1))"

UPLOAD_NAME = "cobalt-note.md"
UPLOAD_BODY = b"# Cobalt refinery\n\nThe Harlow cobalt refinery in Ohio opened on May 2, 2025 with 120 jobs.\n"
UPLOAD_QUESTION = "When did the Harlow cobalt refinery open?"


def write_corpus(folder: Path) -> list[Path]:
    """Four documents: an article (Markdown), an order (HTML), a filing (PDF) and an article with hostile markup."""
    folder.mkdir(parents=True, exist_ok=True)
    trilogy = write_markdown(
        folder / "trilogy-stake.md",
        f"# Trilogy Metals stake\n\n{STAKE_SENTENCE} The stake was announced on October 6, 2025.\n\n"
        f"## Ambler Road\n\n{ROAD_SENTENCE}\n",
        front_matter={"title": "Trilogy Metals stake", "doc_type": "article", "published": "2025-10-06"},
    )
    order = write_html(
        folder / "eo-14241.html",
        "Executive Order 14241",
        {"Purpose": ["Executive Order 14241 expands domestic production of tungsten and copper.",
                     "The order was signed on March 20, 2025."]},
    )
    write_sidecar(order, {"doc_type": "policy", "published": "2025-03-20"})
    filing = write_pdf(
        folder / "mp-materials-8k.pdf",
        ["MP Materials will receive a $400 million preferred equity investment from the Department of Defense. "
         + FILING_SENTENCE],
        title="MP Materials 8-K",
    )
    write_sidecar(filing, {"doc_type": "filing", "published": "2025-07-10", "title": "MP Materials 8-K"})
    hostile = write_markdown(
        folder / "zephyr-plant.md",
        f"# Zephyr Lithium plant\n\n{WORKERS_SENTENCE} {SCRIPT} Read more {JS_LINK} about the plant.\n",
        front_matter={"title": "Zephyr Lithium plant", "doc_type": "article", "published": "2025-05-01"},
    )
    return [trilogy, order, filing, hostile]


def fake_embedder() -> FakeEmbedder:
    return FakeEmbedder(max_tokens=FAKE_MAX_TOKENS)
