"""D20: an adopted (or partly adopted) item given to a lead department and co-handlers, due in
Chinese working days, and the assigning body's answer to the department's extension requests.
Services never commit. Split from decisions.py, whose item context and checks they share: every
change locks the item's track first (tracks.track_for_update), a repeat is a replay.

    assign_item(session, actor=p, item_id=i, lead_body_id=b, co_body_ids=[...], workdays=5)
    decide_extension(session, actor=p, request_id=x, approve=True, note=None)
    departments_for(session, p) / departments_under(session, body_ids)
"""
from __future__ import annotations

from datetime import date

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from ..audit.services import record
from ..consultations.models import OpinionItem, OpinionRouting
from ..consultations.rules import RouteAction
from ..db import utcnow
from ..errors import Conflict, Forbidden, NotFound, ValidationFailed
from ..notify.services import alert_staff, fan_out
from ..org.models import Body, BodyKind, Person, Region
from ..org.services import today_local
from ..suggestions import trail
from ..topics.services import reviewer_body_ids
from ..workdays import deadline, is_estimated
from .decisions import (
    ASSIGNABLE, NOTE_MAX, OPEN_STATES, ItemContext, _context, _not_found, _text, date_text,
    decision_in_force,
)
from .handling import handler_ids
from .links import task_link
from .models import (
    ExtensionRequest, ExtensionState, HandlingTask, ItemState, ItemTrack, TaskCoHandler,
    TaskEvent, TaskEventKind, TaskState,
)
from .tracks import track_for_update

WORKDAYS_MIN, WORKDAYS_MAX = 1, 60
CO_HANDLERS_MAX = 10


# --- D20: assignment ---------------------------------------------------------------------------------

def departments_under(session: Session, body_ids: set[int]) -> list[Body]:
    """Departments in the regions of `body_ids` or below (what those bodies may assign to)."""
    if not body_ids:
        return []
    paths = set(session.scalars(select(Region.path).join(Body, Body.region_id == Region.id)
                                .where(Body.id.in_(body_ids))))
    if not paths:
        return []
    return list(session.scalars(
        select(Body).join(Region, Region.id == Body.region_id)
        .where(Body.kind == BodyKind.department,
               or_(*[Region.path.startswith(p) for p in paths]))
        .order_by(Region.path, Body.name, Body.id)))


def departments_for(session: Session, person: Person) -> list[Body]:
    """GET /api/departments: what the person's reviewing bodies may assign to (D20)."""
    return departments_under(session, reviewer_body_ids(session, person))


def assign_item(session: Session, *, actor: Person, item_id: int, lead_body_id: int,
                co_body_ids: list[int] | tuple[int, ...] = (), workdays: int,
                today: date | None = None) -> ItemTrack:
    """D20: an adopted or partly adopted item goes to one lead department (and co-handlers)
    due `workdays` Chinese working days after today (China time; start day not counted)."""
    bodies = reviewer_body_ids(session, actor)
    if not bodies:
        raise _not_found()
    track = track_for_update(session, item_id)
    if track is None:
        raise _not_found()
    if not session.scalar(select(OpinionRouting.id).where(
            OpinionRouting.list_id == track.list_id, OpinionRouting.scope == track.current_scope,
            OpinionRouting.action == RouteAction.receive,
            OpinionRouting.state.in_(OPEN_STATES), OpinionRouting.body_id.in_(bodies))):
        raise _not_found()
    decision = decision_in_force(session, track)
    if decision is None or decision.outcome not in ASSIGNABLE:
        raise Conflict("该意见未被采纳，不能交办" if decision else "该意见尚未研究，不能交办",
                       code="item_not_adopted")
    if decision.body_id not in bodies:
        raise Forbidden("只有作出采纳决定的机构可以交办", code="not_deciding_body")
    co = list(dict.fromkeys(co_body_ids or ()))
    task = session.scalar(select(HandlingTask).where(HandlingTask.item_id == item_id))
    if task is not None:
        same = (task.assigned_by_id == actor.id and task.lead_body_id == lead_body_id
                and task.workdays == workdays
                and sorted(c.body_id for c in task.co_handlers) == sorted(co))
        if same:
            return track
        raise Conflict("该意见已交办", code="item_assigned")
    if isinstance(workdays, bool) or not isinstance(workdays, int) \
            or not WORKDAYS_MIN <= workdays <= WORKDAYS_MAX:
        raise ValidationFailed(f"办理时限应为 {WORKDAYS_MIN}–{WORKDAYS_MAX} 个工作日",
                               code="workdays_out_of_range")
    allowed = {b.id: b for b in departments_under(session, {decision.body_id})}
    if (lead_body_id not in allowed or len(co) > CO_HANDLERS_MAX or lead_body_id in co
            or any(b not in allowed for b in co) or len(co) != len(co_body_ids or ())):
        raise ValidationFailed("请从本机构所在地区及下级的职能部门中选择牵头部门和协办部门，"
                               "牵头部门不能同时作为协办部门", code="department_not_allowed")
    start = today or today_local()
    try:
        due = deadline(start, workdays)
    except ValueError:
        raise ValidationFailed("办理期限超出日历范围", code="due_in_past") from None
    if due.due < today_local():
        raise ValidationFailed(f"办理期限 {date_text(due.due)} 已经过去，请重新设定",
                               code="due_in_past")
    task = HandlingTask(item_id=item_id, lead_body_id=lead_body_id,
                        assigning_body_id=decision.body_id, assigned_by_id=actor.id,
                        assigned_on=start, workdays=workdays, due_on=due.due,
                        due_estimated=due.estimated, original_due_on=due.due,
                        state=TaskState.assigned)
    session.add(task)
    session.flush()
    for body_id in co:
        session.add(TaskCoHandler(task_id=task.id, body_id=body_id))
    session.add(TaskEvent(task_id=task.id, kind=TaskEventKind.assigned,
                          body_id=decision.body_id, actor_id=actor.id, due_on=due.due))
    track.state = ItemState.handling
    session.flush()
    session.expire(task, ["co_handlers"])
    record(session, actor_id=actor.id, action="followup.assign", object_type="opinion_item",
           object_id=item_id, after={"task_id": task.id, "lead_body_id": lead_body_id,
                                     "co_body_ids": co, "workdays": workdays,
                                     "assigned_on": start.isoformat(),
                                     "due_on": due.due.isoformat(),
                                     "due_estimated": due.estimated})
    ctx = _context(session, track)
    lead = allowed[lead_body_id]
    co_names = "、".join(allowed[b].name for b in co)
    trail.add_timeline(
        session, topic_id=ctx.topic.id, kind="item_assigned",
        text=f"第 {ctx.item.seq} 条意见已交{lead.name}牵头办理"
             + (f"，{co_names}协办" if co_names else "")
             + f"，办理期限 {date_text(due.due)}")
    _tell_handlers(session, ctx, task, lead, co)
    return track


