"""The three rates per handling department (item 6, as Beijing's 12345 ranks departments):
response (work plan within N working days of assignment), resolution (completed by the due date,
approved extensions counted), satisfaction (residents' ratings after the feedback list). Built
from hand-written task rows with known answers, around National Day 2026: 10-01…10-07 are
holidays and Saturday 10-10 is a make-up workday, so 5 working days after Monday 09-28 is 10-10.
"""
from __future__ import annotations

import io
from datetime import date, datetime

import pytest
from sqlalchemy import select

from app.consultations.rules import OpinionScope
from app.evaluation import reports
from app.evaluation.models import Evaluation, EvaluationKind, Phase
from app.followup.models import (
    ExtensionRequest, ExtensionState, HandlingTask, ItemDecision, Outcome, TaskEvent,
    TaskEventKind, TaskState,
)
from app.org import factories as f
from app.org.models import Body, BodyKind, Person, Region
from app.workdays import CHINA_TZ, add_workdays

from .. import consult_world, followup_world
from ..consult_world import as_
from ..helpers import committed_session

MON = date(2026, 9, 28)
PERIOD = "from=2026-09-01&to=2026-12-31"


def at(y, m, d, hh=10, mm=0) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=CHINA_TZ)


def test_five_working_days_after_the_national_day_monday():
    assert add_workdays(MON, 5) == date(2026, 10, 10)  # the make-up Saturday


@pytest.fixture
def world(app):
    return consult_world.build(app)


def task(s, world, item_id, body_id, *, assigned_on=MON, due_on=None, plan_at=None,
         completed_on=None, extended_to=None):
    pp = world["people"]
    s.add(ItemDecision(item_id=item_id, scope=OpinionScope.local,
                       body_id=world["bodies"]["town_pc"], outcome=Outcome.adopted,
                       decided_by_id=pp["rev_town_pc"], decided_at=at(2026, 9, 27)))
    original = due_on or add_workdays(assigned_on, 5)
    t = HandlingTask(item_id=item_id, lead_body_id=body_id,
                     assigning_body_id=world["bodies"]["town_pc"],
                     assigned_by_id=pp["rev_town_pc"], assigned_at=at(2026, 9, 28),
                     assigned_on=assigned_on, workdays=5, due_on=extended_to or original,
                     original_due_on=original,
                     state=TaskState.completed if completed_on else
                     TaskState.planned if plan_at else TaskState.assigned,
                     planned_at=plan_at, completed_on=completed_on,
                     completed_at=at(completed_on.year, completed_on.month, completed_on.day)
                     if completed_on else None)
    s.add(t)
    s.flush()
    s.add(TaskEvent(task_id=t.id, kind=TaskEventKind.assigned, body_id=body_id,
                    actor_id=pp["rev_town_pc"], at=at(2026, 9, 28)))
    if plan_at:
        s.add(TaskEvent(task_id=t.id, kind=TaskEventKind.planned, body_id=body_id,
                        actor_id=pp["handler"], text="工作方案", at=plan_at))
        # A second plan later does not move the response time (the first one counts).
        s.add(TaskEvent(task_id=t.id, kind=TaskEventKind.planned, body_id=body_id,
                        actor_id=pp["handler"], text="修订方案", at=at(2026, 11, 20)))
    if extended_to:
        s.add(ExtensionRequest(task_id=t.id, requested_due_on=extended_to, reason="需协调资金",
                               requested_by_id=pp["handler"], state=ExtensionState.approved,
                               decided_by_id=pp["rev_town_pc"], decided_at=at(2026, 10, 9)))
    if completed_on:
        s.add(TaskEvent(task_id=t.id, kind=TaskEventKind.completed, body_id=body_id,
                        actor_id=pp["handler"], text="已办结",
                        at=at(completed_on.year, completed_on.month, completed_on.day)))
    return t


