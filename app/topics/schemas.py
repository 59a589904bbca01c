"""Request and response models of the topic API."""
from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel, ConfigDict, Field, field_validator

from ..suggestions.schemas import MultiLine, SingleLine
from .models import Category, Source, StepKind, StepState, TopicState


def _clean(value: str | None) -> str | None:
    if value is None:
        return None
    value = value.strip()
    if not value:
        raise ValueError("不能为空")
    return value


class TopicIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    # Public on the trail and the topic page: a suggestion's text rules (issue 10 #10).
    title: SingleLine = Field(min_length=4, max_length=60, description="议题标题")
    description: MultiLine = Field(min_length=10, max_length=5000, description="议题说明")
    category: Category = Field(description="类别（D6）：major 要事 / livelihood 实事 / difficulty 难事")
    source: Source = Field(description="来源（D7）")

    _strip = field_validator("title", "description")(_clean)


class TopicPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    title: SingleLine | None = Field(default=None, min_length=4, max_length=60)
    description: MultiLine | None = Field(default=None, min_length=10, max_length=5000)
    category: Category | None = None
    source: Source | None = None

    _strip = field_validator("title", "description")(_clean)


class StepDecisionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    note: str | None = Field(default=None, max_length=1000, description="意见（退回时必填）")


class StepOut(BaseModel):
    id: int
    round: int
    seq: int
    kind: StepKind
    kind_label: str
    body_id: int
    body_name: str
    state: StepState
    state_label: str
    due_on: date | None
    acted_at: datetime | None
    note: str | None


class TopicOut(BaseModel):
    id: int
    platform_id: int
    title: str
    description: str
    category: Category
    category_label: str
    source: Source
    source_label: str
    state: TopicState
    state_label: str
    approval_round: int
    approved_at: datetime | None
    created_at: datetime
    steps: list[StepOut]


class ReviewItem(BaseModel):
    step_id: int
    topic_id: int
    topic_title: str
    platform_id: int
    kind: StepKind
    kind_label: str
    body_id: int
    body_name: str = Field(default="", description="代表哪个机构审核")
    due_on: date | None


class ReviewList(BaseModel):
    items: list[ReviewItem]
