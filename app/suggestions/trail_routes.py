"""API of the public trail: take up suggestions as a topic, decline one, follow / unfollow
suggestions and topics, the public timelines, and "my follows". Thin: the rules live in
trail.py and takeup.py; each request commits once."""
from __future__ import annotations

from datetime import datetime
from typing import Literal

from flask import Blueprint
from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlalchemy import func, select

from ..api import endpoint
from ..auth.current import current_login, require_person
from ..db import get_session
from ..errors import NotFound
from ..org.models import Platform
from ..topics import services as topic_services
from ..topics.models import TOPIC_STATE_LABELS, Category, Source, Topic, TopicState
from ..topics.routes import topic_out
from ..topics.schemas import TopicOut
from . import takeup, trail
from .models import SUGGESTION_STATE_LABELS, Follow, Suggestion, SuggestionState
from .schemas import MultiLine, SingleLine

bp = Blueprint("suggestion_trail", __name__, url_prefix="/api")
TAG = "建议办理与进展"

# What the public may see of a suggestion (held / rejected ones are never public).
PUBLIC_STATES = (SuggestionState.open, SuggestionState.taken_up, SuggestionState.declined)


def _idempotent(view):
    """Idempotency-Key support for create endpoints (app/idempotency.py, by helper B)."""
    try:
        from ..idempotency import idempotent
    except ImportError:  # pragma: no cover - until the mechanism lands
        return view
    return idempotent(view)


def _strip(value: str | None) -> str | None:
    if value is None:
        return None
    value = value.strip()
    if not value:
        raise ValueError("不能为空")
    return value


# --- schemas --------------------------------------------------------------------------------------

class TakeUpIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    suggestion_ids: list[int] = Field(min_length=1, max_length=takeup.MAX_MERGE,
                                      description="要合并为一个议题的建议（1–20 条，均须为本平台征集中的建议）")
    title: SingleLine | None = Field(default=None, min_length=4, max_length=60,
                                     description="议题标题；不填则用支持最多的建议的标题")
    description: MultiLine | None = Field(default=None, min_length=10, max_length=5000)
    category: Category | None = Field(default=None, description="类别（D6）；不填则沿用")
    source: Source | None = Field(default=None, description="来源（D7）；不填则沿用支持最多的建议的来源")

    _clean = field_validator("title", "description")(_strip)


class TakeUpOut(BaseModel):
    topic: TopicOut
    suggestion_ids: list[int] = Field(description="已合并进该议题的建议")


class DeclineIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str = Field(min_length=takeup.DECLINE_REASON_MIN,
                        max_length=takeup.DECLINE_REASON_MAX,
                        description="暂不采纳的理由（5–500 字），会告知提出人并公开在进展中")

    @field_validator("reason")
    @classmethod
    def _reason(cls, value: str) -> str:
        value = value.strip()
        if len(value) < takeup.DECLINE_REASON_MIN:
            raise ValueError(f"请填写理由（至少{takeup.DECLINE_REASON_MIN}个字）")
        return value


class SuggestionStateOut(BaseModel):
    id: int
    state: SuggestionState
    state_label: str
    decline_reason: str | None
    topic_id: int | None


class TimelineItem(BaseModel):
    at: datetime
    kind: str
    text: str


class TimelineOut(BaseModel):
    subject: Literal["suggestion", "topic"]
    id: int
    title: str
    state: str
    state_label: str
    topic_id: int | None = Field(description="建议已列为议题时，议题的编号（可查看议题进展）")
    follower_count: int
    following: bool | None = Field(description="未登录时为 null")
    items: list[TimelineItem]


class FollowOut(BaseModel):
    following: bool
    changed: bool = Field(description="本次请求是否改变了关注状态（重复请求为 false）")
    follower_count: int


class FollowItem(BaseModel):
    follow_id: int
    subject: Literal["suggestion", "topic"]
    id: int
    title: str
    state: str
    state_label: str
    topic_id: int | None
    followed_at: datetime


class FollowQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    limit: int = Field(default=20, ge=1, le=50)
    before_id: int | None = Field(default=None, ge=1, description="翻页：上一页返回的 next_before_id")


class FollowPage(BaseModel):
    items: list[FollowItem]
    next_before_id: int | None


# --- loaders (public views) ---------------------------------------------------------------------

