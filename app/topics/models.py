"""Topics and their approval chain (D6–D8)."""
from __future__ import annotations

import enum
from datetime import date, datetime

from sqlalchemy import Date, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..db import Base, TimestampMixin
from ..org.models import enum_column


class Category(str, enum.Enum):
    """D6."""

    major = "major"            # 要事
    livelihood = "livelihood"  # 实事
    difficulty = "difficulty"  # 难事


CATEGORY_LABELS = {Category.major: "要事", Category.livelihood: "实事",
                   Category.difficulty: "难事"}


class Source(str, enum.Enum):
    """D7: where a topic (or suggestion) comes from."""

    proposed = "proposed"        # 出题：群众提出
    recommended = "recommended"  # 荐题：委员推荐
    assigned = "assigned"        # 点题：党委政府交办
    solicited = "solicited"      # 公开征集


SOURCE_LABELS = {Source.proposed: "群众出题", Source.recommended: "委员荐题",
                 Source.assigned: "党委政府点题", Source.solicited: "公开征集"}


class TopicState(str, enum.Enum):
    draft = "draft"              # the convenor is preparing it
    in_approval = "in_approval"  # D8 chain under way
    returned = "returned"        # sent back with a reason; the convenor revises and resubmits
    approved = "approved"        # the whole chain passed (approved and, where required, filed)
    withdrawn = "withdrawn"      # the convenor gave it up


TOPIC_STATE_LABELS = {
    TopicState.draft: "草拟中", TopicState.in_approval: "审核中", TopicState.returned: "已退回修改",
    TopicState.approved: "已审定", TopicState.withdrawn: "已撤回",
}


class Topic(TimestampMixin, Base):
    __tablename__ = "topics"
    id: Mapped[int] = mapped_column(primary_key=True)
    platform_id: Mapped[int] = mapped_column(ForeignKey("platforms.id"), index=True)
    title: Mapped[str] = mapped_column(String(60))
    description: Mapped[str] = mapped_column(Text)
    category: Mapped[Category] = mapped_column(enum_column(Category))
    source: Mapped[Source] = mapped_column(enum_column(Source))
    state: Mapped[TopicState] = mapped_column(enum_column(TopicState), default=TopicState.draft)
    created_by_id: Mapped[int] = mapped_column(ForeignKey("people.id"))
    # Each submission is a new round of the chain; earlier rounds stay as history.
    approval_round: Mapped[int] = mapped_column(Integer, default=0)
    approved_at: Mapped[datetime | None] = mapped_column()

    steps: Mapped[list["ApprovalStep"]] = relationship(
        back_populates="topic", order_by="(ApprovalStep.round, ApprovalStep.seq)"
    )


class StepKind(str, enum.Enum):
    """D8 step kinds."""

    vet = "vet"                # 把关：村（社区）、企业党组织
    approve = "approve"        # 审定：乡镇（街道、园区）党（工）委 / 政协党组
    file = "file"              # 备案：县区政协
    pre_review = "pre_review"  # 初审：政协专委会会同有关部门


STEP_KIND_LABELS = {StepKind.vet: "把关", StepKind.approve: "审定", StepKind.file: "备案",
                    StepKind.pre_review: "初审"}


class StepState(str, enum.Enum):
    waiting = "waiting"    # an earlier step is not done yet
    pending = "pending"    # the body's reviewer may act now
    approved = "approved"
    returned = "returned"
    cancelled = "cancelled"  # a later step of a round that was returned


STEP_STATE_LABELS = {StepState.waiting: "待前序环节", StepState.pending: "待审核",
                     StepState.approved: "已通过", StepState.returned: "已退回",
                     StepState.cancelled: "已取消"}


class ApprovalStep(Base):
    """One step of one round of a topic's D8 chain, acted on by a reviewer of `body_id`."""

    __tablename__ = "approval_steps"
    id: Mapped[int] = mapped_column(primary_key=True)
    topic_id: Mapped[int] = mapped_column(ForeignKey("topics.id", ondelete="CASCADE"), index=True)
    round: Mapped[int] = mapped_column(Integer)
    seq: Mapped[int] = mapped_column(Integer)
    kind: Mapped[StepKind] = mapped_column(enum_column(StepKind))
    body_id: Mapped[int] = mapped_column(ForeignKey("bodies.id"), index=True)
    state: Mapped[StepState] = mapped_column(enum_column(StepState))
    # Time limit in Chinese working days, from when the step became pending (reminders use it).
    due_on: Mapped[date | None] = mapped_column(Date)
    became_pending_at: Mapped[datetime | None] = mapped_column()
    acted_by_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    acted_at: Mapped[datetime | None] = mapped_column()
    note: Mapped[str | None] = mapped_column(Text)
    __table_args__ = (UniqueConstraint("topic_id", "round", "seq"),)

    topic: Mapped[Topic] = relationship(back_populates="steps")
