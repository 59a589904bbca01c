"""Outbox and inbox tables (see services.py, channels.py and dispatcher.py).

- ``outbox``: one row per notice per recipient, written in the same transaction as the change that
  caused it. ``dedupe_key`` is UNIQUE, so the same notice for the same person is never enqueued
  twice (a re-run job, a double click, two web workers).
- ``delivery_attempts``: every try on every channel with WeChat's answer. An attempt is inserted as
  ``in_flight`` and committed *before* a network send; a dispatcher that dies mid-send leaves that
  marker behind, and the row is then settled as ``unknown`` instead of being sent again.
- ``inbox_items``: the in-app copy every notice gets first (``outbox_id`` UNIQUE), so nothing is
  lost when WeChat refuses.
"""
from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import (JSON, Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint,
                        text)
from sqlalchemy.orm import Mapped, mapped_column

from ..db import Base, utcnow
from ..org.models import enum_column


class OutboxState(str, enum.Enum):
    pending = "pending"    # waiting for its next_attempt_at
    sending = "sending"    # claimed by a dispatcher (lease until claimed_until)
    sent = "sent"          # delivered (at most once) — `channel` says where
    failed = "failed"      # given up; `last_error` says why (the inbox copy still exists)
    unknown = "unknown"    # a send went out but no answer came back: never repeated automatically


class AttemptOutcome(str, enum.Enum):
    in_flight = "in_flight"  # committed before the network call; replaced by the result
    sent = "sent"
    retry = "retry"          # nothing delivered; try again later
    failed = "failed"        # this channel refused for good
    skipped = "skipped"      # channel not applicable (no credit, no openid, 48 h window closed…)
    unknown = "unknown"      # the request may have been delivered


# Notice kinds and their Chinese labels (shown in the inbox). Features add their kinds here and a
# channel order in channels.CHANNEL_ORDER.
NOTICE_KINDS: dict[str, str] = {
    "meeting_notice": "会议通知",
    "briefing": "会前通报",          # D15 pre-consultation briefing
    "status_change": "进展通知",
    "reminder": "提醒",
    "feedback": "反馈通知",          # D21 feedback list reached the residents who followed
    "chat_reply": "消息回复",        # a slow chatbot answer sent later
    "staff_alert": "工作提醒",       # to CPPCC staff (WeCom group robot)
    "review_request": "审核待办",    # a D8 approval step waits for a body's reviewer
    "research_alert": "调研重要情况",  # D12 sensitive / long-standing finding, to the Party committee
}

# Partial-index predicates as literals: a bound parameter would keep PostgreSQL's generic plans
# from using the partial index.
PENDING = "state = 'pending'"
SENDING = "state = 'sending'"


class OutboxMessage(Base):
    __tablename__ = "outbox"
    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    recipient_id: Mapped[int] = mapped_column(ForeignKey("people.id"), index=True)
    title: Mapped[str] = mapped_column(String(128))
    body: Mapped[str] = mapped_column(Text)
    # Mini-program page path, e.g. "pages/meeting/detail?id=12".
    link: Mapped[str | None] = mapped_column(String(255))
    payload: Mapped[dict | None] = mapped_column(JSON)
    dedupe_key: Mapped[str] = mapped_column(String(191), unique=True)
    state: Mapped[OutboxState] = mapped_column(enum_column(OutboxState),
                                               default=OutboxState.pending)
    # The external channel being tried (kept on retry) or the one that delivered; "inbox" when
    # only the in-app copy reached the person.
    channel: Mapped[str | None] = mapped_column(String(32))
    # External send attempts so far (the inbox copy does not count).
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    claimed_by: Mapped[str | None] = mapped_column(String(64))
    claimed_until: Mapped[datetime | None] = mapped_column()
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column()

    __table_args__ = (
        # The due scan: only pending rows are indexed (TOOLCHAIN.md: ~1 ms instead of ~70 ms on
        # 1M rows). SQLite and PostgreSQL both support partial indexes.
        Index("ix_outbox_due", "next_attempt_at",
              postgresql_where=text(PENDING), sqlite_where=text(PENDING)),
        # Expired leases of crashed dispatchers.
        Index("ix_outbox_lease", "claimed_until",
              postgresql_where=text(SENDING), sqlite_where=text(SENDING)),
    )

    @property
    def is_final(self) -> bool:
        return self.state in (OutboxState.sent, OutboxState.failed, OutboxState.unknown)


class DeliveryAttempt(Base):
    __tablename__ = "delivery_attempts"
    id: Mapped[int] = mapped_column(primary_key=True)
    outbox_id: Mapped[int] = mapped_column(ForeignKey("outbox.id", ondelete="CASCADE"),
                                           index=True)
    channel: Mapped[str] = mapped_column(String(32))
    attempted_at: Mapped[datetime] = mapped_column(default=utcnow)
    outcome: Mapped[AttemptOutcome] = mapped_column(enum_column(AttemptOutcome))
    errcode: Mapped[int | None] = mapped_column(Integer)
    # WeChat's answer or our note (never personal data; truncated).
    response: Mapped[str | None] = mapped_column(Text)
    duration_ms: Mapped[int | None] = mapped_column(Integer)
    worker: Mapped[str | None] = mapped_column(String(64))

    __table_args__ = (
        Index("ix_delivery_attempts_in_flight", "outbox_id",
              postgresql_where=text("outcome = 'in_flight'"),
              sqlite_where=text("outcome = 'in_flight'")),
    )


class InboxItem(Base):
    __tablename__ = "inbox_items"
    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"))
    outbox_id: Mapped[int] = mapped_column(ForeignKey("outbox.id", ondelete="CASCADE"),
                                           unique=True)
    kind: Mapped[str] = mapped_column(String(32))
    title: Mapped[str] = mapped_column(String(128))
    body: Mapped[str] = mapped_column(Text)
    link: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    read_at: Mapped[datetime | None] = mapped_column()

    __table_args__ = (
        # Keyset pagination (person_id, id DESC) and the unread count.
        Index("ix_inbox_items_person", "person_id", "id"),
        Index("ix_inbox_items_unread", "person_id",
              postgresql_where=text("read_at IS NULL"), sqlite_where=text("read_at IS NULL")),
    )

    @property
    def is_read(self) -> bool:
        return self.read_at is not None


class SubscriptionCredit(Base):
    """Mini-program subscribe-message credits of one person for one template.

    Each "accept" from ``wx.requestSubscribeMessage`` on a one-time template allows one message
    (WECHAT.md); the mini-program reports the results and ``credits`` counts what is left. A
    long-term template (public-service categories, a per-template setting) needs no credit:
    ``long_term`` marks that the person accepted it at least once and did not refuse later.
    """

    __tablename__ = "subscription_credits"
    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"))
    template_id: Mapped[str] = mapped_column(String(64))
    credits: Mapped[int] = mapped_column(Integer, default=0)
    long_term: Mapped[bool] = mapped_column(Boolean, default=False)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    __table_args__ = (UniqueConstraint("person_id", "template_id"),)


class ChannelPause(Base):
    """A channel stopped by the dispatcher (45009: the app's daily quota is used up) until
    ``paused_until``; rows meanwhile fall through to the next channel. Staff are alerted once
    per pause."""

    __tablename__ = "channel_pauses"
    channel: Mapped[str] = mapped_column(String(32), primary_key=True)
    paused_until: Mapped[datetime] = mapped_column()
    reason: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
