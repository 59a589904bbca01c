"""The opinion list (D17) and where it goes (D18). Services never commit.

After the meeting the convenor compiles the list: numbered items, each with its text, the group
that raised it and its scope. Routing it resolves the D18 route (rules.list_routes) to bodies:
the platform's own receiver gets the whole list; county- and city-scope items go to the CPPCC
party group of that level, which reviews and forwards them to the Party committee and the
government. Each body sees its copies in an inbox and records its decision.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ..audit.services import record
from ..db import utcnow
from ..errors import Conflict, NotFound, ValidationFailed
from ..followup.models import ItemTrack
from ..followup.tracks import open_tracks
from ..notify.services import alert_staff, fan_out
from ..org.models import (
    Body, BodyKind, Person, Platform, Region, RegionLevel, Role, RoleAssignment,
)
from ..suggestions.trail import add_timeline
from ..topics.approval import Reviewer, ancestor_at, body_at, reviewer_body
from ..topics.models import Topic
from ..topics.services import reviewer_body_ids, reviewers_of
from ..workdays import CHINA_TZ
from .models import (
    Consultation, ConsultationState, OpinionItem, OpinionList, OpinionListState, OpinionRouting,
    RoutingState,
)
from .rules import (
    GROUP_LABELS, SCOPE_LABELS, TARGET_LABELS, InviteGroup, OpinionScope, RouteAction,
    RouteTarget, list_routes, scope_refusal,
)
from .services import get_consultation_or_404, managed_consultation

MAX_ITEMS = 100
ITEM_MAX = 2000


def inbox_link(routing_id: int) -> str:
    return f"/pages/opinions/opinions?routing={routing_id}"


# --- compiling ---------------------------------------------------------------------------------------

def _list_of(session: Session, consultation_id: int) -> OpinionList | None:
    return session.scalar(select(OpinionList).where(
        OpinionList.consultation_id == consultation_id))


def save_opinion_list(session: Session, *, actor: Person, consultation_id: int,
                      items: list[tuple[str, InviteGroup, OpinionScope, int | None]]
                      ) -> OpinionList:
    """D17: write (or rewrite) the draft list after the meeting. Items are numbered in order;
    each may name the person who raised it (D30: members' opinions count in their ledger)."""
    c = managed_consultation(session, consultation_id, actor)
    if c.state is ConsultationState.concluded:  # routed: the list is what was sent
        raise Conflict("意见清单已报送，不能修改", code="opinion_list_routed")
    if c.state is not ConsultationState.held:
        raise Conflict("协商会议召开后才能整理意见清单" if c.state is ConsultationState.scheduled
                       else "该协商活动已取消", code="consultation_not_held")
    if not 1 <= len(items) <= MAX_ITEMS:
        raise ValidationFailed(f"意见清单应有 1–{MAX_ITEMS} 条意见", code="items_count")
    cleaned = []
    level = _platform_level(session, c)
    people = {pid for *_, pid in items if pid is not None}
    known = set(session.scalars(select(Person.id).where(Person.id.in_(people)))) if people \
        else set()
    for n, (text, group, scope, person_id) in enumerate(items, 1):
        text = " ".join((text or "").split())
        if not text:
            raise ValidationFailed(f"第 {n} 条意见内容为空", code="item_empty")
        if len(text) > ITEM_MAX:
            raise ValidationFailed(f"第 {n} 条意见超过 {ITEM_MAX} 字", code="item_too_long")
        if person_id is not None and person_id not in known:
            raise ValidationFailed(f"第 {n} 条意见的提出人不存在", code="person_not_found")
        refusal = scope_refusal(level, scope)
        if refusal:  # D18: accepted here means routable later
            raise ValidationFailed(f"第 {n} 条意见：{refusal}", code="scope_not_routable",
                                   details=[{"field": f"items.{n - 1}.scope",
                                             "message": refusal}])
        cleaned.append((text, InviteGroup(group), OpinionScope(scope), person_id))
    lst = _list_of(session, c.id)
    if lst is None:
        try:
            with session.begin_nested():
                lst = OpinionList(consultation_id=c.id, state=OpinionListState.draft,
                                  created_by_id=actor.id)
                session.add(lst)
                session.flush()
        except IntegrityError:  # created at the same moment in another tab: one list
            pass
    # Two saves at once (two tabs) take turns on the list row: items are replaced whole.
    lst = session.scalar(select(OpinionList).where(OpinionList.consultation_id == c.id)
                         .with_for_update().execution_options(populate_existing=True))
    if lst.state is not OpinionListState.draft:
        raise Conflict("意见清单已报送，不能修改", code="opinion_list_routed")
    for old in session.scalars(select(OpinionItem).where(OpinionItem.list_id == lst.id)):
        session.delete(old)
    session.flush()
    for n, (text, group, scope, person_id) in enumerate(cleaned, 1):
        session.add(OpinionItem(list_id=lst.id, seq=n, text=text, raised_by=group, scope=scope,
                                raised_by_person_id=person_id))
    session.flush()
    session.expire(lst, ["items"])
    record(session, actor_id=actor.id, action="opinions.save", object_type="opinion_list",
           object_id=lst.id, after={"items": len(cleaned),
                                    "scopes": sorted({s.value for _, _, s, _ in cleaned})})
    return lst


# --- D18: resolving the route to bodies ----------------------------------------------------------------

def _platform_level(session: Session, c: Consultation) -> RegionLevel:
    """The level of the platform's region (a sector room's region is its CPPCC's region)."""
    return session.scalar(select(Region.level).join(Platform, Platform.region_id == Region.id)
                          .where(Platform.id == c.platform_id))


def _level_body(session: Session, platform: Platform, level: RegionLevel, kind: BodyKind
                ) -> Body | None:
    region = session.get(Region, platform.region_id)
    return body_at(session, kind, ancestor_at(session, region, level))


def resolve_target(session: Session, platform: Platform, target: RouteTarget) -> Body | None:
    if target is RouteTarget.town_party_committee:
        return reviewer_body(session, platform, Reviewer.town_party_committee)
    if target is RouteTarget.special_committee:
        return reviewer_body(session, platform, Reviewer.special_committee)
    level = RegionLevel.county if target.value.startswith("county") else RegionLevel.city
    kind = {"cppcc_party_group": BodyKind.cppcc_party_group,
            "party_committee": BodyKind.party_committee,
            "government": BodyKind.government}[target.value.split("_", 1)[1]]
    # A sector platform's region is its CPPCC's region, so this also holds for sector rooms.
    return _level_body(session, platform, level, kind)


def route_opinion_list(session: Session, *, actor: Person, consultation_id: int
                       ) -> list[OpinionRouting]:
    """D18: send the list on its way. Stage-1 bodies get it in their inbox at once (their
    reviewers are notified); a party group's forward opens stage 2. Refused when a body of the
    route is not registered, so a list never waits on nobody."""
    c = managed_consultation(session, consultation_id, actor)
    # The consultation first (the order check-in and minutes lock in, checkin._held): a write to
    # the record waits for the routing and then sees it closed.
    session.refresh(c, with_for_update=True)
    # Locked: a double tap routes once (the second sees "already routed").
    lst = session.scalar(select(OpinionList).where(OpinionList.consultation_id == c.id)
                         .with_for_update().execution_options(populate_existing=True))
    if lst is None or not lst.items:
        raise Conflict("请先整理意见清单", code="opinion_list_empty")
    if lst.state is not OpinionListState.draft:
        raise Conflict("意见清单已报送", code="opinion_list_routed")
    level = _platform_level(session, c)
    for i in lst.items:  # a list written before the rule held: the convenor corrects it first
        refusal = scope_refusal(level, i.scope)
        if refusal:
            raise Conflict(f"第 {i.seq} 条意见：{refusal}，修改清单后再报送",
                           code="scope_not_routable")
    platform = session.get(Platform, c.platform_id)
    routes = list_routes(platform.host_type, {i.scope for i in lst.items})
    planned, missing = [], []
    for scope, steps in routes.items():
        for step in steps:
            body = resolve_target(session, platform, step.target)
            if body is None:
                missing.append(TARGET_LABELS[step.target])
            else:
                planned.append((scope, step, body))
    if missing:
        raise Conflict(f"意见清单的报送机构尚未登记（{'、'.join(dict.fromkeys(missing))}），"
                       "请联系政协工作人员完善组织信息", code="routing_incomplete")
    rows = []
    for scope, step, body in planned:
        row = OpinionRouting(list_id=lst.id, scope=scope, stage=step.stage, action=step.action,
                             body_id=body.id,
                             state=RoutingState.pending if step.stage == 1 else RoutingState.waiting)
        session.add(row)
        rows.append(row)
    lst.state, lst.routed_at = OpinionListState.routed, utcnow()
    c.state = ConsultationState.concluded
    session.flush()
    open_tracks(session, lst)  # D19: every item is followed from here to its result
    for row in rows:
        if row.state is RoutingState.pending:
            _notify_body(session, c, row)
        else:  # a later stage: staff can find its reader before the party group forwards
            _alert_if_unread(session, c, row)
    record(session, actor_id=actor.id, action="opinions.route", object_type="opinion_list",
           object_id=lst.id, after={"routings": [[r.scope.value, r.stage, r.action.value,
                                                  r.body_id] for r in rows]})
    _public_routed(session, c, lst, [body for _, step, body in planned if step.stage == 1])
    return rows


def _public_routed(session: Session, c: Consultation, lst: OpinionList, bodies: list[Body]
                   ) -> None:
    """D17/D18 on the topic's public trail: how many opinions went to which bodies (public
    organisations; no names)."""
    names = "、".join(dict.fromkeys(b.name for b in bodies))
    add_timeline(session, topic_id=c.topic_id, kind="list_routed",
                 text=f"协商形成的意见清单（{len(lst.items)}条）已报送{names}研究办理")


def _notify_body(session: Session, c: Consultation, row: OpinionRouting) -> None:
    """The copy is now pending with its body: its readers are told (or, with none, the staff)."""
    topic = session.get(Topic, c.topic_id)
    verb = "审核" if row.action is RouteAction.review else "研究办理"
    fan_out(session, kind="review_request", subject=f"routing:{row.id}",
            recipient_ids=reviewers_of(session, row.body_id), title="协商意见清单待处理",
            body=f"“{topic.title}”协商形成的意见清单（{SCOPE_LABELS[row.scope]}部分）已报送，"
                 f"请{verb}。", link=inbox_link(row.id))
    _alert_if_unread(session, c, row)


def _alert_if_unread(session: Session, c: Consultation, row: OpinionRouting) -> None:
    """D18: a copy whose body has no active reader alerts the CPPCC staff over the platform at
    once (inbox + staff robot; once per copy) — when the list is routed, or when a later stage
    opens and its reader has gone meanwhile. Pending, it shows as 无人接收 on their report until
    a reader is assigned, who then finds it in their inbox."""
    if row.body_id in bodies_with_reader(session, {row.body_id}):
        return
    topic = session.get(Topic, c.topic_id)
    body = session.get(Body, row.body_id)
    platform = session.get(Platform, c.platform_id)
    when = ("已报送" if row.state is RoutingState.pending else "经政协党组审核转送后将报送")
    alert_staff(
        session, subject=f"routing_unread:{row.id}", title="意见清单无人接收",
        over=session.get(Region, platform.region_id).path,
        body=f"{platform.name}“{topic.title}”的意见清单（{SCOPE_LABELS[row.scope]}部分）{when}"
             f"{body.name}，但该机构没有在岗的审核人，无人接收。请尽快指定审核人（人员导入表：角色"
             f"“审核人”，范围类型“机构”，范围“{body.name}”）；指定后审核人即可在待办中看到这份清单。")


# --- readers: who can act on a copy -----------------------------------------------------------------

NO_READER = "无人接收"


def _has_reader(body_id_column):
    """SQL: the body has an active reviewer who is an active person (its reader)."""
    return (select(RoleAssignment.id).join(Person, Person.id == RoleAssignment.person_id)
            .where(RoleAssignment.body_id == body_id_column,
                   RoleAssignment.role == Role.reviewer, RoleAssignment.is_active.is_(True),
                   Person.is_active.is_(True)).exists())


def bodies_with_reader(session: Session, body_ids: set[int]) -> set[int]:
    """Those of `body_ids` that have an active reader (one statement)."""
    if not body_ids:
        return set()
    return set(session.scalars(select(Body.id).where(Body.id.in_(body_ids),
                                                      _has_reader(Body.id))))


def blocked_routings(session: Session, region_clause) -> list[dict]:
    """Copies pending with a body that has no active reader, on platforms whose region path
    satisfies `region_clause` (a function of the path column): the staff report's 无人接收 list.
    One statement."""
    rows = session.execute(
        select(OpinionRouting, Body.name.label("body_name"), Consultation.id.label("cid"),
               Topic.title, Platform.id.label("platform_id"),
               Platform.name.label("platform_name"), OpinionList.routed_at)
        .join(OpinionList, OpinionList.id == OpinionRouting.list_id)
        .join(Consultation, Consultation.id == OpinionList.consultation_id)
        .join(Topic, Topic.id == Consultation.topic_id)
        .join(Platform, Platform.id == Consultation.platform_id)
        .join(Region, Region.id == Platform.region_id)
        .join(Body, Body.id == OpinionRouting.body_id)
        .where(OpinionRouting.state == RoutingState.pending, ~_has_reader(OpinionRouting.body_id),
               region_clause(Region.path))
        .order_by(OpinionRouting.id)).all()
    return [{"routing_id": r.id, "consultation_id": cid, "topic_title": title,
             "platform_id": pid, "platform_name": pname, "scope": r.scope.value,
             "scope_label": SCOPE_LABELS[r.scope], "stage": r.stage, "action": r.action.value,
             "body_id": r.body_id, "body_name": bname, "routed_at": routed_at,
             "reason": NO_READER}
            for r, bname, cid, title, pid, pname, routed_at in rows]


# --- the bodies' inbox ---------------------------------------------------------------------------------

_SCOPE_ORDER = (OpinionScope.local, OpinionScope.county, OpinionScope.city)


def items_for(session: Session, routing: OpinionRouting) -> list[OpinionItem]:
    """A body sees the whole list (the platform's own receiver) or the items of its scope —
    including those escalated to its level through the CPPCC channel (D22): an item raised
    lower whose track has reached this level or passed it."""
    q = select(OpinionItem).where(OpinionItem.list_id == routing.list_id)
    if routing.scope is not OpinionScope.local:
        at = _SCOPE_ORDER.index(routing.scope)
        q = q.outerjoin(ItemTrack, ItemTrack.item_id == OpinionItem.id).where(or_(
            OpinionItem.scope == routing.scope,
            and_(OpinionItem.scope.in_(_SCOPE_ORDER[:at]),
                 ItemTrack.current_scope.in_(_SCOPE_ORDER[at:]))))
    return list(session.scalars(q.order_by(OpinionItem.seq)))


def inbox(session: Session, person: Person, *, open_only: bool = True) -> list[OpinionRouting]:
    bodies = reviewer_body_ids(session, person)
    if not bodies:
        return []
    q = select(OpinionRouting).where(OpinionRouting.body_id.in_(bodies))
    if open_only:
        q = q.where(OpinionRouting.state == RoutingState.pending)
    return list(session.scalars(q.order_by(OpinionRouting.id.desc()).limit(200)))


def get_routing_or_404(session: Session, routing_id: int, person: Person) -> OpinionRouting:
    row = session.get(OpinionRouting, routing_id)
    if row is None or row.body_id not in reviewer_body_ids(session, person):
        raise NotFound("该意见清单不存在", code="routing_not_found")
    return row


def _outcome(action: RouteAction, forward: bool) -> RoutingState | None:
    """The state a decision leads to (None: a receiving body cannot refuse)."""
    if action is RouteAction.receive:
        return RoutingState.received if forward else None
    return RoutingState.forwarded if forward else RoutingState.held_back


def decide(session: Session, *, actor: Person, routing_id: int, forward: bool = True,
           note: str | None = None) -> OpinionRouting:
    """A reviewing party group forwards (opening the next stage) or holds the items back with a
    reason; a receiving body acknowledges receipt. Only a reviewer of the body acts; once.
    The same decision sent again by the reviewer who took it (a lost answer) is a replay: the
    routing is returned as it is, nothing is written or sent again; any other decision on a
    decided routing is 409 routing_decided."""
    get_routing_or_404(session, routing_id, actor)
    # Locked: two reviewers of the same body acting at once decide once.
    row = session.scalar(select(OpinionRouting).where(OpinionRouting.id == routing_id)
                         .with_for_update().execution_options(populate_existing=True))
    if row.state is not RoutingState.pending:
        if row.decided_by_id == actor.id and row.state is _outcome(row.action, forward):
            return row
        raise Conflict("该意见清单已处理", code="routing_decided")
    note = " ".join((note or "").split()) or None
    if row.action is RouteAction.receive and not forward:
        raise ValidationFailed("接收机构只需确认收到；如有意见请在备注中说明",
                               code="receive_only")
    if row.action is RouteAction.review and not forward and not note:
        raise ValidationFailed("暂不转送时请说明理由", code="note_required")
    row.state = _outcome(row.action, forward)  # never None past the receive_only check
    row.decided_by_id, row.decided_at, row.note = actor.id, utcnow(), note
    session.flush()
    record(session, actor_id=actor.id, action=f"opinions.{row.state.value}",
           object_type="opinion_routing", object_id=row.id, after={"note": note})
    if row.state is RoutingState.held_back:
        from ..followup.decisions import settle_held_back  # follow-through builds on routing

        settle_held_back(session, actor=actor, routing=row)
    if row.state is RoutingState.forwarded:
        lst = session.get(OpinionList, row.list_id)
        c = session.get(Consultation, lst.consultation_id)
        for nxt in session.scalars(select(OpinionRouting).where(
                OpinionRouting.list_id == row.list_id, OpinionRouting.scope == row.scope,
                OpinionRouting.stage == row.stage + 1,
                OpinionRouting.state == RoutingState.waiting)):
            nxt.state = RoutingState.pending
            session.flush()
            _notify_body(session, c, nxt)
    return row


# --- reading and exporting -----------------------------------------------------------------------------

@dataclass
class ListDocument:
    """Everything the formal documents show."""

    title: str
    platform: str
    held_on: str
    topic: str
    items: list[tuple[int, str, str, str]]  # seq, text, raised by, scope
    routed_at: datetime | None


def opinion_list_for(session: Session, *, person: Person, consultation_id: int
                     ) -> tuple[Consultation, OpinionList | None]:
    """Readable by whoever may see the meeting, and by reviewers of a body it was routed to."""
    c = session.get(Consultation, consultation_id)
    lst = _list_of(session, consultation_id) if c else None
    if lst is not None and lst.state is OpinionListState.routed:
        bodies = reviewer_body_ids(session, person)
        if bodies and session.scalar(select(OpinionRouting.id).where(
                OpinionRouting.list_id == lst.id, OpinionRouting.body_id.in_(bodies),
                OpinionRouting.state != RoutingState.waiting)):
            return c, lst
    c = get_consultation_or_404(session, consultation_id, person)
    return c, lst


def document(session: Session, c: Consultation, lst: OpinionList) -> ListDocument:
    topic = session.get(Topic, c.topic_id)
    platform = session.get(Platform, c.platform_id)
    held = (c.held_at or c.starts_at).astimezone(CHINA_TZ)
    return ListDocument(
        title=f"关于“{topic.title}”的协商意见清单", platform=platform.name,
        held_on=f"{held:%Y年%m月%d日}", topic=topic.title,
        items=[(i.seq, i.text, GROUP_LABELS[i.raised_by], SCOPE_LABELS[i.scope])
               for i in lst.items], routed_at=lst.routed_at)


def require_list(lst: OpinionList | None) -> OpinionList:
    if lst is None:
        raise NotFound("尚未整理意见清单", code="opinion_list_not_found")
    return lst
