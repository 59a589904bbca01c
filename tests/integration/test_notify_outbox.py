"""Enqueueing notices: written in the caller's transaction, idempotent on dedupe_key."""
from __future__ import annotations

import threading
import time
from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, select, text

from app.audit.models import AuditEntry
from app.db import utcnow
from app.errors import Conflict
from app.notify.models import OutboxMessage, OutboxState
from app.notify.services import (
    Notice, dedupe_key, enqueue_many, enqueue_notice, fan_out, requeue_notice,
)
from app.org.models import Person


@pytest.fixture
def people(app, session):
    rows = [Person(name=f"委员{i}") for i in range(3)]
    session.add_all(rows)
    session.commit()
    return [p.id for p in rows]


def _count(app) -> int:
    with app.extensions["db"].session_scope() as s:
        return s.scalar(select(func.count()).select_from(OutboxMessage))


def _notice(pid, key="meeting_notice:meeting:1:p", **kw):
    values = dict(kind="meeting_notice", recipient_id=pid, title="会议通知",
                  body="定于3月5日召开协商议事会议", link="pages/meeting/detail?id=1",
                  payload={"meeting_id": 1}, dedupe_key=f"{key}{pid}")
    values.update(kw)
    return values


def test_enqueue_writes_a_pending_row_due_now(app, session, people):
    before = utcnow()
    row = enqueue_notice(session, **_notice(people[0]))
    session.commit()
    assert row.id is not None
    assert row.state is OutboxState.pending and row.attempts == 0
    assert row.payload == {"meeting_id": 1} and row.link == "pages/meeting/detail?id=1"
    assert before <= row.next_attempt_at <= utcnow()
    assert row.next_attempt_at.tzinfo is not None


def test_same_dedupe_key_twice_in_one_transaction_gives_one_row(app, session, people):
    first = enqueue_notice(session, **_notice(people[0]))
    again = enqueue_notice(session, **_notice(people[0], title="另一个标题"))
    session.commit()
    assert again.id == first.id and again.title == "会议通知"
    assert _count(app) == 1


def test_same_dedupe_key_in_a_later_transaction_returns_the_existing_row(app, session, people):
    first = enqueue_notice(session, **_notice(people[0]))
    session.commit()
    with app.extensions["db"].session_scope() as other:
        again = enqueue_notice(other, **_notice(people[0], body="重复的通知"))
        assert again.id == first.id and again.body == "定于3月5日召开协商议事会议"
    assert _count(app) == 1


def test_enqueue_never_commits(app, session, people):
    enqueue_notice(session, **_notice(people[0]))
    session.rollback()
    assert _count(app) == 0


def test_enqueue_many_dedupes_input_and_existing_rows_keeping_order(app, session, people):
    existing = enqueue_notice(session, **_notice(people[1]))
    session.commit()
    notices = [Notice(**_notice(pid)) for pid in (people[2], people[1], people[2], people[0])]
    rows = enqueue_many(session, notices)
    session.commit()
    assert [r.recipient_id for r in rows] == [people[2], people[1], people[0]]
    assert rows[1].id == existing.id
    assert _count(app) == 3
    assert enqueue_many(session, []) == []


def test_fan_out_derives_keys_per_recipient(app, session, people):
    rows = fan_out(session, kind="briefing", subject="consultation:9",
                   recipient_ids=[people[0], people[1], people[0]], title="会前通报",
                   body="议题：老旧小区加装电梯")
    session.commit()
    assert len(rows) == 2
    assert {r.dedupe_key for r in rows} == {dedupe_key("briefing", "consultation:9", p)
                                           for p in people[:2]}
    again = fan_out(session, kind="briefing", subject="consultation:9",
                    recipient_ids=people, title="会前通报", body="议题：老旧小区加装电梯")
    session.commit()
    assert len(again) == 3 and _count(app) == 3


