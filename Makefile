# The two set-up commands (README): `make run` and `make test`. Everything else is a step of those.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
# The suite makes its own test database (test_<name>) on this server and never touches <name> itself.
POSTGRES_TEST_URL ?= postgres://postgres@127.0.0.1:5432/neuroma_tracker
PYTEST_ARGS ?=
# Both cores: the suite runs in half the time; each worker gets its own test database.
PYTEST_WORKERS ?= 2
HOST ?= 127.0.0.1:8000
# Follow-up links in the demo's messages point at the development server (seed and run only).
DEMO_ENV = FOLLOW_UP_BASE_URL=$${FOLLOW_UP_BASE_URL:-http://$(HOST)}

.PHONY: bench wrk run test test-sqlite test-postgres install install-dev chromium lint format migrate seed clean \
	security bandit deploy-check audit fuzz vendor npm

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(VENV)/.runtime: requirements.txt | $(BIN)/python
	$(BIN)/pip install -q -r requirements.txt
	touch $@

$(VENV)/.dev: requirements.txt requirements-dev.txt | $(BIN)/python
	$(BIN)/pip install -q -r requirements-dev.txt
	touch $@ $(VENV)/.runtime

install: $(VENV)/.runtime
install-dev: $(VENV)/.dev

# The browser tests drive Debian's Chromium (Playwright's own browser download is not used).
chromium:
	@command -v chromium >/dev/null || { \
		echo "Installing Debian's chromium for the browser tests"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

# A local development configuration: DEBUG on and a random secret key, never committed.
.env:
	@printf 'DJANGO_DEBUG=1\nDJANGO_SECRET_KEY=%s\n' "$$($(PYTHON) -c 'import secrets; print(secrets.token_urlsafe(50))')" > $@
	@echo "Wrote .env for local development (DEBUG on, random SECRET_KEY)."

var:
	mkdir -p var

migrate: install .env | var
	$(BIN)/python manage.py migrate --noinput

# Seeds only an empty database, and prints the demo login the first time it creates it.
seed: migrate
	$(DEMO_ENV) $(BIN)/python manage.py seed_demo --if-empty

# The development server, and beside it the follow-up sender (in production a cron job or systemd timer runs
# `manage.py send_follow_ups`; here it runs every minute and prints its e-mails to this console). Ctrl-C stops both.
FOLLOW_UP_SEND_EVERY ?= 60
run: seed
	@$(DEMO_ENV) $(BIN)/python manage.py send_follow_ups --every $(FOLLOW_UP_SEND_EVERY) & sender=$$!; \
	trap 'kill $$sender 2>/dev/null' EXIT INT TERM; \
	$(DEMO_ENV) $(BIN)/python manage.py runserver $(HOST)

# pytest exits 5 when it collects no test; that is reported, not hidden, but is not a failure of the code.
# Each run leaves a JUnit report, var/junit-<name>.xml, from which .ci/run totals what ran (.ci/totals.py).
define run_pytest
	$(1) $(BIN)/pytest -n $(PYTEST_WORKERS) --junitxml=var/junit-$(2).xml $(PYTEST_ARGS); rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "pytest collected no tests"; rc=0; fi; exit $$rc
endef

test: test-sqlite test-postgres

# The browser assets, pinned in package.json and package-lock.json: `npm ci` installs them (and axe-core, which
# the browser tests inject), and `make vendor` copies the files the admin serves into static/vendor/, where
# they are committed, so serving the site needs no npm at all.
node_modules/.package-lock.json: package.json package-lock.json
	npm ci --no-audit --no-fund --ignore-scripts
npm: node_modules/.package-lock.json

vendor: npm
	mkdir -p static/vendor/chart.js static/vendor/chartjs-plugin-annotation
	cp node_modules/chart.js/dist/chart.umd.min.js node_modules/chart.js/LICENSE.md static/vendor/chart.js/
	cp node_modules/chartjs-plugin-annotation/dist/chartjs-plugin-annotation.min.js \
		node_modules/chartjs-plugin-annotation/LICENSE.md static/vendor/chartjs-plugin-annotation/

test-sqlite: install-dev chromium npm | var
	@echo "== test suite on SQLite"
	@$(call run_pytest,DATABASE_URL=sqlite:///:memory:,sqlite)

test-postgres: install-dev chromium npm | var
	@echo "== test suite on PostgreSQL ($(POSTGRES_TEST_URL))"
	@$(call run_pytest,DATABASE_URL=$(POSTGRES_TEST_URL),postgres)

lint: install-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install-dev
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# Supply chain and deployment checks (CI runs all three): `make security`.
security: bandit deploy-check audit

# Static analysis of our code (not tests); a finding fails unless .ci/bandit-waivers.txt gives a reason.
bandit: install-dev | var
	@echo "== bandit"
	@$(BIN)/bandit -q -r clinic cases api -x '*/migrations/*' -f json -o var/bandit.json || true
	@$(BIN)/python .ci/bandit_gate.py var/bandit.json .ci/bandit-waivers.txt

# `manage.py check --deploy` as production runs it: DEBUG off, a long random key, PostgreSQL and Redis.
deploy-check: install-dev
	@echo "== manage.py check --deploy with production settings"
	@env -u DJANGO_SECURE_SSL_REDIRECT -u DJANGO_SECURE_COOKIES -u DJANGO_HSTS_SECONDS \
		DJANGO_DEBUG=0 DJANGO_SECRET_KEY="$$($(BIN)/python -c 'import secrets; print(secrets.token_urlsafe(64))')" \
		DJANGO_ALLOWED_HOSTS=neuroma.example.org DJANGO_CSRF_TRUSTED_ORIGINS=https://neuroma.example.org \
		DATABASE_URL=$(POSTGRES_TEST_URL) REDIS_URL=redis://127.0.0.1:6379/0 \
		$(BIN)/python manage.py check --deploy --fail-level WARNING

# Known vulnerabilities in the pinned dependencies, judged by .ci/pip_audit_gate.py: a vulnerability fails;
# an advisory service unreachable for every package prints NOT AUDITED (a failure with AUDIT_REQUIRED=1).
# Accepted advisories: .ci/pip-audit-waivers.txt, one per line with a reason.
PIP_AUDIT_WAIVERS = $(shell sed -e 's/\#.*//' .ci/pip-audit-waivers.txt | awk 'NF {print "--ignore-vuln", $$1}')
audit: install-dev | var
	@echo "== pip-audit of requirements.txt and requirements-dev.txt"
	@$(BIN)/pip-audit --progress-spinner off --timeout 10 $(PIP_AUDIT_WAIVERS) -r requirements.txt -r requirements-dev.txt \
		-f json -o var/pip-audit.json >/dev/null 2>var/pip-audit.log || true
	@test -s var/pip-audit.json || { cat var/pip-audit.log; echo "FAIL: pip-audit produced no report." >&2; exit 1; }
	@$(BIN)/python .ci/pip_audit_gate.py var/pip-audit.json

# Schemathesis against a live gunicorn on a throwaway, seeded PostgreSQL database (docs/fuzzing.md).
fuzz: install-dev
	@echo "== schemathesis fuzzing of the live API"
	@bash .ci/fuzz

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache

# Benchmarks, not tests (docs/benchmarks.md): re-creates BENCH_DATABASE_URL, loads 200,000 presentations,
# serves them with gunicorn under production settings and drives each scenario with wrk (Debian's package).
BENCH_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/neuroma_bench
BENCH_ARGS ?=
wrk:
	@command -v wrk >/dev/null || { \
		echo "Installing Debian's wrk for the benchmarks"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null; }

bench: install wrk
	BENCH_DATABASE_URL=$(BENCH_DATABASE_URL) $(BIN)/python -m bench.run $(BENCH_ARGS)
