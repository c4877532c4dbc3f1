"""The real Streamlit server with the real model, driven by headless Chromium: ask, open a source, upload a file."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.app_fixtures import (
    SCRIPT,
    STAKE_QUESTION,
    STAKE_SENTENCE,
    UPLOAD_BODY,
    UPLOAD_NAME,
    write_corpus,
)
from tests.conftest import ROOT, free_port, wait_for_port

pytestmark = [pytest.mark.browser, pytest.mark.model]

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--no-first-run"]
MODEL_LOAD_MS = 120_000  # the first page load builds the Assistant: model load plus store open
ANSWER_MS = 60_000


@dataclass
class Server:
    url: str
    store_dir: Path
    log: Path
    page_errors: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)

    def log_tail(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")[-3000:]


def server_env(store_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("POLICYQA_")}
    env.update(POLICYQA_STORE_DIR=str(store_dir), HF_HUB_OFFLINE="1", PYTHONPATH=str(ROOT))
    return env


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """The small corpus ingested with the real model by the CLI, then `streamlit run` on a free loopback port."""
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is missing: install Debian's chromium (apt-get install -y chromium)")
    pytest.importorskip("playwright.sync_api", reason="the playwright Python package is not installed")
    root = tmp_path_factory.mktemp("browser")
    store_dir = root / "store"
    env = server_env(store_dir)
    write_corpus(root / "docs")
    ingest = subprocess.run(
        [sys.executable, "-m", "policyqa_cli", "ingest", str(root / "docs")],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=600,
    )
    assert ingest.returncode == 0, f"ingest failed: {ingest.stdout}\n{ingest.stderr}"
    assert ingest.stdout.strip().splitlines()[-1].startswith("4 added"), f"ingest: {ingest.stdout}"

    port = free_port()
    log_path = root / "streamlit.log"
    log = open(log_path, "wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "streamlit_app.py", "--server.address", "127.0.0.1",
         "--server.port", str(port), "--server.headless", "true", "--browser.gatherUsageStats", "false",
         "--server.fileWatcherType", "none"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
    )
    try:
        try:
            wait_for_port(port, timeout=60, proc=proc)
        except (RuntimeError, TimeoutError) as exc:
            pytest.fail(f"streamlit did not start ({exc}): {log_path.read_text(errors='replace')[-3000:]}")
        yield Server(url=f"http://127.0.0.1:{port}", store_dir=store_dir, log=log_path)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=15)
        log.close()


@pytest.fixture
def page(server: Server) -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            tab = browser.new_page(viewport={"width": 1400, "height": 1000})
            tab.on("pageerror", lambda exc: server.page_errors.append(str(exc)))
            tab.on("dialog", lambda dialog: (server.dialogs.append(dialog.message), dialog.dismiss()))
            yield tab
        finally:
            browser.close()


def test_ask_open_the_source_upload_a_file_and_take_a_screenshot(
    server: Server, page: object, tmp_path: Path
) -> None:
    from playwright.sync_api import Page, expect

    assert isinstance(page, Page)
    page.goto(server.url)
    chat = page.get_by_test_id("stChatInputTextArea")
    expect(chat).to_be_visible(timeout=MODEL_LOAD_MS)

    # Ask: an answer with a [1] marker and a Sources list.
    chat.fill(STAKE_QUESTION)
    chat.press("Enter")
    answer = page.get_by_test_id("stChatMessage").filter(has_text="Sources")
    try:
        expect(answer).to_have_count(1, timeout=ANSWER_MS)
    except AssertionError as exc:
        page.screenshot(path=str(tmp_path / "no-answer.png"), full_page=True)
        raise AssertionError(f"no answer with sources; server log: {server.log_tail()}") from exc
    expect(answer).to_contain_text("[1]")
    expect(answer).to_contain_text("10% stake")

    # Open the source: the cited sentence is highlighted.
    source = answer.get_by_test_id("stExpander").filter(has_text="[1] Trilogy Metals stake").first
    source.locator("summary").click()
    mark = source.locator("mark").first
    expect(mark).to_be_visible()
    expect(mark).to_contain_text(STAKE_SENTENCE)
    background = mark.evaluate("e => getComputedStyle(e).backgroundColor")
    assert background not in ("rgba(0, 0, 0, 0)", "transparent"), f"<mark> has no visible highlight: {background}"

    # Upload through the sidebar and add it to the corpus.
    upload = tmp_path / UPLOAD_NAME
    upload.write_bytes(UPLOAD_BODY)
    sidebar = page.get_by_test_id("stSidebar")
    documents = sidebar.get_by_test_id("stMetric").filter(has_text="Documents")
    expect(documents).to_contain_text("4")
    sidebar.locator("input[type=file]").set_input_files(str(upload))
    add = sidebar.get_by_role("button", name="Add to the corpus")
    expect(add).to_be_visible(timeout=ANSWER_MS)
    add.click()
    expect(sidebar.get_by_text(re.compile(rf"added\s+{re.escape(UPLOAD_NAME)}"))).to_be_visible(timeout=ANSWER_MS)
    expect(documents).to_contain_text("5", timeout=ANSWER_MS)
    # The rerun empties the uploader, so the button goes; waiting for that also waits for the run to finish.
    expect(add).to_have_count(0, timeout=ANSWER_MS)
    assert (server.store_dir / "uploads" / UPLOAD_NAME).is_file(), "the upload should be saved under the store"

    shot = tmp_path / "policyqa.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.is_file() and shot.stat().st_size > 0, f"no screenshot at {shot}"
    assert server.dialogs == [], f"a dialog opened (document markup ran?): {server.dialogs}"


def test_markup_inside_a_document_shows_as_text_and_never_runs(server: Server, page: object, tmp_path: Path) -> None:
    from playwright.sync_api import Page, expect

    assert isinstance(page, Page)
    page.goto(server.url)
    chat = page.get_by_test_id("stChatInputTextArea")
    expect(chat).to_be_visible(timeout=MODEL_LOAD_MS)

    chat.fill("Where can I read more about the Zephyr Lithium plant?")
    chat.press("Enter")
    reply = page.get_by_test_id("stChatMessage").nth(1)
    expect(reply).to_contain_text("Zephyr Lithium plant", timeout=ANSWER_MS)
    expect(page.get_by_test_id("stChatMessage")).to_have_count(2, timeout=ANSWER_MS)  # the run has finished
    for summary in reply.locator("[data-testid=stExpander] summary").all():
        summary.click()

    expect(page.get_by_text(SCRIPT).first).to_be_visible()
    assert page.locator("a[href^='javascript' i]").count() == 0, "a javascript: link was rendered"
    scripts = page.locator("script").evaluate_all(
        "els => els.map(e => e.textContent).filter(t => t.includes('alert(1)'))"
    )
    assert scripts == [], f"document script reached the DOM: {scripts}"
    assert server.dialogs == [], f"a dialog opened: {server.dialogs}"
    page.screenshot(path=str(tmp_path / "hostile.png"), full_page=True)
