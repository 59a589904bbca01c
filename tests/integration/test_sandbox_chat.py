"""The sandbox chat page (issue "chatbot and real WeChat delivery", item 6): pick a seeded person,
chat with the bot through the webhook's own pipeline, watch notices arrive."""
from __future__ import annotations

import dataclasses

from sqlalchemy import select

from app import create_app
from app.notify.dispatcher import dispatch_once
from app.notify.services import enqueue_notice
from app.org.models import Person, Role, WechatApp, WechatIdentity
from app.chat.sandbox import sandbox_openid
from tests.helpers import committed_session


def _person(app, name="王大爷", role: Role | None = None) -> int:
    from app.org.factories import assign_role, create_region

    with committed_session(app) as s:
        p = Person(name=name)
        s.add(p)
        s.flush()
        if role is not None:
            region = create_region(s, code=f"r{p.id}", name="本市", kind="city")
            assign_role(s, p, role, region=region)
        return p.id


def _identities(app, person_id):
    with committed_session(app) as s:
        return list(s.scalars(select(WechatIdentity.openid).where(
            WechatIdentity.person_id == person_id, WechatIdentity.app == WechatApp.oa)))


def test_the_page_and_its_api_exist_only_in_sandbox_mode(app, client, config):
    page = client.get("/sandbox/chat")
    assert page.status_code == 200
    assert "公众号聊天演示" in page.get_data(as_text=True)
    # The same database and stand-ins, only the mode differs (replace() skips the start-up
    # checks, which would ask for PostgreSQL and real secrets).
    prod = create_app(dataclasses.replace(config, sandbox=False, wechat_mp_appid="wx123"))
    c = prod.test_client()
    for method, path in (("get", "/sandbox/chat"), ("get", "/sandbox/chat/people"),
                         ("post", "/sandbox/chat/send"), ("get", "/sandbox/chat/feed?person_id=1")):
        assert getattr(c, method)(path).status_code == 404, path


def test_people_to_pick_from_show_their_roles_first(app, client):
    plain = _person(app, "李阿姨")
    convenor = _person(app, "张召集", Role.convenor)
    people = client.get("/sandbox/chat/people").get_json()["people"]
    assert [p["id"] for p in people][:2] == [convenor, plain]
    assert people[0]["roles"] == ["召集人"] and people[1]["roles"] == []
    assert people[0]["platforms"] == [] and people[1]["platforms"] == []
    found = client.get("/sandbox/chat/people?q=李").get_json()["people"]
    assert [p["id"] for p in found] == [plain]


def test_chatting_as_a_person_binds_a_sandbox_openid_once_and_gets_the_bot_reply(app, client):
    pid = _person(app)
    first = client.post("/sandbox/chat/send", json={"person_id": pid, "text": "帮助"})
    assert first.status_code == 200, first.get_json()
    body = first.get_json()
    assert body["openid"] == sandbox_openid(pid)
    assert isinstance(body["reply"], str) and body["reply"].strip()
    again = client.post("/sandbox/chat/send", json={"person_id": pid, "text": "我的会议"})
    assert again.status_code == 200 and again.get_json()["reply"]
    assert _identities(app, pid) == [sandbox_openid(pid)]


def test_a_person_already_bound_keeps_their_own_openid(app, client):
    pid = _person(app)
    with committed_session(app) as s:
        s.add(WechatIdentity(person_id=pid, app=WechatApp.oa, openid="o_real_bound"))
    body = client.post("/sandbox/chat/send", json={"person_id": pid, "text": "帮助"}).get_json()
    assert body["openid"] == "o_real_bound"
    assert _identities(app, pid) == ["o_real_bound"]


def test_a_guest_is_an_unbound_follower(app, client):
    r = client.post("/sandbox/chat/send", json={"guest": "abc123xyz", "event": "subscribe"})
    assert r.status_code == 200
    assert r.get_json()["openid"] == "o_sandbox_guest_abc123xyz"
    with committed_session(app) as s:
        assert s.scalar(select(WechatIdentity.id).where(
            WechatIdentity.openid == "o_sandbox_guest_abc123xyz")) is None


def test_bad_input_is_refused_in_chinese_and_changes_nothing(app, client):
    pid = _person(app)
    cases = [
        ({"text": "帮助"}, "person_required"),
        ({"person_id": "1", "text": "帮助"}, "person_required"),
        ({"person_id": True, "text": "帮助"}, "person_required"),
        ({"guest": "../../x", "text": "帮助"}, "person_required"),
        ({"person_id": pid, "text": "字" * 601}, "invalid_text"),
        ({"person_id": pid, "text": "   "}, "invalid_text"),
        ({"person_id": pid, "text": 12}, "invalid_text"),
        ({"person_id": pid}, "invalid_text"),
        ({"person_id": pid, "event": "click", "event_key": "K" * 65}, "invalid_event_key"),
    ]
    for payload, code in cases:
        r = client.post("/sandbox/chat/send", json=payload)
        assert r.status_code == 422 and r.get_json()["error"] == code, (payload, r.get_json())
    assert client.post("/sandbox/chat/send", data="not json").status_code == 422
    missing = client.post("/sandbox/chat/send", json={"person_id": 999999, "text": "帮助"})
    assert missing.status_code == 404 and "找不到这位人员" in missing.get_json()["message"]
    assert _identities(app, pid) == []


def test_the_feed_shows_the_inbox_copy_and_what_reached_wechat(app, client, fake_wechat):
    pid = _person(app)
    client.post("/sandbox/chat/send", json={"person_id": pid, "text": "帮助"})  # binds, opens 48 h
    with committed_session(app) as s:
        enqueue_notice(s, kind="meeting_notice", recipient_id=pid, title="协商会议通知",
                       body="请于周一下午到新浦街道议事室参加协商会议。", dedupe_key=f"sandbox-feed:{pid}")
    assert dispatch_once(app, batch_size=5, worker_id="sandbox-test").sent == 1
    feed = client.get(f"/sandbox/chat/feed?person_id={pid}").get_json()
    assert [i["title"] for i in feed["inbox"]] == ["协商会议通知"]
    [wechat] = feed["wechat"]
    assert wechat["channel"] in ("公众号模板消息", "公众号客服消息")
    assert "议事室" in wechat["text"] or "协商会议" in wechat["text"]
    other = _person(app, "路人")
    assert client.get(f"/sandbox/chat/feed?person_id={other}").get_json() == {
        "inbox": [], "wechat": []}
    assert client.get("/sandbox/chat/feed?person_id=0").status_code == 404
