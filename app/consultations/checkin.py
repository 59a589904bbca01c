"""At the meeting (D14, D16): check-in by the meeting's QR code or by the convenor, walk-in
residents, and the minutes with speakers by group. Services never commit.

The QR code is `yshsl-checkin:<consultation>:<window>:<signature>`, an HMAC with the server's
secret over the consultation and a 5-minute window. The convenor's screen shows the current one;
a code is accepted for its window and the one after (a slow scan at the edge still works), only
from an hour before the start until half an hour after the end. Without the code, only the
convenor can mark someone present.
"""
from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from flask import current_app
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ..audit.services import record
from ..db import utcnow
from ..errors import Conflict, ValidationFailed
from ..org.models import Person, Platform
from ..suggestions.trail import add_timeline
from ..workdays import CHINA_TZ
from .models import (
    Answer, Attendance, CheckInMethod, Consultation, ConsultationState, MinutesEntry,
)
from .research import has_completed_research
from .rules import GROUP_ROLES, InviteGroup, group_mismatch_message
from .services import (
    GroupMismatch, check_groups, get_consultation_or_404, managed_consultation, my_invitation,
)

WINDOW = timedelta(minutes=5)
OPENS_BEFORE = timedelta(hours=1)
CLOSES_AFTER = timedelta(minutes=30)
PREFIX = "yshsl-checkin"
SPEECH_MAX = 5000


class BadCheckinCode(ValidationFailed):
    code = "checkin_code_invalid"
    message = "签到码无效或已过期，请扫描会场现场的二维码"


