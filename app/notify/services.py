"""Notification use cases: enqueue notices (in the caller's transaction), the inbox, requeue.

Callers (topic, consultation, reminder services…) write the outbox rows in the same transaction
as the change that caused them, so a notice exists if and only if the change was committed:

    enqueue_notice(session, kind="meeting_notice", recipient_id=p.id, title="会议通知",
                   body="……", link=f"pages/meeting/detail?id={m.id}",
                   dedupe_key=dedupe_key("meeting_notice", f"meeting:{m.id}", p.id))

None of these functions commit.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Iterable, Sequence

from sqlalchemy import String, func, literal, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ..audit.services import record
from ..db import utcnow
from ..errors import Conflict, NotFound
from .models import NOTICE_KINDS, InboxItem, OutboxMessage, OutboxState

TITLE_MAX = 128
LINK_MAX = 255
DEDUPE_MAX = 191


@dataclass(frozen=True)
class Notice:
    """One notice for one recipient (the input of enqueue_many)."""

    kind: str
    recipient_id: int
    title: str
    body: str
    dedupe_key: str
    link: str | None = None
    payload: dict | None = None
    not_before: datetime | None = None
    extra: dict = field(default_factory=dict, compare=False)


def dedupe_key(kind: str, subject: str, recipient_id: int, *parts: Any) -> str:
    """The natural key of a notice: kind + subject (+ e.g. a due date) + recipient.

    Over-long keys are shortened with a hash so they always fit the column.
    """
    key = ":".join([kind, subject, *(str(p) for p in parts), f"p{recipient_id}"])
    if len(key) <= DEDUPE_MAX:
        return key
    digest = hashlib.sha256(key.encode()).hexdigest()
    return f"{key[:DEDUPE_MAX - 65]}#{digest}"


def _check(notice: Notice, now: datetime) -> dict:
    # Programming errors, not user input: a plain ValueError.
    if notice.kind not in NOTICE_KINDS:
        raise ValueError(f"unknown notice kind {notice.kind!r}; add it to NOTICE_KINDS")
    if not notice.title or len(notice.title) > TITLE_MAX:
        raise ValueError(f"title must be 1..{TITLE_MAX} characters")
    if not notice.body:
        raise ValueError("body must not be empty")
    if notice.link is not None and len(notice.link) > LINK_MAX:
        raise ValueError(f"link longer than {LINK_MAX} characters")
    if not notice.dedupe_key or len(notice.dedupe_key) > DEDUPE_MAX:
        raise ValueError(f"dedupe_key must be 1..{DEDUPE_MAX} characters")
    if notice.not_before is not None and notice.not_before.tzinfo is None:
        raise ValueError("not_before must be timezone-aware (UTC)")
    due = now if notice.not_before is None else max(now, notice.not_before)
    return {
        "kind": notice.kind, "recipient_id": notice.recipient_id, "title": notice.title,
        "body": notice.body, "link": notice.link, "payload": notice.payload,
        "dedupe_key": notice.dedupe_key, "state": OutboxState.pending, "attempts": 0,
        "next_attempt_at": due, "created_at": now,
    }


def _insert_ignoring_duplicates(session: Session, values: list[dict]) -> None:
    """INSERT … ON CONFLICT (dedupe_key) DO NOTHING.

    PostgreSQL: a concurrent uncommitted insert of the same key makes this statement wait; once
    the other transaction commits, ours does nothing and the row is read back below (READ
    COMMITTED sees it). No exception ever reaches the caller's transaction.
    """
    dialect = session.get_bind().dialect.name
    table = OutboxMessage.__table__
    if dialect == "postgresql":
        stmt = postgresql.insert(table).on_conflict_do_nothing(index_elements=["dedupe_key"])
    elif dialect == "sqlite":
        stmt = sqlite.insert(table).on_conflict_do_nothing(index_elements=["dedupe_key"])
    else:  # portable fallback: a savepoint per row
        for row in values:
            try:
                with session.begin_nested():
                    session.execute(table.insert().values(**row))
            except IntegrityError:
                pass
        return
    session.execute(stmt, values)


def enqueue_many(session: Session, notices: Iterable[Notice]) -> list[OutboxMessage]:
    """Write outbox rows for many notices; idempotent per dedupe_key.

    Returns one row per distinct dedupe_key, in input order: the new row, or the one that was
    already there (never a second one). Written in the caller's transaction; never commits.
    """
    now = utcnow()
    ordered: dict[str, dict] = {}
    for notice in notices:
        ordered.setdefault(notice.dedupe_key, _check(notice, now))
    if not ordered:
        return []
    keys = list(ordered)
    session.flush()
    existing = set(session.scalars(
        select(OutboxMessage.dedupe_key).where(OutboxMessage.dedupe_key.in_(keys))))
    fresh = [ordered[k] for k in keys if k not in existing]
    if fresh:
        _insert_ignoring_duplicates(session, fresh)
    rows = session.scalars(
        select(OutboxMessage).where(OutboxMessage.dedupe_key.in_(keys))
        .execution_options(populate_existing=True)).all()
    by_key = {r.dedupe_key: r for r in rows}
    return [by_key[k] for k in keys]


def enqueue_notice(session: Session, *, kind: str, recipient_id: int, title: str, body: str,
                   dedupe_key: str, link: str | None = None, payload: dict | None = None,
                   not_before: datetime | None = None) -> OutboxMessage:
    """Write one outbox row (idempotent on dedupe_key: returns the existing row if any)."""
    return enqueue_many(session, [Notice(
        kind=kind, recipient_id=recipient_id, title=title, body=body, dedupe_key=dedupe_key,
        link=link, payload=payload, not_before=not_before)])[0]


def fan_out(session: Session, *, kind: str, subject: str, recipient_ids: Sequence[int],
            title: str, body: str, link: str | None = None, payload: dict | None = None,
            not_before: datetime | None = None) -> list[OutboxMessage]:
    """The same notice to many people; dedupe_key = kind + subject + recipient."""
    return enqueue_many(session, [
        Notice(kind=kind, recipient_id=rid, title=title, body=body, link=link, payload=payload,
               not_before=not_before, dedupe_key=dedupe_key(kind, subject, rid))
        for rid in dict.fromkeys(recipient_ids)
    ])


def staff_ids(session: Session, *, over: str | None = None) -> list[int]:
    """Everyone holding an active CPPCC staff role (政协工作人员); with ``over`` (a region path),
    only those whose staff region is that region or one above it (whose reach covers it)."""
    from ..org.models import Person, Region, Role, RoleAssignment

    query = (select(RoleAssignment.person_id).join(Person, Person.id == RoleAssignment.person_id)
             .where(RoleAssignment.role == Role.staff, RoleAssignment.is_active, Person.is_active))
    if over is not None:
        query = query.join(Region, Region.id == RoleAssignment.region_id).where(
            literal(over, String).startswith(Region.path))
    return list(session.scalars(query.distinct().order_by(RoleAssignment.person_id)))


def alert_staff(session: Session, *, subject: str, title: str, body: str,
                link: str | None = None, over: str | None = None) -> list[OutboxMessage]:
    """A ``staff_alert`` to every staff member (the WeCom robot turns them into one group
    message); once per ``subject``. With ``over`` (a region path): the staff whose reach covers
    that region, or every staff member when none does (an alert never goes to nobody)."""
    recipients = (staff_ids(session, over=over) if over is not None else []) or staff_ids(session)
    return fan_out(session, kind="staff_alert", subject=subject, recipient_ids=recipients,
                   title=title, body=body, link=link)


# --- staff: settle what the dispatcher could not ------------------------------------------------

def requeue_notice(session: Session, outbox_id: int, *, actor_id: int | None,
                   reason: str) -> OutboxMessage:
    """Put a failed or unknown-outcome notice back in the queue (a deliberate staff decision:
    an `unknown` one may reach the person twice)."""
    row = session.get(OutboxMessage, outbox_id, with_for_update=True)
    if row is None:
        raise NotFound("通知不存在", code="notice_not_found")
    if row.state not in (OutboxState.failed, OutboxState.unknown):
        raise Conflict("只有发送失败或结果未知的通知可以重新发送", code="notice_not_requeueable")
    before = {"state": row.state.value, "attempts": row.attempts, "last_error": row.last_error}
    row.state = OutboxState.pending
    row.attempts = 0
    row.channel = None
    row.next_attempt_at = utcnow()
    row.claimed_by = row.claimed_until = None
    record(session, actor_id=actor_id, action="notice.requeue", object_type="outbox",
           object_id=row.id, before=before, after={"state": row.state.value, "reason": reason})
    return row


# --- the inbox ------------------------------------------------------------------------------------

def list_inbox(session: Session, person_id: int, *, before_id: int | None = None,
               limit: int = 20, unread_only: bool = False) -> tuple[list[InboxItem], int | None]:
    """Newest first, keyset-paginated by id. Returns the items and the next `before_id`."""
    stmt = select(InboxItem).where(InboxItem.person_id == person_id)
    if before_id is not None:
        stmt = stmt.where(InboxItem.id < before_id)
    if unread_only:
        stmt = stmt.where(InboxItem.read_at.is_(None))
    items = list(session.scalars(stmt.order_by(InboxItem.id.desc()).limit(limit + 1)))
    more = len(items) > limit
    items = items[:limit]
    return items, (items[-1].id if more else None)


def unread_count(session: Session, person_id: int) -> int:
    return session.scalar(select(func.count()).select_from(InboxItem).where(
        InboxItem.person_id == person_id, InboxItem.read_at.is_(None))) or 0


def get_inbox_item_or_404(session: Session, person_id: int, item_id: int) -> InboxItem:
    """Only the person's own items: another person's item is "not found" (no IDOR)."""
    item = session.scalar(select(InboxItem).where(
        InboxItem.id == item_id, InboxItem.person_id == person_id))
    if item is None:
        raise NotFound("该消息不存在", code="inbox_item_not_found")
    return item


def mark_read(session: Session, person_id: int, item_id: int) -> InboxItem:
    """Idempotent: the first read time is kept."""
    item = get_inbox_item_or_404(session, person_id, item_id)
    if item.read_at is None:
        # Conditional update: two concurrent reads keep the first timestamp.
        session.execute(update(InboxItem).where(
            InboxItem.id == item.id, InboxItem.read_at.is_(None)).values(read_at=utcnow()))
        session.refresh(item)
    return item
