"""Request and response models of the consultation API (they also make the OpenAPI document)."""
from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from .models import (
    RESEARCH_KIND_LABELS, RESEARCH_LINK_LABELS, Answer, CheckInMethod, ConsultationState,
    OpinionListState, PlaceKind, RoutingState,
    ResearchKind, ResearchLink, ResearchState, ResearchTask,
)
from ..suggestions.schemas import MultiLine, SingleLine
from ..workdays import CHINA_TZ
from .rules import InviteGroup, OpinionScope, RouteAction
from .services import GroupTally


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


class PhotoOut(BaseModel):
    id: int
    url: str
    width: int | None
    height: int | None


class PhotosIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    attachment_ids: list[int] = Field(min_length=1, max_length=20,
                                      description="本人上传（POST /api/uploads）、尚未使用的图片编号")


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
    photos: list[PhotoOut] = Field(default_factory=list)

    @classmethod
    def of(cls, t: ResearchTask, photos: list | None = None) -> "ResearchOut":
        return cls(id=t.id, topic_id=t.topic_id, kind=t.kind, kind_label=RESEARCH_KIND_LABELS[t.kind],
                   title=t.title, assignee_id=t.assignee_id, state=t.state, notes=t.notes,
                   is_sensitive=t.is_sensitive, is_long_standing=t.is_long_standing,
                   escalated_at=t.escalated_at, link_kind=t.link_kind,
                   link_label=RESEARCH_LINK_LABELS[t.link_kind] if t.link_kind else None,
                   link_ref=t.link_ref, completed_at=t.completed_at,
                   photos=[PhotoOut(id=a.id, url=f"/api/uploads/{a.storage_key}", width=a.width,
                                    height=a.height) for a in photos or []])


class ResearchList(BaseModel):
    items: list[ResearchOut]
    has_completed: bool = Field(description="是否已有完成的调研（D11：不调研不协商）")


# --- the meeting -------------------------------------------------------------------------------------

class ConsultationIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    starts_at: datetime = Field(description="开始时间，ISO 8601，须带时区，例如 2026-12-10T14:30:00+08:00")
    ends_at: datetime = Field(description="结束时间")
    place_kind: PlaceKind = Field(description="venue 议事室 / mobile 现场（移动协商）/ online 网上")
    place: str | None = Field(default=None, max_length=200,
                              description="地点；在议事室召开时可不填（用平台登记的地址）")
    online_url: str | None = Field(default=None, max_length=300, pattern=r"^https://\S+$",
                                   description="网上协商的会议链接（https）")
    agenda: list[Annotated[str, Field(min_length=1, max_length=100)]] = Field(
        default_factory=list, max_length=20, description="议程，每项一句话，最多 20 项")
    capacity: int | None = Field(default=None, ge=1, le=2000, description="可容纳人数")
    briefing_days_before: int = Field(default=3, ge=0, le=14,
                                      description="会前几天发送会前通报（D15），0 表示当天")

    _place = field_validator("place", mode="before")(_single_line)

    @field_validator("starts_at", "ends_at")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("时间须带时区，例如 +08:00")
        return value


class ConsultationPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    place_kind: PlaceKind | None = None
    place: str | None = Field(default=None, max_length=200)
    online_url: str | None = Field(default=None, max_length=300, pattern=r"^https://\S+$")
    agenda: list[Annotated[str, Field(min_length=1, max_length=100)]] | None = Field(
        default=None, max_length=20)
    capacity: int | None = Field(default=None, ge=1, le=2000)
    briefing_days_before: int | None = Field(default=None, ge=0, le=14)

    _place = field_validator("place", mode="before")(_single_line)
    _aware = field_validator("starts_at", "ends_at")(ConsultationIn._aware.__func__)

    @model_validator(mode="after")
    def _not_cleared(self) -> "ConsultationPatch":
        # Leave a field out to keep it; null cannot clear what a meeting must have. (An "after"
        # check: a "before" validator would hand strict mode Python strings, not JSON ones.)
        for name in ("starts_at", "ends_at", "place_kind", "briefing_days_before"):
            if name in self.model_fields_set and getattr(self, name) is None:
                raise ValueError(f"{name} 不能为空（不修改请不要提交该项）")
        return self


class CancelIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str = Field(min_length=2, max_length=200, description="取消原因（会告知所有受邀人）")


class InviteeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    person_id: int | None = Field(default=None, ge=1, description="已登记的人员；或改填 phone + name")
    phone: str | None = Field(default=None, max_length=20,
                              description="被邀请人的手机号（尚未使用小程序的群众，按手机号邀请）")
    name: SingleLine | None = Field(default=None, max_length=40, description="按手机号邀请时的姓名")
    group: InviteGroup = Field(description="member 政协委员 / resident 群众代表 / stakeholder "
                                           "利益相关方 / official 党政领导 / department 职能部门")

    @model_validator(mode="after")
    def _one_way(self) -> "InviteeIn":
        if (self.person_id is None) == (self.phone is None):
            raise ValueError("请选择已登记的人员，或填写手机号和姓名（二选一）")
        return self


class InviteIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    invitees: list[InviteeIn] = Field(min_length=1, max_length=500)


class MyAnswer(BaseModel):
    group: InviteGroup
    group_label: str
    answer: Answer
    answer_label: str
    reason: str | None
    substitute_name: str | None
    substitute_title: str | None = None


class InvitationOut(MyAnswer):
    id: int
    person_id: int
    name: str
    answered_at: datetime | None


class AttendanceOut(BaseModel):
    groups: list[GroupTally] = Field(description="按群体统计的答复情况")
    invitations: list[InvitationOut]
    warnings: list[str] = Field(description="提示：D9 人员构成（缺少委员、群众或利益相关方）、确认参加的人数超过会场容量")
    list_locked_at: datetime | None


class SendIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    confirm: bool = Field(default=False, description="人员构成有缺项时，确认仍然发送")


class SendOut(BaseModel):
    sent: bool
    warnings: list[str]
    recipients: int


class RsvpIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    answer: Answer = Field(description="accepted 参加 / declined 请假（须说明原因）/ substitute "
                                       "委派他人（仅党政领导和职能部门）")
    reason: str | None = Field(default=None, max_length=200)
    substitute_name: SingleLine | None = Field(default=None, max_length=40)
    substitute_title: str | None = Field(default=None, max_length=60)


class ConsultationOut(BaseModel):
    id: int
    topic_id: int
    topic_title: str
    platform_id: int
    state: ConsultationState
    state_label: str
    starts_at: datetime
    ends_at: datetime
    place_kind: PlaceKind
    place_label: str
    place: str
    online_url: str | None
    agenda: list[str]
    capacity: int | None
    version: int
    notice_sent_at: datetime | None
    briefing_due_at: datetime
    briefing_sent_at: datetime | None
    list_locked_at: datetime | None
    cancelled_reason: str | None
    calendar_url: str = Field(description=".ics 日历文件")
    link: str = Field(description="小程序页面路径")
    my_invitation: MyAnswer | None = Field(description="当前用户的邀请和答复；未受邀为空")
    checked_in_at: datetime | None = Field(None, description="当前用户在本次会议签到的时间；未签到为空")
    platform_name: str = ""
    convenor_name: str | None = Field(None, description="召集人（姓名打码）")
    can_manage: bool


class ConsultationList(BaseModel):
    items: list[ConsultationOut]


class BriefingOut(BaseModel):
    consultation_id: int
    text: str
    research_done: bool


# --- at the meeting --------------------------------------------------------------------------------

class CheckinCodeOut(BaseModel):
    code: str = Field(description="二维码内容；每 5 分钟更换，请在会场屏幕上显示并定时刷新")
    expires_at: datetime
    qr_png: str = Field(description="二维码图片（data:image/png;base64,…），可直接作为图片地址显示")


class CheckinIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    code: str = Field(min_length=1, max_length=100, description="扫描会场二维码得到的内容")


class MarkPresentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    person_id: int | None = Field(default=None, ge=1, description="已登记的人员（受邀人或群众）")
    name: SingleLine | None = Field(default=None, max_length=40, description="未登记的现场群众：姓名")
    group: InviteGroup | None = Field(default=None, description="未受邀人员的群体，默认群众代表")


class AttendeeOut(BaseModel):
    id: int
    person_id: int | None
    name: str
    group: InviteGroup
    group_label: str
    method: CheckInMethod
    checked_in_at: datetime


class AttendeeList(BaseModel):
    items: list[AttendeeOut]
    by_group: dict[str, int] = Field(description="各群体到场人数")


class SpeechIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    group: InviteGroup
    text: str = Field(min_length=1, max_length=5000)
    speaker_name: SingleLine | None = Field(default=None, max_length=40)
    speaker_person_id: int | None = Field(default=None, ge=1)


class SpeechOut(BaseModel):
    seq: int
    speaker_name: str
    group: InviteGroup
    group_label: str
    text: str
    created_at: datetime


class MinutesOut(BaseModel):
    items: list[SpeechOut]
    notes: list[str] = Field(description="D16 提示：群众先发言、多发言")


# --- the opinion list ------------------------------------------------------------------------------

class OpinionItemIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    # No control characters: the Word and Excel documents (D17, D21) cannot hold them.
    text: MultiLine = Field(min_length=1, max_length=2000)
    raised_by: InviteGroup = Field(description="提出意见的群体")
    raised_by_person_id: int | None = Field(default=None, ge=1,
                                            description="提出人（可不填；委员的意见计入履职台账）")
    scope: OpinionScope = Field(description="local 本级可解决 / county 需县（区）解决 / city 需市级解决")


class OpinionListIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    items: list[OpinionItemIn] = Field(min_length=1, max_length=100)


class OpinionItemOut(BaseModel):
    seq: int
    text: str
    raised_by: InviteGroup
    raised_by_label: str
    raised_by_person_id: int | None = Field(None, description="提出人（如有记录）")
    scope: OpinionScope
    scope_label: str


class RoutingPlace(BaseModel):
    """Which part of a list goes to which body, at which stage (D18)."""

    scope: OpinionScope
    scope_label: str
    stage: int
    action: RouteAction
    body_id: int
    body_name: str


class RoutingOut(RoutingPlace):
    id: int
    state: RoutingState
    state_label: str
    decided_at: datetime | None
    note: str | None
    blocked_reason: str | None = Field(
        None, description="待处理但该机构没有在岗的审核人时为“无人接收”（政协工作人员已收到提醒）")


class OpinionListOut(BaseModel):
    consultation_id: int
    title: str
    state: OpinionListState
    routed_at: datetime | None
    items: list[OpinionItemOut]
    routings: list[RoutingOut] = Field(description="报送去向和各机构的处理情况（D18）")
    word_url: str
    excel_url: str


class DecisionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    forward: bool = Field(default=True, description="政协党组审核：true 转送党委政府 / false 暂不转送（须说明理由）；接收机构：确认收到（只能为 true）")
    note: str | None = Field(default=None, max_length=1000, description="备注或理由（最多 1000 字）")


class InboxEntry(BaseModel):
    routing: RoutingOut
    consultation_id: int
    title: str
    platform_name: str
    items: list[OpinionItemOut]


class OpinionInbox(BaseModel):
    items: list[InboxEntry]


# --- figures ---------------------------------------------------------------------------------------

class YearQuery(BaseModel):
    model_config = ConfigDict(extra="ignore")
    year: int = Field(default_factory=lambda: datetime.now(CHINA_TZ).year, ge=2000, le=2100,
                      description="年度（默认今年）")
    region_id: int | None = Field(default=None, ge=1, description="区域（须在管辖范围内）")


class PlatformFrequency(BaseModel):
    id: int
    name: str
    kind: str
    kind_label: str
    region_id: int
    region_name: str
    held: int = Field(description="本年度已召开的协商次数")
    below_minimum: bool = Field(description="少于每年 2 次（D25）")


class CountyFrequency(BaseModel):
    region_id: int | None
    region_name: str
    platforms: int
    held: int
    below_minimum: int


class BlockedRouting(RoutingPlace):
    """A copy of an opinion list pending with a body that has no active reader (D18)."""

    routing_id: int
    consultation_id: int
    topic_title: str
    platform_id: int
    platform_name: str
    routed_at: datetime | None = Field(description="意见清单报送时间")
    reason: str = Field(description="受阻原因，如“无人接收”（该机构没有在岗的审核人）")


class FrequencyReport(BaseModel):
    year: int
    scope_region_id: int | None
    minimum: int
    total_platforms: int
    below_minimum: int
    platforms: list[PlatformFrequency]
    by_county: list[CountyFrequency]
    blocked_routings: list[BlockedRouting] = Field(
        description="管辖范围内报送受阻的意见清单（不分年度）：待处理但接收机构无人接收")


class LedgerCounts(BaseModel):
    invited: int = Field(description="受邀次数")
    accepted: int = Field(description="答复参加")
    declined: int = Field(description="请假")
    attended: int = Field(description="实际到场")
    research: int = Field(description="完成的调研任务")
    speeches: int = Field(description="会上发言")
    opinions: int = Field(description="提出并列入意见清单的意见")


class LedgerMeeting(BaseModel):
    consultation_id: int
    topic_title: str
    platform_name: str
    starts_at: datetime
    state: str
    answer: str
    attended: bool


class MemberLedger(LedgerCounts):
    person_id: int
    name: str
    year: int
    meetings: list[LedgerMeeting]


class LedgerRow(LedgerCounts):
    person_id: int
    name: str
    region_name: str


class MembersLedger(BaseModel):
    year: int
    scope_region_id: int | None
    members: list[LedgerRow]


class SuggestedMember(BaseModel):
    person_id: int
    name: str
    reason: str


class SuggestedMembers(BaseModel):
    items: list[SuggestedMember]
