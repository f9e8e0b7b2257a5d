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

bench: $(BIN)/provider
	$(BIN)/python -m bench

lint: $(BIN)/provider
	$(BIN)/ruff check provider jira_simulator tests migrations bench
	$(BIN)/ruff format --check provider jira_simulator tests migrations bench

fmt: $(BIN)/provider
	$(BIN)/ruff check --fix provider jira_simulator tests migrations bench
	$(BIN)/ruff format provider jira_simulator tests migrations bench

# The modules that pass `mypy --strict` so far; imports into the others are followed but not
# reported. `make typecheck TYPECHECK_ARGS=` checks all of provider/ ([tool.mypy] files).
TYPECHECK_ARGS ?= --follow-imports=silent \
	provider/config.py provider/db.py provider/errors.py provider/logging.py provider/times.py \
	provider/crypto.py provider/migrate.py provider/netguard.py provider/extension.py \
	provider/models.py provider/cli.py \
	provider/commands/__init__.py provider/commands/core.py provider/commands/delivery.py \
	provider/commands/forge.py provider/commands/jira_sim.py provider/commands/linking.py \
	provider/commands/workspaces.py \
	provider/connect provider/jira provider/outbox

typecheck: $(BIN)/provider
	$(BIN)/mypy $(TYPECHECK_ARGS)

lock:
	uv pip compile pyproject.toml --generate-hashes --python-version 3.11 -o requirements.lock
	uv pip compile pyproject.toml --extra dev --generate-hashes --python-version 3.11 -o requirements-dev.lock

clean:
	rm -rf $(VENV) .pytest_cache
