"""Shared fixtures: isolated environment, settings on tmp stores, a fake embedder, real Chroma and PostgreSQL servers."""

from __future__ import annotations

import json
import os
import shutil
import socket
import tempfile
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from policyqa.settings import Settings
from tests.fakes import FakeEmbedder

ROOT = Path(__file__).resolve().parent.parent
TIERS = ("model", "server", "postgres", "browser", "eval", "slow")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--all-tiers", action="store_true", help="run every tier (what `make test` and CI do)")
    for tier in TIERS:
        parser.addoption(f"--{tier}", action="store_true", help=f"also run tests marked {tier}")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("--all-tiers") or config.getoption("-m"):
        return
    for item in items:
        for tier in TIERS:
            if item.get_closest_marker(tier) and not config.getoption(f"--{tier}"):
                item.add_marker(pytest.mark.skip(reason=f"tier '{tier}': run with --{tier} or --all-tiers"))


@pytest.fixture(scope="session")
def _model_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One ONNX export for the whole run, instead of one per test store."""
    return tmp_path_factory.mktemp("models")


@pytest.fixture(scope="session")
def _fake_refusal_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The packaged refusal model with its bias raised by 0.3 x its similarity weight: the fake embedder's
    bag-of-words cosines run about 0.3 below the real model's for the same passages. Derived, so a refit carries over."""
    from dataclasses import replace

    from assistant.refusal import DEFAULT_PATH, load_model

    model = load_model(DEFAULT_PATH)
    shifted = replace(model, bias=model.bias + 0.3 * model.weights.get("similarity", 0.0), fitted_on="tests")
    path = tmp_path_factory.mktemp("refusal") / "refusal-fake-embedder.json"
    path.write_text(json.dumps(shifted.to_dict()), encoding="utf-8")
    return path


@pytest.fixture(autouse=True)
def _isolated_env(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, _model_cache: Path, request: pytest.FixtureRequest,
    _fake_refusal_model: Path,
) -> None:
    for key in list(os.environ):
        if key.startswith("POLICYQA_"):
            monkeypatch.delenv(key)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("POLICYQA_STORE_DIR", str(tmp_path / "store"))
    monkeypatch.setenv("POLICYQA_MODEL_CACHE_DIR", str(_model_cache))
    if request.node.get_closest_marker("model") is None:
        # Tests without the real model answer with the fake embedder, whose similarities run lower.
        monkeypatch.setenv("POLICYQA_REFUSAL_MODEL", str(_fake_refusal_model))


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(store_dir=tmp_path / "store", collection="test-collection")


@pytest.fixture
def fake_embedder() -> FakeEmbedder:
    return FakeEmbedder()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for_port(port: int, timeout: float = 60.0, proc: subprocess.Popen[bytes] | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"server exited with status {proc.returncode}")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    raise TimeoutError(f"nothing listening on 127.0.0.1:{port} after {timeout} s")


@pytest.fixture(scope="session")
def chroma_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real `chroma run` on a free loopback port; yields its URL."""
    chroma = shutil.which("chroma") or str(Path(sys.executable).parent / "chroma")
    path = tmp_path_factory.mktemp("chroma-server")
    port = free_port()
    log = open(path / "server.log", "wb")
    proc = subprocess.Popen(
        [chroma, "run", "--path", str(path / "data"), "--host", "127.0.0.1", "--port", str(port)],
        stdout=log, stderr=subprocess.STDOUT,
    )
    try:
        wait_for_port(port, proc=proc)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def postgres_bin() -> Path | None:
    """The folder of PostgreSQL's server programs (Debian keeps them off PATH), or None if not installed."""
    found = shutil.which("initdb")
    if found:
        return Path(found).parent
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parent.parent.name))
    return versions[-1].parent if versions else None


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """A throwaway PostgreSQL on a free loopback port (trust auth, no password); yields its URL.

    PostgreSQL refuses to run as root, so as root the cluster is made and run by the ``postgres`` user, in a
    folder outside pytest's root-only tmp tree.
    """
    bindir = postgres_bin()
    if bindir is None:
        pytest.skip("PostgreSQL is not installed (Debian: apt-get install postgresql; `make postgres-deps` does it)")
    as_root = os.geteuid() == 0
    if as_root and shutil.which("runuser") is None:
        pytest.skip("running as root without runuser: cannot start PostgreSQL as the postgres user")
    base = Path(tempfile.mkdtemp(prefix="policyqa-pg-"))
    if as_root:
        shutil.chown(base, user="postgres", group="postgres")

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        command = [str(bindir / args[0]), *args[1:]]
        if as_root:
            command = ["runuser", "-u", "postgres", "--", *command]
        return subprocess.run(command, capture_output=True, text=True, timeout=120)

    port = free_port()
    made = run("initdb", "-D", str(base / "data"), "-A", "trust", "-U", "postgres", "-E", "UTF8")
    if made.returncode != 0:
        shutil.rmtree(base, ignore_errors=True)
        pytest.skip(f"initdb failed: {made.stderr.strip()[-300:]}")
    options = f"-p {port} -k {base} -c listen_addresses=127.0.0.1 -c max_connections=200 -c fsync=off"
    started = run("pg_ctl", "-D", str(base / "data"), "-o", options, "-l", str(base / "log"), "-w", "start")
    try:
        if started.returncode != 0:
            log = (base / "log").read_text() if (base / "log").exists() else ""
            raise RuntimeError(f"PostgreSQL did not start: {started.stderr.strip()} {log[-1000:]}")
        yield f"postgresql://postgres@127.0.0.1:{port}/postgres"
    finally:
        run("pg_ctl", "-D", str(base / "data"), "-m", "immediate", "stop")
        shutil.rmtree(base, ignore_errors=True)
