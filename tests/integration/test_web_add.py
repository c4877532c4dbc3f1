"""ingest/web.py: one document added by its address from a loopback server, through the fetch code's limits."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from ingest.metadata import read_sidecar
from ingest.pipeline import ingest_paths
from ingest.web import fetch_url
from policyqa.errors import ConfigError
from policyqa.settings import Settings
from policyqa.store import open_store
from policyqa.types import Outcome
from tests.fakes import FakeEmbedder

PAGES = {
    "/a/index.html": b"<html><head><title>Gallium note</title></head><body><main><h1>Gallium note</h1>"
                     b"<p>The gallium plant in Ohio will employ 300 people.</p></main></body></html>",
    "/b/index.html": b"<html><head><title>Cobalt note</title></head><body><main><h1>Cobalt note</h1>"
                     b"<p>The cobalt refinery opened in May.</p></main></body></html>",
    "/big.html": b"<html><body><p>" + b"word " * 300_000 + b"</p></body></html>",
}


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            body = PAGES.get(self.path)
            self.send_response(200 if body else 404)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body or b"")))
            self.end_headers()
            self.wfile.write(body or b"")

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_two_pages_with_the_same_file_name_are_both_kept_with_their_address_and_own_title(
    server: str, tmp_path: Path
) -> None:
    settings = Settings(store_dir=tmp_path / "store")

    first = fetch_url(f"{server}/a/index.html", settings, publisher="Example Office")
    second = fetch_url(f"{server}/b/index.html", settings)

    assert (first.status, second.status) == ("downloaded", "downloaded"), (first, second)
    assert first.path != second.path, "the second page overwrote the first"
    sidecar = read_sidecar(Path(first.path or ""))
    assert sidecar.get("sources") == [f"{server}/a/index.html"] and "title" not in sidecar, sidecar
    report = ingest_paths([Path(first.path or ""), Path(second.path or "")], settings, embedder=FakeEmbedder())
    assert report.ok and report.count(Outcome.ADDED) == 2, report.summary()
    store = open_store(settings)
    try:
        metas = {r.meta.title: r.meta for r in store.documents()}
    finally:
        store.close()
    assert set(metas) == {"Gallium note", "Cobalt note"}, f"each page should keep its own title: {set(metas)}"
    assert metas["Gallium note"].publisher == "Example Office"
    assert metas["Gallium note"].sources == (f"{server}/a/index.html",)


def test_the_upload_limit_applies_and_a_missing_page_is_one_line(server: str, tmp_path: Path) -> None:
    settings = Settings(store_dir=tmp_path / "store", max_upload_mb=0.5)

    big = fetch_url(f"{server}/big.html", settings, retries=0)
    missing = fetch_url(f"{server}/nowhere.html", settings, retries=0)

    assert big.status == "failed" and "0.5 MB" in big.message, big
    assert missing.status == "failed" and "404" in missing.message and "\n" not in missing.message, missing


def test_an_address_that_is_not_http_is_refused() -> None:
    with pytest.raises(ConfigError, match="not an http"):
        fetch_url("file:///etc/passwd", Settings())
