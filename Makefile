# 有事好商量 — two commands on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell cat requirements.txt requirements-dev.txt | cksum | cut -d' ' -f1)

.PHONY: run test migrate seed fake-wechat clean

$(STAMP): requirements.txt requirements-dev.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@$(PY) -m pip install -q --disable-pip-version-check --upgrade pip
	@$(PY) -m pip install -q --disable-pip-version-check -r requirements-dev.txt
	@rm -f $(VENV)/.installed-*
	@touch $(STAMP)

## make run: the product on the embedded default (SQLite, no Redis server, local fake WeChat,
## demo data; web + scheduler + dispatcher in one process) on $$PORT (default 5000).
run: $(STAMP)
	$(PY) -m app.runner

## make test: the whole test suite (SQLite + in-process Redis unless TEST_DATABASE_URL /
## TEST_REDIS_URL point at real servers).
test: $(STAMP)
	$(PY) -m pytest -q $(PYTEST_ARGS)

## make migrate: apply the Alembic migrations to DATABASE_URL (or the embedded SQLite file).
migrate: $(STAMP)
	$(VENV)/bin/alembic upgrade head

## make seed: load the demo city into DATABASE_URL (idempotent).
seed: $(STAMP)
	$(VENV)/bin/flask --app app seed-demo

## make fake-wechat: the local fake WeChat server on its own (port 8765).
fake-wechat: $(STAMP)
	$(PY) -m app.wechat.fake --port 8765

clean:
	rm -rf $(VENV) instance .pytest_cache
