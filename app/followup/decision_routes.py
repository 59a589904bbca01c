"""Per-item decisions, assignment and extension answers (D19–D23): the reviewers' API. Thin: the
rules are in decisions.py and assignment.py; each request commits once."""
from __future__ import annotations

from flask import Blueprint
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from ..api import endpoint
from ..auth.current import require_person
from ..consultations import opinions
from ..consultations.models import Consultation, OpinionItem, OpinionList, RoutingState
from ..consultations.opinion_routes import _body_names, routing_out
from ..consultations.rules import GROUP_LABELS, SCOPE_LABELS
from ..db import get_session
from ..errors import NotFound
from ..org.models import Body, Platform, Region
from ..topics.models import Topic
from ..topics.services import reviewer_body_ids
from ..workdays import ESTIMATE_NOTICE
from . import assignment, decisions
from .decision_schemas import (
    AssignmentIn, BodyRef, DecisionOut, DepartmentList, DepartmentOut, ExtensionDecisionIn,
    ExtensionOut, ItemDecisionIn, ItemOut, QueueItemOut, ReviewQueue, RoutingItemsOut, TaskBrief,
)
from .models import (
    ITEM_STATE_LABELS, OUTCOME_LABELS, TASK_STATE_LABELS, ExtensionRequest, ExtensionState,
    HandlingTask, ItemDecision, ItemState, ItemTrack,
)

bp = Blueprint("item_decisions", __name__, url_prefix="/api")
TAG = "意见研究与交办"
EXTENSION_STATE_LABELS = {ExtensionState.pending: "待答复", ExtensionState.approved: "已同意",
                          ExtensionState.refused: "未同意"}


def _names(session, ids) -> dict[int, str]:
    ids = set(ids)
    return dict(session.execute(select(Body.id, Body.name).where(Body.id.in_(ids))).all()) \
        if ids else {}


def items_out(session, pairs: list[tuple[ItemTrack, OpinionItem]], person) -> list[ItemOut]:
    """ItemOut for (track, item) pairs: their decisions, task and what the person may do."""
    ids = [i.id for _, i in pairs]
    if not ids:
        return []
    bodies = reviewer_body_ids(session, person)
    decided: dict[int, list[ItemDecision]] = {}
    for d in session.scalars(select(ItemDecision).where(ItemDecision.item_id.in_(ids))
                             .order_by(ItemDecision.id)):
        decided.setdefault(d.item_id, []).append(d)
    tasks = {t.item_id: t for t in session.scalars(
        select(HandlingTask).where(HandlingTask.item_id.in_(ids))
        .options(selectinload(HandlingTask.co_handlers)))}
    names = _names(session, [d.body_id for ds in decided.values() for d in ds]
                   + [t.lead_body_id for t in tasks.values()]
                   + [c.body_id for t in tasks.values() for c in t.co_handlers])
    deciders = decisions.deciding_bodies(session, [t for t, _ in pairs])
    out = []
    for track, item in pairs:
        ds = decided.get(item.id, [])
        in_force = next((d for d in ds if d.scope is track.current_scope), None)
        task = tasks.get(item.id)
        out.append(ItemOut(
            id=item.id, seq=item.seq, text=item.text,
            raised_by_label=GROUP_LABELS[item.raised_by], scope=item.scope,
            scope_label=SCOPE_LABELS[item.scope], current_scope=track.current_scope,
            current_scope_label=SCOPE_LABELS[track.current_scope], state=track.state,
            state_label=ITEM_STATE_LABELS[track.state], outcome=track.outcome,
            outcome_label=OUTCOME_LABELS[track.outcome] if track.outcome else None,
            decisions=[DecisionOut(scope=d.scope, scope_label=SCOPE_LABELS[d.scope],
                                   body_id=d.body_id, body_name=names.get(d.body_id, ""),
                                   outcome=d.outcome, outcome_label=OUTCOME_LABELS[d.outcome],
                                   explanation=d.explanation, decided_at=d.decided_at)
                       for d in ds],
            task=None if task is None else TaskBrief(
                id=task.id, lead_body_id=task.lead_body_id,
                lead_body_name=names.get(task.lead_body_id, ""),
                co_bodies=[BodyRef(id=c.body_id, name=names.get(c.body_id, ""))
                           for c in task.co_handlers],
                assigned_on=task.assigned_on, workdays=task.workdays, due_on=task.due_on,
                due_estimated=task.due_estimated,
                estimate_notice=ESTIMATE_NOTICE if task.due_estimated else None,
                state=task.state, state_label=TASK_STATE_LABELS[task.state]),
            can_decide=bool(bodies & deciders[item.id]),
            can_assign=(track.state is ItemState.assigning and in_force is not None
                        and in_force.body_id in bodies)))
    return out


