"""The consultation meeting: scheduling, invitations by group, notices, RSVPs, the locked final
list, changes and cancellation, the D15 briefing. Services never commit; the API and the chat
channel (issue 5) call the same functions.

Lifecycle: scheduled (invitations, answers) → held (check-in, minutes) → concluded (opinion list
routed); cancelled from scheduled. The final list is locked by the convenor (answers frozen).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ..audit.services import record, snapshot
from ..db import utcnow
from ..errors import Conflict, Forbidden, NotFound, ValidationFailed
from ..notify.services import fan_out
from ..org.models import Person, Platform
from ..topics.models import Topic, TopicState
from ..topics.services import get_topic_or_404, managed_topic, manages_platform
from ..workdays import CHINA_TZ
from .models import (
    PLACE_KIND_LABELS, Answer, Consultation, ConsultationState, Invitation, PlaceKind,
)
from .rules import (
    GROUP_LABELS, GROUP_ROLES, SUBSTITUTABLE, InviteGroup, composition_warnings,
    group_mismatch_message,
)

ACTIVE = (ConsultationState.scheduled, ConsultationState.held)
REASON_MAX = 200


def meeting_link(consultation_id: int) -> str:
    """Deep link into the mini-program's meeting page."""
    return f"/pages/meeting/meeting?id={consultation_id}"


def calendar_link(consultation_id: int) -> str:
    return f"/api/consultations/{consultation_id}/calendar.ics"


def when_text(c: Consultation) -> str:
    start, end = c.starts_at.astimezone(CHINA_TZ), c.ends_at.astimezone(CHINA_TZ)
    return f"{start:%Y年%m月%d日 %H:%M}–{end:%H:%M}"


def where_text(c: Consultation) -> str:
    return f"{PLACE_KIND_LABELS[c.place_kind]}：{c.place}"


# --- loaders -----------------------------------------------------------------------------------------

def get_consultation_or_404(session: Session, consultation_id: int, person: Person
                            ) -> Consultation:
    """Visible to the platform's managers, the topic's reviewers, and everyone invited."""
    c = session.get(Consultation, consultation_id)
    if c is None:
        raise NotFound("该协商活动不存在", code="consultation_not_found")
    if my_invitation(session, c.id, person.id) is not None:
        return c
    try:
        get_topic_or_404(session, c.topic_id, person)  # managers and the topic's reviewers
    except NotFound:
        raise NotFound("该协商活动不存在", code="consultation_not_found") from None
    return c


def managed_consultation(session: Session, consultation_id: int, person: Person
                         ) -> Consultation:
    c = get_consultation_or_404(session, consultation_id, person)
    if not is_manager(session, c, person):  # an invitee knows it exists: 403, not 404
        raise Forbidden("只有本平台召集人或政协工作人员可以办理", code="not_topic_manager")
    return c


def my_invitation(session: Session, consultation_id: int, person_id: int, *,
                  lock: bool = False) -> Invitation | None:
    """``lock``: FOR UPDATE, re-read — two answers at once (two taps, the chat and the
    mini-program) are then taken one after the other, and the second sees the first."""
    stmt = select(Invitation).where(Invitation.consultation_id == consultation_id,
                                    Invitation.person_id == person_id)
    if lock:
        stmt = stmt.with_for_update().execution_options(populate_existing=True)
    return session.scalar(stmt)


def coming_invitations(session: Session, person_id: int, *, limit: int = 50
                       ) -> list[tuple[Consultation, Invitation, str]]:
    """The person's coming meetings (not ended, not cancelled), soonest first, with their
    invitation and the topic's title: "my meetings" in the mini-program and in the chat."""
    return [tuple(row) for row in session.execute(
        select(Consultation, Invitation, Topic.title)
        .join(Invitation, Invitation.consultation_id == Consultation.id)
        .join(Topic, Topic.id == Consultation.topic_id)
        .where(Invitation.person_id == person_id, Consultation.ends_at >= utcnow(),
               Consultation.state != ConsultationState.cancelled)
        .order_by(Consultation.starts_at, Consultation.id).limit(limit))]


