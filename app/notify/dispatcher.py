"""The outbox dispatcher: claim due rows, send them through their channels, record every attempt.

Promises (DESIGN.md "Notifications: the outbox"; several dispatchers may run at once):

- **Claim**: on PostgreSQL ``SELECT … FOR NO KEY UPDATE SKIP LOCKED`` then the rows are marked
  ``sending`` with a lease (claimed_by / claimed_until) and committed; on SQLite one process at a
  time holds the write lock (BEGIN IMMEDIATE) and a conditional UPDATE re-checks that each row is
  still claimable. A crashed dispatcher's rows are re-claimed once the lease has expired.
- **Sent at most once**: before every network send an ``in_flight`` attempt is committed; the send
  happens outside any transaction; the result replaces the marker. A row re-claimed with an
  ``in_flight`` marker (its dispatcher died mid-send) is settled as ``unknown``, never resent; so is
  a send that timed out after the request went out. Only staff can requeue it
  (services.requeue_notice).
- **Retry** with exponential backoff and jitter (capped), up to ``max_attempts``; then ``failed``
  with the reason. A channel's ``retry_after`` (45011: next minute) is a floor. Token errors
  (40001) are retried once inside the WeChat client and then come back here as an ordinary retry:
  never a loop.
- **Fall through**: "skip" (43101 no credit, no openid, 48 h window closed) and "failed" move on to
  the kind's next channel. When none is left the in-app inbox copy (always written first) is what
  the person got: ``sent`` via "inbox", or ``failed`` if a channel refused for good.
- **Daily quota (45009)**: the channel is paused until Beijing midnight (``channel_pauses``); the
  row and every later one fall through to the next channel without calling the paused one, and
  staff get one ``staff_alert`` per channel and day (dedupe key). The WeCom robot's 45009 is its
  per-minute limit instead (``quota_pause = False``: an ordinary retry).
- **Digests**: a channel with ``batch_filter``/``join`` (the WeCom robot) sends other due rows in
  the same message. The dispatcher claims them under its lease, writes their inbox copies and
  in-flight markers before the send, and settles each with the send's outcome — the same
  at-most-once rules as the lead row.
"""
from __future__ import annotations

import contextlib
import logging
import os
import random
import secrets
import socket
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Callable

from sqlalchemy import and_, literal_column, or_, select, update
from sqlalchemy.orm import Session

from ..audit.services import record
from ..db import insert_ignoring_duplicate, utcnow
from ..wechat.errors import seconds_until_beijing_midnight
from ..workdays import CHINA_TZ
from .channels import (CHANNEL_LABELS, DETAIL_MAX, Channel, ChannelSet, Delivery, Outcome, Result,
                       build_channels)
from .models import AttemptOutcome, ChannelPause, DeliveryAttempt, OutboxMessage, OutboxState
from .services import alert_staff

log = logging.getLogger(__name__)

CRASHED_MID_SEND = "调度进程在发送途中中断，无法确认是否已送达，不会自动重发"
UNKNOWN_PREFIX = "请求已发出但未收到答复，是否送达未知，不会自动重发"
DAILY_QUOTA = 45009


@dataclass(frozen=True)
class DispatchPolicy:
    max_attempts: int = 8
    base_delay: float = 30.0      # seconds after the first failed attempt
    max_delay: float = 3600.0     # cap
    jitter: float = 0.2           # the delay is shortened by up to this share (< 0.5 keeps growth)
    lease_seconds: float = 300.0  # much longer than a send's timeout (5 s)

    def __post_init__(self) -> None:
        if not 0 <= self.jitter < 0.5:
            raise ValueError("jitter must be in [0, 0.5)")
        if self.max_attempts < 1 or self.base_delay <= 0 or self.max_delay < self.base_delay:
            raise ValueError("invalid dispatch policy")


def backoff_delay(attempts: int, policy: DispatchPolicy, rng: random.Random | None = None
                  ) -> float:
    """Seconds to wait after the ``attempts``-th failed attempt (1-based): base·2^(n-1), capped,
    minus up to ``jitter`` of it so that dispatchers that failed together do not retry together."""
    n = max(1, attempts)
    raw = min(policy.max_delay, policy.base_delay * 2.0 ** min(n - 1, 60))
    return raw * (1.0 - policy.jitter * (rng or random).random())


