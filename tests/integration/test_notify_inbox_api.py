"""The inbox API: my notices only, newest first, keyset pages, unread count, mark as read."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from app.auth.current import open_session
from app.auth.models import SessionKind
from app.notify.channels import ChannelSet
from app.notify.dispatcher import dispatch_once
from app.notify.models import InboxItem
from app.notify.services import dedupe_key, enqueue_notice
from app.org.models import Person


@pytest.fixture
def users(app, session):
    alice, bob = Person(name="李四"), Person(name="王五")
    session.add_all([alice, bob])
    session.flush()
    tokens = {}
    for p in (alice, bob):
        token, _ = open_session(session, p, SessionKind.mp, timedelta(hours=1))
        tokens[p.id] = {"Authorization": f"Bearer {token}"}
    session.commit()
    return alice.id, bob.id, tokens


def deliver(app, person_id, n, kind="meeting_notice"):
    """Enqueue n notices and let the dispatcher write the inbox copies (no external channel)."""
    with app.extensions["db"].session_scope() as s:
        for i in range(n):
            enqueue_notice(s, kind=kind, recipient_id=person_id, title=f"通知{i}",
                           body=f"第{i}条", link=f"pages/meeting/detail?id={i}",
                           dedupe_key=dedupe_key(kind, f"m:{i}", person_id))
    dispatch_once(app, batch_size=100, worker_id="t", channels=ChannelSet([]))
    with app.extensions["db"].session_scope() as s:
        return list(s.scalars(select(InboxItem.id).where(InboxItem.person_id == person_id)
                              .order_by(InboxItem.id)))


def test_inbox_needs_login(client):
    r = client.get("/api/me/inbox")
    assert r.status_code == 401 and r.json["error"] == "unauthorized"
    assert client.post("/api/me/inbox/1/read").status_code == 401


def test_inbox_lists_only_my_items_newest_first_with_unread_count(app, client, users):
    alice, bob, tokens = users
    mine = deliver(app, alice, 3)
    deliver(app, bob, 2)
    r = client.get("/api/me/inbox", headers=tokens[alice])
    assert r.status_code == 200
    assert [i["id"] for i in r.json["items"]] == list(reversed(mine))
    assert r.json["unread_count"] == 3 and r.json["next_before_id"] is None
    first = r.json["items"][0]
    assert first["title"] == "通知2" and first["kind_label"] == "会议通知"
    assert first["link"] == "pages/meeting/detail?id=2" and first["is_read"] is False


def test_inbox_pages_by_id(app, client, users):
    alice, _, tokens = users
    mine = deliver(app, alice, 5)
    seen = []
    before = None
    for _ in range(5):
        query = {"limit": 2} | ({"before_id": before} if before else {})
        page = client.get("/api/me/inbox", query_string=query, headers=tokens[alice]).json
        seen += [i["id"] for i in page["items"]]
        before = page["next_before_id"]
        if before is None:
            break
    assert seen == list(reversed(mine))


def test_mark_read_is_idempotent_and_updates_the_count(app, client, users):
    alice, _, tokens = users
    mine = deliver(app, alice, 2)
    r = client.post(f"/api/me/inbox/{mine[0]}/read", headers=tokens[alice])
    assert r.status_code == 200 and r.json["is_read"] is True and r.json["read_at"]
    again = client.post(f"/api/me/inbox/{mine[0]}/read", headers=tokens[alice])
    assert again.json["read_at"] == r.json["read_at"]
    page = client.get("/api/me/inbox", headers=tokens[alice]).json
    assert page["unread_count"] == 1
    unread = client.get("/api/me/inbox", query_string={"unread_only": "true"},
                        headers=tokens[alice]).json
    assert [i["id"] for i in unread["items"]] == [mine[1]]


def test_someone_elses_item_is_not_found_and_stays_unread(app, client, users):
    alice, bob, tokens = users
    bobs = deliver(app, bob, 1)
    r = client.post(f"/api/me/inbox/{bobs[0]}/read", headers=tokens[alice])
    assert r.status_code == 404 and r.json["error"] == "inbox_item_not_found"
    assert client.post("/api/me/inbox/999999/read", headers=tokens[alice]).status_code == 404
    assert client.get("/api/me/inbox", headers=tokens[bob]).json["unread_count"] == 1


@pytest.mark.parametrize("query", [{"limit": 0}, {"limit": 51}, {"before_id": 0},
                                   {"limit": "x"}])
def test_bad_paging_is_refused_in_chinese(client, users, query):
    _, _, tokens = users
    token = next(iter(tokens.values()))
    r = client.get("/api/me/inbox", query_string=query, headers=token)
    assert r.status_code == 422 and r.json["error"] == "validation_failed"
    assert any("\u4e00" <= ch <= "\u9fff" for ch in r.json["message"])
