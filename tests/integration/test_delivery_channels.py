"""The real delivery channels against the fake WeChat: subscribe messages and their credits,
Official Account template and customer-service messages, the 45009 pause, token trouble, and
the WeCom robot's digests."""
from __future__ import annotations

import random
from collections import Counter
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from app.chat.models import ChatAccount
from app.db import utcnow
from app.notify.channels import ChannelSet, build_channels
from app.notify.credits import credits_left
from app.notify.dispatcher import DispatchPolicy, dispatch_once
from app.notify.models import (AttemptOutcome, ChannelPause, DeliveryAttempt, OutboxMessage,
                               OutboxState, SubscriptionCredit)
from app.notify.services import dedupe_key, enqueue_notice, fan_out
from app.notify.templates import SANDBOX_TEMPLATES
from app.notify.wechat_channels import SANDBOX_ROBOT_KEY, WecomRobotChannel, wechat_channels
from app.org import factories as f
from app.org.models import Person, Role, WechatApp, WechatIdentity
from app.wechat.client import Wechat
from app.wechat.errors import seconds_until_beijing_midnight
from app.workdays import CHINA_TZ

SUBSCRIBE = "/cgi-bin/message/subscribe/send"
TEMPLATE = "/cgi-bin/message/template/send"
CUSTOM = "/cgi-bin/message/custom/send"
ROBOT = "/cgi-bin/webhook/send"
MEETING_TPL = "sandbox_meeting_notice"
POLICY = DispatchPolicy(max_attempts=3, base_delay=10, max_delay=100, jitter=0.2)
LONG_TITLE = "关于新浦街道老旧小区加装电梯与停车位改造的协商会议"


@pytest.fixture
def channels(app):
    """The real channels against the fake (sandbox templates), without the sandbox fallback."""
    return ChannelSet(wechat_channels(app.extensions["wechat"], SANDBOX_TEMPLATES,
                                      app.config["APP"], app.extensions["redis"]))


def person(app, name="张三", *, mp=True, oa=True, credits=0, inbound_hours_ago=None) -> int:
    with app.extensions["db"].session_scope() as s:
        p = Person(name=name)
        s.add(p)
        s.flush()
        if mp:
            s.add(WechatIdentity(person_id=p.id, app=WechatApp.mp, openid=f"o_mp_{p.id}"))
        if oa:
            s.add(WechatIdentity(person_id=p.id, app=WechatApp.oa, openid=f"o_oa_{p.id}"))
        if credits:
            s.add(SubscriptionCredit(person_id=p.id, template_id=MEETING_TPL, credits=credits))
        if inbound_hours_ago is not None:
            s.add(ChatAccount(openid=f"o_oa_{p.id}",
                              last_inbound_at=utcnow() - timedelta(hours=inbound_hours_ago)))
        return p.id


def meeting_notice(app, pid, n=0, kind="meeting_notice") -> int:
    with app.extensions["db"].session_scope() as s:
        return enqueue_notice(
            s, kind=kind, recipient_id=pid, title="协商会议通知",
            body="请于11月30日14:30到新浦街道议事室参加协商会议，并在小程序中回复是否参加。",
            link="/pages/meeting/meeting?id=7",
            payload={"consultation_id": 7, "topic": LONG_TITLE,
                     "starts_at": "2026-11-30T06:30:00+00:00",
                     "place": "新浦街道议事室"},
            dedupe_key=dedupe_key(kind, f"consultation:7:{n}", pid)).id


def run(app, ch, at=None, **kw):
    return dispatch_once(app, batch_size=kw.pop("batch_size", 20), worker_id="w", now=at,
                         channels=ch, policy=POLICY, rng=random.Random(3), **kw)


def load(app, row_id):
    with app.extensions["db"].session_scope() as s:
        row = s.get(OutboxMessage, row_id)
        attempts = [(a.channel, a.outcome.value, a.errcode, a.response) for a in s.scalars(
            select(DeliveryAttempt).where(DeliveryAttempt.outbox_id == row_id)
            .order_by(DeliveryAttempt.id))]
        s.expunge(row)
        return row, attempts


