"""Public results of a topic (item 7): GET /api/topics/<tid>/results. Thin: the page is built
by results.topic_results; this declares its answer for the OpenAPI document."""
from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from flask import Blueprint
from pydantic import BaseModel, Field

from ..api import endpoint
from ..db import get_session
from ..evaluation.schemas import Figures, KindPhaseFigures
from . import results

bp = Blueprint("topic_results", __name__, url_prefix="/api")
TAG = "公开结果"

Stage = Literal["open", "topic", "consulted", "handling", "done"]


class ResultsPlatform(BaseModel):
    id: int
    name: str


class ResultsTopic(BaseModel):
    id: int
    title: str
    category: str
    category_label: str
    source: str
    source_label: str
    approved_on: date | None = Field(description="审定（通过审核程序）的日期")
    platform: ResultsPlatform


class StageStep(BaseModel):
    code: Stage
    label: str
    reached: bool


class ResultsSuggestion(BaseModel):
    id: int
    title: str
    state: str
    state_label: str
    vote_count: int
    proposer: str = Field(description="打码后的姓名")


class ResultsResearch(BaseModel):
    kind: str
    kind_label: str
    title: str | None = Field(description="涉及敏感问题的调研（D12）不公开标题")
    completed: bool
    completed_on: date | None


class AttendanceGroup(BaseModel):
    group: str
    group_label: str
    count: int


class ResultsDecision(BaseModel):
    scope: str
    scope_label: str
    body: str = Field(description="作出决定的机构")
    outcome: str
    outcome_label: str
    explanation: str | None = Field(description="解释说明（D23）")
    decided_on: date | None


class ResultsEvent(BaseModel):
    kind: str
    kind_label: str
    at: datetime
    on: date | None
    percent: int | None
    text: str | None
    due_on: date | None


class ResultsExtension(BaseModel):
    requested_on: date | None
    requested_due_on: date
    reason: str
    state: str
    state_label: str
    note: str | None
    decided_on: date | None


class ResultsHandling(BaseModel):
    lead_department: str
    co_handlers: list[str]
    state: str
    state_label: str
    assigned_on: date
    workdays: int
    due_on: date
    original_due_on: date
    due_estimated: bool = Field(description="当年节假日安排未公布，按周一至周五估算")
    percent: int
    plan: str | None
    planned_on: date | None
    result: str | None
    completed_on: date | None
    on_time: bool | None = Field(description="按期办结（含批准的延期）；未办结时为 null")
    events: list[ResultsEvent]
    extensions: list[ResultsExtension]


class ResultsItem(BaseModel):
    id: int
    seq: int
    text: str
    raised_by: str
    raised_by_label: str
    scope: str
    scope_label: str
    state: str
    state_label: str
    settled: bool
    outcome: str | None
    outcome_label: str | None
    explanation: str | None
    decided_on: date | None
    decisions: list[ResultsDecision] = Field(description="各级决定，向上级反映（D22）时逐级列出")
    handling: ResultsHandling | None


class ResultsFeedback(BaseModel):
    compiled_on: date = Field(description="结果反馈清单形成日期")
    items: int
    adopted: int
    partly: int
    not_adopted: int
    done: int = Field(description="已办结的条数")
    on_time: int = Field(description="按期办结的条数（含批准的延期）")
    summary: str


class ConsultationRatings(BaseModel):
    by_kind: list[KindPhaseFigures] = Field(description="每类评价每个阶段的条数和均分")
    overall: Figures


class ResultsConsultation(BaseModel):
    id: int
    held_on: date | None
    place_kind: str
    place_kind_label: str
    attendance: list[AttendanceGroup] = Field(description="按类别统计的参加人数（不含姓名）")
    attendee_count: int
    list_routed_on: date | None
    items: list[ResultsItem]
    feedback: ResultsFeedback | None = Field(description="结果反馈清单（D21）；全部意见办结或说明后才有")
    ratings: ConsultationRatings | None = Field(description="四类评价（D26–D27）的统计；尚无评价时为 null")


class ResultsSummary(BaseModel):
    stage: Stage
    stage_label: str
    consultation_count: int
    item_count: int
    settled_count: int
    adopted_count: int
    not_adopted_count: int
    escalated_count: int
    handling_count: int
    done_count: int
    done_on_time_count: int


class TopicResults(BaseModel):
    topic: ResultsTopic
    stage: Stage
    stage_label: str
    stages: list[StageStep]
    suggestions: list[ResultsSuggestion]
    research: list[ResultsResearch]
    consultations: list[ResultsConsultation]
    summary: ResultsSummary


@endpoint(bp, "/topics/<int:topic_id>/results", summary="议题的公开结果", tags=[TAG],
          response=TopicResults, auth=None)
def topic_results(topic_id: int):
    """任何人可看：建议 → 议题 → 调研 → 协商 → 意见建议 → 逐条的决定（采纳、部分采纳、
    不予采纳并解释说明、向上级政协反映）→ 承办部门的办理进展和结果。只公开已审定的议题，
    其他（草拟、审核中、退回修改、撤回）返回 404。姓名打码，不含手机号、审核人和办理人姓名、
    调研发现的敏感问题（D12）。"""
    return TopicResults(**results.topic_results(get_session(), topic_id))
