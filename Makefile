# The two commands a fresh machine needs (see README.md):
#   make run    install and run the main job
#   make test   install and pass the tests (lint + types + pytest)
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cat pyproject.toml | sha256sum | cut -c1-12)
PIP    := PIP_DISABLE_PIP_VERSION_CHECK=1 $(BIN)/pip

.PHONY: run demo test lint typecheck pytest bench soak clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip setuptools
	$(PIP) install --quiet -e '.[server,dev]' 2>&1 | grep -v "^WARNING: Location" || true
	$(BIN)/python -c "import uid2, uid2_client, sqlalchemy" 
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/uid2 up

demo: $(STAMP)
	$(BIN)/uid2 demo

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

typecheck: $(STAMP)
	$(BIN)/mypy

pytest: $(STAMP)
	$(BIN)/pytest -q

test: lint typecheck pytest

bench: $(STAMP)
	@command -v wrk >/dev/null || apt-get install -y wrk >/dev/null 2>&1 || \
		(apt-get update >/dev/null && apt-get install -y wrk >/dev/null) || \
		echo "wrk is missing and could not be installed (Debian package wrk)"
	$(BIN)/python bench/run_all.py

# A fixed-rate soak of its own platform: `make soak ARGS="--minutes 3 --rate 50"` (bench/soak.py)
soak: $(STAMP)
	$(BIN)/python bench/soak.py $(ARGS)

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache .hypothesis