@pytest.fixture
def rates_world(app, world):
    """Housing: four tasks assigned on Monday 2026-09-28 with 5 working days (due 10-10).
    1 plan on 10-10 (5th working day, the make-up Saturday)  → responded; done 10-10 → resolved
    2 plan at 00:30 on Monday 10-12, Beijing time (6th; still Sunday 10-11 in UTC) → late;
      extension approved to 10-20, done 10-19 → resolved, extended
    3 plan on 10-08 (3rd working day; 10 calendar days) → responded; done 10-13 → late
    4 no plan, never done → not responded; overdue and open → not resolved
    Residents rated the consultation after its feedback: 5, 4, 2 (plus ratings that must not
    count: an after-meeting one, a member's, one outside the period)."""
    routed = followup_world.routed_list(
        app, world, room="village", items=[(f"第{i}条意见", "local") for i in range(1, 6)])
    items, pp = routed["item_ids"], world["people"]
    with committed_session(app) as s:
        housing = world["bodies"]["housing"]
        west = s.scalar(select(Region).where(Region.code == "9102"))
        west_dept = f.create_body(s, name="西县交通运输局", kind=BodyKind.department, region=west)
        idle = f.create_body(s, name="东县民政局", kind=BodyKind.department,
                             region=s.get(Body, housing).region)
        s.flush()
        task(s, world, items[0], housing, plan_at=at(2026, 10, 10, 16),
             completed_on=date(2026, 10, 10))
        task(s, world, items[1], housing, plan_at=at(2026, 10, 12, 0, 30),
             extended_to=date(2026, 10, 20), completed_on=date(2026, 10, 19))
        task(s, world, items[2], housing, plan_at=at(2026, 10, 8), completed_on=date(2026, 10, 13))
        task(s, world, items[3], housing)
        task(s, world, items[4], west_dept.id, plan_at=at(2026, 9, 29))  # another county
        cid = routed["consultation_id"]
        for who, kind, phase, score, when in [
                ("resident", "resident", "after_feedback", 5, at(2026, 10, 25)),
                ("resident2", "resident", "after_feedback", 4, at(2026, 10, 26)),
                ("stakeholder", "resident", "after_feedback", 2, at(2026, 11, 2)),
                ("outsider", "resident", "after_meeting", 1, at(2026, 10, 1)),
                ("member", "member", "after_feedback", 1, at(2026, 10, 25)),
                ("official", "resident", "after_feedback", 1, at(2025, 6, 1))]:
            s.add(Evaluation(consultation_id=cid, kind=EvaluationKind(kind), phase=Phase(phase),
                             author_id=pp[who], outcome_score=score, process_score=3,
                             created_at=when, updated_at=when))
        return {"housing": housing, "west": west_dept.id, "idle": idle.id}


def test_the_three_rates_from_known_rows(app, client, world, rates_world):
    r = client.get(f"/api/reports/department-rates?{PERIOD}", headers=as_(world, "county_staff"))
    assert r.status_code == 200, r.json
    body = r.json
    assert body["response_workdays"] == 5
    depts = {d["body_id"]: d for d in body["departments"]}
    assert rates_world["west"] not in depts  # another county's department: outside reach
    h = depts[rates_world["housing"]]
    assert (h["assigned"], h["responded"], h["response_rate"]) == (4, 2, 0.5)
    assert (h["due"], h["resolved"], h["extended"], h["resolution_rate"]) == (4, 2, 1, 0.5)
    assert (h["ratings"], h["satisfaction_mean"], h["satisfied_share"]) == (3, 3.67, 0.6667)
    idle = depts[rates_world["idle"]]
    assert (idle["assigned"], idle["response_rate"], idle["resolution_rate"],
            idle["satisfaction_mean"]) == (0, None, None, None)


def test_a_longer_response_limit_counts_the_monday_plan(app, world, rates_world):
    """With 6 working days the plan at 00:30 on Monday 10-12 is in time too."""
    with committed_session(app) as s:
        staff = s.get(Person, world["people"]["county_staff"])
        out = reports.department_rates(s, staff, date_from=date(2026, 9, 1),
                                       date_to=date(2026, 12, 31), response_workdays=6,
                                       today=date(2026, 12, 2))
    h = next(d for d in out["departments"] if d["body_id"] == rates_world["housing"])
    assert (h["responded"], h["response_rate"]) == (3, 0.75)


