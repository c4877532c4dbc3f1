# Two commands on a fresh clone: `make run` (set up, ingest corpus/, start the chat) and `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 8501
PYTEST_ARGS ?=

.PHONY: run test test-fast test-lowest install ingest app browser-deps postgres-deps clean

run: ingest app

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	# The CPU build of torch first: an unpinned torch pulls a multi-GB CUDA build.
	$(BIN)/python -m pip install --quiet torch==2.13.0 || \
		$(BIN)/python -m pip install --quiet torch --index-url https://download.pytorch.org/whl/cpu
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

ingest: install
	$(BIN)/policyqa ingest corpus

app: install
	HF_HUB_OFFLINE=1 $(BIN)/streamlit run streamlit_app.py --server.address $(HOST) --server.port $(PORT) \
		--server.headless true --browser.gatherUsageStats false

# Every tier runs: unit, integration, a real Chroma server, PostgreSQL, the real model, the eval set, the browser.
# In TEST_WORKERS processes (pytest-xdist), each test file whole in one of them so its fixtures start once: on 2
# cores, 7.6 minutes against 12 in one process. TEST_WORKERS=0 runs them in this process.
TEST_WORKERS ?= 2
test: install browser-deps postgres-deps
	HF_HUB_OFFLINE=1 $(BIN)/python -m pytest --all-tiers -n $(TEST_WORKERS) --dist loadfile $(PYTEST_ARGS)

test-fast: install
	$(BIN)/python -m pytest $(PYTEST_ARGS)

browser-deps:
	@command -v chromium >/dev/null 2>&1 || { \
		if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
			(apt-get update -qq && apt-get install -y -qq chromium >/dev/null) || echo "chromium not installed: browser tests will be skipped"; \
		else echo "chromium not found and cannot be installed here: browser tests will be skipped"; fi; }

# The shared-catalog tier starts its own throwaway PostgreSQL (tests/conftest.py) from Debian's server programs.
postgres-deps:
	@command -v initdb >/dev/null 2>&1 || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || { \
		if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
			(apt-get update -qq && apt-get install -y -qq postgresql >/dev/null) || echo "postgresql not installed: postgres tests will be skipped"; \
		else echo "PostgreSQL not found and cannot be installed here: postgres tests will be skipped"; fi; }

clean:
	rm -rf $(VENV) .policyqa .pytest_cache

# The fast tier against the lowest versions pyproject.toml admits (.ci/lowest-constraints.txt), in a throwaway venv.
LOWEST_VENV ?= /tmp/policyqa-lowest
test-lowest:
	rm -rf $(LOWEST_VENV) && $(PYTHON) -m venv $(LOWEST_VENV)
	$(LOWEST_VENV)/bin/python -m pip install --quiet torch==2.13.0 || \
		$(LOWEST_VENV)/bin/python -m pip install --quiet torch --index-url https://download.pytorch.org/whl/cpu
	$(LOWEST_VENV)/bin/python -m pip install --quiet -c .ci/lowest-constraints.txt -e . pytest fpdf2 psutil
	HF_HUB_OFFLINE=1 $(LOWEST_VENV)/bin/python -m pytest $(PYTEST_ARGS)
