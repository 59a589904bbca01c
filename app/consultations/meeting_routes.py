"""Meeting API: schedule, invite, notices, RSVP, final list, briefing, calendar file. Thin: the
rules are in services.py; each request commits once."""
from __future__ import annotations

from flask import Blueprint
from sqlalchemy import select

from ..api import DOWNLOAD_TYPES, download, endpoint
from ..auth.current import require_person
from ..db import get_session
from ..idempotency import idempotent
from ..crypto import mask_name
from ..org.models import Person, Platform
from ..topics.models import Topic
from . import invitees, services
from . import briefing as briefings
from .ics import meeting_ics
from .models import (
    ANSWER_LABELS, CONSULTATION_STATE_LABELS, PLACE_KIND_LABELS, Attendance, Consultation,
    ConsultationState,
)
from .research import has_completed_research
from .rules import GROUP_LABELS, briefing_due_at
from .schemas import (
    AttendanceOut, BriefingOut, CancelIn, ConsultationIn, ConsultationList, ConsultationOut,
    ConsultationPatch, InvitationOut, InviteIn, MyAnswer, RsvpIn, SendIn, SendOut,
    SuggestedMember, SuggestedMembers,
)

bp = Blueprint("meetings", __name__, url_prefix="/api")
TAG = "协商会议"


def consultation_out(session, c: Consultation, person: Person) -> ConsultationOut:
    topic = session.get(Topic, c.topic_id)
    inv = services.my_invitation(session, c.id, person.id)
    mine = MyAnswer(group=inv.group, group_label=GROUP_LABELS[inv.group], answer=inv.answer,
                    answer_label=ANSWER_LABELS[inv.answer], reason=inv.reason,
                    substitute_name=inv.substitute_name,
                    substitute_title=inv.substitute_title) if inv else None
    platform = session.get(Platform, c.platform_id)
    convenor = session.get(Person, platform.convenor_id) if platform.convenor_id else None
    checked_in = session.scalar(select(Attendance.checked_in_at).where(
        Attendance.consultation_id == c.id, Attendance.person_id == person.id))
    return ConsultationOut(
        id=c.id, topic_id=c.topic_id, topic_title=topic.title, platform_id=c.platform_id,
        state=c.state, state_label=CONSULTATION_STATE_LABELS[c.state], starts_at=c.starts_at,
        ends_at=c.ends_at, place_kind=c.place_kind, place_label=PLACE_KIND_LABELS[c.place_kind],
        place=c.place, online_url=c.online_url, agenda=list(c.agenda or []),
        capacity=c.capacity, version=c.version, notice_sent_at=c.notice_sent_at,
        briefing_due_at=briefing_due_at(c.starts_at, c.briefing_days_before),
        briefing_sent_at=c.briefing_sent_at, list_locked_at=c.list_locked_at,
        cancelled_reason=c.cancelled_reason, calendar_url=services.calendar_link(c.id),
        link=services.meeting_link(c.id), my_invitation=mine, checked_in_at=checked_in,
        platform_name=platform.name, convenor_name=mask_name(convenor.name) if convenor else None,
        can_manage=services.is_manager(session, c, person))


def _detail(session, consultation_id: int, status: int = 200):
    person = require_person()
    c = services.get_consultation_or_404(session, consultation_id, person)
    return consultation_out(session, c, person), status


@endpoint(bp, "/topics/<int:topic_id>/consultations", methods=("POST",), summary="安排协商会议",
          tags=[TAG], body=ConsultationIn, response=ConsultationOut, status=201, auth="login")
@idempotent
def schedule(topic_id: int, body: ConsultationIn):
    """议题审定后，召集人或政协工作人员安排协商会议（时间、地点、议程）。一个议题同时只能有一场
    安排中的会议。安排后再邀请参加人员并发送会议通知。可带 Idempotency-Key 请求头（网络不好重试时
    返回第一次的结果，不会因“已有安排中的会议”而失败）。"""
    session = get_session()
    c = services.schedule_consultation(session, actor=require_person(), topic_id=topic_id,
                                       **body.model_dump())
    session.commit()
    return _detail(session, c.id, 201)


@endpoint(bp, "/consultations/<int:consultation_id>", summary="协商会议详情", tags=[TAG],
          response=ConsultationOut, auth="login")
def detail(consultation_id: int):
    """受邀人员、本平台召集人、政协工作人员和议题审核人可以查看。"""
    return _detail(get_session(), consultation_id)


