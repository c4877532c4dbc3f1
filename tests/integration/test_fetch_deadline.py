"""`policyqa fetch --timeout` bounds a whole download: a server dripping one byte every 2 s cannot hold it."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from tests.conftest import ROOT

DRIP_EVERY_S = 2.0
TIMEOUT_S = 3
BODY = b"# Slow\n\nA document served one byte at a time, far too slowly to wait for.\n"


def _drip(conn: socket.socket, data: bytes, stop: threading.Event) -> None:
    for i in range(len(data)):
        if stop.wait(DRIP_EVERY_S):
            return
        conn.sendall(data[i : i + 1])


@pytest.fixture(params=["body", "headers"])
def drip_url(request: pytest.FixtureRequest) -> Iterator[str]:
    """A loopback server that sends its headers at once and then drips the body, or drips the headers too."""
    head = (
        b"HTTP/1.1 200 OK\r\nContent-Type: text/markdown\r\nContent-Length: "
        + str(len(BODY)).encode()
        + b"\r\n\r\n"
    )
    listener = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            with conn:
                try:
                    conn.recv(65536)
                    if request.param == "body":
                        conn.sendall(head)
                        _drip(conn, BODY, stop)
                    else:
                        _drip(conn, head + BODY, stop)
                except OSError:
                    pass

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}/slow.md"
    finally:
        stop.set()
        listener.close()
        thread.join(timeout=5)


def test_fetch_from_a_slow_drip_server_fails_near_the_timeout(drip_url: str, tmp_path: Path) -> None:
    sources = tmp_path / "sources.yaml"
    sources.write_text(yaml.safe_dump({"documents": [{"url": drip_url, "title": "Slow", "doc_type": "article"}]}))
    env = {**os.environ, "PYTHONPATH": str(ROOT), "NO_PROXY": "*", "no_proxy": "*"}
    command = [
        sys.executable, "-m", "policyqa_cli", "--store-dir", str(tmp_path / "store"), "fetch", "--sources",
        str(sources), "--dest", str(tmp_path / "dest"), "--timeout", str(TIMEOUT_S), "--retries", "0", "-q",
    ]

    started = time.monotonic()
    result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    elapsed = time.monotonic() - started

    assert result.returncode == 1, result.stdout + result.stderr
    assert f"timed out after {TIMEOUT_S} s" in result.stderr, result.stderr
    # The whole body would take len(BODY) * 2 s (over 2 minutes); process start-up is the rest of the margin.
    assert elapsed < TIMEOUT_S + 10, f"fetch took {elapsed:.1f} s with --timeout {TIMEOUT_S}"
    assert not list((tmp_path / "dest").glob("*.md")), "nothing partial may be kept"