def _public_suggestion_or_404(session, suggestion_id: int) -> Suggestion:
    row = session.scalar(
        select(Suggestion).join(Platform, Platform.id == Suggestion.platform_id)
        .where(Suggestion.id == suggestion_id, Suggestion.state.in_(PUBLIC_STATES),
               Platform.is_active.is_(True)))
    if row is None:
        raise NotFound("该建议不存在", code="suggestion_not_found")
    return row


def _public_topic_or_404(session, topic_id: int) -> Topic:
    """A topic's trail is public once its platform is active: it holds no personal data (no
    reviewer names, no return reasons), and its suggestions already link to it."""
    row = session.scalar(
        select(Topic).join(Platform, Platform.id == Topic.platform_id)
        .where(Topic.id == topic_id, Platform.is_active.is_(True)))
    if row is None:
        raise NotFound("该议题不存在", code="topic_not_found")
    return row


def _topic_follower_count(session, topic_id: int) -> int:
    return session.scalar(select(func.count()).select_from(Follow)
                          .where(Follow.topic_id == topic_id)) or 0


def _viewer_id() -> int | None:
    login = current_login()
    return login.person_id if login else None


# --- take up / decline ---------------------------------------------------------------------------

@endpoint(bp, "/platforms/<int:platform_id>/topics/from-suggestions", methods=("POST",),
          summary="将建议列为议题（可合并多条）", tags=[TAG], body=TakeUpIn, response=TakeUpOut,
          status=201, auth=topic_services.MANAGE)
@_idempotent
def take_up(platform_id: int, body: TakeUpIn):
    """本平台召集人（或管辖范围内的政协工作人员）把 1–20 条征集中的建议合并为一个议题草稿。
    标题、说明、类别、来源默认取支持最多的那条建议。关注这些建议的人自动关注该议题并收到通知。"""
    session = get_session()
    person = require_person()
    topic, merged = takeup.take_up_suggestions(
        session, actor=person, platform_id=platform_id, **body.model_dump())
    ids = [s.id for s in merged]
    session.commit()
    topic = topic_services.get_topic_or_404(session, topic.id, person)
    return TakeUpOut(topic=topic_out(session, topic), suggestion_ids=ids), 201


@endpoint(bp, "/suggestions/<int:suggestion_id>/decline", methods=("POST",),
          summary="暂不采纳建议（须填写理由）", tags=[TAG], body=DeclineIn,
          response=SuggestionStateOut, auth=topic_services.MANAGE)
def decline(suggestion_id: int, body: DeclineIn):
    """理由会通知提出人，并显示在建议的公开进展中（请勿写入任何个人信息）。"""
    session = get_session()
    s = takeup.decline_suggestion(session, actor=require_person(), suggestion_id=suggestion_id,
                                  reason=body.reason)
    out = SuggestionStateOut(id=s.id, state=s.state, state_label=SUGGESTION_STATE_LABELS[s.state],
                             decline_reason=s.decline_reason, topic_id=s.topic_id)
    session.commit()
    return out


# --- timelines -----------------------------------------------------------------------------------

def _items(entries) -> list[TimelineItem]:
    return [TimelineItem(at=e.at, kind=e.kind, text=e.text) for e in entries]


@endpoint(bp, "/suggestions/<int:suggestion_id>/timeline", summary="建议的公开进展", tags=[TAG],
          response=TimelineOut, auth=None)
def suggestion_timeline(suggestion_id: int):
    """公开：不含任何个人信息。审核中或未通过审核的建议返回 404。"""
    session = get_session()
    s = _public_suggestion_or_404(session, suggestion_id)
    viewer = _viewer_id()
    return TimelineOut(
        subject="suggestion", id=s.id, title=s.title, state=s.state.value,
        state_label=SUGGESTION_STATE_LABELS[s.state], topic_id=s.topic_id,
        follower_count=s.follower_count,
        following=None if viewer is None else trail.is_following(
            session, person_id=viewer, suggestion_id=s.id),
        items=_items(trail.timeline(session, suggestion_id=s.id)))


@endpoint(bp, "/topics/<int:topic_id>/timeline", summary="议题的公开进展", tags=[TAG],
          response=TimelineOut, auth=None)
