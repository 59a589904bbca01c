"""Binding the Official Account to a person: the one-time code from the mini-program API
(`绑定 123456` in the chat: right, wrong, expired, reused, the brute-force limit, an openid bound
to someone else, a binding moved), binding by unionid through WeChat's user/info (the fake), and
the API (login required, one live code per person, status, unbind)."""
from __future__ import annotations

from datetime import timedelta

import pytest
import redis
import time_machine
from sqlalchemy import func, select

from app.audit.models import AuditEntry
from app.chat import services as chat
from app.chat.models import ChatBindingCode
from app.db import utcnow
from app.org.models import WechatApp, WechatIdentity
from app.wechat.fake_apis import openid_for, unionid_for
from bots.conversation import Inbound, answer

from .. import consult_world
from ..consult_world import as_
from ..helpers import committed_session

OA_APPID = "wx_sandbox_oa"


@pytest.fixture
def world(app):
    return consult_world.build(app)


def new_code(client, world, who="resident"):
    r = client.post("/api/me/chat-binding-code", headers=as_(world, who))
    assert r.status_code == 201, r.json
    return r.json["code"]


def say(app, openid, text):
    with committed_session(app) as s:
        reply = answer(s, Inbound(openid=openid, kind="text", content=text))
    return reply


def oa_ids(app, person_id=None):
    with committed_session(app) as s:
        q = select(WechatIdentity.openid).where(WechatIdentity.app == WechatApp.oa)
        if person_id is not None:
            q = q.where(WechatIdentity.person_id == person_id)
        return sorted(s.scalars(q))


def audits(app, action):
    with committed_session(app) as s:
        return s.scalar(select(func.count()).select_from(AuditEntry).where(
            AuditEntry.action == action))


# --- the API ------------------------------------------------------------------------------------

def test_the_binding_api_needs_a_login(client):
    assert client.post("/api/me/chat-binding-code").status_code == 401
    assert client.get("/api/me/chat-binding").status_code == 401
    assert client.delete("/api/me/chat-binding").status_code == 401


def test_a_code_is_six_digits_stored_as_a_hash_and_replaced_by_the_next(client, app, world):
    r = client.post("/api/me/chat-binding-code", headers=as_(world, "resident"))
    assert r.status_code == 201
    code = r.json["code"]
    assert len(code) == 6 and code.isdigit()
    assert r.json["instruction"] == f"在公众号里发送：绑定 {code}（10分钟内有效）"
    with committed_session(app) as s:
        rows = s.scalars(select(ChatBindingCode)).all()
        assert len(rows) == 1 and code not in rows[0].code_hash and len(rows[0].code_hash) == 64
    second = new_code(client, world)
    with committed_session(app) as s:
        assert s.scalar(select(func.count()).select_from(ChatBindingCode)) == 1  # one live code
    if second != code:  # the old code no longer works
        assert "绑定码不正确" in say(app, "o_first_x", f"绑定 {code}").text
    assert say(app, "o_first_x", f"绑定 {second}").text.startswith("绑定成功")


def test_status_and_unbind(client, app, world):
    assert client.get("/api/me/chat-binding", headers=as_(world, "resident")).json == {
        "bound": False, "bound_at": None}
    say(app, "o_res_1", f"绑定 {new_code(client, world)}")
    r = client.get("/api/me/chat-binding", headers=as_(world, "resident"))
    assert r.json["bound"] is True and r.json["bound_at"]
    r = client.delete("/api/me/chat-binding", headers=as_(world, "resident"))
    assert r.status_code == 200 and r.json["bound"] is False
    assert oa_ids(app) == [] and audits(app, "chat.unbind") == 1
    # Unbinding twice is harmless; the chat asks to bind again.
    assert client.delete("/api/me/chat-binding", headers=as_(world, "resident")).json["bound"] \
        is False
    assert "绑定公众号" in say(app, "o_res_1", "我的会议").text


# --- binding by code in the chat ----------------------------------------------------------------

def test_binding_by_code_once(client, app, world):
    code = new_code(client, world)
    reply = say(app, "o_res_1", f"绑定：{code}")
    assert reply.text.startswith("绑定成功，张居民！")
    assert reply.person_id == world["people"]["resident"]
    assert oa_ids(app, world["people"]["resident"]) == ["o_res_1"]
    assert audits(app, "chat.bind") == 1
    # Used: the same code again from this WeChat says it is bound; from another it says the
    # code was used (issue 10 item 17: a used code has its own message), never binds.
    assert say(app, "o_res_1", f"绑定 {code}").text.startswith(
        "这个微信已经绑定了您的账号（张居民），无需重复绑定。")
    assert say(app, "o_other_1", f"绑定 {code}").text.startswith("这个绑定码已经用过了")
    assert oa_ids(app) == ["o_res_1"] and audits(app, "chat.bind") == 1
    # Now the chat knows who is writing.
    assert say(app, "o_res_1", "我的会议").text == "您目前没有受邀参加的会议。"


def test_full_width_code_and_privileged_people_bind_too(client, app, world):
    code = new_code(client, world, "county_staff")
    wide = code.translate(str.maketrans("0123456789", "０１２３４５６７８９"))
    assert say(app, "o_staff", f"绑定 {wide[:3]} {wide[3:]}").text.startswith("绑定成功")
    assert oa_ids(app, world["people"]["county_staff"]) == ["o_staff"]


