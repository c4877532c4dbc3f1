"""A scripted OpenAI-compatible chat server on 127.0.0.1: real HTTP and real SSE, one scripted reply per request.

Tests script what the "model" says next (text, an HTTP error, a stall, a broken stream, nothing) and read back
every request body it received. The product talks to it through langchain-openai exactly as to a real server.
"""

from __future__ import annotations

import collections
import itertools
import json
import re
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

_SOURCE = re.compile(r'<source id="(\d+)"[^>]*>\n(.*?)\n</source>', re.S)


@dataclass(frozen=True, slots=True)
class Reply:
    """What the server does with one request; build these with the functions below."""

    text: str = ""
    status: int = 200
    delay_s: float = 0.0  # before any byte of the response is sent
    stall_s: float = 0.0  # streaming only: after the first piece, before the rest
    broken: str | None = None  # streaming only: "garbage" (invalid JSON in an SSE line) or "cut" (connection dropped)
    pieces: int = 4


Responder = Callable[[dict[str, Any]], "Reply | str"]


def text(answer: str, *, pieces: int = 4, delay_s: float = 0.0) -> Reply:
    """A normal answer; streamed as ``pieces`` SSE chunks when the request asks for a stream."""
    return Reply(text=answer, pieces=pieces, delay_s=delay_s)


def error(status: int = 500) -> Reply:
    """An HTTP error with an OpenAI-style JSON error body."""
    return Reply(status=status)


def delay(seconds: float, answer: str = "Too late.") -> Reply:
    """Wait ``seconds`` before sending anything (the shutdown of the server cuts the wait short)."""
    return Reply(text=answer, delay_s=seconds)


def stall(answer: str, seconds: float) -> Reply:
    """Stream the first piece, then go quiet for ``seconds`` before the rest."""
    return Reply(text=answer, stall_s=seconds)


def garbage(answer: str = "The answer starts well") -> Reply:
    """A stream whose second SSE event is not JSON."""
    return Reply(text=answer, broken="garbage")


def cut(answer: str = "The answer starts well and then") -> Reply:
    """A stream that sends some pieces, then drops the connection mid-body (no [DONE], no final chunk)."""
    return Reply(text=answer, broken="cut")


def empty() -> Reply:
    """A well-formed reply with no content at all."""
    return Reply(text="")