def my_consultations(session: Session, person_id: int, *, past: int = 20) -> list[Consultation]:
    """Coming meetings first (soonest first), then the ``past`` most recent ones."""
    coming = [c for c, _, _ in coming_invitations(session, person_id)]
    earlier = session.scalars(
        select(Consultation).join(Invitation, Invitation.consultation_id == Consultation.id)
        .where(Invitation.person_id == person_id, Consultation.ends_at < utcnow())
        .order_by(Consultation.starts_at.desc()).limit(past)).all()
    return [*coming, *earlier]


def managed_coming(session: Session, person: Person, *, limit: int = 50
                   ) -> list[tuple[Consultation, str]]:
    """The coming (or still running, within check-in's closing time) meetings on platforms the
    person manages — the reach managed_consultation checks — with the topic's title."""
    from ..auth.permissions import reach
    from ..org.models import Region
    from ..topics.services import MANAGE
    from .checkin import CLOSES_AFTER

    r = reach(session, person, MANAGE)
    if not r.region_paths and not r.platform_ids:
        return []
    return [tuple(row) for row in session.execute(
        select(Consultation, Topic.title)
        .join(Topic, Topic.id == Consultation.topic_id)
        .join(Platform, Platform.id == Consultation.platform_id)
        .join(Region, Region.id == Platform.region_id)
        .where(Consultation.state.in_(ACTIVE),
               Consultation.ends_at >= utcnow() - CLOSES_AFTER,
               r.platform_clause(Platform.id, Region.path))
        .order_by(Consultation.starts_at, Consultation.id).limit(limit))]


def ensure_open(c: Consultation) -> None:
    if c.state is ConsultationState.cancelled:
        raise Conflict("该协商活动已取消", code="consultation_cancelled")
    if c.state is not ConsultationState.scheduled:
        raise Conflict("协商活动已召开，不能再修改安排", code="consultation_held")


# --- scheduling --------------------------------------------------------------------------------------

def _check_time_and_place(platform: Platform, *, starts_at: datetime, ends_at: datetime,
                          place_kind: PlaceKind, place: str | None, online_url: str | None
                          ) -> str:
    if starts_at <= utcnow():
        raise ValidationFailed("协商时间应晚于现在", code="starts_in_past")
    if ends_at <= starts_at:
        raise ValidationFailed("结束时间应晚于开始时间", code="ends_before_start")
    if (ends_at - starts_at).total_seconds() > 12 * 3600:
        raise ValidationFailed("一次协商活动不超过 12 小时", code="meeting_too_long")
    if place_kind is PlaceKind.online:
        if not online_url:
            raise ValidationFailed("网上协商需要填写会议链接", code="online_url_required")
        place = place or "网上协商（会议链接见通知）"
    if place_kind is PlaceKind.venue:
        place = place or platform.venue_address
        if not place:
            raise ValidationFailed("本平台尚未登记议事场所地址，请填写地点", code="place_required")
    if not place:
        raise ValidationFailed("请填写协商地点", code="place_required")
    return place


def schedule_consultation(session: Session, *, actor: Person, topic_id: int,
                          starts_at: datetime, ends_at: datetime, place_kind: PlaceKind,
                          place: str | None = None, online_url: str | None = None,
                          agenda: list[str] | None = None, capacity: int | None = None,
                          briefing_days_before: int = 3) -> Consultation:
    """D14: a consultation on an approved topic. One active consultation per topic."""
    topic = managed_topic(session, topic_id, actor)
    if topic.state is not TopicState.approved:
        raise Conflict("议题审定后才能安排协商", code="topic_not_approved")
    busy = session.scalar(select(Consultation.id).where(Consultation.topic_id == topic.id,
                                                        Consultation.state.in_(ACTIVE)))
    if busy is not None:
        raise Conflict("该议题已有安排中的协商活动", code="consultation_exists")
    platform = session.get(Platform, topic.platform_id)
    place = _check_time_and_place(platform, starts_at=starts_at, ends_at=ends_at,
                                  place_kind=place_kind, place=place, online_url=online_url)
    c = Consultation(topic_id=topic.id, platform_id=platform.id, state=ConsultationState.scheduled,
                     starts_at=starts_at, ends_at=ends_at, place_kind=place_kind, place=place,
                     online_url=online_url, agenda=list(agenda or []), capacity=capacity,
                     briefing_days_before=briefing_days_before, version=1,
                     created_by_id=actor.id)
    session.add(c)
    session.flush()
    record(session, actor_id=actor.id, action="consultation.schedule",
           object_type="consultation", object_id=c.id, after=snapshot(c))
    return c


