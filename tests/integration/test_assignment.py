"""Assignment of adopted items to a lead department (D20) with a due date in Chinese working
days, and the assigning body's answer to extension requests."""
from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest
import time_machine
from sqlalchemy import select

from app.audit.models import AuditEntry
from app.errors import ValidationFailed
from app.followup import assignment
from app.followup.models import (
    ExtensionRequest, ExtensionState, HandlingTask, ItemState, ItemTrack, TaskEvent,
)
from app.notify.models import OutboxMessage
from app.org import factories as f
from app.org.models import Body, BodyKind, Person, Region, Role
from app.suggestions.models import TimelineEntry
from app.workdays import CHINA_TZ

from .. import consult_world, followup_world
from ..consult_world import as_
from ..decision_world import assign, decide, forward
from ..helpers import committed_session

WHY = "资金有限，先修主路"


@pytest.fixture
def world(app):
    w = consult_world.build(app)
    with committed_session(app) as s:
        county = s.get(Body, w["bodies"]["county_gov"]).region
        town = s.get(Body, w["bodies"]["town_pc"]).region
        other = s.get(Body, w["bodies"]["other_pc"]).region
        for key, name, region in (("transport", "东县交通运输局", county),
                                  ("town_office", "新坝镇建设办", town),
                                  ("other_dept", "西县住房和城乡建设局", other)):
            body = f.create_body(s, name=name, kind=BodyKind.department, region=region)
            s.flush()
            w["bodies"][key] = body.id
        p = f.create_person(s, name="冯科员")
        f.assign_role(s, p, Role.dept_handler, body=s.get(Body, w["bodies"]["transport"]))
        s.flush()
        w["people"]["transport_handler"] = p.id
    return w


def county_item(client, app, w, outcome="adopted", explanation=None) -> int:
    routed = followup_world.routed_list(app, w, items=[("增开通往县城的公交线路", "county")])
    forward(client, app, w, routed["list_id"], "county")
    iid = routed["item_ids"][0]
    r = decide(client, w, "rev_county_gov", iid, outcome, explanation)
    assert r.status_code == 200, r.json
    return iid


def china_morning(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, 10, 0, tzinfo=CHINA_TZ)


def test_assigned_on_28_september_2026_with_5_working_days_is_due_10_october(
        client, app, world):
    """The must-show case: National Day (1–7 October 2026) is skipped and the Saturday make-up
    workday (10 October) counted: 29, 30 Sep, then 8, 9, 10 Oct."""
    iid = county_item(client, app, world)
    with time_machine.travel(china_morning(date(2026, 9, 28)), tick=False):
        r = assign(client, world, "rev_county_gov", iid, "housing", ("transport",), 5)
    assert r.status_code == 200, r.json
    task = r.json["task"]
    assert (task["assigned_on"], task["workdays"], task["due_on"], task["due_estimated"]) == (
        "2026-09-28", 5, "2026-10-10", False)
    assert task["lead_body_id"] == world["bodies"]["housing"]
    assert [c["id"] for c in task["co_bodies"]] == [world["bodies"]["transport"]]
    assert r.json["state"] == "handling"
    with committed_session(app) as s:
        t = s.scalar(select(HandlingTask).where(HandlingTask.item_id == iid))
        assert (t.due_on, t.original_due_on, t.assigning_body_id, t.state.value) == (
            date(2026, 10, 10), date(2026, 10, 10), world["bodies"]["county_gov"], "assigned")
        assert [c.body_id for c in t.co_handlers] == [world["bodies"]["transport"]]
        assert [e.kind.value for e in s.scalars(select(TaskEvent).where(
            TaskEvent.task_id == t.id))] == ["assigned"]
        assert s.scalar(select(ItemTrack.state).where(ItemTrack.item_id == iid)) \
            is ItemState.handling
        told = set(s.scalars(select(OutboxMessage.recipient_id).where(
            OutboxMessage.link.like(f"%task%{t.id}%"))))
        assert told == {world["people"]["handler"], world["people"]["transport_handler"]}
        assert s.scalars(select(AuditEntry.action).where(
            AuditEntry.object_type == "opinion_item", AuditEntry.object_id == str(iid))
            .order_by(AuditEntry.id)).all() == ["followup.decision.adopted", "followup.assign"]
        text = s.scalars(select(TimelineEntry.text).where(
            TimelineEntry.kind == "item_assigned")).one()
        assert "东县住房和城乡建设局" in text and "2026年10月10日" in text


