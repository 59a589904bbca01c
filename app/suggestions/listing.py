"""Public lists of suggestions: by platform, region, state, stage and category; sorted by new,
most supported or recently active; keyset pagination; a fixed number of SQL statements per
request whatever the page size; no personal data (masked names).

The stage tabs (issue 11 item 7: 征集中 / 已立题 / 已协商 / 办理中 / 已办结) keep a suggestion in view
after it was taken up: `stage` filters by the public stage derived in SQL
(app/followup/results.suggestion_stage), and every item carries its stage and, once taken up,
its topic id (the mini-program links it to the topic's public results)."""
from __future__ import annotations

import base64
import hashlib
import json
import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from flask import Blueprint, Response, current_app, jsonify
from pydantic import BaseModel, ConfigDict, Field
from redis.exceptions import RedisError
from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from ..api import endpoint
from ..auth.current import current_login
from ..crypto import mask_name, mask_public
from ..db import get_session
from ..errors import NotFound, ValidationFailed
from ..followup.results import STAGE_LABELS, stage_filter, suggestion_stage
from ..org.models import Person, Platform, Region
from ..redis_client import get_redis
from ..topics.models import CATEGORY_LABELS, Category
from .models import SUGGESTION_STATE_LABELS, Attachment, Suggestion, SuggestionState, Vote

log = logging.getLogger(__name__)

PUBLIC_STATES = (SuggestionState.open, SuggestionState.taken_up, SuggestionState.declined)
Sort = Literal["new", "supported", "active"]
Stage = Literal["open", "topic", "consulted", "handling", "done"]


class ListQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    platform_id: int | None = Field(default=None, ge=1)
    region_id: int | None = Field(default=None, ge=1, description="含下级区域")
    state: SuggestionState = Field(default=SuggestionState.open,
                                   description="open / taken_up / declined")
    stage: Stage | None = Field(
        default=None, description="按进展阶段筛选：open 征集中 / topic 已立题 / consulted 已协商 / "
                                  "handling 办理中 / done 已办结；给出时不必再给 state")
    category: Category | None = None
    sort: Sort = Field(default="new", description="new 最新 / supported 支持最多 / active 最近活跃")
    limit: int = Field(default=20, ge=1, le=50)
    cursor: str | None = Field(default=None, max_length=200)


class SuggestionListItem(BaseModel):
    id: int
    title: str
    category: Category
    category_label: str
    state: SuggestionState
    state_label: str
    platform_id: int
    platform_name: str
    proposer: str = Field(description="打码后的姓名")
    vote_count: int
    comment_count: int
    cover_url: str | None
    voted_by_me: bool | None = Field(description="未登录时为 null")
    stage: Stage | None = Field(description="进展阶段；暂不采纳、所列议题已撤回时为 null")
    stage_label: str | None
    topic_id: int | None = Field(description="已列为议题时，议题的编号（可查看公开结果）")
    created_at: datetime
    last_activity_at: datetime


class SuggestionPage(BaseModel):
    items: list[SuggestionListItem]
    next_cursor: str | None


@dataclass(frozen=True)
class Cursor:
    sort: str
    key: int | str | None
    id: int