# --- invitations -------------------------------------------------------------------------------------

class GroupMismatch(ValidationFailed):
    code = "group_mismatch"


def office_holders(session: Session, person_ids: set[int], group: InviteGroup) -> set[int]:
    """Who of `person_ids` may be in `group` (D9): everyone, or for a group that names an
    office (rules.GROUP_ROLES) those with an active role of that kind."""
    from ..org.models import RoleAssignment

    role = GROUP_ROLES.get(InviteGroup(group))
    if role is None or not person_ids:
        return set(person_ids)
    return set(session.scalars(select(RoleAssignment.person_id).where(
        RoleAssignment.person_id.in_(person_ids), RoleAssignment.role == role,
        RoleAssignment.is_active.is_(True))))


def check_groups(session: Session, invitees: list[tuple[int, InviteGroup]]) -> None:
    """D9: each person is what their group says (422 `group_mismatch` for the first who is
    not): a 政协委员 holds an active member role."""
    for group in GROUP_ROLES:
        ids = {pid for pid, g in invitees if InviteGroup(g) is group}
        wrong = ids - office_holders(session, ids, group)
        if wrong:
            pid = next(pid for pid, _ in invitees if pid in wrong)
            raise GroupMismatch(group_mismatch_message(session.get(Person, pid).name, group))


def ensure_invitable(c: Consultation) -> None:
    """New invitations (D9/D10) only before the start (D14: participants determined beforehand):
    answers close at starts_at (issue 10 item 4), so a notice sent later would ask for an answer
    nobody can give. Someone who comes anyway is recorded by walk-in check-in. Checked whatever
    the state (still `scheduled` until someone checks in)."""
    ensure_open(c)
    if utcnow() >= c.starts_at:
        raise Conflict("会议已经开始，不能再邀请。到场的人员请在会场用“现场签到”登记",
                       code="consultation_held")


def invite(session: Session, *, actor: Person, consultation_id: int,
           invitees: list[tuple[int, InviteGroup]]) -> list[Invitation]:
    """Invite people by group (D9/D10). Inviting someone twice changes nothing (one invitation
    per person: a UNIQUE constraint). After the notices went out, newcomers get theirs now."""
    c = managed_consultation(session, consultation_id, actor)
    ensure_invitable(c)
    if c.list_locked_at is not None:
        raise Conflict("名单已确认，不能再邀请", code="list_locked")
    ids = [pid for pid, _ in invitees]
    found = set(session.scalars(select(Person.id).where(Person.id.in_(ids),
                                                        Person.is_active.is_(True))))
    missing = [pid for pid in ids if pid not in found]
    if missing:
        raise ValidationFailed(f"被邀请人不存在：{missing[:5]}", code="invitee_not_found")
    check_groups(session, list(dict(invitees).items()))
    existing = {i.person_id: i for i in session.scalars(select(Invitation).where(
        Invitation.consultation_id == c.id, Invitation.person_id.in_(ids)))}
    now, added = utcnow(), []
    for pid, group in dict(invitees).items():
        if pid in existing:
            continue
        inv = Invitation(consultation_id=c.id, person_id=pid, group=InviteGroup(group),
                         answer=Answer.pending, invited_at=now, invited_by_id=actor.id)
        try:
            with session.begin_nested():
                session.add(inv)
                session.flush()
        except IntegrityError:  # invited at the same moment by someone else: one invitation
            existing[pid] = my_invitation(session, c.id, pid)
            continue
        added.append(inv)
    if added:
        record(session, actor_id=actor.id, action="consultation.invite",
               object_type="consultation", object_id=c.id,
               after={"invited": [[i.person_id, i.group.value] for i in added]})
        if c.notice_sent_at is not None:
            _send_notice(session, c, [i.person_id for i in added])
    return [existing.get(pid) or next(i for i in added if i.person_id == pid)
            for pid in dict(invitees)]


