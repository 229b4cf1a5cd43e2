# The two commands a newcomer needs: `make run` (the whole platform, demo data) and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test test-gateways lint format bench clean

$(STAMP): pyproject.toml package-lock.json
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	@# The console's chart library (package.json; served locally, never from a CDN).
	if command -v npm >/dev/null; then npm ci --omit=dev --ignore-scripts --no-audit --no-fund; \
	else echo "npm not found: the footfall dashboards will show tables without charts"; fi
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/portico demo

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/pytest -q

# Opt-in: logins through a real openNDS in network namespaces (root; docs/real-gateway-tests.md).
test-gateways: $(STAMP)
	OPENNDS_ROOT="$(OPENNDS_ROOT)" $(BIN)/pytest -q tests/gateways

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: $(STAMP)
	$(BIN)/python -m bench.login_flow
	$(BIN)/python -m bench.login_flow --fas-level 3
	$(BIN)/python -m bench.wifidog
	$(BIN)/python -m bench.telemetry
	$(BIN)/python -m bench.fleet

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
