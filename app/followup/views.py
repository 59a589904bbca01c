"""Task views shared by the handling and supervision routes: one query per kind of context
(item, topic, platform, bodies), not one per task."""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..consultations.models import Consultation, OpinionItem, OpinionList
from ..org.models import Body, Person, Platform
from ..suggestions import uploads
from ..topics.models import Topic
from . import handling
from .models import (
    TASK_EVENT_LABELS, TASK_STATE_LABELS, ExtensionRequest, ExtensionState, HandlingTask,
    ItemTrack, TaskCoHandler,
)
from .schemas import BodyRef, ExtensionOut, FileOut, TaskDetail, TaskEventOut, TaskOut


def item_context(session: Session, item_ids: set[int]) -> dict[int, tuple[str, str, str]]:
    """item id → (item text, topic title, platform name)."""
    if not item_ids:
        return {}
    rows = session.execute(
        select(OpinionItem.id, OpinionItem.text, Topic.title, Platform.name)
        .join(OpinionList, OpinionList.id == OpinionItem.list_id)
        .join(Consultation, Consultation.id == OpinionList.consultation_id)
        .join(Topic, Topic.id == Consultation.topic_id)
        .join(Platform, Platform.id == Consultation.platform_id)
        .where(OpinionItem.id.in_(item_ids))).all()
    return {iid: (text, title, pname) for iid, text, title, pname in rows}


def task_views(session: Session, tasks: list[HandlingTask], mine: set[int]) -> list[TaskOut]:
    ids = [t.id for t in tasks]
    co: dict[int, list[int]] = {tid: [] for tid in ids}
    if ids:
        for tid, bid in session.execute(select(TaskCoHandler.task_id, TaskCoHandler.body_id)
                                        .where(TaskCoHandler.task_id.in_(ids))
                                        .order_by(TaskCoHandler.id)):
            co[tid].append(bid)
    body_ids = {t.lead_body_id for t in tasks} | {b for bs in co.values() for b in bs}
    names = dict(session.execute(select(Body.id, Body.name).where(Body.id.in_(body_ids)))
                 .all()) if body_ids else {}
    context = item_context(session, {t.item_id for t in tasks})
    keys = set(session.scalars(select(ItemTrack.item_id).where(
        ItemTrack.item_id.in_([t.item_id for t in tasks]), ItemTrack.is_key.is_(True)))) \
        if tasks else set()
    pending_of = {x.task_id: x for x in session.scalars(select(ExtensionRequest).where(
        ExtensionRequest.task_id.in_(ids), ExtensionRequest.state == ExtensionState.pending))} \
        if ids else {}
    out = []
    for t in tasks:
        late = handling.overdue_of(t)
        pending = pending_of.get(t.id)
        text, title, pname = context.get(t.item_id, ("", "", ""))
        out.append(TaskOut(
            id=t.id, item_id=t.item_id, item_text=text, topic_title=title, platform_name=pname,
            role="lead" if t.lead_body_id in mine else "co",
            lead_body=BodyRef(id=t.lead_body_id, name=names.get(t.lead_body_id, "")),
            co_bodies=[BodyRef(id=b, name=names.get(b, "")) for b in co[t.id]],
            state=t.state, state_label=TASK_STATE_LABELS[t.state], assigned_on=t.assigned_on,
            workdays=t.workdays, due_on=t.due_on, original_due_on=t.original_due_on,
            due_estimated=t.due_estimated, overdue=late.overdue,
            workdays_overdue=late.workdays_overdue, percent=t.percent, plan_text=t.plan_text,
            result_text=t.result_text, completed_on=t.completed_on, is_key=t.item_id in keys,
            pending_extension=ExtensionOut(
                id=pending.id, requested_due_on=pending.requested_due_on, reason=pending.reason,
                requested_at=pending.requested_at) if pending else None))
    return out


def file_out(a) -> FileOut:
    return FileOut(url=uploads.public_url(a.storage_key), content_type=a.content_type,
                   size_bytes=a.size_bytes, is_document=uploads.is_document(a))


def task_detail(session: Session, task: HandlingTask, mine: set[int]) -> TaskDetail:
    base = task_views(session, [task], mine)[0]
    events = handling.events_of(session, task.id)
    files = handling.attachments_of(session, [e.id for e in events])
    people = dict(session.execute(select(Person.id, Person.name).where(
        Person.id.in_({e.actor_id for e in events}))).all()) if events else {}
    bodies = dict(session.execute(select(Body.id, Body.name).where(
        Body.id.in_({e.body_id for e in events if e.body_id}))).all()) if events else {}
    return TaskDetail(**base.model_dump(), events=[
        TaskEventOut(id=e.id, kind=e.kind, kind_label=TASK_EVENT_LABELS[e.kind],
                     body_name=bodies.get(e.body_id), actor_name=people.get(e.actor_id, ""),
                     percent=e.percent, text=e.text, due_on=e.due_on, at=e.at,
                     attachments=[file_out(a) for a in files[e.id]])
        for e in events])