def test_the_setting_sets_the_response_limit(app, client, world, rates_world, monkeypatch):
    """FOLLOWUP_RESPONSE_WORKDAYS=6: the Monday 00:30 plan is in time (3 of 4)."""
    monkeypatch.setitem(app.config, "APP", app.config["APP"].with_(followup_response_workdays=6))
    r = client.get(f"/api/reports/department-rates?{PERIOD}", headers=as_(world, "county_staff"))
    assert r.json["response_workdays"] == 6
    h = next(d for d in r.json["departments"] if d["body_id"] == rates_world["housing"])
    assert (h["responded"], h["response_rate"]) == (3, 0.75)


def test_tasks_still_within_their_time_are_pending_not_failed(app, world, rates_world):
    """Seen on 10-09 (4 working days after assignment): task 4 has no plan but time left,
    and nothing is overdue yet — pending, left out of both rates."""
    with committed_session(app) as s:
        staff = s.get(Person, world["people"]["county_staff"])
        out = reports.department_rates(s, staff, date_from=date(2026, 9, 1),
                                       date_to=date(2026, 12, 31), today=date(2026, 10, 9))
    h = next(d for d in out["departments"] if d["body_id"] == rates_world["housing"])
    assert (h["assigned"], h["response_pending"]) == (3, 1)
    # Completed tasks count whatever the day; only task 4 (open, due 10-10) is not due yet.
    assert (h["due"], h["resolved"], h["resolution_pending"]) == (3, 2, 1)


def test_the_period_selects_assignments_and_due_dates(app, client, world, rates_world):
    r = client.get("/api/reports/department-rates?from=2026-10-15&to=2026-10-31",
                   headers=as_(world, "county_staff"))
    h = next(d for d in r.json["departments"] if d["body_id"] == rates_world["housing"])
    assert h["assigned"] == 0 and h["response_rate"] is None  # assigned in September
    assert (h["due"], h["resolved"], h["extended"]) == (1, 1, 1)  # task 2, due 10-20
    assert (h["ratings"], h["satisfaction_mean"]) == (2, 4.5)  # the ratings of 10-25 and 10-26


def test_refusals(client, world, rates_world):
    assert client.get("/api/reports/department-rates",
                      headers=as_(world, "handler")).status_code == 403
    assert client.get("/api/reports/department-rates").status_code == 401
    r = client.get("/api/reports/department-rates?from=2026-10-31&to=2026-10-01",
                   headers=as_(world, "county_staff"))
    assert (r.status_code, r.json["error"]) == (422, "validation_failed")
    assert "截止日期" in r.json["message"]
    # Found on the production shape: one date alone, the other left to its default (this
    # year), made the same reversed period and answered 200 with an empty report.
    for query in ("from=9999-12-31", "to=2001-01-01"):
        for path in ("/api/reports/department-rates", "/api/reports/evaluations"):
            r = client.get(f"{path}?{query}", headers=as_(world, "county_staff"))
            assert (r.status_code, r.json["error"]) == (422, "validation_failed"), (path, query)
            assert "截止日期" in r.json["message"]


def test_the_spreadsheet_opens_with_openpyxl(client, world, rates_world):
    from openpyxl import load_workbook

    r = client.get(f"/api/reports/department-rates.xlsx?{PERIOD}",
                   headers=as_(world, "county_staff"))
    assert r.status_code == 200
    assert r.mimetype.endswith("spreadsheetml.sheet")
    ws = load_workbook(io.BytesIO(r.data)).active
    rows = [list(v) for v in ws.iter_rows(values_only=True)]
    assert rows[1][:5] == ["承办部门", "所属区域", "应响应件数", "按时响应件数", "响应率"]
    housing = next(row for row in rows if row[0] == "东县住房和城乡建设局")
    assert housing[2:] == [4, 2, "50.0%", 4, 2, "50.0%", 1, 3, 3.67, "66.7%"]