def test_the_same_assignment_again_is_a_replay_and_a_different_one_409(client, app, world):
    iid = county_item(client, app, world)
    first = assign(client, world, "rev_county_gov", iid, "housing", (), 10)
    assert first.status_code == 200
    again = assign(client, world, "rev_county_gov", iid, "housing", (), 10)
    assert (again.status_code, again.json) == (200, first.json)
    r = assign(client, world, "rev_county_gov", iid, "transport", (), 10)
    assert r.status_code == 409 and r.json["error"] == "item_assigned"
    with committed_session(app) as s:
        assert len(s.scalars(select(TaskEvent)).all()) == 1


@pytest.mark.parametrize("workdays", [0, -1, 61, 1000])
def test_working_days_outside_1_to_60_are_422(client, app, world, workdays):
    iid = county_item(client, app, world)
    r = assign(client, world, "rev_county_gov", iid, "housing", (), workdays)
    assert r.status_code == 422, r.json
    with committed_session(app) as s:
        assert s.scalars(select(HandlingTask)).all() == []


def test_a_due_date_in_the_past_is_422(app, world, client):
    """A start day long gone (a stale form's `today`) gives a due date already past: refused."""
    iid = county_item(client, app, world)
    with committed_session(app) as s:
        actor = s.get(Person, world["people"]["rev_county_gov"])
        with pytest.raises(ValidationFailed) as e:
            assignment.assign_item(s, actor=actor, item_id=iid,
                                  lead_body_id=world["bodies"]["housing"], co_body_ids=[],
                                  workdays=3, today=date(2025, 1, 6))
        assert e.value.code == "due_in_past"


def test_only_departments_of_the_deciding_bodys_region_or_below(client, app, world):
    iid = county_item(client, app, world)
    for lead, co in (("other_dept", ()), ("county_pc", ()), ("housing", ("other_dept",)),
                     ("housing", ("housing",))):
        r = assign(client, world, "rev_county_gov", iid, lead, co)
        assert r.status_code == 422 and r.json["error"] == "department_not_allowed", (lead, co)
    # The town's own office is below the county: allowed.
    assert assign(client, world, "rev_county_gov", iid, "town_office").status_code == 200


def test_departments_lists_those_of_my_region_and_below(client, app, world):
    r = client.get("/api/departments", headers=as_(world, "rev_county_gov"))
    assert r.status_code == 200, r.json
    names = [d["name"] for d in r.json["items"]]
    assert set(names) == {"东县住房和城乡建设局", "东县交通运输局", "新坝镇建设办"}
    town = client.get("/api/departments", headers=as_(world, "rev_town_pc")).json
    assert [d["name"] for d in town["items"]] == ["新坝镇建设办"]
    assert client.get("/api/departments", headers=as_(world, "resident")).json["items"] == []


def test_a_not_adopted_or_undecided_item_cannot_be_assigned(client, app, world):
    iid = county_item(client, app, world, "not_adopted", WHY)
    r = assign(client, world, "rev_county_gov", iid, "housing")
    assert r.status_code == 409 and r.json["error"] == "item_not_adopted", r.json
    routed = followup_world.routed_list(app, world, items=[("修缮村口道路", "local")])
    r = assign(client, world, "rev_town_pc", routed["item_ids"][0], "town_office")
    assert r.status_code == 409 and r.json["error"] == "item_not_adopted"


def test_only_the_deciding_body_assigns(client, app, world):
    iid = county_item(client, app, world)
    for who in ("rev_county_pc", "rev_town_pc", "handler", "resident", "rev_other_pc"):
        r = assign(client, world, who, iid, "housing")
        assert r.status_code in (403, 404), (who, r.json)
    with committed_session(app) as s:
        assert s.scalars(select(HandlingTask)).all() == []


