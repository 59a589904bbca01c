"""The outbox dispatcher: claim due rows, send them through their channels, record every attempt.

It works in batches (a pass claims up to ``batch_size`` rows) so that the SQL per batch is a
constant, not a few statements per row:

1. **Claim** transaction: pick and mark the rows, settle re-claimed in-flight rows as unknown,
   write the missing inbox copies (one SELECT, one multi-row INSERT).
2. **Before the sends**, one transaction per round: lock the round's rows at once, read the
   channel pauses (once per pass), group the rows by their current channel and call each
   channel's batched ``prepare_many`` (one openid query, one credit UPDATE … RETURNING…); rows a
   channel skips try the next one at once. Every attempt of the round — skips and the
   ``in_flight`` markers — is one INSERT; the rows' channel/attempts/lease one executemany.
3. **Sends** outside any transaction, ``send_concurrency`` at a time on a small thread pool (a
   loop overlaps WeChat's latency). Each channel's first send of the round goes alone, so a
   channel answering 45009 is not called again for the rest of the batch.
4. **After the sends**, one transaction: markers replaced by the outcomes (one executemany),
   each channel's ``settle_many`` (credit refunds in one statement), 45009 pauses, the rows.
   Rows whose send was skipped or refused (43101…) go on to their next channel in the next round
   of the same pass (step 2 again, for those rows only).

An unexpected error before a round's sends rolls that round back and retries its rows one by
one (a bad row cannot hold up its batch); after the sends, the round's rows end ``unknown``.

Promises (DESIGN.md "Notifications: the outbox"; several dispatchers may run at once):

- **Claim** (app/notify/claims.py): SKIP LOCKED on PostgreSQL, a conditional UPDATE under the
  write lock on SQLite; rows get a lease (claimed_by / claimed_until), committed at once. A
  crashed dispatcher's rows are claimed again once the lease has expired.
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
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any, Callable

from sqlalchemy import and_, insert, literal_column, or_, select, update
from sqlalchemy.orm import Session

from ..audit.services import record
from ..db import insert_ignoring_duplicate, utcnow
from ..wechat.errors import seconds_until_beijing_midnight
from ..workdays import CHINA_TZ
from .channels import (CHANNEL_LABELS, DETAIL_MAX, Channel, ChannelSet, Delivery, Outcome, Result,
                       build_channels, prepare_all, settle_all)
from .claims import CRASHED_MID_SEND, claim_rows, pending_due, settle_in_flight
from .models import AttemptOutcome, ChannelPause, DeliveryAttempt, OutboxMessage, OutboxState
from .services import alert_staff

log = logging.getLogger(__name__)

UNKNOWN_PREFIX = "请求已发出但未收到答复，是否送达未知，不会自动重发"
DAILY_QUOTA = 45009
SEND_CONCURRENCY = 8  # sends in flight at once per dispatch loop (a batch's sends overlap)


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


class _Send:
    """One network send of a pass: the lead row, its channel and delivery, its in-flight marker,
    and the digest companions (row id, marker id) settled with the same outcome."""

    __slots__ = ("row_id", "channel", "delivery", "companions", "markers", "outcome",
                 "duration_ms")

    def __init__(self, row_id: int, channel: Channel, delivery: Delivery) -> None:
        self.row_id = row_id
        self.channel = channel
        self.delivery = delivery
        self.companions: list[int] = []
        self.markers: dict[int, int] = {}  # row id → its in-flight marker's id
        self.outcome: Outcome | None = None
        self.duration_ms: int | None = None

    @property
    def row_ids(self) -> list[int]:
        return [self.row_id, *self.companions]


def _hits_daily_quota(channel: Channel, outcome: Outcome) -> bool:
    return (outcome.result is Result.retry and outcome.errcode == DAILY_QUOTA
            and getattr(channel, "quota_pause", True))


def _quota_until(now: datetime) -> datetime:
    return now + timedelta(seconds=seconds_until_beijing_midnight(now.timestamp()))


def _paused_skip(until: datetime) -> Outcome:
    return Outcome.skip(f"该渠道当日调用额度已用完，暂停至北京时间"
                        f"{until.astimezone(CHINA_TZ):%m月%d日 %H:%M}", DAILY_QUOTA)


class _Pass:
    """One dispatch pass of one worker: claim a batch, then process it in rounds. A round is one
    transaction before the sends (lock, inbox copies, every channel's batched prepare, in-flight
    markers), the sends outside any transaction and concurrently, and one transaction after them
    (markers, settle hooks, rows). Rows a send skipped or refused go on to their next channel in
    the next round of the same pass."""

    def __init__(self, factory: Callable[[], Session], channels: ChannelSet,
                 policy: DispatchPolicy, worker_id: str, now: datetime | None,
                 rng: random.Random | None, pool: ThreadPoolExecutor | None) -> None:
        self.factory = factory
        self.channels = channels
        self.policy = policy
        self.worker_id = worker_id[:64]
        self.token = f"{worker_id[:50]}/{secrets.token_hex(4)}"
        self.fixed_now = now
        self.rng = rng
        self.pool = pool
        self.stats = DispatchStats()
        self.step: dict[int, int] = {}  # outbox id → index of its channel in the kind's order
        self.paused: dict[str, datetime] | None = None  # channel pauses, read once per pass
        self.attempts: list[dict] = []  # recorded, not yet written (_write_attempts)

    def now(self) -> datetime:
        return self.fixed_now or utcnow()

    def run(self, batch_size: int) -> DispatchStats:
        with self.factory() as session:
            with session.begin():
                send, unknown = claim_rows(session, token=self.token, batch_size=batch_size,
                                       now=self.now(), lease_seconds=self.policy.lease_seconds)
                # The inbox copy, always first: in the claim's transaction, before any channel.
                self._inbox_copies(session, send)
                self._write_attempts(session)
        self.stats.claimed = len(send) + len(unknown)
        for row_id in unknown:
            self.stats.count(row_id, "unknown")
        self._rounds([row.id for row in send])
        return self.stats

    def _snapshot(self) -> Callable[[], None]:
        """What a rolled-back transaction must also undo here: the channel steps, the stats and
        the recorded attempts. Returns the undo."""
        step, stats = dict(self.step), replace(self.stats, rows=dict(self.stats.rows))

        def undo() -> None:
            self.step, self.stats, self.attempts = step, stats, []
        return undo

    def _rounds(self, ids: list[int]) -> None:
        while ids:
            undo = self._snapshot()
            try:
                sends = self._before(ids)
            except Exception as exc:  # a bug or the database went away: never lose a row
                undo()
                if len(ids) > 1:  # nothing of this round was written: isolate the culprit
                    log.exception("dispatch batch failed before sending; rows one by one",
                                  extra={"fields": {"rows": len(ids)}})
                    for row_id in ids:
                        self._rounds([row_id])
                    return
                log.exception("dispatch failed", extra={"fields": {"outbox_id": ids[0]}})
                self._release_after_error(ids, exc)
                return
            if not sends:
                return
            self._send_all(sends)
            undo = self._snapshot()
            try:
                ids = self._after(sends)
            except Exception as exc:  # the sends went out: their rows end unknown, not resent
                undo()
                log.exception("recording sends failed", extra={"fields": {"sends": len(sends)}})
                self._release_after_error(
                    [i for s in sends for i in s.row_ids], exc)
                return

    # -- before the sends ------------------------------------------------------------------------

    def _lock(self, session: Session, ids: list[int]) -> dict[int, OutboxMessage]:
        """Lock the rows (claim order: by id); all of them, ours or not."""
        rows = session.scalars(
            select(OutboxMessage).where(OutboxMessage.id.in_(ids)).order_by(OutboxMessage.id)
            .with_for_update(key_share=True).execution_options(populate_existing=True)).all()
        return {row.id: row for row in rows}

    def _ours(self, row: OutboxMessage | None) -> bool:
        return row is not None and row.state is OutboxState.sending \
            and row.claimed_by == self.token

    def _attempt(self, row: OutboxMessage, channel: str, outcome: Outcome,
                 as_: AttemptOutcome | None = None) -> None:
        """An attempt to record (written by _write_attempts, one INSERT per transaction)."""
        self.attempts.append({
            "outbox_id": row.id, "channel": channel, "attempted_at": self.now(),
            "outcome": as_ or outcome.attempt_outcome, "errcode": outcome.errcode,
            "response": outcome.short_detail or None, "duration_ms": None,
            "worker": self.worker_id})
        self.stats.attempts += 1

    def _write_attempts(self, session: Session) -> dict[int, int]:
        """Insert the recorded attempts in one statement; returns the in-flight markers' ids by
        outbox id (a row has at most one marker per round)."""
        if not self.attempts:
            return {}
        t = DeliveryAttempt.__table__
        written = session.execute(insert(t).returning(t.c.id, t.c.outbox_id, t.c.outcome),
                                  self.attempts).all()
        self.attempts = []
        return {outbox_id: attempt_id for attempt_id, outbox_id, outcome in written
                if outcome == AttemptOutcome.in_flight}

    def _inbox_copies(self, session: Session, rows: list[OutboxMessage]) -> None:
        """The in-app copy, always first (one SELECT and one INSERT for the batch)."""
        inbox = self.channels.inbox
        copies = prepare_all(inbox, rows, session)
        for row in rows:
            if isinstance(copies[row.id], Outcome) and copies[row.id].result is Result.sent:
                self._attempt(row, inbox.name, copies[row.id])

    def _paused_until(self, channel: str) -> datetime | None:
        until = (self.paused or {}).get(channel)
        return until if until is not None and until > self.now() else None

    def _before(self, ids: list[int]) -> list[_Send]:
        """One transaction: lock the round's rows, run the
        channels' batched prepare until each row has a delivery or is settled, gather digests,
        and commit an in-flight marker for every send."""
        with self.factory() as session, session.begin():
            locked = self._lock(session, ids)
            rows = []
            for row_id in ids:
                row = locked.get(row_id)
                if not self._ours(row) or row.claimed_until is None \
                        or row.claimed_until <= self.now():
                    # Lease lost or expired: another dispatcher may own the row now.
                    self.stats.count(row_id, "lost")
                else:
                    rows.append(row)
            if not rows:
                return []
            if self.paused is None:
                self.paused = dict(session.execute(
                    select(ChannelPause.channel, ChannelPause.paused_until)).all())
            ready, no_channel = self._prepare(session, rows)
            self._finish_without_channel(session, no_channel)  # before any marker is recorded
            sends = self._plan(session, ready)
            markers = self._write_attempts(session)
            for send in sends:
                send.markers = {row_id: markers[row_id] for row_id in send.row_ids}
        return sends

    def _prepare(self, session: Session, rows: list[OutboxMessage]
                 ) -> tuple[list[tuple[OutboxMessage, Channel, Delivery]], list[OutboxMessage]]:
        """Each row's current channel, the rows grouped per channel, one prepare_many per group;
        skipped or refused rows try their next channel at once. Returns the deliveries and the
        rows with no channel left."""
        ready: list[tuple[OutboxMessage, Channel, Delivery]] = []
        no_channel: list[OutboxMessage] = []
        todo = rows
        while todo:
            groups: dict[str, list[OutboxMessage]] = {}
            for row in todo:
                order = self.channels.order_for(row.kind)
                step = self.step.setdefault(
                    row.id, order.index(row.channel) if row.channel in order else 0)
                if step < len(order):
                    groups.setdefault(order[step], []).append(row)
                else:
                    no_channel.append(row)
            todo = []
            for name, group in groups.items():
                channel = self.channels.get(name)
                until = self._paused_until(name)
                prepared = (prepare_all(channel, group, session) if until is None
                            else dict.fromkeys((row.id for row in group), _paused_skip(until)))
                for row in group:
                    done = prepared[row.id]
                    if isinstance(done, Delivery):
                        ready.append((row, channel, done))
                        continue
                    self._attempt(row, name, done)
                    if done.result in (Result.skip, Result.failed):
                        self.step[row.id] += 1
                        todo.append(row)
                    else:
                        self._apply(session, row, name, done)
        return ready, no_channel

    def _start(self, row: OutboxMessage, channel: Channel, note: str) -> None:
        """A row is about to go out on ``channel``: count the attempt, keep the lease long
        enough, and record its in-flight marker."""
        row.channel = channel.name
        row.attempts += 1
        row.claimed_until = max(row.claimed_until or self.now(),
                                self.now() + timedelta(seconds=self.policy.lease_seconds))
        self._attempt(row, channel.name, Outcome.unknown(note), as_=AttemptOutcome.in_flight)

    def _plan(self, session: Session,
              ready: list[tuple[OutboxMessage, Channel, Delivery]]) -> list[_Send]:
        """One send per delivery — a digest channel's rows of this round (and other due rows)
        join their lead's message instead — each with its in-flight marker."""
        sends: list[_Send] = []
        used: set[int] = set()
        for row, channel, delivery in ready:
            if row.id in used:
                continue
            used.add(row.id)
            send = _Send(row.id, channel, delivery)
            if getattr(channel, "batch_filter", None) is not None:
                ours = [r.id for r, c, _ in ready if c is channel and r.id not in used]
                send.delivery, joined = self._gather(session, row, channel, delivery, ours)
                for other in joined:
                    used.add(other.id)
                    send.companions.append(other.id)
                    self._start(other, channel, f"与通知 #{row.id} 合并发送中")
            self._start(row, channel, "发送中")
            sends.append(send)
        return sends

    # -- digests (channels with batch_filter/join) ---------------------------------------------------

    def _gather(self, session: Session, row: OutboxMessage, channel: Channel,
                delivery: Delivery, ours: list[int]) -> tuple[Delivery, list[OutboxMessage]]:
        """Other rows the channel sends in the same message as ``row``: this round's rows with
        a delivery on the same channel (``ours``) and due rows, which are claimed under our
        lease with their inbox copies. Returns the joined delivery and the joined rows."""
        t = OutboxMessage
        mine = and_(t.state == literal_column("'sending'"), t.claimed_by == self.token,
                    t.id.in_(ours))
        stmt = (select(t).where(or_(pending_due(self.now()), mine), t.id != row.id,
                                channel.batch_filter(row))
                .order_by(t.next_attempt_at, t.id).limit(channel.batch_limit))
        if session.get_bind().dialect.name == "postgresql":
            stmt = stmt.with_for_update(skip_locked=True, key_share=True)
        candidates = session.scalars(stmt.execution_options(populate_existing=True)).all()
        if not candidates:
            return delivery, []
        delivery, joined_ids = channel.join(delivery, candidates)
        joined = [other for other in candidates if other.id in set(joined_ids)]
        claimed = [other for other in joined if other.state is not OutboxState.sending]
        for other in claimed:
            other.state = OutboxState.sending
            other.claimed_by, other.claimed_until = self.token, row.claimed_until
            self.step[other.id] = self.channels.order_for(other.kind).index(channel.name)
            self.stats.claimed += 1
        if claimed:
            self._inbox_copies(session, claimed)
        return delivery, joined

    # -- the sends -------------------------------------------------------------------------------

    def _send_one(self, send: _Send, stopped: set[str]) -> None:
        if send.channel.name in stopped:  # 45009 answered in this batch: not called
            send.outcome = _paused_skip(_quota_until(self.now()))
            return
        started = time.monotonic()
        try:
            outcome = send.channel.send(send.delivery)
        except Exception as exc:  # the request may have gone out: do not repeat it blindly
            log.exception("channel send raised", extra={"fields": {
                "outbox_id": send.row_id, "channel": send.channel.name}})
            outcome = Outcome.unknown(f"发送异常：{type(exc).__name__}")
        send.duration_ms = int((time.monotonic() - started) * 1000)
        send.outcome = outcome
        if _hits_daily_quota(send.channel, outcome):
            stopped.add(send.channel.name)

    def _send_all(self, sends: list[_Send]) -> None:
        """Outside any transaction. Each channel's first send goes alone (a channel answering
        45009 — the daily quota — is then not called again), the others concurrently on the
        pool. A BaseException (the process dying) propagates: the markers stay in flight."""
        stopped: set[str] = set()
        probes: dict[str, _Send] = {}
        for send in sends:
            probes.setdefault(send.channel.name, send)
        rest = [send for send in sends if probes[send.channel.name] is not send]
        for wave in (list(probes.values()), rest):
            if self.pool is None or len(wave) < 2:
                for send in wave:
                    self._send_one(send, stopped)
            else:
                for _ in self.pool.map(lambda s: self._send_one(s, stopped), wave):
                    pass

    # -- after the sends -------------------------------------------------------------------------

    def _after(self, sends: list[_Send]) -> list[int]:
        """One transaction: every marker replaced by its send's outcome (one executemany), the
        channels' settle hooks per batch, 45009 pauses, then the rows. Returns the rows that go
        on to their next channel (next round)."""
        ids = [i for s in sends for i in s.row_ids]
        with self.factory() as session, session.begin():
            # Lock the outbox rows before touching their attempts (same order as claim_due).
            rows = self._lock(session, ids)
            markers = []
            by_channel: dict[str, list[_Send]] = {}
            for s in sends:
                by_channel.setdefault(s.channel.name, []).append(s)
                note = f"与通知 #{s.row_id} 合并发送："
                for row_id in s.row_ids:
                    prefix = note if row_id != s.row_id else ""
                    markers.append({
                        "id": s.markers[row_id], "outcome": s.outcome.attempt_outcome,
                        "errcode": s.outcome.errcode, "duration_ms": s.duration_ms,
                        "response": (prefix + s.outcome.short_detail)[:DETAIL_MAX] or None})
            session.execute(update(DeliveryAttempt), markers)
            for group in by_channel.values():
                channel = group[0].channel
                settle_all(channel, session, [(s.delivery, s.outcome) for s in group])
                quota = next((s.outcome for s in group
                              if _hits_daily_quota(channel, s.outcome)), None)
                if quota is not None:
                    self._pause_on_quota(session, channel, quota)
            onward = []
            for s in sends:
                # Each send by its own answer: one that went out before the quota ran out stays
                # sent; 45009 and the sends not made after it pass on, like a skip.
                passes_on = _hits_daily_quota(s.channel, s.outcome) \
                    or s.outcome.result in (Result.skip, Result.failed)
                for row_id in s.row_ids:
                    row = self._settled_elsewhere(rows.get(row_id), row_id, s)
                    if row is None:
                        continue
                    if passes_on:
                        self.step[row_id] += 1
                        onward.append(row_id)
                    else:
                        self._apply(session, row, s.channel.name, s.outcome)
        return onward

    def _settled_elsewhere(self, row: OutboxMessage | None, row_id: int,
                           send: _Send) -> OutboxMessage | None:
        """The row if still ours; else None — our lease ran out mid-send and another
        dispatcher settled the row as unknown (a late "sent" is still the truth)."""
        if self._ours(row):
            return row
        if row is not None and send.outcome.result is Result.sent \
                and row.state is OutboxState.unknown:
            self._mark_sent(row, send.channel.name)
        self.stats.count(row_id, "lost")
        return None

    # -- the daily quota (45009) -------------------------------------------------------------------

    def _pause_on_quota(self, session: Session, channel: Channel, outcome: Outcome) -> None:
        """45009: pause the channel until Beijing midnight and alert staff once."""
        now = self.now()
        until = _quota_until(now)
        reason = outcome.short_detail
        if not insert_ignoring_duplicate(session, ChannelPause.__table__, {
                "channel": channel.name, "paused_until": until, "reason": reason,
                "created_at": now}, ["channel"]):
            session.execute(update(ChannelPause).where(
                ChannelPause.channel == channel.name, ChannelPause.paused_until < until
            ).values(paused_until=until, reason=reason, created_at=now)
                .execution_options(synchronize_session=False))
        if self.paused is not None:
            self.paused[channel.name] = until
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

    def _finish_without_channel(self, session: Session, rows: list[OutboxMessage]) -> None:
        """No external channel left: the inbox copy is what the person got — unless a channel
        refused for good (the latest refusal is the reason; one query for all rows)."""
        if not rows:
            return
        self._write_attempts(session)  # this round's refusals count too
        refusals = {}
        for outbox_id, channel, response in session.execute(
                select(DeliveryAttempt.outbox_id, DeliveryAttempt.channel,
                       DeliveryAttempt.response).where(
                    DeliveryAttempt.outbox_id.in_([row.id for row in rows]),
                    DeliveryAttempt.outcome == AttemptOutcome.failed
                ).order_by(DeliveryAttempt.id)):
            refusals[outbox_id] = (channel, response)  # the latest wins
        for row in rows:
            if row.id in refusals:
                channel, response = refusals[row.id]
                self._terminal(session, row, OutboxState.failed,
                               f"各渠道均未送达，仅有站内信（{channel}：{response}）")
                self.stats.count(row.id, "failed")
            else:
                self._mark_sent(row, self.channels.inbox.name)
                self.stats.count(row.id, "sent")

    def _release_after_error(self, ids: list[int], exc: Exception) -> None:
        """After an unexpected error: back to pending with backoff — or unknown if a send may
        have gone out. If the database is down this fails too and the lease expiry handles it."""
        try:
            with self.factory() as session, session.begin():
                rows = [row for row in self._lock(session, ids).values() if self._ours(row)]
                unknown = settle_in_flight(session, rows, CRASHED_MID_SEND)
                for row in rows:
                    if row.id in unknown:
                        self.stats.count(row.id, "unknown")
                        continue
                    row.attempts += 1
                    self._apply(session, row, row.channel or "dispatcher",
                                Outcome.retry(detail=f"内部错误：{type(exc).__name__}"))
        except Exception:
            log.exception("could not release outbox rows", extra={"fields": {"outbox_ids": ids}})
            for row_id in ids:
                self.stats.count(row_id, "lost")


