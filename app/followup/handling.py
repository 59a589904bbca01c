"""The department side of handling (D20, D21). Services take a session and never commit.

Who: a department handler is a person with an active `Role.dept_handler` scoped to a Body of
kind `department`. A task exists for them only when its lead department or one of its
co-handler departments is theirs (`get_task_or_404`: 404 otherwise, even by id).

What each side may do (decided here, documented in docs/followthrough.md):
- the lead department accepts (assigned → accepted), submits the work plan (D20; accepted →
  planned), posts progress, completes with a result (→ completed, the item settles as done via
  tracks.settle) and asks for a later due date (the assigning body decides);
- a co-handler department reads the task and posts progress on its part (403
  `lead_department_only` for the rest: they can see the task, so a 404 would be a lie).

Every change locks the task row (SELECT … FOR UPDATE) and re-reads it; completing locks the
item's track first (tracks.track_for_update: every change to an item starts there). A repeated
identical request is a replay: the task as it is, nothing written twice.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from ..audit.services import record
from ..consultations.models import Consultation, OpinionItem, OpinionList
from ..db import utcnow
from ..errors import Conflict, Forbidden, NotFound, ValidationFailed
from ..notify.services import fan_out
from ..org.models import Body, BodyKind, Person, Role, RoleAssignment
from ..org.services import today_local
from ..suggestions import trail
from ..suggestions.models import Attachment
from ..topics.services import reviewers_of
from ..workdays import add_workdays, workdays_between
from . import tracks
from .links import REVIEWER_LINK, task_link
from .models import (
    ExtensionRequest, ExtensionState, HandlingTask, ItemState, TaskCoHandler, TaskEvent,
    TaskEventKind, TaskState,
)

MAX_UPLOADS = 9
TEXT_MAX = 2000
# An extension is bounded like the assignment's time limit (assignment.WORKDAYS_MAX): at most
# this many working days past the current due date, so no task is put off for ever (D20).
EXTENSION_WORKDAYS_MAX = 60


# Where the assigning body's reviewers act (their to-do page; the lead may point it at the
# decisions page of helper "decide" at merge).


# --- who ----------------------------------------------------------------------------------------

def handler_body_ids(session: Session, person: Person) -> set[int]:
    """The departments the person handles for: active dept_handler roles on department bodies."""
    return set(session.scalars(
        select(RoleAssignment.body_id).join(Body, Body.id == RoleAssignment.body_id)
        .where(RoleAssignment.person_id == person.id, RoleAssignment.role == Role.dept_handler,
               RoleAssignment.is_active.is_(True), Body.kind == BodyKind.department)))


def handler_ids(session: Session, body_ids) -> list[int]:
    """Active department handlers (Role.dept_handler scoped to the body) of `body_ids`: whom an
    assignment, an extension answer or the feedback list tells."""
    body_ids = list(body_ids)
    if not body_ids:
        return []
    return list(session.scalars(
        select(RoleAssignment.person_id).join(Person, Person.id == RoleAssignment.person_id)
        .where(RoleAssignment.role == Role.dept_handler, RoleAssignment.is_active.is_(True),
               Person.is_active.is_(True), RoleAssignment.body_id.in_(body_ids))
        .distinct().order_by(RoleAssignment.person_id)))


def _co_body_ids(session: Session, task_id: int) -> set[int]:
    return set(session.scalars(select(TaskCoHandler.body_id)
                               .where(TaskCoHandler.task_id == task_id)))


def acting_body(session: Session, task: HandlingTask, person: Person) -> tuple[int, bool] | None:
    """(the department the person acts for on this task, whether it is the lead), or None."""
    mine = handler_body_ids(session, person)
    if task.lead_body_id in mine:
        return task.lead_body_id, True
    co = sorted(_co_body_ids(session, task.id) & mine)
    return (co[0], False) if co else None


def get_task_or_404(session: Session, task_id: int, person: Person) -> HandlingTask:
    """A task of the person's departments (lead or co-handler); 404 for any other (D20)."""
    task = session.get(HandlingTask, task_id)
    if task is None or acting_body(session, task, person) is None:
        raise NotFound("该办理事项不存在", code="task_not_found")
    return task


def _locked(session: Session, task_id: int) -> HandlingTask:
    return session.scalar(select(HandlingTask).where(HandlingTask.id == task_id)
                          .with_for_update().execution_options(populate_existing=True))


