# `make help` lists the targets.
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
PORT ?= 8000

.DEFAULT_GOAL := help
.PHONY: help install run test lint format bench bench-export worker beat migrate

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-13s %s\n", $$1, $$2}'

$(VENV)/.installed: pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "$(PYTHON) not found (set PYTHON=...)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -e ".[dev]"
	@touch $@

install: $(VENV)/.installed ## Create .venv and install the pinned dependencies

migrate: install ## Apply migrations to the configured database
	$(PY) manage.py migrate --noinput

run: install ## Migrate, load the demo data and serve on 127.0.0.1:$(PORT)
	$(PY) manage.py migrate --noinput
	$(PY) manage.py seed_demo --port $(PORT)
	$(PY) manage.py runserver 127.0.0.1:$(PORT)

test: install ## Run the whole suite on real PostgreSQL and Redis (started if not given)
	scripts/with-services $(VENV)/bin/pytest $(PYTEST_ARGS)

lint: install ## ruff check and format check
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: install ## Format the code with ruff
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

bench: install ## Benchmark the partner API under gunicorn on PostgreSQL (see bench/README.md)
	scripts/with-services $(PY) bench/api_bench.py

bench-export: install ## Export 1,000,000 vouchers on PostgreSQL: time and peak memory (bench/README.md)
	scripts/with-services $(PY) bench/export_bench.py

worker: install ## Run a Celery worker (needs REDIS_URL; see docs/background.md)
	$(VENV)/bin/celery -A config worker --loglevel=INFO --concurrency=$${CONCURRENCY:-4} \
		--hostname=$${WORKER_NAME:-worker}@%h

beat: install ## Run Celery beat, the periodic scheduler (exactly one per deployment; needs REDIS_URL)
	$(VENV)/bin/celery -A config beat --loglevel=INFO \
		--schedule=$${BEAT_SCHEDULE_FILE:-$(VENV)/celerybeat-schedule}