@dataclass
class DispatchStats:
    claimed: int = 0
    sent: int = 0
    retried: int = 0
    failed: int = 0
    unknown: int = 0
    lost: int = 0       # lease lost to another dispatcher before we were done
    attempts: int = 0   # channel attempts recorded (inbox copies included)
    rows: dict[int, str] = field(default_factory=dict)  # outbox id → what this pass did

    def count(self, row_id: int, what: str) -> None:
        self.rows[row_id] = what
        if what in ("sent", "retried", "failed", "unknown", "lost"):
            setattr(self, what, getattr(self, what) + 1)


def default_worker_id() -> str:
    return f"{socket.gethostname()[:32]}:{os.getpid()}:{threading.get_ident() % 100000}"


def _pending_due(now: datetime):
    t = OutboxMessage
    # Literal state so the partial index ix_outbox_due applies even to generic plans.
    return and_(t.state == literal_column("'pending'"), t.next_attempt_at <= now)


def _lease_expired(now: datetime):
    t = OutboxMessage
    return and_(t.state == literal_column("'sending'"), t.claimed_until < now)


def _settle_in_flight(session: Session, row: OutboxMessage, note: str) -> bool:
    """If a send of this row may have gone out (an in_flight marker), settle it as unknown."""
    markers = session.scalars(select(DeliveryAttempt).where(
        DeliveryAttempt.outbox_id == row.id,
        DeliveryAttempt.outcome == AttemptOutcome.in_flight)).all()
    if not markers:
        return False
    for attempt in markers:
        attempt.outcome = AttemptOutcome.unknown
        attempt.response = note
    before = {"state": row.state.value, "channel": row.channel}
    row.state = OutboxState.unknown
    row.last_error = note
    row.claimed_by = row.claimed_until = None
    record(session, actor_id=None, action="notice.unknown", object_type="outbox",
           object_id=row.id, before=before,
           after={"state": row.state.value, "channel": row.channel, "reason": note})
    return True


def claim_due(session: Session, *, token: str, batch_size: int, now: datetime,
              lease_seconds: float) -> tuple[list[int], list[int]]:
    """Claim up to ``batch_size`` due rows for ``token`` (does not commit).

    Returns (ids to send, ids settled as unknown because their previous dispatcher died mid-send).
    """
    t = OutboxMessage
    until = now + timedelta(seconds=lease_seconds)
    pg = session.get_bind().dialect.name == "postgresql"

    def pick(cond, order, limit):
        stmt = select(t.id).where(cond).order_by(order).limit(limit)
        if pg:
            stmt = stmt.with_for_update(skip_locked=True, key_share=True)
        return list(session.scalars(stmt))

    ids = pick(_lease_expired(now), t.claimed_until, batch_size)
    if len(ids) < batch_size:
        ids += pick(_pending_due(now), t.next_attempt_at, batch_size - len(ids))
    if not ids:
        return [], []
    claim = update(t).where(t.id.in_(ids)).values(
        state=OutboxState.sending, claimed_by=token, claimed_until=until)
    if not pg:
        # SQLite: re-check in the UPDATE itself (atomic under the database write lock).
        claim = claim.where(or_(_pending_due(now), _lease_expired(now)))
    session.execute(claim.execution_options(synchronize_session=False))
    rows = session.scalars(select(t).where(t.id.in_(ids), t.claimed_by == token)
                           .order_by(t.id).execution_options(populate_existing=True)).all()
    send, unknown = [], []
    in_flight = set(session.scalars(select(DeliveryAttempt.outbox_id).where(
        DeliveryAttempt.outbox_id.in_([r.id for r in rows]),
        DeliveryAttempt.outcome == AttemptOutcome.in_flight)))
    for row in rows:
        if row.id in in_flight and _settle_in_flight(session, row, CRASHED_MID_SEND):
            unknown.append(row.id)
        else:
            send.append(row.id)
    return send, unknown


