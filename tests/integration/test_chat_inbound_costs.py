"""What one Official Account message costs, and that the savings change no behaviour: the inbound
write throttled per openid (the 48-hour window stays right: never late, at most INBOUND_REFRESH
early; follow / unfollow always written; every message written when Redis is down or the answer
rolled back), WeChat's user/info answer cached (asked once per unbound follower, dropped on
binding, a failure never kept), and the SQL statements per message bounded."""
from __future__ import annotations

import itertools
from datetime import timedelta

import pytest
import redis
import time_machine
from sqlalchemy import select

from app.chat import services as chat
from app.chat.models import ChatAccount
from app.db import utcnow
from app.org.models import WechatApp, WechatIdentity
from app.wechat.fake_apis import openid_for, unionid_for
from bots import webhook
from bots.conversation import Inbound

from .. import consult_world
from ..helpers import committed_session, count_statements, sql_statements
from .test_chat_conversation import meeting

OA_APPID = "wx_sandbox_oa"
_msg_ids = itertools.count(7_000_000_000_000_000_001)


@pytest.fixture
def world(app):
    w = consult_world.build(app)
    with committed_session(app) as s:
        for key in ("resident", "conv_village"):
            s.add(WechatIdentity(person_id=w["people"][key], app=WechatApp.oa,
                                 openid=f"oa_{key}"))
    return w


def send(app, openid: str, text: str = "帮助", **kw) -> str | None:
    """One new message through the webhook's pipeline (dedupe, worker pool, commit)."""
    return webhook.handle_inbound(app, Inbound(openid=openid, kind="text", content=text,
                                               msg_id=next(_msg_ids), **kw))


def event(app, openid: str, name: str) -> str | None:
    return webhook.handle_inbound(app, Inbound(openid=openid, kind="event", event=name,
                                               create_time=next(_msg_ids) % 10 ** 9))


def account(app, openid="oa_resident") -> ChatAccount | None:
    with committed_session(app) as s:
        return s.scalar(select(ChatAccount).where(ChatAccount.openid == openid))


class Down:
    """Every Redis command fails."""

    def __getattr__(self, name):
        def down(*a, **kw):
            raise redis.ConnectionError("down")
        return down


# --- the inbound write ------------------------------------------------------------------------

def test_the_inbound_is_written_at_most_once_per_refresh_and_the_window_never_runs_late(
        app, world):
    start = utcnow().replace(microsecond=0)
    with time_machine.travel(start, tick=False):
        assert "回复" in send(app, "oa_resident")
    assert account(app).last_inbound_at == start
    key = "chat:inbound:oa_resident"
    assert 0 < app.extensions["redis"].ttl(key) <= chat.INBOUND_REFRESH
    # Within the refresh: nothing written, the stored time stays within INBOUND_REFRESH of the
    # latest message, so the window read from it closes early by less than that, never late.
    with time_machine.travel(start + timedelta(seconds=chat.INBOUND_REFRESH - 1), tick=False):
        send(app, "oa_resident")
    latest = start + timedelta(seconds=chat.INBOUND_REFRESH - 1)
    stored = account(app).last_inbound_at
    assert stored == start and latest - stored < timedelta(seconds=chat.INBOUND_REFRESH)
    # The marker gone (it expires after INBOUND_REFRESH): the next message writes again.
    app.extensions["redis"].delete(key)
    later = start + timedelta(seconds=chat.INBOUND_REFRESH + 5)
    with time_machine.travel(later, tick=False):
        send(app, "oa_resident")
    assert account(app).last_inbound_at == later


def test_follow_and_unfollow_are_always_written(app, world):
    send(app, "oa_resident")
    assert event(app, "oa_resident", "unsubscribe") is None
    assert account(app).followed is False
    assert "欢迎关注" in event(app, "oa_resident", "subscribe")
    assert account(app).followed is True


def test_without_redis_every_message_writes(app, world, monkeypatch):
    monkeypatch.setattr(chat, "_redis", lambda: Down())
    start = utcnow().replace(microsecond=0)
    for minutes in (0, 1):
        with time_machine.travel(start + timedelta(minutes=minutes), tick=False):
            send(app, "oa_resident")
        assert account(app).last_inbound_at == start + timedelta(minutes=minutes)


def test_an_answer_rolled_back_leaves_no_marker(app, world, monkeypatch):
    def broken(session, openid):
        raise RuntimeError("boom")

    monkeypatch.setattr(chat, "person_for_openid", broken)
    assert send(app, "oa_resident") == webhook.APOLOGY
    assert account(app) is None
    assert not app.extensions["redis"].exists("chat:inbound:oa_resident")
    monkeypatch.undo()
    send(app, "oa_resident")  # so the next message writes
    assert account(app) is not None


