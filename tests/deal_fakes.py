"""An in-process chat model that answers the deal reader from a script: the reply is a function of the passage."""

from __future__ import annotations

import html
import json
import re
from collections.abc import Callable
from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatResult

_PASSAGE = re.compile(r'<passage title="([^"]*)" published="([^"]*)">\n(.*)\n</passage>', re.S)


class ScriptedDealModel(BaseChatModel):
    """Replies with ``script(passage_text)`` (a JSON-able list of deals); counts the passages it was asked about."""

    script: Callable[[str], list[dict[str, Any]]]
    asked: list[str] = []

    @property
    def _llm_type(self) -> str:
        return "scripted-deals"

    def _generate(self, messages: list[BaseMessage], stop: list[str] | None = None, run_manager: Any = None,
                  **kwargs: Any) -> ChatResult:
        user = "\n".join(str(m.content) for m in messages if m.type == "human")
        found = _PASSAGE.search(user)
        passage = html.unescape(found.group(3)) if found else ""
        self.asked.append(passage)
        reply = json.dumps(self.script(passage))
        return ChatResult(generations=[ChatGeneration(message=AIMessage(content=reply))])


def squash(text: str) -> str:
    return " ".join(text.split())


def labelled_model(rows: list[dict[str, Any]], published: dict[str, str | None]) -> ScriptedDealModel:
    """A careful model simulated from a hand-labelled deal table (tests/eval/deals_*.yaml with ``evidence``): for a
    passage holding a row's evidence sentence, it answers that row's values stated in that sentence, quoting it.
    ``published`` maps a document's file name to its publication date (a deal with no date in its sentence is dated
    by its document, as the prompt asks)."""

    def script(passage: str) -> list[dict[str, Any]]:
        squashed = squash(passage)
        deals = []
        for row in rows:
            sentences: dict[str, list[str]] = {}
            for name, sentence in row.get("evidence", {}).items():
                if not sentence.startswith("(published"):
                    sentences.setdefault(sentence, []).append(name)
            for sentence, names in sentences.items():
                if squash(sentence) not in squashed:
                    continue
                deal: dict[str, Any] = {"company": row["company"], "instrument": row["instrument"], "quote": sentence}
                for name in names:
                    value = row["fields"].get(name)
                    if name in row["fields"]:
                        deal[name] = value[0] if isinstance(value, list) and name != "mineral" else value
                if "date" not in deal and "date" in row["fields"]:
                    deal["date"] = published.get(row.get("document", "")) or row["fields"]["date"]
                deals.append(deal)
        return deals

    return ScriptedDealModel(script=script)
