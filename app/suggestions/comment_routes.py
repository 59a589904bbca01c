"""Comment and moderation API. Thin: the rules live in comments.py and moderation.py; each
request commits once. Guide: docs/moderation.md."""
from __future__ import annotations

from datetime import datetime
from typing import Literal

from flask import Blueprint
from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlalchemy import select

from ..api import endpoint
from ..auth import ratelimit
from ..auth.current import current_login, require_person
from ..db import get_session
from ..idempotency import idempotent
from ..redis_client import get_redis
from . import comments, moderation
from .models import SUGGESTION_STATE_LABELS, Suggestion
from .schemas import clean_text

bp = Blueprint("comments", __name__, url_prefix="/api")
TAG = "评论"
MOD_TAG = "内容审核"

# Per person: enough for a lively discussion, not for a flood.
COMMENT_LIMIT = ratelimit.Limit("comment-create", 10, 60)
REPORT_LIMIT = ratelimit.Limit("comment-report", 20, 60)


def _multi_line(value):
    return clean_text(value, multiline=True) if isinstance(value, str) else value


def _single_line(value):
    return clean_text(value) if isinstance(value, str) else value


# --- models --------------------------------------------------------------------------------------

class CommentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    body: str = Field(min_length=comments.BODY_MIN, max_length=comments.BODY_MAX,
                      description="评论内容，1–500 字（去掉首尾空格后计算）")
    parent_id: int | None = Field(default=None, ge=1, description=(
        "回复哪条评论；回复一条回复时，归入它所属的那条评论之下（只有一层回复）"))

    _body = field_validator("body", mode="before")(_multi_line)


class CommentOut(BaseModel):
    id: int
    parent_id: int | None
    body: str
    author: str = Field(description="打码后的姓名")
    author_badge: str | None = Field(description="召集人回复时为“召集人”")
    is_mine: bool | None = Field(description="未登录时为 null")
    state: str = Field(description="visible 已公开 / held 审核中（仅本人可见）")
    state_label: str
    notice: str | None = Field(description="审核中时的提示")
    created_at: datetime


class ThreadOut(CommentOut):
    replies: list[CommentOut]
    reply_count: int
    has_more_replies: bool


class CommentPage(BaseModel):
    suggestion_id: int
    comment_count: int = Field(description="公开可见的评论数（含回复）")
    is_open: bool = Field(description="是否还能发表评论（征集中）")
    items: list[ThreadOut]
    next_cursor: str | None


class ReplyPage(BaseModel):
    comment_id: int
    items: list[CommentOut]
    next_cursor: str | None


class PageQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    cursor: str | None = Field(default=None, max_length=20, description="上一页的 next_cursor")
    limit: int = Field(default=20, ge=1, le=comments.PAGE_MAX)


class CreatedComment(BaseModel):
    comment: CommentOut
    comment_count: int


class ReportIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str | None = Field(default=None, max_length=comments.REASON_MAX,
                               description="举报理由（可不填），最多 200 字")

    _reason = field_validator("reason", mode="before")(_single_line)


class ReportOut(BaseModel):
    comment_id: int
    reported: bool = True
    already_reported: bool = Field(description="此前已举报过（本次未重复计数）")
    message: str


class ModerationQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: Literal["suggestion", "comment"] = Field(
        default="comment", description="suggestion 待审核的建议 / comment 待审核或被举报的评论")
    platform_id: int | None = Field(default=None, ge=1, description="只看某个平台")
    cursor: str | None = Field(default=None, max_length=20)
    limit: int = Field(default=20, ge=1, le=moderation.PAGE_MAX)


class QueueItem(BaseModel):
    kind: str
    id: int
    platform_id: int
    platform_name: str
    state: str
    state_label: str
    author: str | None = None
    proposer: str | None = None
    moderation_note: str | None = Field(default=None, description="自动审核或上次处理的说明")
    created_at: datetime
    # suggestions
    title: str | None = None
    description: str | None = None
    category: str | None = None
    category_label: str | None = None
    source: str | None = None
    source_label: str | None = None
    address: str | None = None
    attachments: list[str] | None = None
    # comments
    suggestion_id: int | None = None
    suggestion_title: str | None = None
    parent_id: int | None = None
    body: str | None = None
    report_count: int | None = None
    report_reasons: list[str] | None = None


class QueueCounts(BaseModel):
    suggestion: int
    comment: int


class QueuePage(BaseModel):
    kind: str
    counts: QueueCounts
    items: list[QueueItem]
    next_cursor: str | None


class CommentDecisionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    decision: Literal["approve", "hide", "reject"] = Field(
        description="approve 通过（公开）/ hide 隐藏（已公开过的）/ reject 驳回（从未公开的）")
    note: str | None = Field(default=None, max_length=moderation.NOTE_MAX, description="处理说明")

    _note = field_validator("note", mode="before")(_multi_line)


class SuggestionDecisionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    decision: Literal["approve", "reject"] = Field(description="approve 通过并公开 / reject 不通过")
    note: str | None = Field(default=None, max_length=moderation.NOTE_MAX,
                             description="不通过时必填，将告知提出人")

    _note = field_validator("note", mode="before")(_multi_line)


class DecisionOut(BaseModel):
    kind: str
    id: int
    state: str
    state_label: str
    changed: bool = Field(description="false：已是该状态，本次未做改动")
    comment_count: int | None = Field(default=None, description="评论所在建议的公开评论数")


def _comment_count(session, suggestion_id: int) -> int:
    return session.scalar(select(Suggestion.comment_count).where(Suggestion.id == suggestion_id))


def _viewer_id() -> int | None:
    login = current_login()
    return login.person_id if login else None