def credit(app, pid, template=MEETING_TPL):
    with app.extensions["db"].session_scope() as s:
        return credits_left(s, pid, template)


# --- mini-program subscribe messages --------------------------------------------------------------

def test_subscribe_message_goes_with_fitted_data_and_page_and_spends_a_credit(
        app, channels, fake_wechat):
    pid = person(app, credits=2)
    row_id = meeting_notice(app, pid)
    assert run(app, channels).sent == 1
    [call] = fake_wechat.calls(SUBSCRIBE, ok=True)
    assert call.body["touser"] == f"o_mp_{pid}" and call.body["template_id"] == MEETING_TPL
    assert call.body["page"] == "pages/meeting/meeting?id=7"
    assert call.body["miniprogram_state"] == "formal"
    assert call.body["data"] == {
        "thing1": {"value": LONG_TITLE[:19] + "…"},
        "time2": {"value": "2026年11月30日 14:30"},
        "thing3": {"value": "新浦街道议事室"},
        "thing4": {"value": "协商会议通知"},
    }
    assert credit(app, pid) == 1
    row, attempts = load(app, row_id)
    assert row.state is OutboxState.sent and row.channel == "mp_subscribe"
    assert attempts[-1][:3] == ("mp_subscribe", "sent", None) and "msgid=" in attempts[-1][3]
    assert not fake_wechat.calls(TEMPLATE)


def test_the_mini_program_state_setting_is_sent(app, config, fake_wechat):
    ch = ChannelSet(wechat_channels(app.extensions["wechat"], SANDBOX_TEMPLATES,
                                    config.with_(wechat_mp_state="trial"), app.extensions["redis"]))
    meeting_notice(app, person(app, credits=1))
    run(app, ch)
    assert fake_wechat.calls(SUBSCRIBE, ok=True)[0].body["miniprogram_state"] == "trial"


def test_without_a_credit_the_notice_falls_through_to_the_oa_template(app, channels, fake_wechat):
    pid = person(app, credits=0)
    row_id = meeting_notice(app, pid)
    run(app, channels)
    assert not fake_wechat.calls(SUBSCRIBE)
    [call] = fake_wechat.calls(TEMPLATE, ok=True)
    assert call.body["touser"] == f"o_oa_{pid}"
    assert call.body["template_id"] == "sandbox_oa_meeting_notice"
    assert call.body["miniprogram"] == {"appid": "wx_sandbox_mp",
                                        "pagepath": "pages/meeting/meeting?id=7"}
    assert call.body["data"]["time2"] == {"value": "2026年11月30日 14:30"}
    row, attempts = load(app, row_id)
    assert row.state is OutboxState.sent and row.channel == "oa_template"
    assert [a[:2] for a in attempts] == [("inbox", "sent"), ("mp_subscribe", "skipped"),
                                          ("oa_template", "sent")]
    assert attempts[1][3] == "无订阅次数"


def test_43101_zeroes_the_credits_and_falls_through(app, channels, fake_wechat):
    pid = person(app, credits=3)
    fake_wechat.fail(SUBSCRIBE, 43101)
    row_id = meeting_notice(app, pid)
    run(app, channels)
    assert credit(app, pid) == 0  # WeChat says none is left, whatever we counted
    row, attempts = load(app, row_id)
    assert row.channel == "oa_template" and row.state is OutboxState.sent
    assert ("mp_subscribe", "skipped", 43101) in [a[:3] for a in attempts]
    assert len(fake_wechat.calls(SUBSCRIBE)) == 1


def test_a_retry_gives_the_credit_back_and_sends_once_later(app, channels, fake_wechat):
    pid = person(app, oa=False, credits=1)
    fake_wechat.fail(SUBSCRIBE, -1)  # system busy: nothing delivered
    row_id = meeting_notice(app, pid)
    t0 = utcnow()
    assert run(app, channels, t0).retried == 1
    assert credit(app, pid) == 1
    row, _ = load(app, row_id)
    assert row.state is OutboxState.pending and row.channel == "mp_subscribe"
    assert run(app, channels, row.next_attempt_at).sent == 1
    assert credit(app, pid) == 0
    assert len(fake_wechat.calls(SUBSCRIBE, ok=True)) == 1