def test_wrong_expired_and_malformed_codes(client, app, world):
    code = new_code(client, world)
    wrong = f"{(int(code) + 1) % 10 ** 6:06d}"
    assert say(app, "o_res_1", f"绑定 {wrong}").text == "绑定码不正确，请核对后重新发送（还可以再试 4 次）"
    assert say(app, "o_res_1", "绑定 12345").text.startswith("请发送“绑定”加绑定码：")
    with time_machine.travel(utcnow() + timedelta(minutes=11)):
        text = say(app, "o_res_1", f"绑定 {code}").text
    assert text.startswith("绑定码已过期，请在小程序“我的 → 绑定公众号”中重新获取")
    assert oa_ids(app) == []


def test_five_wrong_codes_lock_the_openid_for_a_while(client, app, world):
    code = new_code(client, world)
    wrong = f"{(int(code) + 1) % 10 ** 6:06d}"
    for left in (4, 3, 2, 1):
        assert f"还可以再试 {left} 次" in say(app, "o_guess", f"绑定 {wrong}").text
    assert "输错次数太多，请 15 分钟后再试" in say(app, "o_guess", f"绑定 {wrong}").text
    # Even the right code is refused now, and nothing is bound.
    assert say(app, "o_guess", f"绑定 {code}").text == "绑定码输错次数太多，请 15 分钟后再试"
    assert oa_ids(app) == []
    # Another WeChat is not affected, and the code still works there.
    assert say(app, "o_res_1", f"绑定 {code}").text.startswith("绑定成功")


def test_the_attempt_limit_fails_open_when_redis_is_down(client, app, world, monkeypatch):
    code = new_code(client, world)

    class Down:
        """Every Redis command fails."""

        def __getattr__(self, name):
            def down(*a, **kw):
                raise redis.ConnectionError("down")
            return down

    monkeypatch.setattr(chat, "_redis", lambda: Down())
    for _ in range(6):
        assert say(app, "o_res_1", "绑定 000000" if code != "000000" else "绑定 000001").text \
            == "绑定码不正确，请核对后重新发送"
    assert say(app, "o_res_1", f"绑定 {code}").text.startswith("绑定成功")


def test_an_openid_bound_to_someone_else_is_refused(client, app, world):
    say(app, "o_shared", f"绑定 {new_code(client, world, 'resident')}")
    code = new_code(client, world, "resident2")
    text = say(app, "o_shared", f"绑定 {code}").text
    assert text.startswith("这个微信已经绑定了另一个账号")
    assert oa_ids(app, world["people"]["resident"]) == ["o_shared"]
    assert oa_ids(app, world["people"]["resident2"]) == []
    # The refused code was not used up: the right WeChat can still use it.
    assert say(app, "o_wangs", f"绑定 {code}").text.startswith("绑定成功")


def test_binding_a_new_wechat_moves_the_binding_and_says_so(client, app, world):
    say(app, "o_old_phone", f"绑定 {new_code(client, world)}")
    text = say(app, "o_new_phone", f"绑定 {new_code(client, world)}").text
    assert "您原来绑定的另一个微信已解除" in text
    assert oa_ids(app, world["people"]["resident"]) == ["o_new_phone"]
    assert "绑定公众号" in say(app, "o_old_phone", "我的会议").text


# --- binding by unionid -------------------------------------------------------------------------

def test_a_mini_program_user_is_recognised_by_unionid(app, world, fake_wechat):
    with committed_session(app) as s:
        s.add(WechatIdentity(person_id=world["people"]["resident"], app=WechatApp.mp,
                             openid=openid_for("zhang"), unionid=unionid_for("zhang")))
    oa_openid = openid_for("zhang", OA_APPID)
    reply = say(app, oa_openid, "我的会议")
    assert reply.text.startswith("您好，张居民！已为您关联小程序账号。")
    assert "您目前没有受邀参加的会议。" in reply.text
    assert reply.person_id == world["people"]["resident"]
    with committed_session(app) as s:
        row = s.scalar(select(WechatIdentity).where(WechatIdentity.openid == oa_openid))
        assert (row.app, row.unionid) == (WechatApp.oa, "u_zhang")
    assert audits(app, "chat.bind") == 1
    assert [c.params.get("openid") for c in fake_wechat.calls("/cgi-bin/user/info")] == [oa_openid]
    # Known now: WeChat is not asked again.
    assert say(app, oa_openid, "帮助").person_id == world["people"]["resident"]
    assert len(fake_wechat.calls("/cgi-bin/user/info")) == 1


def test_unknown_unionid_or_wechat_failure_means_unknown(app, world, fake_wechat):
    stranger = openid_for("nobody", OA_APPID)
    assert "绑定公众号" in say(app, stranger, "参加").text  # u_nobody has no mini-program login
    with committed_session(app) as s:
        s.add(WechatIdentity(person_id=world["people"]["resident"], app=WechatApp.mp,
                             openid=openid_for("li"), unionid=unionid_for("li")))
    fake_wechat.fail("/cgi-bin/user/info", -1)
    assert "绑定公众号" in say(app, openid_for("li", OA_APPID), "参加").text
    assert oa_ids(app) == []
    # The next message (WeChat answering again) binds.
    assert say(app, openid_for("li", OA_APPID), "帮助").person_id == world["people"]["resident"]
