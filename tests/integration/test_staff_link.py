"""Issue 10 items 17 and 20: people who cannot bind by phone (reviewers, department handlers,
staff — 409 privileged_account) or who have no mini-program at all get a one-time link code
issued for them by CPPCC staff within their reach (or, for the people invited to their meeting,
by the convenor), and attach their WeChat with it: in the mini-program (`POST /api/auth/link`)
or by sending `绑定 <code>` to the Official Account. One code table, one service
(app/chat/services.py): the self-service chat code and the staff link code are the same rows.
"""
from __future__ import annotations

import base64
import re
import time
from datetime import timedelta

import pytest
import time_machine
from sqlalchemy import func, select

from app.audit.models import AuditEntry
from app.chat.models import ChatBindingCode
from app.db import utcnow
from app.org import factories as f
from app.org.models import Body, Person, Role, WechatApp, WechatIdentity
from bots.conversation import Inbound, answer

from .. import consult_world
from ..consult_world import as_
from ..helpers import bearer, committed_session
from .test_auth_phone import login as wx_login


@pytest.fixture
def world(app):
    return consult_world.build(app)


def issue(client, world, who, by="county_staff"):
    return client.post(f"/api/people/{world['people'][who]}/link-code", json={},
                       headers=as_(world, by))


def use(client, token, code):
    return client.post("/api/auth/link", json={"code": code}, headers=bearer(token))


def say(app, openid, text):
    with committed_session(app) as s:
        reply = answer(s, Inbound(openid=openid, kind="text", content=text))
    return reply.text if reply else None


def audits(app, action):
    with committed_session(app) as s:
        return list(s.scalars(select(AuditEntry).where(AuditEntry.action == action)
                              .order_by(AuditEntry.id)))


# --- issuing -----------------------------------------------------------------------------------

def test_staff_issue_a_ten_digit_day_long_code_with_its_qr_stored_as_a_hash(client, app, world):
    r = issue(client, world, "rev_county_pc")
    assert r.status_code == 201, r.json
    code = r.json["code"]
    assert re.fullmatch(r"\d{10}", code)
    expires = r.json["expires_at"]
    with committed_session(app) as s:
        row = s.scalar(select(ChatBindingCode))
        assert code not in row.code_hash and row.issued_by_id == world["people"]["county_staff"]
        assert timedelta(hours=23, minutes=59) < row.expires_at - utcnow() <= timedelta(hours=24)
    assert expires.startswith(row.expires_at.isoformat()[:16])
    assert code in r.json["instruction"] and "绑定" in r.json["instruction"]
    png = r.json["qr_png"]
    assert png.startswith("data:image/png;base64,")
    assert base64.b64decode(png.split(",", 1)[1])[:8] == b"\x89PNG\r\n\x1a\n"
    [entry] = audits(app, "chat.link_code_issued")
    assert entry.actor_id == world["people"]["county_staff"]
    assert entry.object_id == str(world["people"]["rev_county_pc"])
    assert code not in str(entry.after)


def test_answers_carrying_a_link_or_binding_code_are_not_stored(client, world):
    """A link code is a one-time credential for a day (whoever sends it becomes that person),
    the chat binding code one for 10 minutes: like a token, no cache may keep them (issue 10
    #27, docs/deploy.md)."""
    r = issue(client, world, "rev_county_pc")
    assert r.status_code == 201 and r.json["code"]
    assert r.headers.get("Cache-Control") == "no-store"
    r = client.post("/api/me/chat-binding-code", headers=as_(world, "resident"))
    assert r.status_code == 201 and r.json["code"]
    assert r.headers.get("Cache-Control") == "no-store"


def test_only_staff_within_reach_issue_for_anyone(client, app, world):
    # A resident or a member may not; a convenor only through their meeting (below).
    assert issue(client, world, "rev_county_pc", by="resident").status_code == 403
    assert issue(client, world, "rev_county_pc", by="conv_village").status_code == 403
    # County staff do not reach a reviewer of the city's Party committee (404, as for people).
    r = issue(client, world, "rev_city_pc")
    assert r.status_code == 404 and r.json["error"] == "person_not_found"
    # Someone who lives in the county but holds a city-level role: in reach, the role is not.
    with committed_session(app) as s:
        p = s.get(Person, world["people"]["member2"])
        f.assign_role(s, p, Role.reviewer, body=s.get(Body, world["bodies"]["city_gov"]))
    r = issue(client, world, "member2")
    assert r.status_code == 403 and r.json["error"] == "link_out_of_reach"
    assert "市" in r.json["message"] or "范围" in r.json["message"]
    with committed_session(app) as s:
        assert s.scalar(select(func.count()).select_from(ChatBindingCode)) == 0


# --- the mini-program entry point ----------------------------------------------------------------

