"""The dispatcher works in batches: one transaction before the sends (every channel's batched
prepare), the sends concurrently outside any transaction, one transaction after them. These tests
show the batch keeps the per-row promises and that its SQL does not grow with the batch."""
from __future__ import annotations

import random
import threading
from datetime import timedelta

import pytest
from sqlalchemy import select

from app.db import utcnow
from app.notify.channels import ChannelSet, Outcome
from app.notify.dispatcher import DispatchPolicy, dispatch_once
from app.notify.models import (AttemptOutcome, ChannelPause, DeliveryAttempt, InboxItem,
                               OutboxMessage, OutboxState)
from app.notify.templates import SANDBOX_TEMPLATES
from app.notify.wechat_channels import wechat_channels
from tests.helpers import count_statements
from tests.integration.test_delivery_channels import (CUSTOM, SUBSCRIBE, TEMPLATE, credit,
                                                      load, meeting_notice, person)
from tests.integration.test_notify_dispatcher import Scripted, channels, enqueue
from tests.integration.test_notify_dispatcher import load as load_row

POLICY = DispatchPolicy(max_attempts=3, base_delay=10, max_delay=100, jitter=0.2)


@pytest.fixture
def factory(app):
    return app.extensions["db"].new_session


@pytest.fixture
def resident(app):
    return person(app, mp=False, oa=False)


def real_channels(app):
    return ChannelSet(wechat_channels(app.extensions["wechat"], SANDBOX_TEMPLATES,
                                      app.config["APP"], app.extensions["redis"]))


def run(source, ch, **kw):
    return dispatch_once(source, batch_size=kw.pop("batch_size", 50), worker_id="w",
                         channels=ch, policy=kw.pop("policy", POLICY), rng=random.Random(5),
                         **kw)


def outcomes(app, row_id):
    return [a[:2] for a in load(app, row_id)[1]]


def test_one_batch_with_credits_fall_through_and_a_paused_channel(app, fake_wechat):
    with app.extensions["db"].session_scope() as s:
        s.add(ChannelPause(channel="oa_template", paused_until=utcnow() + timedelta(hours=3),
                           reason="errcode=45009"))
    two_credits = person(app, "甲", credits=2)             # two notices, both by subscribe
    one_credit = person(app, "乙", credits=1)              # two notices, one credit
    in_window = person(app, "丙", inbound_hours_ago=1)     # no credit, wrote to the account
    nothing = person(app, "丁", mp=False, oa=False)        # no openid at all
    rows = {"a1": meeting_notice(app, two_credits, 0), "a2": meeting_notice(app, two_credits, 1),
            "b1": meeting_notice(app, one_credit, 0), "b2": meeting_notice(app, one_credit, 1),
            "c": meeting_notice(app, in_window), "d": meeting_notice(app, nothing)}

    stats = run(app, real_channels(app), send_concurrency=4)
    assert (stats.claimed, stats.sent) == (6, 6)

    channel = {k: load(app, v)[0].channel for k, v in rows.items()}
    assert channel == {"a1": "mp_subscribe", "a2": "mp_subscribe", "b1": "mp_subscribe",
                       "b2": "inbox", "c": "oa_customer_service", "d": "inbox"}
    assert [credit(app, p) for p in (two_credits, one_credit, in_window)] == [0, 0, 0]
    subscribe = sorted(c.body["touser"] for c in fake_wechat.calls(SUBSCRIBE, ok=True))
    assert subscribe == sorted([f"o_mp_{two_credits}"] * 2 + [f"o_mp_{one_credit}"])
    assert not fake_wechat.calls(TEMPLATE)  # paused: never called
    assert [c.body["touser"] for c in fake_wechat.calls(CUSTOM)] == [f"o_oa_{in_window}"]
    assert outcomes(app, rows["b2"]) == [
        ("inbox", "sent"), ("mp_subscribe", "skipped"), ("oa_template", "skipped"),
        ("oa_customer_service", "skipped")]
    assert "暂停至北京时间" in load(app, rows["c"])[1][2][3]
    assert outcomes(app, rows["c"])[-1] == ("oa_customer_service", "sent")
    with app.extensions["db"].session_scope() as s:
        assert len(s.scalars(select(InboxItem.outbox_id)).all()) == 6
        assert not s.scalar(select(DeliveryAttempt.id).where(
            DeliveryAttempt.outcome == AttemptOutcome.in_flight))


def test_a_failed_send_in_a_batch_falls_through_in_the_same_pass(app, fake_wechat):
    pids = [person(app, f"居民{i}", credits=1) for i in range(4)]
    rows = [meeting_notice(app, pid) for pid in pids]
    fake_wechat.fail(SUBSCRIBE, 43101, times=2)  # two of the four have no credit at WeChat
    assert run(app, real_channels(app), send_concurrency=4).sent == 4
    by = [load(app, r)[0].channel for r in rows]
    assert sorted(by) == ["mp_subscribe", "mp_subscribe", "oa_template", "oa_template"]
    assert len(fake_wechat.calls(SUBSCRIBE)) == 4 and len(fake_wechat.calls(TEMPLATE)) == 2
    # 43101 zeroes the person's credits; the two sent kept theirs spent.
    assert sorted(credit(app, p) for p in pids) == [0, 0, 0, 0]


