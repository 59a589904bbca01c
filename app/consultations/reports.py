"""Consultation figures for the console and the scheduler: D25 frequency per platform per
calendar year, and the D29/D30 member participation ledger. Each answer runs a fixed number of
statements, whatever the number of platforms or members."""
from __future__ import annotations

from datetime import date, datetime, time

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from ..auth.permissions import get_person_or_404
from ..org.models import Person, Platform, Region, Role, RoleAssignment
from ..org.reports import ancestor_ids, platform_ref, platforms_in_scope, report_scope
from ..topics.models import Topic
from ..workdays import CHINA_TZ
from .models import (
    Answer, Attendance, Consultation, ConsultationState, Invitation, MinutesEntry, OpinionItem,
    OpinionList, ResearchState, ResearchTask,
)
from .opinions import blocked_routings
from .rules import MIN_CONSULTATIONS_PER_YEAR, below_minimum

HELD = (ConsultationState.held, ConsultationState.concluded)


def year_bounds(year: int) -> tuple[datetime, datetime]:
    """A calendar year in China time, as UTC-aware bounds [start, end)."""
    return (datetime.combine(date(year, 1, 1), time(), CHINA_TZ),
            datetime.combine(date(year + 1, 1, 1), time(), CHINA_TZ))


def held_counts(session: Session, year: int, platform_ids: list[int] | None = None
                ) -> dict[int, int]:
    """D25: consultations held per platform in `year` (one statement). For the scheduler too."""
    start, end = year_bounds(year)
    q = (select(Consultation.platform_id, func.count())
         .where(Consultation.state.in_(HELD), Consultation.starts_at >= start,
                Consultation.starts_at < end)
         .group_by(Consultation.platform_id))
    if platform_ids is not None:
        q = q.where(Consultation.platform_id.in_(platform_ids))
    return dict(session.execute(q).all())


def frequency_report(session: Session, person: Person, *, year: int,
                     region_id: int | None = None) -> dict:
    """D25 every platform at least two consultations a year: each active platform in scope with
    its count, those below the minimum, and the figures by county."""
    scope = report_scope(session, person, region_id)
    rows = platforms_in_scope(session, scope)
    counts = held_counts(session, year, [r[0].id for r in rows])
    platforms, counties = [], {}
    region_paths = dict(session.execute(select(Region.id, Region.path).where(
        Region.id.in_({r[0].region_id for r in rows}))).all()) if rows else {}
    for r in rows:
        p: Platform = r[0]
        held = counts.get(p.id, 0)
        platforms.append({**platform_ref(p, r.region_name), "held": held,
                          "below_minimum": below_minimum(held)})
        chain = ancestor_ids(region_paths.get(p.region_id, ""))
        county_id = chain[1] if len(chain) > 1 else chain[0] if chain else None
        fig = counties.setdefault(county_id, {"platforms": 0, "below_minimum": 0, "held": 0})
        fig["platforms"] += 1
        fig["held"] += held
        fig["below_minimum"] += below_minimum(held)
    names = dict(session.execute(select(Region.id, Region.name).where(
        Region.id.in_([k for k in counties if k is not None]))).all()) if counties else {}
    return {
        "year": year, "scope_region_id": region_id, "minimum": MIN_CONSULTATIONS_PER_YEAR,
        "total_platforms": len(platforms),
        "below_minimum": sum(1 for p in platforms if p["below_minimum"]),
        "platforms": platforms,
        "by_county": [{"region_id": k, "region_name": names.get(k, ""), **v}
                      for k, v in sorted(counties.items(), key=lambda kv: kv[0] or 0)],
        # D18: lists stuck with a body nobody reads, whatever the year (issue 10, item 7).
        "blocked_routings": blocked_routings(session, scope.region_clause),
    }


# --- D29 / D30: the member ledger ----------------------------------------------------------------------

LEDGER_COLUMNS = ("invited", "accepted", "declined", "attended", "research", "speeches",
                  "opinions")


