"""A meeting run entirely by chat, end to end over HTTP (issue "chatbot and real WeChat
delivery", must show: a convenor confirms attendance entirely by chat).

Everyone binds their Official Account with a code from the mini-program API; the convenor
schedules, invites and sends the notice (the mini-program's API); the dispatcher delivers the
notice to each person's WeChat (the fake); invitees answer by chat over the real signed webhook
— one of them three times with the same MsgId, as WeChat retries; the convenor reads who is
coming by group, confirms the final list and gets the check-in code by chat; a late change of
mind is refused exactly as the API refuses it.
"""
from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from datetime import datetime, timedelta

import pytest
import time_machine
from sqlalchemy import func, select

from app.audit.models import AuditEntry
from app.consultations.models import Consultation, Invitation
from app.notify.dispatcher import dispatch_once

from .. import consult_world
from ..consult_world import as_
from ..helpers import committed_session
from ..integration.test_meetings import invite, schedule, when
from ..integration.test_oa_webhook import post, signed, text_xml

OPENIDS = {who: f"o_chat_{who}" for who in
           ("conv_village", "member", "resident", "resident2", "stakeholder", "official")}
TEMPLATE_SEND = "/cgi-bin/message/template/send"


@pytest.fixture
def world(app):
    return consult_world.build(app)


class Chat:
    """Messages to /wechat/oa as WeChat sends them: signed, with fresh MsgIds."""

    def __init__(self, client, token):
        self.client, self.token, self.msg_id = client, token, 7_000_000_000_000_000_000

    def send(self, who: str, text: str, msg_id: int | None = None) -> str:
        if msg_id is None:
            self.msg_id += 1
            msg_id = self.msg_id
        r = post(self.client, text_xml(text, openid=OPENIDS[who], msg_id=msg_id),
                 signed(self.token))
        assert r.status_code == 200, r.get_data(as_text=True)
        body = r.get_data(as_text=True)
        if body == "success":
            return ""
        reply = ET.fromstring(body)
        assert reply.findtext("ToUserName") == OPENIDS[who]
        return reply.findtext("Content")


def ok(r, status=200):
    assert r.status_code == status, r.json
    return r.json


def test_a_meeting_run_by_chat(client, app, world, fake_wechat):
    chat = Chat(client, app.config["APP"].oa_webhook_token)
    conv = "conv_village"

    # Binding: a code from the mini-program, sent to the Official Account.
    for who in OPENIDS:
        code = ok(client.post("/api/me/chat-binding-code", headers=as_(world, who)), 201)["code"]
        assert re.fullmatch(r"\d{6}", code)
        assert "绑定" in chat.send(who, f"绑定 {code}")
        assert ok(client.get("/api/me/chat-binding", headers=as_(world, who)))["bound"] is True

    # The convenor schedules, invites and sends the notice (mini-program API).
    slot = when(days=6)
    start = datetime.fromisoformat(slot["starts_at"])
    cid = ok(schedule(client, world, place_kind="venue", place="前进村议事室", **slot), 201)["id"]
    invitees = [("member", "member"), ("resident", "resident"), ("resident2", "resident"),
                ("stakeholder", "stakeholder"), ("official", "official")]
    ok(invite(client, world, cid, invitees))
    assert ok(client.post(f"/api/consultations/{cid}/notices", json={},
                          headers=as_(world, conv)))["sent"] is True

    # The notice reaches every invitee's WeChat (Official Account template message).
    stats = dispatch_once(app, batch_size=100, worker_id="e2e")
    assert stats.claimed == stats.sent  # the topic's earlier notices go out too
    reached = [c.body["touser"] for c in fake_wechat.calls(TEMPLATE_SEND, ok=True)
               if c.body["template_id"] == "sandbox_oa_meeting_notice"]
    assert sorted(reached) == sorted(OPENIDS[p] for p, _ in invitees)

    # Answers by chat, in everyday wording.
    assert "已为您登记参加" in chat.send("member", "参加")
    assert "已为您登记参加" in chat.send("resident", "１")
    assert "请假" in chat.send("resident2", "请假")  # no reason yet: asked for one
    declined = chat.send("resident2", "请假，出差在外地")
    assert "出差在外地" in declined
    # WeChat delivers the stakeholder's answer three times (no answer seen within 5 s).
    replies = {chat.send("stakeholder", "好的我参加！", msg_id=8_000_000_000_000_000_001)
               for _ in range(3)}
    assert len(replies) == 1 and "已为您登记参加" in replies.pop()

    with committed_session(app) as s:
        answers = dict(s.execute(select(Invitation.person_id, Invitation.answer).where(
            Invitation.consultation_id == cid)).all())
        stakeholder_records = s.scalar(select(func.count()).select_from(AuditEntry).where(
            AuditEntry.action == "consultation.rsvp",
            AuditEntry.actor_id == world["people"]["stakeholder"]))
    people = world["people"]
    assert {k: answers[people[k]].value for k, _ in invitees} == {
        "member": "accepted", "resident": "accepted", "resident2": "declined",
        "stakeholder": "accepted", "official": "pending"}
    assert stakeholder_records == 1

    # A member may not see or lock the list by chat, as in the API.
    refused = chat.send("member", "出席情况")
    api = client.get(f"/api/consultations/{cid}/attendance", headers=as_(world, "member"))
    assert api.status_code == 403 and api.json["message"] in refused

    # The convenor, by chat only: who is coming, by group; then the final list.
    tally = chat.send(conv, "出席情况")
    assert "群众代表" in tally and "政协委员" in tally
    assert re.search(r"群众代表[^\n]*参加\s*1[^\n]*请假\s*1", tally), tally
    locked = chat.send(conv, "确认名单")
    with committed_session(app) as s:
        c = s.get(Consultation, cid)
        assert c.list_locked_at is not None and c.list_locked_by_id == people[conv]
    assert "确认" in locked

    # After the lock, a change of mind by chat is refused with the API's own words.
    late = chat.send("resident2", "参加")
    api = client.put(f"/api/consultations/{cid}/rsvp", headers=as_(world, "resident2"),
                     json={"answer": "accepted"})
    assert api.status_code == 409 and api.json["message"] in late
    with committed_session(app) as s:
        assert s.scalar(select(Invitation.answer).where(
            Invitation.consultation_id == cid,
            Invitation.person_id == people["resident2"])).value == "declined"

    # On the day, the convenor asks for the check-in code by chat: the same code the
    # convenor's screen shows.
    with time_machine.travel(start - timedelta(minutes=10), tick=True):
        code = ok(client.get(f"/api/consultations/{cid}/checkin-code",
                             headers=as_(world, conv)))["code"]
        assert code in chat.send(conv, "签到")


