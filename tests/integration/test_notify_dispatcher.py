"""The outbox dispatcher: retries, give-ups, unknown outcomes, leases, channel fall-through."""
from __future__ import annotations

import random
import threading
from collections import Counter
from datetime import timedelta

import pytest
from sqlalchemy import select

from app.audit.models import AuditEntry
from app.db import utcnow
from app.notify.channels import ChannelSet, Delivery, Outcome
from app.notify.claims import claim_due
from app.notify.dispatcher import DispatchPolicy, dispatch_once
from app.notify.models import (
    AttemptOutcome, DeliveryAttempt, InboxItem, OutboxMessage, OutboxState,
)
from app.notify.services import dedupe_key, enqueue_notice
from app.org.models import Person

POLICY = DispatchPolicy(max_attempts=5, base_delay=10, max_delay=1000, jitter=0.2,
                        lease_seconds=300)


class Scripted:
    """A channel answering from a script (the last answer repeats); counts sends per row."""

    def __init__(self, name="fake", script=(Outcome.sent(),), prepared=None):
        self.name = name
        self.script = list(script)
        self.prepared = prepared  # an Outcome to settle in prepare (no network call)
        self.calls: Counter[int] = Counter()
        self._lock = threading.Lock()

    def prepare(self, row, session):
        return self.prepared or Delivery.of(row, target=f"o{row.recipient_id}")

    def send(self, delivery):
        with self._lock:
            self.calls[delivery.outbox_id] += 1
            n = self.calls[delivery.outbox_id]
        answer = self.script[min(n, len(self.script)) - 1]
        if isinstance(answer, BaseException):
            raise answer
        return answer


class Crash(BaseException):
    """The dispatcher process dies (nothing catches a BaseException)."""


def channels(*chs):
    return ChannelSet(list(chs), order={"reminder": tuple(c.name for c in chs)},
                      default=tuple(c.name for c in chs))


@pytest.fixture
def factory(app):
    return app.extensions["db"].new_session


@pytest.fixture
def person(session):
    p = Person(name="张三")
    session.add(p)
    session.commit()
    return p.id


def enqueue(app, person_id, n=1, subject="feedback:1"):
    with app.extensions["db"].session_scope() as s:
        rows = [enqueue_notice(s, kind="reminder", recipient_id=person_id, title="反馈提醒",
                               body="请在3个工作日内提交结果反馈清单",
                               dedupe_key=dedupe_key("reminder", f"{subject}:{i}", person_id))
                for i in range(n)]
        return [r.id for r in rows]


def load(app, row_id):
    with app.extensions["db"].session_scope() as s:
        row = s.get(OutboxMessage, row_id)
        attempts = s.scalars(select(DeliveryAttempt).where(DeliveryAttempt.outbox_id == row_id)
                             .order_by(DeliveryAttempt.id)).all()
        inbox = s.scalars(select(InboxItem).where(InboxItem.outbox_id == row_id)).all()
        s.expunge_all()
        return row, attempts, inbox


def run(factory, ch, at, **kw):
    kw.setdefault("policy", POLICY)
    kw.setdefault("worker_id", "w1")
    return dispatch_once(factory, batch_size=kw.pop("batch_size", 10), now=at, channels=ch,
                         rng=random.Random(11), **kw)


def test_without_external_channels_the_inbox_copy_is_the_delivery(app, factory, person):
    [row_id] = enqueue(app, person)
    stats = run(factory, ChannelSet([]), utcnow())
    assert (stats.claimed, stats.sent) == (1, 1)
    row, attempts, inbox = load(app, row_id)
    assert row.state is OutboxState.sent and row.channel == "inbox" and row.sent_at
    assert [(a.channel, a.outcome) for a in attempts] == [("inbox", AttemptOutcome.sent)]
    assert len(inbox) == 1 and inbox[0].person_id == person and inbox[0].title == "反馈提醒"
    assert run(factory, ChannelSet([]), utcnow() + timedelta(days=1)).claimed == 0


