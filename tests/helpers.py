"""Small helpers shared by the tests."""
from __future__ import annotations

import threading
from contextlib import contextmanager


@contextmanager
def committed_session(app):
    """A short-lived session in its own app context, committed on exit. Requests made after it
    get their own app context and database session, as in production."""
    with app.app_context():
        s = app.extensions["db"].new_session()
        try:
            yield s
            s.commit()
        finally:
            s.close()


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def sql_statements(engine, fn) -> list[str]:
    """The SQL statements `fn()` sends, in order. BEGIN/COMMIT are not statements here;
    SQLite's BEGIN IMMEDIATE and PRAGMAs are excluded too."""
    from sqlalchemy import event

    seen: list[str] = []

    def record(conn, cursor, statement, *args):
        if not statement.lstrip().upper().startswith(("BEGIN", "PRAGMA")):
            seen.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        fn()
    finally:
        event.remove(engine, "before_cursor_execute", record)
    return seen


def count_statements(engine, fn) -> int:
    """How many SQL statements `fn()` sends (to prove a request's count does not grow: no N+1)."""
    return len(sql_statements(engine, fn))


def production_config(config):
    """The test config turned into a valid production one (WeChat credentials and every secret set,
    real-server URLs that are only checked, never connected to)."""
    return config.with_(
        testing=False, sandbox=False, secret_key="s" * 40, data_key="d", lookup_key="l",
        wechat_mp_appid="wx123", wechat_mp_secret="secret", redis_url="redis://redis:6379/0",
        database_url="postgresql://app@db/yshsl")


def race(app, n, call) -> list:
    """`call(client, i)` from n threads released at once (each with its own test client);
    their results, sorted."""
    return sorted(race_in_order(app, n, call))


def race_in_order(app, n, call) -> list:
    """As `race`, the results in thread order (result i from call(client, i)), unsorted, so
    they may be any value (a status with its JSON body). A thread that raised fails the test."""
    barrier, results = threading.Barrier(n), [None] * n

    def worker(i):
        local = app.test_client()
        barrier.wait(timeout=30)
        try:
            results[i] = call(local, i)
        except Exception as exc:  # noqa: BLE001 - reported below
            results[i] = exc

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not any(t.is_alive() for t in threads), "a racing request never finished"
    errors = [r for r in results if isinstance(r, Exception)]
    assert not errors, errors
    return results
