# termail: the two commands of the README are `make demo` and `make test`.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo test check fmt lint typecheck imports system-deps venv fuzz bench snapshots clean \
	interop interop-deps layout peers-deps

# Debian packages the sandbox and the tmux test need; installed with apt-get (through sudo when
# not root). Nothing is installed when they are already there.
SYSTEM_BINS := /usr/sbin/dovecot /usr/lib/dovecot/lmtp /usr/bin/tmux /usr/bin/openssl
BROWSER_BINS := /usr/bin/chromium /usr/bin/chromedriver
system-deps:
	@missing=0; for b in $(SYSTEM_BINS); do [ -x $$b ] || missing=1; done; \
	if [ $$missing = 1 ]; then \
	  if [ "$$(id -u)" = 0 ]; then SUDO=; elif command -v sudo >/dev/null; then SUDO=sudo; \
	  else echo "termail needs the Debian packages dovecot-imapd dovecot-lmtpd tmux openssl;" \
	       "run as root or install sudo, or install them yourself." >&2; exit 1; fi; \
	  echo "Installing dovecot-imapd dovecot-lmtpd tmux openssl with apt-get"; \
	  $$SUDO apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends \
	    dovecot-imapd dovecot-lmtpd tmux openssl >/dev/null || { \
	    echo "apt-get failed: install dovecot-imapd dovecot-lmtpd tmux openssl by hand." >&2; exit 1; }; \
	fi
	@# The browser for the test of `termail serve` (tests/ui/test_serve_browser.py): best effort,
	@# the test is skipped with the reason when it cannot be had.
	@missing=0; for b in $(BROWSER_BINS); do [ -x $$b ] || missing=1; done; \
	if [ $$missing = 1 ]; then \
	  if [ "$$(id -u)" = 0 ]; then SUDO=; elif command -v sudo >/dev/null; then SUDO=sudo; \
	  else echo "No chromium: the browser test will be skipped (apt-get install chromium" \
	       "chromium-driver to run it)." >&2; exit 0; fi; \
	  echo "Installing chromium chromium-driver with apt-get (for the browser test)"; \
	  { DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends \
	      chromium chromium-driver >/dev/null 2>&1 || { $$SUDO apt-get update -qq && \
	    DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends \
	      chromium chromium-driver >/dev/null; }; } || \
	    echo "apt-get could not install chromium: the browser test will be skipped." >&2; \
	fi

$(STAMP): pyproject.toml
	@[ -x $(PY) ] || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e . --group dev || $(PY) -m pip install -q -e . pytest pytest-asyncio \
	  pytest-textual-snapshot pytest-timeout pytest-xdist hypothesis ruff mypy import-linter
	@touch $(STAMP)

# An editable install has no bytecode (pip compiles only what it copies), and where
# PYTHONDONTWRITEBYTECODE is set nothing is ever written: every start would compile termail's
# ~100 modules again (0.35-0.4 s seen). Compile them once, as an installed termail would be.
venv: $(STAMP)
	@$(PY) -m compileall -q app widgets themes >/dev/null

fmt: venv
	$(VENV)/bin/ruff format app widgets tests bench
	$(VENV)/bin/ruff check --fix app widgets tests bench

lint: venv
	$(VENV)/bin/ruff format --check app widgets tests bench
	$(VENV)/bin/ruff check app widgets tests bench

typecheck: venv
	$(VENV)/bin/mypy

imports: venv
	$(VENV)/bin/lint-imports

check: lint typecheck imports

# `make test PYTEST_WORKERS=2`: two pytest-xdist workers (the CI machine has 2 cores; about half
# of a UI test's time is spent waiting on servers, tmux and subprocesses). `loadgroup`: the tests
# of one server kind stay on one worker (tests/integration/kinds.py), so each kind starts once.
# One process (0) by default until the suite has been seen green on two workers twice in a row.
PYTEST_WORKERS ?= 0
test: system-deps venv check
	$(PY) -m pytest -q -p no:cacheprovider -n $(PYTEST_WORKERS) --dist loadgroup $(PYTEST_ARGS)

# The interop suite: every account-level test against each server kind (dovecot, minimal,
# gmail-like, cyrus, courier; Postfix for submission). Cyrus, Courier and Postfix are unpacked
# from their Debian packages into ~/.cache/termail-interop (never installed: they conflict with
# dovecot-imapd) and run in mount namespaces, so this needs root; `make test` runs the same
# tests, skipping (with the reason) a kind that cannot be set up.
# Every test marked `@over_kinds` (pytest marker `interop`), wherever it lives.
INTEROP_TESTS := -m interop tests/integration
interop-deps: system-deps venv
	$(PY) -m app.sandbox.interop install

interop: interop-deps
	@start=$$(date +%s); \
	$(PY) -m pytest -v -p no:cacheprovider $(INTEROP_TESTS) $(PYTEST_ARGS); rc=$$?; \
	echo "make interop: $$(( $$(date +%s) - start )) s"; exit $$rc

demo: system-deps venv
	$(VENV)/bin/termail demo

fuzz: venv
	HYPOTHESIS_PROFILE=long $(PY) -m pytest -q -p no:cacheprovider --timeout=0 \
	  -m "hypothesis and not integration" tests/unit --hypothesis-show-statistics

# The peers beside termail in `bench.peers` (best effort: each one missing is skipped with a word).
PEER_BINS := /usr/bin/aerc /usr/bin/mutt /usr/bin/neomutt
peers-deps:
	@missing=0; for b in $(PEER_BINS); do [ -x $$b ] || missing=1; done; \
	if [ $$missing = 1 ]; then \
	  if [ "$$(id -u)" = 0 ]; then SUDO=; elif command -v sudo >/dev/null; then SUDO=sudo; \
	  else echo "aerc, mutt or neomutt missing: bench.peers skips them." >&2; exit 0; fi; \
	  echo "Installing aerc mutt neomutt with apt-get (for bench.peers)"; \
	  DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends \
	    aerc mutt neomutt >/dev/null 2>&1 || \
	    echo "apt-get could not install the peers: bench.peers skips them." >&2; \
	fi

# Issue 21's figures: headless first, then the real terminal beside the peers, the 1,000,000-
# message INBOX (seeded once, ~10 min) and the soak (8 min of load). MILLION_ARGS/SOAK_ARGS
# shorten them (e.g. SOAK_ARGS="--minutes 3 --n 20000").
bench: system-deps venv peers-deps
	$(PY) -m bench
	$(PY) -m bench.peers $(PEERS_ARGS)
	$(PY) -m bench.million --headers $(MILLION_ARGS)
	$(PY) -m bench.soak $(SOAK_ARGS)

# Issue 19's figures: the largest modules and classes and the import circles, now and before the
# layout change (1cd6422).
layout: venv
	$(PY) -m bench.layout_sizes
	$(PY) -m bench.layout_sizes --ref 1cd6422

snapshots: venv
	$(PY) -m pytest -q tests/ui --snapshot-update

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .hypothesis
