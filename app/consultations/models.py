"""Research (D11–D13), the consultation meeting with invitations, RSVPs, attendance and minutes
(D9, D10, D14–D16), the opinion list and its routing (D17, D18)."""
from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import (
    JSON, Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..db import Base, TimestampMixin
from ..org.models import enum_column
from .rules import InviteGroup, OpinionScope, RouteAction


# --- research --------------------------------------------------------------------------------------

class ResearchKind(str, enum.Enum):
    """D11: what the convenor organises participants to find out."""

    policy = "policy"              # 相关政策
    facts = "facts"                # 实际情况
    stakeholders = "stakeholders"  # 利益相关方的意愿诉求
    site_visit = "site_visit"      # 实地察看


RESEARCH_KIND_LABELS = {ResearchKind.policy: "政策研究", ResearchKind.facts: "摸清实情",
                        ResearchKind.stakeholders: "听取利益相关方意见",
                        ResearchKind.site_visit: "实地察看"}


class ResearchState(str, enum.Enum):
    open = "open"
    completed = "completed"


class ResearchLink(str, enum.Enum):
    """D13: research may be combined with other CPPCC work."""

    inspection = "inspection"                      # 政协视察
    special_consultation = "special_consultation"  # 专题协商
    proposal = "proposal"                          # 提案办理


RESEARCH_LINK_LABELS = {ResearchLink.inspection: "政协视察",
                        ResearchLink.special_consultation: "专题协商",
                        ResearchLink.proposal: "提案办理"}


class ResearchTask(TimestampMixin, Base):
    __tablename__ = "research_tasks"
    id: Mapped[int] = mapped_column(primary_key=True)
    topic_id: Mapped[int] = mapped_column(ForeignKey("topics.id"), index=True)
    kind: Mapped[ResearchKind] = mapped_column(enum_column(ResearchKind))
    title: Mapped[str] = mapped_column(String(100))
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"), index=True)
    created_by_id: Mapped[int] = mapped_column(ForeignKey("people.id"))
    state: Mapped[ResearchState] = mapped_column(enum_column(ResearchState),
                                                 default=ResearchState.open)
    notes: Mapped[str] = mapped_column(Text, default="")
    # D12: a finding the approving Party committee must hear about at once.
    is_sensitive: Mapped[bool] = mapped_column(Boolean, default=False)
    is_long_standing: Mapped[bool] = mapped_column(Boolean, default=False)
    escalated_at: Mapped[datetime | None] = mapped_column()
    # D13: the CPPCC inspection, special consultation or proposal this research is part of.
    link_kind: Mapped[ResearchLink | None] = mapped_column(enum_column(ResearchLink))
    link_ref: Mapped[str | None] = mapped_column(String(64))
    completed_at: Mapped[datetime | None] = mapped_column()
    completed_by_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))


# --- the meeting -----------------------------------------------------------------------------------

class ConsultationState(str, enum.Enum):
    scheduled = "scheduled"  # invitations out, answers coming in
    held = "held"            # the meeting took place (check-in, minutes)
    concluded = "concluded"  # the opinion list is routed
    cancelled = "cancelled"


CONSULTATION_STATE_LABELS = {
    ConsultationState.scheduled: "已安排", ConsultationState.held: "已召开",
    ConsultationState.concluded: "已形成意见清单", ConsultationState.cancelled: "已取消",
}


class PlaceKind(str, enum.Enum):
    venue = "venue"    # the platform's own room (D3 场所)
    mobile = "mobile"  # 移动协商：on site elsewhere
    online = "online"  # 网上协商


PLACE_KIND_LABELS = {PlaceKind.venue: "议事室", PlaceKind.mobile: "现场（移动协商）",
                     PlaceKind.online: "网上"}


