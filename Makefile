# The two commands a new user needs: `make run` and `make test`. Both create the virtual
# environment from the lock file on first use.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: run test demo bench lint fmt typecheck lock clean

$(BIN)/provider: requirements-dev.lock pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet --require-hashes -r requirements-dev.lock
	$(BIN)/python -m pip install --quiet --no-deps -e .
	@touch $@

run: $(BIN)/provider  ## start the web app and a worker on SQLite at http://127.0.0.1:8000
	$(BIN)/provider run

demo: $(BIN)/provider  ## app + worker + local Jira simulator, installed and fed with demo data
	$(BIN)/provider demo

test: $(BIN)/provider  ## the whole suite (SQLite; set TEST_DATABASE_URL for PostgreSQL)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

bench: $(BIN)/provider  ## benchmarks (bench/README.md); BENCH_ARGS="--only ace --profile" …
	$(BIN)/python -m bench $(BENCH_ARGS)

lint: $(BIN)/provider
	$(BIN)/ruff check provider jira_simulator tests migrations bench
	$(BIN)/ruff format --check provider jira_simulator tests migrations bench

fmt: $(BIN)/provider
	$(BIN)/ruff check --fix provider jira_simulator tests migrations bench
	$(BIN)/ruff format provider jira_simulator tests migrations bench

typecheck: $(BIN)/provider  ## mypy --strict over provider/ ([tool.mypy] in pyproject.toml)
	$(BIN)/mypy

lock:
	uv pip compile pyproject.toml --generate-hashes --python-version 3.11 -o requirements.lock
	uv pip compile pyproject.toml --extra dev --generate-hashes --python-version 3.11 -o requirements-dev.lock

clean:
	rm -rf $(VENV) .pytest_cache
