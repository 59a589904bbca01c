"""Decisions per opinion item (D19, D22, D23) and the reviewers' queue. Services never commit; the
caller commits once. Assignment to departments and answers to extension requests (D20) are in
assignment.py, which shares this module's item context and checks.

Who decides: a reviewer of a body that *receives* (RouteAction.receive) the item's copy at the
item's current level (ItemTrack.current_scope), while that copy is open (pending or received).
The platform's own receiver decides local items; the county (city) Party committee or government
decides county (city) items — either of them, and the first decision wins. Every change starts by
locking the item's track (tracks.track_for_update), so two reviewers at once decide once; the
same decision sent again by the reviewer who took it is a replay (nothing written twice); any
other decision on a decided item is 409 `item_decided`.

    decide_item(session, actor=p, item_id=i, outcome=Outcome.adopted, explanation=None)
    settle_held_back(session, actor=p, routing=r)  (a party group's hold-back, from routing)
    review_queue(session, p) / deciding_bodies(session, tracks)
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import and_, select
from sqlalchemy.orm import Session

from ..audit.services import record
from ..consultations import opinions
from ..consultations.models import (
    Consultation, OpinionItem, OpinionList, OpinionRouting, RoutingState,
)
from ..consultations.rules import (
    TARGET_LABELS, OpinionScope, RouteAction, opinion_route, scope_refusal,
)
from ..db import utcnow
from ..errors import Conflict, NotFound, ValidationFailed
from ..notify.services import fan_out
from ..org.models import Body, Person, Platform
from ..suggestions import trail
from ..topics.models import Topic
from ..topics.services import reviewer_body_ids, reviewers_of
from .feedback import follower_ids
from .links import results_link
from .models import (
    OUTCOME_LABELS, ExtensionRequest, ExtensionState, HandlingTask, ItemDecision, ItemState,
    ItemTrack, Outcome,
)
from .tracks import settle, track_for_update

EXPLANATION_MAX = 2000
NOTE_MAX = 500

# D22: the CPPCC channel goes one level up at a time.
NEXT_SCOPE = {OpinionScope.local: OpinionScope.county, OpinionScope.county: OpinionScope.city}
# A copy is open for decisions once its body has it (pending) and after it acknowledged it.
LEVEL_NAMES = {OpinionScope.county: "县（区）政协", OpinionScope.city: "市政协"}
OPEN_STATES = (RoutingState.pending, RoutingState.received)
# D23: the residents concerned get an explanation where the item is not (fully) adopted.
NEEDS_EXPLANATION = frozenset({Outcome.partly, Outcome.not_adopted})
ASSIGNABLE = frozenset({Outcome.adopted, Outcome.partly})


def _not_found() -> NotFound:
    return NotFound("该意见不存在", code="item_not_found")


def _text(value: str | None) -> str | None:
    """Trimmed text (inner line breaks kept), or None when blank."""
    value = (value or "").strip()
    return value or None


def date_text(d: date) -> str:
    return f"{d.year}年{d.month}月{d.day}日"


@dataclass
class ItemContext:
    item: OpinionItem
    lst: OpinionList
    consultation: Consultation
    topic: Topic
    platform: Platform


def _context(session: Session, track: ItemTrack) -> ItemContext:
    item = session.get(OpinionItem, track.item_id)
    lst = session.get(OpinionList, track.list_id)
    c = session.get(Consultation, lst.consultation_id)
    return ItemContext(item, lst, c, session.get(Topic, c.topic_id),
                       session.get(Platform, c.platform_id))


def _open_receivers(session: Session, list_id: int, body_ids: set[int],
                    scopes=None) -> list[OpinionRouting]:
    """The open receiving copies of a list held by `body_ids` (optionally at `scopes`)."""
    if not body_ids:
        return []
    q = select(OpinionRouting).where(
        OpinionRouting.list_id == list_id, OpinionRouting.action == RouteAction.receive,
        OpinionRouting.state.in_(OPEN_STATES), OpinionRouting.body_id.in_(body_ids))
    if scopes is not None:
        q = q.where(OpinionRouting.scope.in_(scopes))
    return list(session.scalars(q.order_by(OpinionRouting.id)))


def decisions_of(session: Session, item_id: int) -> list[ItemDecision]:
    return list(session.scalars(select(ItemDecision).where(ItemDecision.item_id == item_id)
                                .order_by(ItemDecision.id)))


def decision_in_force(session: Session, track: ItemTrack) -> ItemDecision | None:
    """The decision at the item's current level (None while it awaits one there)."""
    return session.scalar(select(ItemDecision).where(ItemDecision.item_id == track.item_id,
                                                     ItemDecision.scope == track.current_scope))


