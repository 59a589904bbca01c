"""The audit trail helper: who did what, when, before/after; secrets never copied; request id."""
from __future__ import annotations

import json
from datetime import timedelta

from sqlalchemy import func, select

from app.audit.models import AuditEntry
from app.audit.services import record, snapshot
from app.auth.current import open_session
from app.auth.models import SessionKind, StaffAccount
from app.db import utcnow
from app.org.models import Person, WechatApp, WechatIdentity

SECRETS = {"phone_enc", "phone_hash", "password_hash", "session_key_enc", "token_hash",
           "csrf_token"}


def _person(session, name="赵六"):
    p = Person(name=name, phone_enc=b"\x00encrypted", phone_hash=f"{name}-hash")
    session.add(p)
    session.flush()
    return p


def test_record_writes_who_what_when_before_and_after(app, session):
    actor = _person(session)
    subject = _person(session, "钱七")
    before_at = utcnow()
    record(session, actor_id=actor.id, action="person.deactivate", object_type="person",
           object_id=subject.id, before={"is_active": True}, after={"is_active": False})
    session.commit()
    with app.extensions["db"].session_scope() as other:
        entry = other.scalar(select(AuditEntry))
        assert entry.actor_id == actor.id
        assert (entry.action, entry.object_type, entry.object_id) == \
            ("person.deactivate", "person", str(subject.id))
        assert entry.before == {"is_active": True} and entry.after == {"is_active": False}
        assert before_at <= entry.at <= utcnow() and entry.at.tzinfo is not None
        assert entry.request_id is None  # not inside a request


def test_system_actions_have_no_actor_and_record_never_commits(app, session):
    record(session, actor_id=None, action="notice.failed", object_type="outbox", object_id=7)
    session.rollback()
    with app.extensions["db"].session_scope() as other:
        assert other.scalar(select(func.count()).select_from(AuditEntry)) == 0
    entry = record(session, actor_id=None, action="notice.failed", object_type="outbox")
    session.commit()
    assert entry.actor_id is None and entry.object_id is None


def test_snapshot_redacts_personal_data_and_secrets(app, session):
    person = _person(session)
    staff = StaffAccount(person_id=person.id, username="zhao", password_hash="pbkdf2$secret")
    ident = WechatIdentity(person_id=person.id, app=WechatApp.mp, openid="o123",
                           session_key_enc=b"key")
    session.add_all([staff, ident])
    _, login = open_session(session, person, SessionKind.staff, timedelta(hours=1))
    session.flush()

    snaps = [snapshot(person), snapshot(staff), snapshot(ident), snapshot(login)]
    for snap in snaps:
        assert not SECRETS & set(snap)
        json.dumps(snap)  # JSON-safe: enums, datetimes and bytes converted or dropped
    person_snap, staff_snap, ident_snap, login_snap = snaps
    assert person_snap["name"] == "赵六" and person_snap["is_active"] is True
    assert isinstance(person_snap["created_at"], str) and "T" in person_snap["created_at"]
    assert staff_snap["username"] == "zhao"
    assert ident_snap["app"] == "mp" and ident_snap["openid"] == "o123"
    assert login_snap["kind"] == "staff" and login_snap["person_id"] == person.id


def test_snapshot_of_chosen_fields_still_redacts(app, session):
    person = _person(session)
    snap = snapshot(person, ["name", "phone_hash", "phone_enc"])
    assert snap == {"name": "赵六"}


def test_snapshot_before_and_after_a_change(app, session):
    person = _person(session)
    before = snapshot(person, ["name", "is_active"])
    person.is_active = False
    record(session, actor_id=person.id, action="person.update", object_type="person",
           object_id=person.id, before=before, after=snapshot(person, ["name", "is_active"]))
    session.commit()
    entry = session.scalar(select(AuditEntry))
    assert entry.before == {"name": "赵六", "is_active": True}
    assert entry.after == {"name": "赵六", "is_active": False}


def test_request_id_is_captured_inside_a_request(app, session):
    with app.test_request_context("/api/anything", headers={"X-Request-ID": "req-42"}):
        app.preprocess_request()  # runs the request-id hook
        record(session, actor_id=None, action="x.y", object_type="thing", object_id=1)
    with app.test_request_context("/api/anything"):
        app.preprocess_request()
        record(session, actor_id=None, action="x.z", object_type="thing", object_id=2)
    session.commit()
    given, generated = session.scalars(select(AuditEntry).order_by(AuditEntry.id)).all()
    assert given.request_id == "req-42"
    assert generated.request_id and len(generated.request_id) == 32
    assert generated.request_id != given.request_id
