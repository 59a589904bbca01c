"""Item 7: what became of a topic, in public (D19) — and the public stage of a topic or a
suggestion, derived in SQL so lists can filter and show it.

Stages (codes stable for clients, Chinese labels in `STAGE_LABELS`):

    open       征集中  the suggestion is open for votes, not taken up
    topic      已立题  taken up into a topic; no consultation held yet
    consulted  已协商  a consultation on the topic was held; its list is not routed yet
    handling   办理中  items routed (D18) and at least one not settled (awaiting a decision,
                      waiting for a department, or being handled — D19, D20)
    done       已办结  every routed item is settled (not adopted and explained, D23, or done, D21)

`topic_stage(Topic.id)` and `suggestion_stage()` are SQL expressions (correlated EXISTS, no
extra round trip): the suggestion list selects and filters by them, the results page selects
the topic's. A declined suggestion, or one whose topic was withdrawn, has no stage (NULL).

`topic_results(session, topic_id)` reads the whole chain with a fixed number of statements
whatever the number of consultations, items, decisions, tasks and events; it shows no
personal data — residents' names masked (张**), no phone or openid, no reviewer or handler
names (bodies only), no research notes and no sensitive findings (D12), no return reasons of
the approval chain. Free text written by people (items, explanations, progress) passes through
the public answer's number masking (app/api.py) as well.

Each consultation also shows its feedback list's figures (`_feedback_section`, D21, table
FeedbackList) and its evaluations (`_ratings_section`, D26–D27, app/evaluation): figures only.
"""
from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime

from sqlalchemy import and_, case, exists, func, literal, select
from sqlalchemy.orm import Session

from ..consultations.models import (
    PLACE_KIND_LABELS, RESEARCH_KIND_LABELS, Attendance, Consultation, ConsultationState,
    OpinionItem, OpinionList, OpinionListState, ResearchState, ResearchTask,
)
from ..consultations.rules import GROUP_LABELS, SCOPE_LABELS
from ..crypto import mask_name
from ..errors import NotFound
from ..evaluation.services import breakdown, overall, tallies
from ..org.models import Body, Person, Platform
from ..suggestions.models import SUGGESTION_STATE_LABELS, Suggestion, SuggestionState
from ..topics.models import CATEGORY_LABELS, SOURCE_LABELS, Topic, TopicState
from ..workdays import CHINA_TZ
from .feedback_models import FeedbackList, summary_text
from .models import (
    ITEM_STATE_LABELS, OUTCOME_LABELS, SETTLED_STATES, TASK_EVENT_LABELS, TASK_STATE_LABELS,
    ExtensionRequest, ExtensionState, HandlingTask, ItemDecision, ItemState, ItemTrack, Outcome,
    TaskCoHandler, TaskEvent, TaskState,
)

STAGES = ("open", "topic", "consulted", "handling", "done")
STAGE_LABELS = {"open": "征集中", "topic": "已立题", "consulted": "已协商",
                "handling": "办理中", "done": "已办结"}

EXTENSION_STATE_LABELS = {ExtensionState.pending: "待审批", ExtensionState.approved: "已同意",
                          ExtensionState.refused: "未同意"}

# A consultation "was held" once the meeting took place (held) or its list was routed.
HELD_STATES = (ConsultationState.held, ConsultationState.concluded)


# --- the stage, in SQL ---------------------------------------------------------------------------

def _topic_tracks(topic_id):
    """SELECT of the item tracks of every list of the topic's consultations (correlated)."""
    return (select(ItemTrack.id)
            .join(OpinionList, OpinionList.id == ItemTrack.list_id)
            .join(Consultation, Consultation.id == OpinionList.consultation_id)
            .where(Consultation.topic_id == topic_id))


def topic_stage(topic_id):
    """SQL expression: the stage code of the topic whose id is `topic_id` (a column of the
    enclosing query): topic / consulted / handling / done."""
    tracks = _topic_tracks(topic_id)
    held = select(Consultation.id).where(Consultation.topic_id == topic_id,
                                         Consultation.state.in_(HELD_STATES))
    return case(
        (tracks.where(ItemTrack.state.not_in(sorted(SETTLED_STATES))).exists(),
         literal("handling")),
        (tracks.exists(), literal("done")),
        (held.exists(), literal("consulted")),
        else_=literal("topic"))


