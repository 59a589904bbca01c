"""D24: key and difficult items tracked by members through inspection and democratic
supervision until delivered. Services take a session and never commit.

- CPPCC staff (Role.staff / admin, permission "followup.supervise") whose region covers the
  item's platform flag it key with a reason and name members (active Role.member) to track it;
  the newly named are told. Flagging again with the same reason and members is a replay; with
  another reason or more members it updates the reason and adds them (nobody is dropped).
- A named member sees their items and adds supervision notes (text + optional photos); anyone
  else gets 404 for the item.
- Staff see the overdue handling tasks of their jurisdiction.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import literal, select
from sqlalchemy.orm import Session

from ..audit.services import record
from ..auth.permissions import reach
from ..consultations.models import Consultation, OpinionItem, OpinionList
from ..db import utcnow
from ..errors import NotFound, ValidationFailed
from ..notify.services import fan_out
from ..org.models import Body, Person, Platform, Region, Role, RoleAssignment
from ..org.services import today_local
from ..suggestions.models import Attachment
from . import tracks
from .handling import attach, clean_keys, overdue_of
from .models import (
    ITEM_STATE_LABELS, TASK_STATE_LABELS, HandlingTask, ItemState, ItemSupervisor, ItemTrack,
    SupervisionNote, TaskState,
)

SUPERVISE = "followup.supervise"
MAX_MEMBERS = 20
NOTE_MAX = 2000
REASON_MAX = 200


def supervision_link() -> str:
    return "/pages/supervision/supervision"


def _platform_of(session: Session, item_id: int) -> tuple[Platform, str] | None:
    row = session.execute(
        select(Platform, Region.path)
        .join(Consultation, Consultation.platform_id == Platform.id)
        .join(OpinionList, OpinionList.consultation_id == Consultation.id)
        .join(OpinionItem, OpinionItem.list_id == OpinionList.id)
        .join(Region, Region.id == Platform.region_id)
        .where(OpinionItem.id == item_id)).first()
    return (row[0], row[1]) if row else None


def _not_found() -> NotFound:
    return NotFound("该意见事项不存在", code="item_not_found")


def get_item_for_staff_or_404(session: Session, item_id: int, person: Person) -> ItemTrack:
    """The track of an item on a platform within the staff member's reach (404 otherwise)."""
    found = _platform_of(session, item_id)
    track = session.scalar(select(ItemTrack).where(ItemTrack.item_id == item_id))
    if (found is None or track is None
            or not reach(session, person, SUPERVISE).covers_platform(*found)):
        raise _not_found()
    return track


def _in_office():
    """SQL: an active member role of an active person (joined on RoleAssignment)."""
    return (RoleAssignment.role == Role.member, RoleAssignment.is_active.is_(True),
            Person.is_active.is_(True))


def _members(session: Session, ids: list[int], platform_path: str) -> set[int]:
    """Those of `ids` in office as members of a CPPCC over the platform (D29: the county's or
    the city's whose region contains the platform's)."""
    return set(session.scalars(
        select(RoleAssignment.person_id).join(Person, Person.id == RoleAssignment.person_id)
        .join(Region, Region.id == RoleAssignment.region_id)
        .where(RoleAssignment.person_id.in_(ids), *_in_office(),
               literal(platform_path).startswith(Region.path))))


def _is_member(session: Session, person: Person) -> bool:
    return session.scalar(select(RoleAssignment.id).join(
        Person, Person.id == RoleAssignment.person_id)
        .where(RoleAssignment.person_id == person.id, *_in_office()).limit(1)) is not None


def supervisors_of(session: Session, item_id: int) -> list[int]:
    return list(session.scalars(select(ItemSupervisor.person_id)
                                .where(ItemSupervisor.item_id == item_id)
                                .order_by(ItemSupervisor.id)))