def test_a_reviewer_links_their_mini_program_with_the_code(client, app, world):
    code = issue(client, world, "rev_county_pc").json["code"]
    me = wx_login(client, "reviewer-phone")
    assert me["person"]["id"] != world["people"]["rev_county_pc"]
    r = use(client, me["token"], f" {code[:3]} {code[3:]} ")  # spaces as typed are fine
    assert r.status_code == 200, r.json
    assert r.json["person"]["id"] == world["people"]["rev_county_pc"]
    assert "reviewer" in r.json["person"]["roles"]
    # The same token now acts as the reviewer: their review list answers.
    mine = client.get("/api/me", headers=bearer(me["token"])).json
    assert mine["id"] == world["people"]["rev_county_pc"]
    assert any(role["role"] == "reviewer" for role in mine["roles"])
    with committed_session(app) as s:
        mp = s.scalars(select(WechatIdentity).where(
            WechatIdentity.person_id == world["people"]["rev_county_pc"])).all()
        assert [i.app for i in mp] == [WechatApp.mp]
        row = s.scalar(select(ChatBindingCode))
        assert row.used_at is not None
    [entry] = audits(app, "chat.link_code_used")
    assert entry.actor_id == world["people"]["rev_county_pc"]
    assert entry.after["app"] == "mp" and entry.after["issued_by"] == world["people"]["county_staff"]
    # Single use: the code again (from another WeChat) is refused, in Chinese, stable code.
    other = wx_login(client, "someone-else")
    again = use(client, other["token"], code)
    assert again.status_code == 409 and again.json["error"] == "binding_code_used"
    assert "已经用过" in again.json["message"]


def test_an_expired_or_wrong_code_and_too_many_tries(client, app, world):
    code = issue(client, world, "handler").json["code"]
    me = wx_login(client, "handler-phone")
    with time_machine.travel(utcnow() + timedelta(hours=24, minutes=1)):
        r = use(client, me["token"], code)
    assert r.status_code == 422 and r.json["error"] == "binding_code_expired"
    assert "过期" in r.json["message"] and "工作人员" in r.json["message"]
    wrong = "0000000000" if code != "0000000000" else "1111111111"
    answers = [use(client, me["token"], wrong) for _ in range(5)]
    assert [a.json["error"] for a in answers[:4]] == ["binding_code_wrong"] * 4
    assert use(client, me["token"], wrong).status_code == 429
    locked = use(client, me["token"], issue(client, world, "handler").json["code"])
    assert locked.status_code == 429 and locked.json["error"] == "binding_attempts"
    with committed_session(app) as s:
        assert s.scalar(select(WechatIdentity.id).where(
            WechatIdentity.person_id == world["people"]["handler"])) is None


def test_a_wechat_that_is_already_someone_else_is_refused(client, app, world):
    """The mini-program user is a person with a role of their own: never folded into another."""
    code = issue(client, world, "rev_county_pc").json["code"]
    with committed_session(app) as s:
        s.add(WechatIdentity(person_id=world["people"]["member"], app=WechatApp.mp,
                             openid="o_member_mp"))
    from app.auth.current import open_session
    from app.auth.models import SessionKind
    with committed_session(app) as s:
        token, _ = open_session(s, s.get(Person, world["people"]["member"]), SessionKind.mp,
                                timedelta(hours=1))
    r = use(client, token, code)
    assert r.status_code == 409 and r.json["error"] == "wechat_bound_to_other"
    assert "另一位" in r.json["message"]
    # The reviewer already has a mini-program WeChat: a second one is refused as well.
    with committed_session(app) as s:
        s.add(WechatIdentity(person_id=world["people"]["rev_county_gov"], app=WechatApp.mp,
                             openid="o_rev_gov_mp"))
    code = issue(client, world, "rev_county_gov").json["code"]
    r = use(client, wx_login(client, "a-third-wechat")["token"], code)
    assert r.status_code == 409 and r.json["error"] == "person_has_wechat"
    with committed_session(app) as s:  # the refused code is still good for the right WeChat
        assert s.scalar(select(ChatBindingCode.used_at).where(
            ChatBindingCode.person_id == world["people"]["rev_county_gov"])) is None


def test_a_self_service_chat_code_is_not_a_mini_program_link(client, app, world):
    own = client.post("/api/me/chat-binding-code", headers=as_(world, "resident")).json["code"]
    r = use(client, wx_login(client, "stranger")["token"], own)
    assert r.status_code == 422 and r.json["error"] == "binding_code_wrong"


# --- the Official Account entry point --------------------------------------------------------------