def invitations_of(session: Session, consultation_id: int) -> list[Invitation]:
    return list(session.scalars(select(Invitation).where(
        Invitation.consultation_id == consultation_id).order_by(Invitation.id)))


def composition(session: Session, consultation_id: int) -> list[str]:
    """D9 warnings for the invitation list as it stands."""
    groups = set(session.scalars(select(Invitation.group).where(
        Invitation.consultation_id == consultation_id).distinct()))
    return composition_warnings(groups)


def list_warnings(session: Session, c: Consultation) -> list[str]:
    """What the convenor should look at before the meeting: D9 composition, and more people
    coming (accepted or sending someone) than the place holds."""
    warnings = composition(session, c.id)
    if c.capacity:
        coming = sum(t.accepted + t.substitute for t in attendance_by_group(session, c.id))
        if coming > c.capacity:
            warnings.append(f"确认参加的有 {coming} 人，已超过会场容量 {c.capacity} 人")
    return warnings


# --- notices -----------------------------------------------------------------------------------------

def topic_of(session: Session, c: Consultation) -> Topic:
    return session.get(Topic, c.topic_id)


def notice_payload(c: Consultation, topic: Topic, **extra) -> dict:
    """The outbox payload of a meeting's notices: its id, and what the WeChat message templates
    show (docs/wechat.md, WECHAT_TEMPLATES sources topic, starts_at, place)."""
    return {"consultation_id": c.id, "topic": topic.title, "starts_at": c.starts_at.isoformat(),
            "place": c.place, **extra}


def _send_notice(session: Session, c: Consultation, person_ids: list[int]) -> None:
    topic = topic_of(session, c)
    fan_out(session, kind="meeting_notice", subject=f"consultation:{c.id}:v{c.version}",
            recipient_ids=person_ids, title="协商会议通知",
            body=f"邀请您参加“{topic.title}”协商会议，时间：{when_text(c)}，{where_text(c)}。"
                 "回复“参加”或“请假 原因”（也可以在小程序会议页面答复）。",
            link=meeting_link(c.id), payload=notice_payload(c, topic, version=c.version,
                                                            calendar=calendar_link(c.id)))


@dataclass
class SendResult:
    sent: bool
    warnings: list[str]
    recipients: int


def send_notices(session: Session, *, actor: Person, consultation_id: int,
                 confirm: bool = False) -> SendResult:
    """The meeting notice to everyone invited. D9: when the list lacks members, residents or
    stakeholders, nothing is sent unless the convenor confirms (`confirm`)."""
    c = managed_consultation(session, consultation_id, actor)
    ensure_open(c)
    people = [i.person_id for i in invitations_of(session, c.id)]
    if not people:
        raise Conflict("请先邀请参加人员", code="no_invitees")
    warnings = composition(session, c.id)
    if warnings and not confirm:
        return SendResult(False, warnings, 0)
    _send_notice(session, c, people)
    first = c.notice_sent_at is None
    c.notice_sent_at = c.notice_sent_at or utcnow()
    if first:
        record(session, actor_id=actor.id, action="consultation.notice",
               object_type="consultation", object_id=c.id,
               after={"recipients": len(people), "warnings": warnings})
    return SendResult(True, warnings, len(people))


