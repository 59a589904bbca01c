"""Suggestions from residents and members (D6, D7), their votes, comments, followers and the
public trail, and public solicitation campaigns."""
from __future__ import annotations

import enum
from datetime import date, datetime

from sqlalchemy import (
    CheckConstraint, Date, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint, and_,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..db import Base, TimestampMixin, utcnow
from ..org.models import enum_column
from ..topics.models import Category, Source


class Campaign(TimestampMixin, Base):
    """A public solicitation (公开征集, D7) on one platform or across a region, open for a while."""

    __tablename__ = "campaigns"
    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(60))
    description: Mapped[str] = mapped_column(Text)
    platform_id: Mapped[int | None] = mapped_column(ForeignKey("platforms.id"), index=True)
    region_id: Mapped[int | None] = mapped_column(ForeignKey("regions.id"), index=True)
    opens_on: Mapped[date] = mapped_column(Date)
    closes_on: Mapped[date] = mapped_column(Date)
    created_by_id: Mapped[int] = mapped_column(ForeignKey("people.id"))
    __table_args__ = (
        CheckConstraint("(platform_id IS NULL) <> (region_id IS NULL)", name="one_scope"),
        CheckConstraint("closes_on >= opens_on", name="dates_in_order"),
    )


class SuggestionState(str, enum.Enum):
    held = "held"            # waiting for moderation (content check said "review", or failed)
    open = "open"            # public: votes and comments
    taken_up = "taken_up"    # merged into a topic by the convenor
    declined = "declined"    # the convenor declined it, with a reason the proposer is told
    rejected = "rejected"    # moderation refused it (never public)


SUGGESTION_STATE_LABELS = {
    SuggestionState.held: "审核中", SuggestionState.open: "征集中",
    SuggestionState.taken_up: "已列为议题", SuggestionState.declined: "暂不采纳",
    SuggestionState.rejected: "未通过审核",
}


class Suggestion(TimestampMixin, Base):
    __tablename__ = "suggestions"
    id: Mapped[int] = mapped_column(primary_key=True)
    platform_id: Mapped[int] = mapped_column(ForeignKey("platforms.id"))
    proposer_id: Mapped[int] = mapped_column(ForeignKey("people.id"), index=True)
    source: Mapped[Source] = mapped_column(enum_column(Source))
    category: Mapped[Category] = mapped_column(enum_column(Category))
    title: Mapped[str] = mapped_column(String(60))
    description: Mapped[str] = mapped_column(Text)
    # D7 点题: the Party committee or government that assigned it.
    assigned_by_body_id: Mapped[int | None] = mapped_column(ForeignKey("bodies.id"))
    campaign_id: Mapped[int | None] = mapped_column(ForeignKey("campaigns.id"), index=True)
    address: Mapped[str | None] = mapped_column(String(255))
    latitude: Mapped[float | None] = mapped_column(Float)
    longitude: Mapped[float | None] = mapped_column(Float)
    state: Mapped[SuggestionState] = mapped_column(enum_column(SuggestionState))
    moderation_note: Mapped[str | None] = mapped_column(Text)
    # Counters kept equal to their rows inside the same transaction as the row change.
    vote_count: Mapped[int] = mapped_column(Integer, default=0)
    comment_count: Mapped[int] = mapped_column(Integer, default=0)
    follower_count: Mapped[int] = mapped_column(Integer, default=0)
    last_activity_at: Mapped[datetime] = mapped_column(default=utcnow)
    topic_id: Mapped[int | None] = mapped_column(ForeignKey("topics.id"), index=True)
    decline_reason: Mapped[str | None] = mapped_column(Text)
    __table_args__ = (
        CheckConstraint("vote_count >= 0 AND comment_count >= 0 AND follower_count >= 0",
                        name="counters_not_negative"),
        # The list queries: by platform and state, newest / most supported / recently active.
        Index("ix_suggestions_platform_state_id", "platform_id", "state", "id"),
        Index("ix_suggestions_platform_state_votes", "platform_id", "state", "vote_count", "id"),
        Index("ix_suggestions_platform_state_activity", "platform_id", "state",
              "last_activity_at", "id"),
    )

    attachments: Mapped[list["Attachment"]] = relationship(back_populates="suggestion")


PHOTO_TYPES = ("image/jpeg", "image/png", "image/webp")