def _tell_handlers(session: Session, ctx: ItemContext, task: HandlingTask, lead: Body,
                   co: list[int]) -> None:
    """The lead department's handlers (and the co-handlers') get the task; a lead department
    with no handler alerts the CPPCC staff over it, so the task never waits on nobody."""
    text = (f"“{ctx.topic.title}”协商意见第 {ctx.item.seq} 条已交{lead.name}牵头办理，办理期限"
            f"{date_text(task.due_on)}，请及时签收并制定工作方案。")
    lead_people = handler_ids(session, [lead.id])
    recipients = lead_people + [p for p in handler_ids(session, co) if p not in lead_people]
    if recipients:
        fan_out(session, kind="status_change", subject=f"task:{task.id}:assigned",
                recipient_ids=recipients, title="新的交办事项", body=text,
                link=task_link(task.id))
    if not lead_people:
        alert_staff(session, subject=f"task_unread:{task.id}", title="交办事项无人签收",
                    over=session.get(Region, lead.region_id).path, link=task_link(task.id),
                    body=f"{text}但{lead.name}没有在岗的经办人。请尽快指定经办人（角色“承办部门"
                         f"经办人”，范围“{lead.name}”）。")


# --- extensions: the assigning body's answer --------------------------------------------------------

def decide_extension(session: Session, *, actor: Person, request_id: int, approve: bool,
                     note: str | None = None) -> ExtensionRequest:
    """Approve (the task's due date becomes the requested one) or refuse (with a note) a pending
    extension request, once. Only reviewers of the assigning body see it."""
    x = session.get(ExtensionRequest, request_id)
    task = session.get(HandlingTask, x.task_id) if x else None
    if task is None or task.assigning_body_id not in reviewer_body_ids(session, actor):
        raise NotFound("该延期申请不存在", code="extension_not_found")
    track_for_update(session, task.item_id)  # every change to an item starts here
    session.refresh(x)
    session.refresh(task)
    want = ExtensionState.approved if approve else ExtensionState.refused
    note = _text(note)
    if x.state is not ExtensionState.pending:
        if x.decided_by_id == actor.id and x.state is want:
            return x
        raise Conflict("该延期申请已处理", code="extension_decided")
    if not approve and not note:
        raise ValidationFailed("不同意延期时请说明理由", code="note_required")
    if note and len(note) > NOTE_MAX:
        raise ValidationFailed(f"说明不能超过 {NOTE_MAX} 字", code="note_too_long")
    if task.state is TaskState.completed:
        raise Conflict("该事项已办结", code="task_completed")
    if approve and x.requested_due_on < today_local():
        raise ValidationFailed("申请的期限已经过去，不能同意", code="due_in_past")
    x.state, x.decided_by_id, x.decided_at, x.note = want, actor.id, utcnow(), note
    if approve:
        task.due_on, task.due_estimated = x.requested_due_on, is_estimated(x.requested_due_on)
    kind = TaskEventKind.extension_approved if approve else TaskEventKind.extension_refused
    session.add(TaskEvent(task_id=task.id, kind=kind, body_id=task.assigning_body_id,
                          actor_id=actor.id, text=note, due_on=x.requested_due_on))
    session.flush()
    record(session, actor_id=actor.id, action=f"followup.extension.{want.value}",
           object_type="extension_request", object_id=x.id,
           after={"task_id": task.id, "requested_due_on": x.requested_due_on.isoformat(),
                  "note": note})
    item = session.get(OpinionItem, task.item_id)
    lead = session.get(Body, task.lead_body_id)
    verdict = (f"已同意延期至{date_text(x.requested_due_on)}" if approve
               else f"未同意延期，请按原期限{date_text(task.due_on)}完成。说明：{note}")
    people = handler_ids(session, [lead.id])
    if people:
        fan_out(session, kind="status_change", subject=f"extension:{x.id}:{want.value}",
                recipient_ids=people, title="延期申请结果",
                body=f"{lead.name}关于第 {item.seq} 条意见的延期申请：{verdict}。",
                link=task_link(task.id))
    return x
