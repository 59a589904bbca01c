"""Evaluation of consultations (D26, D27) and model cases (典型案例, D27, D34).

D27: four kinds — party-government review, member appraisal, resident rating, organiser
analysis — each scoring outcome and process (1–5) with an optional comment, in two phases:
after the meeting and after its feedback list (D21). One evaluation per author per consultation,
phase and kind (a UNIQUE constraint): a second PUT replaces the first.
"""
from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ..db import Base, TimestampMixin, utcnow
from ..org.models import enum_column

MIN_SCORE, MAX_SCORE = 1, 5
COMMENT_MAX = 500


class Phase(str, enum.Enum):
    after_meeting = "after_meeting"    # 会后评价: the consultation is held
    after_feedback = "after_feedback"  # 反馈后评价: every item of its opinion list is settled


PHASE_LABELS = {Phase.after_meeting: "会后评价", Phase.after_feedback: "反馈后评价"}


class EvaluationKind(str, enum.Enum):
    """D27's four kinds."""

    party_government = "party_government"  # 党政点评
    member = "member"                      # 委员评议
    resident = "resident"                  # 群众评价
    organiser = "organiser"                # 组织者评析


KIND_LABELS = {EvaluationKind.party_government: "党政点评", EvaluationKind.member: "委员评议",
               EvaluationKind.resident: "群众评价", EvaluationKind.organiser: "组织者评析"}


class Evaluation(TimestampMixin, Base):
    __tablename__ = "evaluations"
    id: Mapped[int] = mapped_column(primary_key=True)
    consultation_id: Mapped[int] = mapped_column(ForeignKey("consultations.id"))
    phase: Mapped[Phase] = mapped_column(enum_column(Phase))
    kind: Mapped[EvaluationKind] = mapped_column(enum_column(EvaluationKind))
    author_id: Mapped[int] = mapped_column(ForeignKey("people.id"), index=True)
    outcome_score: Mapped[int] = mapped_column(Integer)
    process_score: Mapped[int] = mapped_column(Integer)
    comment: Mapped[str | None] = mapped_column(String(COMMENT_MAX))

    __table_args__ = (
        # D27: one per author per consultation, phase and kind; its index also serves the
        # per-consultation aggregates (consultation_id first).
        UniqueConstraint("consultation_id", "phase", "kind", "author_id"),
        CheckConstraint(f"outcome_score BETWEEN {MIN_SCORE} AND {MAX_SCORE}",
                        name="outcome_score_range"),
        CheckConstraint(f"process_score BETWEEN {MIN_SCORE} AND {MAX_SCORE}",
                        name="process_score_range"),
    )


class ModelCase(Base):
    """A consultation CPPCC staff hold up as a model (典型案例, D27 / D34), with their reason."""

    __tablename__ = "model_cases"
    id: Mapped[int] = mapped_column(primary_key=True)
    consultation_id: Mapped[int] = mapped_column(ForeignKey("consultations.id"), unique=True)
    reason: Mapped[str] = mapped_column(String(500))
    marked_by_id: Mapped[int] = mapped_column(ForeignKey("people.id"))
    marked_at: Mapped[datetime] = mapped_column(default=utcnow)
