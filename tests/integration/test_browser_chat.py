"""The chat as a person uses it, in headless Chromium against the real server: a citation opens its page, a
reload finds the chat, two questions sent at once are both answered, and nothing is fetched from another host."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.app_fixtures import STAKE_QUESTION, STAKE_SENTENCE, WORKERS_QUESTION, WORKERS_SENTENCE
from tests.integration.test_browser import (  # noqa: F401  (fixtures)
    ANSWER_MS,
    MODEL_LOAD_MS,
    Server,
    page,
    server,
)

pytestmark = [pytest.mark.browser, pytest.mark.model]

FILING_QUESTION = "What stake will the Pentagon hold in MP Materials?"


def open_chat(page: object, url: str) -> object:
    from playwright.sync_api import Page, expect

    assert isinstance(page, Page)
    page.goto(url)
    chat = page.get_by_test_id("stChatInputTextArea")
    expect(chat).to_be_visible(timeout=MODEL_LOAD_MS)
    return chat


def test_clicking_a_citation_shows_the_cited_pdf_page_with_the_passage_marked(
    server: Server, page: object, tmp_path: Path
) -> None:
    from playwright.sync_api import Page, expect

    assert isinstance(page, Page)
    chat = open_chat(page, server.url)
    chat.fill(FILING_QUESTION)  # type: ignore[attr-defined]
    chat.press("Enter")  # type: ignore[attr-defined]
    answer = page.get_by_test_id("stChatMessage").filter(has_text="Sources")
    expect(answer).to_have_count(1, timeout=ANSWER_MS)
    expect(answer).to_contain_text("15% stake")

    marker = answer.locator("a", has_text="[1]").first
    expect(marker).to_be_visible()
    with page.context.expect_page() as opened:  # Streamlit opens Markdown links in a new tab
        marker.click()
    tab = opened.value
    dialog = tab.get_by_role("dialog")
    expect(dialog).to_be_visible(timeout=MODEL_LOAD_MS)
    expect(dialog).to_contain_text("MP Materials 8-K")
    expect(dialog).to_contain_text("Page 1 of 1")
    image = dialog.locator("img").first
    expect(image).to_be_visible()
    width = image.evaluate("img => img.complete ? img.naturalWidth : 0")
    assert width > 500, f"the page image did not load (natural width {width})"
    expect(dialog.get_by_text("the cited passage is marked")).to_be_visible()
    tab.screenshot(path=str(tmp_path / "citation.png"))

    # The same source opens in place from the Sources list.
    source = answer.get_by_test_id("stExpander").filter(has_text="[1] MP Materials 8-K").first
    source.locator("summary").click()
    source.get_by_role("button", name="Show page 1").click()
    in_place = page.get_by_role("dialog")
    expect(in_place.locator("img").first).to_be_visible(timeout=ANSWER_MS)
    assert server.dialogs == [], f"a browser dialog opened: {server.dialogs}"


def test_a_reload_finds_the_chat_and_two_quick_questions_are_both_answered(
    server: Server, page: object, tmp_path: Path
) -> None:
    from playwright.sync_api import Page, expect

    assert isinstance(page, Page)
    chat = open_chat(page, server.url)
    chat.fill(STAKE_QUESTION)  # type: ignore[attr-defined]
    chat.press("Enter")  # type: ignore[attr-defined]
    # Half a second: the first answer is under way. The page before the queue lost the first question at this
    # timing (its answer was cut off by the rerun the second question starts).
    page.wait_for_timeout(500)
    chat.fill(WORKERS_QUESTION)  # type: ignore[attr-defined]
    chat.press("Enter")  # type: ignore[attr-defined]

    messages = page.get_by_test_id("stChatMessage")
    try:
        expect(messages.filter(has_text="Sources")).to_have_count(2, timeout=ANSWER_MS)
    except AssertionError as exc:
        page.screenshot(path=str(tmp_path / "queue.png"), full_page=True)
        raise AssertionError(f"both questions should be answered; server log: {server.log_tail()}") from exc
    expect(messages).to_have_count(4)
    expect(messages.nth(0)).to_contain_text(STAKE_QUESTION)
    expect(messages.nth(1)).to_contain_text(STAKE_SENTENCE)
    expect(messages.nth(2)).to_contain_text(WORKERS_QUESTION)
    expect(messages.nth(3)).to_contain_text(WORKERS_SENTENCE)
    assert "chat=" in page.url, f"the chat should have an address: {page.url}"

    page.reload()
    expect(page.get_by_test_id("stChatInputTextArea")).to_be_visible(timeout=MODEL_LOAD_MS)
    expect(messages).to_have_count(4, timeout=ANSWER_MS)
    expect(messages.nth(1)).to_contain_text(STAKE_SENTENCE)
    listed = page.get_by_test_id("stSidebar").get_by_role("button", name=STAKE_QUESTION)
    expect(listed).to_be_visible()

    # A new session without the address finds the chat in the list and opens it.
    open_chat(page, server.url)
    expect(messages).to_have_count(0)
    page.get_by_test_id("stSidebar").get_by_role("button", name=STAKE_QUESTION).click()
    expect(messages).to_have_count(4, timeout=ANSWER_MS)


def test_no_page_fetches_anything_from_another_host(server: Server, page: object) -> None:
    from playwright.sync_api import Page, expect

    assert isinstance(page, Page)
    requests: list[str] = []
    page.context.on("request", lambda request: requests.append(request.url))
    chat = open_chat(page, server.url)
    chat.fill(STAKE_QUESTION)  # type: ignore[attr-defined]
    chat.press("Enter")  # type: ignore[attr-defined]
    expect(page.get_by_test_id("stChatMessage").filter(has_text="Sources")).to_have_count(1, timeout=ANSWER_MS)
    for name in ("Documents", "Deals", "Evaluation", "Chat"):
        page.get_by_test_id("stSidebarNav").get_by_role("link", name=name).click()
        expect(page.get_by_role("heading", level=2).first).to_be_visible(timeout=ANSWER_MS)
        page.wait_for_load_state("networkidle")

    own = urlsplit(server.url).netloc
    assert requests, "no requests were seen: the check proves nothing"
    elsewhere = sorted({u for u in requests if urlsplit(u).scheme in ("http", "https", "ws", "wss")
                        and urlsplit(u).netloc != own})
    assert elsewhere == [], f"the page fetched from other hosts (offline it would fail): {elsewhere}"


def test_the_page_view_steps_through_a_pdf_and_back_to_the_cited_page(
    server: Server, page: object, tmp_path: Path
) -> None:
    from playwright.sync_api import Page, expect

    from tests.builders import write_pdf

    assert isinstance(page, Page)
    pdf = write_pdf(
        tmp_path / "niobium-filing.pdf",
        ["The niobium mine in Nebraska will cost $1.2 billion to build.", "Appendix: the site plan of the mine."],
        title="Niobium filing",
    )
    chat = open_chat(page, server.url)
    sidebar = page.get_by_test_id("stSidebar")
    sidebar.locator("input[type=file]").set_input_files(str(pdf))
    add = sidebar.get_by_role("button", name="Add to the corpus")
    expect(add).to_be_visible(timeout=ANSWER_MS)
    add.click()
    expect(add).to_have_count(0, timeout=ANSWER_MS)

    chat.fill("How much will the niobium mine in Nebraska cost to build?")  # type: ignore[attr-defined]
    chat.press("Enter")  # type: ignore[attr-defined]
    answer = page.get_by_test_id("stChatMessage").filter(has_text="Sources")
    expect(answer).to_have_count(1, timeout=ANSWER_MS)
    source = answer.get_by_test_id("stExpander").filter(has_text="Niobium filing").first
    source.locator("summary").click()
    source.get_by_role("button", name="Show page 1").click()

    dialog = page.get_by_role("dialog")
    expect(dialog).to_contain_text("Page 1 of 2", timeout=ANSWER_MS)
    expect(dialog.get_by_text("the cited passage is marked")).to_be_visible()
    dialog.get_by_role("button", name="Next page").click()
    expect(dialog).to_contain_text("Page 2 of 2", timeout=ANSWER_MS)
    expect(dialog.get_by_text("the cited passage is marked")).to_have_count(0)
    expect(dialog.locator("img").first).to_be_visible()
    dialog.get_by_role("button", name="Previous page").click()
    expect(dialog).to_contain_text("Page 1 of 2 · cited page", timeout=ANSWER_MS)