def deciding_bodies(session: Session, tracks: list[ItemTrack]) -> dict[int, set[int]]:
    """item id → the bodies whose reviewers may decide it now (its open receiving copies at
    its current level); one statement for any number of tracks."""
    open_copies: dict[tuple[int, OpinionScope], set[int]] = {}
    lists = {t.list_id for t in tracks if t.state is ItemState.awaiting}
    if lists:
        for list_id, scope, body_id in session.execute(
                select(OpinionRouting.list_id, OpinionRouting.scope, OpinionRouting.body_id)
                .where(OpinionRouting.list_id.in_(lists),
                       OpinionRouting.action == RouteAction.receive,
                       OpinionRouting.state.in_(OPEN_STATES))):
            open_copies.setdefault((list_id, scope), set()).add(body_id)
    return {t.item_id: (open_copies.get((t.list_id, t.current_scope), set())
                        if t.state is ItemState.awaiting else set()) for t in tracks}


# --- D19 / D22 / D23: the decision -----------------------------------------------------------------

def decide_item(session: Session, *, actor: Person, item_id: int, outcome: Outcome | str,
                explanation: str | None = None) -> ItemTrack:
    """One decision on one item by a reviewer of a body that received it at its current level.
    Returns the (locked) track."""
    outcome = Outcome(outcome)
    explanation = _text(explanation)
    bodies = reviewer_body_ids(session, actor)
    if not bodies:  # residents, members, handlers, staff: the item is not theirs to see
        raise _not_found()
    track = track_for_update(session, item_id)
    if track is None:
        raise _not_found()
    taken = decisions_of(session, item_id)
    mine = [d for d in taken if d.decided_by_id == actor.id]
    if mine and mine[-1].outcome is outcome and mine[-1].explanation == explanation:
        return track  # a lost answer sent again: as the first time, nothing written
    open_copies = _open_receivers(session, track.list_id, bodies)
    here = [r for r in open_copies if r.scope is track.current_scope]
    if not here or track.state is not ItemState.awaiting:
        if {r.scope for r in open_copies} & {d.scope for d in taken}:
            raise Conflict("该意见已有研究结果，不能再作不同的决定", code="item_decided")
        raise _not_found()
    if outcome in NEEDS_EXPLANATION and not explanation:
        raise ValidationFailed("部分采纳或不予采纳时，请写明给群众的解释说明（D23）",
                               code="explanation_required")
    if explanation and len(explanation) > EXPLANATION_MAX:
        raise ValidationFailed(f"解释说明不能超过 {EXPLANATION_MAX} 字", code="explanation_too_long")
    ctx = _context(session, track)
    plan = None
    if outcome is Outcome.escalated:
        plan = _escalation_plan(session, ctx, track.current_scope)
    routing = here[0]
    body = session.get(Body, routing.body_id)
    decision = ItemDecision(item_id=item_id, scope=track.current_scope, body_id=body.id,
                            outcome=outcome, explanation=explanation, decided_by_id=actor.id)
    session.add(decision)
    track.outcome, track.decided_at = outcome, utcnow()
    session.flush()
    if outcome in ASSIGNABLE:
        track.state = ItemState.assigning
    elif outcome is Outcome.escalated:
        track.current_scope = plan[0]
        _escalate(session, ctx, plan)
    session.flush()
    record(session, actor_id=actor.id, action=f"followup.decision.{outcome.value}",
           object_type="opinion_item", object_id=item_id,
           after={"scope": decision.scope.value, "body_id": body.id,
                  "explanation": explanation,
                  "current_scope": track.current_scope.value})
    # Told before settling: when this was the list's last open item, the feedback list's own
    # trail entry and notice follow this decision's, not the other way round.
    _tell_decision(session, ctx, body, decision, track)
    if outcome is Outcome.not_adopted:
        settle(session, track, ItemState.not_adopted)
    return track