class _Pass:
    """One dispatch pass of one worker: claim, then process each row in its own transactions."""

    def __init__(self, factory: Callable[[], Session], channels: ChannelSet,
                 policy: DispatchPolicy, worker_id: str, now: datetime | None,
                 rng: random.Random | None) -> None:
        self.factory = factory
        self.channels = channels
        self.policy = policy
        self.worker_id = worker_id[:64]
        self.token = f"{worker_id[:50]}/{secrets.token_hex(4)}"
        self.fixed_now = now
        self.rng = rng
        self.stats = DispatchStats()
        self.claimed: list[int] = []
        self.joined: set[int] = set()  # rows of this pass already settled as digest companions

    def now(self) -> datetime:
        return self.fixed_now or utcnow()

    def run(self, batch_size: int) -> DispatchStats:
        with self.factory() as session:
            with session.begin():
                send, unknown = claim_due(session, token=self.token, batch_size=batch_size,
                                          now=self.now(),
                                          lease_seconds=self.policy.lease_seconds)
        self.stats.claimed = len(send) + len(unknown)
        self.claimed = list(send)
        for row_id in unknown:
            self.stats.count(row_id, "unknown")
        for row_id in send:
            if row_id not in self.joined:
                self.process(row_id)
        return self.stats

    # -- one row ---------------------------------------------------------------------------

    def _lock(self, session: Session, row_id: int) -> OutboxMessage | None:
        row = session.execute(
            select(OutboxMessage).where(OutboxMessage.id == row_id)
            .with_for_update(key_share=True).execution_options(populate_existing=True)
        ).scalar_one_or_none()
        if row is None or row.state is not OutboxState.sending or row.claimed_by != self.token:
            return None
        return row

    def _attempt(self, session: Session, row: OutboxMessage, channel: str, outcome: Outcome,
                 duration_ms: int | None = None,
                 as_: AttemptOutcome | None = None) -> DeliveryAttempt:
        attempt = DeliveryAttempt(
            outbox_id=row.id, channel=channel, attempted_at=self.now(),
            outcome=as_ or outcome.attempt_outcome, errcode=outcome.errcode,
            response=outcome.short_detail or None, duration_ms=duration_ms,
            worker=self.worker_id)
        session.add(attempt)
        self.stats.attempts += 1
        return attempt

    def process(self, row_id: int) -> None:
        try:
            with self.factory() as session:
                self._process(session, row_id)
        except Exception as exc:  # a bug or the database went away: never lose the row
            log.exception("dispatch failed", extra={"fields": {"outbox_id": row_id}})
            self._release_after_error(row_id, exc)

    def _process(self, session: Session, row_id: int) -> None:
        idx: int | None = None
        first = True
        while True:
            with session.begin():
                row = self._lock(session, row_id)
                if row is None or row.claimed_until is None or row.claimed_until <= self.now():
                    # Lease lost or expired: another dispatcher may own the row now.
                    self.stats.count(row_id, "lost")
                    return
                if first:
                    first = False
                    inbox = self.channels.inbox.prepare(row, session)
                    if isinstance(inbox, Outcome) and inbox.result is Result.sent:
                        self._attempt(session, row, self.channels.inbox.name, inbox)
                order = self.channels.order_for(row.kind)
                if idx is None:
                    idx = order.index(row.channel) if row.channel in order else 0
                delivery: Delivery | None = None
                while idx < len(order):
                    channel = self.channels.get(order[idx])
                    paused = self._paused_until(session, channel.name)
                    prepared = (channel.prepare(row, session) if paused is None else Outcome.skip(
                        f"该渠道当日调用额度已用完，暂停至北京时间"
                        f"{paused.astimezone(CHINA_TZ):%m月%d日 %H:%M}", DAILY_QUOTA))
                    if isinstance(prepared, Delivery):
                        delivery = prepared
                        break
                    self._attempt(session, row, channel.name, prepared)
                    if prepared.result in (Result.skip, Result.failed):
                        idx += 1
                        continue
                    self._apply(session, row, channel.name, prepared)
                    return
                if delivery is None:
                    self._finish_without_channel(session, row)
                    return
                row.channel = channel.name
                row.attempts += 1
                row.claimed_until = max(row.claimed_until,
                                        self.now() + timedelta(seconds=self.policy.lease_seconds))
                marker = self._attempt(session, row, channel.name, Outcome.unknown("发送中"),
                                       as_=AttemptOutcome.in_flight)
                delivery, joined = self._gather(session, row, channel, delivery)
                session.flush()
                marker_id = marker.id
                companions = [(m.outbox_id, m.id) for m in joined]

            # Outside any transaction: the network call.
            started = time.monotonic()
            try:
                outcome = channel.send(delivery)
            except Exception as exc:  # the request may have gone out: do not repeat it blindly
                log.exception("channel send raised", extra={"fields": {
                    "outbox_id": row_id, "channel": channel.name}})
                outcome = Outcome.unknown(f"发送异常：{type(exc).__name__}")
            duration_ms = int((time.monotonic() - started) * 1000)

            with session.begin():
                # Lock the outbox row before touching the attempt (same order as claim_due).
                row = self._record(session, row_id, marker_id, channel.name, outcome,
                                   duration_ms)
                settle = getattr(channel, "settle", None)
                if settle is not None:
                    settle(session, delivery, outcome)
                passes_on = (self._pause_on_quota(session, channel, outcome)
                             or outcome.result in (Result.skip, Result.failed))
                for other_id, other_marker in companions:
                    other = self._record(session, other_id, other_marker, channel.name, outcome,
                                         duration_ms, note=f"与通知 #{row_id} 合并发送：")
                    if other is not None and passes_on:
                        self._pass_on(session, other, channel.name)
                    elif other is not None:
                        self._apply(session, other, channel.name, outcome)
                if row is None:
                    return
                if passes_on:
                    idx += 1
                    continue
                self._apply(session, row, channel.name, outcome)
                return

    def _record(self, session: Session, row_id: int, marker_id: int, channel: str,
                outcome: Outcome, duration_ms: int, note: str = "") -> OutboxMessage | None:
        """Replace a send's in-flight marker with its outcome; the locked row if still ours."""
        row = session.execute(
            select(OutboxMessage).where(OutboxMessage.id == row_id)
            .with_for_update(key_share=True).execution_options(populate_existing=True)
        ).scalar_one_or_none()
        marker = session.get(DeliveryAttempt, marker_id, populate_existing=True)
        marker.outcome = outcome.attempt_outcome
        marker.errcode = outcome.errcode
        marker.response = (note + outcome.short_detail)[:DETAIL_MAX] or None
        marker.duration_ms = duration_ms
        if row is None or row.state is not OutboxState.sending or row.claimed_by != self.token:
            # Our lease ran out mid-send and another dispatcher settled the row as unknown; a
            # late "sent" is still the truth.
            if row is not None and outcome.result is Result.sent \
                    and row.state is OutboxState.unknown:
                self._mark_sent(row, channel)
            self.stats.count(row_id, "lost")
            return None
        return row

    # -- digests (channels with batch_filter/join) ---------------------------------------------------

    def _gather(self, session: Session, row: OutboxMessage, channel: Channel,
                delivery: Delivery) -> tuple[Delivery, list[DeliveryAttempt]]:
        """Claim other due rows the channel sends in the same message as ``row``; returns the
        joined delivery and the companions' in-flight markers."""
        batch_filter = getattr(channel, "batch_filter", None)
        if batch_filter is None:
            return delivery, []
        t = OutboxMessage
        # Due rows, and rows this pass claimed but has not processed yet (no attempt so far).
        ours = and_(t.state == literal_column("'sending'"), t.claimed_by == self.token,
                    t.id.in_(set(self.claimed) - self.joined))
        stmt = (select(t).where(or_(_pending_due(self.now()), ours), t.id != row.id,
                                batch_filter(row))
                .order_by(t.next_attempt_at, t.id).limit(channel.batch_limit))
        if session.get_bind().dialect.name == "postgresql":
            stmt = stmt.with_for_update(skip_locked=True, key_share=True)
        candidates = session.scalars(stmt.execution_options(populate_existing=True)).all()
        if not candidates:
            return delivery, []
        delivery, joined = channel.join(delivery, candidates)
        markers = []
        for other in candidates:
            if other.id not in joined:
                continue
            if other.state is OutboxState.sending:
                self.joined.add(other.id)
            else:
                self.stats.claimed += 1
            other.state = OutboxState.sending
            other.claimed_by, other.claimed_until = self.token, row.claimed_until
            other.channel = channel.name
            other.attempts += 1
            inbox = self.channels.inbox.prepare(other, session)
            if isinstance(inbox, Outcome) and inbox.result is Result.sent:
                self._attempt(session, other, self.channels.inbox.name, inbox)
            markers.append(self._attempt(
                session, other, channel.name, Outcome.unknown(f"与通知 #{row.id} 合并发送中"),
                as_=AttemptOutcome.in_flight))
        return delivery, markers

    def _pass_on(self, session: Session, row: OutboxMessage, channel: str) -> None:
        """A digest companion whose channel skipped or refused: its next channel in a later pass
        (due now), or the inbox copy when none is left."""
        order = self.channels.order_for(row.kind)
        nxt = order.index(channel) + 1 if channel in order else len(order)
        if nxt >= len(order):
            self._finish_without_channel(session, row)
            return
        row.state = OutboxState.pending
        row.channel = order[nxt]
        row.next_attempt_at = self.now()
        row.claimed_by = row.claimed_until = None
        self.stats.count(row.id, "retried")

    # -- the daily quota (45009) -------------------------------------------------------------------

    def _paused_until(self, session: Session, channel: str) -> datetime | None:
        until = session.scalar(select(ChannelPause.paused_until)
                               .where(ChannelPause.channel == channel))
        return until if until is not None and until > self.now() else None

    def _pause_on_quota(self, session: Session, channel: Channel, outcome: Outcome) -> bool:
        """45009: pause the channel until Beijing midnight and alert staff once (True)."""
        if outcome.result is not Result.retry or outcome.errcode != DAILY_QUOTA \
                or not getattr(channel, "quota_pause", True):
            return False
        now = self.now()
        until = now + timedelta(seconds=seconds_until_beijing_midnight(now.timestamp()))
        reason = outcome.short_detail
        if not insert_ignoring_duplicate(session, ChannelPause.__table__, {
                "channel": channel.name, "paused_until": until, "reason": reason,
                "created_at": now}, ["channel"]):
            session.execute(update(ChannelPause).where(
                ChannelPause.channel == channel.name, ChannelPause.paused_until < until
            ).values(paused_until=until, reason=reason, created_at=now)
                .execution_options(synchronize_session=False))
        label = CHANNEL_LABELS.get(channel.name, channel.name)
        day = now.astimezone(CHINA_TZ).date()
        log.warning("channel paused: daily quota used up", extra={"fields": {
            "channel": channel.name, "until": until.isoformat()}})
        # One alert per channel and Beijing day: the dedupe key, whoever hits 45009 first.
        alert_staff(session, subject=f"channel_pause:{channel.name}:{day.isoformat()}",
                    title=f"{label}今日额度已用完",
                    body=f"{label}今日调用次数已达微信上限（45009），已暂停发送至北京时间次日零点；"
                         "期间的通知改由其他渠道和站内信送达。请检查是否有异常的大量发送。")
        record(session, actor_id=None, action="notice.channel_paused", object_type="channel",
               object_id=channel.name, after={"paused_until": until.isoformat(),
                                              "reason": reason})
        return True

    # -- outcomes ----------------------------------------------------------------------------

    def _mark_sent(self, row: OutboxMessage, channel: str) -> None:
        row.state = OutboxState.sent
        row.channel = channel
        row.sent_at = self.now()
        row.last_error = None
        row.claimed_by = row.claimed_until = None

    def _apply(self, session: Session, row: OutboxMessage, channel: str,
               outcome: Outcome) -> None:
        if outcome.result is Result.sent:
            self._mark_sent(row, channel)
            self.stats.count(row.id, "sent")
        elif outcome.result is Result.unknown:
            self._terminal(session, row, OutboxState.unknown,
                           f"{UNKNOWN_PREFIX}（{channel}：{outcome.short_detail}）")
            self.stats.count(row.id, "unknown")
        elif outcome.result is Result.retry:
            if row.attempts >= self.policy.max_attempts:
                self._terminal(session, row, OutboxState.failed,
                               f"已尝试 {row.attempts} 次仍未送达（{channel}：{outcome.short_detail}）")
                self.stats.count(row.id, "failed")
                return
            delay = backoff_delay(row.attempts, self.policy, self.rng)
            delay = max(delay, float(outcome.retry_after or 0))
            row.state = OutboxState.pending
            row.next_attempt_at = self.now() + timedelta(seconds=delay)
            row.last_error = f"{channel}：{outcome.short_detail}"
            row.claimed_by = row.claimed_until = None
            self.stats.count(row.id, "retried")
        else:  # pragma: no cover - skip/failed are handled by the caller
            raise ValueError(outcome.result)

    def _terminal(self, session: Session, row: OutboxMessage, state: OutboxState,
                  reason: str) -> None:
        before = {"state": row.state.value, "channel": row.channel, "attempts": row.attempts}
        row.state = state
        row.last_error = reason
        row.claimed_by = row.claimed_until = None
        record(session, actor_id=None, action=f"notice.{state.value}", object_type="outbox",
               object_id=row.id, before=before,
               after={"state": state.value, "channel": row.channel, "reason": reason})

    def _finish_without_channel(self, session: Session, row: OutboxMessage) -> None:
        """No external channel left: the inbox copy is what the person got."""
        refusal = session.execute(select(DeliveryAttempt.channel, DeliveryAttempt.response).where(
            DeliveryAttempt.outbox_id == row.id,
            DeliveryAttempt.outcome == AttemptOutcome.failed
        ).order_by(DeliveryAttempt.id.desc()).limit(1)).first()
        if refusal is not None:
            self._terminal(session, row, OutboxState.failed,
                           f"各渠道均未送达，仅有站内信（{refusal.channel}：{refusal.response}）")
            self.stats.count(row.id, "failed")
        else:
            self._mark_sent(row, self.channels.inbox.name)
            self.stats.count(row.id, "sent")

    def _release_after_error(self, row_id: int, exc: Exception) -> None:
        """After an unexpected error: back to pending with backoff — or unknown if a send may
        have gone out. If the database is down this fails too and the lease expiry handles it."""
        try:
            with self.factory() as session, session.begin():
                row = self._lock(session, row_id)
                if row is None:
                    return
                if _settle_in_flight(session, row, CRASHED_MID_SEND):
                    self.stats.count(row_id, "unknown")
                    return
                row.attempts += 1
                self._apply(session, row, row.channel or "dispatcher",
                            Outcome.retry(detail=f"内部错误：{type(exc).__name__}"))
        except Exception:
            log.exception("could not release outbox row", extra={"fields": {"outbox_id": row_id}})
            self.stats.count(row_id, "lost")


