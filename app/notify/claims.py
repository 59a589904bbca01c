"""Who sends which outbox row: claims and leases (used by the dispatcher, app/notify/dispatcher.py).

- On PostgreSQL due rows are picked with ``SELECT … FOR NO KEY UPDATE SKIP LOCKED`` and marked
  ``sending`` with a lease (claimed_by / claimed_until); on SQLite one process at a time holds the
  write lock and a conditional UPDATE re-checks that each row is still claimable.
- A crashed dispatcher's rows are claimed again once their lease has expired; a row claimed again
  with an ``in_flight`` attempt (its dispatcher died mid-send) is settled as ``unknown`` and never
  sent again.

Nothing here commits.
"""
from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import and_, literal_column, or_, select, update
from sqlalchemy.orm import Session

from ..audit.services import record
from .models import AttemptOutcome, DeliveryAttempt, OutboxMessage, OutboxState

CRASHED_MID_SEND = "调度进程在发送途中中断，无法确认是否已送达，不会自动重发"


def pending_due(now: datetime):
    t = OutboxMessage
    # Literal state so the partial index ix_outbox_due applies even to generic plans.
    return and_(t.state == literal_column("'pending'"), t.next_attempt_at <= now)


def lease_expired(now: datetime):
    t = OutboxMessage
    return and_(t.state == literal_column("'sending'"), t.claimed_until < now)


def settle_in_flight(session: Session, rows: list[OutboxMessage], note: str) -> set[int]:
    """Rows with a send that may have gone out (an in_flight marker) are settled as unknown;
    returns their ids (one query for all rows)."""
    if not rows:
        return set()
    markers = session.scalars(select(DeliveryAttempt).where(
        DeliveryAttempt.outbox_id.in_([row.id for row in rows]),
        DeliveryAttempt.outcome == AttemptOutcome.in_flight)).all()
    for attempt in markers:
        attempt.outcome = AttemptOutcome.unknown
        attempt.response = note
    settled = {attempt.outbox_id for attempt in markers}
    for row in rows:
        if row.id not in settled:
            continue
        before = {"state": row.state.value, "channel": row.channel}
        row.state = OutboxState.unknown
        row.last_error = note
        row.claimed_by = row.claimed_until = None
        record(session, actor_id=None, action="notice.unknown", object_type="outbox",
               object_id=row.id, before=before,
               after={"state": row.state.value, "channel": row.channel, "reason": note})
    return settled


def claim_due(session: Session, *, token: str, batch_size: int, now: datetime,
              lease_seconds: float) -> tuple[list[int], list[int]]:
    """Claim up to ``batch_size`` due rows for ``token`` (does not commit).

    Returns (ids to send, ids settled as unknown because their previous dispatcher died mid-send).
    """
    send, unknown = claim_rows(session, token=token, batch_size=batch_size, now=now,
                           lease_seconds=lease_seconds)
    return [row.id for row in send], unknown


def claim_rows(session: Session, *, token: str, batch_size: int, now: datetime,
           lease_seconds: float) -> tuple[list[OutboxMessage], list[int]]:
    """claim_due, returning the rows to send themselves."""
    t = OutboxMessage
    until = now + timedelta(seconds=lease_seconds)
    pg = session.get_bind().dialect.name == "postgresql"

    def pick(cond, order, limit):
        stmt = select(t.id).where(cond).order_by(order).limit(limit)
        if pg:
            stmt = stmt.with_for_update(skip_locked=True, key_share=True)
        return list(session.scalars(stmt))

    ids = pick(lease_expired(now), t.claimed_until, batch_size)
    if len(ids) < batch_size:
        ids += pick(pending_due(now), t.next_attempt_at, batch_size - len(ids))
    if not ids:
        return [], []
    claim = update(t).where(t.id.in_(ids)).values(
        state=OutboxState.sending, claimed_by=token, claimed_until=until)
    if not pg:
        # SQLite: re-check in the UPDATE itself (atomic under the database write lock).
        claim = claim.where(or_(pending_due(now), lease_expired(now)))
    session.execute(claim.execution_options(synchronize_session=False))
    rows = session.scalars(select(t).where(t.id.in_(ids), t.claimed_by == token)
                           .order_by(t.id).execution_options(populate_existing=True)).all()
    unknown = settle_in_flight(session, list(rows), CRASHED_MID_SEND)
    return ([row for row in rows if row.id not in unknown],
            [row.id for row in rows if row.id in unknown])