def _window(at: datetime) -> int:
    return int(at.timestamp() // WINDOW.total_seconds())


def _sign(consultation_id: int, window: int) -> str:
    key = current_app.config["APP"].secret_key.encode()
    return hmac.new(key, f"checkin:{consultation_id}:{window}".encode(),
                    hashlib.sha256).hexdigest()[:20]


@dataclass
class CheckinCode:
    code: str
    expires_at: datetime


def _record_open(c: Consultation) -> None:
    """The meeting's record (attendance, minutes) is written from the meeting day until the
    opinion list is routed (D17/D18: `concluded`); then it is closed, as is a cancelled one."""
    if c.state is ConsultationState.cancelled:
        raise Conflict("该协商活动已取消", code="consultation_cancelled")
    if c.state is ConsultationState.concluded:
        raise Conflict("意见清单已报送，会议记录已关闭，不能再签到或记录发言",
                       code="consultation_concluded")


def _open_for_checkin(c: Consultation, now: datetime) -> None:
    _record_open(c)
    if not (c.starts_at - OPENS_BEFORE <= now <= c.ends_at + CLOSES_AFTER):
        raise Conflict("不在签到时间内（会前 1 小时至会后 30 分钟）", code="checkin_closed")


def _held(session: Session, c: Consultation) -> None:
    """D11 no research, no consultation: the meeting is not held (no check-in, no minutes)
    before the topic has a completed research record. The first act of the meeting marks it
    held. Every write to the record comes here: the consultation row is locked and read again,
    so a routing that closes the record (opinions.route_opinion_list) and a write to it take
    turns, and the write sees the closed state."""
    session.refresh(c, with_for_update=True)
    _record_open(c)
    if not has_completed_research(session, c.topic_id):
        raise Conflict("议题尚未完成调研，不能召开协商会议（不调研不协商）",
                       code="research_required")
    if c.state is ConsultationState.scheduled:
        c.state = ConsultationState.held
        c.held_at = utcnow()
        _public_held(session, c)


def _public_held(session: Session, c: Consultation) -> None:
    """D14: the topic's public trail says the consultation took place (where and when; no
    names). Once: the scheduled → held move happens once, under the consultation's lock."""
    platform = session.get(Platform, c.platform_id)
    held = c.held_at.astimezone(CHINA_TZ)
    add_timeline(session, topic_id=c.topic_id, kind="consultation_held",
                 text=f"{held:%Y年%m月%d日}在{platform.name}召开协商会议")


def current_code(session: Session, *, actor: Person, consultation_id: int,
                 now: datetime | None = None) -> CheckinCode:
    """For the convenor's screen (refresh every few minutes)."""
    c = managed_consultation(session, consultation_id, actor)
    now = now or utcnow()
    _open_for_checkin(c, now)
    window = _window(now)
    return CheckinCode(f"{PREFIX}:{c.id}:{window}:{_sign(c.id, window)}",
                       datetime.fromtimestamp((window + 1) * WINDOW.total_seconds(), timezone.utc))


def qr_png(code: str) -> str:
    """The code as a QR image (PNG data URI), big enough to scan from the back of a room."""
    import segno

    return segno.make(code, error="m").png_data_uri(scale=10, border=2)


def _check_code(c: Consultation, code: str, now: datetime) -> None:
    parts = (code or "").strip().split(":")
    if len(parts) != 4 or parts[0] != PREFIX or parts[1] != str(c.id) or not parts[2].isdigit():
        raise BadCheckinCode()
    window = int(parts[2])
    if not 0 <= _window(now) - window <= 1:
        raise BadCheckinCode()
    if not hmac.compare_digest(parts[3].encode(), _sign(c.id, window).encode()):
        raise BadCheckinCode()


def _add(session: Session, attendance: Attendance) -> tuple[Attendance, bool]:
    """Insert, or return the existing row for this person (UNIQUE consultation × person)."""
    if attendance.person_id is not None:
        existing = session.scalar(select(Attendance).where(
            Attendance.consultation_id == attendance.consultation_id,
            Attendance.person_id == attendance.person_id))
        if existing is not None:
            return existing, False
    try:
        with session.begin_nested():
            session.add(attendance)
            session.flush()
    except IntegrityError:  # the same person checked in at the same moment elsewhere
        return session.scalar(select(Attendance).where(
            Attendance.consultation_id == attendance.consultation_id,
            Attendance.person_id == attendance.person_id)), False
    return attendance, True


def check_in(session: Session, *, person: Person, consultation_id: int, code: str,
             now: datetime | None = None) -> Attendance:
    """A participant scans the code. Invitees are checked in with their group; someone who was
    not invited is recorded as a walk-in resident (the code proves they are in the room).
    Scanning twice changes nothing."""
    now = now or utcnow()
    c = session.get(Consultation, consultation_id)
    if c is None:
        raise BadCheckinCode()
    _open_for_checkin(c, now)  # outside the hours: say so, whatever was scanned
    _check_code(c, code, now)
    _held(session, c)
    inv = my_invitation(session, c.id, person.id)
    row, created = _add(session, Attendance(
        consultation_id=c.id, person_id=person.id, invitation_id=inv.id if inv else None,
        name=person.name, group=inv.group if inv else InviteGroup.resident,
        method=CheckInMethod.qr if inv else CheckInMethod.walk_in, checked_in_at=now,
        recorded_by_id=person.id))
    if created:
        record(session, actor_id=person.id, action="consultation.checkin",
               object_type="consultation", object_id=c.id,
               after={"person_id": person.id, "method": row.method.value})
    return row


def mark_present(session: Session, *, actor: Person, consultation_id: int,
                 person_id: int | None = None, name: str | None = None,
                 group: InviteGroup | None = None, now: datetime | None = None) -> Attendance:
    """The convenor marks someone present: an invitee (by person, or their substitute by the
    invitation), or a walk-in resident by name (D16: residents take part and speak)."""
    now = now or utcnow()
    c = managed_consultation(session, consultation_id, actor)
    _open_for_checkin(c, now)
    _held(session, c)
    inv = my_invitation(session, c.id, person_id) if person_id is not None else None
    if person_id is not None:
        person = session.get(Person, person_id)
        if person is None:
            raise ValidationFailed("该人员不存在", code="person_not_found")
        if inv is not None and inv.answer is Answer.substitute:
            # The invitee sent someone: the substitute is who is in the room.
            row = Attendance(consultation_id=c.id, person_id=None, invitation_id=inv.id,
                             name=inv.substitute_name or person.name, group=inv.group,
                             method=CheckInMethod.convenor, checked_in_at=now,
                             recorded_by_id=actor.id)
            done = session.scalar(select(Attendance).where(Attendance.invitation_id == inv.id))
            row, created = (done, False) if done else _add(session, row)
        else:
            if inv is None:  # a walk-in is counted in their real group (D9)
                check_groups(session, [(person.id, InviteGroup(group or InviteGroup.resident))])
            row, created = _add(session, Attendance(
                consultation_id=c.id, person_id=person.id,
                invitation_id=inv.id if inv else None, name=person.name,
                group=inv.group if inv else InviteGroup(group or InviteGroup.resident),
                method=CheckInMethod.convenor if inv else CheckInMethod.walk_in,
                checked_in_at=now, recorded_by_id=actor.id))
    else:
        name = " ".join((name or "").split())
        if not name:
            raise ValidationFailed("请填写到场人员的姓名", code="name_required")
        if InviteGroup(group or InviteGroup.resident) in GROUP_ROLES:  # unverifiable by name
            raise GroupMismatch(group_mismatch_message(name, InviteGroup(group)))
        row, created = _add(session, Attendance(
            consultation_id=c.id, person_id=None, invitation_id=None, name=name[:40],
            group=InviteGroup(group or InviteGroup.resident), method=CheckInMethod.walk_in,
            checked_in_at=now, recorded_by_id=actor.id))
    if created:
        record(session, actor_id=actor.id, action="consultation.mark_present",
               object_type="consultation", object_id=c.id,
               after={"person_id": row.person_id, "name": row.name, "group": row.group.value,
                      "method": row.method.value})
    return row


def attendance_of(session: Session, consultation_id: int) -> list[Attendance]:
    return list(session.scalars(select(Attendance).where(
        Attendance.consultation_id == consultation_id).order_by(Attendance.id)))


# --- minutes -------------------------------------------------------------------------------------

def add_speech(session: Session, *, actor: Person, consultation_id: int, group: InviteGroup,
               text: str, speaker_name: str | None = None, speaker_person_id: int | None = None
               ) -> MinutesEntry:
    """One speech in the minutes, in order, with the speaker's group (D16)."""
    c = managed_consultation(session, consultation_id, actor)
    _record_open(c)
    _held(session, c)
    text = (text or "").strip()
    if not text:
        raise ValidationFailed("发言内容不能为空", code="speech_required")
    if len(text) > SPEECH_MAX:
        raise ValidationFailed(f"一条发言最多 {SPEECH_MAX} 字", code="speech_too_long")
    if speaker_person_id is not None:
        speaker = session.get(Person, speaker_person_id)
        if speaker is None:
            raise ValidationFailed("发言人不存在", code="person_not_found")
        speaker_name = speaker_name or speaker.name
    speaker_name = " ".join((speaker_name or "").split())
    if not speaker_name:
        raise ValidationFailed("请填写发言人", code="speaker_required")
    seq = (session.scalar(select(func.max(MinutesEntry.seq)).where(
        MinutesEntry.consultation_id == c.id)) or 0) + 1
    entry = MinutesEntry(consultation_id=c.id, seq=seq, speaker_person_id=speaker_person_id,
                         speaker_name=speaker_name[:40], group=InviteGroup(group), text=text,
                         recorded_by_id=actor.id, created_at=utcnow())
    session.add(entry)
    session.flush()
    record(session, actor_id=actor.id, action="consultation.minutes", object_type="consultation",
           object_id=c.id, after={"seq": seq, "group": entry.group.value})
    return entry


def minutes_of(session: Session, *, person: Person, consultation_id: int) -> list[MinutesEntry]:
    """Readable by whoever may see the meeting (invitees, managers, the topic's reviewers)."""
    get_consultation_or_404(session, consultation_id, person)
    return list(session.scalars(select(MinutesEntry).where(
        MinutesEntry.consultation_id == consultation_id).order_by(MinutesEntry.seq)))


def speaking_notes(entries: list[MinutesEntry]) -> list[str]:
    """D16: residents speak first and most — reminders for the convenor, not refusals."""
    if not entries:
        return []
    notes = []
    if entries[0].group is not InviteGroup.resident:
        notes.append("D16：建议先请群众代表发言")
    residents = sum(1 for e in entries if e.group is InviteGroup.resident)
    if residents * 2 < len(entries):
        notes.append("D16：群众代表发言不到一半，建议多听群众意见")
    return notes