def _lead_only(lead: bool) -> None:
    if not lead:
        raise Forbidden("只有牵头承办部门可以进行此操作，协办部门可以查看并报送办理进展",
                        code="lead_department_only")


# --- reading ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Overdue:
    overdue: bool
    workdays_overdue: int


def overdue_of(task: HandlingTask, today: date | None = None) -> Overdue:
    """Overdue: due before China-local today and not completed; by how many working days."""
    today = today or today_local()
    if task.state is TaskState.completed or task.due_on >= today:
        return Overdue(False, 0)
    return Overdue(True, max(workdays_between(task.due_on, today), 0))


def list_tasks(session: Session, person: Person, *, states: list[TaskState] | None = None,
               overdue: bool | None = None) -> list[HandlingTask]:
    """The tasks of the person's departments (lead or co), newest first; `overdue` filters on
    the computed flag."""
    mine = handler_body_ids(session, person)
    if not mine:
        return []
    q = select(HandlingTask).where(or_(
        HandlingTask.lead_body_id.in_(mine),
        HandlingTask.id.in_(select(TaskCoHandler.task_id)
                            .where(TaskCoHandler.body_id.in_(mine)))))
    if states:
        q = q.where(HandlingTask.state.in_(states))
    if overdue is not None:
        late = (HandlingTask.due_on < today_local()) & (HandlingTask.state != TaskState.completed)
        q = q.where(late if overdue else ~late)
    return list(session.scalars(q.order_by(HandlingTask.id.desc()).limit(500)))


def events_of(session: Session, task_id: int) -> list[TaskEvent]:
    return list(session.scalars(select(TaskEvent).where(TaskEvent.task_id == task_id)
                                .order_by(TaskEvent.id)))


def attachments_of(session: Session, event_ids: list[int]) -> dict[int, list[Attachment]]:
    out: dict[int, list[Attachment]] = {eid: [] for eid in event_ids}
    if event_ids:
        for a in session.scalars(select(Attachment).where(Attachment.task_event_id.in_(event_ids))
                                 .order_by(Attachment.id)):
            out[a.task_event_id].append(a)
    return out


def pending_extension(session: Session, task_id: int) -> ExtensionRequest | None:
    return session.scalar(select(ExtensionRequest).where(
        ExtensionRequest.task_id == task_id, ExtensionRequest.state == ExtensionState.pending))


# --- uploads on a step --------------------------------------------------------------------------

def clean_keys(keys: list[str] | None) -> list[str]:
    keys = list(keys or [])
    if len(keys) > MAX_UPLOADS:
        raise ValidationFailed(f"最多附 {MAX_UPLOADS} 个图片或文件", code="too_many_uploads")
    if len(set(keys)) != len(keys):
        raise ValidationFailed("图片或文件不能重复", code="attachment_duplicate")
    return keys


def attach(session: Session, person: Person, keys: list[str], *, photos_only: bool = False,
           **target: int) -> None:
    """Claim the person's own unused uploads for a task event or a supervision note, in one
    conditional UPDATE (someone else's upload looks the same as a missing one: no IDOR)."""
    if not keys:
        return
    usable = [Attachment.storage_key.in_(keys), Attachment.uploaded_by_id == person.id,
              Attachment.unused()]
    if photos_only:
        usable.append(Attachment.is_photo())
    claimed = session.execute(
        update(Attachment).where(*usable)
        .values(**target).execution_options(synchronize_session=False)).rowcount
    if claimed != len(keys):
        raise ValidationFailed("图片或文件不存在或已被使用，请重新上传",
                               code="attachment_unavailable")


def _keys_of(session: Session, event_id: int) -> set[str]:
    return set(session.scalars(select(Attachment.storage_key)
                               .where(Attachment.task_event_id == event_id)))


def _last_event(session: Session, task_id: int) -> TaskEvent | None:
    return session.scalar(select(TaskEvent).where(TaskEvent.task_id == task_id)
                          .order_by(TaskEvent.id.desc()).limit(1))


def _event(session: Session, task: HandlingTask, kind: TaskEventKind, *, body_id: int,
           actor: Person, text: str | None = None, percent: int | None = None,
           due_on: date | None = None, keys: list[str] = ()) -> TaskEvent:
    ev = TaskEvent(task_id=task.id, kind=kind, body_id=body_id, actor_id=actor.id, text=text,
                   percent=percent, due_on=due_on)
    session.add(ev)
    session.flush()
    attach(session, actor, list(keys), task_event_id=ev.id)
    record(session, actor_id=actor.id, action=f"handling.{_AUDIT[kind]}",
           object_type="handling_task", object_id=task.id,
           after={"event_id": ev.id, "state": task.state.value, "percent": percent,
                  "due_on": due_on.isoformat() if due_on else None, "uploads": len(keys)})
    return ev