def _pairs(session, item_ids: list[int]) -> list[tuple[ItemTrack, OpinionItem]]:
    rows = session.execute(select(ItemTrack, OpinionItem)
                           .join(OpinionItem, OpinionItem.id == ItemTrack.item_id)
                           .where(ItemTrack.item_id.in_(item_ids))).all()
    order = {iid: n for n, iid in enumerate(item_ids)}
    return sorted(((t, i) for t, i in rows), key=lambda p: order[p[1].id])


def _one(session, item_id: int, person) -> ItemOut:
    return items_out(session, _pairs(session, [item_id]), person)[0]


@endpoint(bp, "/opinion-items/<int:item_id>/decision", methods=("POST",),
          summary="研究决定一条意见", tags=[TAG], body=ItemDecisionIn, response=ItemOut,
          auth="login")
def decide(item_id: int, body: ItemDecisionIn):
    """收到意见的党委、政府（本级意见为平台所在的乡镇党（工）委或政协专委会）的审核人逐条研究：
    采纳、部分采纳、不予采纳（须写明给群众的解释说明，D23，群众会收到通知）或通过政协渠道向上级
    反映（D22，意见转到上一级政协党组审核；市级意见不能再上报，422 `cannot_escalate`）。
    每条意见在每一级只有一个决定：本人重复提交同一决定按第一次的结果回答（200），已决定后再提交
    不同决定返回 409 `item_decided`；不是报送给本机构的意见返回 404 `item_not_found`。"""
    session = get_session()
    person = require_person()
    decisions.decide_item(session, actor=person, item_id=item_id, outcome=body.outcome,
                          explanation=body.explanation)
    session.commit()
    return _one(session, item_id, person)


@endpoint(bp, "/opinion-items/<int:item_id>/assignment", methods=("POST",),
          summary="交办承办部门", tags=[TAG], body=AssignmentIn, response=ItemOut, auth="login")
def assign(item_id: int, body: AssignmentIn):
    """作出采纳或部分采纳决定的机构把意见交给一个牵头部门（可加协办部门）办理（D20），办理期限
    按工作日计算（跳过法定节假日，调休上班日计入；开始当日不计）。只能交办一次：本人重复提交
    相同内容按第一次的结果回答（200），不同内容返回 409 `item_assigned`；未采纳的意见 409
    `item_not_adopted`；部门不在本机构所在地区及下级 422 `department_not_allowed`。"""
    session = get_session()
    person = require_person()
    assignment.assign_item(session, actor=person, item_id=item_id,
                          lead_body_id=body.lead_body_id, co_body_ids=body.co_body_ids,
                          workdays=body.workdays)
    session.commit()
    return _one(session, item_id, person)


def extension_out(session, rows: list[ExtensionRequest]) -> list[ExtensionOut]:
    out = []
    for x in rows:
        task = session.get(HandlingTask, x.task_id)
        item = session.get(OpinionItem, task.item_id)
        lst = session.get(OpinionList, item.list_id)
        topic = session.get(Topic, session.get(Consultation, lst.consultation_id).topic_id)
        out.append(ExtensionOut(
            id=x.id, task_id=task.id, item_id=item.id, seq=item.seq, item_text=item.text,
            topic_title=topic.title, lead_body_id=task.lead_body_id,
            lead_body_name=session.get(Body, task.lead_body_id).name, due_on=task.due_on,
            requested_due_on=x.requested_due_on, reason=x.reason, requested_at=x.requested_at,
            state=x.state, state_label=EXTENSION_STATE_LABELS[x.state], note=x.note,
            decided_at=x.decided_at))
    return out