def test_link_codes_end_to_end_a_chat_only_invitee_and_a_reviewer(client, app, world,
                                                                   fake_wechat):
    """Issue 10 items 17 and 20 over HTTP: a chat-only invitee gets a code from the convenor
    and binds by sending it through the signed webhook, then answers by chat; a reviewer, whom
    phone binding refuses, gets a code from county staff and links the mini-program with it
    (their review list answers), then binds the Official Account with a second one."""
    from ..integration.test_auth_phone import login as wx_login

    chat = Chat(client, app.config["APP"].oa_webhook_token)
    cid = ok(schedule(client, world, place_kind="venue", place="前进村议事室", **when(days=6)),
             201)["id"]
    ok(invite(client, world, cid, [("resident2", "resident"), ("member", "member")]))

    # Unbound: told where codes come from; 帮助 says what binding makes possible.
    assert "召集人或政协工作人员" in chat.send("resident2", "开会吗")
    assert chat.send("resident2", "帮助").startswith("绑定后")
    issued = ok(client.post(f"/api/consultations/{cid}/invitations/"
                            f"{world['people']['resident2']}/link-code",
                            headers=as_(world, "conv_village")), 201)
    code = issued["code"]
    assert chat.send("resident2", f"绑定 {code[:3]} {code[3:6]} {code[6:]}").startswith(
        "绑定成功，王大爷！")
    assert "出差" in chat.send("resident2", "请假 出差")
    # The used code from someone else's WeChat: refused, binds nothing.
    assert "已经用过" in chat.send("resident", f"绑定 {code}")
    with committed_session(app) as s:
        assert s.scalar(select(func.count()).select_from(AuditEntry).where(
            AuditEntry.action == "chat.link_code_used")) == 1
    own = ok(client.post("/api/me/chat-binding-code", headers=as_(world, "conv_village")),
             201)["code"]
    assert chat.send("conv_village", f"绑定 {own}").startswith("绑定成功")
    assert "  请假：王大爷（出差）" in chat.send("conv_village", "出席情况")

    # A reviewer: phone binding is refused; the staff link works.
    reviewer = world["people"]["rev_county_pc"]
    me = wx_login(client, "reviewer-own-wechat")
    code = ok(client.post(f"/api/people/{reviewer}/link-code",
                          headers=as_(world, "county_staff")), 201)["code"]
    linked = ok(client.post("/api/auth/link", json={"code": code},
                            headers={"Authorization": f"Bearer {me['token']}"}))
    assert linked["person"]["id"] == reviewer and "reviewer" in linked["person"]["roles"]
    assert client.get("/api/me/reviews",
                      headers={"Authorization": f"Bearer {me['token']}"}).status_code == 200
    code = ok(client.post(f"/api/people/{reviewer}/link-code",
                          headers=as_(world, "county_staff")), 201)["code"]
    OPENIDS["reviewer"] = "o_chat_reviewer"
    try:
        assert chat.send("reviewer", f"绑定 {code}").startswith("绑定成功")
    finally:
        del OPENIDS["reviewer"]