def update_consultation(session: Session, *, actor: Person, consultation_id: int,
                        **changes) -> Consultation:
    """Change time or place: the version goes up and everyone invited is told (D15 spirit:
    people must know what they are coming to)."""
    c = managed_consultation(session, consultation_id, actor)
    ensure_open(c)
    before = snapshot(c)
    values = {k: getattr(c, k) for k in ("starts_at", "ends_at", "place_kind", "place",
                                         "online_url")}
    values.update({k: v for k, v in changes.items() if v is not None and k in values})
    new_kind = changes.get("place_kind")
    if new_kind is not None and new_kind != c.place_kind and changes.get("place") is None:
        values["place"] = None  # a new kind of place needs its own place (or the venue)
    platform = session.get(Platform, c.platform_id)
    values["place"] = _check_time_and_place(platform, **values)
    for key in ("agenda", "capacity", "briefing_days_before"):
        if changes.get(key) is not None:
            setattr(c, key, changes[key])
    moved = any(getattr(c, k) != v for k, v in values.items())
    for key, value in values.items():
        setattr(c, key, value)
    if moved:
        c.version += 1
    session.flush()
    record(session, actor_id=actor.id, action="consultation.update", object_type="consultation",
           object_id=c.id, before=before, after=snapshot(c))
    if moved and c.notice_sent_at is not None:
        topic = topic_of(session, c)
        fan_out(session, kind="meeting_notice", subject=f"consultation:{c.id}:v{c.version}",
                recipient_ids=[i.person_id for i in invitations_of(session, c.id)],
                title="协商会议变更", body=f"“{topic.title}”协商会议有变更，现定于{when_text(c)}，"
                                          f"{where_text(c)}。",
                link=meeting_link(c.id), payload=notice_payload(
                    c, topic, version=c.version, calendar=calendar_link(c.id)))
    return c


def cancel_consultation(session: Session, *, actor: Person, consultation_id: int,
                        reason: str) -> Consultation:
    c = managed_consultation(session, consultation_id, actor)
    ensure_open(c)
    reason = " ".join((reason or "").split())
    if not reason:
        raise ValidationFailed("请说明取消原因", code="reason_required")
    c.state = ConsultationState.cancelled
    c.cancelled_reason = reason[:REASON_MAX]
    c.version += 1
    session.flush()
    record(session, actor_id=actor.id, action="consultation.cancel", object_type="consultation",
           object_id=c.id, after={"reason": c.cancelled_reason})
    if c.notice_sent_at is not None:
        topic = topic_of(session, c)
        fan_out(session, kind="meeting_notice", subject=f"consultation:{c.id}:cancelled",
                recipient_ids=[i.person_id for i in invitations_of(session, c.id)],
                title="协商会议取消", body=f"原定{when_text(c)}的“{topic.title}”协商会议已取消。"
                                          f"原因：{c.cancelled_reason}",
                link=meeting_link(c.id), payload=notice_payload(c, topic, cancelled=True))
    return c


# --- RSVP ----------------------------------------------------------------------------------------------

