"""Time the real Streamlit server in headless Chromium: page ready (cold and warm) and first answer.

    .venv/bin/python benchmarks/ui.py [--store DIR] [--questions 5]

Ingests corpus/ into a temporary store (unless --store names one), starts `streamlit run` on a free
loopback port, and measures with Playwright and Debian's chromium (/usr/bin/chromium):
- cold: server start to chat input visible (includes loading the model once per server);
- warm: a new browser page to chat input visible, model and store already cached;
- answer: Enter to the first "Sources" heading of the answer, for each question.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
QUESTIONS = [
    "How big is the government's stake in Trilogy Metals?",
    "What price floor did DoD commit to for NdPr oxide?",
    "Where is Korea Zinc building its refinery?",
    "When was Executive Order 14241 signed?",
    "How large was the DOE loan for Thacker Pass?",
    "Which minerals were added to the 2025 critical minerals list?",
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--store", help="an already ingested store folder (default: ingest corpus/ into a temp one)")
    parser.add_argument("--questions", type=int, default=5)
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    args = parser.parse_args()

    from playwright.sync_api import sync_playwright

    tmp = tempfile.TemporaryDirectory()
    store = Path(args.store) if args.store else Path(tmp.name) / "store"
    env = {**os.environ, "POLICYQA_STORE_DIR": str(store), "HF_HUB_OFFLINE": "1"}
    if not args.store:
        subprocess.run([sys.executable, "-m", "policyqa_cli", "ingest", "-q", str(ROOT / "corpus")], env=env, check=True)
    port = free_port()
    started = time.perf_counter()
    server = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", str(ROOT / "streamlit_app.py"), "--server.address", "127.0.0.1",
         "--server.port", str(port), "--server.headless", "true"],
        env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(
                executable_path=args.chromium,
                args=["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"],
            )
            page = browser.new_page()
            while True:
                try:
                    page.goto(url, timeout=5000)
                    break
                except Exception:
                    if time.perf_counter() - started > 120:
                        raise
                    time.sleep(0.2)
            box = page.get_by_placeholder("Ask a question about the documents")
            box.wait_for(timeout=120_000)
            cold = time.perf_counter() - started
            warm_times = []
            for _ in range(3):
                fresh = browser.new_page()
                t = time.perf_counter()
                fresh.goto(url)
                fresh.get_by_placeholder("Ask a question about the documents").wait_for(timeout=60_000)
                warm_times.append(time.perf_counter() - t)
                fresh.close()
            answer_times, shown_times = [], []
            for i, question in enumerate(QUESTIONS[: args.questions]):
                box = page.get_by_placeholder("Ask a question about the documents")
                box.fill(question)
                t = time.perf_counter()
                box.press("Enter")
                reply = page.locator('[data-testid="stChatMessage"]').nth(2 * i + 1)
                reply.get_by_text("[1]").first.wait_for(timeout=60_000)
                shown_times.append(time.perf_counter() - t)
                page.get_by_text("Sources", exact=True).nth(i).wait_for(timeout=60_000)
                answer_times.append(time.perf_counter() - t)
            browser.close()
    finally:
        server.terminate()
        server.wait(timeout=20)
        tmp.cleanup()
    print(f"cold start to chat input:   {cold:6.2f} s (includes loading the model once)")
    print(f"warm page to chat input:    {statistics.median(warm_times):6.2f} s median of {len(warm_times)} (target < 5 s)")
    print(f"question to cited answer:   first {answer_times[0]:.2f} s, median {statistics.median(answer_times):.2f} s, "
          f"max {max(answer_times):.2f} s over {len(answer_times)} (target: first < 2 s)")
    print(f"question to answer text:    first {shown_times[0]:.2f} s, median {statistics.median(shown_times):.2f} s")
    print(f"load average: {os.getloadavg()}")


if __name__ == "__main__":
    main()