def suggestion_stage():
    """SQL expression over `Suggestion`: its stage code, or NULL (declined, held, rejected, or
    taken up into a topic that was withdrawn)."""
    topic_alive = exists().where(Topic.id == Suggestion.topic_id,
                                 Topic.state != TopicState.withdrawn)
    return case(
        (Suggestion.state == SuggestionState.open, literal("open")),
        (and_(Suggestion.state == SuggestionState.taken_up, topic_alive),
         topic_stage(Suggestion.topic_id)),
        else_=None)


def stage_filter(stage: str):
    """WHERE clause for the list tab of `stage` (the state column first, so its indexes
    narrow the rows before the stage is derived)."""
    if stage == "open":
        return Suggestion.state == SuggestionState.open
    return and_(Suggestion.state == SuggestionState.taken_up, suggestion_stage() == stage)


def stage_view(code: str | None) -> dict:
    return {"stage": code, "stage_label": STAGE_LABELS.get(code) if code else None}


# --- the public page ------------------------------------------------------------------------------

def _local_date(at: datetime | None) -> date | None:
    return at.astimezone(CHINA_TZ).date() if at is not None else None


def public_topic_or_404(session: Session, topic_id: int):
    """(topic, platform name, stage) of an approved topic on an active platform; anything else
    — a draft, a topic in approval or returned, a withdrawn one — does not exist for the public
    (404), whoever asks: its chain is not public until it passed (D8)."""
    row = session.execute(
        select(Topic, Platform.name, topic_stage(Topic.id))
        .join(Platform, Platform.id == Topic.platform_id)
        .where(Topic.id == topic_id, Topic.state == TopicState.approved,
               Platform.is_active.is_(True))).first()
    if row is None:
        raise NotFound("该议题不存在或尚未公开", code="topic_not_found")
    return row


def _suggestions(session: Session, topic_id: int) -> list[dict]:
    rows = session.execute(
        select(Suggestion.id, Suggestion.title, Suggestion.state, Suggestion.vote_count,
               Person.name)
        .join(Person, Person.id == Suggestion.proposer_id)
        .where(Suggestion.topic_id == topic_id, Suggestion.state == SuggestionState.taken_up)
        .order_by(Suggestion.vote_count.desc(), Suggestion.id)).all()
    return [{"id": r.id, "title": r.title, "state": r.state.value,
             "state_label": SUGGESTION_STATE_LABELS[r.state], "vote_count": r.vote_count,
             "proposer": mask_name(r.name)} for r in rows]


def _research(session: Session, topic_id: int) -> list[dict]:
    """D11 research by kind and title; D12: a sensitive or long-standing finding is reported
    to the Party committee, not published — such a task shows its kind and date only. Notes
    (the findings) are never public."""
    rows = session.execute(
        select(ResearchTask.kind, ResearchTask.title, ResearchTask.state,
               ResearchTask.completed_at, ResearchTask.is_sensitive,
               ResearchTask.is_long_standing)
        .where(ResearchTask.topic_id == topic_id).order_by(ResearchTask.id)).all()
    return [{"kind": r.kind.value, "kind_label": RESEARCH_KIND_LABELS[r.kind],
             "title": None if (r.is_sensitive or r.is_long_standing) else r.title,
             "completed": r.state is ResearchState.completed,
             "completed_on": _local_date(r.completed_at)} for r in rows]


def _attendance(session: Session, consultation_ids: list[int]) -> dict[int, list[dict]]:
    counts: dict[int, list[dict]] = defaultdict(list)
    if not consultation_ids:
        return counts
    for cid, group, n in session.execute(
            select(Attendance.consultation_id, Attendance.group, func.count())
            .where(Attendance.consultation_id.in_(consultation_ids))
            .group_by(Attendance.consultation_id, Attendance.group)
            .order_by(Attendance.consultation_id, Attendance.group)):
        counts[cid].append({"group": group.value, "group_label": GROUP_LABELS[group], "count": n})
    return counts


