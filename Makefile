# clearhouse: `make demo` and `make test` do all set-up on a fresh machine.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

CORE_SOURCES := $(wildcard clearhouse/core/*.py)
COMPILED := clearhouse/core/.compiled

.PHONY: demo test lint typecheck unit bench bench-core fuzz crash compile pure clean

$(STAMP): pyproject.toml
	@echo "==> creating the virtualenv $(VENV) (once) and upgrading pip"
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	@echo "==> installing clearhouse and its dependencies into $(VENV): msgspec, typer, rich,"
	@echo "    cryptography, pynacl, python-pkcs11, psycopg, litestar, uvicorn, httpx; for tests: pytest, hypothesis, mypy,"
	@echo "    ruff, QuantLib, pymerkle (a minute or two the first time, quiet while it works)"
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

# SoftHSM2, the HSM the PKCS#11 signer is tested against: installed when missing and root.
.PHONY: softhsm
softhsm:
	@command -v softhsm2-util >/dev/null || if [ "$$(id -u)" = 0 ]; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq softhsm2 >/dev/null; \
	else echo "warning: softhsm2 is missing (apt-get install softhsm2): HSM tests skip, or fail under CI=true"; fi

# Debian's chromium, the browser the dashboard is tested in (Playwright cannot
# download its own here): installed when missing and root.
.PHONY: chromium
chromium:
	@command -v chromium >/dev/null || if [ "$$(id -u)" = 0 ]; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	else echo "warning: chromium is missing (apt-get install chromium): the dashboard test skips, or fails under CI=true"; fi

# The core compiled with mypyc from the same source; pure Python stays the fallback.
# Its log is kept; on failure its last lines say why. The build's recipe is not echoed:
# it holds the failure message, which must not show when the build succeeds.
MYPYC_LOG := $(VENV)/mypyc-build.log
$(COMPILED): $(STAMP) $(CORE_SOURCES) setup.py
	@echo "==> compiling the core with mypyc (optional speed-up, about a minute; log: $(MYPYC_LOG))"
	rm -f clearhouse/core/*.so *__mypyc*.so
	@CLEARHOUSE_MYPYC=1 $(BIN)/python setup.py -q build_ext --inplace >$(MYPYC_LOG) 2>&1 \
		&& mv *__mypyc*.so clearhouse/core/ && touch clearhouse/core/*.so \
		|| { echo "mypyc build failed: running the pure-Python core. The end of $(MYPYC_LOG):"; \
			tail -n 20 $(MYPYC_LOG) | sed 's/^/    /'; rm -f clearhouse/core/*.so *__mypyc*.so; }
	touch $(COMPILED)

compile: $(COMPILED)

pure:
	rm -f clearhouse/core/*.so $(COMPILED)

demo: $(COMPILED)
	$(BIN)/clearhouse demo

lint: $(STAMP)
	$(BIN)/ruff check clearhouse tests benchmarks
	$(BIN)/ruff format --check clearhouse tests benchmarks

typecheck: $(STAMP)
	$(BIN)/mypy

unit: $(COMPILED) softhsm chromium
	$(BIN)/pytest -n 2 -q

test: lint typecheck unit

bench-core: $(COMPILED)
	$(BIN)/clearhouse bench core --orders 1000000 --seed 7 --json

bench: bench-core
	$(BIN)/python benchmarks/sorted_book.py --orders 1000000 --seed 7
	$(BIN)/clearhouse bench margin --json

# Long property-based run of the core's stateful test (the suite runs a short one).
fuzz: $(STAMP)
	HYPOTHESIS_PROFILE=fuzz $(BIN)/pytest -q -n 2 tests/core/test_stateful.py tests/core/test_stateful_risk.py \
		tests/journal/test_outside_path.py

# Long crash runs: 300 SIGKILLs of a journaling process, and 300 of a sequencer with
# concurrent clients (the suite runs 30 of each).
crash: $(COMPILED)
	CRASH_KILLS=300 $(BIN)/pytest -q tests/journal/test_crash.py tests/journal/test_crash_sequencer.py

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache build *.egg-info clearhouse/core/*.so $(COMPILED)
