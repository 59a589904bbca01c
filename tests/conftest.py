"""Shared fixtures.

Database: SQLite in a temporary folder by default; with TEST_DATABASE_URL (a PostgreSQL URL whose
user may CREATE DATABASE) the suite creates its own uniquely named database there and drops it at
the end. Redis: the in-process stand-in by default; with TEST_REDIS_URL the real server (the
database index in that URL is flushed between tests — never point it at data you keep).
"""
from __future__ import annotations

import contextlib
import os
import uuid

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from app import create_app
from app.config import Config
from app.db import Base

TEST_DATABASE_URL = os.environ.get("TEST_DATABASE_URL", "")
TEST_REDIS_URL = os.environ.get("TEST_REDIS_URL", "")


def _normalise_pg(url: str) -> str:
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        url = "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


@contextlib.contextmanager
def scratch_database(tmp_dir, prefix: str):
    """A new empty database, dropped afterwards: a SQLite file in tmp_dir, or a uniquely named
    PostgreSQL database on the TEST_DATABASE_URL server."""
    if not TEST_DATABASE_URL:
        yield f"sqlite:///{tmp_dir / (prefix + '.db')}"
        return
    admin_url = make_url(_normalise_pg(TEST_DATABASE_URL))
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield admin_url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="session")
def database_url(tmp_path_factory):
    with scratch_database(tmp_path_factory.mktemp("db"), "yshsl_test") as url:
        yield url


@pytest.fixture(scope="session")
def fake_wechat():
    """The local fake WeChat server (app/wechat/fake.py), one per test session."""
    from app.wechat.fake import FakeWechat

    fake = FakeWechat().start()
    yield fake
    fake.stop()


@pytest.fixture(autouse=True)
def _reset_fake_wechat(request):
    """Every test sees a fresh fake: no calls, tokens, used codes or fault switches."""
    if "fake_wechat" not in request.fixturenames:
        yield
        return
    fake = request.getfixturevalue("fake_wechat")
    fake.reset()
    yield
    fake.reset()


@pytest.fixture(scope="session")
def config(database_url, fake_wechat, tmp_path_factory) -> Config:
    return Config.from_env(
        upload_dir=str(tmp_path_factory.mktemp("uploads")),  # never the repo's instance/
        database_url=database_url,
        redis_url=TEST_REDIS_URL,
        testing=True,
        list_cache_seconds=0,  # tests see their own writes at once; caching has its own test
        secret_key="test-secret",
        log_level="WARNING",
        wechat_mp_appid="",
        wechat_api_base=fake_wechat.base_url,
    )


@pytest.fixture(scope="session")
def app(config):
    app = create_app(config)
    engine = app.extensions["db"].engine
    Base.metadata.create_all(engine)
    yield app
    engine.dispose()


@pytest.fixture(autouse=True)
def _clean_state(request):
    """Every test starts with empty tables and an empty Redis."""
    yield
    if "app" not in request.fixturenames:
        return
    app = request.getfixturevalue("app")
    engine = app.extensions["db"].engine
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            names = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
            conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
        else:
            for table in reversed(Base.metadata.sorted_tables):
                conn.execute(table.delete())
    app.extensions["redis"].flushdb()
    app.extensions["wechat"].drop_local_tokens()  # they name tokens the reset fake forgot


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def session(app):
    """A session inside an app context; the test commits what it wants others to see."""
    with app.app_context():
        s = app.extensions["db"].new_session()
        try:
            yield s
        finally:
            s.rollback()
            s.close()


@pytest.fixture
def frozen_limits(monkeypatch):
    """Pin the rate-limit clock inside one window, so counts never reset mid-test (a test that
    straddles a minute boundary would otherwise see its counter start over)."""
    from types import SimpleNamespace

    from app.auth import ratelimit

    monkeypatch.setattr(ratelimit, "time", SimpleNamespace(time=lambda: 1_800_000_010.0))