def test_45009_on_a_channels_first_send_spares_the_rest_of_the_batch(app, fake_wechat):
    residents = [person(app, f"居民{i}", credits=1) for i in range(5)]
    rows = [meeting_notice(app, pid) for pid in residents]
    fake_wechat.fail(SUBSCRIBE, 45009)
    assert run(app, real_channels(app), send_concurrency=4).sent == 5
    assert len(fake_wechat.calls(SUBSCRIBE)) == 1  # the first send alone, then no more calls
    assert len(fake_wechat.calls(TEMPLATE, ok=True)) == 5
    assert {load(app, r)[0].channel for r in rows} == {"oa_template"}
    assert [credit(app, pid) for pid in residents] == [1] * 5  # every credit given back


def test_statements_per_batch_do_not_grow_with_its_rows(app, fake_wechat):
    engine = app.extensions["db"].engine
    ch = real_channels(app)

    def batch(n, tag):
        pids = [person(app, f"{tag}{i}", credits=1) for i in range(n)]
        for pid in pids:
            meeting_notice(app, pid)
        stats = []
        count = count_statements(engine, lambda: stats.append(run(app, ch, batch_size=n)))
        assert stats[0].sent == n and len(fake_wechat.calls(SUBSCRIBE, ok=True)) >= n
        return count

    small, large = batch(10, "小"), batch(40, "大")
    # Every per-row step is batched: a constant count (~20), where it was ~13 per row.
    assert large <= 3 * 40 + 30
    assert large - small <= 3, (small, large)


def test_a_send_raising_in_the_pool_is_unknown_and_the_others_go(app, factory, resident):
    ids = enqueue(app, resident, n=6)
    bad = ids[3]

    class Raising(Scripted):
        def send(self, delivery):
            out = super().send(delivery)
            if delivery.outbox_id == bad:
                raise RuntimeError("connection reset after the request was written")
            return out

    raising = Raising()
    stats = run(factory, channels(raising), send_concurrency=4)
    assert (stats.sent, stats.unknown) == (5, 1)
    row, attempts, _ = load_row(app, bad)
    assert row.state is OutboxState.unknown
    assert attempts[-1].outcome is AttemptOutcome.unknown
    assert "RuntimeError" in attempts[-1].response
    assert run(factory, channels(raising), now=utcnow() + timedelta(days=1)).claimed == 0
    assert set(raising.calls.values()) == {1} and set(raising.calls) == set(ids)


def test_a_batchs_sends_overlap(app, factory, resident):
    ids = enqueue(app, resident, n=5)
    together = threading.Barrier(4, timeout=10)

    class Overlapping(Scripted):
        def send(self, delivery):
            if delivery.outbox_id != ids[0]:  # the first one goes alone (see the 45009 probe)
                together.wait()  # four sends must be in flight at once, else this times out
            return super().send(delivery)

    assert run(factory, channels(Overlapping()), send_concurrency=4).sent == 5


def test_one_failing_prepare_does_not_hold_up_the_batch(app, factory, resident):
    ids = enqueue(app, resident, n=4)
    poison = ids[1]

    class Picky(Scripted):
        def prepare(self, row, session):
            if row.id == poison:
                raise ValueError("a bug with this row")
            return super().prepare(row, session)

    picky = Picky()
    stats = run(factory, channels(picky))
    assert stats.sent == 3 and stats.retried == 1
    row, attempts, inbox = load_row(app, poison)
    assert row.state is OutboxState.pending and "内部错误" in row.last_error
    assert poison not in picky.calls and len(inbox) == 1
    with factory() as s:
        sent = s.scalars(select(OutboxMessage.id).where(OutboxMessage.state == OutboxState.sent))
        assert sorted(sent) == sorted(set(ids) - {poison})


def test_when_recording_the_sends_fails_they_end_unknown_not_resent(app, factory, resident):
    ids = enqueue(app, resident, n=3)

    class Unsettled(Scripted):
        def settle(self, session, delivery, outcome):
            raise RuntimeError("database went away")

    unsettled = Unsettled()
    stats = run(factory, channels(unsettled))
    assert stats.unknown == 3
    with factory() as s:
        states = set(s.scalars(select(OutboxMessage.state).where(OutboxMessage.id.in_(ids))))
        assert states == {OutboxState.unknown}
        assert not s.scalar(select(DeliveryAttempt.id).where(
            DeliveryAttempt.outcome == AttemptOutcome.in_flight))
    assert run(factory, channels(unsettled), now=utcnow() + timedelta(days=1)).claimed == 0
    assert set(unsettled.calls.values()) == {1}


def test_45009_in_the_middle_of_a_batch_keeps_what_went_and_passes_on_the_rest(
        app, factory, resident):
    ids = enqueue(app, resident, n=5)
    quota = ids[2]

    class RunningOut(Scripted):
        def send(self, delivery):
            super().send(delivery)
            if delivery.outbox_id == quota:
                return Outcome.retry(detail="errcode=45009 api freq out of limit", errcode=45009)
            return Outcome.sent()

    a, b = RunningOut("a"), Scripted("b")
    # One send at a time: ids[0] (alone), ids[1] sent, ids[2] 45009, the rest not called.
    assert run(factory, channels(a, b), send_concurrency=1).sent == 5
    assert set(a.calls) == set(ids[:3]) and set(b.calls) == set(ids[2:])
    with factory() as s:
        by = dict(s.execute(select(OutboxMessage.id, OutboxMessage.channel)
                            .where(OutboxMessage.id.in_(ids))).all())
        assert by == {**dict.fromkeys(ids[:2], "a"), **dict.fromkeys(ids[2:], "b")}
        assert s.get(ChannelPause, "a") is not None
    assert "暂停至北京时间" in load_row(app, ids[4])[1][1].response
