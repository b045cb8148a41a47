# The same targets for people and CI. `make demo` and `make test` do all set-up.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
LLM_STAMP := $(VENV)/.llm-test
HOST ?= 127.0.0.1
PORT ?= 8000
DEMO_DIR ?= .data/demo

export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export OPENBLAS_NUM_THREADS := 1
export MKL_NUM_THREADS := 1

.PHONY: install demo test test-fast lint bench clean

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[ml,bench,dev,spark]"
	touch $(STAMP)

# The LLM stage's tests run a real OpenAI-protocol server: llama-cpp-python's, over a tiny
# model the tests write with gguf. Only `make test` installs them (llama-cpp-python builds
# from source, minutes), never `make demo`. Best-effort: when the install fails the stamp is
# still written (no rebuild on every run; delete it to retry) and those tests skip with the
# reason; the fake-server tests always run.
$(LLM_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet "llama-cpp-python[server]==0.3.36" "gguf==0.19.*" \
		|| echo "llama-cpp-python or gguf not installed: the llama server tests will skip"
	touch $(LLM_STAMP)

demo: install
	$(BIN)/recserve --data-dir $(DEMO_DIR) demo --host $(HOST) --port $(PORT)

test: install $(LLM_STAMP)
	$(BIN)/python -m pytest -q

test-fast: install
	$(BIN)/python -m pytest -q -m "not slow"

lint: install
	$(BIN)/ruff check src tests benchmarks scripts
	$(BIN)/ruff format --check src tests benchmarks scripts
	$(BIN)/mypy

bench: install
	$(BIN)/python benchmarks/ingest.py

clean:
	rm -rf $(VENV) .data test-artifacts .pytest_cache .mypy_cache .ruff_cache