def _handling(session: Session, item_ids: list[int]) -> dict[int, dict]:
    """Tasks of the items with lead and co-handling bodies, every event and extension: four
    statements whatever their number."""
    if not item_ids:
        return {}
    tasks = session.execute(
        select(HandlingTask, Body.name).join(Body, Body.id == HandlingTask.lead_body_id)
        .where(HandlingTask.item_id.in_(item_ids))).all()
    if not tasks:
        return {}
    task_ids = [t.id for t, _ in tasks]
    co: dict[int, list[str]] = defaultdict(list)
    for task_id, name in session.execute(
            select(TaskCoHandler.task_id, Body.name).join(Body, Body.id == TaskCoHandler.body_id)
            .where(TaskCoHandler.task_id.in_(task_ids)).order_by(TaskCoHandler.id)):
        co[task_id].append(name)
    events: dict[int, list[dict]] = defaultdict(list)
    for e in session.scalars(select(TaskEvent).where(TaskEvent.task_id.in_(task_ids))
                             .order_by(TaskEvent.task_id, TaskEvent.at, TaskEvent.id)):
        events[e.task_id].append({
            "kind": e.kind.value, "kind_label": TASK_EVENT_LABELS[e.kind], "at": e.at,
            "on": _local_date(e.at), "percent": e.percent, "text": e.text, "due_on": e.due_on})
    extensions: dict[int, list[dict]] = defaultdict(list)
    for x in session.scalars(select(ExtensionRequest)
                             .where(ExtensionRequest.task_id.in_(task_ids))
                             .order_by(ExtensionRequest.id)):
        extensions[x.task_id].append({
            "requested_on": _local_date(x.requested_at), "requested_due_on": x.requested_due_on,
            "reason": x.reason, "state": x.state.value,
            "state_label": EXTENSION_STATE_LABELS[x.state], "note": x.note,
            "decided_on": _local_date(x.decided_at)})
    out = {}
    for t, lead in tasks:
        done = t.state is TaskState.completed
        out[t.item_id] = {
            "lead_department": lead, "co_handlers": co[t.id],
            "state": t.state.value, "state_label": TASK_STATE_LABELS[t.state],
            "assigned_on": t.assigned_on, "workdays": t.workdays, "due_on": t.due_on,
            "original_due_on": t.original_due_on, "due_estimated": t.due_estimated,
            "percent": t.percent, "plan": t.plan_text, "planned_on": _local_date(t.planned_at),
            "result": t.result_text if done else None,
            "completed_on": t.completed_on if done else None,
            "on_time": (t.completed_on <= t.due_on) if done and t.completed_on else None,
            "events": events[t.id], "extensions": extensions[t.id]}
    return out


def _items(session: Session, list_ids: list[int]) -> dict[int, list[dict]]:
    """The items of routed lists, each with its track, every decision (the D22 escalation
    trail, lowest level first) and its handling."""
    by_list: dict[int, list[dict]] = defaultdict(list)
    if not list_ids:
        return by_list
    rows = session.execute(
        select(OpinionItem, ItemTrack)
        .outerjoin(ItemTrack, ItemTrack.item_id == OpinionItem.id)
        .where(OpinionItem.list_id.in_(list_ids))
        .order_by(OpinionItem.list_id, OpinionItem.seq)).all()
    item_ids = [i.id for i, _ in rows]
    decisions: dict[int, list[dict]] = defaultdict(list)
    if item_ids:
        for d, body in session.execute(
                select(ItemDecision, Body.name).join(Body, Body.id == ItemDecision.body_id)
                .where(ItemDecision.item_id.in_(item_ids))
                .order_by(ItemDecision.item_id, ItemDecision.decided_at, ItemDecision.id)):
            decisions[d.item_id].append({
                "scope": d.scope.value, "scope_label": SCOPE_LABELS[d.scope], "body": body,
                "outcome": d.outcome.value, "outcome_label": OUTCOME_LABELS[d.outcome],
                "explanation": d.explanation, "decided_on": _local_date(d.decided_at)})
    handling = _handling(session, item_ids)
    for item, track in rows:
        state = track.state if track else ItemState.awaiting
        trail = decisions[item.id]
        final = trail[-1] if trail else None
        by_list[item.list_id].append({
            "id": item.id, "seq": item.seq, "text": item.text,
            "raised_by": item.raised_by.value, "raised_by_label": GROUP_LABELS[item.raised_by],
            "scope": item.scope.value, "scope_label": SCOPE_LABELS[item.scope],
            "state": state.value, "state_label": ITEM_STATE_LABELS[state],
            "settled": state in SETTLED_STATES,
            "outcome": final["outcome"] if final else None,
            "outcome_label": final["outcome_label"] if final else None,
            "explanation": final["explanation"] if final else None,
            "decided_on": final["decided_on"] if final else None,
            "decisions": trail, "handling": handling.get(item.id)})
    return by_list


