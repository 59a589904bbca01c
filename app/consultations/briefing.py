"""The D15 pre-consultation briefing (topic, research summary, agenda), never before a
completed research record (D11 不调研不协商): sent by the convenor or by the scheduler job
send_due_briefings on its day. Services never commit."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..audit.services import record
from ..db import utcnow
from ..errors import Conflict
from ..notify.services import fan_out
from ..org.models import Person, Platform
from .models import Answer, Consultation, ConsultationState
from .research import has_completed_research, research_of
from .rules import briefing_due_at
from .services import (
    calendar_link, ensure_open, invitations_of, managed_consultation, meeting_link,
    notice_payload, topic_of, when_text, where_text,
)


def briefing_text(session: Session, c: Consultation) -> str:
    """Topic, research summary, agenda: what participants should know before they come."""
    topic = topic_of(session, c)
    done = [t for t in research_of(session, topic.id) if t.completed_at is not None]
    lines = [f"议题：{topic.title}", topic.description, f"时间：{when_text(c)}", where_text(c)]
    if c.agenda:
        lines.append("议程：" + "；".join(f"{n}. {item}" for n, item in enumerate(c.agenda, 1)))
    lines.append("调研情况：" + ("；".join(f"{t.title}——{t.notes[:120]}" for t in done)
                                 or "暂无已完成的调研"))
    return "\n".join(lines)


def send_briefing(session: Session, *, consultation_id: int, actor: Person | None = None
                  ) -> int:
    """D15 pre-consultation briefing to everyone invited who has not declined. D11 no research,
    no consultation: refused until the topic has a completed research record. Sent once per
    meeting version (dedupe key): a retry or a second scheduler sends nothing twice."""
    c = (managed_consultation(session, consultation_id, actor) if actor is not None
         else session.get(Consultation, consultation_id))
    ensure_open(c)
    if not has_completed_research(session, c.topic_id):
        raise Conflict("议题尚未完成调研，不能发送会前通报（不调研不协商）",
                       code="research_required")
    people = [i.person_id for i in invitations_of(session, c.id) if i.answer is not Answer.declined]
    topic = topic_of(session, c)
    fan_out(session, kind="briefing", subject=f"consultation:{c.id}:v{c.version}",
            recipient_ids=people, title="会前通报",
            body=f"“{topic.title}”协商会议将于{when_text(c)}召开，请提前了解议题和调研情况。",
            link=meeting_link(c.id), payload=notice_payload(c, topic,
                                                            calendar=calendar_link(c.id)))
    if c.briefing_sent_at is None:
        c.briefing_sent_at = utcnow()
        record(session, actor_id=actor.id if actor else None, action="consultation.briefing",
               object_type="consultation", object_id=c.id, after={"recipients": len(people)})
    return len(people)


def due_briefings(session: Session, now: datetime | None = None) -> list[int]:
    """Consultations whose briefing is due and unsent (the scheduler's scan)."""
    now = now or utcnow()
    rows = session.scalars(select(Consultation).where(
        Consultation.state == ConsultationState.scheduled,
        Consultation.briefing_sent_at.is_(None), Consultation.notice_sent_at.is_not(None),
        Consultation.starts_at > now))
    return [c.id for c in rows if briefing_due_at(c.starts_at, c.briefing_days_before) <= now]




def send_due_briefings(session: Session, now: datetime | None = None) -> dict:
    """Scheduler job (D15): every briefing that is due goes out. One blocked by D11 (no
    completed research yet) is not sent; the convenor is reminded once per meeting version."""
    sent = blocked = 0
    for cid in due_briefings(session, now):
        try:
            with session.begin_nested():
                send_briefing(session, consultation_id=cid)
            sent += 1
        except Conflict as exc:
            if exc.code != "research_required":
                raise
            blocked += 1
            c = session.get(Consultation, cid)
            platform = session.get(Platform, c.platform_id)
            topic = topic_of(session, c)
            fan_out(session, kind="reminder", subject=f"consultation:{c.id}:v{c.version}:research",
                    recipient_ids=[pid for pid in (platform.convenor_id, c.created_by_id) if pid],
                    title="会前通报未能发送",
                    body=f"“{topic.title}”协商会议的会前通报已到发送时间，但议题还没有完成的调研"
                         "记录（不调研不协商）。请尽快完成调研。",
                    link=meeting_link(c.id))
    return {"sent": sent, "blocked": blocked}