def flag_item(session: Session, *, actor: Person, item_id: int, reason: str,
              member_ids: list[int]) -> ItemTrack:
    get_item_for_staff_or_404(session, item_id, actor)
    reason = " ".join((reason or "").split())
    if not reason:
        raise ValidationFailed("请说明列为重点督办事项的理由", code="reason_required")
    if len(reason) > REASON_MAX:
        raise ValidationFailed(f"理由过长（最多 {REASON_MAX} 字）", code="reason_too_long")
    ids = list(dict.fromkeys(member_ids))
    if not ids or len(ids) > MAX_MEMBERS:
        raise ValidationFailed(f"请指定 1 至 {MAX_MEMBERS} 名跟踪督办的委员",
                               code="members_required")
    if _members(session, ids, _platform_of(session, item_id)[1]) != set(ids):
        raise ValidationFailed("只能指定在任的政协委员跟踪督办", code="not_a_member")
    track = tracks.track_for_update(session, item_id)
    named = set(supervisors_of(session, item_id))
    if track.is_key and track.key_reason == reason and named == set(ids):
        return track
    before = {"is_key": track.is_key, "key_reason": track.key_reason,
              "members": sorted(named)}
    if not track.is_key or track.key_reason != reason:
        track.is_key, track.key_reason = True, reason
        track.flagged_by_id, track.flagged_at = actor.id, utcnow()
    new = [pid for pid in ids if pid not in named]
    session.add_all(ItemSupervisor(item_id=item_id, person_id=pid, named_by_id=actor.id)
                    for pid in new)
    session.flush()
    record(session, actor_id=actor.id, action="supervision.flag", object_type="opinion_item",
           object_id=item_id, before=before,
           after={"is_key": True, "key_reason": reason, "members": sorted(named | set(ids))})
    text = session.scalar(select(OpinionItem.text).where(OpinionItem.id == item_id)) or ""
    fan_out(session, kind="status_change", subject=f"supervise:{item_id}", recipient_ids=new,
            title="请跟踪督办重点事项",
            body=f"政协将“{text[:40]}”列为重点督办事项（{reason[:40]}），请您跟踪督办，"
                 f"可在小程序“我的督办”中查看办理情况并记录督办意见。",
            link=supervision_link())
    return track


# --- what members and staff see -----------------------------------------------------------------

@dataclass
class ItemView:
    item_id: int
    item_text: str
    topic_title: str
    platform_name: str
    state: ItemState
    state_label: str
    is_key: bool
    key_reason: str | None
    task_id: int | None = None
    task_state_label: str | None = None
    department: str | None = None
    percent: int | None = None
    due_on: date | None = None
    overdue: bool = False
    workdays_overdue: int = 0
    supervisors: list[str] = field(default_factory=list)
    notes: list[dict] = field(default_factory=list)


def item_views(session: Session, item_ids: list[int], *, with_notes: bool) -> list[ItemView]:
    from .views import item_context

    if not item_ids:
        return []
    context = item_context(session, set(item_ids))
    track_of = {t.item_id: t for t in session.scalars(
        select(ItemTrack).where(ItemTrack.item_id.in_(item_ids)))}
    task_of = {t.item_id: t for t in session.scalars(
        select(HandlingTask).where(HandlingTask.item_id.in_(item_ids)))}
    body_ids = {t.lead_body_id for t in task_of.values()}
    bodies = dict(session.execute(select(Body.id, Body.name).where(Body.id.in_(body_ids)))
                  .all()) if body_ids else {}
    sup = session.execute(select(ItemSupervisor.item_id, Person.name)
                          .join(Person, Person.id == ItemSupervisor.person_id)
                          .where(ItemSupervisor.item_id.in_(item_ids))
                          .order_by(ItemSupervisor.id)).all()
    notes = notes_of(session, item_ids) if with_notes else {}
    out = []
    for iid in item_ids:
        track = track_of.get(iid)
        if track is None:
            continue
        text, title, pname = context.get(iid, ("", "", ""))
        v = ItemView(item_id=iid, item_text=text, topic_title=title, platform_name=pname,
                     state=track.state, state_label=ITEM_STATE_LABELS[track.state],
                     is_key=track.is_key, key_reason=track.key_reason,
                     supervisors=[n for i, n in sup if i == iid], notes=notes.get(iid, []))
        task = task_of.get(iid)
        if task is not None:
            late = overdue_of(task)
            v.task_id, v.task_state_label = task.id, TASK_STATE_LABELS[task.state]
            v.department, v.percent, v.due_on = bodies.get(task.lead_body_id), task.percent, \
                task.due_on
            v.overdue, v.workdays_overdue = late.overdue, late.workdays_overdue
        out.append(v)
    return out