def test_retry_path_backs_off_and_sends_exactly_once(app, factory, person):
    flaky = Scripted(script=[Outcome.retry(detail="errcode=-1 system error", errcode=-1),
                             Outcome.retry(detail="HTTP 502"), Outcome.sent("errcode=0")])
    ch = channels(flaky)
    [row_id] = enqueue(app, person)
    t0 = utcnow()

    assert run(factory, ch, t0).retried == 1
    row, _, _ = load(app, row_id)
    assert row.state is OutboxState.pending and row.attempts == 1 and row.claimed_by is None
    first_delay = (row.next_attempt_at - t0).total_seconds()
    assert 10 * 0.8 <= first_delay <= 10
    assert "system error" in row.last_error

    # Not due yet: nothing is claimed, nothing is sent.
    early = row.next_attempt_at - timedelta(seconds=1)
    assert run(factory, ch, early).claimed == 0 and flaky.calls[row_id] == 1

    t1 = row.next_attempt_at
    assert run(factory, ch, t1).retried == 1
    row, _, _ = load(app, row_id)
    second_delay = (row.next_attempt_at - t1).total_seconds()
    assert second_delay > first_delay and 20 * 0.8 <= second_delay <= 20

    assert run(factory, ch, row.next_attempt_at).sent == 1
    row, attempts, inbox = load(app, row_id)
    assert row.state is OutboxState.sent and row.channel == "fake" and row.attempts == 3
    assert row.last_error is None and row.sent_at == t1 + timedelta(seconds=second_delay)
    assert [(a.channel, a.outcome.value) for a in attempts] == [
        ("inbox", "sent"), ("fake", "retry"), ("fake", "retry"), ("fake", "sent")]
    assert attempts[1].errcode == -1 and attempts[3].response == "errcode=0"
    assert all(a.duration_ms is not None and a.worker == "w1" for a in attempts[1:])
    assert len(inbox) == 1  # the inbox copy was written once, not once per pass

    assert run(factory, ch, utcnow() + timedelta(days=30)).claimed == 0
    assert flaky.calls[row_id] == 3


def test_channel_retry_after_is_a_floor_for_the_backoff(app, factory, person):
    ch = channels(Scripted(script=[Outcome.retry(after=60, detail="errcode=45011")]))
    [row_id] = enqueue(app, person)
    t0 = utcnow()
    run(factory, ch, t0)
    row, _, _ = load(app, row_id)
    assert (row.next_attempt_at - t0).total_seconds() == 60


def test_max_attempts_gives_up_with_the_reason(app, factory, person):
    always = Scripted(script=[Outcome.retry(detail="errcode=-1 system error", errcode=-1)])
    ch = channels(always)
    policy = DispatchPolicy(max_attempts=3, base_delay=1, max_delay=10, jitter=0)
    [row_id] = enqueue(app, person)
    at = utcnow()
    for _ in range(3):
        run(factory, ch, at, policy=policy)
        at += timedelta(seconds=100)
    row, attempts, _ = load(app, row_id)
    assert row.state is OutboxState.failed and row.attempts == 3
    assert "3 次" in row.last_error and "system error" in row.last_error
    assert run(factory, ch, at + timedelta(days=1), policy=policy).claimed == 0
    assert always.calls[row_id] == 3
    with app.extensions["db"].session_scope() as s:
        audit = s.scalar(select(AuditEntry).where(AuditEntry.action == "notice.failed"))
        assert audit.object_id == str(row_id) and audit.actor_id is None
        assert audit.after["state"] == "failed"


@pytest.mark.parametrize("answer", [
    Outcome.unknown("ReadTimeout"),
    RuntimeError("response could not be parsed"),  # a send that raises: may have gone out
])
def test_unknown_outcome_is_recorded_and_never_resent(app, factory, person, answer):
    ch = channels(Scripted(script=[answer, Outcome.sent()]))
    [row_id] = enqueue(app, person)
    stats = run(factory, ch, utcnow())
    assert stats.unknown == 1
    row, attempts, inbox = load(app, row_id)
    assert row.state is OutboxState.unknown and "不会自动重发" in row.last_error
    assert attempts[-1].outcome is AttemptOutcome.unknown
    assert len(inbox) == 1  # the person still has the inbox copy
    assert run(factory, ch, utcnow() + timedelta(days=30)).claimed == 0
    assert ch.get("fake").calls[row_id] == 1


def test_skip_falls_through_to_the_next_channel(app, factory, person):
    no_credit = Scripted("mp_subscribe", [Outcome.skip("errcode=43101", errcode=43101)])
    unbound = Scripted("oa_template", prepared=Outcome.skip("未关注公众号"))
    service = Scripted("oa_customer_service", [Outcome.sent()])
    [row_id] = enqueue(app, person)
    stats = run(factory, channels(no_credit, unbound, service), utcnow())
    assert stats.sent == 1
    row, attempts, _ = load(app, row_id)
    assert row.state is OutboxState.sent and row.channel == "oa_customer_service"
    assert [(a.channel, a.outcome.value) for a in attempts] == [
        ("inbox", "sent"), ("mp_subscribe", "skipped"), ("oa_template", "skipped"),
        ("oa_customer_service", "sent")]
    assert unbound.calls[row_id] == 0  # settled in prepare: no network call
    assert attempts[2].duration_ms is None


def test_when_every_channel_skips_the_inbox_copy_counts_as_delivered(app, factory, person):
    ch = channels(Scripted("a", [Outcome.skip("errcode=43101", errcode=43101)]),
                  Scripted("b", prepared=Outcome.skip("未绑定")))
    [row_id] = enqueue(app, person)
    run(factory, ch, utcnow())
    row, _, inbox = load(app, row_id)
    assert row.state is OutboxState.sent and row.channel == "inbox" and len(inbox) == 1