def _escalation_plan(session: Session, ctx: ItemContext, scope: OpinionScope):
    """D22: (next scope, its existing copies or the bodies of a new route). Refused where the
    item is at the city already, or where the platform's level has no such route (D18)."""
    nxt = NEXT_SCOPE.get(scope)
    if nxt is None:
        raise ValidationFailed("市级意见已是最高层级，不能再向上反映", code="cannot_escalate")
    level = opinions._platform_level(session, ctx.consultation)
    refusal = scope_refusal(level, nxt)
    if refusal:
        raise ValidationFailed(refusal, code="cannot_escalate")
    # Against a party group holding that level's copy back at this moment: its copies are read
    # FOR SHARE, so either the hold-back waits and then settles this item too, or it came first
    # and the escalation is refused (never an item waiting behind a closed review). Against a
    # second first escalation from the same list: the list's lock (track → list, as settling
    # takes them), then the copies read again, so one chain is created.
    def copies(lock):
        q = select(OpinionRouting).where(OpinionRouting.list_id == ctx.lst.id,
                                         OpinionRouting.scope == nxt).order_by(OpinionRouting.id)
        if lock:
            q = q.with_for_update(read=True)
        return list(session.scalars(q.execution_options(populate_existing=True)))

    existing = copies(lock=True)
    if not existing:
        session.scalar(select(OpinionList.id).where(OpinionList.id == ctx.lst.id)
                       .with_for_update(key_share=True))
        existing = copies(lock=False)
    if any(r.state is RoutingState.held_back for r in existing):
        raise Conflict(f"{LEVEL_NAMES[nxt]}党组已决定暂不转送这份清单，不能再向上反映；"
                       "请作出本级的研究结果", code="escalation_held_back")
    if existing:
        return nxt, existing, None
    steps, missing = [], []
    for step in opinion_route(ctx.platform.host_type, nxt):
        body = opinions.resolve_target(session, ctx.platform, step.target)
        if body is None:
            missing.append(TARGET_LABELS[step.target])
        else:
            steps.append((step, body))
    if missing:
        raise Conflict(f"上一级的报送机构尚未登记（{'、'.join(missing)}），请联系政协工作人员完善"
                       "组织信息", code="routing_incomplete")
    return nxt, None, steps


def _escalate(session: Session, ctx: ItemContext, plan) -> None:
    """The next level's CPPCC channel gets the item: a new chain (party group review pending,
    its receivers waiting) when the list has none at that level, otherwise the item joins the
    copies there and their open readers are told."""
    nxt, existing, steps = plan
    if existing is None:
        for step, body in steps:
            row = OpinionRouting(list_id=ctx.lst.id, scope=nxt, stage=step.stage,
                                 action=step.action, body_id=body.id,
                                 state=RoutingState.pending if step.stage == 1
                                 else RoutingState.waiting)
            session.add(row)
            session.flush()
            if row.state is RoutingState.pending:
                opinions._notify_body(session, ctx.consultation, row)
            else:
                opinions._alert_if_unread(session, ctx.consultation, row)
        return
    for row in existing:
        if row.state in (RoutingState.pending, RoutingState.received):
            fan_out(session, kind="review_request",
                    subject=f"item_escalated:{ctx.item.id}:{row.id}",
                    recipient_ids=reviewers_of(session, row.body_id), title="有意见向上级反映",
                    body=f"“{ctx.topic.title}”协商意见清单第 {ctx.item.seq} 条意见经下级研究，"
                         f"通过政协渠道反映至{LEVEL_NAMES[nxt]}，请研究。",
                    link=opinions.inbox_link(row.id))


def _tell_decision(session: Session, ctx: ItemContext, body: Body, decision: ItemDecision,
                   track: ItemTrack) -> None:
    """The public trail (organisation names only) and, D23, the explanation to the residents
    who took part when the item is not (fully) adopted."""
    seq, outcome = ctx.item.seq, decision.outcome
    if outcome is Outcome.escalated:
        text = (f"第 {seq} 条意见：{body.name}决定通过政协渠道向"
                f"{LEVEL_NAMES[track.current_scope]}反映")
    else:
        text = f"第 {seq} 条意见：{body.name}研究决定{OUTCOME_LABELS[outcome]}"
    if decision.explanation and outcome in NEEDS_EXPLANATION:
        text += f"。说明：{decision.explanation}"
    trail.add_timeline(session, topic_id=ctx.topic.id, kind="item_decided", text=text)
    if outcome in NEEDS_EXPLANATION:
        # D23: to everyone who took part in the topic's way here (the people the feedback list
        # will tell), once per item and outcome; the explanation also stands on the results page.
        verdict = OUTCOME_LABELS[outcome]
        fan_out(session, kind="status_change", subject=f"item:{ctx.item.id}:{outcome.value}",
                recipient_ids=follower_ids(session, ctx.consultation), title="意见研究结果说明",
                body=f"您关注的“{ctx.topic.title}”协商形成的第 {seq} 条意见经{body.name}研究，"
                     f"{verdict}。说明：{decision.explanation}",
                link=results_link(ctx.topic.id))