def notes_of(session: Session, item_ids: list[int]) -> dict[int, list[dict]]:
    from ..suggestions import uploads

    rows = session.execute(select(SupervisionNote, Person.name)
                           .join(Person, Person.id == SupervisionNote.person_id)
                           .where(SupervisionNote.item_id.in_(item_ids))
                           .order_by(SupervisionNote.id)).all()
    photos: dict[int, list[str]] = {}
    if rows:
        for a in session.scalars(select(Attachment).where(
                Attachment.supervision_note_id.in_([n.id for n, _ in rows]))
                .order_by(Attachment.id)):
            photos.setdefault(a.supervision_note_id, []).append(uploads.public_url(a.storage_key))
    out: dict[int, list[dict]] = {}
    for n, name in rows:
        out.setdefault(n.item_id, []).append({"id": n.id, "text": n.text, "author_name": name,
                                              "at": n.at, "photos": photos.get(n.id, [])})
    return out


def my_items(session: Session, person: Person) -> list[ItemView]:
    if not _is_member(session, person):  # a member whose term ended tracks nothing any more
        return []
    ids = list(session.scalars(select(ItemSupervisor.item_id)
                               .where(ItemSupervisor.person_id == person.id)
                               .order_by(ItemSupervisor.id.desc())))
    return item_views(session, ids, with_notes=True)


def get_supervised_or_404(session: Session, item_id: int, person: Person) -> ItemSupervisor:
    row = session.scalar(select(ItemSupervisor).where(ItemSupervisor.item_id == item_id,
                                                      ItemSupervisor.person_id == person.id))
    if row is None or not _is_member(session, person):
        raise _not_found()
    return row


def add_note(session: Session, *, actor: Person, item_id: int, text: str,
             upload_keys: list[str] | None = None) -> ItemView:
    """A named member's supervision note (text + own photos). The same note sent again (the
    member's last note on the item, same text and photos) is a replay."""
    get_supervised_or_404(session, item_id, actor)
    text = (text or "").strip()
    if not text:
        raise ValidationFailed("请填写督办意见", code="note_required")
    if len(text) > NOTE_MAX:
        raise ValidationFailed(f"督办意见过长（最多 {NOTE_MAX} 字）", code="note_too_long")
    keys = clean_keys(upload_keys)
    tracks.track_for_update(session, item_id)  # one writer per item: the replay check holds
    last = session.scalar(select(SupervisionNote).where(
        SupervisionNote.item_id == item_id, SupervisionNote.person_id == actor.id)
        .order_by(SupervisionNote.id.desc()).limit(1))
    if last is not None and last.text == text and set(session.scalars(
            select(Attachment.storage_key)
            .where(Attachment.supervision_note_id == last.id))) == set(keys):
        return item_views(session, [item_id], with_notes=True)[0]
    note = SupervisionNote(item_id=item_id, person_id=actor.id, text=text)
    session.add(note)
    session.flush()
    attach(session, actor, keys, photos_only=True, supervision_note_id=note.id)
    record(session, actor_id=actor.id, action="supervision.note", object_type="opinion_item",
           object_id=item_id, after={"note_id": note.id, "photos": len(keys)})
    return item_views(session, [item_id], with_notes=True)[0]


def overdue_items(session: Session, person: Person) -> list[ItemView]:
    """Overdue handling tasks (due before China-local today, not completed) on platforms within
    the staff member's reach, most overdue first."""
    r = reach(session, person, SUPERVISE)
    ids = list(session.scalars(
        select(HandlingTask.item_id)
        .join(OpinionItem, OpinionItem.id == HandlingTask.item_id)
        .join(OpinionList, OpinionList.id == OpinionItem.list_id)
        .join(Consultation, Consultation.id == OpinionList.consultation_id)
        .join(Platform, Platform.id == Consultation.platform_id)
        .join(Region, Region.id == Platform.region_id)
        .where(HandlingTask.due_on < today_local(), HandlingTask.state != TaskState.completed,
               r.platform_clause(Platform.id, Region.path))
        .order_by(HandlingTask.due_on, HandlingTask.id).limit(500)))
    return item_views(session, ids, with_notes=False)