class Consultation(TimestampMixin, Base):
    __tablename__ = "consultations"
    id: Mapped[int] = mapped_column(primary_key=True)
    topic_id: Mapped[int] = mapped_column(ForeignKey("topics.id"), index=True)
    platform_id: Mapped[int] = mapped_column(ForeignKey("platforms.id"), index=True)
    state: Mapped[ConsultationState] = mapped_column(enum_column(ConsultationState),
                                                     default=ConsultationState.scheduled)
    starts_at: Mapped[datetime] = mapped_column(index=True)
    ends_at: Mapped[datetime] = mapped_column()
    place_kind: Mapped[PlaceKind] = mapped_column(enum_column(PlaceKind))
    place: Mapped[str] = mapped_column(String(200))
    online_url: Mapped[str | None] = mapped_column(String(300))
    agenda: Mapped[list] = mapped_column(JSON, default=list)
    capacity: Mapped[int | None] = mapped_column(Integer)
    briefing_days_before: Mapped[int] = mapped_column(Integer, default=3)
    # Each change the invitees are told about bumps it (notices carry it: one per version).
    version: Mapped[int] = mapped_column(Integer, default=1)
    notice_sent_at: Mapped[datetime | None] = mapped_column()
    briefing_sent_at: Mapped[datetime | None] = mapped_column()
    list_locked_at: Mapped[datetime | None] = mapped_column()
    list_locked_by_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    held_at: Mapped[datetime | None] = mapped_column()
    cancelled_reason: Mapped[str | None] = mapped_column(String(200))
    created_by_id: Mapped[int] = mapped_column(ForeignKey("people.id"))

    invitations: Mapped[list["Invitation"]] = relationship(
        back_populates="consultation", order_by="Invitation.id")


class Answer(str, enum.Enum):
    pending = "pending"
    accepted = "accepted"
    declined = "declined"
    substitute = "substitute"  # officials and departments send someone in their place


ANSWER_LABELS = {Answer.pending: "未答复", Answer.accepted: "参加", Answer.declined: "请假",
                 Answer.substitute: "委派他人参加"}


class Invitation(Base):
    """One per person per consultation; the RSVP is its answer (one answer, changeable until
    the convenor locks the list)."""

    __tablename__ = "invitations"
    id: Mapped[int] = mapped_column(primary_key=True)
    consultation_id: Mapped[int] = mapped_column(ForeignKey("consultations.id"))
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"), index=True)
    group: Mapped[InviteGroup] = mapped_column(enum_column(InviteGroup))
    answer: Mapped[Answer] = mapped_column(enum_column(Answer), default=Answer.pending)
    reason: Mapped[str | None] = mapped_column(String(200))
    substitute_name: Mapped[str | None] = mapped_column(String(40))
    substitute_title: Mapped[str | None] = mapped_column(String(60))
    answered_at: Mapped[datetime | None] = mapped_column()
    invited_at: Mapped[datetime] = mapped_column()
    invited_by_id: Mapped[int] = mapped_column(ForeignKey("people.id"))

    consultation: Mapped[Consultation] = relationship(back_populates="invitations")

    __table_args__ = (UniqueConstraint("consultation_id", "person_id"),)


class CheckInMethod(str, enum.Enum):
    qr = "qr"              # scanned the meeting's code in the mini-program
    convenor = "convenor"  # marked present by the convenor
    walk_in = "walk_in"    # a resident who came without an invitation


class Attendance(Base):
    __tablename__ = "attendances"
    id: Mapped[int] = mapped_column(primary_key=True)
    consultation_id: Mapped[int] = mapped_column(ForeignKey("consultations.id"), index=True)
    # None for a walk-in who is not a registered person, or a substitute by name.
    person_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"), index=True)
    invitation_id: Mapped[int | None] = mapped_column(ForeignKey("invitations.id"))
    name: Mapped[str] = mapped_column(String(40))
    group: Mapped[InviteGroup] = mapped_column(enum_column(InviteGroup))
    method: Mapped[CheckInMethod] = mapped_column(enum_column(CheckInMethod))
    checked_in_at: Mapped[datetime] = mapped_column()
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))

    __table_args__ = (UniqueConstraint("consultation_id", "person_id"),)