def answer_invitation(session: Session, *, person: Person, consultation_id: int, answer: Answer,
                      reason: str | None = None, substitute_name: str | None = None,
                      substitute_title: str | None = None) -> Invitation:
    """The invitee's answer: accept; decline with a reason; send a substitute (officials and
    departments only). One answer per invitation, changeable until the list is locked or the
    meeting starts; the same answer again changes nothing."""
    inv = my_invitation(session, consultation_id, person.id, lock=True)
    if inv is None:
        raise NotFound("您没有收到该协商活动的邀请", code="invitation_not_found")
    c = session.get(Consultation, consultation_id)
    # D14: the meeting is held with the participants determined before it — answers close at the
    # start time (docs/consultations.md), whether or not anyone has checked in yet (the state
    # turns `held` only then), and stay closed afterwards.
    if c.state is not ConsultationState.cancelled and (
            c.state is not ConsultationState.scheduled or utcnow() >= c.starts_at):
        raise Conflict("会议已经开始，不能再更改答复", code="consultation_held")
    ensure_open(c)
    if c.list_locked_at is not None:
        raise Conflict("召集人已确认参会名单，如需变更请直接联系召集人", code="list_locked")
    answer = Answer(answer)
    reason = " ".join((reason or "").split()) or None
    if answer is Answer.pending:
        raise ValidationFailed("请选择参加、请假或委派他人", code="answer_required")
    if answer is Answer.declined and not reason:
        raise ValidationFailed("请假请说明原因", code="reason_required")
    if answer is Answer.substitute:
        if inv.group not in SUBSTITUTABLE:
            raise ValidationFailed("只有党政领导和职能部门可以委派他人参加",
                                   code="substitute_not_allowed")
        substitute_name = " ".join((substitute_name or "").split())
        if not substitute_name:
            raise ValidationFailed("请填写代为参加人员的姓名", code="substitute_required")
    else:
        substitute_name = substitute_title = None
    new = (answer, reason if answer is Answer.declined else None, substitute_name,
           substitute_title)
    if (inv.answer, inv.reason, inv.substitute_name, inv.substitute_title) == new:
        return inv
    before = {"answer": inv.answer.value}
    inv.answer, inv.reason, inv.substitute_name, inv.substitute_title = new
    inv.answered_at = utcnow()
    session.flush()
    record(session, actor_id=person.id, action="consultation.rsvp", object_type="invitation",
           object_id=inv.id, before=before,
           after={"answer": answer.value, "reason": inv.reason,
                  "substitute": inv.substitute_name})
    return inv


class GroupTally(BaseModel):
    """Answers of one group (also the API's response item)."""

    group: InviteGroup
    label: str
    invited: int
    accepted: int
    declined: int
    substitute: int
    pending: int


def attendance_by_group(session: Session, consultation_id: int) -> list[GroupTally]:
    """Live answers by group for the convenor (one query)."""
    counts: dict[InviteGroup, dict[Answer, int]] = {}
    for group, answer in session.execute(select(Invitation.group, Invitation.answer).where(
            Invitation.consultation_id == consultation_id)):
        counts.setdefault(group, {}).setdefault(answer, 0)
        counts[group][answer] += 1
    return [GroupTally(group=g, label=GROUP_LABELS[g], invited=sum(counts[g].values()),
                       accepted=counts[g].get(Answer.accepted, 0),
                       declined=counts[g].get(Answer.declined, 0),
                       substitute=counts[g].get(Answer.substitute, 0),
                       pending=counts[g].get(Answer.pending, 0))
            for g in InviteGroup if g in counts]


def roster(session: Session, consultation_id: int) -> list[tuple[Invitation, str]]:
    """Every invitation of the meeting with the invitee's name, in invitation order: the names
    behind attendance_by_group (the convenor's API and the chat's 出席情况)."""
    return [(inv, name or "") for inv, name in session.execute(
        select(Invitation, Person.name).join(Person, Person.id == Invitation.person_id)
        .where(Invitation.consultation_id == consultation_id).order_by(Invitation.id))]


def lock_list(session: Session, *, actor: Person, consultation_id: int) -> Consultation:
    """The convenor confirms the final list: answers are frozen from now on. Idempotent."""
    c = managed_consultation(session, consultation_id, actor)
    if c.state not in ACTIVE:  # a convenor who forgot may still lock once the meeting began
        ensure_open(c)
    if c.list_locked_at is None:
        c.list_locked_at = utcnow()
        c.list_locked_by_id = actor.id
        session.flush()
        tallies = attendance_by_group(session, c.id)
        record(session, actor_id=actor.id, action="consultation.lock_list",
               object_type="consultation", object_id=c.id,
               after={t.group.value: {"accepted": t.accepted, "substitute": t.substitute,
                                      "declined": t.declined, "pending": t.pending}
                      for t in tallies})
    return c


def is_manager(session: Session, c: Consultation, person: Person) -> bool:
    return manages_platform(session, person, session.get(Platform, c.platform_id))
