"""Load through the real Streamlit server: many browser sessions asking at once, timed from Enter to the answer.

Usage: python benchmarks/load_ui.py [--sessions 8] [--questions 50] [--store DIR] [--json PATH]
                                    [--new-chat-every 10] [--baseline 10] [--timeout 60]

Ingests corpus/ into a temporary store (unless --store names one) with `policyqa_cli ingest`, starts
`streamlit run streamlit_app.py` on a free loopback port, and drives Debian's chromium (/usr/bin/chromium)
with Playwright's async API: one browser, one context and page per session (each its own Streamlit session,
so its own Conversation on the server's one cached Assistant). Each session asks ``--questions`` questions in
turn: the first questions of the conversations in tests/eval/questions.yaml (no follow-ups), cycling, each
session starting at a different offset. All sessions start together once their pages are loaded.

A question is timed from pressing Enter until its answer is complete: the turn's assistant message (number
2k+2 in a chat holding k turns) shows the "Sources" heading (a cited answer), or "Related passages" (a
refusal), or, for a refusal without related passages, its "Searched for:" expander. These come from
render_turn, in the rerun after the streamed answer is stored, so the answer text is on screen by then.
The script then waits, untimed, for the turn's feedback thumbs (the end of render_turn) before the next
question. Long histories slow every rerun, so each session clicks "New chat" every ``--new-chat-every``
questions, as users do.

Errors: a Streamlit exception element, an "**Error:**" line in the answer, or no answer within ``--timeout``
seconds; the page is then reloaded (a fresh session) and the questions go on. Before the concurrent run, one
session asks the first ``--baseline`` questions alone. Prints sessions, questions, errors, p50/p95/max
latency, throughput, wall time and load averages; exits 1 if any question failed. The browser shares the
machine's cores with the server, so on a small machine its rendering is part of what is measured.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import asdict, dataclass, field
from pathlib import Path
from types import FrameType

from _common import ROOT, fmt, load_average, p50, percentile, table
from playwright.async_api import Browser, Locator, Page, async_playwright
from playwright.async_api import TimeoutError as PlaywrightTimeout

from assistant.evalset import load_question_set

PLACEHOLDER = "Ask a question about the documents"
MESSAGES = '[data-testid="stChatMessage"]'
EXCEPTION = '[data-testid="stException"]'
FEEDBACK = '[data-testid="stFeedback"]'


@dataclass
class Result:
    session: int
    question: str
    seconds: float | None  # None when the question failed
    outcome: str  # "cited", "refused" or "error"
    detail: str = ""


@dataclass
class Run:
    label: str
    sessions: int
    questions: int
    seconds: float = 0.0
    results: list[Result] = field(default_factory=list)

    @property
    def latencies(self) -> list[float]:
        return [r.seconds for r in self.results if r.seconds is not None]

    @property
    def errors(self) -> list[Result]:
        return [r for r in self.results if r.outcome == "error"]

    def row(self) -> list[str]:
        answered = len(self.latencies)
        refusals = sum(r.outcome == "refused" for r in self.results)
        return [
            self.label, f"{self.sessions} x {self.questions}", str(answered), str(len(self.errors)), str(refusals),
            fmt(p50(self.latencies)), fmt(percentile(self.latencies, 95)), fmt(max(self.latencies, default=None)),
            fmt(answered / self.seconds if self.seconds else None), fmt(self.seconds, 1),
        ]


# -- questions -------------------------------------------------------------------------------------------


def first_questions(path: Path) -> list[str]:
    """The questions that open a conversation (no ``follows``), in file order."""
    return [q.question for q in load_question_set(path).questions if q.follows is None]


def plan(questions: list[str], count: int, offset: int) -> list[str]:
    return [questions[(offset + i) % len(questions)] for i in range(count)]


# -- server ----------------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def ingest(env: dict[str, str]) -> None:
    subprocess.run([sys.executable, "-m", "policyqa_cli", "ingest", "-q", str(ROOT / "corpus")], env=env, check=True)


def start_server(env: dict[str, str], port: int, log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:  # the child keeps its own handle
        return subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", str(ROOT / "streamlit_app.py"), "--server.address",
             "127.0.0.1", "--server.port", str(port), "--server.headless", "true"],
            env=env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT,
        )


def wait_until_up(url: str, server: subprocess.Popen[bytes], timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if server.poll() is not None:
            raise RuntimeError(f"the Streamlit server exited with code {server.returncode}")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            if time.monotonic() > deadline:
                raise
        time.sleep(0.2)


def stop_server(server: subprocess.Popen[bytes]) -> None:
    server.terminate()
    try:
        server.wait(timeout=20)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait()


def tail(path: Path, lines: int = 30) -> str:
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) if path.exists() else ""


# -- one session -----------------------------------------------------------------------------------------


async def open_page(browser: Browser, url: str) -> Page:
    """A new browser context (its own Streamlit session) with the app loaded and the chat input ready."""
    context = await browser.new_context()
    page = await context.new_page()
    await reload(page, url)
    return page


async def reload(page: Page, url: str) -> None:
    await page.goto(url, timeout=120_000)
    await page.get_by_placeholder(PLACEHOLDER).wait_for(timeout=120_000)


async def new_chat(page: Page, timeout_ms: float) -> None:
    await page.get_by_role("button", name="New chat").click(timeout=timeout_ms)
    deadline = time.monotonic() + timeout_ms / 1000
    while await page.locator(MESSAGES).count():
        if time.monotonic() > deadline:
            raise TimeoutError("the chat did not empty after New chat")
        await asyncio.sleep(0.05)


def turn_markers(page: Page, reply: Locator) -> Locator:
    """Whatever ends the wait for a turn: its completion headings, an error line, or an exception anywhere."""
    done = (
        reply.get_by_text("Sources", exact=True)
        .or_(reply.get_by_text("Related passages", exact=True))
        .or_(reply.get_by_text("Searched for:"))
    )
    return done.or_(reply.get_by_text("Error:", exact=True)).or_(page.locator(EXCEPTION))


async def ask(page: Page, session: int, question: str, turns: int, timeout_ms: float) -> Result:
    """Ask one question in a chat holding ``turns`` turns; time Enter to the completed answer."""
    box = page.get_by_placeholder(PLACEHOLDER)
    await box.fill(question, timeout=timeout_ms)
    reply = page.locator(MESSAGES).nth(2 * turns + 1)
    started = time.perf_counter()
    await box.press("Enter")
    await turn_markers(page, reply).first.wait_for(timeout=timeout_ms)
    seconds = time.perf_counter() - started
    if await page.locator(EXCEPTION).count():
        text = await page.locator(EXCEPTION).first.inner_text()
        return Result(session, question, None, "error", f"Streamlit exception: {text[:500]}")
    if await reply.get_by_text("Error:", exact=True).count():
        return Result(session, question, None, "error", (await reply.inner_text())[:500])
    await reply.locator(FEEDBACK).wait_for(timeout=timeout_ms)  # the turn is fully rendered; not timed
    if question not in await page.locator(MESSAGES).nth(2 * turns).inner_text():
        return Result(session, question, None, "error", f"turn {turns + 1} on screen is not this question")
    cited = await reply.get_by_text("Sources", exact=True).count()
    return Result(session, question, seconds, "cited" if cited else "refused")


def describe(exc: Exception, timeout_ms: float) -> str:
    """One line: Playwright's messages go on with a long call log."""
    if isinstance(exc, (PlaywrightTimeout, TimeoutError)):
        return f"timeout: nothing within {timeout_ms / 1000:g} s ({str(exc).splitlines()[0][:200]})"
    return f"{type(exc).__name__}: {(str(exc).splitlines() or [''])[0][:300]}"


