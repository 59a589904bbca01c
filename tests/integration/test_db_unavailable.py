"""The database goes away in the middle of a request (issue 10 #15): the answer is 503
`database_unavailable` with Retry-After and a Chinese message — not 500 internal_error — nothing
the request had already written survives, and the next request works again.

On PostgreSQL the backend serving the request is really terminated (pg_terminate_backend from
another connection) between the request's first and second write; on SQLite, where a connection
cannot be lost, the driver's OperationalError is raised at the same point."""
from __future__ import annotations

import sqlite3
import time
from contextlib import contextmanager

import pytest
from sqlalchemy import create_engine, event, text
from sqlalchemy.pool import NullPool

from .test_votes import as_, state, url, world  # noqa: F401 (world is a fixture)

WRITES = ("INSERT", "UPDATE", "DELETE")


@contextmanager
def database_lost_at_second_write(app):
    """While active, the connection running the request's second write statement dies just
    before that statement is sent. Yields what happened (statements written before the loss)."""
    engine = app.extensions["db"].engine
    seen = {"writes": [], "killed": False}
    admin = (create_engine(engine.url, poolclass=NullPool, isolation_level="AUTOCOMMIT")
             if engine.dialect.name == "postgresql" else None)

    def kill(conn, cursor, statement, *args):
        if seen["killed"] or not statement.lstrip().upper().startswith(WRITES):
            return
        seen["writes"].append(statement.split()[:3])
        if len(seen["writes"]) < 2:
            return
        seen["killed"] = True
        if admin is None:
            raise sqlite3.OperationalError("disk I/O error")
        pid = conn.connection.dbapi_connection.info.backend_pid
        with admin.connect() as c:
            assert c.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid}).scalar()
            deadline = time.monotonic() + 10
            while c.execute(text("SELECT count(*) FROM pg_stat_activity WHERE pid = :pid"),
                            {"pid": pid}).scalar():
                assert time.monotonic() < deadline, "the backend outlived pg_terminate_backend"
                time.sleep(0.02)

    event.listen(engine, "before_cursor_execute", kill)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", kill)
        if admin is not None:
            admin.dispose()


def test_connection_lost_mid_request_is_503_and_nothing_is_half_written(client, app, world):
    sid = world["sug"]["open"]
    assert state(app, sid) == (0, 0, 0, 0)
    with database_lost_at_second_write(app) as seen:
        resp = client.post(url(world), headers=as_(world))
    assert seen["killed"] and seen["writes"][0][:3] == ["INSERT", "INTO", "votes"]
    assert resp.status_code == 503, resp.get_json()
    body = resp.get_json()
    assert body["error"] == "database_unavailable"
    assert body["message"] == "数据库暂时无法访问，请稍后重试"
    assert int(resp.headers["Retry-After"]) > 0
    # The vote row was inserted before the loss: rolled back with everything else.
    assert state(app, sid) == (0, 0, 0, 0)
    # The pool recovers: the same request now succeeds once.
    again = client.post(url(world), headers=as_(world))
    assert again.status_code == 201, again.get_json()
    assert state(app, sid) == (1, 1, 1, 1)


@pytest.mark.postgres
def test_on_postgres_the_backend_really_is_terminated(client, app, world):
    if app.extensions["db"].engine.dialect.name != "postgresql":
        pytest.skip("needs PostgreSQL (TEST_DATABASE_URL)")
    sid = world["sug"]["open"]
    with database_lost_at_second_write(app):
        resp = client.delete(url(world), headers=as_(world))  # nothing to withdraw: 200, no write
        assert resp.status_code == 200
        resp = client.post(url(world), headers=as_(world, "r1"))
    assert resp.status_code == 503 and resp.get_json()["error"] == "database_unavailable"
    assert state(app, sid) == (0, 0, 0, 0)
    # Every pooled connection that request used is gone; new requests get live ones.
    for who in ("r2", "r3", "r4"):
        assert client.post(url(world), headers=as_(world, who)).status_code == 201
    assert state(app, sid) == (3, 3, 3, 3)


def test_database_down_before_the_request_is_503_too(config, world):
    """No connection at all (PostgreSQL restarting, SQLite file unreadable): the same 503."""
    from sqlalchemy.exc import OperationalError

    from app import create_app

    app = create_app(config)
    engine = app.extensions["db"].engine

    @event.listens_for(engine, "before_cursor_execute")
    def refuse(conn, cursor, statement, *args):
        raise OperationalError(statement, {}, Exception("connection refused"))

    resp = app.test_client().get("/api/suggestions/1", headers=as_(world))
    assert resp.status_code == 503
    assert resp.get_json()["error"] == "database_unavailable"
    assert resp.headers["Retry-After"]
    engine.dispose()