def test_a_refusal_with_no_channel_left_is_failed_with_the_reason(app, factory, person):
    ch = channels(Scripted("a", [Outcome.failed("errcode=40037 invalid template_id", 40037)]),
                  Scripted("b", [Outcome.skip("errcode=45015", errcode=45015)]))
    [row_id] = enqueue(app, person)
    assert run(factory, ch, utcnow()).failed == 1
    row, _, inbox = load(app, row_id)
    assert row.state is OutboxState.failed and "40037" in row.last_error
    assert len(inbox) == 1


def test_retry_resumes_on_the_same_channel(app, factory, person):
    a = Scripted("a", [Outcome.skip("n/a")])
    b = Scripted("b", [Outcome.retry(detail="busy"), Outcome.sent()])
    ch = channels(a, b)
    [row_id] = enqueue(app, person)
    t0 = utcnow()
    run(factory, ch, t0)
    row, _, _ = load(app, row_id)
    assert row.channel == "b"
    run(factory, ch, row.next_attempt_at)
    assert (a.calls[row_id], b.calls[row_id]) == (1, 2)
    assert load(app, row_id)[0].state is OutboxState.sent


def test_expired_lease_of_a_crashed_dispatcher_is_reclaimed(app, factory, person):
    ch = channels(Scripted())
    [row_id] = enqueue(app, person)
    t0 = utcnow()
    with factory() as s, s.begin():  # dispatcher A claims, then dies before sending
        send, _ = claim_due(s, token="A/dead", batch_size=10, now=t0, lease_seconds=300)
    assert send == [row_id]
    assert run(factory, ch, t0 + timedelta(seconds=299)).claimed == 0  # lease still held
    stats = run(factory, ch, t0 + timedelta(seconds=301), worker_id="B")
    assert (stats.claimed, stats.sent) == (1, 1)
    row, attempts, _ = load(app, row_id)
    assert row.state is OutboxState.sent and ch.get("fake").calls[row_id] == 1
    assert attempts[-1].worker == "B"


def test_dispatcher_dying_mid_send_leaves_unknown_not_a_second_send(app, factory, person):
    dying = Scripted(script=[Crash(), Outcome.sent()])
    ch = channels(dying)
    [row_id] = enqueue(app, person)
    t0 = utcnow()
    with pytest.raises(Crash):
        run(factory, ch, t0)
    row, attempts, _ = load(app, row_id)
    assert row.state is OutboxState.sending
    assert attempts[-1].outcome is AttemptOutcome.in_flight

    stats = run(factory, ch, t0 + timedelta(seconds=301), worker_id="B")
    assert stats.unknown == 1 and stats.sent == 0
    row, attempts, _ = load(app, row_id)
    assert row.state is OutboxState.unknown and "中断" in row.last_error
    assert attempts[-1].outcome is AttemptOutcome.unknown
    assert dying.calls[row_id] == 1
    assert run(factory, ch, t0 + timedelta(days=1)).claimed == 0


def test_batch_size_bounds_a_pass(app, factory, person):
    enqueue(app, person, n=5)
    ch = channels(Scripted())
    assert run(factory, ch, utcnow(), batch_size=2).claimed == 2
    assert run(factory, ch, utcnow(), batch_size=10).claimed == 3


def test_sandbox_mode_delivers_to_the_fake_wechat(app, person, fake_wechat):
    # No openid at all: the real channels skip, the sandbox channel (last) still reaches the fake.
    [row_id] = enqueue(app, person)
    stats = dispatch_once(app, batch_size=5, worker_id="w")  # the app's own channels
    assert stats.sent == 1
    row, attempts, inbox = load(app, row_id)
    assert row.state is OutboxState.sent and row.channel == "sandbox" and len(inbox) == 1
    [call] = fake_wechat.calls("/cgi-bin/message/custom/send", ok=True)
    assert call.body["touser"] == f"osandbox_person_{person}"
    assert call.body["text"]["content"].startswith("【反馈提醒】")
    assert [(a.channel, a.outcome.value) for a in attempts] == [
        ("inbox", "sent"), ("mp_subscribe", "skipped"), ("oa_template", "skipped"),
        ("oa_customer_service", "skipped"), ("sandbox", "sent")]


def test_sandbox_outside_the_window_falls_back_to_the_inbox(app, person, fake_wechat):
    fake_wechat.fail("/cgi-bin/message/custom/send", 45015)
    [row_id] = enqueue(app, person)
    dispatch_once(app, batch_size=5, worker_id="w")
    row, attempts, inbox = load(app, row_id)
    assert row.state is OutboxState.sent and row.channel == "inbox" and len(inbox) == 1
    assert attempts[-1].outcome is AttemptOutcome.skipped and attempts[-1].errcode == 45015
    # A person who never bound the Official Account gets a synthetic sandbox openid.
    assert fake_wechat.calls("/cgi-bin/message/custom/send")[0].body["touser"] == \
        f"osandbox_person_{person}"