def test_45011_is_retried_after_the_minute_with_backoff(app, channels, fake_wechat):
    pid = person(app, oa=False, credits=1)
    fake_wechat.fail(SUBSCRIBE, 45011, times=2)
    row_id = meeting_notice(app, pid)
    t0 = utcnow()
    run(app, channels, t0)
    row, attempts = load(app, row_id)
    assert row.state is OutboxState.pending and attempts[-1][1:3] == ("retry", 45011)
    first = (row.next_attempt_at - t0).total_seconds()
    assert first >= 60  # WeChat's "next minute" is a floor for the backoff
    assert run(app, channels, row.next_attempt_at - timedelta(seconds=1)).claimed == 0
    t1 = row.next_attempt_at
    run(app, channels, t1)
    row, _ = load(app, row_id)
    assert row.state is OutboxState.pending and row.attempts == 2
    assert credit(app, pid) == 1  # refunded each time
    assert run(app, channels, row.next_attempt_at).sent == 1
    assert credit(app, pid) == 0
    assert [c.errcode for c in fake_wechat.calls(SUBSCRIBE)] == [45011, 45011, 0]


def test_long_term_template_needs_consent_not_credits(app, fake_wechat):
    from app.notify.templates import parse_templates

    templates = parse_templates({"meeting_notice": {"mp": {
        "template_id": "LT", "long_term": True, "fields": {"thing1": "title"}}}})
    ch = ChannelSet(wechat_channels(app.extensions["wechat"], templates, app.config["APP"],
                                    app.extensions["redis"]))
    consenting, other = person(app, "甲", oa=False), person(app, "乙", oa=False)
    with app.extensions["db"].session_scope() as s:
        s.add(SubscriptionCredit(person_id=consenting, template_id="LT", long_term=True))
    first, second = meeting_notice(app, consenting), meeting_notice(app, other)
    run(app, ch)
    assert [c.body["touser"] for c in fake_wechat.calls(SUBSCRIBE)] == [f"o_mp_{consenting}"]
    assert load(app, first)[0].channel == "mp_subscribe"
    assert load(app, second)[1][1][3] == "未开启长期订阅"
    # 43101 on a long-term template: the person withdrew consent in WeChat's settings.
    fake_wechat.fail(SUBSCRIBE, 43101)
    meeting_notice(app, consenting, n=1)
    run(app, ch)
    with app.extensions["db"].session_scope() as s:
        assert s.scalar(select(SubscriptionCredit.long_term).where(
            SubscriptionCredit.person_id == consenting)) is False


def test_an_unknown_outcome_keeps_the_credit_spent_and_is_never_resent(app, config, fake_wechat):
    quick = Wechat(config.with_(wechat_timeout_seconds=0.3), app.extensions["redis"])
    try:
        quick.mp.access_token()  # fetched before the send path hangs
        ch = ChannelSet(wechat_channels(quick, SANDBOX_TEMPLATES, config,
                                        app.extensions["redis"]))
        pid = person(app, credits=1)
        row_id = meeting_notice(app, pid)
        fake_wechat.hang(SUBSCRIBE, times=None, seconds=5)
        t0 = utcnow()
        assert run(app, ch, t0).unknown == 1
        fake_wechat.clear_faults()
        # Long after any lease would have expired: nothing is claimed, nothing resent.
        assert run(app, ch, t0 + timedelta(hours=2)).claimed == 0
    finally:
        quick.close()
    row, attempts = load(app, row_id)
    assert row.state is OutboxState.unknown and "不会自动重发" in row.last_error
    assert attempts[-1][:2] == ("mp_subscribe", "unknown")
    assert credit(app, pid) == 0
    assert len(fake_wechat.calls(SUBSCRIBE)) == 1 and not fake_wechat.calls(TEMPLATE)


