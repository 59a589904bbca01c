"""The feedback list (结果反馈清单, D21): once every item of a routed opinion list is settled (not
adopted with its explanation, D23, or handled to completion, D20), the list's results are
compiled once and reported to the convenor, to the bodies that received the list and to the
handling departments; every follower is told (the residents who proposed, voted, commented or
attended). Services never commit.

`on_settled` is called by app/followup/tracks.settle, the one place an item is settled. It takes
the opinion list's row lock before counting unsettled items: two last items settled at once
take turns there, so the second sees the first's committed state and the list is compiled
exactly once (and UNIQUE list_id refuses a second row in any case).

The documents are built from the rows the decision and handling services write (ItemTrack,
ItemDecision, HandlingTask, TaskCoHandler, TaskEvent) — nothing changes once every item is
settled, so they read the same whenever they are downloaded.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..audit.services import record
from ..consultations.models import (
    Attendance, Consultation, OpinionItem, OpinionList, OpinionRouting, RoutingState,
)
from ..consultations.opinions import opinion_list_for
from ..consultations.rules import SCOPE_LABELS
from ..db import insert_ignoring_duplicate, utcnow
from ..errors import NotFound
from ..notify.services import fan_out
from ..org.models import Body, Person, Platform, Role, RoleAssignment
from ..suggestions import trail
from ..suggestions.models import Comment, CommentState, Suggestion
from ..topics.models import Topic
from ..topics.services import reviewers_of
from ..workdays import CHINA_TZ
from .feedback_models import FeedbackList, summary_text
from .models import (
    OUTCOME_LABELS, SETTLED_STATES, HandlingTask, ItemDecision, ItemState, ItemTrack, Outcome,
    TaskCoHandler, TaskEvent, TaskEventKind,
)
from .results import results_link  # the page reads `id`: one link for every notice

NOTICE_KIND = "feedback"


def documents_link(consultation_id: int) -> str:
    """Where the convenor and the bodies open the list (the opinion list's page)."""
    return f"/pages/opinions/opinions?id={consultation_id}"


def document_urls(consultation_id: int) -> dict[str, str]:
    base = f"/api/consultations/{consultation_id}/feedback-list"
    return {"word_url": f"{base}.docx", "excel_url": f"{base}.xlsx"}


# --- compiling --------------------------------------------------------------------------------------

def on_settled(session: Session, track: ItemTrack) -> FeedbackList | None:
    """Called by tracks.settle after an item is settled: compile the list's feedback when this
    was its last unsettled item (D21)."""
    # NO KEY UPDATE: serialises the settling of a list's last items without blocking the rows
    # that only reference the list (tracks, the feedback row's own foreign key).
    lst = session.scalar(select(OpinionList).where(OpinionList.id == track.list_id)
                         .with_for_update(key_share=True)
                         .execution_options(populate_existing=True))
    unsettled = session.scalar(select(func.count(ItemTrack.id)).where(
        ItemTrack.list_id == lst.id, ItemTrack.state.not_in(SETTLED_STATES)))
    if unsettled:
        return None
    return compile_feedback(session, lst)


def feedback_of(session: Session, list_id: int) -> FeedbackList | None:
    return session.scalar(select(FeedbackList).where(FeedbackList.list_id == list_id))


def compile_feedback(session: Session, lst: OpinionList) -> FeedbackList:
    """Write the list's feedback row once (UNIQUE list_id), then publish it: the topic's public
    timeline and the notices. A second call returns the row and does nothing else."""
    existing = feedback_of(session, lst.id)
    if existing is not None:  # a settle replayed, or a second call: nothing more happens
        return existing
    c = session.get(Consultation, lst.consultation_id)
    items = feedback_items(session, lst)
    counts = tally(items)
    inserted = insert_ignoring_duplicate(session, FeedbackList.__table__, {
        "list_id": lst.id, "consultation_id": c.id, "topic_id": c.topic_id,
        "compiled_at": utcnow(), **counts}, ["list_id"])
    fl = feedback_of(session, lst.id)
    if not inserted:
        return fl
    topic = session.get(Topic, c.topic_id)
    summary = summary_text(fl)
    trail.add_timeline(session, topic_id=topic.id, kind="feedback",
                       text=f"结果反馈清单已形成：{summary}")
    _notify(session, c, topic, lst, fl, summary)
    record(session, actor_id=None, action="feedback.compile", object_type="opinion_list",
           object_id=lst.id, after={"feedback_list_id": fl.id, **counts})
    return fl


def tally(items: list["FeedbackItem"]) -> dict[str, int]:
    return {"items": len(items),
            "adopted": sum(i.outcome is Outcome.adopted for i in items),
            "partly": sum(i.outcome is Outcome.partly for i in items),
            "not_adopted": sum(i.outcome is Outcome.not_adopted for i in items),
            "done": sum(i.state is ItemState.done for i in items),
            "on_time": sum(bool(i.on_time) for i in items)}


# --- who is told ------------------------------------------------------------------------------------

def received_body_ids(session: Session, list_id: int) -> list[int]:
    """The bodies the list (or a part of it) reached: every routing that left `waiting`."""
    return list(session.scalars(select(OpinionRouting.body_id).where(
        OpinionRouting.list_id == list_id, OpinionRouting.state != RoutingState.waiting)
        .distinct().order_by(OpinionRouting.body_id)))


def deciding_body_ids(session: Session, list_id: int) -> set[int]:
    """The bodies that decided the list's items, at any level: an escalated item (D22) is
    decided by a body the list itself never reached."""
    items = select(OpinionItem.id).where(OpinionItem.list_id == list_id)
    return set(session.scalars(select(ItemDecision.body_id).where(
        ItemDecision.item_id.in_(items))))


def department_ids(session: Session, list_id: int) -> set[int]:
    """The handling departments of the list's items: lead departments and co-handlers."""
    items = select(OpinionItem.id).where(OpinionItem.list_id == list_id)
    lead = set(session.scalars(select(HandlingTask.lead_body_id)
                               .where(HandlingTask.item_id.in_(items))))
    co = set(session.scalars(select(TaskCoHandler.body_id)
                             .join(HandlingTask, HandlingTask.id == TaskCoHandler.task_id)
                             .where(HandlingTask.item_id.in_(items))))
    return lead | co


def handler_ids(session: Session, body_ids: set[int]) -> list[int]:
    if not body_ids:
        return []
    return list(session.scalars(
        select(RoleAssignment.person_id).join(Person, Person.id == RoleAssignment.person_id)
        .where(RoleAssignment.role == Role.dept_handler, RoleAssignment.body_id.in_(body_ids),
               RoleAssignment.is_active.is_(True), Person.is_active.is_(True))
        .distinct().order_by(RoleAssignment.person_id)))


def follower_ids(session: Session, c: Consultation) -> list[int]:
    """Everyone who followed the topic's way here: followers of the topic and of its
    suggestions (voters follow what they vote for), the proposers, the commenters, and the
    attendees of the meeting who are registered people. Active people only, each once."""
    people: dict[int, None] = {}
    for pid in trail.follower_ids(session, topic_id=c.topic_id):
        people.setdefault(pid)
    suggestions = session.execute(select(Suggestion.id, Suggestion.proposer_id)
                                  .where(Suggestion.topic_id == c.topic_id)
                                  .order_by(Suggestion.id)).all()
    for sid, proposer in suggestions:
        people.setdefault(proposer)
        for pid in trail.follower_ids(session, suggestion_id=sid):
            people.setdefault(pid)
    if suggestions:
        for pid in session.scalars(select(Comment.author_id).where(
                Comment.suggestion_id.in_([sid for sid, _ in suggestions]),
                Comment.state != CommentState.rejected).distinct().order_by(Comment.author_id)):
            people.setdefault(pid)
    for pid in session.scalars(select(Attendance.person_id).where(
            Attendance.consultation_id == c.id, Attendance.person_id.is_not(None))
            .order_by(Attendance.id)):
        people.setdefault(pid)
    if not people:
        return []
    active = set(session.scalars(select(Person.id).where(Person.id.in_(people),
                                                         Person.is_active.is_(True))))
    return [pid for pid in people if pid in active]


def _notify(session: Session, c: Consultation, topic: Topic, lst: OpinionList,
            fl: FeedbackList, summary: str) -> None:
    """D21: the list goes to the convenor, the bodies that received the opinion list and the
    handling departments (with the documents), then to every follower (the results page). One
    subject for both: whoever is in both groups gets one notice, the first."""
    subject = f"feedback:{lst.id}"
    platform = session.get(Platform, c.platform_id)
    officials: dict[int, None] = {}
    for pid in ([platform.convenor_id] if platform.convenor_id else [c.created_by_id]):
        officials.setdefault(pid)
    bodies = received_body_ids(session, lst.id)
    bodies += sorted(deciding_body_ids(session, lst.id) - set(bodies))
    for body_id in bodies:
        for pid in reviewers_of(session, body_id):
            officials.setdefault(pid)
    for pid in handler_ids(session, department_ids(session, lst.id)):
        officials.setdefault(pid)
    payload = {"consultation_id": c.id, "topic_id": topic.id, "topic": topic.title,
               **document_urls(c.id)}
    fan_out(session, kind=NOTICE_KIND, subject=subject, recipient_ids=list(officials),
            title="结果反馈清单已形成",
            body=f"“{topic.title}”协商意见已全部办理完毕，结果反馈清单已形成：{summary}。"
                 "请在意见清单页查看或下载 Word、Excel 文件。",
            link=documents_link(c.id), payload=payload)
    followers = [pid for pid in follower_ids(session, c) if pid not in officials]
    if followers:
        fan_out(session, kind=NOTICE_KIND, subject=subject, recipient_ids=followers,
                title="您关注的议题有了办理结果",
                body=f"您关注的“{topic.title}”协商意见已办理完毕：{summary}。点击查看每条意见的"
                     "办理结果。",
                link=results_link(topic.id),
                payload={"topic_id": topic.id, "topic": topic.title})


# --- reading ----------------------------------------------------------------------------------------

@dataclass
class FeedbackItem:
    """One opinion item's result, as the documents show it (D19–D23)."""

    seq: int
    text: str
    scope_label: str
    state: ItemState
    outcome: Outcome
    decision_label: str
    escalated: bool
    decided_by: str
    decided_on: date | None
    explanation: str | None
    lead: str | None = None
    co_handlers: list[str] = field(default_factory=list)
    plan: str | None = None
    result: str | None = None
    assigned_on: date | None = None
    original_due_on: date | None = None
    due_on: date | None = None
    extensions: list[date] = field(default_factory=list)
    completed_on: date | None = None
    on_time: bool | None = None

    @property
    def decision_text(self) -> str:
        """The decision as residents read it: an escalated item names the level that decided."""
        if self.escalated:
            return f"{self.decision_label}（经政协渠道向上级反映，由{self.decided_by}研究决定）"
        return self.decision_label

    @property
    def on_time_label(self) -> str:
        return "" if self.on_time is None else ("按期办结" if self.on_time else "逾期办结")

    @property
    def due_text(self) -> str:
        if self.due_on is None:
            return ""
        if self.extensions and self.original_due_on and self.due_on != self.original_due_on:
            return f"{self.due_on:%Y-%m-%d}（原定{self.original_due_on:%Y-%m-%d}，延期{len(self.extensions)}次）"
        return f"{self.due_on:%Y-%m-%d}"


def _local_date(at: datetime | None) -> date | None:
    return at.astimezone(CHINA_TZ).date() if at is not None else None


def feedback_items(session: Session, lst: OpinionList) -> list[FeedbackItem]:
    """Every item of the list with its final decision and handling, in seq order (a few
    statements for the whole list)."""
    items = list(session.scalars(select(OpinionItem).where(OpinionItem.list_id == lst.id)
                                 .order_by(OpinionItem.seq)))
    ids = [i.id for i in items]
    tracks = {t.item_id: t for t in session.scalars(
        select(ItemTrack).where(ItemTrack.item_id.in_(ids)))}
    decisions: dict[int, list[ItemDecision]] = defaultdict(list)
    for d in session.scalars(select(ItemDecision).where(ItemDecision.item_id.in_(ids))
                             .order_by(ItemDecision.decided_at, ItemDecision.id)):
        decisions[d.item_id].append(d)
    tasks = {t.item_id: t for t in session.scalars(
        select(HandlingTask).where(HandlingTask.item_id.in_(ids)))}
    task_ids = [t.id for t in tasks.values()]
    co: dict[int, list[int]] = defaultdict(list)
    extensions: dict[int, list[date]] = defaultdict(list)
    if task_ids:
        for row in session.scalars(select(TaskCoHandler).where(TaskCoHandler.task_id.in_(task_ids))
                                   .order_by(TaskCoHandler.id)):
            co[row.task_id].append(row.body_id)
        for ev in session.scalars(select(TaskEvent).where(
                TaskEvent.task_id.in_(task_ids),
                TaskEvent.kind == TaskEventKind.extension_approved).order_by(TaskEvent.id)):
            if ev.due_on is not None:
                extensions[ev.task_id].append(ev.due_on)
    body_ids = {d.body_id for ds in decisions.values() for d in ds}
    body_ids |= {t.lead_body_id for t in tasks.values()} | {b for bs in co.values() for b in bs}
    names = dict(session.execute(select(Body.id, Body.name).where(Body.id.in_(body_ids))).all()) \
        if body_ids else {}
    out = []
    for item in items:
        track = tracks.get(item.id)
        made = decisions.get(item.id, [])
        final = next((d for d in reversed(made) if d.outcome is not Outcome.escalated), None)
        outcome = (track.outcome if track is not None and track.outcome is not None
                   and track.outcome is not Outcome.escalated
                   else final.outcome if final else None)
        row = FeedbackItem(
            seq=item.seq, text=item.text, scope_label=SCOPE_LABELS[item.scope],
            state=track.state if track is not None else ItemState.awaiting, outcome=outcome,
            decision_label=OUTCOME_LABELS.get(outcome, "待研究"),
            escalated=any(d.outcome is Outcome.escalated for d in made),
            decided_by=names.get(final.body_id, "") if final else "",
            decided_on=_local_date(final.decided_at) if final else None,
            explanation=final.explanation if final else None)
        task = tasks.get(item.id)
        if task is not None:
            row.lead = names.get(task.lead_body_id, "")
            row.co_handlers = [names.get(b, "") for b in co.get(task.id, [])]
            row.plan, row.result = task.plan_text, task.result_text
            row.assigned_on, row.original_due_on = task.assigned_on, task.original_due_on
            row.due_on, row.extensions = task.due_on, extensions.get(task.id, [])
            row.completed_on = task.completed_on or _local_date(task.completed_at)
            if row.completed_on is not None:
                row.on_time = row.completed_on <= task.due_on  # extensions counted
        out.append(row)
    return out


def concerns(session: Session, person: Person, list_id: int) -> bool:
    """A handler of one of the list's handling departments (lead or co-handler), or a reviewer
    of a body that decided one of its items (an escalated item's upper level, D22)."""
    mine = session.execute(select(RoleAssignment.role, RoleAssignment.body_id).where(
        RoleAssignment.person_id == person.id,
        RoleAssignment.role.in_((Role.dept_handler, Role.reviewer)),
        RoleAssignment.is_active.is_(True), RoleAssignment.body_id.is_not(None))).all()
    handles = {b for role, b in mine if role is Role.dept_handler}
    reviews = {b for role, b in mine if role is Role.reviewer}
    return bool((handles and handles & department_ids(session, list_id))
                or (reviews and reviews & deciding_body_ids(session, list_id)))


def feedback_list_for(session: Session, *, person: Person, consultation_id: int
                      ) -> tuple[Consultation, OpinionList, FeedbackList]:
    """Readable by whoever may read the opinion list (opinions.opinion_list_for: the meeting's
    readers and the reviewers of the bodies it reached), by the handlers of its departments and
    the reviewers of the bodies that decided its items; 404 to anyone else, and to everyone
    before the list is compiled."""
    c = session.get(Consultation, consultation_id)
    lst = session.scalar(select(OpinionList).where(
        OpinionList.consultation_id == consultation_id)) if c else None
    if lst is None or not concerns(session, person, lst.id):
        c, lst = opinion_list_for(session, person=person, consultation_id=consultation_id)
    fl = feedback_of(session, lst.id) if lst is not None else None
    if fl is None:
        raise NotFound("该协商意见尚未全部办结，结果反馈清单尚未形成",
                       code="feedback_list_not_found")
    return c, lst, fl


@dataclass
class FeedbackDocument:
    title: str
    platform: str
    held_on: str
    topic: str
    compiled_on: str
    summary: str
    items: list[FeedbackItem]


def document(session: Session, c: Consultation, lst: OpinionList,
             fl: FeedbackList) -> FeedbackDocument:
    topic = session.get(Topic, c.topic_id)
    platform = session.get(Platform, c.platform_id)
    held = (c.held_at or c.starts_at).astimezone(CHINA_TZ)
    compiled = fl.compiled_at.astimezone(CHINA_TZ)
    return FeedbackDocument(
        title=f"关于“{topic.title}”协商意见的结果反馈清单", platform=platform.name,
        held_on=f"{held:%Y年%m月%d日}", topic=topic.title,
        compiled_on=f"{compiled:%Y年%m月%d日}", summary=summary_text(fl),
        items=feedback_items(session, lst))
