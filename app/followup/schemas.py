"""Request and response models of the handling (D20–D21) and supervision (D24) API."""
from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel, ConfigDict, Field

from ..suggestions.schemas import MultiLine
from .models import TaskEventKind, TaskState

UploadKeys = list[str]
_KEYS = Field(default_factory=list, max_length=9,
              description="上传接口返回的 key（图片：POST /api/uploads；PDF：POST "
                          "/api/document-uploads），最多 9 个，只能用本人上传且未使用的")


class PlanIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: MultiLine = Field(min_length=1, max_length=2000, description="工作方案（D20）")


class ProgressIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    percent: int = Field(ge=0, le=100, description="办理进度（0–100，不能低于上次）")
    text: MultiLine = Field(min_length=1, max_length=2000, description="办理进展说明")
    upload_keys: UploadKeys = _KEYS


class CompleteIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    result: MultiLine = Field(min_length=1, max_length=2000, description="办理结果（D21）")
    upload_keys: UploadKeys = _KEYS


class ExtensionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    due_on: date = Field(description="申请延至的日期：晚于当前办理期限，且不早于今天")
    reason: MultiLine = Field(min_length=1, max_length=500, description="延期理由")


class TaskQuery(BaseModel):
    state: list[TaskState] = Field(default_factory=list,
                                   description="按状态筛选，可重复：assigned 待签收 / accepted "
                                               "已签收 / planned 办理中 / completed 已办结")
    overdue: bool | None = Field(default=None, description="true：只看已逾期；false：未逾期")


class FileOut(BaseModel):
    url: str
    content_type: str
    size_bytes: int
    is_document: bool = Field(description="PDF 等文件（下载），否则是图片")


class BodyRef(BaseModel):
    id: int
    name: str


class TaskEventOut(BaseModel):
    id: int
    kind: TaskEventKind
    kind_label: str
    body_name: str | None
    actor_name: str
    percent: int | None
    text: str | None
    due_on: date | None
    at: datetime
    attachments: list[FileOut]


class ExtensionOut(BaseModel):
    id: int
    requested_due_on: date
    reason: str
    requested_at: datetime


class TaskOut(BaseModel):
    id: int
    item_id: int
    item_text: str
    topic_title: str
    platform_name: str
    role: str = Field(description="lead 牵头承办 / co 协办")
    lead_body: BodyRef
    co_bodies: list[BodyRef]
    state: TaskState
    state_label: str
    assigned_on: date
    workdays: int
    due_on: date
    original_due_on: date
    due_estimated: bool = Field(description="期限按周一至周五估算（当年节假日安排尚未公布）")
    overdue: bool
    workdays_overdue: int = Field(description="已逾期的工作日数（未逾期为 0）")
    percent: int
    plan_text: str | None
    result_text: str | None
    completed_on: date | None
    is_key: bool = Field(description="重点难点事项，有委员跟踪督办（D24）")
    pending_extension: ExtensionOut | None


class TaskDetail(TaskOut):
    events: list[TaskEventOut]


class TaskList(BaseModel):
    items: list[TaskOut]


# --- supervision (D24) ---------------------------------------------------------------------------

class FlagIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: MultiLine = Field(min_length=1, max_length=200, description="列为重点难点事项的理由")
    member_ids: list[int] = Field(min_length=1, max_length=20,
                                  description="跟踪督办的政协委员（人员 id）")


class NoteIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: MultiLine = Field(min_length=1, max_length=2000, description="督办意见（视察、民主监督所见）")
    upload_keys: UploadKeys = Field(default_factory=list, max_length=9,
                                    description="图片（POST /api/uploads 返回的 key），最多 9 张")


class NoteOut(BaseModel):
    id: int
    text: str
    author_name: str
    at: datetime
    photos: list[str] = Field(description="图片地址")


class SupervisedItem(BaseModel):
    item_id: int
    item_text: str
    topic_title: str
    platform_name: str
    state: str
    state_label: str
    is_key: bool
    key_reason: str | None
    task_id: int | None
    task_state_label: str | None
    department: str | None = Field(description="牵头承办部门")
    percent: int | None
    due_on: date | None
    overdue: bool
    workdays_overdue: int
    supervisors: list[str] = Field(description="跟踪督办的委员")
    notes: list[NoteOut]


class SupervisedList(BaseModel):
    items: list[SupervisedItem]