def test_persistent_40001_does_not_loop(app, channels, fake_wechat):
    pid = person(app, oa=False, credits=1)
    fake_wechat.fail(SUBSCRIBE, 40001, times=None)
    row_id = meeting_notice(app, pid)
    at = utcnow()
    for _ in range(POLICY.max_attempts):
        run(app, channels, at)
        at += timedelta(seconds=POLICY.max_delay + 1)
    row, attempts = load(app, row_id)
    assert row.state is OutboxState.failed and "40001" in row.last_error
    assert [a[1] for a in attempts].count("retry") == POLICY.max_attempts
    # One stale-token retry per send at most, and the refresh cap bounds the token fetches.
    assert len(fake_wechat.calls(SUBSCRIBE)) <= 2 * POLICY.max_attempts
    assert fake_wechat.token_requests("wx_sandbox_mp") <= 1 + app.config["APP"].wechat_token_refresh_cap
    assert credit(app, pid) == 1  # nothing was delivered: the credit is back


# --- Official Account customer-service messages ---------------------------------------------------

@pytest.mark.parametrize("hours_ago,delivered", [(1, True), (47.5, True), (49, False),
                                                 (None, False)])
def test_customer_service_messages_only_inside_the_48_hour_window(
        app, channels, fake_wechat, hours_ago, delivered):
    pid = person(app, mp=False, inbound_hours_ago=hours_ago)
    with app.extensions["db"].session_scope() as s:
        row_id = enqueue_notice(s, kind="chat_reply", recipient_id=pid, title="消息回复",
                                body="您问的协商会议在周三下午举行。",
                                dedupe_key=dedupe_key("chat_reply", "q:1", pid)).id
    run(app, channels)
    row, attempts = load(app, row_id)
    calls = fake_wechat.calls(CUSTOM)
    if delivered:
        assert row.channel == "oa_customer_service" and row.state is OutboxState.sent
        [call] = calls
        assert call.body["touser"] == f"o_oa_{pid}"
        assert call.body["text"]["content"] == "【消息回复】\n您问的协商会议在周三下午举行。"
    else:
        assert not calls and row.channel == "inbox"
        assert attempts[-1][:2] == ("oa_customer_service", "skipped")


def test_45015_from_wechat_skips_the_customer_service_message(app, channels, fake_wechat):
    pid = person(app, mp=False, inbound_hours_ago=2)
    fake_wechat.fail(CUSTOM, 45015)
    row_id = meeting_notice(app, pid, kind="reminder")
    with app.extensions["db"].session_scope() as s:  # no OA template for this test
        s.execute(WechatIdentity.__table__.update().values(openid=f"o_oa_{pid}"))
    ch = ChannelSet([channels.get("oa_customer_service")])
    run(app, ch)
    row, attempts = load(app, row_id)
    assert row.channel == "inbox" and attempts[-1][1:3] == ("skipped", 45015)


# --- the daily quota: pause, fall through, one staff alert ----------------------------------------

def staff(app, n):
    with app.extensions["db"].session_scope() as s:
        city = f.create_region(s, code="320700", name="连云港市", kind="city")
        people = [f.create_person(s, name=f"干事{i}") for i in range(n)]
        for p in people:
            f.assign_role(s, p, Role.staff, region=city)
        s.flush()
        return [p.id for p in people]


def staff_alerts(app):
    with app.extensions["db"].session_scope() as s:
        return s.execute(select(OutboxMessage.recipient_id, OutboxMessage.title).where(
            OutboxMessage.kind == "staff_alert").order_by(OutboxMessage.id)).all()