# --- comments ------------------------------------------------------------------------------------

@endpoint(bp, "/suggestions/<int:suggestion_id>/comments", summary="评论列表（公开）", tags=[TAG],
          query=PageQuery, response=CommentPage, auth=None)
def comment_list(suggestion_id: int, query: PageQuery):
    """最新的评论在前，每条带最早的 20 条回复（更多回复用“回复列表”接口）。姓名打码。
    登录后还能看到自己“审核中”的评论（只有本人可见）。"""
    return CommentPage.model_validate(comments.list_comments(
        get_session(), suggestion_id=suggestion_id, viewer_id=_viewer_id(),
        cursor=query.cursor, limit=query.limit))


@endpoint(bp, "/comments/<int:comment_id>/replies", summary="回复列表（公开）", tags=[TAG],
          query=PageQuery, response=ReplyPage, auth=None)
def reply_list(comment_id: int, query: PageQuery):
    """一条评论下的全部回复，最早的在前。"""
    return ReplyPage.model_validate(comments.list_replies(
        get_session(), comment_id=comment_id, viewer_id=_viewer_id(), cursor=query.cursor,
        limit=query.limit))


@endpoint(bp, "/suggestions/<int:suggestion_id>/comments", methods=("POST",),
          summary="发表评论或回复", tags=[TAG], body=CommentIn, response=CreatedComment,
          status=201, auth="login")
@idempotent
def post_comment(suggestion_id: int, body: CommentIn):
    """只能在“征集中”的建议下发表；已列为议题或暂不采纳的建议只能查看评论（409 comments_closed）。
    内容有风险 → 422 content_risky，不保存；需人工审核或检测不可用 → 保存为“审核中”，
    仅本人可见，审核通过后公开。发表评论即关注该建议。支持 Idempotency-Key。"""
    session = get_session()
    person = require_person()
    ratelimit.check(get_redis(), COMMENT_LIMIT, f"p{person.id}")
    comment, _verdict = comments.post_comment(session, author=person,
                                              suggestion_id=suggestion_id, body=body.body,
                                              parent_id=body.parent_id)
    session.commit()
    count = _comment_count(session, suggestion_id)
    return CreatedComment(comment=CommentOut.model_validate(
        comments.comment_view(session, comment, viewer_id=person.id)), comment_count=count), 201


@endpoint(bp, "/comments/<int:comment_id>/report", methods=("POST",), summary="举报评论",
          tags=[TAG], body=ReportIn, response=ReportOut, status=201, also=(200,), auth="login")
def report(comment_id: int, body: ReportIn):
    """每人对同一条评论只能举报一次，重复举报返回 200 且不重复计数。被举报达到一定人数
    （默认 3 人）的评论自动转人工审核，审核前不公开。"""
    session = get_session()
    person = require_person()
    ratelimit.check(get_redis(), REPORT_LIMIT, f"p{person.id}")
    outcome = comments.report_comment(session, reporter=person, comment_id=comment_id,
                                      reason=body.reason)
    session.commit()
    if not outcome.created:
        return ReportOut(comment_id=comment_id, already_reported=True,
                         message="您已举报过这条评论，我们会尽快处理"), 200
    return ReportOut(comment_id=comment_id, already_reported=False,
                     message="举报已收到，感谢您的监督"), 201


# --- moderation ----------------------------------------------------------------------------------

@endpoint(bp, "/moderation", summary="待审核内容", tags=[MOD_TAG], query=ModerationQuery,
          response=QueuePage, auth=moderation.MODERATE)
def queue(query: ModerationQuery):
    """召集人看本平台、政协工作人员看管辖范围内：待审核的建议，或待审核 / 被举报的评论，
    最早的在前。counts 为两类各自的待处理数量。"""
    return QueuePage.model_validate(moderation.moderation_queue(
        get_session(), moderator=require_person(), kind=query.kind,
        platform_id=query.platform_id, cursor=query.cursor, limit=query.limit))


@endpoint(bp, "/moderation/comments/<int:comment_id>", methods=("POST",), summary="处理评论",
          tags=[MOD_TAG], body=CommentDecisionIn, response=DecisionOut,
          auth=moderation.MODERATE)
def decide_comment(comment_id: int, body: CommentDecisionIn):
    """approve：公开（对被举报但仍公开的评论，表示举报不成立并清零）；hide：隐藏已公开的评论；
    reject：驳回从未公开的评论。重复同一处理不做改动（changed=false）。"""
    session = get_session()
    comment, changed = moderation.moderate_comment(
        session, moderator=require_person(), comment_id=comment_id, decision=body.decision,
        note=body.note)
    session.commit()
    count = _comment_count(session, comment.suggestion_id)
    return DecisionOut(kind="comment", id=comment.id, state=comment.state.value,
                       state_label=comments.COMMENT_STATE_LABELS[comment.state],
                       changed=changed, comment_count=count)


@endpoint(bp, "/moderation/suggestions/<int:suggestion_id>", methods=("POST",),
          summary="处理待审核的建议", tags=[MOD_TAG], body=SuggestionDecisionIn,
          response=DecisionOut, auth=moderation.MODERATE)
def decide_suggestion(suggestion_id: int, body: SuggestionDecisionIn):
    """approve：通过并公开，通知提出人；reject：不通过（须填写原因），原因告知提出人。"""
    session = get_session()
    sug, changed = moderation.moderate_suggestion(
        session, moderator=require_person(), suggestion_id=suggestion_id,
        decision=body.decision, note=body.note)
    session.commit()
    return DecisionOut(kind="suggestion", id=sug.id, state=sug.state.value,
                       state_label=SUGGESTION_STATE_LABELS[sug.state], changed=changed)
