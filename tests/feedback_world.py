"""Settling the items of a routed list the way the decision and handling services do, by writing
their rows directly (ItemDecision, HandlingTask, TaskCoHandler, TaskEvent) and settling through
the real app.followup.tracks.settle — the feedback list's one hook.

    routed = followup_world.routed_list(app, w, items=[...])
    settle_not_adopted(app, w, routed["item_ids"][0], body="town_pc", explanation="……")
    settle_done(app, w, routed["item_ids"][1], body="town_pc", lead="housing", co=["transport"],
                assigned_on=date(...), workdays=5, due_on=date(...), completed_on=date(...),
                extensions=[date(...)], plan="……", result="……")
"""
from __future__ import annotations

from datetime import date, datetime, time, timedelta

from app.consultations.rules import OpinionScope
from app.followup import tracks
from app.followup.models import (
    ExtensionRequest, ExtensionState, HandlingTask, ItemDecision, ItemState, Outcome, TaskCoHandler,
    TaskEvent, TaskEventKind, TaskState,
)
from app.workdays import CHINA_TZ

from .helpers import committed_session


def _at(day: date) -> datetime:
    return datetime.combine(day, time(10), tzinfo=CHINA_TZ)


def decide(s, w: dict, item_id: int, *, body: str, outcome: Outcome, scope: OpinionScope,
           explanation: str | None = None, on: date | None = None) -> None:
    s.add(ItemDecision(item_id=item_id, scope=scope, body_id=w["bodies"][body], outcome=outcome,
                       explanation=explanation, decided_by_id=w["people"][f"rev_{body}"],
                       decided_at=_at(on or date(2026, 9, 25))))
    s.flush()


def _track(s, w, item_id, outcome, scope, escalated_by):
    track = tracks.track_for_update(s, item_id)
    if escalated_by:
        decide(s, w, item_id, body=escalated_by, outcome=Outcome.escalated,
               scope=track.current_scope, on=date(2026, 9, 20))
        track.current_scope = scope
    track.outcome = outcome
    return track


def settle_not_adopted(app, w: dict, item_id: int, *, body: str, explanation: str,
                       scope: OpinionScope = OpinionScope.local,
                       escalated_by: str | None = None) -> None:
    with committed_session(app) as s:
        track = _track(s, w, item_id, Outcome.not_adopted, scope, escalated_by)
        decide(s, w, item_id, body=body, outcome=Outcome.not_adopted, scope=scope,
               explanation=explanation)
        tracks.settle(s, track, ItemState.not_adopted)


def settle_done(app, w: dict, item_id: int, *, body: str, lead: str, assigned_on: date,
                due_on: date, completed_on: date, outcome: Outcome = Outcome.adopted,
                scope: OpinionScope = OpinionScope.local, co: tuple[str, ...] = (),
                extensions: tuple[date, ...] = (), plan: str = "制定道路修缮工作方案",
                result: str = "已修缮完毕", explanation: str | None = None,
                escalated_by: str | None = None) -> None:
    with committed_session(app) as s:
        track = _track(s, w, item_id, outcome, scope, escalated_by)
        decide(s, w, item_id, body=body, outcome=outcome, scope=scope, explanation=explanation)
        handler = w["people"]["handler"]
        task = HandlingTask(
            item_id=item_id, lead_body_id=w["bodies"][lead], assigning_body_id=w["bodies"][body],
            assigned_by_id=w["people"][f"rev_{body}"], assigned_at=_at(assigned_on),
            assigned_on=assigned_on, workdays=5, due_on=extensions[-1] if extensions else due_on,
            original_due_on=due_on, state=TaskState.completed, accepted_at=_at(assigned_on),
            plan_text=plan, planned_at=_at(assigned_on + timedelta(days=1)), percent=100,
            result_text=result, completed_at=_at(completed_on), completed_on=completed_on)
        s.add(task)
        s.flush()
        for key in co:
            s.add(TaskCoHandler(task_id=task.id, body_id=w["bodies"][key]))
        s.add(TaskEvent(task_id=task.id, kind=TaskEventKind.assigned,
                        actor_id=w["people"][f"rev_{body}"], due_on=due_on,
                        at=_at(assigned_on)))
        for new_due in extensions:
            s.add(ExtensionRequest(task_id=task.id, requested_due_on=new_due, reason="需协调资金",
                                   requested_by_id=handler, state=ExtensionState.approved,
                                   decided_by_id=w["people"][f"rev_{body}"],
                                   decided_at=_at(due_on - timedelta(days=2))))
            s.add(TaskEvent(task_id=task.id, kind=TaskEventKind.extension_approved,
                            actor_id=w["people"][f"rev_{body}"], due_on=new_due,
                            at=_at(due_on - timedelta(days=2))))
        s.add(TaskEvent(task_id=task.id, kind=TaskEventKind.completed,
                        body_id=w["bodies"][lead], actor_id=handler, text=result, percent=100,
                        at=_at(completed_on)))
        s.flush()
        tracks.settle(s, track, ItemState.done)
