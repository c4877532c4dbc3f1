"""Optional LLM backends (Ollama, any OpenAI-compatible server) behind the offline answerer's interfaces."""

from __future__ import annotations

import concurrent.futures
import dataclasses
import logging
import os
import re
import time
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

from assistant.grounding import verify
from assistant.prompts import (
    ANSWER_SYSTEM,
    ANSWER_USER,
    CONDENSE_SYSTEM,
    CONDENSE_USER,
    REFUSAL_TEXT,
    format_history,
    format_sources,
)
from assistant.rewrite import QueryRewriter, RuleRewriter, is_follow_up
from policyqa.errors import ConfigError, LLMUnavailable
from policyqa.types import Answer, Passage, Turn

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel

    from policyqa.embedding import TextEmbedder
    from policyqa.settings import Settings

log = logging.getLogger(__name__)

_REFUSAL = re.compile(
    r"\b(?:documents|sources|passages)\s+(?:do|does)\s+not\s+(?:answer|contain|say|mention)|\bcannot answer\b", re.I
)
_URL = re.compile(r"\b(?:https?://|javascript:|data:[\w/+.-]+[;,])\S*", re.I)


def make_chat_model(settings: Settings) -> BaseChatModel:
    """A langchain chat model for ``POLICYQA_LLM`` ('ollama:MODEL' or 'openai:MODEL'); providers load lazily."""
    spec = settings.llm or ""
    provider, _, model = spec.partition(":")
    if not model:
        raise ConfigError(f"POLICYQA_LLM={spec!r}: use 'ollama:MODEL' or 'openai:MODEL'")
    if provider == "openai":
        try:
            from langchain_openai import ChatOpenAI
        except ImportError as exc:
            raise ConfigError("POLICYQA_LLM=openai:... needs the package langchain-openai") from exc
        key = settings.llm_api_key or os.environ.get("OPENAI_API_KEY") or "not-needed"
        return ChatOpenAI(
            model=model, base_url=settings.llm_base_url, api_key=key, timeout=settings.llm_timeout_s,
            max_retries=0, temperature=0,
        )
    if provider == "ollama":
        try:
            from langchain_ollama import ChatOllama
        except ImportError as exc:
            raise ConfigError("POLICYQA_LLM=ollama:... needs the package langchain-ollama") from exc
        return ChatOllama(
            model=model, base_url=settings.llm_base_url or "http://127.0.0.1:11434", temperature=0,
            client_kwargs={"timeout": settings.llm_timeout_s},
        )
    raise ConfigError(f"POLICYQA_LLM={spec!r}: unknown provider {provider!r} (use ollama or openai)")


def _messages(system: str, user: str) -> list[Any]:
    from langchain_core.messages import HumanMessage, SystemMessage

    return [SystemMessage(content=system), HumanMessage(content=user)]


def _text_of(chunk: Any) -> str:
    content = getattr(chunk, "content", chunk)
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(part.get("text", "") if isinstance(part, dict) else str(part) for part in content)
    return str(content or "")