def test_not_before_delays_the_first_attempt(app, session, people):
    later = utcnow() + timedelta(days=1)
    row = enqueue_notice(session, **_notice(people[0], not_before=later))
    session.commit()
    assert row.next_attempt_at == later
    past = enqueue_notice(session, **_notice(people[1], not_before=utcnow() - timedelta(days=3)))
    assert past.next_attempt_at > utcnow() - timedelta(minutes=1)


@pytest.mark.parametrize("change", [
    {"kind": "no_such_kind"}, {"title": ""}, {"title": "长" * 129}, {"body": ""},
    {"dedupe_key": ""}, {"link": "p" * 256}, {"not_before": datetime(2030, 1, 1)},
])
def test_bad_notices_are_refused_without_breaking_the_transaction(app, session, people, change):
    with pytest.raises(ValueError):
        enqueue_notice(session, **_notice(people[0], **change))
    row = enqueue_notice(session, **_notice(people[1]))
    session.commit()
    assert row.id and _count(app) == 1


def test_requeue_only_settles_failed_or_unknown_and_is_audited(app, session, people):
    row = enqueue_notice(session, **_notice(people[0]))
    session.commit()
    with pytest.raises(Conflict):
        requeue_notice(session, row.id, actor_id=people[1], reason="重发")
    session.rollback()
    row = session.get(OutboxMessage, row.id)
    row.state, row.attempts, row.last_error = OutboxState.unknown, 2, "超时"
    session.commit()
    requeue_notice(session, row.id, actor_id=people[1], reason="已与本人核实未收到")
    session.commit()
    session.refresh(row)
    assert row.state is OutboxState.pending and row.attempts == 0
    entry = session.scalar(select(AuditEntry).where(AuditEntry.action == "notice.requeue"))
    assert entry.actor_id == people[1] and entry.object_id == str(row.id)
    assert entry.before["state"] == "unknown" and entry.after["reason"] == "已与本人核实未收到"


# --- PostgreSQL: two transactions racing on one dedupe_key -----------------------------------------

@pytest.fixture
def pg(app):
    if app.extensions["db"].engine.dialect.name != "postgresql":
        pytest.skip("needs PostgreSQL (TEST_DATABASE_URL)")
    return app


def _wait_until_blocked(app, pid: int) -> None:
    """Wait (bounded) until backend `pid` waits on a lock — a synchronisation, not a timing."""
    deadline = time.monotonic() + 20
    with app.extensions["db"].engine.connect() as conn:
        while time.monotonic() < deadline:
            waiting = conn.execute(text(
                "SELECT wait_event_type FROM pg_stat_activity WHERE pid = :pid"), {"pid": pid}
            ).scalar()
            if waiting == "Lock":
                return
            conn.rollback()
            time.sleep(0.02)
    raise AssertionError("the second transaction never waited on the first one's insert")


@pytest.mark.postgres
@pytest.mark.parametrize("first_commits", [True, False])
def test_racing_transactions_on_postgres_leave_one_row(pg, people, first_commits):
    db = pg.extensions["db"]
    first, second = db.new_session(), db.new_session()
    try:
        row1 = enqueue_notice(first, **_notice(people[0]))  # uncommitted: holds the key
        second_pid = second.scalar(text("SELECT pg_backend_pid()"))
        result: dict = {}

        def racer():
            try:
                result["row"] = enqueue_notice(second, **_notice(people[0], title="第二个"))
                second.commit()
            except Exception as exc:  # pragma: no cover - reported below
                result["error"] = exc

        thread = threading.Thread(target=racer)
        thread.start()
        _wait_until_blocked(pg, second_pid)
        if first_commits:
            first.commit()
        else:
            first.rollback()
        thread.join(30)
        assert not thread.is_alive()
        assert "error" not in result, result.get("error")
        if first_commits:
            assert result["row"].id == row1.id and result["row"].title == "会议通知"
        else:
            assert result["row"].title == "第二个"
        assert _count(pg) == 1
    finally:
        first.close()
        second.close()