@endpoint(bp, "/consultations/<int:consultation_id>", methods=("PATCH",), summary="修改会议安排",
          tags=[TAG], body=ConsultationPatch, response=ConsultationOut, auth="login")
def update(consultation_id: int, body: ConsultationPatch):
    """时间或地点变更后，所有受邀人员会收到变更通知，日历文件随之更新。"""
    session = get_session()
    services.update_consultation(session, actor=require_person(),
                                 consultation_id=consultation_id, **body.model_dump())
    session.commit()
    return _detail(session, consultation_id)


@endpoint(bp, "/consultations/<int:consultation_id>/cancel", methods=("POST",),
          summary="取消协商会议", tags=[TAG], body=CancelIn, response=ConsultationOut,
          auth="login")
def cancel(consultation_id: int, body: CancelIn):
    session = get_session()
    services.cancel_consultation(session, actor=require_person(),
                                 consultation_id=consultation_id, reason=body.reason)
    session.commit()
    return _detail(session, consultation_id)


def _attendance(session, c: Consultation) -> AttendanceOut:
    return AttendanceOut(
        groups=services.attendance_by_group(session, c.id),
        invitations=[InvitationOut(
            id=i.id, person_id=i.person_id, name=name, group=i.group,
            group_label=GROUP_LABELS[i.group], answer=i.answer,
            answer_label=ANSWER_LABELS[i.answer], reason=i.reason,
            substitute_name=i.substitute_name, substitute_title=i.substitute_title,
            answered_at=i.answered_at) for i, name in services.roster(session, c.id)],
        warnings=services.list_warnings(session, c), list_locked_at=c.list_locked_at)


@endpoint(bp, "/consultations/<int:consultation_id>/invitations", methods=("POST",),
          summary="邀请参加人员", tags=[TAG], body=InviteIn, response=AttendanceOut,
          auth="login")
def invite(consultation_id: int, body: InviteIn):
    """按群体邀请（D9/D10）：政协委员（本平台联系委员优先）、群众代表、利益相关方、党政领导、
    职能部门。每人填 person_id，或填 phone + name（尚未使用小程序的群众：按手机号找到此人，
    没有则新登记，本人日后用同一手机号登录时自动合并）。重复邀请同一人不会重复记录。
    会议通知发出后再邀请的人员会立即收到通知。返回的 warnings 是人员构成提示。
    群体须与本人身份相符（D9）：只有在任政协委员能作为政协委员邀请（未登记的手机号不能），否则
    422 `group_mismatch`，整批不保存。会议开始时间起不能再邀请（409 `consultation_held`，到场人员用
    现场签到登记），不保存任何内容。"""
    session = get_session()
    person = require_person()
    invitees.invite_people(session, actor=person, consultation_id=consultation_id,
                           invitees=[invitees.Invitee(**i.model_dump()) for i in body.invitees])
    session.commit()
    return _attendance(session, services.managed_consultation(session, consultation_id, person))


@endpoint(bp, "/consultations/<int:consultation_id>/invitations", summary="出席情况（按群体）",
          tags=[TAG], response=AttendanceOut, auth="login")
def attendance(consultation_id: int):
    """召集人实时查看各群体的答复情况和名单。"""
    session = get_session()
    c = services.managed_consultation(session, consultation_id, require_person())
    return _attendance(session, c)


@endpoint(bp, "/consultations/<int:consultation_id>/suggested-members",
          summary="建议邀请的政协委员", tags=[TAG], response=SuggestedMembers, auth="login")
def suggested_members(consultation_id: int):
    """先邀请本平台联系的委员，再邀请他们所在履职小组的其他委员（D29）。已邀请的不再列出。"""
    rows = invitees.suggested_members(get_session(), actor=require_person(),
                                      consultation_id=consultation_id)
    return SuggestedMembers(items=[SuggestedMember(**vars(r)) for r in rows])


@endpoint(bp, "/consultations/<int:consultation_id>/suggested-residents",
          summary="建议邀请的群众", tags=[TAG], response=SuggestedMembers, auth="login")
def suggested_residents(consultation_id: int):
    """提出、支持或关注了本议题相关建议的群众（姓名打码），可作为群众代表或利益相关方邀请
    （D9/D10）。已邀请的不再列出。"""
    rows = invitees.suggested_residents(get_session(), actor=require_person(),
                                        consultation_id=consultation_id)
    return SuggestedMembers(items=[SuggestedMember(**vars(r)) for r in rows])