def test_no_handler_in_the_lead_department_alerts_the_staff(client, app, world):
    iid = county_item(client, app, world)
    with committed_session(app) as s:
        body = f.create_body(s, name="东县水务局", kind=BodyKind.department,
                             region=s.get(Body, world["bodies"]["county_gov"]).region)
        s.flush()
        world["bodies"]["water"] = body.id
    assert assign(client, world, "rev_county_gov", iid, "water").status_code == 200
    with committed_session(app) as s:
        alerts = s.scalars(select(OutboxMessage.recipient_id).where(
            OutboxMessage.kind == "staff_alert")).all()
        assert world["people"]["county_staff"] in alerts


# --- extension requests (the assigning body's answer) -----------------------------------------

def extension(app, w, iid, days_later=20) -> int:
    """A pending request, as the department's service writes it (helper 'handle' owns that)."""
    with committed_session(app) as s:
        task = s.scalar(select(HandlingTask).where(HandlingTask.item_id == iid))
        x = ExtensionRequest(task_id=task.id, reason="需协调公交公司，时间不够",
                             requested_due_on=task.due_on + timedelta(days=days_later),
                             requested_by_id=w["people"]["handler"])
        s.add(x)
        s.flush()
        return x.id


def answer_extension(client, w, who, xid, approve, note=None):
    data = {"approve": approve}
    if note is not None:
        data["note"] = note
    return client.post(f"/api/extension-requests/{xid}/decision", json=data,
                       headers=as_(w, who))


def test_approving_an_extension_moves_the_due_date(client, app, world):
    iid = county_item(client, app, world)
    task = assign(client, world, "rev_county_gov", iid, "housing").json["task"]
    xid = extension(app, world, iid)
    q = client.get("/api/opinion-items/queue", headers=as_(world, "rev_county_gov")).json
    assert [x["id"] for x in q["extensions"]] == [xid]
    r = answer_extension(client, world, "rev_county_gov", xid, True)
    assert r.status_code == 200, r.json
    assert r.json["state"] == "approved"
    again = answer_extension(client, world, "rev_county_gov", xid, True)
    assert (again.status_code, again.json) == (200, r.json)
    r2 = answer_extension(client, world, "rev_county_gov", xid, False, "不同意")
    assert r2.status_code == 409 and r2.json["error"] == "extension_decided"
    with committed_session(app) as s:
        t = s.get(HandlingTask, task["id"])
        x = s.get(ExtensionRequest, xid)
        assert t.due_on == x.requested_due_on and t.original_due_on < t.due_on
        assert [e.kind.value for e in s.scalars(select(TaskEvent).where(
            TaskEvent.task_id == t.id).order_by(TaskEvent.id))] == [
            "assigned", "extension_approved"]
        assert s.scalars(select(OutboxMessage).where(
            OutboxMessage.recipient_id == world["people"]["handler"],
            OutboxMessage.dedupe_key.like(f"%extension:{xid}%"))).all()


def test_refusing_an_extension_needs_a_note_and_keeps_the_due_date(client, app, world):
    iid = county_item(client, app, world)
    task = assign(client, world, "rev_county_gov", iid, "housing").json["task"]
    xid = extension(app, world, iid)
    r = answer_extension(client, world, "rev_county_gov", xid, False)
    assert r.status_code == 422 and r.json["error"] == "note_required"
    r = answer_extension(client, world, "rev_county_gov", xid, False, "请按原期限完成")
    assert r.status_code == 200 and r.json["state"] == "refused"
    with committed_session(app) as s:
        t = s.get(HandlingTask, task["id"])
        assert t.due_on.isoformat() == task["due_on"]
        ev = s.scalars(select(TaskEvent).where(TaskEvent.task_id == t.id)
                       .order_by(TaskEvent.id)).all()[-1]
        assert (ev.kind.value, ev.text) == ("extension_refused", "请按原期限完成")
        assert s.get(ExtensionRequest, xid).state is ExtensionState.refused


def test_only_the_assigning_body_answers_extensions(client, app, world):
    iid = county_item(client, app, world)
    assign(client, world, "rev_county_gov", iid, "housing")
    xid = extension(app, world, iid)
    for who in ("rev_county_pc", "handler", "resident", "rev_other_pc"):
        r = answer_extension(client, world, who, xid, True)
        assert r.status_code == 404 and r.json["error"] == "extension_not_found", who
