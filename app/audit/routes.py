"""Reading the audit trail (console): who did what, when, before/after. City-wide by nature —
entries concern people, platforms, accounts and content of every county — so it is open to
administrators and CPPCC staff whose reach is the whole city; county staff get 403."""
from __future__ import annotations

import datetime as dt
from typing import Any

from flask import Blueprint
from pydantic import BaseModel, ConfigDict, Field, field_validator

from ..api import endpoint
from ..auth.current import require_person
from ..db import get_session
from ..workdays import CHINA_TZ
from . import services

bp = Blueprint("audit", __name__, url_prefix="/api")
ACTION = "audit.view"


class AuditQuery(BaseModel):
    model_config = ConfigDict(extra="ignore")

    action: str | None = Field(None, max_length=64, description="操作代码，如 platform.member.link")
    object_type: str | None = Field(None, max_length=64, description="对象类型，如 platform、person")
    object_id: str | None = Field(None, max_length=64, description="对象编号（需同时给 object_type）")
    actor_id: int | None = Field(None, ge=1, description="操作人编号")
    since: dt.datetime | None = Field(None, description="起始时间（含），ISO 8601")
    until: dt.datetime | None = Field(None, description="截止时间（不含），ISO 8601")
    before_id: int | None = Field(None, ge=1, description="上一页返回的 next_before_id")
    limit: int = Field(50, ge=1, le=200, description="每页条数（1–200）")

    @field_validator("since", "until")
    @classmethod
    def _china_time(cls, value: dt.datetime | None) -> dt.datetime | None:
        # A time without a zone is what the person at the console means: China time.
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=CHINA_TZ)
        return value


class AuditEntryOut(BaseModel):
    id: int
    at: dt.datetime
    actor_id: int | None = Field(description="操作人；为空表示系统（定时任务、导入等）")
    actor_name: str | None = Field(description="操作人姓名；系统操作为“系统”")
    action: str
    object_type: str
    object_id: str | None
    before: Any = Field(None, description="变更前（不含密码、手机号等敏感字段）")
    after: Any = Field(None, description="变更后")
    request_id: str | None = Field(description="请求编号，可在日志中查到同一请求")


class AuditPage(BaseModel):
    items: list[AuditEntryOut]
    next_before_id: int | None = Field(None, description="下一页的 before_id；为空表示没有更多")


@endpoint(bp, "/audit", summary="审计日志", tags=["审计"], query=AuditQuery, response=AuditPage,
          auth=ACTION)
def audit_log(query: AuditQuery):
    """所有状态变更和管理操作的记录，最新的在前。可按操作、对象、操作人、时间筛选；
    分页：把返回的 next_before_id 作为下一次请求的 before_id。仅管理员和市级工作人员可查看
    （县区工作人员 403 `audit_city_only`）。"""
    session = get_session()
    services.require_city_wide(session, require_person())
    rows = services.list_entries(session, limit=query.limit, before_id=query.before_id,
                                 since=query.since, until=query.until, action=query.action,
                                 object_type=query.object_type, object_id=query.object_id,
                                 actor_id=query.actor_id)
    more = len(rows) > query.limit
    rows = rows[:query.limit]
    items = [AuditEntryOut(id=e.id, at=e.at, actor_id=e.actor_id,
                           actor_name=name if e.actor_id is not None else "系统",
                           action=e.action, object_type=e.object_type, object_id=e.object_id,
                           before=e.before, after=e.after, request_id=e.request_id)
             for e, name in rows]
    return AuditPage(items=items, next_before_id=items[-1].id if more else None)
