"""At the meeting: the check-in code, check-in, marking present, attendance, minutes. Thin: the
rules are in checkin.py; each request commits once."""
from __future__ import annotations

from flask import Blueprint

from ..api import endpoint
from ..auth.current import require_person
from ..db import get_session
from ..idempotency import idempotent
from . import checkin
from .models import Attendance, MinutesEntry
from .rules import GROUP_LABELS
from .schemas import (
    AttendeeList, AttendeeOut, CheckinCodeOut, CheckinIn, MarkPresentIn, MinutesOut, SpeechIn,
    SpeechOut,
)
from .services import managed_consultation

bp = Blueprint("meeting_day", __name__, url_prefix="/api")
TAG = "协商会议"


def attendee_out(a: Attendance) -> AttendeeOut:
    return AttendeeOut(id=a.id, person_id=a.person_id, name=a.name, group=a.group,
                       group_label=GROUP_LABELS[a.group], method=a.method,
                       checked_in_at=a.checked_in_at)


def speech_out(e: MinutesEntry) -> SpeechOut:
    return SpeechOut(seq=e.seq, speaker_name=e.speaker_name, group=e.group,
                     group_label=GROUP_LABELS[e.group], text=e.text, created_at=e.created_at)


@endpoint(bp, "/consultations/<int:consultation_id>/checkin-code", summary="会场签到二维码",
          tags=[TAG], response=CheckinCodeOut, auth="login")
def checkin_code(consultation_id: int):
    """召集人在会场屏幕上显示的签到二维码内容，每 5 分钟更换（请定时刷新）。会前 1 小时至会后
    30 分钟可用。"""
    code = checkin.current_code(get_session(), actor=require_person(),
                                consultation_id=consultation_id)
    return CheckinCodeOut(code=code.code, expires_at=code.expires_at,
                          qr_png=checkin.qr_png(code.code))


@endpoint(bp, "/consultations/<int:consultation_id>/checkin", methods=("POST",),
          summary="扫码签到", tags=[TAG], body=CheckinIn, response=AttendeeOut, auth="login")
def check_in(consultation_id: int, body: CheckinIn):
    """在小程序中扫描会场二维码签到。受邀人员按其群体签到；未受邀的群众记为现场群众。重复扫码
    不会重复签到。签到码无效或过期：422 `checkin_code_invalid`。"""
    session = get_session()
    row = checkin.check_in(session, person=require_person(), consultation_id=consultation_id,
                           code=body.code)
    session.commit()
    return attendee_out(row)


@endpoint(bp, "/consultations/<int:consultation_id>/attendance", methods=("POST",),
          summary="召集人登记到场", tags=[TAG], body=MarkPresentIn, response=AttendeeOut,
          auth="login")
def mark_present(consultation_id: int, body: MarkPresentIn):
    """召集人为不便扫码的人员登记到场：受邀人员（委派他人的，登记其代为参加人员）、已登记的群众，
    或按姓名登记现场群众。"""
    session = get_session()
    row = checkin.mark_present(session, actor=require_person(), consultation_id=consultation_id,
                               **body.model_dump())
    session.commit()
    return attendee_out(row)


@endpoint(bp, "/consultations/<int:consultation_id>/attendance", summary="到场名单",
          tags=[TAG], response=AttendeeList, auth="login")
def attendance(consultation_id: int):
    session = get_session()
    managed_consultation(session, consultation_id, require_person())
    rows = checkin.attendance_of(session, consultation_id)
    by_group: dict[str, int] = {}
    for a in rows:
        by_group[a.group.value] = by_group.get(a.group.value, 0) + 1
    return AttendeeList(items=[attendee_out(a) for a in rows], by_group=by_group)


@endpoint(bp, "/consultations/<int:consultation_id>/minutes", methods=("POST",),
          summary="记录发言", tags=[TAG], body=SpeechIn, response=MinutesOut, status=201,
          auth="login")
@idempotent
def add_speech(consultation_id: int, body: SpeechIn):
    """按发言顺序记录：发言人、所属群体、发言内容（D16：群众先发言、多发言）。可带
    Idempotency-Key 请求头：网络不好重试时不会把同一段发言记两次。"""
    session = get_session()
    person = require_person()
    checkin.add_speech(session, actor=person, consultation_id=consultation_id,
                       **body.model_dump())
    session.commit()
    return _minutes(session, person, consultation_id), 201


def _minutes(session, person, consultation_id: int) -> MinutesOut:
    entries = checkin.minutes_of(session, person=person, consultation_id=consultation_id)
    return MinutesOut(items=[speech_out(e) for e in entries],
                      notes=checkin.speaking_notes(entries))


@endpoint(bp, "/consultations/<int:consultation_id>/minutes", summary="会议记录", tags=[TAG],
          response=MinutesOut, auth="login")
def minutes(consultation_id: int):
    """受邀人员、本平台召集人、政协工作人员和议题审核人可以查看。"""
    session = get_session()
    return _minutes(session, require_person(), consultation_id)