def encode_cursor(c: Cursor) -> str:
    raw = json.dumps([c.sort, c.key, c.id], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(text: str, sort: str) -> Cursor:
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        s, key, id_ = json.loads(raw)
        if s != sort or not isinstance(id_, int):
            raise ValueError
        if sort == "new" and key is not None:
            raise ValueError
        if sort == "supported" and (not isinstance(key, int) or isinstance(key, bool)):
            raise ValueError
        if sort == "active":
            datetime.fromisoformat(key)
        return Cursor(s, key, id_)
    except (ValueError, TypeError, json.JSONDecodeError):
        raise ValidationFailed("翻页参数无效，请从第一页重新加载", code="invalid_cursor") from None


def _sort_columns(sort: str):
    if sort == "supported":
        return Suggestion.vote_count
    if sort == "active":
        return Suggestion.last_activity_at
    return None


def _public_page(session: Session, q: ListQuery) -> dict:
    """The page as everyone sees it (no per-viewer fields), ready for JSON."""
    sort_col = _sort_columns(q.sort)
    stmt = (
        select(Suggestion.id, Suggestion.title, Suggestion.category, Suggestion.state,
               Suggestion.platform_id, Platform.name.label("platform_name"),
               Person.name.label("proposer_name"), Suggestion.vote_count,
               Suggestion.comment_count, Suggestion.created_at, Suggestion.last_activity_at,
               Suggestion.topic_id, suggestion_stage().label("stage"))
        .join(Platform, Platform.id == Suggestion.platform_id)
        .join(Person, Person.id == Suggestion.proposer_id)
        .where(stage_filter(q.stage) if q.stage else Suggestion.state == q.state,
               Platform.is_active.is_(True))
    )
    if q.platform_id is not None:
        # An unknown or closed platform is "not found", not an empty list (the page can tell
        # "wrong link" from "no suggestions yet"). Checked on a cache miss only: a cached page
        # exists only for a platform that was active when it was cached.
        if not session.scalar(select(Platform.is_active).where(Platform.id == q.platform_id)):
            raise NotFound("该协商议事平台不存在或已停用", code="platform_not_found")
        stmt = stmt.where(Suggestion.platform_id == q.platform_id)
    if q.region_id is not None:
        prefix = select(Region.path).where(Region.id == q.region_id).scalar_subquery()
        stmt = stmt.join(Region, Region.id == Platform.region_id).where(
            func.substr(Region.path, 1, func.length(prefix)) == prefix)
    if q.category is not None:
        stmt = stmt.where(Suggestion.category == q.category)
    if q.cursor:
        c = decode_cursor(q.cursor, q.sort)
        if sort_col is None:
            stmt = stmt.where(Suggestion.id < c.id)
        else:
            key = datetime.fromisoformat(c.key) if q.sort == "active" else c.key
            stmt = stmt.where(or_(sort_col < key, and_(sort_col == key, Suggestion.id < c.id)))
    order = [Suggestion.id.desc()] if sort_col is None else [sort_col.desc(), Suggestion.id.desc()]
    rows = session.execute(stmt.order_by(*order).limit(q.limit + 1)).all()
    more = len(rows) > q.limit
    rows = rows[:q.limit]
    ids = [r.id for r in rows]

    covers: dict[int, str] = {}
    if ids:
        first = (select(Attachment.suggestion_id, func.min(Attachment.id).label("aid"))
                 .where(Attachment.suggestion_id.in_(ids))
                 .group_by(Attachment.suggestion_id).subquery())
        covers = {sid: key for sid, key in session.execute(
            select(first.c.suggestion_id, Attachment.storage_key)
            .join(Attachment, Attachment.id == first.c.aid))}

    items = [{
        "id": r.id, "title": r.title, "category": r.category.value,
        "category_label": CATEGORY_LABELS[r.category], "state": r.state.value,
        "state_label": SUGGESTION_STATE_LABELS[r.state], "platform_id": r.platform_id,
        "platform_name": r.platform_name, "proposer": mask_name(r.proposer_name),
        "vote_count": r.vote_count, "comment_count": r.comment_count,
        "cover_url": f"/api/uploads/{covers[r.id]}" if r.id in covers else None,
        "voted_by_me": None, "stage": r.stage,
        "stage_label": STAGE_LABELS[r.stage] if r.stage else None,
        "topic_id": r.topic_id if r.state is SuggestionState.taken_up else None,
        "created_at": r.created_at.isoformat(), "last_activity_at": r.last_activity_at.isoformat(),
    } for r in rows]
    next_cursor = None
    if more and rows:
        last = rows[-1]
        key = (None if sort_col is None else last.vote_count if q.sort == "supported"
               else last.last_activity_at.isoformat())
        next_cursor = encode_cursor(Cursor(q.sort, key, last.id))
    return mask_public({"items": items, "next_cursor": next_cursor})  # a public page (#9)


def _cached_page(session: Session, q: ListQuery) -> bytes:
    """The public page as JSON bytes, from the short-lived Redis cache when fresh. Redis being
    down only costs the cache (the database answers)."""
    ttl = current_app.config["APP"].list_cache_seconds
    if q.state not in PUBLIC_STATES:
        raise ValidationFailed("只能查看公开的建议", code="state_not_public")
    if q.stage and "state" in q.model_fields_set and q.state is not (
            SuggestionState.open if q.stage == "open" else SuggestionState.taken_up):
        raise ValidationFailed(f"“{STAGE_LABELS[q.stage]}”阶段与所选状态不一致，请只选其一",
                               code="stage_state_conflict")
    if q.cursor:
        decode_cursor(q.cursor, q.sort)  # a bad cursor is refused even when cached
    key = "list:suggestions:v1:" + hashlib.sha1(
        q.model_dump_json(exclude_none=True).encode()).hexdigest()
    redis_client = get_redis() if ttl > 0 else None
    if redis_client is not None:
        try:
            hit = redis_client.get(key)
            if hit is not None:
                return hit
        except RedisError:
            log.warning("list cache unavailable", exc_info=True)
            redis_client = None
    body = json.dumps(_public_page(session, q), ensure_ascii=False,
                      separators=(",", ":")).encode()
    if redis_client is not None:
        try:
            redis_client.set(key, body, ex=ttl)
        except RedisError:
            log.warning("list cache unavailable", exc_info=True)
    return body


def list_suggestions(session: Session, q: ListQuery, viewer_id: int | None) -> Response:
    body = _cached_page(session, q)
    if viewer_id is None:
        return Response(body, mimetype="application/json")
    page = json.loads(body)
    ids = [item["id"] for item in page["items"]]
    voted = set(session.scalars(select(Vote.suggestion_id).where(
        Vote.person_id == viewer_id, Vote.suggestion_id.in_(ids)))) if ids else set()
    for item in page["items"]:
        item["voted_by_me"] = item["id"] in voted
    return jsonify(page)


bp = Blueprint("suggestion_lists", __name__, url_prefix="/api")


@endpoint(bp, "/suggestions", summary="建议列表（公开）", tags=["建议"], query=ListQuery,
          response=SuggestionPage, auth=None)
def suggestion_list(query: ListQuery):
    """按平台、区域（含下级）、状态、类别筛选；按最新、支持最多、最近活跃排序；
    用 next_cursor 翻页。姓名打码，不含任何个人信息。登录后返回 voted_by_me。"""
    # Only the viewer's id is needed (for voted_by_me): no need to load the person.
    login = current_login()
    return list_suggestions(get_session(), query, login.person_id if login else None)