def _ledger_rows(session: Session, person_ids: list[int], year: int) -> dict[int, dict]:
    """Counts per person for the year: seven aggregate statements in all."""
    start, end = year_bounds(year)
    in_year = (Consultation.starts_at >= start, Consultation.starts_at < end,
               Consultation.state != ConsultationState.cancelled)
    out = {pid: dict.fromkeys(LEDGER_COLUMNS, 0) for pid in person_ids}
    if not person_ids:
        return out

    def put(column: str, rows) -> None:
        for pid, n in rows:
            out[pid][column] = n

    inv = (select(Invitation.person_id, func.count(),
                  func.sum(case((Invitation.answer == Answer.accepted, 1), else_=0)),
                  func.sum(case((Invitation.answer == Answer.declined, 1), else_=0)))
           .join(Consultation, Consultation.id == Invitation.consultation_id)
           .where(Invitation.person_id.in_(person_ids), *in_year)
           .group_by(Invitation.person_id))
    for pid, invited, accepted, declined in session.execute(inv):
        out[pid].update(invited=invited, accepted=int(accepted or 0),
                        declined=int(declined or 0))
    put("attended", session.execute(
        select(Attendance.person_id, func.count())
        .join(Consultation, Consultation.id == Attendance.consultation_id)
        .where(Attendance.person_id.in_(person_ids), *in_year)
        .group_by(Attendance.person_id)))
    put("research", session.execute(
        select(ResearchTask.assignee_id, func.count())
        .where(ResearchTask.assignee_id.in_(person_ids),
               ResearchTask.state == ResearchState.completed,
               ResearchTask.completed_at >= start, ResearchTask.completed_at < end)
        .group_by(ResearchTask.assignee_id)))
    put("speeches", session.execute(
        select(MinutesEntry.speaker_person_id, func.count())
        .join(Consultation, Consultation.id == MinutesEntry.consultation_id)
        .where(MinutesEntry.speaker_person_id.in_(person_ids), *in_year)
        .group_by(MinutesEntry.speaker_person_id)))
    put("opinions", session.execute(
        select(OpinionItem.raised_by_person_id, func.count())
        .join(OpinionList, OpinionList.id == OpinionItem.list_id)
        .join(Consultation, Consultation.id == OpinionList.consultation_id)
        .where(OpinionItem.raised_by_person_id.in_(person_ids), *in_year)
        .group_by(OpinionItem.raised_by_person_id)))
    return out


def member_ledger(session: Session, viewer: Person, *, person_id: int, year: int) -> dict:
    """One member's year (D30): counts and the meetings, for the member and for CPPCC staff
    within reach (anyone else: 404)."""
    if person_id != viewer.id:
        get_person_or_404(session, person_id, viewer, "people.view")
    person = session.get(Person, person_id)
    start, end = year_bounds(year)
    meetings = session.execute(
        select(Consultation, Topic.title, Platform.name, Invitation.answer,
               Attendance.id.label("attendance_id"))
        .join(Invitation, Invitation.consultation_id == Consultation.id)
        .join(Topic, Topic.id == Consultation.topic_id)
        .join(Platform, Platform.id == Consultation.platform_id)
        .outerjoin(Attendance, (Attendance.consultation_id == Consultation.id)
                   & (Attendance.person_id == person_id))
        .where(Invitation.person_id == person_id, Consultation.starts_at >= start,
               Consultation.starts_at < end)
        .order_by(Consultation.starts_at)).all()
    return {"person_id": person.id, "name": person.name, "year": year,
            **_ledger_rows(session, [person.id], year)[person.id],
            "meetings": [{"consultation_id": c.id, "topic_title": title, "platform_name": pname,
                          "starts_at": c.starts_at, "state": c.state.value,
                          "answer": answer.value, "attended": att is not None}
                         for c, title, pname, answer, att in meetings]}


def members_ledger(session: Session, viewer: Person, *, year: int,
                   region_id: int | None = None) -> dict:
    """Every CPPCC member whose member role lies within the viewer's reach (or the region), with
    the year's counts — the annual assessment's sheet (D30)."""
    scope = report_scope(session, viewer, region_id)
    members = session.execute(
        select(Person.id, Person.name, Region.name.label("region_name"))
        .join(RoleAssignment, RoleAssignment.person_id == Person.id)
        .join(Region, Region.id == RoleAssignment.region_id)
        .where(RoleAssignment.role == Role.member, RoleAssignment.is_active.is_(True),
               Person.is_active.is_(True), scope.region_clause(Region.path))
        .order_by(Region.path, Person.id)).all()
    seen: dict[int, tuple[str, str]] = {}
    for pid, name, region_name in members:
        seen.setdefault(pid, (name, region_name))
    counts = _ledger_rows(session, list(seen), year)
    return {"year": year, "scope_region_id": region_id,
            "members": [{"person_id": pid, "name": name, "region_name": rname, **counts[pid]}
                        for pid, (name, rname) in seen.items()]}