class LLMAnswerer:
    """Streams an LLM's cited answer, then verifies every claim; falls back to the offline answer on failure."""

    def __init__(
        self,
        model: BaseChatModel,
        embedder: TextEmbedder,
        settings: Settings,
        *,
        fallback: Any,
        name: str | None = None,
    ) -> None:
        self.model = model
        self.embedder = embedder
        self.settings = settings
        self.fallback = fallback
        self.name = name or settings.llm or "llm"

    def answer(
        self, question: str, query: str, passages: Sequence[Passage], *, query_vector: Sequence[float] | None = None
    ) -> Answer:
        result: Answer | None = None
        for event in self.stream(question, query, passages, query_vector=query_vector):
            if isinstance(event, Answer):
                result = event
        assert result is not None
        return result

    def stream(
        self, question: str, query: str, passages: Sequence[Passage], *, query_vector: Sequence[float] | None = None
    ) -> Iterator[str | Answer]:
        if not passages:
            yield from self.fallback.stream(question, query, passages, query_vector=query_vector)
            return
        messages = _messages(ANSWER_SYSTEM, ANSWER_USER.format(sources=format_sources(passages), question=question))
        pieces: list[str] = []
        try:
            for piece in self._stream_with_deadline(messages):
                pieces.append(piece)
                yield piece
            text = "".join(pieces).strip()
            if not text:
                raise LLMUnavailable("the language model returned an empty answer")
        except Exception as exc:  # any failure of the backend: the user gets the offline answer
            reason = exc if isinstance(exc, LLMUnavailable) else f"{type(exc).__name__}: {str(exc)[:160]}"
            log.warning("LLM answer failed: %s", reason)
            notice = f"The language model ({self.name}) failed ({reason}); the offline answer is shown instead."
            if pieces:
                yield "\n\n"
            yield from self._fallback(question, query, passages, query_vector, notice)
            return
        yield self._finish(text, query, passages)

    def _stream_with_deadline(self, messages: list[Any]) -> Iterator[str]:
        """The model's stream, abandoned when ``llm_timeout_s`` passes (a stalled server cannot hang the chat)."""
        deadline = time.monotonic() + self.settings.llm_timeout_s
        pool = concurrent.futures.ThreadPoolExecutor(max_workers=1)
        iterator = iter(self.model.stream(messages))
        try:
            while True:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise LLMUnavailable(f"no complete answer within {self.settings.llm_timeout_s:g} s")
                future = pool.submit(next, iterator, None)
                try:
                    chunk = future.result(timeout=remaining)
                except concurrent.futures.TimeoutError:
                    raise LLMUnavailable(f"no complete answer within {self.settings.llm_timeout_s:g} s") from None
                if chunk is None:
                    return
                text = _text_of(chunk)
                if text:
                    yield text
        finally:
            pool.shutdown(wait=False, cancel_futures=True)

    def _fallback(
        self, question: str, query: str, passages: Sequence[Passage], query_vector: Sequence[float] | None, notice: str
    ) -> Iterator[str | Answer]:
        for event in self.fallback.stream(question, query, passages, query_vector=query_vector):
            if isinstance(event, Answer):
                yield dataclasses.replace(event, notice=notice)
            else:
                yield event

    def _finish(self, text: str, query: str, passages: Sequence[Passage]) -> Answer:
        if _REFUSAL.search(text) and "[" not in text:
            return Answer(
                text=REFUSAL_TEXT + " The closest passages are listed below as related reading.",
                citations=(), answerable=False, query=query, backend=self.name, related=tuple(passages[:3]),
            )
        text = _URL.sub("[link removed]", text)
        grounded = verify(text, passages, self.embedder)
        notice = None
        if grounded.dropped_markers:
            missing = ", ".join(f"[{m}]" for m in grounded.dropped_markers)
            notice = f"Citation markers {missing} pointed to no source and were removed."
        return Answer(
            text=grounded.text,
            citations=grounded.citations,
            answerable=bool(grounded.citations),
            query=query,
            backend=self.name,
            notice=notice,
            related=() if grounded.citations else tuple(passages[:3]),
            support=grounded.report,
        )


class LLMRewriter:
    """Condenses a follow-up into a standalone question with the LLM; rule-based when that fails."""

    def __init__(self, model: BaseChatModel, *, timeout_s: float, fallback: QueryRewriter | None = None) -> None:
        self.model = model
        self.timeout_s = timeout_s
        self.fallback = fallback or RuleRewriter()

    def rewrite(self, question: str, history: Sequence[Turn]) -> str:
        if not history or not is_follow_up(question):
            return question
        messages = _messages(CONDENSE_SYSTEM, CONDENSE_USER.format(history=format_history(history), question=question))
        try:
            reply = ask_within(self.model, messages, self.timeout_s).strip()
            text = reply.strip('"').splitlines()[0].strip() if reply else ""
        except Exception as exc:
            log.warning("LLM rewrite failed, using the rule-based rewriter: %s", exc)
            text = ""
        return text[:500] if text else self.fallback.rewrite(question, history)


def ask_within(model: BaseChatModel, messages: list[Any], timeout_s: float) -> str:
    """The model's reply text, abandoned after ``timeout_s`` (the call itself may block far longer).

    Raises:
        LLMUnavailable: no reply in time; and whatever the model's client raises.
    """
    pool = concurrent.futures.ThreadPoolExecutor(max_workers=1)
    try:
        reply = pool.submit(model.invoke, messages).result(timeout=timeout_s)
    except concurrent.futures.TimeoutError:
        raise LLMUnavailable(f"no answer within {timeout_s:g} s") from None
    except Exception as exc:
        # The client's own timeout (set to the same limit) can fire first on a busy machine: the same event.
        if "timeout" in type(exc).__name__.lower() or isinstance(exc, TimeoutError):
            raise LLMUnavailable(f"no answer within {timeout_s:g} s") from None
        raise
    finally:
        pool.shutdown(wait=False, cancel_futures=True)
    return _text_of(reply)
