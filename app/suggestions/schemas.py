"""Request and response models of the suggestion, campaign and upload API, and the text rules
(strip, no control characters) shared with the services."""
from __future__ import annotations

import unicodedata
from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator

from ..topics.models import Category, Source
from .models import SuggestionState

TITLE_MIN, TITLE_MAX = 4, 60
DESCRIPTION_MAX = 5000
ADDRESS_MAX = 255
MAX_ATTACHMENTS = 9

# Bidirectional overrides and isolates: invisible, and they can make text read differently from
# what it says (e.g. a reversed phone number). Zero-width joiners stay (emoji need them).
_BIDI = set("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f")
# Invisible characters that only hide text (zero-width space, word joiner, BOM).
_INVISIBLE = set("\u200b\u2060\ufeff")


def clean_text(value: str | None, *, multiline: bool = False) -> str:
    """Strip, normalise line breaks, and refuse control characters (ValueError, Chinese).

    Single-line fields (titles, addresses) allow no control character at all; multi-line ones
    (descriptions) allow line breaks and tabs."""
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ValueError("应为文字")
    text = value.replace("\r\n", "\n").replace("\r", "\n").strip()
    allowed = {"\n", "\t"} if multiline else set()
    for ch in text:
        if ch in allowed:
            continue
        if (unicodedata.category(ch) in ("Cc", "Cs") or ch in _BIDI or ch in _INVISIBLE
                or ch in "\u2028\u2029"):
            raise ValueError("不能包含控制字符")
    return text


def _single_line(value):
    return clean_text(value) if isinstance(value, str) else value


def _multi_line(value):
    return clean_text(value, multiline=True) if isinstance(value, str) else value


# One line of text others will read, under the title rules: titles, addresses and people's
# names wherever they are typed (issue 10 #10), e.g. `name: SingleLine | None = Field(...)`.
SingleLine = Annotated[str, BeforeValidator(_single_line)]
# Longer text others will read (descriptions): the same rules, line breaks and tabs allowed.
MultiLine = Annotated[str, BeforeValidator(_multi_line)]


class SuggestionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    title: str = Field(min_length=TITLE_MIN, max_length=TITLE_MAX,
                       description="标题，4–60 字（去掉首尾空格后计算）")
    description: str = Field(default="", max_length=DESCRIPTION_MAX, description="具体说明，最多 5000 字")
    category: Category = Field(description="类别（D6）：major 要事 / livelihood 实事 / difficulty 难事")
    campaign_id: int | None = Field(default=None, ge=1, description="响应的公开征集活动（来源为公开征集）")
    assigned_by_body_id: int | None = Field(
        default=None, ge=1, description="点题：代表哪个党委或政府（仅该机构审核人或政协工作人员）")
    as_member: bool | None = Field(
        default=None, description="政协委员是否以委员身份荐题；不填时委员默认荐题，填 false 则以群众身份出题")
    address: str | None = Field(default=None, max_length=ADDRESS_MAX, description="问题所在位置（公开显示）")
    latitude: float | None = Field(default=None, ge=-90, le=90)
    longitude: float | None = Field(default=None, ge=-180, le=180)
    attachment_ids: list[int] = Field(default_factory=list, max_length=MAX_ATTACHMENTS,
                                      description="本人上传、尚未使用的图片编号，最多 9 张")

    _title = field_validator("title", "address", mode="before")(_single_line)
    _description = field_validator("description", mode="before")(_multi_line)

    @field_validator("address")
    @classmethod
    def _empty_address(cls, value: str | None) -> str | None:
        return value or None


class PlatformRef(BaseModel):
    id: int
    name: str


class AttachmentOut(BaseModel):
    id: int
    url: str
    content_type: str
    width: int | None
    height: int | None


class CampaignRef(BaseModel):
    id: int
    title: str


class SuggestionOut(BaseModel):
    id: int
    title: str
    description: str
    category: Category
    category_label: str
    source: Source
    source_label: str
    state: SuggestionState
    state_label: str
    platform: PlatformRef
    proposer: str = Field(description="打码后的姓名")
    assigned_by: str | None = Field(description="点题机构名称")
    campaign: CampaignRef | None
    address: str | None
    latitude: float | None
    longitude: float | None
    vote_count: int
    comment_count: int
    follower_count: int
    attachments: list[AttachmentOut]
    created_at: datetime
    last_activity_at: datetime
    decline_reason: str | None = Field(description="暂不采纳的理由（仅 declined）")
    topic_id: int | None = Field(description="列为的议题（仅 taken_up）")
    stage: Literal["open", "topic", "consulted", "handling", "done"] | None = Field(
        default=None, description="进展阶段：征集中 / 已立题 / 已协商 / 办理中 / 已办结")
    stage_label: str | None = None
    results_topic_id: int | None = Field(
        default=None, description="议题已审定、可查看公开结果时为议题编号（GET /api/topics/{id}/results）")
    is_mine: bool | None = Field(description="未登录时为 null")
    voted_by_me: bool | None
    followed_by_me: bool | None
    notice: str | None = Field(default=None, description="给提出人的提示，如“已提交，审核通过后公开”")
    moderation_note: str | None = Field(default=None, description="仅审核人员可见")


class SimilarQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    title: str = Field(min_length=1, max_length=TITLE_MAX)
    limit: int = Field(default=5, ge=1, le=10)


class SimilarItem(BaseModel):
    id: int
    title: str
    category: Category
    category_label: str
    vote_count: int
    comment_count: int
    score: float
    voted_by_me: bool = Field(default=False, description="本人是否已支持（未登录为 false）")


class SimilarList(BaseModel):
    items: list[SimilarItem]


class CampaignIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    title: str = Field(min_length=TITLE_MIN, max_length=TITLE_MAX)
    description: str = Field(min_length=1, max_length=DESCRIPTION_MAX)
    platform_id: int | None = Field(default=None, ge=1, description="在一个平台征集")
    region_id: int | None = Field(default=None, ge=1, description="或在一个区域（含下级所有平台）征集")
    opens_on: date
    closes_on: date

    _title = field_validator("title", mode="before")(_single_line)
    _description = field_validator("description", mode="before")(_multi_line)


class CampaignQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    platform_id: int | None = Field(default=None, ge=1, description="适用于该平台的征集")
    region_id: int | None = Field(default=None, ge=1, description="与该区域有关的征集（上级、本级和下级）")


class CampaignOut(BaseModel):
    id: int
    title: str
    description: str
    platform: PlatformRef | None
    region: PlatformRef | None
    opens_on: date
    closes_on: date
    status: str = Field(description="upcoming 未开始 / open 征集中 / closed 已结束")
    status_label: str
    suggestion_count: int = Field(description="已公开的建议数")


class CampaignList(BaseModel):
    items: list[CampaignOut]


class UploadOut(BaseModel):
    id: int
    key: str = Field(description="存储键：办理进展、办结、督办记录的 upload_keys 用它")
    url: str
    content_type: str
    size_bytes: int
    width: int | None
    height: int | None