@endpoint(bp, "/extension-requests/<int:request_id>/decision", methods=("POST",),
          summary="答复延期申请", tags=[TAG], body=ExtensionDecisionIn, response=ExtensionOut,
          auth="login")
def extension_decision(request_id: int, body: ExtensionDecisionIn):
    """交办机构的审核人同意（办理期限改为申请的日期）或不同意（须说明理由）承办部门的延期申请；
    只能答复一次（本人重复同一答复按第一次的结果回答，不同答复 409 `extension_decided`）。"""
    session = get_session()
    x = assignment.decide_extension(session, actor=require_person(), request_id=request_id,
                                   approve=body.approve, note=body.note)
    session.commit()
    return extension_out(session, [x])[0]


@endpoint(bp, "/opinion-items/queue", summary="待研究、待交办的意见和延期申请", tags=[TAG],
          response=ReviewQueue, auth="login")
def queue():
    """审核人的待办：待本机构研究决定的意见、本机构已采纳待交办的意见、待本机构答复的延期申请。
    不是审核人时三项都为空。"""
    session = get_session()
    person = require_person()
    q = decisions.review_queue(session, person)
    out = {}
    for key in ("awaiting", "to_assign"):
        entries = q[key]
        views = items_out(session, [(e.track, e.item) for e in entries], person)
        rows = []
        for e, view in zip(entries, views):
            lst = session.get(OpinionList, e.item.list_id)
            c = session.get(Consultation, lst.consultation_id)
            rows.append(QueueItemOut(
                **view.model_dump(), consultation_id=c.id,
                topic_title=session.get(Topic, c.topic_id).title,
                platform_name=session.get(Platform, c.platform_id).name,
                routing_id=e.routing.id if e.routing else None))
        out[key] = rows
    return ReviewQueue(awaiting=out["awaiting"], to_assign=out["to_assign"],
                       extensions=extension_out(session, q["extensions"]))


@endpoint(bp, "/routings/<int:routing_id>/items", summary="收到的意见清单逐条情况", tags=[TAG],
          response=RoutingItemsOut, auth="login")
def routing_items(routing_id: int):
    """本机构收到的一份意见清单中与本机构有关的每条意见：研究结果、交办情况和我可以做的操作。
    上级政协转来的意见（D22）也在其中。"""
    session = get_session()
    person = require_person()
    r = opinions.get_routing_or_404(session, routing_id, person)
    if r.state is RoutingState.waiting:  # D18: not the body's to read before the review forwards
        raise NotFound("该意见清单不存在", code="routing_not_found")
    items = opinions.items_for(session, r)
    lst = session.get(OpinionList, r.list_id)
    c = session.get(Consultation, lst.consultation_id)
    return RoutingItemsOut(
        routing=routing_out(r, _body_names(session, [r])), consultation_id=c.id,
        title=opinions.document(session, c, lst).title,
        platform_name=session.get(Platform, c.platform_id).name,
        items=items_out(session, _pairs(session, [i.id for i in items]), person))


@endpoint(bp, "/departments", summary="可交办的承办部门", tags=[TAG], response=DepartmentList,
          auth="login")
def departments():
    """本人所在审核机构所在地区及下级的职能部门（交办时从中选择牵头部门和协办部门）。"""
    session = get_session()
    rows = assignment.departments_for(session, require_person())
    regions = dict(session.execute(select(Region.id, Region.name).where(
        Region.id.in_({b.region_id for b in rows}))).all()) if rows else {}
    return DepartmentList(items=[DepartmentOut(id=b.id, name=b.name,
                                               region_name=regions.get(b.region_id, ""))
                                 for b in rows])