@endpoint(bp, "/consultations/<int:consultation_id>/notices", methods=("POST",),
          summary="发送会议通知", tags=[TAG], body=SendIn, response=SendOut, auth="login")
def send_notices(consultation_id: int, body: SendIn):
    """给所有受邀人员发送会议通知（含日历文件和小程序链接）。人员构成缺少政协委员、群众代表或
    利益相关方时（D9），不发送并返回 sent=false 和提示；确认后带 confirm=true 再发。"""
    session = get_session()
    result = services.send_notices(session, actor=require_person(),
                                   consultation_id=consultation_id, confirm=body.confirm)
    session.commit()
    return SendOut(sent=result.sent, warnings=result.warnings, recipients=result.recipients)


@endpoint(bp, "/consultations/<int:consultation_id>/briefing", methods=("POST",),
          summary="发送会前通报", tags=[TAG], response=SendOut, auth="login")
def send_briefing(consultation_id: int):
    """D15 会前通报：议题、调研情况、议程。议题没有完成的调研记录时返回 409 `research_required`
    （D11 不调研不协商）。到了设定的天数也会由定时任务自动发送；重复发送不会重复通知。"""
    session = get_session()
    n = briefings.send_briefing(session, consultation_id=consultation_id, actor=require_person())
    session.commit()
    return SendOut(sent=True, warnings=[], recipients=n)


@endpoint(bp, "/consultations/<int:consultation_id>/briefing", summary="会前通报内容",
          tags=[TAG], response=BriefingOut, auth="login")
def briefing(consultation_id: int):
    session = get_session()
    c = services.get_consultation_or_404(session, consultation_id, require_person())
    return BriefingOut(consultation_id=c.id, text=briefings.briefing_text(session, c),
                       research_done=has_completed_research(session, c.topic_id))


@endpoint(bp, "/consultations/<int:consultation_id>/rsvp", methods=("PUT",), summary="答复邀请",
          tags=[TAG], body=RsvpIn, response=ConsultationOut, auth="login")
def rsvp(consultation_id: int, body: RsvpIn):
    """参加；请假（须说明原因）；委派他人参加（仅党政领导和职能部门，须填写姓名）。召集人确认名单
    前、会议开始前可以改变答复（到了开始时间 409 `consultation_held`）；同样的答复重复提交不会
    重复记录。"""
    session = get_session()
    services.answer_invitation(session, person=require_person(),
                               consultation_id=consultation_id, **body.model_dump())
    session.commit()
    return _detail(session, consultation_id)


@endpoint(bp, "/consultations/<int:consultation_id>/lock", methods=("POST",),
          summary="确认参会名单", tags=[TAG], response=AttendanceOut, auth="login")
def lock(consultation_id: int):
    """确认后受邀人员不能再改变答复。重复确认不改变确认时间。"""
    session = get_session()
    c = services.lock_list(session, actor=require_person(), consultation_id=consultation_id)
    session.commit()
    return _attendance(session, c)


@endpoint(bp, "/me/consultations", summary="我受邀的协商会议", tags=[TAG],
          response=ConsultationList, auth="login")
def my_consultations():
    """先列尚未结束的会议（时间近的在前，不含已取消的），再列最近召开过的 20 场（近的在前）。"""
    session = get_session()
    person = require_person()
    return ConsultationList(items=[consultation_out(session, c, person)
                                   for c in services.my_consultations(session, person.id)])


@endpoint(bp, "/consultations/<int:consultation_id>/calendar.ics", summary="会议日历文件",
          tags=[TAG], auth="login", produces=DOWNLOAD_TYPES[".ics"])
def calendar(consultation_id: int):
    """会议的 .ics 日历文件（加入手机日历）；与会议详情相同的查看范围。"""
    session = get_session()
    person = require_person()
    c = services.get_consultation_or_404(session, consultation_id, person)
    topic = session.get(Topic, c.topic_id)
    body = meeting_ics(
        uid=f"consultation-{c.id}@yshsl", sequence=c.version, starts_at=c.starts_at,
        ends_at=c.ends_at, summary=f"协商会议：{topic.title}",
        location=c.online_url if c.online_url and not c.place else c.place,
        description="议程：" + "；".join(c.agenda or []) if c.agenda else topic.title,
        url=c.online_url, cancelled=c.state is ConsultationState.cancelled)
    return download(body, f"consultation-{c.id}.ics")