class MinutesEntry(Base):
    """One speech in the minutes (D16: residents speak first and most — the group is kept)."""

    __tablename__ = "minutes_entries"
    id: Mapped[int] = mapped_column(primary_key=True)
    consultation_id: Mapped[int] = mapped_column(ForeignKey("consultations.id"))
    seq: Mapped[int] = mapped_column(Integer)
    speaker_person_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    speaker_name: Mapped[str] = mapped_column(String(40))
    group: Mapped[InviteGroup] = mapped_column(enum_column(InviteGroup))
    text: Mapped[str] = mapped_column(Text)
    recorded_by_id: Mapped[int] = mapped_column(ForeignKey("people.id"))
    created_at: Mapped[datetime] = mapped_column()

    __table_args__ = (UniqueConstraint("consultation_id", "seq"),)


# --- the opinion list (D17) and its routing (D18) --------------------------------------------------

class OpinionListState(str, enum.Enum):
    draft = "draft"
    routed = "routed"


class OpinionList(TimestampMixin, Base):
    __tablename__ = "opinion_lists"
    id: Mapped[int] = mapped_column(primary_key=True)
    consultation_id: Mapped[int] = mapped_column(ForeignKey("consultations.id"), unique=True)
    state: Mapped[OpinionListState] = mapped_column(enum_column(OpinionListState),
                                                    default=OpinionListState.draft)
    routed_at: Mapped[datetime | None] = mapped_column()
    created_by_id: Mapped[int] = mapped_column(ForeignKey("people.id"))

    items: Mapped[list["OpinionItem"]] = relationship(order_by="OpinionItem.seq")


class OpinionItem(Base):
    __tablename__ = "opinion_items"
    id: Mapped[int] = mapped_column(primary_key=True)
    list_id: Mapped[int] = mapped_column(ForeignKey("opinion_lists.id"))
    seq: Mapped[int] = mapped_column(Integer)
    text: Mapped[str] = mapped_column(Text)
    raised_by: Mapped[InviteGroup] = mapped_column(enum_column(InviteGroup))
    # The person who raised it, when known (D30: a member's opinions count in their assessment).
    raised_by_person_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"), index=True)
    scope: Mapped[OpinionScope] = mapped_column(enum_column(OpinionScope))

    __table_args__ = (UniqueConstraint("list_id", "seq"),)


class RoutingState(str, enum.Enum):
    waiting = "waiting"        # a later stage: opens when the review before it forwards
    pending = "pending"        # in the body's inbox, to act on
    forwarded = "forwarded"    # a review that passed the items on
    received = "received"      # a receiving body acknowledged it
    held_back = "held_back"    # a review that kept the items (with a reason)


class OpinionRouting(Base):
    """One receiving or reviewing body's copy of (part of) a list: its inbox entry."""

    __tablename__ = "opinion_routings"
    id: Mapped[int] = mapped_column(primary_key=True)
    list_id: Mapped[int] = mapped_column(ForeignKey("opinion_lists.id"))
    scope: Mapped[OpinionScope] = mapped_column(enum_column(OpinionScope))
    stage: Mapped[int] = mapped_column(Integer)
    action: Mapped[RouteAction] = mapped_column(enum_column(RouteAction))
    body_id: Mapped[int] = mapped_column(ForeignKey("bodies.id"), index=True)
    state: Mapped[RoutingState] = mapped_column(enum_column(RoutingState))
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    decided_at: Mapped[datetime | None] = mapped_column()
    note: Mapped[str | None] = mapped_column(String(1000))

    __table_args__ = (UniqueConstraint("list_id", "scope", "body_id"),
                      Index("ix_opinion_routings_list", "list_id"))