_AUDIT = {TaskEventKind.accepted: "accept", TaskEventKind.planned: "plan",
          TaskEventKind.progress: "progress", TaskEventKind.completed: "complete",
          TaskEventKind.extension_requested: "extension"}


def _text(value: str | None, what: str, code: str) -> str:
    value = (value or "").strip()
    if not value:
        raise ValidationFailed(f"请填写{what}", code=code)
    if len(value) > TEXT_MAX:
        raise ValidationFailed(f"{what}过长（最多 {TEXT_MAX} 字）", code=code)
    return value


def _not_completed(task: HandlingTask) -> None:
    if task.state is TaskState.completed:
        raise Conflict("该事项已办结，不能再更改", code="task_completed")


# --- steps --------------------------------------------------------------------------------------

def accept(session: Session, *, actor: Person, task_id: int) -> HandlingTask:
    """assigned → accepted (签收). Accepting an accepted task is a replay."""
    body_id, lead = acting_body(session, get_task_or_404(session, task_id, actor), actor)
    _lead_only(lead)
    task = _locked(session, task_id)
    if task.state is not TaskState.assigned:
        return task
    task.state, task.accepted_at = TaskState.accepted, utcnow()
    _event(session, task, TaskEventKind.accepted, body_id=body_id, actor=actor)
    return task


def plan(session: Session, *, actor: Person, task_id: int, text: str) -> HandlingTask:
    """D20: the work plan; accepted → planned. The same plan again is a replay."""
    body_id, lead = acting_body(session, get_task_or_404(session, task_id, actor), actor)
    _lead_only(lead)
    text = _text(text, "工作方案", "plan_required")
    task = _locked(session, task_id)
    if task.state is not TaskState.accepted:
        if task.state is not TaskState.assigned and task.plan_text == text:
            return task
        _not_completed(task)
        if task.state is TaskState.assigned:
            raise Conflict("请先签收该事项", code="task_not_accepted")
        raise Conflict("工作方案已提交", code="plan_submitted")
    task.state, task.plan_text, task.planned_at = TaskState.planned, text, utcnow()
    _event(session, task, TaskEventKind.planned, body_id=body_id, actor=actor, text=text)
    return task


def progress(session: Session, *, actor: Person, task_id: int, percent: int, text: str,
             upload_keys: list[str] | None = None) -> HandlingTask:
    """Progress on a planned task, by the lead or a co-handler: the percent never goes down.
    After completion: 409. The same report sent again (last event, same author, percent, text
    and uploads) is a replay."""
    body_id, _ = acting_body(session, get_task_or_404(session, task_id, actor), actor)
    text = _text(text, "办理进展", "progress_required")
    keys = clean_keys(upload_keys)
    if not 0 <= percent <= 100:
        raise ValidationFailed("进度应在 0 到 100 之间", code="percent_invalid")
    task = _locked(session, task_id)
    last = _last_event(session, task.id)
    if (last is not None and last.kind is TaskEventKind.progress and last.actor_id == actor.id
            and last.percent == percent and last.text == text
            and _keys_of(session, last.id) == set(keys)):
        return task
    _not_completed(task)
    if task.state is not TaskState.planned:
        raise Conflict("请先签收并提交工作方案", code="task_not_planned")
    if percent < task.percent:
        raise ValidationFailed(f"进度不能低于上次报送的 {task.percent}%",
                               code="percent_decreasing")
    task.percent = percent
    _event(session, task, TaskEventKind.progress, body_id=body_id, actor=actor, text=text,
           percent=percent, keys=keys)
    return task


def _topic_id(session: Session, list_id: int) -> int:
    return session.scalar(select(Consultation.topic_id)
                          .join(OpinionList, OpinionList.consultation_id == Consultation.id)
                          .where(OpinionList.id == list_id))


