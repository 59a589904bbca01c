"""POST/GET /api/me/subscriptions: wx.requestSubscribeMessage results become credits."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from app.auth.current import open_session
from app.auth.models import SessionKind
from app.notify.credits import CREDIT_CAP
from app.notify.models import SubscriptionCredit
from app.notify.templates import parse_templates
from app.org.models import Person
from tests.helpers import race

ONE_TIME = "sandbox_meeting_notice"
STATUS = "sandbox_status_change"


@pytest.fixture
def me(app, session):
    p = Person(name="李四")
    session.add(p)
    session.flush()
    token, _ = open_session(session, p, SessionKind.mp, timedelta(hours=1))
    session.commit()
    return p.id, {"Authorization": f"Bearer {token}"}


@pytest.fixture
def long_term_templates(app):
    """The app's templates with meeting_notice as a long-term template (restored afterwards)."""
    saved = app.extensions["notify_templates"]
    app.extensions["notify_templates"] = parse_templates({
        "meeting_notice": {"mp": {"template_id": "LT_meeting", "long_term": True,
                                  "fields": {"thing1": "title"}}},
        "status_change": {"mp": {"template_id": STATUS, "fields": {"thing1": "title"}}}})
    yield
    app.extensions["notify_templates"] = saved


def stored(app, person_id):
    with app.extensions["db"].session_scope() as s:
        return {r.template_id: (r.credits, r.long_term) for r in s.scalars(
            select(SubscriptionCredit).where(SubscriptionCredit.person_id == person_id))}


def by_kind(answer):
    return {k["kind"]: k for k in answer.json["kinds"]}


def test_needs_login(client):
    assert client.get("/api/me/subscriptions").status_code == 401
    assert client.post("/api/me/subscriptions", json={ONE_TIME: "accept"}).status_code == 401


def test_each_accept_of_a_one_time_template_is_one_credit(app, client, me):
    pid, auth = me
    first = client.get("/api/me/subscriptions", headers=auth)
    assert first.status_code == 200 and first.json["max_per_request"] == 3
    assert by_kind(first)["meeting_notice"] == {
        "kind": "meeting_notice", "kind_label": "会议通知", "template_id": ONE_TIME,
        "long_term": False, "subscribed": False, "credits": 0}
    for _ in range(2):
        r = client.post("/api/me/subscriptions", headers=auth, json={
            "errMsg": "requestSubscribeMessage:ok", ONE_TIME: "accept", STATUS: "reject"})
        assert r.status_code == 200
    assert by_kind(r)["meeting_notice"]["credits"] == 2
    assert by_kind(r)["status_change"]["credits"] == 0
    assert stored(app, pid) == {ONE_TIME: (2, False)}
    assert by_kind(client.get("/api/me/subscriptions", headers=auth))["meeting_notice"][
        "credits"] == 2


def test_credits_are_capped(app, client, me):
    pid, auth = me
    with app.extensions["db"].session_scope() as s:
        s.add(SubscriptionCredit(person_id=pid, template_id=ONE_TIME, credits=CREDIT_CAP - 1))
    for _ in range(3):
        client.post("/api/me/subscriptions", headers=auth, json={ONE_TIME: "accept"})
    assert stored(app, pid)[ONE_TIME] == (CREDIT_CAP, False)


def test_unknown_template_ids_and_filter_are_ignored(app, client, me):
    pid, auth = me
    r = client.post("/api/me/subscriptions", headers=auth, json={
        "not_configured_here": "accept", ONE_TIME: "filter"})
    assert r.status_code == 200
    assert stored(app, pid) == {}


def test_long_term_accept_sets_and_reject_or_ban_clears(app, client, me, long_term_templates):
    pid, auth = me
    r = client.post("/api/me/subscriptions", headers=auth, json={"LT_meeting": "accept"})
    assert by_kind(r)["meeting_notice"] == {
        "kind": "meeting_notice", "kind_label": "会议通知", "template_id": "LT_meeting",
        "long_term": True, "subscribed": True, "credits": 0}
    assert stored(app, pid) == {"LT_meeting": (0, True)}
    client.post("/api/me/subscriptions", headers=auth, json={"LT_meeting": "ban"})
    assert stored(app, pid) == {"LT_meeting": (0, False)}
    client.post("/api/me/subscriptions", headers=auth, json={"LT_meeting": "accept"})
    r = client.post("/api/me/subscriptions", headers=auth, json={"LT_meeting": "reject"})
    assert by_kind(r)["meeting_notice"]["subscribed"] is False
    assert stored(app, pid) == {"LT_meeting": (0, False)}


@pytest.mark.parametrize("payload,named", [
    ({ONE_TIME: "yes"}, "accept、reject、ban 或 filter"),
    ({ONE_TIME: 1}, "accept、reject、ban 或 filter"),
    ({"x" * 65: "accept"}, "1–64"),
    ({f"t{i}": "accept" for i in range(21)}, "最多 20 项"),
    ({"errMsg": ["not", "text"]}, "应为文字"),
])
def test_bad_payloads_are_refused_in_chinese_and_change_nothing(app, client, me, payload, named):
    pid, auth = me
    client.post("/api/me/subscriptions", headers=auth, json={ONE_TIME: "accept"})
    r = client.post("/api/me/subscriptions", headers=auth, json={**payload, STATUS: "accept"})
    assert r.status_code == 422 and r.json["error"] == "validation_failed"
    assert named in r.json["message"]
    assert stored(app, pid) == {ONE_TIME: (1, False)}
    r = client.post("/api/me/subscriptions", headers=auth, data="[]",
                    content_type="application/json")
    assert r.status_code == 400 and r.json["error"] == "invalid_json"


def test_concurrent_accepts_are_all_counted(app, me):
    pid, auth = me
    codes = race(app, 8, lambda local, i: local.post(
        "/api/me/subscriptions", headers=auth, json={ONE_TIME: "accept", STATUS: "accept"}
    ).status_code)
    assert codes == [200] * 8
    assert stored(app, pid) == {ONE_TIME: (8, False), STATUS: (8, False)}