def split_pieces(answer: str, pieces: int) -> list[str]:
    """``answer`` cut into up to ``pieces`` consecutive non-empty parts (mid-word, as tokens are)."""
    n = max(1, min(pieces, len(answer)))
    bounds = [len(answer) * i // n for i in range(n + 1)]
    return [answer[a:b] for a, b in itertools.pairwise(bounds) if a < b]


def sources_of(request: dict[str, Any]) -> dict[int, str]:
    """The numbered ``<source>`` texts in a chat request's user message."""
    user = "\n".join(m["content"] for m in request.get("messages", []) if m.get("role") == "user")
    return {int(n): body for n, body in _SOURCE.findall(user)}


class ScriptedLLM:
    """The server's state as tests see it: ``url``, ``script(...)``, ``requests``."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._queue: collections.deque[Reply | str | Responder] = collections.deque()
        self.requests: list[dict[str, Any]] = []  # every JSON body received, in order
        self.headers: list[dict[str, str]] = []  # the HTTP headers of each request, lowercased names
        self.unscripted = 0  # requests that arrived after the script ran out (answered with a 500)
        self.errors: list[str] = []  # scripted callables that raised (answered with a 500 naming the error)
        self.stopping = threading.Event()
        self._httpd = _Server(("127.0.0.1", 0), _Handler)
        self._httpd.scripted = self
        host, port = self._httpd.server_address[:2]
        self.url = f"http://{host}:{port}/v1"
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, name="scripted-llm", daemon=True
        )

    def script(self, replies: Iterable[Reply | str | Responder]) -> ScriptedLLM:
        """Set the replies to the next requests, in order. A str is a text reply; a callable builds the
        reply from the request body (e.g. from the sources it was sent)."""
        with self._lock:
            self._queue = collections.deque(replies)
        return self

    @property
    def pending(self) -> int:
        """Scripted replies not used yet."""
        return len(self._queue)

    def reset(self) -> None:
        with self._lock:
            self._queue.clear()
            self.requests.clear()
            self.headers.clear()
            self.unscripted = 0
            self.errors.clear()

    def _next(self, body: dict[str, Any], headers: dict[str, str]) -> Reply:
        with self._lock:
            self.requests.append(body)
            self.headers.append(headers)
            if not self._queue:
                self.unscripted += 1
                return Reply(status=500, text="no scripted reply left for this request")
            item = self._queue.popleft()
        if callable(item):
            try:
                item = item(body)
            except Exception as exc:  # a bug in the test's responder: make it visible, not a hung client
                self.errors.append(repr(exc))
                return Reply(status=500, text=f"scripted responder failed: {exc!r}")
        return text(item) if isinstance(item, str) else item

    def start(self) -> ScriptedLLM:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.stopping.set()  # releases handlers sleeping in a delay or a stall
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False  # a handler still stalling for an abandoned client must not hold up teardown
    scripted: ScriptedLLM

    def handle_error(self, request: Any, client_address: Any) -> None:
        if not isinstance(sys.exc_info()[1], OSError):  # a client hanging up after a timeout is expected
            super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_POST(self) -> None:
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.path.rstrip("/") != "/v1/chat/completions":
            self._json(404, {"error": {"message": f"no route {self.path}", "type": "invalid_request_error"}})
            return
        try:
            body = json.loads(raw)
        except ValueError:
            self._json(400, {"error": {"message": "request body is not JSON", "type": "invalid_request_error"}})
            return
        scripted = self.server.scripted
        reply = scripted._next(body, {k.lower(): v for k, v in self.headers.items()})
        if reply.delay_s and scripted.stopping.wait(reply.delay_s):
            return
        try:
            if reply.status != 200:
                message = reply.text or f"scripted error {reply.status}"
                self._json(reply.status, {"error": {"message": message, "type": "server_error", "code": None}})
            elif body.get("stream"):
                self._stream(body, reply)
            else:
                self._json(200, _completion(body, reply.text))
        except OSError:  # the client gave up (timeout) and closed the connection
            self.close_connection = True

    def _json(self, status: int, payload: dict[str, Any]) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _stream(self, body: dict[str, Any], reply: Reply) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        pieces = split_pieces(reply.text, reply.pieces)
        events = _chunk_events(body, pieces)
        for i, event in enumerate(events):
            if reply.broken == "garbage" and i == 2:
                self._chunk(b'data: {"id": "chatcmpl-scripted", "choices": [{"delta": {"content": "oops\n\n')
                break
            if reply.broken == "cut" and i == 3:
                self.connection.shutdown(socket.SHUT_RDWR)  # mid-body: no terminating chunk, no [DONE]
                self.close_connection = True
                return
            self._chunk(f"data: {json.dumps(event)}\n\n".encode())
            if reply.stall_s and i == 1 and self.server.scripted.stopping.wait(reply.stall_s):
                return
        else:
            self._chunk(b"data: [DONE]\n\n")
        self.wfile.write(b"0\r\n\r\n")

    def _chunk(self, data: bytes) -> None:
        self.wfile.write(f"{len(data):X}\r\n".encode() + data + b"\r\n")
        self.wfile.flush()


def _completion(body: dict[str, Any], answer: str) -> dict[str, Any]:
    return {
        "id": "chatcmpl-scripted",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": body.get("model", "scripted"),
        "choices": [
            {"index": 0, "message": {"role": "assistant", "content": answer}, "finish_reason": "stop", "logprobs": None}
        ],
        "usage": {"prompt_tokens": 10, "completion_tokens": len(answer.split()), "total_tokens": 10 + len(answer.split())},
    }


def _chunk_events(body: dict[str, Any], pieces: list[str]) -> list[dict[str, Any]]:
    def event(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
        return {
            "id": "chatcmpl-scripted",
            "object": "chat.completion.chunk",
            "created": int(time.time()),
            "model": body.get("model", "scripted"),
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}],
        }

    events = [event({"role": "assistant", "content": ""})]
    events += [event({"content": piece}) for piece in pieces]
    events.append(event({}, "stop"))
    if (body.get("stream_options") or {}).get("include_usage"):
        events.append({
            "id": "chatcmpl-scripted", "object": "chat.completion.chunk", "created": int(time.time()),
            "model": body.get("model", "scripted"), "choices": [],
            "usage": {"prompt_tokens": 10, "completion_tokens": len(pieces), "total_tokens": 10 + len(pieces)},
        })
    return events


@pytest.fixture(name="llm_server")
def llm_server_fixture() -> Iterator[ScriptedLLM]:
    """``llm_server``: a fresh scripted server per test; ``Settings(llm="openai:test-model", llm_base_url=server.url)``.

    Import ``llm_server_fixture`` into a test module (or list this module in ``pytest_plugins``) to use it.
    """
    server = ScriptedLLM().start()
    try:
        yield server
    finally:
        server.stop()
