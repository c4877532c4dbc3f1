"""`policyqa fetch` against a real HTTP server on loopback: caching, retries, redirects, content types, the CLI."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml
from click.testing import CliRunner, Result

from ingest.fetch import CACHE_NAME, FetchOutcome, FetchReport, fetch_sources, load_sources
from ingest.metadata import read_sidecar
from policyqa_cli import main
from policyqa.errors import ConfigError
from policyqa.settings import Settings
from policyqa.store import open_store
from tests.builders import write_html, write_pdf
from tests.fakes import FakeEmbedder

ROOT = Path(__file__).resolve().parents[2]
USER_AGENT = "policyqa-tests/1.0 (qa@example.org)"
TIMEOUT_S = 0.5
RETRIES = 1
BACKOFF_S = 0.01
SLOW_S = 10.0  # far beyond TIMEOUT_S; the wait is cut short when the server stops
ETAG = '"policy-v1"'
LAST_MODIFIED = "Thu, 10 Jul 2025 09:30:00 GMT"
MARKDOWN = b"# Notice\n\nThe Department of Energy closed the Thacker Pass loan in October 2025.\n"
NOTES = b"Trilogy Metals granted the federal government a 10 percent stake.\n"

# path -> (title, doc_type, expected status, expected suffix or a fragment of the failure message)
DOCUMENTS = {
    "/policy": ("Executive Order 14241: Mineral Production", "policy", "downloaded", ".html"),
    "/filing.pdf": ("MP Materials Form 8-K", "filing", "downloaded", ".pdf"),
    "/flaky": ("DOE loan notice", "article", "downloaded", ".md"),
    "/download/notes.txt": ("Trilogy Metals stake", "article", "downloaded", ".txt"),
    "/moved": ("Executive Order 14241 (old address)", "policy", "downloaded", ".html"),
    "/missing": ("A page that is gone", "other", "failed", "HTTP 404"),
    "/slow": ("A server that never answers", "other", "failed", f"timed out after {TIMEOUT_S:g} s after 2 attempts"),
    "/logo": ("Not a document", "other", "failed", "not a document (Content-Type image/png)"),
}
GOOD = [p for p, (_, _, status, _) in DOCUMENTS.items() if status == "downloaded"]


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    """requests honours proxy variables; a proxy must never stand between the tests and the loopback server."""
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")


@dataclass
class Server:
    url: str
    requests: list[tuple[str, dict[str, str]]] = field(default_factory=list)  # (path, headers) in arrival order
    lock: threading.Lock = field(default_factory=threading.Lock)

    def hits(self, path: str) -> list[dict[str, str]]:
        with self.lock:
            return [headers for p, headers in self.requests if p == path]


@pytest.fixture
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A threaded HTTP server on a free loopback port serving every case ``DOCUMENTS`` lists."""
    files = tmp_path_factory.mktemp("served")
    page = write_html(
        files / "policy.html", "Executive Order 14241",
        {"Purpose": ["The order expands domestic production of tungsten, copper and critical minerals."]},
    ).read_bytes()
    pdf_text = "MP Materials agreed a price floor for NdPr oxide with the Department of Defense."
    pdf = write_pdf(files / "filing.pdf", [pdf_text], title="MP Materials 8-K").read_bytes()
    stop = threading.Event()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:  # keep pytest output clean
            pass

        def send(self, status: int, body: bytes = b"", content_type: str | None = None, **headers: str) -> None:
            self.send_response(status)
            if content_type:
                self.send_header("Content-Type", content_type)
            for name, value in headers.items():
                self.send_header(name.replace("_", "-"), value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:
            path = urlsplit(self.path).path
            with state.lock:
                state.requests.append((path, dict(self.headers.items())))
                count = len([p for p, _ in state.requests if p == path])
            try:
                self.route(path, count)
            except (BrokenPipeError, ConnectionResetError):  # the client gave up (the timeout case)
                pass

        def route(self, path: str, count: int) -> None:
            if path == "/policy":
                if self.headers.get("If-None-Match") == ETAG:
                    self.send(304, ETag=ETAG)
                else:
                    self.send(200, page, "text/html; charset=utf-8", ETag=ETAG)
            elif path == "/filing.pdf":
                if self.headers.get("If-Modified-Since") == LAST_MODIFIED:
                    self.send(304)
                else:
                    self.send(200, pdf, "application/pdf", Last_Modified=LAST_MODIFIED)
            elif path == "/flaky":  # no validators: the second run relies on the content hash
                self.send(503, b"busy", "text/plain") if count == 1 else self.send(200, MARKDOWN, "text/markdown")
            elif path == "/download/notes.txt":
                self.send(200, NOTES, "application/octet-stream")
            elif path == "/moved":
                self.send(302, Location="/policy")
            elif path == "/slow":
                stop.wait(SLOW_S)
                self.send(200, b"too late", "text/plain")
            elif path == "/logo":
                self.send(200, b"\x89PNG\r\n\x1a\n" + bytes(64), "image/png")
            else:
                self.send(404, b"not found", "text/plain")

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state = Server(url=f"http://127.0.0.1:{httpd.server_address[1]}")
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        stop.set()
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


def write_sources(path: Path, server: Server, paths: list[str]) -> Path:
    documents = [
        {"url": server.url + p, "title": DOCUMENTS[p][0], "doc_type": DOCUMENTS[p][1],
         "published": "2025-07-10", "publisher": "Test Publisher"}
        for p in paths
    ]
    path.write_text(yaml.safe_dump({"documents": documents}, sort_keys=False))
    return path


@pytest.fixture
def sources(tmp_path: Path, server: Server) -> Path:
    return write_sources(tmp_path / "sources.yaml", server, list(DOCUMENTS))


def fetch(sources: Path, dest: Path, **kwargs: object) -> FetchReport:
    options: dict[str, object] = {
        "user_agent": USER_AGENT, "timeout": TIMEOUT_S, "retries": RETRIES, "backoff_s": BACKOFF_S,
    }
    return fetch_sources(sources, dest, **{**options, **kwargs})  # type: ignore[arg-type]


def by_path(report: FetchReport) -> dict[str, FetchOutcome]:
    return {urlsplit(o.url).path: o for o in report.outcomes}


def stamps(folder: Path) -> dict[str, int]:
    return {p.name: p.stat().st_mtime_ns for p in folder.iterdir() if not p.name.startswith(".")}


def test_fetch_reports_one_outcome_per_url(server: Server, sources: Path, tmp_path: Path) -> None:
    dest = tmp_path / "fetched"
    progress: list[tuple[int, int]] = []
    report = fetch(sources, dest, on_progress=lambda p: progress.append((p.done, p.total)))

    outcomes = by_path(report)
    assert list(outcomes) == list(DOCUMENTS), "one outcome per URL, in the sources' order"
    for path, (_, _, status, expected) in DOCUMENTS.items():
        outcome = outcomes[path]
        assert outcome.status == status, f"{path}: {outcome}"
        if status == "failed":
            assert expected in outcome.message, f"{path}: unclear failure message {outcome.message!r}"
            assert outcome.path is None and "\n" not in outcome.message
        else:
            assert outcome.path and Path(outcome.path).suffix == expected, f"{path}: wrong file type {outcome.path}"
            assert Path(outcome.path).parent == dest
    assert not report.ok and report.count("failed") == 3
    assert progress == [(n, len(DOCUMENTS)) for n in range(1, len(DOCUMENTS) + 1)]

    assert outcomes["/moved"].final_url == server.url + "/policy", "the final URL of a redirect is reported"
    assert "redirected to" in outcomes["/moved"].message
    assert len(server.hits("/flaky")) == 2, "a 503 is retried once and then succeeds"
    assert len(server.hits("/slow")) == RETRIES + 1, "a timeout is retried, then reported"
    assert len(server.hits("/missing")) == 1, "a 404 is not retried"
    assert Path(outcomes["/filing.pdf"].path).read_bytes().startswith(b"%PDF-")
    assert Path(outcomes["/flaky"].path).read_bytes() == MARKDOWN


def test_sidecars_carry_the_sources_metadata(sources: Path, tmp_path: Path, server: Server) -> None:
    report = fetch(sources, tmp_path / "fetched")
    for path in GOOD:
        outcome = by_path(report)[path]
        fields = read_sidecar(Path(outcome.path))
        title, doc_type, _, _ = DOCUMENTS[path]
        assert fields == {
            "title": title, "doc_type": doc_type, "published": "2025-07-10",
            "publisher": "Test Publisher", "sources": [server.url + path],
        }, f"{path}: sidecar {fields}"
    assert Path(by_path(report)["/policy"].path).name == "executive-order-14241-mineral-production.html"


def test_user_agent_is_sent_with_every_request(sources: Path, tmp_path: Path, server: Server) -> None:
    fetch(sources, tmp_path / "fetched")
    agents = {headers.get("User-Agent") for _, headers in server.requests}
    assert agents == {USER_AGENT}, f"the server saw {agents}"


def test_second_run_is_unchanged_and_rewrites_nothing(sources: Path, tmp_path: Path, server: Server) -> None:
    dest = tmp_path / "fetched"
    fetch(sources, dest)
    before = stamps(dest)
    first_requests = len(server.requests)

    report = fetch(sources, dest)

    outcomes = by_path(report)
    for path in GOOD:
        assert outcomes[path].status == "unchanged", f"{path}: {outcomes[path]}"
    assert stamps(dest) == before, "nothing in the folder was rewritten"
    policy = [h for p, h in server.requests[first_requests:] if p == "/policy"]
    assert policy and all(h.get("If-None-Match") == ETAG for h in policy), "the cached ETag was sent"
    assert server.hits("/filing.pdf")[-1].get("If-Modified-Since") == LAST_MODIFIED
    cache = json.loads((dest / CACHE_NAME).read_text())
    assert cache["documents"][server.url + "/policy"]["etag"] == ETAG


def test_identical_content_is_unchanged_even_without_the_cache_index(tmp_path: Path, server: Server) -> None:
    sources = write_sources(tmp_path / "sources.yaml", server, GOOD)
    dest = tmp_path / "fetched"
    fetch(sources, dest)
    before = stamps(dest)
    (dest / CACHE_NAME).unlink()

    report = fetch(sources, dest)

    assert {o.status for o in report.outcomes} == {"unchanged"}, report.outcomes
    assert stamps(dest) == before, "identical bytes are not rewritten"
    assert "If-None-Match" not in server.hits("/policy")[-1], "without the index there is nothing to be conditional on"


def test_a_deleted_file_is_downloaded_again(tmp_path: Path, server: Server) -> None:
    sources = write_sources(tmp_path / "sources.yaml", server, ["/policy"])
    dest = tmp_path / "fetched"
    first = Path(by_path(fetch(sources, dest))["/policy"].path)
    first.unlink()

    outcome = by_path(fetch(sources, dest))["/policy"]

    assert outcome.status == "downloaded" and Path(outcome.path).is_file()
    assert "If-None-Match" not in server.hits("/policy")[-1], "no 304 may be asked for without a copy"


def test_file_names_cannot_escape_the_folder(tmp_path: Path, server: Server) -> None:
    sources = tmp_path / "sources.yaml"
    sources.write_text(yaml.safe_dump({"documents": [
        {"url": server.url + "/policy", "title": "../../../etc/passwd"},
        {"url": server.url + "/download/notes.txt", "title": "/.."},
    ]}))
    dest = tmp_path / "fetched"
    report = fetch(sources, dest)
    names = sorted(Path(o.path).name for o in report.outcomes if o.path)
    assert names == ["etc-passwd.html", "notes.txt"], names
    assert all(Path(o.path).parent == dest for o in report.outcomes if o.path)


def run(*args: str) -> Result:
    return CliRunner().invoke(main, list(args))


def test_cli_prints_outcomes_and_exits_1_on_failures(sources: Path, tmp_path: Path, server: Server) -> None:
    result = run(
        "fetch", "--sources", str(sources), "--dest", str(tmp_path / "fetched"), "--user-agent", USER_AGENT,
        "--timeout", str(TIMEOUT_S), "--retries", "0", "--backoff", "0",
    )
    assert result.exit_code == 1, result.output
    assert "downloaded executive-order-14241-mineral-production.html" in result.stdout
    assert "failed     " + server.url + "/missing: HTTP 404" in result.stderr
    assert "image/png" in result.stderr and "timed out" in result.stderr
    assert f"{server.url}/flaky: HTTP 503 Service Unavailable" in result.stderr, "--retries 0 means one attempt"
    assert "4 downloaded, 0 unchanged, 4 failed" in result.stdout.splitlines()[-1]


def test_cli_ingest_stores_the_downloaded_documents(
    tmp_path: Path, server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("policyqa.embedding.load_embedder", lambda settings: FakeEmbedder(max_tokens=128))
    monkeypatch.setenv("POLICYQA_FETCH_USER_AGENT", USER_AGENT)
    sources = write_sources(tmp_path / "sources.yaml", server, GOOD)

    result = run("fetch", "--sources", str(sources), "--ingest", "--backoff", "0")

    assert result.exit_code == 0, result.output
    assert {h.get("User-Agent") for _, h in server.requests} == {USER_AGENT}, "the setting supplies the User-Agent"
    assert "5 added" in result.stdout.splitlines()[-1], result.stdout
    settings = Settings()
    assert (settings.store_dir / "fetched" / CACHE_NAME).is_file(), "the default folder is STORE_DIR/fetched"
    store = open_store(settings)
    try:
        records = {r.meta.title: r.meta for r in store.documents()}
    finally:
        store.close()
    assert set(records) == {DOCUMENTS[p][0] for p in GOOD}, records
    filing = records["MP Materials Form 8-K"]
    assert filing.doc_type.value == "filing" and filing.published == "2025-07-10"
    assert filing.sources == (server.url + "/filing.pdf",)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (None, "sources file not found"),
        ("documents: [unclosed", "malformed sources file"),
        ("- just a list", "`documents:` list"),
        ("documents:\n  - title: No address\n", "`url` must be an http(s) address"),
        ("documents:\n  - url: ftp://example.org/a\n    title: FTP\n", "`url` must be an http(s) address"),
        ("documents:\n  - url: https://example.org/a\n", "`title` is missing"),
        ("documents:\n  - url: https://example.org/a\n    title: A\n    published: someday\n", "not a date"),
        ("documents:\n  - {url: 'https://a.org/', title: A}\n  - {url: 'https://a.org/', title: B}\n", "listed twice"),
    ],
)
def test_load_sources_rejects_bad_files_clearly(tmp_path: Path, text: str | None, message: str) -> None:
    path = tmp_path / "sources.yaml"
    if text is not None:
        path.write_text(text)
    with pytest.raises(ConfigError, match=re.escape(message)) as raised:
        load_sources(path)
    assert str(path) in str(raised.value), "the error names the file"


def test_cli_reports_a_missing_sources_file_in_one_line(tmp_path: Path) -> None:
    result = run("fetch", "--sources", str(tmp_path / "nope.yaml"), "--dest", str(tmp_path / "out"))
    assert result.exit_code == 1
    assert result.stderr.strip() == f"error: {tmp_path / 'nope.yaml'}: sources file not found"


def test_every_url_in_the_real_sources_file_parses() -> None:
    path = ROOT / "corpus" / "sources.yaml"
    raw = yaml.safe_load(path.read_text())["documents"]
    for item in raw:
        parts = urlsplit(item["url"])
        assert parts.scheme == "https" and parts.hostname, f"not an https address: {item['url']}"
    entries = load_sources(path)
    assert [e.url for e in entries] == [item["url"] for item in raw]
    assert all(e.title and e.published for e in entries)