def test_45009_pauses_the_channel_until_beijing_midnight_and_alerts_staff_once(
        app, channels, fake_wechat):
    staff_ids = staff(app, 2)
    residents = [person(app, f"居民{i}", credits=2) for i in range(3)]
    fake_wechat.fail(SUBSCRIBE, 45009)
    rows = [meeting_notice(app, pid) for pid in residents]
    t0 = utcnow()
    run(app, channels, t0)

    # One network call hit the quota; every row went by OA template message instead.
    assert len(fake_wechat.calls(SUBSCRIBE)) == 1
    assert len(fake_wechat.calls(TEMPLATE, ok=True)) == 3
    for row_id in rows:
        row, attempts = load(app, row_id)
        assert row.state is OutboxState.sent and row.channel == "oa_template"
    assert [credit(app, pid) for pid in residents] == [2, 2, 2]  # nothing spent, one refunded
    _, paused_attempts = load(app, rows[1])
    assert paused_attempts[1][:3] == ("mp_subscribe", "skipped", 45009)
    assert "暂停至北京时间" in paused_attempts[1][3]
    with app.extensions["db"].session_scope() as s:
        pause = s.get(ChannelPause, "mp_subscribe")
        until = pause.paused_until
    expected = t0 + timedelta(seconds=seconds_until_beijing_midnight(t0.timestamp()))
    assert abs((until - expected).total_seconds()) < 2
    assert until.astimezone(CHINA_TZ).strftime("%H:%M") == "00:00"
    alerts = staff_alerts(app)
    assert sorted(a.recipient_id for a in alerts) == staff_ids
    assert all("小程序订阅消息" in a.title for a in alerts)

    # The same day again (say another dispatcher also got 45009): still one alert per person.
    with app.extensions["db"].session_scope() as s:
        s.get(ChannelPause, "mp_subscribe").paused_until = t0
    fake_wechat.fail(SUBSCRIBE, 45009)
    meeting_notice(app, residents[0], n=1)
    run(app, channels, t0 + timedelta(seconds=1))
    assert len(fake_wechat.calls(SUBSCRIBE)) == 2
    assert len(staff_alerts(app)) == 2

    # Until the pause ends the channel is not called; afterwards it is used again.
    meeting_notice(app, residents[1], n=2)
    with app.extensions["db"].session_scope() as s:
        until = s.get(ChannelPause, "mp_subscribe").paused_until
    run(app, channels, until - timedelta(seconds=1))
    assert len(fake_wechat.calls(SUBSCRIBE)) == 2
    late = meeting_notice(app, residents[2], n=3)
    run(app, channels, until + timedelta(seconds=1))
    assert len(fake_wechat.calls(SUBSCRIBE, ok=True)) == 1
    assert load(app, late)[0].channel == "mp_subscribe"


# --- the WeCom robot ------------------------------------------------------------------------------

def robot_texts(fake_wechat):
    return [c.body["text"]["content"] for c in fake_wechat.calls(ROBOT, ok=True)]


def test_25_staff_alerts_to_5_staff_become_a_few_digests(app, channels, fake_wechat):
    staff_ids = staff(app, 5)
    bodies = [f"第{i}项：" + "协商议题材料已更新，请及时查看并安排会前调研。" * 12 for i in range(5)]
    with app.extensions["db"].session_scope() as s:
        rows = [r.id for i, body in enumerate(bodies) for r in fan_out(
            s, kind="staff_alert", subject=f"alert:{i}", recipient_ids=staff_ids,
            title=f"工作提醒{i}", body=body)]
    assert len(rows) == 25
    for _ in range(10):
        if run(app, channels, batch_size=10).claimed == 0:
            break
    texts = robot_texts(fake_wechat)
    assert 1 < len(texts) <= 5  # long bodies: several digests, never one message per row
    assert all(len(t.encode("utf-8")) <= 2048 for t in texts)
    assert max(fake_wechat.robot_counts.values()) <= 20
    for i in range(5):  # every alert reached the group exactly once
        assert sum(t.count(f"【工作提醒{i}】") for t in texts) == 1
    with app.extensions["db"].session_scope() as s:
        states = Counter(s.execute(select(OutboxMessage.state, OutboxMessage.channel)
                                   .where(OutboxMessage.id.in_(rows))).all())
        assert states == {(OutboxState.sent, "wecom_robot"): 25}
        sends = Counter(s.scalars(select(DeliveryAttempt.outbox_id).where(
            DeliveryAttempt.channel == "wecom_robot",
            DeliveryAttempt.outcome == AttemptOutcome.sent)))
        assert set(sends) == set(rows) and set(sends.values()) == {1}
        assert not s.scalar(select(DeliveryAttempt.id).where(
            DeliveryAttempt.outcome == AttemptOutcome.in_flight))
    assert all(c.params["key"] == SANDBOX_ROBOT_KEY for c in fake_wechat.calls(ROBOT))


