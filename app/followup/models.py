"""Follow-through of an opinion list (D19–D24): a decision on every item by the body that
received it, handling of adopted items by departments with a due date in Chinese working days,
and supervision of key items by members.

One `ItemTrack` per opinion item is created when the list is routed: it is the item's state
and the row every change to the item locks first (one decision wins, a replay is no error).
"""
from __future__ import annotations

import enum
from datetime import date, datetime

from sqlalchemy import (
    Boolean, Date, ForeignKey, Index, Integer, String, Text, UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..consultations.rules import OpinionScope
from ..db import Base, utcnow
from ..org.models import enum_column


class Outcome(str, enum.Enum):
    """A receiving body's decision on one item (D19, D22, D23)."""

    adopted = "adopted"          # 采纳
    partly = "partly"            # 部分采纳
    not_adopted = "not_adopted"  # 不予采纳 — with an explanation for the residents (D23)
    escalated = "escalated"      # 通过政协渠道向上级反映 (D22): the next level decides


OUTCOME_LABELS = {Outcome.adopted: "采纳", Outcome.partly: "部分采纳",
                  Outcome.not_adopted: "不予采纳", Outcome.escalated: "向上级政协反映"}


class ItemState(str, enum.Enum):
    awaiting = "awaiting"        # 待研究：no decision yet at `current_scope`
    not_adopted = "not_adopted"  # settled: not adopted, explained (D23)
    assigning = "assigning"      # adopted / partly adopted, no department yet
    handling = "handling"        # a lead department handles it (D20)
    done = "done"                # 已办结: the lead department completed it (D21)


ITEM_STATE_LABELS = {ItemState.awaiting: "待研究", ItemState.not_adopted: "不予采纳",
                     ItemState.assigning: "待交办", ItemState.handling: "办理中",
                     ItemState.done: "已办结"}

# An item is settled when nothing more will happen to it: the feedback list waits for these.
SETTLED_STATES = frozenset({ItemState.not_adopted, ItemState.done})


class ItemTrack(Base):
    """The follow-through state of one opinion item (1:1 with opinion_items)."""

    __tablename__ = "item_tracks"
    id: Mapped[int] = mapped_column(primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("opinion_items.id"), unique=True)
    list_id: Mapped[int] = mapped_column(ForeignKey("opinion_lists.id"), index=True)
    state: Mapped[ItemState] = mapped_column(enum_column(ItemState), default=ItemState.awaiting)
    # The level whose receiving bodies decide now: the item's scope, one level up per
    # escalation (D22).
    current_scope: Mapped[OpinionScope] = mapped_column(enum_column(OpinionScope))
    # The decision in force (the last one, at current_scope's level or the one that settled it).
    outcome: Mapped[Outcome | None] = mapped_column(enum_column(Outcome))
    decided_at: Mapped[datetime | None] = mapped_column()
    settled_at: Mapped[datetime | None] = mapped_column()
    # D24: a key or difficult item, tracked by named members.
    is_key: Mapped[bool] = mapped_column(Boolean, default=False)
    key_reason: Mapped[str | None] = mapped_column(String(200))
    flagged_by_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    flagged_at: Mapped[datetime | None] = mapped_column()
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class ItemDecision(Base):
    """One body's decision on one item at one level; an escalated item gets another at the next
    level. UNIQUE (item, scope): one decision per item per level, whatever races."""

    __tablename__ = "item_decisions"
    id: Mapped[int] = mapped_column(primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("opinion_items.id"), index=True)
    scope: Mapped[OpinionScope] = mapped_column(enum_column(OpinionScope))
    body_id: Mapped[int] = mapped_column(ForeignKey("bodies.id"), index=True)
    outcome: Mapped[Outcome] = mapped_column(enum_column(Outcome))
    # D23: the explanation residents read (required for not adopted and partly adopted).
    explanation: Mapped[str | None] = mapped_column(Text)
    decided_by_id: Mapped[int] = mapped_column(ForeignKey("people.id"))
    decided_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (UniqueConstraint("item_id", "scope"),)


class TaskState(str, enum.Enum):
    assigned = "assigned"    # 已交办: waiting for the lead department to accept
    accepted = "accepted"    # 已签收
    planned = "planned"      # 已制定工作方案 (D20), progress may be posted
    completed = "completed"  # 已办结 with a result text (D21)


TASK_STATE_LABELS = {TaskState.assigned: "已交办", TaskState.accepted: "已签收",
                     TaskState.planned: "办理中", TaskState.completed: "已办结"}


class HandlingTask(Base):
    """D20: an adopted (or partly adopted) item handed to one lead department, with optional
    co-handlers, due on a date counted in Chinese working days (app/workdays.py)."""

    __tablename__ = "handling_tasks"
    id: Mapped[int] = mapped_column(primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("opinion_items.id"), unique=True)
    lead_body_id: Mapped[int] = mapped_column(ForeignKey("bodies.id"), index=True)
    # The body whose decision adopted the item: it approves extensions.
    assigning_body_id: Mapped[int] = mapped_column(ForeignKey("bodies.id"))
    assigned_by_id: Mapped[int] = mapped_column(ForeignKey("people.id"))
    assigned_at: Mapped[datetime] = mapped_column(default=utcnow)
    assigned_on: Mapped[date] = mapped_column(Date)  # China local date the count starts from
    workdays: Mapped[int] = mapped_column(Integer)
    due_on: Mapped[date] = mapped_column(Date, index=True)
    # The due date was counted with weekdays only (no published holiday data for that year).
    due_estimated: Mapped[bool] = mapped_column(Boolean, default=False)
    original_due_on: Mapped[date] = mapped_column(Date)
    state: Mapped[TaskState] = mapped_column(enum_column(TaskState), default=TaskState.assigned)
    accepted_at: Mapped[datetime | None] = mapped_column()
    plan_text: Mapped[str | None] = mapped_column(Text)
    planned_at: Mapped[datetime | None] = mapped_column()
    percent: Mapped[int] = mapped_column(Integer, default=0)
    result_text: Mapped[str | None] = mapped_column(Text)
    completed_at: Mapped[datetime | None] = mapped_column()
    completed_on: Mapped[date | None] = mapped_column(Date)

    co_handlers: Mapped[list["TaskCoHandler"]] = relationship(order_by="TaskCoHandler.id")


class TaskCoHandler(Base):
    __tablename__ = "task_co_handlers"
    id: Mapped[int] = mapped_column(primary_key=True)
    task_id: Mapped[int] = mapped_column(ForeignKey("handling_tasks.id"))
    body_id: Mapped[int] = mapped_column(ForeignKey("bodies.id"), index=True)
    __table_args__ = (UniqueConstraint("task_id", "body_id"),)


class TaskEventKind(str, enum.Enum):
    assigned = "assigned"
    accepted = "accepted"
    planned = "planned"
    progress = "progress"
    completed = "completed"
    extension_requested = "extension_requested"
    extension_approved = "extension_approved"
    extension_refused = "extension_refused"


TASK_EVENT_LABELS = {
    TaskEventKind.assigned: "交办", TaskEventKind.accepted: "签收",
    TaskEventKind.planned: "制定工作方案", TaskEventKind.progress: "办理进展",
    TaskEventKind.completed: "办结", TaskEventKind.extension_requested: "申请延期",
    TaskEventKind.extension_approved: "同意延期", TaskEventKind.extension_refused: "不同意延期",
}


class TaskEvent(Base):
    """Every step of a task, in order: the handling part of the public trail (D19)."""

    __tablename__ = "task_events"
    id: Mapped[int] = mapped_column(primary_key=True)
    task_id: Mapped[int] = mapped_column(ForeignKey("handling_tasks.id"))
    kind: Mapped[TaskEventKind] = mapped_column(enum_column(TaskEventKind))
    body_id: Mapped[int | None] = mapped_column(ForeignKey("bodies.id"))  # acting department
    actor_id: Mapped[int] = mapped_column(ForeignKey("people.id"))
    percent: Mapped[int | None] = mapped_column(Integer)
    text: Mapped[str | None] = mapped_column(Text)
    due_on: Mapped[date | None] = mapped_column(Date)  # requested / granted due date
    at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (Index("ix_task_events_task", "task_id", "id"),)


class ExtensionState(str, enum.Enum):
    pending = "pending"
    approved = "approved"
    refused = "refused"


class ExtensionRequest(Base):
    """A department asks for a later due date; the assigning body approves or refuses."""

    __tablename__ = "extension_requests"
    id: Mapped[int] = mapped_column(primary_key=True)
    task_id: Mapped[int] = mapped_column(ForeignKey("handling_tasks.id"), index=True)
    requested_due_on: Mapped[date] = mapped_column(Date)
    reason: Mapped[str] = mapped_column(String(500))
    requested_by_id: Mapped[int] = mapped_column(ForeignKey("people.id"))
    requested_at: Mapped[datetime] = mapped_column(default=utcnow)
    state: Mapped[ExtensionState] = mapped_column(enum_column(ExtensionState),
                                                  default=ExtensionState.pending)
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    decided_at: Mapped[datetime | None] = mapped_column()
    note: Mapped[str | None] = mapped_column(String(500))


class ItemSupervisor(Base):
    """D24: a member named by CPPCC staff to track a key item."""

    __tablename__ = "item_supervisors"
    id: Mapped[int] = mapped_column(primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("opinion_items.id"))
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"), index=True)
    named_by_id: Mapped[int] = mapped_column(ForeignKey("people.id"))
    named_at: Mapped[datetime] = mapped_column(default=utcnow)
    __table_args__ = (UniqueConstraint("item_id", "person_id"),)


class SupervisionNote(Base):
    """D24: what a supervising member saw (inspection, democratic supervision)."""

    __tablename__ = "supervision_notes"
    id: Mapped[int] = mapped_column(primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("opinion_items.id"), index=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"))
    text: Mapped[str] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(default=utcnow)