def test_binding_the_official_account_with_a_staff_code(client, app, world):
    code = issue(client, world, "rev_county_pc").json["code"]
    text = say(app, "o_reviewer_oa", f"绑定 {code}")
    assert text.startswith("绑定成功，审核东县县委")
    with committed_session(app) as s:
        assert s.scalar(select(WechatIdentity.person_id).where(
            WechatIdentity.openid == "o_reviewer_oa")) == world["people"]["rev_county_pc"]
    [entry] = audits(app, "chat.link_code_used")
    assert entry.after["app"] == "oa"
    # Used: from another WeChat the code answers "used", never binds.
    again = say(app, "o_someone_else", f"绑定 {code}")
    assert "已经用过" in again
    # An openid already bound to another person is refused clearly, the code stays good.
    code = issue(client, world, "handler").json["code"]
    refused = say(app, "o_reviewer_oa", f"绑定 {code}")
    assert "另一个账号" in refused
    with committed_session(app) as s:
        assert s.scalar(select(ChatBindingCode.used_at).where(
            ChatBindingCode.person_id == world["people"]["handler"])) is None


# --- the operator CLI ------------------------------------------------------------------------------

def test_the_operator_cli_issues_the_same_code(client, app, world, tmp_path):
    png = tmp_path / "code.png"
    result = app.test_cli_runner().invoke(args=[
        "issue-link-code", "--person-id", str(world["people"]["rev_county_pc"]),
        "--png", str(png)])
    assert result.exit_code == 0, result.output
    code = re.search(r"\b(\d{10})\b", result.output)[1]
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    [entry] = audits(app, "chat.link_code_issued")
    assert entry.actor_id is None and entry.after["via"] == "cli"
    me = wx_login(client, "cli-linked")
    assert use(client, me["token"], code).json["person"]["id"] == world["people"]["rev_county_pc"]
    bad = app.test_cli_runner().invoke(args=["issue-link-code", "--person-id", "999999"])
    assert bad.exit_code != 0 and "不存在" in bad.output


# --- item 20: chat-only people ---------------------------------------------------------------------

def meeting_with(client, world, pairs):
    from .test_meetings import invite, schedule, when

    cid = schedule(client, world, **when(days=5)).json["id"]
    assert invite(client, world, cid, pairs).status_code == 200
    return cid


def test_the_convenor_issues_a_code_for_an_invitee_without_a_mini_program(client, app, world):
    cid = meeting_with(client, world, [("resident2", "resident"), ("handler", "department"),
                                       ("member", "member"), ("resident", "resident")])
    url = f"/api/consultations/{cid}/invitations/{{}}/link-code"
    r = client.post(url.format(world["people"]["resident2"]), json={},
                    headers=as_(world, "conv_village"))
    assert r.status_code == 201, r.json
    assert "绑定 " + r.json["code"] in r.json["instruction"]
    [entry] = audits(app, "chat.link_code_issued")
    assert entry.actor_id == world["people"]["conv_village"]
    assert entry.after["via"] == "invitation" and entry.after["consultation_id"] == cid
    # A department handler is privileged: staff link them, not the convenor.
    r = client.post(url.format(world["people"]["handler"]), json={},
                    headers=as_(world, "conv_village"))
    assert r.status_code == 403 and r.json["error"] == "link_needs_staff"
    # A member (any role) is linked by staff too (members can also bind by phone).
    r = client.post(url.format(world["people"]["member"]), json={},
                    headers=as_(world, "conv_village"))
    assert r.status_code == 403 and r.json["error"] == "link_needs_staff"
    # Someone who already has a WeChat needs no code: one would move it to whoever sends it.
    with committed_session(app) as s:
        s.add(WechatIdentity(person_id=world["people"]["resident"], app=WechatApp.oa,
                             openid="o_resident_own"))
    r = client.post(url.format(world["people"]["resident"]), json={},
                    headers=as_(world, "conv_village"))
    assert r.status_code == 409 and r.json["error"] == "person_has_wechat"
    # Not invited to this meeting; or a caller who does not manage it.
    r = client.post(url.format(world["people"]["outsider"]), json={},
                    headers=as_(world, "conv_village"))
    assert r.status_code == 404 and r.json["error"] == "invitation_not_found"
    r = client.post(url.format(world["people"]["resident2"]), json={},
                    headers=as_(world, "member"))  # invited, does not manage it: as the API
    assert r.status_code == 403
    r = client.post(url.format(world["people"]["resident2"]), json={},
                    headers=as_(world, "outsider"))
    assert r.status_code == 404 and r.json["error"] == "consultation_not_found"
    # County staff manage the meeting too and may link the handler (within their reach).
    r = client.post(url.format(world["people"]["handler"]), json={},
                    headers=as_(world, "county_staff"))
    assert r.status_code == 201, r.json
    # The invitee sends the code to the Official Account and can answer by chat.
    code = client.post(url.format(world["people"]["resident2"]), json={},
                       headers=as_(world, "conv_village")).json["code"]
    assert say(app, "o_grandpa", f"绑定：{code}").startswith("绑定成功，王大爷！")
    assert "已为您登记参加" in say(app, "o_grandpa", "参加")