# --- WeChat's user/info -----------------------------------------------------------------------------

def test_an_unbound_follower_costs_one_user_info_call_until_bound(app, world, fake_wechat):
    stranger = openid_for("zhang", OA_APPID)  # WeChat knows u_zhang; no mini-program login yet
    for _ in range(3):
        assert "绑定" in send(app, stranger)
    assert len(fake_wechat.calls("/cgi-bin/user/info")) == 1
    # The mini-program login comes later: the cached unionid finds it without asking again.
    with committed_session(app) as s:
        s.add(WechatIdentity(person_id=world["people"]["resident"], app=WechatApp.mp,
                             openid=openid_for("zhang"), unionid=unionid_for("zhang")))
        s.execute(WechatIdentity.__table__.delete().where(WechatIdentity.openid == "oa_resident"))
    assert send(app, stranger).startswith("您好，张居民！已为您关联小程序账号。")
    assert len(fake_wechat.calls("/cgi-bin/user/info")) == 1
    assert not app.extensions["redis"].exists(f"chat:unionid:{stranger}")  # dropped on binding


def test_no_unionid_is_kept_for_a_while_and_a_failure_not_at_all(app, world, monkeypatch,
                                                                  fake_wechat):
    stranger = openid_for("li", OA_APPID)
    fake_wechat.fail("/cgi-bin/user/info", -1)
    send(app, stranger)
    send(app, stranger)  # the failure was not kept: WeChat is asked again
    assert len(fake_wechat.calls("/cgi-bin/user/info")) == 2
    asked = []
    oa = app.extensions["wechat"].oa
    monkeypatch.setattr(oa, "user_info", lambda openid, timeout=None: asked.append(openid)
                        or {"subscribe": 1, "openid": openid})  # no Open Platform binding
    other = openid_for("wang", OA_APPID)
    for _ in range(3):
        assert "绑定" in send(app, other)
    assert asked == [other]
    assert 0 < app.extensions["redis"].ttl(f"chat:unionid:{other}") <= chat.NO_UNIONID_TTL


def test_binding_by_code_drops_the_cached_answer(app, world, client, fake_wechat):
    from ..consult_world import as_

    stranger = openid_for("nobody", OA_APPID)
    send(app, stranger)
    assert app.extensions["redis"].exists(f"chat:unionid:{stranger}")
    code = client.post("/api/me/chat-binding-code", headers=as_(world, "member")).json["code"]
    assert send(app, stranger, f"绑定 {code}").startswith("绑定成功")
    assert not app.extensions["redis"].exists(f"chat:unionid:{stranger}")


# --- statements per message -------------------------------------------------------------------------

def statements(app, fn) -> list[str]:
    """The first word of each statement `fn()` sends (SELECT, UPDATE, SAVEPOINT…)."""
    return [st.lstrip().split(None, 1)[0].upper()
            for st in sql_statements(app.extensions["db"].engine, fn)]


@pytest.mark.parametrize("openid, text", [
    ("oa_resident", "我的会议"), ("oa_resident", "简报"), ("oa_conv_village", "出席情况"),
    ("oa_resident", "帮助"), ("oa_resident", "今天天气"), ("oa_resident", "绑定"),
    ("oa_resident", None)])
def test_read_only_intents_write_nothing_and_need_no_savepoint(app, world, client, openid,
                                                                text):
    meeting(client, world)
    send(app, openid)  # the inbound written; throttled from now on
    if text is None:
        fn = lambda: webhook.handle_inbound(app, Inbound(  # noqa: E731
            openid=openid, kind="image", msg_id=next(_msg_ids)))
    else:
        fn = lambda: send(app, openid, text)  # noqa: E731
    seen = statements(app, fn)
    assert seen and set(seen) == {"SELECT"}, seen


def test_a_writing_intent_keeps_its_savepoint(app, world, client):
    meeting(client, world)
    send(app, "oa_resident")
    seen = statements(app, lambda: send(app, "oa_resident", "参加"))
    assert "SAVEPOINT" in seen and "UPDATE" in seen, seen


def test_statements_per_message_are_bounded(app, world):
    engine = app.extensions["db"].engine
    assert count_statements(engine, lambda: send(app, "oa_resident")) == 2  # upsert + person
    # Throttled: the person's row only.
    assert count_statements(engine, lambda: send(app, "oa_resident")) == 1
    assert count_statements(engine, lambda: send(app, "oa_resident", "我的会议")) == 2
    # A duplicate delivery never reaches the database.
    inbound = Inbound(openid="oa_resident", kind="text", content="帮助", msg_id=next(_msg_ids))
    webhook.handle_inbound(app, inbound)
    assert count_statements(engine, lambda: webhook.handle_inbound(app, inbound)) == 0