def _resolve(source: Any) -> tuple[Callable[[], Session], Any]:
    """(session factory, app or None) from a Flask app or a session factory."""
    extensions = getattr(source, "extensions", None)
    if isinstance(extensions, dict) and "db" in extensions:
        return extensions["db"].new_session, source
    return source, None


@contextlib.contextmanager
def _send_pool(concurrency: int):
    """The threads a dispatch loop sends a batch with (none for a concurrency of 1)."""
    if concurrency <= 1:
        yield None
        return
    pool = ThreadPoolExecutor(concurrency, thread_name_prefix="outbox-send")
    try:
        yield pool
    finally:
        pool.shutdown(wait=True)


def dispatch_once(source: Any, *, batch_size: int = 50, worker_id: str | None = None,
                  now: datetime | None = None, channels: ChannelSet | None = None,
                  policy: DispatchPolicy | None = None,
                  rng: random.Random | None = None,
                  send_concurrency: int = 1,
                  pool: ThreadPoolExecutor | None = None) -> DispatchStats:
    """Claim up to ``batch_size`` due rows and send them: on ``pool`` (run_forever keeps one
    for its passes), else ``send_concurrency`` at once on a pool made for this pass — one at a
    time in the calling thread by default. ``source``: the Flask app or a session factory.
    ``now`` pins the clock (tests). Commits its own transactions."""
    factory, app = _resolve(source)
    if channels is None:
        channels = build_channels(app) if app is not None else ChannelSet([])
    ctx = app.app_context() if app is not None else contextlib.nullcontext()
    with ctx, (contextlib.nullcontext(pool) if pool is not None
               else _send_pool(send_concurrency)) as senders:
        return _Pass(factory, channels, policy or DispatchPolicy(),
                     worker_id or default_worker_id(), now, rng, senders).run(batch_size)


