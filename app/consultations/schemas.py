"""Request and response models of the consultation API (they also make the OpenAPI document)."""
from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, field_validator

from .models import (
    RESEARCH_KIND_LABELS, RESEARCH_LINK_LABELS, ResearchKind, ResearchLink, ResearchState,
    ResearchTask,
)


def _single_line(value):
    if isinstance(value, str):
        value = " ".join(value.split())
        if not value:
            raise ValueError("不能为空")
    return value


# --- research --------------------------------------------------------------------------------------

class ResearchIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: ResearchKind = Field(description="policy 政策研究 / facts 摸清实情 / stakeholders 听取"
                                           "利益相关方意见 / site_visit 实地察看（D11）")
    title: str = Field(min_length=2, max_length=100, description="调研内容，例如“走访沿街商户”")
    assignee_id: int | None = Field(default=None, ge=1, description="承担调研的人员（可不填）")
    link_kind: ResearchLink | None = Field(
        default=None, description="D13 结合的工作：inspection 政协视察 / special_consultation "
                                  "专题协商 / proposal 提案办理")
    link_ref: str | None = Field(default=None, max_length=64, description="视察、协商或提案的编号")

    _title = field_validator("title", "link_ref", mode="before")(_single_line)


class ResearchPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    notes: str | None = Field(default=None, max_length=20000,
                              description="调研记录：相关政策、实际情况、各方意愿诉求等")
    is_sensitive: bool | None = Field(default=None, description="发现敏感问题（D12：立即报告党委）")
    is_long_standing: bool | None = Field(
        default=None, description="发现长期未解决的难题（D12：立即报告党委）")


class ResearchOut(BaseModel):
    id: int
    topic_id: int
    kind: ResearchKind
    kind_label: str
    title: str
    assignee_id: int | None
    state: ResearchState
    notes: str
    is_sensitive: bool
    is_long_standing: bool
    escalated_at: datetime | None = Field(description="已向审定议题的党委报告的时间（D12）")
    link_kind: ResearchLink | None
    link_label: str | None
    link_ref: str | None
    completed_at: datetime | None

    @classmethod
    def of(cls, t: ResearchTask) -> "ResearchOut":
        return cls(id=t.id, topic_id=t.topic_id, kind=t.kind, kind_label=RESEARCH_KIND_LABELS[t.kind],
                   title=t.title, assignee_id=t.assignee_id, state=t.state, notes=t.notes,
                   is_sensitive=t.is_sensitive, is_long_standing=t.is_long_standing,
                   escalated_at=t.escalated_at, link_kind=t.link_kind,
                   link_label=RESEARCH_LINK_LABELS[t.link_kind] if t.link_kind else None,
                   link_ref=t.link_ref, completed_at=t.completed_at)


class ResearchList(BaseModel):
    items: list[ResearchOut]
    has_completed: bool = Field(description="是否已有完成的调研（D11：不调研不协商）")