def test_an_unbound_follower_is_told_how_to_get_a_code_and_help_is_different(app, world):
    anything = say(app, "o_stranger", "今天开会吗")
    assert "召集人" in anything and "工作人员" in anything and "绑定 " in anything
    assert "我的 → 绑定公众号" in anything
    help_text = say(app, "o_stranger", "帮助")
    assert help_text != anything
    assert "绑定后" in help_text and "请假 原因" in help_text and "出席情况" in help_text
    rsvp = say(app, "o_stranger", "参加")
    assert rsvp.startswith("您的微信还没有绑定") and "答复会议" in rsvp
    assert say(app, "o_stranger", "绑定") == (
        "请发送“绑定”加绑定码：小程序“我的 → 绑定公众号”里的6位数字，或召集人、工作人员给您的"
        "10位数字。例如：绑定 123456")


def test_a_meeting_notice_by_official_account_text_says_how_to_answer_by_chat(
        client, app, world, fake_wechat):
    from app.chat.models import ChatAccount
    from app.notify.channels import ChannelSet
    from app.notify.dispatcher import dispatch_once
    from app.notify.wechat_channels import OaCustomerServiceChannel

    with committed_session(app) as s:
        s.add(WechatIdentity(person_id=world["people"]["resident"], app=WechatApp.oa,
                             openid="o_res_oa"))
        s.add(ChatAccount(openid="o_res_oa", last_inbound_at=utcnow()))
    cid = meeting_with(client, world, [("resident", "resident")])
    assert client.post(f"/api/consultations/{cid}/notices", json={"confirm": True},
                       headers=as_(world, "conv_village")).json["sent"] is True
    dispatch_once(app, batch_size=50, worker_id="t",
                  channels=ChannelSet([OaCustomerServiceChannel(app.extensions["wechat"])]))
    [text] = [c.body["text"]["content"] for c in fake_wechat.calls("/cgi-bin/message/custom/send")
              if c.body["touser"] == "o_res_oa" and "协商会议通知" in c.body["text"]["content"]]
    assert "回复“参加”或“请假 原因”" in text and "请在小程序中回复是否参加" not in text
    assert (f'<a href="https://mp.weixin.qq.com/" data-miniprogram-appid="wx_sandbox_mp" '
            f'data-miniprogram-path="pages/meeting/meeting?id={cid}">') in text


# --- single use under concurrency (PostgreSQL, real threads) ---------------------------------------

@pytest.mark.postgres
def test_one_code_sent_from_two_wechats_at_once_binds_one(app, world, client):
    """Two WeChats send the same code at the same moment: exactly one is bound, the other is told
    the code was used (the claim is one conditional UPDATE, not a read then a write)."""
    import threading

    from app.chat import services as chat
    from app.errors import AppError

    if app.extensions["db"].engine.dialect.name != "postgresql":
        pytest.skip("needs PostgreSQL (TEST_DATABASE_URL)")
    code = issue(client, world, "rev_county_pc").json["code"]
    results: dict[str, object] = {}
    first_flushed = threading.Event()

    def bind(openid, hold):
        with app.app_context():
            s = app.extensions["db"].new_session()
            try:
                results[openid] = chat.bind_by_code(s, openid, code)
                if hold:  # keep the transaction open until the other one has tried
                    first_flushed.set()
                    time.sleep(1.0)
                s.commit()
            except AppError as exc:
                results[openid] = exc
                s.rollback()
            finally:
                first_flushed.set()
                s.close()

    a = threading.Thread(target=bind, args=("o_race_a", True))
    a.start()
    first_flushed.wait(10)
    b = threading.Thread(target=bind, args=("o_race_b", False))
    b.start()
    a.join(20)
    b.join(20)
    assert isinstance(results["o_race_a"], chat.Bound)
    assert isinstance(results["o_race_b"], AppError)
    assert results["o_race_b"].code == "binding_code_used"
    with committed_session(app) as s:
        assert s.scalars(select(WechatIdentity.openid).where(
            WechatIdentity.person_id == world["people"]["rev_county_pc"])).all() == ["o_race_a"]


def test_a_resident_s_explicit_resident_role_does_not_stop_the_link(client, app, world):
    """Imported residents carry an explicit 群众 role row: that is not "someone else"."""
    code = issue(client, world, "rev_county_pc").json["code"]
    me = wx_login(client, "resident-with-a-row")
    with committed_session(app) as s:
        from app.org.models import Region
        village = s.scalar(select(Region).where(Region.name == "前进村"))
        f.assign_role(s, s.get(Person, me["person"]["id"]), Role.resident, region=village)
    r = use(client, me["token"], code)
    assert r.status_code == 200, r.json
    assert r.json["person"]["id"] == world["people"]["rev_county_pc"]