def _resolve(source: Any) -> tuple[Callable[[], Session], Any]:
    """(session factory, app or None) from a Flask app or a session factory."""
    extensions = getattr(source, "extensions", None)
    if isinstance(extensions, dict) and "db" in extensions:
        return extensions["db"].new_session, source
    return source, None


def dispatch_once(source: Any, *, batch_size: int = 50, worker_id: str | None = None,
                  now: datetime | None = None, channels: ChannelSet | None = None,
                  policy: DispatchPolicy | None = None,
                  rng: random.Random | None = None) -> DispatchStats:
    """Claim up to ``batch_size`` due rows and send them. ``source``: the Flask app or a
    session factory. ``now`` pins the clock (tests). Commits its own transactions."""
    factory, app = _resolve(source)
    if channels is None:
        channels = build_channels(app) if app is not None else ChannelSet([])
    ctx = app.app_context() if app is not None else contextlib.nullcontext()
    with ctx:
        return _Pass(factory, channels, policy or DispatchPolicy(),
                     worker_id or default_worker_id(), now, rng).run(batch_size)


def run_forever(source: Any, stop_event: threading.Event, *, interval: float = 2.0,
                batch_size: int = 50, worker_id: str | None = None,
                channels: ChannelSet | None = None, policy: DispatchPolicy | None = None) -> None:
    """Dispatch until ``stop_event`` is set: at once again after a full batch, else every
    ``interval`` seconds; errors (database down…) back off up to a minute."""
    factory, app = _resolve(source)
    if channels is None:
        channels = build_channels(app) if app is not None else ChannelSet([])
    worker_id = worker_id or default_worker_id()
    failures = 0
    log.info("dispatcher started", extra={"fields": {"worker": worker_id}})
    while not stop_event.is_set():
        wait = interval
        try:
            stats = dispatch_once(source, batch_size=batch_size, worker_id=worker_id,
                                  channels=channels, policy=policy)
            failures = 0
            if stats.claimed:
                log.info("dispatch pass", extra={"fields": {
                    "claimed": stats.claimed, "sent": stats.sent, "retried": stats.retried,
                    "failed": stats.failed, "unknown": stats.unknown, "lost": stats.lost}})
            if stats.claimed >= batch_size:
                wait = 0
        except Exception:
            failures += 1
            wait = min(60.0, interval * 2 ** min(failures, 6))
            log.exception("dispatch pass failed", extra={"fields": {"failures": failures}})
        if wait:
            stop_event.wait(wait)
    log.info("dispatcher stopped", extra={"fields": {"worker": worker_id}})


def start_background_dispatcher(app: Any, stop_event: threading.Event, *,
                                interval: float = 2.0, batch_size: int = 50
                                ) -> threading.Thread:
    """Run the dispatcher in a daemon thread of this process (`make run`)."""
    thread = threading.Thread(
        target=run_forever, args=(app, stop_event),
        kwargs={"interval": interval, "batch_size": batch_size},
        name="outbox-dispatcher", daemon=True)
    thread.start()
    return thread