def test_an_alert_to_many_staff_is_one_group_message(app, channels, fake_wechat):
    staff_ids = staff(app, 7)
    with app.extensions["db"].session_scope() as s:
        fan_out(s, kind="staff_alert", subject="x", recipient_ids=staff_ids,
                title="议题待审核", body="有 3 个议题等待审核。")
    run(app, channels, batch_size=3)
    run(app, channels, batch_size=3)
    assert robot_texts(fake_wechat) == ["【议题待审核】\n有 3 个议题等待审核。"]


def test_the_robot_never_sends_more_than_20_a_minute(app, fake_wechat):
    now = [1_800_000_010.0]  # inside one minute
    robot = WecomRobotChannel(app.extensions["wechat"], "k1", app.extensions["redis"],
                              clock=lambda: now[0])
    ch = ChannelSet([robot])
    [pid] = staff(app, 1)
    ids = []
    for i in range(22):
        with app.extensions["db"].session_scope() as s:
            ids.append(enqueue_notice(s, kind="staff_alert", recipient_id=pid, title=f"提醒{i}",
                                      body="内容" * 400,  # one per message
                                      dedupe_key=dedupe_key("staff_alert", f"s{i}", pid)).id)
    t0 = utcnow()
    run(app, ch, t0, batch_size=30)
    assert len(fake_wechat.calls(ROBOT)) == 20  # the 21st and 22nd wait for the next minute
    waiting = [load(app, i)[0] for i in ids if load(app, i)[0].state is OutboxState.pending]
    assert len(waiting) == 2
    assert all((r.next_attempt_at - t0).total_seconds() >= 50 for r in waiting)
    now[0] += 60  # the next minute, for us and for WeChat
    fake_wechat.robot_counts.clear()
    run(app, ch, t0 + timedelta(minutes=2))
    assert all(load(app, i)[0].state is OutboxState.sent for i in ids)
    assert len(fake_wechat.calls(ROBOT)) == 22 and not fake_wechat.calls(ROBOT, ok=False)


def test_the_robots_45009_is_a_per_minute_limit_not_a_pause(app, channels, fake_wechat):
    [pid] = staff(app, 1)
    fake_wechat.fail(ROBOT, 45009)
    with app.extensions["db"].session_scope() as s:
        row_id = enqueue_notice(s, kind="staff_alert", recipient_id=pid, title="提醒",
                                body="内容", dedupe_key="staff_alert:x").id
    t0 = utcnow()
    run(app, channels, t0)
    row, attempts = load(app, row_id)
    assert row.state is OutboxState.pending and attempts[-1][1:3] == ("retry", 45009)
    assert (row.next_attempt_at - t0).total_seconds() >= 60
    with app.extensions["db"].session_scope() as s:
        assert s.get(ChannelPause, "wecom_robot") is None
    assert len(staff_alerts(app)) == 1  # no alert about the alert channel
    run(app, channels, row.next_attempt_at)
    assert load(app, row_id)[0].state is OutboxState.sent


def test_sandbox_keeps_the_sandbox_channel_last(app):
    ch = build_channels(app)
    assert ch.order_for("meeting_notice") == ("mp_subscribe", "oa_template",
                                              "oa_customer_service", "sandbox")
    assert ch.order_for("staff_alert") == ("wecom_robot", "sandbox")


def test_production_without_templates_or_robot_has_only_customer_service(app, config):
    from app.notify.templates import TemplateSet
    from tests.helpers import production_config

    prod = production_config(config).with_(wechat_oa_appid="wxoa", wechat_oa_secret="s",
                                           wechat_oa_token="t", wechat_api_base="")
    wechat = Wechat(prod, app.extensions["redis"])
    try:
        names = [c.name for c in wechat_channels(wechat, TemplateSet(), prod, None)]
    finally:
        wechat.close()
    assert names == ["oa_customer_service"]


def test_a_beijing_time_value_is_used_for_the_pause_day():
    # 16:30 UTC on 1 May is 00:30 on 2 May in Beijing: the pause runs to midnight of 2/3 May.
    t = datetime(2026, 5, 1, 16, 30, tzinfo=timezone.utc)
    seconds = seconds_until_beijing_midnight(t.timestamp())
    assert (t + timedelta(seconds=seconds)).astimezone(CHINA_TZ).strftime("%d %H:%M") == "03 00:00"