def _consultations(session: Session, topic_id: int) -> list[dict]:
    """Consultations held on the topic (scheduled and cancelled ones are not results), with
    attendance counted by group (no names) and the items of their routed lists."""
    rows = session.execute(
        select(Consultation, OpinionList.id, OpinionList.routed_at)
        .outerjoin(OpinionList, and_(OpinionList.consultation_id == Consultation.id,
                                     OpinionList.state == OpinionListState.routed))
        .where(Consultation.topic_id == topic_id, Consultation.state.in_(HELD_STATES))
        .order_by(Consultation.starts_at, Consultation.id)).all()
    consultation_ids = [c.id for c, _, _ in rows]
    list_ids = [lid for _, lid, _ in rows if lid is not None]
    attendance = _attendance(session, consultation_ids)
    items = _items(session, list_ids)
    feedback = _feedback_section(session, list_ids)
    ratings = _ratings_section(session, consultation_ids)
    out = []
    for c, list_id, routed_at in rows:
        groups = attendance[c.id]
        out.append({
            "id": c.id, "held_on": _local_date(c.held_at or c.starts_at),
            "place_kind": c.place_kind.value, "place_kind_label": PLACE_KIND_LABELS[c.place_kind],
            "attendance": groups, "attendee_count": sum(g["count"] for g in groups),
            "list_routed_on": _local_date(routed_at),
            "items": items[list_id] if list_id is not None else [],
            "feedback": feedback.get(list_id) if list_id is not None else None,
            "ratings": ratings.get(c.id)})
    return out


def _summary(stage: str, consultations: list[dict]) -> dict:
    items = [i for c in consultations for i in c["items"]]
    adopted = {Outcome.adopted.value, Outcome.partly.value}
    handled = [i["handling"] for i in items if i["handling"]]
    return {
        "stage": stage, "stage_label": STAGE_LABELS[stage],
        "consultation_count": len(consultations), "item_count": len(items),
        "settled_count": sum(i["settled"] for i in items),
        "adopted_count": sum(i["outcome"] in adopted for i in items),
        "not_adopted_count": sum(i["outcome"] == Outcome.not_adopted.value for i in items),
        "escalated_count": sum(any(d["outcome"] == Outcome.escalated.value
                                   for d in i["decisions"]) for i in items),
        "handling_count": sum(i["state"] in (ItemState.assigning.value, ItemState.handling.value)
                              for i in items),
        "done_count": sum(i["state"] == ItemState.done.value for i in items),
        "done_on_time_count": sum(h["on_time"] is True for h in handled),
    }


# --- feedback and evaluations --------------------------------------------------------------------
# Each takes the ids of the whole page at once and answers {id: section} with one statement (or a
# fixed few), so the page's statement count stays flat (tests/integration/test_public_results.py).

def _feedback_section(session: Session, list_ids: list[int]) -> dict[int, dict]:
    """The feedback list (D21) of each routed opinion list that has one, by list id: the date it
    was compiled and its figures (no names; the documents themselves are for the officials)."""
    if not list_ids:
        return {}
    return {fl.list_id: {"compiled_on": _local_date(fl.compiled_at), "items": fl.items,
                         "adopted": fl.adopted, "partly": fl.partly,
                         "not_adopted": fl.not_adopted, "done": fl.done, "on_time": fl.on_time,
                         "summary": summary_text(fl)}
            for fl in session.scalars(select(FeedbackList)
                                      .where(FeedbackList.list_id.in_(list_ids)))}


def _ratings_section(session: Session, consultation_ids: list[int]) -> dict[int, dict]:
    """The evaluations (D26–D27) of each consultation that has any, by consultation id: count
    and means per kind and phase, and overall — as GET /api/consultations/<id>/evaluations, with
    no rater and no comment (one statement for the page)."""
    return {cid: {"by_kind": breakdown(by), "overall": overall(by).as_dict()}
            for cid, by in tallies(session, consultation_ids).items()}


# --- the page -----------------------------------------------------------------------------------

def results_link(topic_id: int) -> str:
    """The mini-program page of a topic's public results: the link for notices that tell
    followers what became of it (the feedback list, D21)."""
    return f"/pages/results/results?id={topic_id}"


def topic_results(session: Session, topic_id: int) -> dict:
    topic, platform_name, stage = public_topic_or_404(session, topic_id)
    consultations = _consultations(session, topic.id)
    reached = STAGES.index(stage)
    return {
        "topic": {"id": topic.id, "title": topic.title, "category": topic.category.value,
                  "category_label": CATEGORY_LABELS[topic.category],
                  "source": topic.source.value, "source_label": SOURCE_LABELS[topic.source],
                  "approved_on": _local_date(topic.approved_at),
                  "platform": {"id": topic.platform_id, "name": platform_name}},
        **stage_view(stage),
        "stages": [{"code": code, "label": STAGE_LABELS[code], "reached": n <= reached}
                   for n, code in enumerate(STAGES)],
        "suggestions": _suggestions(session, topic.id),
        "research": _research(session, topic.id),
        "consultations": consultations,
        "summary": _summary(stage, consultations),
    }
