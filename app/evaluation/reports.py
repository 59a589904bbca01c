"""Staff reports: evaluations by platform, town or county (D26) and the three rates per
handling department (response, resolution, satisfaction — item 6, as Beijing's 12345 ranks
departments). Both lie within the caller's reach (app/org/reports.report_scope) and run a fixed
number of statements.

The three rates, for a department (Body kind department) and a period [date_from, date_to]
(China dates):
- response rate: of the tasks assigned to it in the period (HandlingTask.assigned_on), the share
  whose work plan (first TaskEvent `planned`) was submitted within N working days of assignment
  (app/workdays.workdays_between(assigned_on, plan date) <= N; N = the setting
  FOLLOWUP_RESPONSE_WORKDAYS, default 5). A task with no plan yet counts as not responded once
  N working days have passed, and is left out (pending) before that.
- resolution rate: of the tasks due in the period (HandlingTask.due_on, which already carries an
  approved extension), the share completed on or before their due date. Completed late, or still
  open after the due date: not resolved. Open and not yet due: pending, left out. The count of
  tasks with an approved extension is shown.
- satisfaction: the residents' ratings (kind resident, phase after_feedback, outcome score) made
  in the period of the consultations whose items the department led: their mean and the share of
  ratings of 4 or 5.
"""
from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime, time, timedelta, timezone

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from ..consultations.models import Consultation, OpinionItem, OpinionList
from ..errors import ValidationFailed
from ..org.models import Body, BodyKind, Person, Platform, Region
from ..org.reports import ancestor_ids, report_scope
from ..workdays import CHINA_TZ, workdays_between
from ..followup.models import (
    ExtensionRequest, ExtensionState, HandlingTask, TaskEvent, TaskEventKind,
)
from .models import Evaluation, EvaluationKind, Phase
from .services import HELD, Tally, breakdown, overall, tallies

LEVELS = ("platform", "town", "county")
DEFAULT_RESPONSE_WORKDAYS = 5


def today_local() -> date:
    return datetime.now(CHINA_TZ).date()


def local_date(at: datetime) -> date:
    if at.tzinfo is None:  # a naive value is UTC (app/db.py)
        at = at.replace(tzinfo=timezone.utc)
    return at.astimezone(CHINA_TZ).date()


def period(date_from: date | None, date_to: date | None) -> tuple[date, date]:
    """Default: this calendar year (Beijing time). A reversed period is refused here too, where
    one end is a default (the query model can only compare two given dates)."""
    today = today_local()
    d1, d2 = date_from or date(today.year, 1, 1), date_to or date(today.year, 12, 31)
    if d2 < d1:
        raise ValidationFailed(f"截止日期不能早于起始日期（{d1:%Y-%m-%d} 至 {d2:%Y-%m-%d}）",
                               details=[{"field": "to", "message": "截止日期不能早于起始日期"}])
    return d1, d2


def _bounds(d1: date, d2: date) -> tuple[datetime, datetime]:
    return (datetime.combine(d1, time(), CHINA_TZ),
            datetime.combine(d2 + timedelta(days=1), time(), CHINA_TZ))


def _rate(num: int, den: int) -> float | None:
    return round(num / den, 4) if den else None


# --- evaluations by platform / town / county (D26) ------------------------------------------------

def evaluation_report(session: Session, person: Person, *, level: str, date_from: date | None,
                      date_to: date | None, region_id: int | None = None) -> dict:
    d1, d2 = period(date_from, date_to)
    start, end = _bounds(d1, d2)
    scope = report_scope(session, person, region_id)
    rows = session.execute(
        select(Consultation.id, Platform.id, Platform.name, Region.path)
        .join(Platform, Platform.id == Consultation.platform_id)
        .join(Region, Region.id == Platform.region_id)
        .where(Consultation.state.in_(HELD), Consultation.starts_at >= start,
               Consultation.starts_at < end, scope.region_clause(Region.path))
        .order_by(Region.path, Platform.id, Consultation.id)).all()
    t = tallies(session, [r[0] for r in rows])
    groups: dict[int | None, dict] = {}
    names: dict[int, str] = {}
    for cid, pid, pname, path in rows:
        chain = ancestor_ids(path)
        if level == "platform":
            key = pid
            names[pid] = pname
        else:
            depth = 1 if level == "county" else 2
            key = chain[depth] if len(chain) > depth else None
        g = groups.setdefault(key, {"consultations": 0, "by": defaultdict(Tally)})
        g["consultations"] += 1
        for k, tally in t.get(cid, {}).items():
            g["by"][k].add(tally.count, tally.outcome_sum, tally.process_sum)
    if level != "platform":
        ids = [k for k in groups if k is not None]
        names = dict(session.execute(select(Region.id, Region.name)
                                     .where(Region.id.in_(ids))).all()) if ids else {}
    other = "县（区）级平台" if level == "town" else "市级平台"
    return {"level": level, "date_from": d1, "date_to": d2, "scope_region_id": region_id,
            "groups": [{"id": k, "name": names.get(k, other) if k is not None else other,
                        "consultations": g["consultations"], "by_kind": breakdown(g["by"]),
                        "overall": overall(g["by"]).as_dict()}
                       for k, g in groups.items()]}