class Attachment(Base):
    """A photo attached to a suggestion or to a research record (D11), or a photo or PDF on a
    handling step (D20) or a supervision note (D24); the file lives in the upload store under
    `storage_key`. Unused (none of these) uploads are purged after a day."""

    __tablename__ = "attachments"
    id: Mapped[int] = mapped_column(primary_key=True)
    suggestion_id: Mapped[int | None] = mapped_column(
        ForeignKey("suggestions.id", ondelete="CASCADE"), index=True)
    research_task_id: Mapped[int | None] = mapped_column(
        ForeignKey("research_tasks.id", ondelete="CASCADE"), index=True)
    # Follow-through (D20, D24): photos or a PDF on a handling step, photos on a supervision note.
    task_event_id: Mapped[int | None] = mapped_column(ForeignKey("task_events.id"), index=True)
    supervision_note_id: Mapped[int | None] = mapped_column(
        ForeignKey("supervision_notes.id"), index=True)
    uploaded_by_id: Mapped[int] = mapped_column(ForeignKey("people.id"), index=True)
    storage_key: Mapped[str] = mapped_column(String(128), unique=True)
    content_type: Mapped[str] = mapped_column(String(32))
    size_bytes: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    width: Mapped[int | None] = mapped_column(Integer)
    height: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    suggestion: Mapped[Suggestion | None] = relationship(back_populates="attachments")

    @classmethod
    def is_photo(cls):
        """SQL: an image upload (a PDF is for handling steps only, never a suggestion's or a
        research record's photo)."""
        return cls.content_type.in_(PHOTO_TYPES)

    @classmethod
    def unused(cls):
        """SQL: an upload nobody has attached yet."""
        return and_(cls.suggestion_id.is_(None), cls.research_task_id.is_(None),
                    cls.task_event_id.is_(None), cls.supervision_note_id.is_(None))


class Vote(Base):
    """One supporting vote per person per suggestion (a database constraint, not a check)."""

    __tablename__ = "votes"
    id: Mapped[int] = mapped_column(primary_key=True)
    suggestion_id: Mapped[int] = mapped_column(ForeignKey("suggestions.id", ondelete="CASCADE"))
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    __table_args__ = (UniqueConstraint("suggestion_id", "person_id"),)


class CommentState(str, enum.Enum):
    visible = "visible"
    held = "held"        # waiting for moderation (content check, or too many reports)
    hidden = "hidden"    # hidden by a moderator
    rejected = "rejected"  # refused by moderation before it was ever shown


class Comment(TimestampMixin, Base):
    """A comment on a suggestion; replies are one level deep (parent is a top-level comment)."""

    __tablename__ = "comments"
    id: Mapped[int] = mapped_column(primary_key=True)
    suggestion_id: Mapped[int] = mapped_column(ForeignKey("suggestions.id", ondelete="CASCADE"))
    author_id: Mapped[int] = mapped_column(ForeignKey("people.id"), index=True)
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("comments.id"))
    body: Mapped[str] = mapped_column(Text)
    state: Mapped[CommentState] = mapped_column(enum_column(CommentState))
    report_count: Mapped[int] = mapped_column(Integer, default=0)
    moderated_by_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    moderated_at: Mapped[datetime | None] = mapped_column()
    moderation_note: Mapped[str | None] = mapped_column(Text)
    __table_args__ = (Index("ix_comments_suggestion_state_id", "suggestion_id", "state", "id"),)


class CommentReport(Base):
    __tablename__ = "comment_reports"
    id: Mapped[int] = mapped_column(primary_key=True)
    comment_id: Mapped[int] = mapped_column(ForeignKey("comments.id", ondelete="CASCADE"))
    reporter_id: Mapped[int] = mapped_column(ForeignKey("people.id"))
    reason: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    __table_args__ = (UniqueConstraint("comment_id", "reporter_id"),)


class Follow(Base):
    """A person follows a suggestion and, once it is taken up, the topic it became."""

    __tablename__ = "follows"
    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"), index=True)
    suggestion_id: Mapped[int | None] = mapped_column(
        ForeignKey("suggestions.id", ondelete="CASCADE"))
    topic_id: Mapped[int | None] = mapped_column(ForeignKey("topics.id", ondelete="CASCADE"),
                                                 index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    __table_args__ = (
        CheckConstraint("(suggestion_id IS NULL) <> (topic_id IS NULL)", name="one_subject"),
        UniqueConstraint("suggestion_id", "person_id"),
        UniqueConstraint("topic_id", "person_id"),
    )


class TimelineEntry(Base):
    """The public trail of a suggestion or topic: what residents see (no personal data)."""

    __tablename__ = "timeline_entries"
    id: Mapped[int] = mapped_column(primary_key=True)
    suggestion_id: Mapped[int | None] = mapped_column(
        ForeignKey("suggestions.id", ondelete="CASCADE"), index=True)
    topic_id: Mapped[int | None] = mapped_column(ForeignKey("topics.id", ondelete="CASCADE"),
                                                 index=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    kind: Mapped[str] = mapped_column(String(40))
    text: Mapped[str] = mapped_column(Text)
    __table_args__ = (
        CheckConstraint("suggestion_id IS NOT NULL OR topic_id IS NOT NULL", name="has_subject"),
    )
