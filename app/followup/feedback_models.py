"""The feedback list (结果反馈清单, D21): one per opinion list, compiled once, when the last of its
items is settled (app/followup/tracks.settle). UNIQUE list_id: a second compile is impossible,
whatever races."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer
from sqlalchemy.orm import Mapped, mapped_column

from ..db import Base, utcnow


class FeedbackList(Base):
    __tablename__ = "feedback_lists"
    id: Mapped[int] = mapped_column(primary_key=True)
    list_id: Mapped[int] = mapped_column(ForeignKey("opinion_lists.id"), unique=True)
    consultation_id: Mapped[int] = mapped_column(ForeignKey("consultations.id"), index=True)
    topic_id: Mapped[int] = mapped_column(ForeignKey("topics.id"), index=True)
    compiled_at: Mapped[datetime] = mapped_column(default=utcnow)
    # The final decisions (D19; an escalated item counts by its decision at the upper level, D22)
    # and how many adopted items were completed (D21): the notice and the public page say these.
    items: Mapped[int] = mapped_column(Integer)
    adopted: Mapped[int] = mapped_column(Integer)
    partly: Mapped[int] = mapped_column(Integer)
    not_adopted: Mapped[int] = mapped_column(Integer)
    done: Mapped[int] = mapped_column(Integer)
    on_time: Mapped[int] = mapped_column(Integer)


def summary_text(fl: FeedbackList) -> str:
    """The list's figures in one line, as the notices and the public results page say them."""
    return (f"共{fl.items}条意见，采纳{fl.adopted}条、部分采纳{fl.partly}条、"
            f"不予采纳{fl.not_adopted}条，已办结{fl.done}条")