# --- the three rates per department (item 6) ------------------------------------------------------

def department_rates(session: Session, person: Person, *, date_from: date | None,
                     date_to: date | None, region_id: int | None = None,
                     response_workdays: int = DEFAULT_RESPONSE_WORKDAYS,
                     today: date | None = None) -> dict:
    d1, d2 = period(date_from, date_to)
    start, end = _bounds(d1, d2)
    today = today or today_local()
    scope = report_scope(session, person, region_id)
    depts = session.execute(
        select(Body.id, Body.name, Region.name).join(Region, Region.id == Body.region_id)
        .where(Body.kind == BodyKind.department, scope.region_clause(Region.path))
        .order_by(Region.path, Body.id)).all()
    dept_ids = [d[0] for d in depts]
    figs = {d: {"assigned": 0, "responded": 0, "response_pending": 0, "due": 0, "resolved": 0,
                "resolution_pending": 0, "extended": 0, "ratings": 0, "rating_sum": 0,
                "satisfied": 0} for d in dept_ids}
    if dept_ids:
        first_plan = (select(TaskEvent.task_id, func.min(TaskEvent.at).label("at"))
                      .where(TaskEvent.kind == TaskEventKind.planned)
                      .group_by(TaskEvent.task_id).subquery())
        for task, plan_at in session.execute(
                select(HandlingTask, first_plan.c.at)
                .outerjoin(first_plan, first_plan.c.task_id == HandlingTask.id)
                .where(HandlingTask.lead_body_id.in_(dept_ids),
                       HandlingTask.assigned_on >= d1, HandlingTask.assigned_on <= d2)):
            f = figs[task.lead_body_id]
            if plan_at is not None:
                f["assigned"] += 1
                on_time = workdays_between(task.assigned_on, local_date(plan_at)) \
                    <= response_workdays
                f["responded"] += on_time
            elif workdays_between(task.assigned_on, today) > response_workdays:
                f["assigned"] += 1  # no plan and the time is up: not responded
            else:
                f["response_pending"] += 1
        extended = select(ExtensionRequest.task_id).where(
            ExtensionRequest.state == ExtensionState.approved)
        for task, was_extended in session.execute(
                select(HandlingTask, HandlingTask.id.in_(extended))
                .where(HandlingTask.lead_body_id.in_(dept_ids),
                       HandlingTask.due_on >= d1, HandlingTask.due_on <= d2)):
            f = figs[task.lead_body_id]
            f["extended"] += bool(was_extended)
            if task.completed_on is not None:
                f["due"] += 1
                f["resolved"] += task.completed_on <= task.due_on
            elif task.due_on < today:
                f["due"] += 1  # overdue and open: not resolved
            else:
                f["resolution_pending"] += 1
        # Satisfaction: resident ratings after the feedback list, of the consultations whose
        # items the department led, made in the period.
        handled = (select(HandlingTask.lead_body_id.label("body_id"),
                          OpinionList.consultation_id.label("cid"))
                   .join(OpinionItem, OpinionItem.id == HandlingTask.item_id)
                   .join(OpinionList, OpinionList.id == OpinionItem.list_id)
                   .where(HandlingTask.lead_body_id.in_(dept_ids)).distinct().subquery())
        for body_id, n, total, satisfied in session.execute(
                select(handled.c.body_id, func.count(), func.sum(Evaluation.outcome_score),
                       func.sum(case((Evaluation.outcome_score >= 4, 1), else_=0)))
                .join(Evaluation, Evaluation.consultation_id == handled.c.cid)
                .where(Evaluation.kind == EvaluationKind.resident,
                       Evaluation.phase == Phase.after_feedback,
                       Evaluation.updated_at >= start, Evaluation.updated_at < end)
                .group_by(handled.c.body_id)):
            f = figs[body_id]
            f.update(ratings=n, rating_sum=int(total or 0), satisfied=int(satisfied or 0))
    return {
        "date_from": d1, "date_to": d2, "scope_region_id": region_id,
        "response_workdays": response_workdays,
        "departments": [{
            "body_id": bid, "name": name, "region_name": rname,
            "assigned": f["assigned"], "responded": f["responded"],
            "response_pending": f["response_pending"],
            "response_rate": _rate(f["responded"], f["assigned"]),
            "due": f["due"], "resolved": f["resolved"],
            "resolution_pending": f["resolution_pending"], "extended": f["extended"],
            "resolution_rate": _rate(f["resolved"], f["due"]),
            "ratings": f["ratings"],
            "satisfaction_mean": round(f["rating_sum"] / f["ratings"], 2) if f["ratings"]
            else None,
            "satisfied_share": _rate(f["satisfied"], f["ratings"]),
        } for bid, name, rname in depts for f in (figs[bid],)],
    }

