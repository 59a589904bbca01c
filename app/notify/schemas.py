"""Request and response models of the inbox API (they also make the OpenAPI document)."""
from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, ConfigDict, Field, model_validator

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


# --- subscribe-message credits (POST/GET /api/me/subscriptions) -----------------------------------

SUBSCRIBE_RESULT_KEYS_MAX = 20
SUBSCRIBE_TEMPLATE_ID_MAX = 64
_IGNORED_KEYS = ("errMsg", "errCode")


class SubscribeResults(BaseModel):
    """The object ``wx.requestSubscribeMessage`` answered, as it is: template id → result."""

    model_config = ConfigDict(extra="allow", json_schema_extra={
        "example": {"errMsg": "requestSubscribeMessage:ok", "TEMPLATE_ID_1": "accept",
                    "TEMPLATE_ID_2": "reject"}})

    errMsg: str | None = Field(None, description="微信返回的 errMsg，忽略")

    @model_validator(mode="after")
    def _results(self) -> "SubscribeResults":
        extra = self.results
        if len(extra) > SUBSCRIBE_RESULT_KEYS_MAX:
            raise ValueError(f"订阅结果最多 {SUBSCRIBE_RESULT_KEYS_MAX} 项")
        for key, value in extra.items():
            if not key or len(key) > SUBSCRIBE_TEMPLATE_ID_MAX:
                raise ValueError(f"模板编号应为 1–{SUBSCRIBE_TEMPLATE_ID_MAX} 个字符")
            if value not in ("accept", "reject", "ban", "filter"):
                raise ValueError("订阅结果应为 accept、reject、ban 或 filter")
        return self

    @property
    def results(self) -> dict[str, str]:
        return {k: v for k, v in (self.model_extra or {}).items() if k not in _IGNORED_KEYS}


class KindSubscriptionOut(BaseModel):
    kind: str = Field(description="通知类型代码")
    kind_label: str = Field(description="通知类型（中文）")
    template_id: str = Field(description="小程序订阅消息模板编号（传给 wx.requestSubscribeMessage）")
    long_term: bool = Field(description="是否长期订阅模板")
    subscribed: bool = Field(description="长期订阅模板：已同意且未拒绝")
    credits: int = Field(description="一次性订阅模板：还能收到的消息条数")


class SubscriptionsOut(BaseModel):
    kinds: list[KindSubscriptionOut]
    max_per_request: int = Field(description="每次 wx.requestSubscribeMessage 最多的模板数")
    credit_cap: int = Field(description="一次性订阅每个模板最多累计的次数")
