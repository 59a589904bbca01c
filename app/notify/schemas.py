"""Request and response models of the inbox API (they also make the OpenAPI document)."""
from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, ConfigDict, Field

from .models import NOTICE_KINDS


class InboxQuery(BaseModel):
    # Unknown query parameters (cache busters from the mini-program) are ignored.
    model_config = ConfigDict(extra="ignore")

    before_id: int | None = Field(None, ge=1, description="上一页返回的 next_before_id；不填则从最新开始")
    limit: int = Field(20, ge=1, le=50, description="每页条数（1–50）")
    unread_only: bool = Field(False, description="只看未读")


class InboxItemOut(BaseModel):
    id: int
    kind: str = Field(description="通知类型代码")
    kind_label: str = Field(description="通知类型（中文）")
    title: str
    body: str
    link: str | None = Field(None, description="小程序页面路径")
    created_at: dt.datetime
    read_at: dt.datetime | None = None
    is_read: bool

    @classmethod
    def of(cls, item) -> "InboxItemOut":
        return cls(id=item.id, kind=item.kind, kind_label=NOTICE_KINDS.get(item.kind, "通知"),
                   title=item.title, body=item.body, link=item.link, created_at=item.created_at,
                   read_at=item.read_at, is_read=item.read_at is not None)


class InboxPage(BaseModel):
    items: list[InboxItemOut]
    unread_count: int = Field(description="全部未读条数")
    next_before_id: int | None = Field(None, description="下一页的 before_id；为空表示没有更多")