async def run_session(page: Page, url: str, session: int, questions: list[str], every: int, timeout_ms: float
                      ) -> list[Result]:
    results: list[Result] = []
    turns = 0
    for i, question in enumerate(questions):
        try:
            if every and i and i % every == 0 and turns:
                await new_chat(page, timeout_ms)
                turns = 0
            result = await ask(page, session, question, turns, timeout_ms)
        except Exception as exc:  # a timeout or a broken page: counted, and the session goes on
            result = Result(session, question, None, "error", describe(exc, timeout_ms))
        results.append(result)
        turns += 1
        if result.outcome == "error":
            try:
                await reload(page, url)  # a fresh session: the chat is empty again
            except Exception as exc:
                lost = f"session lost, the page did not reload: {describe(exc, timeout_ms)}"
                return results + [Result(session, q, None, "error", lost) for q in questions[i + 1:]]
            turns = 0
    return results


# -- runs ------------------------------------------------------------------------------------------------


async def run_sessions(browser: Browser, url: str, plans: list[list[str]], label: str, every: int,
                       timeout_ms: float) -> Run:
    """Open one page per plan, then let all of them ask at once; wall time counts from the start together."""
    pages = await asyncio.gather(*(open_page(browser, url) for _ in plans))
    run = Run(label, len(plans), len(plans[0]) if plans else 0)
    started = time.perf_counter()
    per_session = await asyncio.gather(
        *(run_session(page, url, n, questions, every, timeout_ms) for n, (page, questions) in
          enumerate(zip(pages, plans, strict=True)))
    )
    run.seconds = time.perf_counter() - started
    run.results = [r for results in per_session for r in results]
    for page in pages:
        await page.context.close()
    return run