def complete(session: Session, *, actor: Person, task_id: int, result: str,
             upload_keys: list[str] | None = None) -> HandlingTask:
    """D21: the lead department completes with a result: completed, China-local completion
    date, 100 %, and the item settles as done (tracks.settle) under the track's lock — taken
    first, then the task's. The same result again is a replay; anything else after completion
    is 409."""
    task = get_task_or_404(session, task_id, actor)
    body_id, lead = acting_body(session, task, actor)
    _lead_only(lead)
    result = _text(result, "办理结果", "result_required")
    keys = clean_keys(upload_keys)
    track = tracks.track_for_update(session, task.item_id)
    task = _locked(session, task_id)
    if task.state is TaskState.completed:
        if task.result_text == result:
            return task
        raise Conflict("该事项已办结，不能再更改", code="task_completed")
    if task.state is not TaskState.planned:
        raise Conflict("请先签收并提交工作方案", code="task_not_planned")
    now = utcnow()
    task.state, task.result_text, task.percent = TaskState.completed, result, 100
    task.completed_at, task.completed_on = now, today_local()
    _event(session, task, TaskEventKind.completed, body_id=body_id, actor=actor, text=result,
           percent=100, keys=keys)
    _close_pending_extension(session, task, actor)
    body = session.get(Body, task.lead_body_id)
    item = session.get(OpinionItem, task.item_id)
    # D19: on the topic's public trail (the department's name, never the handler's), before the
    # feedback list's own entry that settling the last item writes.
    trail.add_timeline(session, topic_id=_topic_id(session, item.list_id), kind="item_done",
                       text=f"第 {item.seq} 条意见：{body.name}已办结。办理结果：{result}")
    if track is not None and track.state is ItemState.handling:
        tracks.settle(session, track, ItemState.done)
    fan_out(session, kind="status_change", subject=f"task_completed:{task.id}",
            recipient_ids=reviewers_of(session, task.assigning_body_id), title="交办事项已办结",
            body=f"{body.name}已办结交办的意见事项：{result[:60]}", link=REVIEWER_LINK)
    return task


def _close_pending_extension(session: Session, task: HandlingTask, actor: Person) -> None:
    """A completed task needs no later due date: its pending request is closed (not approved),
    so it leaves the assigning body's queue instead of waiting there for ever (an answer now
    would be 409 task_completed)."""
    x = pending_extension(session, task.id)
    if x is None:
        return
    x.state, x.decided_at = ExtensionState.refused, utcnow()
    x.note = "事项已办结，延期申请随之关闭"
    session.flush()
    record(session, actor_id=actor.id, action="handling.extension_closed",
           object_type="extension_request", object_id=x.id,
           after={"task_id": task.id, "state": x.state.value})


def request_extension(session: Session, *, actor: Person, task_id: int, due_on: date,
                      reason: str) -> HandlingTask:
    """The lead department asks the assigning body for a later due date: later than the
    current one, not in the past and at most EXTENSION_WORKDAYS_MAX working days past the
    current one (422); one pending request per task — the same one again
    is a replay, another is 409."""
    body_id, lead = acting_body(session, get_task_or_404(session, task_id, actor), actor)
    _lead_only(lead)
    reason = " ".join((reason or "").split())
    if not reason:
        raise ValidationFailed("请说明延期理由", code="reason_required")
    task = _locked(session, task_id)
    pending = pending_extension(session, task.id)
    if pending is not None:
        if pending.requested_due_on == due_on and pending.reason == reason:
            return task
        raise Conflict("已有待审批的延期申请", code="extension_pending")
    _not_completed(task)
    if due_on <= task.due_on:
        raise ValidationFailed(f"延期后的日期应晚于当前办理期限 {task.due_on:%Y-%m-%d}",
                               code="extension_not_later")
    if due_on < today_local():
        raise ValidationFailed("延期后的日期不能早于今天", code="due_in_past")
    latest = add_workdays(task.due_on, EXTENSION_WORKDAYS_MAX)
    if due_on > latest:
        raise ValidationFailed(f"延期后的日期最多为当前办理期限后 {EXTENSION_WORKDAYS_MAX} 个工作日"
                               f"（{latest:%Y-%m-%d}）", code="extension_too_long")
    xr = ExtensionRequest(task_id=task.id, requested_due_on=due_on, reason=reason,
                          requested_by_id=actor.id)
    session.add(xr)
    session.flush()
    _event(session, task, TaskEventKind.extension_requested, body_id=body_id, actor=actor,
           text=reason, due_on=due_on)
    body = session.get(Body, task.lead_body_id)
    fan_out(session, kind="review_request", subject=f"extension_request:{xr.id}",
            recipient_ids=reviewers_of(session, task.assigning_body_id), title="延期申请待审批",
            body=f"{body.name}申请将交办事项的办理期限延至{due_on:%Y年%m月%d日}：{reason[:60]}",
            link=REVIEWER_LINK)
    return task