def topic_timeline(topic_id: int):
    """公开：提交审核、各环节通过、退回修改（不含理由和审核人）、审定等进展。"""
    session = get_session()
    t = _public_topic_or_404(session, topic_id)
    viewer = _viewer_id()
    return TimelineOut(
        subject="topic", id=t.id, title=t.title, state=t.state.value,
        state_label=TOPIC_STATE_LABELS[t.state], topic_id=t.id,
        follower_count=_topic_follower_count(session, t.id),
        following=None if viewer is None else trail.is_following(
            session, person_id=viewer, topic_id=t.id),
        items=_items(trail.timeline(session, topic_id=t.id)))


# --- follow / unfollow ---------------------------------------------------------------------------

def _suggestion_follow(suggestion_id: int, on: bool) -> FollowOut:
    session = get_session()
    person = require_person()
    s = _public_suggestion_or_404(session, suggestion_id)
    if on:
        changed = trail.follow(session, person_id=person.id, suggestion_id=s.id)
        if s.topic_id is not None:
            # The suggestion's trail continues on its topic: follow that too.
            trail.follow(session, person_id=person.id, topic_id=s.topic_id)
    else:
        changed = trail.unfollow(session, person_id=person.id, suggestion_id=s.id)
    count = session.scalar(select(Suggestion.follower_count).where(Suggestion.id == s.id))
    session.commit()
    return FollowOut(following=on, changed=changed, follower_count=count)


def _topic_follow(topic_id: int, on: bool) -> FollowOut:
    session = get_session()
    person = require_person()
    t = _public_topic_or_404(session, topic_id)
    fn = trail.follow if on else trail.unfollow
    changed = fn(session, person_id=person.id, topic_id=t.id)
    count = _topic_follower_count(session, t.id)
    session.commit()
    return FollowOut(following=on, changed=changed, follower_count=count)


@endpoint(bp, "/suggestions/<int:suggestion_id>/follow", methods=("POST",), summary="关注建议",
          tags=[TAG], response=FollowOut, auth="login")
def follow_suggestion(suggestion_id: int):
    """重复关注不会重复计数。已列为议题的建议，同时关注该议题。"""
    return _suggestion_follow(suggestion_id, True)


@endpoint(bp, "/suggestions/<int:suggestion_id>/follow", methods=("DELETE",),
          summary="取消关注建议", tags=[TAG], response=FollowOut, auth="login")
def unfollow_suggestion(suggestion_id: int):
    return _suggestion_follow(suggestion_id, False)


@endpoint(bp, "/topics/<int:topic_id>/follow", methods=("POST",), summary="关注议题",
          tags=[TAG], response=FollowOut, auth="login")
def follow_topic(topic_id: int):
    return _topic_follow(topic_id, True)


@endpoint(bp, "/topics/<int:topic_id>/follow", methods=("DELETE",), summary="取消关注议题",
          tags=[TAG], response=FollowOut, auth="login")
def unfollow_topic(topic_id: int):
    return _topic_follow(topic_id, False)


@endpoint(bp, "/me/follows", summary="我关注的建议和议题", tags=[TAG], query=FollowQuery,
          response=FollowPage, auth="login")
def my_follows(query: FollowQuery):
    """最近关注的在前；用 next_before_id 翻页。"""
    session = get_session()
    person = require_person()
    stmt = (select(Follow, Suggestion, Topic)
            .outerjoin(Suggestion, Suggestion.id == Follow.suggestion_id)
            .outerjoin(Topic, Topic.id == Follow.topic_id)
            .where(Follow.person_id == person.id))
    if query.before_id is not None:
        stmt = stmt.where(Follow.id < query.before_id)
    rows = session.execute(stmt.order_by(Follow.id.desc()).limit(query.limit + 1)).all()
    more = len(rows) > query.limit
    rows = rows[:query.limit]
    items = []
    for f, s, t in rows:
        if s is not None:
            items.append(FollowItem(
                follow_id=f.id, subject="suggestion", id=s.id, title=s.title,
                state=s.state.value, state_label=SUGGESTION_STATE_LABELS[s.state],
                topic_id=s.topic_id, followed_at=f.created_at))
        else:
            items.append(FollowItem(
                follow_id=f.id, subject="topic", id=t.id, title=t.title, state=t.state.value,
                state_label=TOPIC_STATE_LABELS[TopicState(t.state)], topic_id=t.id,
                followed_at=f.created_at))
    return FollowPage(items=items, next_before_id=rows[-1][0].id if more and rows else None)
