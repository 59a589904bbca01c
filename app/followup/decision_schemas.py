"""Request and response models of the per-item decision and assignment API (D19–D23)."""
from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel, ConfigDict, Field

from ..consultations.rules import OpinionScope
from ..consultations.schemas import RoutingOut
from ..suggestions.schemas import MultiLine
from .models import ExtensionState, ItemState, Outcome, TaskState


class ItemDecisionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    outcome: Outcome = Field(description="adopted 采纳 / partly 部分采纳 / not_adopted 不予采纳 / "
                                         "escalated 通过政协渠道向上级反映（D22）")
    explanation: MultiLine | None = Field(
        default=None, max_length=2000,
        description="给群众的解释说明（D23）：部分采纳、不予采纳时必填，最多 2000 字")


class AssignmentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    lead_body_id: int = Field(ge=1, description="牵头承办部门（GET /api/departments 中的部门）")
    co_body_ids: list[int] = Field(default_factory=list, max_length=10,
                                   description="协办部门（可不填，最多 10 个）")
    workdays: int = Field(ge=1, le=60, description="办理时限（工作日，1–60；节假日、调休按国家安排）")


class ExtensionDecisionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    approve: bool = Field(description="true 同意延期（办理期限改为申请的日期）/ false 不同意（须说明）")
    note: MultiLine | None = Field(default=None, max_length=500, description="说明（不同意时必填）")


class BodyRef(BaseModel):
    id: int
    name: str


class DecisionOut(BaseModel):
    scope: OpinionScope
    scope_label: str
    body_id: int
    body_name: str
    outcome: Outcome
    outcome_label: str
    explanation: str | None
    decided_at: datetime


class TaskBrief(BaseModel):
    id: int
    lead_body_id: int
    lead_body_name: str
    co_bodies: list[BodyRef]
    assigned_on: date
    workdays: int
    due_on: date
    due_estimated: bool = Field(description="该年节假日安排尚未公布，期限按周一至周五估算")
    estimate_notice: str | None
    state: TaskState
    state_label: str


class ItemOut(BaseModel):
    id: int
    seq: int
    text: str
    raised_by_label: str
    scope: OpinionScope
    scope_label: str
    current_scope: OpinionScope = Field(description="现在由哪一级研究（向上级反映后上移，D22）")
    current_scope_label: str
    state: ItemState
    state_label: str
    outcome: Outcome | None
    outcome_label: str | None
    decisions: list[DecisionOut]
    task: TaskBrief | None
    can_decide: bool = Field(description="我所在机构现在可以研究决定这条意见")
    can_assign: bool = Field(description="我所在机构已采纳、可以交办这条意见")


class RoutingItemsOut(BaseModel):
    routing: RoutingOut
    consultation_id: int
    title: str
    platform_name: str
    items: list[ItemOut]


class QueueItemOut(ItemOut):
    consultation_id: int
    topic_title: str
    platform_name: str
    routing_id: int | None = Field(description="我所在机构收到的意见清单（待研究的意见）")


class ExtensionOut(BaseModel):
    id: int
    task_id: int
    item_id: int
    seq: int
    item_text: str
    topic_title: str
    lead_body_id: int
    lead_body_name: str
    due_on: date
    requested_due_on: date
    reason: str
    requested_at: datetime
    state: ExtensionState
    state_label: str
    note: str | None
    decided_at: datetime | None


class ReviewQueue(BaseModel):
    awaiting: list[QueueItemOut] = Field(description="待本机构研究决定的意见")
    to_assign: list[QueueItemOut] = Field(description="本机构已采纳、待交办的意见")
    extensions: list[ExtensionOut] = Field(description="待本机构答复的延期申请")


class DepartmentOut(BaseModel):
    id: int
    name: str
    region_name: str


class DepartmentList(BaseModel):
    items: list[DepartmentOut]