def settle_held_back(session: Session, *, actor: Person, routing: OpinionRouting) -> None:
    """D18/D23: a CPPCC party group that holds its copy back keeps the items of that level from
    going up. Each of them still awaiting there is settled as not adopted by the party group,
    with its reason as the explanation the residents concerned read (and the public trail), so
    the list still reaches its feedback list (D21). Called by the routing decision, which holds
    the routing's lock; each item's track is locked in turn (routing → track, as nowhere the
    other way round)."""
    waiting = list(session.scalars(select(ItemTrack.item_id).where(
        ItemTrack.list_id == routing.list_id, ItemTrack.current_scope == routing.scope,
        ItemTrack.state == ItemState.awaiting).order_by(ItemTrack.item_id)))
    body = session.get(Body, routing.body_id)
    for item_id in waiting:
        track = track_for_update(session, item_id)
        if track.state is not ItemState.awaiting or track.current_scope is not routing.scope:
            continue
        decision = ItemDecision(item_id=item_id, scope=routing.scope, body_id=body.id,
                                outcome=Outcome.not_adopted, explanation=routing.note,
                                decided_by_id=actor.id)
        session.add(decision)
        track.outcome, track.decided_at = Outcome.not_adopted, utcnow()
        session.flush()
        _tell_decision(session, _context(session, track), body, decision, track)
        settle(session, track, ItemState.not_adopted)
        record(session, actor_id=actor.id, action="followup.decision.held_back",
               object_type="opinion_item", object_id=item_id,
               after={"scope": routing.scope.value, "body_id": body.id,
                      "explanation": routing.note})


# --- the reviewers' queue ----------------------------------------------------------------------------

@dataclass
class QueueEntry:
    track: ItemTrack
    item: OpinionItem
    routing: OpinionRouting | None


def review_queue(session: Session, person: Person) -> dict[str, list]:
    """Items awaiting a decision of my bodies, items my bodies adopted that wait for a
    department, and pending extension requests of tasks my bodies assigned."""
    bodies = reviewer_body_ids(session, person)
    out: dict[str, list] = {"awaiting": [], "to_assign": [], "extensions": []}
    if not bodies:
        return out
    rows = session.execute(
        select(ItemTrack, OpinionItem, OpinionRouting)
        .join(OpinionItem, OpinionItem.id == ItemTrack.item_id)
        .join(OpinionRouting, and_(OpinionRouting.list_id == ItemTrack.list_id,
                                   OpinionRouting.scope == ItemTrack.current_scope))
        .where(ItemTrack.state == ItemState.awaiting,
               OpinionRouting.action == RouteAction.receive,
               OpinionRouting.state.in_(OPEN_STATES), OpinionRouting.body_id.in_(bodies))
        .order_by(OpinionRouting.id, OpinionItem.seq).limit(1000)).all()
    seen: set[int] = set()
    for track, item, r in rows:
        if item.id not in seen:  # a reviewer of both the Party committee and the government
            seen.add(item.id)
            out["awaiting"].append(QueueEntry(track, item, r))
    rows = session.execute(
        select(ItemTrack, OpinionItem, ItemDecision)
        .join(OpinionItem, OpinionItem.id == ItemTrack.item_id)
        .join(ItemDecision, and_(ItemDecision.item_id == ItemTrack.item_id,
                                 ItemDecision.scope == ItemTrack.current_scope))
        .where(ItemTrack.state == ItemState.assigning, ItemDecision.body_id.in_(bodies))
        .order_by(ItemTrack.list_id, OpinionItem.seq).limit(500)).all()
    out["to_assign"] = [QueueEntry(t, i, None) for t, i, _ in rows]
    out["extensions"] = list(session.scalars(
        select(ExtensionRequest).join(HandlingTask, HandlingTask.id == ExtensionRequest.task_id)
        .where(ExtensionRequest.state == ExtensionState.pending,
               HandlingTask.assigning_body_id.in_(bodies))
        .order_by(ExtensionRequest.id).limit(500)))
    return out