async def measure(args: argparse.Namespace, url: str) -> tuple[Run, Run, str, str]:
    questions = first_questions(args.question_set)
    timeout_ms = args.timeout * 1000
    plans = [plan(questions, args.questions, n * len(questions) // args.sessions) for n in range(args.sessions)]
    async with async_playwright() as p:
        browser = await p.chromium.launch(
            executable_path=args.chromium,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"],
        )
        before = load_average()
        baseline = await run_sessions(browser, url, [plan(questions, args.baseline, 0)], "one session alone",
                                      args.new_chat_every, timeout_ms)
        loaded = await run_sessions(browser, url, plans, "concurrent sessions", args.new_chat_every, timeout_ms)
        after = load_average()
        await browser.close()
    return baseline, loaded, before, after


# -- report ----------------------------------------------------------------------------------------------


def report(baseline: Run, loaded: Run, every: int, before: str, after: str) -> None:
    head = ["run", "sessions x questions", "answered", "errors", "refusals", "p50 s", "p95 s", "max s",
            "questions/s", "wall s"]
    print(table(head, [baseline.row(), loaded.row()]))
    print("latency: Enter to the answer's Sources (or Related passages) heading, through streamlit and chromium")
    print(f"each session clicks New chat every {every} questions, as users do (long histories slow re-rendering)"
          if every else "no New chat: each session's history grows for the whole run")
    print(f"before: {before}")
    print(f"after:  {after}")
    for error in baseline.errors + loaded.errors:
        print(f"ERROR session {error.session}: {error.question!r}: {error.detail}")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=8)
    parser.add_argument("--questions", type=int, default=50, help="questions per session")
    parser.add_argument("--store", type=Path, help="an ingested store (default: ingest corpus/ into a temp one)")
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument("--new-chat-every", type=int, default=10, help="click New chat every K questions; 0: never")
    parser.add_argument("--baseline", type=int, default=10, help="questions the single session asks alone first")
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds one answer may take")
    parser.add_argument("--question-set", type=Path, default=ROOT / "tests" / "eval" / "questions.yaml")
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    return parser.parse_args()


def exit_on_sigterm(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)  # unwinds through the finally blocks: the server stops, the temp folder goes


def main() -> int:
    args = parse_args()
    signal.signal(signal.SIGTERM, exit_on_sigterm)
    with tempfile.TemporaryDirectory(prefix="policyqa-load-ui-") as tmp:
        store = args.store.resolve() if args.store else Path(tmp) / "store"
        env = {**os.environ, "POLICYQA_STORE_DIR": str(store), "HF_HUB_OFFLINE": "1"}
        if not args.store:
            ingest(env)
        log = Path(tmp) / "streamlit.log"
        url = f"http://127.0.0.1:{free_port()}"
        server = start_server(env, int(url.rsplit(":", 1)[1]), log)
        try:
            wait_until_up(url, server)
            baseline, loaded, before, after = asyncio.run(measure(args, url))
        finally:
            stop_server(server)
        print(f"server {url}, store {store}")
        report(baseline, loaded, args.new_chat_every, before, after)
        failed = bool(baseline.errors or loaded.errors)
        if failed:
            print(f"streamlit log (last lines):\n{tail(log)}")
    if args.json:
        args.json.write_text(json.dumps({"baseline": asdict(baseline), "load": asdict(loaded),
                                         "new_chat_every": args.new_chat_every, "load_before": before,
                                         "load_after": after}, indent=2))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
