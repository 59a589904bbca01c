# 有事好商量 — two commands on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell cat requirements.txt requirements-dev.txt | cksum | cut -d' ' -f1)

.PHONY: run test test-py test-miniprogram migrate seed fake-wechat bench-topics bench-notify bench-webhook clean

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

## make test: the whole test suite — the mini-program's jest tests, then pytest (SQLite +
## in-process Redis unless TEST_DATABASE_URL / TEST_REDIS_URL point at real servers).
test: test-miniprogram test-py

test-py: $(STAMP)
	$(PY) -m pytest -q $(PYTEST_ARGS)

test-miniprogram:
	@if command -v npm >/dev/null 2>&1; then \
	  cd miniprogram && npm ci --no-audit --no-fund --ignore-scripts --loglevel=error && npx jest --ci; \
	else \
	  echo "未找到 Node.js/npm，跳过小程序测试 (mini-program tests skipped: install Node.js >= 18)"; \
	fi

## make migrate: apply the Alembic migrations to DATABASE_URL (or the embedded SQLite file).
migrate: $(STAMP)
	$(VENV)/bin/alembic upgrade head

## make seed: load the demo city into DATABASE_URL (idempotent).
seed: $(STAMP)
	$(VENV)/bin/flask --app app seed-demo

## make fake-wechat: the local fake WeChat server on its own (port 8765).
fake-wechat: $(STAMP)
	$(PY) -m app.wechat.fake --port 8765

## make bench-topics: votes / list reads / mix against a bare baseline (needs PostgreSQL, Redis;
## installs wrk); results in bench/results/.
bench-topics: $(STAMP)
	$(PY) -m bench.topics_bench

## make bench-notify: a meeting notice to 10,000 invitees drained by 1, 2 and 4 dispatchers against
## the fake WeChat (20 ms per send), with a no-database baseline; results in bench/results/.
bench-notify: $(STAMP)
	$(PY) -m bench.notify_bench

## make bench-webhook: Official Account messages at 300/s through gunicorn with duplicate
## deliveries, against a bare baseline; results in bench/results/.
bench-webhook: $(STAMP)
	$(PY) -m bench.webhook_bench

clean:
	rm -rf $(VENV) instance .pytest_cache
