"""Request and response models of the evaluation API (they also make the OpenAPI document)."""
from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from ..suggestions.schemas import MultiLine
from .models import COMMENT_MAX, MAX_SCORE, MIN_SCORE


class EvaluationIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    outcome_score: int = Field(ge=MIN_SCORE, le=MAX_SCORE, description="结果满意度 1–5 分")
    process_score: int = Field(ge=MIN_SCORE, le=MAX_SCORE, description="过程满意度 1–5 分")
    comment: MultiLine | None = Field(default=None, max_length=COMMENT_MAX,
                                description="评价意见（可不填，最多 500 字）")


class EvaluationOut(BaseModel):
    id: int
    consultation_id: int
    phase: str
    phase_label: str
    kind: str
    kind_label: str
    outcome_score: int
    process_score: int
    comment: str | None
    created_at: datetime
    updated_at: datetime


class Figures(BaseModel):
    count: int
    outcome_mean: float | None
    process_mean: float | None


class KindPhaseFigures(Figures):
    kind: str
    kind_label: str
    phase: str
    phase_label: str


class PhaseState(BaseModel):
    phase: str
    phase_label: str
    is_open: bool


class ConsultationEvaluations(BaseModel):
    consultation_id: int
    is_model_case: bool
    phases: list[PhaseState]
    by_kind: list[KindPhaseFigures]
    overall: Figures


class MyPhase(PhaseState):
    rating: EvaluationOut | None


class MyRatings(BaseModel):
    consultation_id: int
    topic_title: str
    platform_name: str
    starts_at: datetime
    may_rate: bool
    phases: list[MyPhase]


class PeriodQuery(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)
    date_from: date | None = Field(default=None, alias="from",
                                   description="起始日期（北京时间，默认本年 1 月 1 日）")
    date_to: date | None = Field(default=None, alias="to",
                                 description="截止日期（含当日，默认本年 12 月 31 日）")
    region_id: int | None = Field(default=None, ge=1, description="只看该区域及以下")

    @model_validator(mode="after")
    def _ordered(self):
        if self.date_from and self.date_to and self.date_to < self.date_from:
            raise ValueError("截止日期不能早于起始日期")
        return self


class EvaluationReportQuery(PeriodQuery):
    level: Literal["platform", "town", "county"] = Field(
        default="platform", description="汇总层级：platform 平台 / town 乡镇（街道）/ county 县（区）")


class EvaluationGroup(BaseModel):
    id: int | None
    name: str
    consultations: int
    by_kind: list[KindPhaseFigures]
    overall: Figures


class EvaluationReport(BaseModel):
    level: str
    date_from: date
    date_to: date
    scope_region_id: int | None
    groups: list[EvaluationGroup]


class DepartmentRates(BaseModel):
    body_id: int
    name: str
    region_name: str
    assigned: int = Field(description="期内交办且已到响应时限（或已报送方案）的件数")
    responded: int = Field(description="按时报送工作方案的件数")
    response_pending: int = Field(description="尚在响应时限内、未报送方案的件数（不计入）")
    response_rate: float | None
    due: int = Field(description="期内到期且已办结或已逾期的件数")
    resolved: int = Field(description="在办理期限内办结的件数")
    resolution_pending: int = Field(description="尚未到期的在办件数（不计入）")
    extended: int = Field(description="经批准延期的件数")
    resolution_rate: float | None
    ratings: int
    satisfaction_mean: float | None
    satisfied_share: float | None = Field(description="4 分及以上的评价占比")


class DepartmentRatesReport(BaseModel):
    date_from: date
    date_to: date
    scope_region_id: int | None
    response_workdays: int
    departments: list[DepartmentRates]


class ModelCaseIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: MultiLine = Field(max_length=500, description="列为典型案例的理由")


class ModelCaseState(BaseModel):
    consultation_id: int
    is_model_case: bool
    reason: str | None = None
    marked_at: datetime | None = None


class ModelCaseOut(BaseModel):
    consultation_id: int
    topic_id: int
    topic_title: str
    platform_id: int
    platform_name: str
    held_on: date
    reason: str
    marked_at: datetime
    count: int
    outcome_mean: float | None
    process_mean: float | None


class ModelCaseList(BaseModel):
    cases: list[ModelCaseOut]
