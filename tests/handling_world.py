"""Handling test world: consult_world's city plus two more county departments with a handler
each, and a way to put an item into handling without the assignment service (helper "decide"
owns it): an adopted decision, a HandlingTask, its `assigned` event, the track set to handling.

    w = handling_world.build(app)   # consult_world.build + extend
    tid = handling_world.assign(app, w, item_id, lead="housing", co=["transport"], workdays=5)

w["people"]: "handler" (housing, from consult_world), "handler_transport", "handler_water".
"""
from __future__ import annotations

from datetime import date, timedelta

from app.auth.current import open_session
from app.auth.models import SessionKind
from app.followup.models import (
    HandlingTask, ItemDecision, ItemState, ItemTrack, Outcome, TaskCoHandler, TaskEvent,
    TaskEventKind, TaskState,
)
from app.org import factories as f
from app.org.models import Body, BodyKind, Role
from app.org.services import today_local
from app.workdays import add_workdays
from sqlalchemy import select

from .helpers import committed_session

EXTRA_DEPARTMENTS = {"transport": "东县交通运输局", "water": "东县水利局"}


def build(app) -> dict:
    from . import consult_world

    return extend(app, consult_world.build(app))


def extend(app, w: dict) -> dict:
    with committed_session(app) as s:
        county = s.get(Body, w["bodies"]["housing"]).region
        for key, name in EXTRA_DEPARTMENTS.items():
            body = f.create_body(s, name=name, kind=BodyKind.department, region=county)
            p = f.create_person(s, name=f"经办{name}")
            f.assign_role(s, p, Role.dept_handler, body=body)
            s.flush()
            w["bodies"][key] = body.id
            w["people"][f"handler_{key}"] = p.id
            w["tokens"][f"handler_{key}"] = open_session(s, p, SessionKind.mp,
                                                         timedelta(days=30))[0]
    return w


def assign(app, w: dict, item_id: int, *, lead: str = "housing", co: list[str] = (),
           workdays: int = 5, assigned_on: date | None = None, deciding: str = "town_pc") -> int:
    """The item adopted by `deciding` and handed to `lead` (+ `co`); returns the task id."""
    assigned_on = assigned_on or today_local()
    with committed_session(app) as s:
        track = s.scalar(select(ItemTrack).where(ItemTrack.item_id == item_id))
        reviewer = w["people"][f"rev_{deciding}"]
        s.add(ItemDecision(item_id=item_id, scope=track.current_scope,
                           body_id=w["bodies"][deciding], outcome=Outcome.adopted,
                           decided_by_id=reviewer))
        due = add_workdays(assigned_on, workdays)
        task = HandlingTask(item_id=item_id, lead_body_id=w["bodies"][lead],
                            assigning_body_id=w["bodies"][deciding], assigned_by_id=reviewer,
                            assigned_on=assigned_on, workdays=workdays, due_on=due,
                            original_due_on=due, state=TaskState.assigned)
        s.add(task)
        s.flush()
        for key in co:
            s.add(TaskCoHandler(task_id=task.id, body_id=w["bodies"][key]))
        s.add(TaskEvent(task_id=task.id, kind=TaskEventKind.assigned,
                        body_id=w["bodies"][deciding], actor_id=reviewer, due_on=due))
        track.state, track.outcome = ItemState.handling, Outcome.adopted
        return task.id