def run_forever(source: Any, stop_event: threading.Event, *, interval: float = 2.0,
                batch_size: int = 50, worker_id: str | None = None,
                channels: ChannelSet | None = None, policy: DispatchPolicy | None = None,
                send_concurrency: int = SEND_CONCURRENCY) -> None:
    """Dispatch until ``stop_event`` is set: at once again after a full batch, else every
    ``interval`` seconds; errors (database down…) back off up to a minute."""
    factory, app = _resolve(source)
    if channels is None:
        channels = build_channels(app) if app is not None else ChannelSet([])
    worker_id = worker_id or default_worker_id()
    failures = 0
    log.info("dispatcher started", extra={"fields": {"worker": worker_id}})
    with _send_pool(send_concurrency) as pool:
        while not stop_event.is_set():
            wait = interval
            try:
                stats = dispatch_once(source, batch_size=batch_size, worker_id=worker_id,
                                      channels=channels, policy=policy, pool=pool,
                                      send_concurrency=send_concurrency)
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
                                interval: float = 2.0, batch_size: int = 50,
                                send_concurrency: int = SEND_CONCURRENCY) -> threading.Thread:
    """Run the dispatcher in a daemon thread of this process (`make run`)."""
    thread = threading.Thread(
        target=run_forever, args=(app, stop_event),
        kwargs={"interval": interval, "batch_size": batch_size,
                "send_concurrency": send_concurrency},
        name="outbox-dispatcher", daemon=True)
    thread.start()
    return thread