# --- several dispatchers at once ------------------------------------------------------------------

@pytest.mark.parametrize("rows", [200])
def test_two_dispatchers_send_every_row_exactly_once(app, factory, person, rows):
    ids = enqueue(app, person, n=rows, subject="bulk")
    both_sending = threading.Barrier(2, timeout=30)

    class Counting(Scripted):
        def __init__(self):
            super().__init__("fake")
            self.first = threading.local()

        def send(self, delivery):
            if not getattr(self.first, "done", False):
                # Each worker's first send waits for the other: they must overlap, and the
                # other one can only get here if no transaction is held during a send.
                self.first.done = True
                both_sending.wait()
            return super().send(delivery)

    counting = Counting()
    ch = channels(counting)
    handled: dict[str, list[int]] = {"w1": [], "w2": []}
    errors: list[BaseException] = []

    def worker(name):
        try:
            while True:
                stats = dispatch_once(factory, batch_size=20, worker_id=name, channels=ch,
                                      policy=POLICY)
                handled[name] += [rid for rid, what in stats.rows.items() if what == "sent"]
                if stats.claimed == 0:
                    return
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in handled]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors, errors
    assert not any(t.is_alive() for t in threads)
    assert handled["w1"] and handled["w2"]
    assert not set(handled["w1"]) & set(handled["w2"])
    assert sorted(handled["w1"] + handled["w2"]) == sorted(ids)
    assert set(counting.calls) == set(ids) and set(counting.calls.values()) == {1}
    with factory() as s:
        states = Counter(s.scalars(select(OutboxMessage.state)).all())
        assert states == {OutboxState.sent: rows}
        assert s.scalar(select(InboxItem.id).order_by(InboxItem.id.desc()).limit(1))
        assert len(s.scalars(select(InboxItem.outbox_id)).all()) == rows


def test_skip_locked_claims_are_disjoint_on_postgres(app, factory, person):
    if app.extensions["db"].engine.dialect.name != "postgresql":
        pytest.skip("needs PostgreSQL (TEST_DATABASE_URL)")
    ids = enqueue(app, person, n=6)
    now = utcnow()
    a, b = factory(), factory()
    try:
        got_a, _ = claim_due(a, token="A/1", batch_size=4, now=now, lease_seconds=300)
        # A has not committed: B must neither wait for A's rows nor take them.
        got_b, _ = claim_due(b, token="B/1", batch_size=4, now=now, lease_seconds=300)
        a.commit()
        b.commit()
    finally:
        a.close()
        b.close()
    assert len(got_a) == 4 and len(got_b) == 2
    assert set(got_a) | set(got_b) == set(ids)


def test_timeout_at_the_fake_wechat_is_unknown_and_not_resent(app, config, person, fake_wechat):
    from app.notify.channels import SandboxChannel
    from app.wechat.client import Wechat

    quick = Wechat(config.with_(wechat_timeout_seconds=0.3), app.extensions["redis"])
    try:
        quick.oa.access_token()  # fetch the token before the send path hangs
        fake_wechat.hang("/cgi-bin/message/custom/send", times=None)
        sandbox = SandboxChannel(quick)
        ch = ChannelSet([sandbox], order={"reminder": ("sandbox",)})
        [row_id] = enqueue(app, person)
        assert dispatch_once(app, batch_size=5, worker_id="w", channels=ch).unknown == 1
        fake_wechat.clear_faults()
        assert dispatch_once(app, batch_size=5, worker_id="w", channels=ch,
                             now=utcnow() + timedelta(days=1)).claimed == 0
    finally:
        quick.close()
    row, attempts, _ = load(app, row_id)
    assert row.state is OutboxState.unknown
    assert attempts[-1].outcome is AttemptOutcome.unknown and attempts[-1].channel == "sandbox"
    assert len(fake_wechat.calls("/cgi-bin/message/custom/send")) == 1


def test_background_dispatcher_sends_and_stops(app, person):
    import time

    from app.notify.dispatcher import start_background_dispatcher

    [row_id] = enqueue(app, person)
    stop = threading.Event()
    thread = start_background_dispatcher(app, stop, interval=0.05)
    try:
        deadline = time.monotonic() + 30
        while load(app, row_id)[0].state is not OutboxState.sent:
            assert time.monotonic() < deadline, "the background dispatcher never sent the row"
            time.sleep(0.02)
    finally:
        stop.set()
        thread.join(10)
    assert not thread.is_alive()
