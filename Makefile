# Two commands on a fresh machine: `make demo` and `make test`. Everything else is set up here.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

JSLINT := tools/jslint/node_modules/.bin/eslint

.PHONY: demo serve test test-fast lint install messages test-services clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/vnh demo

serve: $(STAMP)
	$(BIN)/vnh serve

# ESLint for the console's JavaScript, installed from the npm registry at the locked versions.
$(JSLINT): tools/jslint/package.json tools/jslint/package-lock.json
	@command -v npm >/dev/null || { echo "installing npm with apt-get" >&2; apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq npm >&2; }
	cd tools/jslint && npm ci --silent --no-audit --no-fund
	touch $(JSLINT)

lint: $(STAMP) $(JSLINT)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports --no-cache
	$(BIN)/mypy
	$(JSLINT) -c tools/jslint/eslint.config.mjs care_api/http/console

# Bytecode is written even where PYTHONDONTWRITEBYTECODE is set: without it every worker and
# every `vnh` process a test starts compiles (and pytest rewrites) the whole tree again,
# which doubled the collection time of each worker.
PYTEST := env -u PYTHONDONTWRITEBYTECODE $(BIN)/pytest

# scripts/test-services.sh installs Mosquitto when missing and prints the DSN of a
# PostgreSQL server the suite may create its own databases on.
# The suite runs in 4 workers (pytest-xdist), each with its own brokers and databases: its
# tests mostly wait on brokers, sockets and browsers, so 2 workers left both cores 70 % idle.
test: $(STAMP) lint
	VNH_TEST_PG_DSN="$$(bash scripts/test-services.sh)" $(PYTEST) -n 4 --durations=15

# The domain, the codecs and the contracts, without brokers, PostgreSQL or a browser.
test-fast: $(STAMP)
	$(PYTEST) tests/unit tests/contract tests/store -m "not pg and not mosquitto and not browser and not slow" -q

# After adding or changing a t(language, "…") text: extract it into the catalogues, then
# translate the new entries of care_api/i18n/locales/zh_CN (the catalogue test says which).
messages: $(STAMP)
	$(BIN)/pybabel extract -F babel.cfg -k t:2 -k tn:2,3 -k N_ -k Msg --no-location --omit-header -o care_api/i18n/vnh.pot care_api alerts device_gateway vnh
	$(BIN)/pybabel update -i care_api/i18n/vnh.pot -d care_api/i18n/locales -D vnh --no-fuzzy-matching --omit-header
	rm care_api/i18n/vnh.pot

clean:
	rm -rf $(VENV) tools/jslint/node_modules .pytest_cache .mypy_cache .ruff_cache .hypothesis test-artifacts vnh.db*
