"""Topic use cases: draft, submit into the D8 approval chain, approve or return a step, resubmit.

Services never commit. Every transition writes an audit entry and notices through the outbox.
"""
from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from ..audit.services import record, snapshot
from ..auth.permissions import get_platform_or_404, reach
from ..db import utcnow
from ..errors import Conflict, Forbidden, NotFound, ValidationFailed
from ..notify.services import Notice, dedupe_key, enqueue_many
from ..org.models import Body, Person, Platform, Region, Role, RoleAssignment
from ..org.services import today_local
from ..suggestions import trail
from .approval import resolve_chain
from .models import (
    STEP_KIND_LABELS, ApprovalStep, Category, Source, StepKind, StepState, Topic, TopicState,
)

MANAGE = "topic.manage"
REVIEW = "topic.review"

# Time limit of each step in Chinese working days (D8 steps; reminders use due_on).
DEFAULT_STEP_DAYS = {StepKind.vet: 5, StepKind.approve: 10, StepKind.file: 5,
                     StepKind.pre_review: 10}

EDITABLE = {TopicState.draft, TopicState.returned}


def _due_on(start: date, days: int) -> date:
    try:
        from ..workdays import add_workdays
    except ImportError:  # pragma: no cover - the calendar module is optional until it lands
        return start + timedelta(days=days + 2 * (days // 5))
    return add_workdays(start, days)


def step_days(kind: StepKind, overrides: dict[str, int] | None = None) -> int:
    if overrides and kind.value in overrides:
        return overrides[kind.value]
    return DEFAULT_STEP_DAYS[kind]


# --- loaders -------------------------------------------------------------------------------------

def reviewer_body_ids(session: Session, person: Person) -> set[int]:
    return set(session.scalars(select(RoleAssignment.body_id).where(
        RoleAssignment.person_id == person.id, RoleAssignment.role == Role.reviewer,
        RoleAssignment.is_active.is_(True), RoleAssignment.body_id.is_not(None))))


def manages_platform(session: Session, person: Person, platform: Platform) -> bool:
    region_path = session.scalar(select(Region.path).where(Region.id == platform.region_id))
    return reach(session, person, MANAGE).covers_platform(platform, region_path or "")


def get_topic_or_404(session: Session, topic_id: int, person: Person, *,
                     lock: bool = False) -> Topic:
    """A topic is visible to those who manage its platform and to the reviewers of its chain;
    to anyone else it does not exist (404).

    ``lock``: every change to a topic or its steps (submit, a reviewer's decision, an edit) takes
    the topic's row lock first and re-reads the topic and its steps, so two of them at once run
    one after the other and the second sees what the first committed (D8: one decision per step,
    one round per submission). PostgreSQL: SELECT … FOR NO KEY UPDATE (rows that only reference
    the topic are not blocked). SQLite has no row locks; there every transaction starts with
    BEGIN IMMEDIATE (app/db.py), so writers already run one at a time."""
    stmt = select(Topic).where(Topic.id == topic_id).options(selectinload(Topic.steps))
    if lock:
        stmt = stmt.with_for_update(key_share=True).execution_options(populate_existing=True)
    topic = session.scalar(stmt)
    if topic is None:
        raise NotFound("该议题不存在", code="topic_not_found")
    platform = session.get(Platform, topic.platform_id)
    if manages_platform(session, person, platform):
        return topic
    if reviewer_body_ids(session, person) & {s.body_id for s in topic.steps}:
        return topic
    raise NotFound("该议题不存在", code="topic_not_found")


def managed_topic(session: Session, topic_id: int, person: Person, *,
                  lock: bool = False) -> Topic:
    topic = get_topic_or_404(session, topic_id, person, lock=lock)
    if not manages_platform(session, person, session.get(Platform, topic.platform_id)):
        raise Forbidden("只有本平台召集人或政协工作人员可以办理", code="not_topic_manager")
    return topic


# --- drafting ------------------------------------------------------------------------------------

def create_topic(session: Session, *, actor: Person, platform_id: int, title: str,
                 description: str, category: Category, source: Source) -> Topic:
    platform = get_platform_or_404(session, platform_id, actor, MANAGE)
    if not platform.is_active:
        raise Conflict("该平台已停用", code="platform_inactive")
    topic = Topic(platform_id=platform.id, title=title, description=description,
                  category=category, source=source, state=TopicState.draft,
                  created_by_id=actor.id)
    session.add(topic)
    session.flush()
    record(session, actor_id=actor.id, action="topic.create", object_type="topic",
           object_id=topic.id, after=snapshot(topic))
    return topic


def update_topic(session: Session, *, actor: Person, topic_id: int, **changes) -> Topic:
    topic = managed_topic(session, topic_id, actor, lock=True)
    if topic.state not in EDITABLE:
        raise Conflict("议题审核中或已审定，不能修改", code="topic_not_editable")
    before = snapshot(topic)
    for name, value in changes.items():
        if value is not None:
            setattr(topic, name, value)
    session.flush()
    record(session, actor_id=actor.id, action="topic.update", object_type="topic",
           object_id=topic.id, before=before, after=snapshot(topic))
    return topic


# --- the chain -------------------------------------------------------------------------------------

def _round_steps(topic: Topic) -> list[ApprovalStep]:
    return sorted((s for s in topic.steps if s.round == topic.approval_round),
                  key=lambda s: s.seq)


def reviewers_of(session: Session, body_id: int) -> list[int]:
    """The people who can act for the body (D8, D18): an active reviewer role held by an active
    person — a deactivated account is asked for nothing."""
    return list(session.scalars(
        select(RoleAssignment.person_id).join(Person, Person.id == RoleAssignment.person_id)
        .where(RoleAssignment.role == Role.reviewer, RoleAssignment.body_id == body_id,
               RoleAssignment.is_active.is_(True), Person.is_active.is_(True))
        .order_by(RoleAssignment.person_id)))


def _make_pending(session: Session, topic: Topic, step: ApprovalStep,
                  overrides: dict[str, int] | None) -> list[Notice]:
    step.state = StepState.pending
    step.became_pending_at = utcnow()
    step.due_on = _due_on(today_local(), step_days(step.kind, overrides))
    body = session.get(Body, step.body_id)
    label = STEP_KIND_LABELS[step.kind]
    return [Notice(
        kind="review_request", recipient_id=pid, title=f"议题待{label}",
        body=f"“{topic.title}”需要{body.name}{label}，请于{step.due_on:%Y年%m月%d日}前办理。",
        link=f"/pages/topic/topic?id={topic.id}",
        dedupe_key=dedupe_key("review_request", f"step:{step.id}", pid),
    ) for pid in reviewers_of(session, step.body_id)]


def _notify_managers(session: Session, topic: Topic, *, kind_subject: str, title: str,
                     body: str) -> list[Notice]:
    platform = session.get(Platform, topic.platform_id)
    people = {topic.created_by_id} | ({platform.convenor_id} if platform.convenor_id else set())
    return [Notice(kind="status_change", recipient_id=pid, title=title, body=body,
                   link=f"/pages/topic/topic?id={topic.id}",
                   dedupe_key=dedupe_key("status_change", kind_subject, pid))
            for pid in sorted(people)]


def _tell_followers(session: Session, topic: Topic, *, kind: str, event: str, text: str,
                    exclude: set[int]) -> None:
    """Item 8: every transition goes on the topic's public trail and to its followers. The
    trail never names a reviewer and keeps a return reason internal (the convenor gets it)."""
    trail.add_timeline(session, topic_id=topic.id, kind=kind, text=text)
    trail.notify_followers(session, topic_id=topic.id, subject=f"topic:{topic.id}:{event}",
                           title="议题进展", body=f"您关注的议题“{topic.title}”{text}。",
                           link=f"/pages/topic/topic?id={topic.id}", exclude=exclude)


def _managers(session: Session, topic: Topic) -> set[int]:
    platform = session.get(Platform, topic.platform_id)
    return {topic.created_by_id} | ({platform.convenor_id} if platform.convenor_id else set())


def submit_topic(session: Session, *, actor: Person, topic_id: int,
                 step_day_overrides: dict[str, int] | None = None) -> Topic:
    """Send a draft (or a returned topic, revised) into a new round of its D8 chain. A double
    tap submits once: the second waits on the topic's lock and finds it in approval (409)."""
    topic = managed_topic(session, topic_id, actor, lock=True)
    if topic.state not in EDITABLE:
        raise Conflict("议题已在审核中或已审定，不能重复提交", code="topic_not_submittable")
    chain = resolve_chain(session, session.get(Platform, topic.platform_id))
    before = snapshot(topic)
    topic.approval_round += 1
    topic.state = TopicState.in_approval
    steps = [ApprovalStep(topic_id=topic.id, round=topic.approval_round, seq=r.seq, kind=r.kind,
                          body_id=r.body.id, state=StepState.waiting) for r in chain]
    session.add_all(steps)
    session.flush()
    notices = _make_pending(session, topic, steps[0], step_day_overrides)
    record(session, actor_id=actor.id, action="topic.submit", object_type="topic",
           object_id=topic.id, before=before,
           after={**snapshot(topic), "steps": [(s.seq, s.kind.value, s.body_id) for s in steps]})
    enqueue_many(session, notices)
    first = session.get(Body, steps[0].body_id)
    again = f"修改后重新提交审核（第{topic.approval_round}轮）" if topic.approval_round > 1 \
        else "已提交审核"
    _tell_followers(session, topic, kind="submitted", event=f"submitted:{topic.approval_round}",
                    text=f"{again}，当前环节：{first.name}{STEP_KIND_LABELS[steps[0].kind]}",
                    exclude={actor.id})
    session.expire(topic, ["steps"])
    return topic


def act_on_step(session: Session, *, actor: Person, topic_id: int, step_id: int, approve: bool,
                note: str | None, step_day_overrides: dict[str, int] | None = None) -> Topic:
    """A reviewer of the step's body approves it or returns the topic with a reason (D8).
    Only the current pending step of the current round can be acted on: no step is skipped.

    One decision per step: decisions on a topic take its row lock and run one at a time. The
    same decision sent again by the reviewer who took it (an answer lost on the way to a phone)
    is a replay: the topic is returned as it is, nothing is written or sent again. Any other
    decision on a decided step is 409 step_not_current."""
    topic = get_topic_or_404(session, topic_id, actor, lock=True)
    step = next((s for s in topic.steps if s.id == step_id), None)
    if step is None:
        raise NotFound("该审核环节不存在", code="step_not_found")
    if step.body_id not in reviewer_body_ids(session, actor):
        body = session.get(Body, step.body_id)
        raise Forbidden(f"该环节应由{body.name}审核，您无权办理", code="not_step_reviewer")
    if step.acted_by_id == actor.id and step.state is (
            StepState.approved if approve else StepState.returned):
        return topic
    if (topic.state is not TopicState.in_approval or step.round != topic.approval_round
            or step.state is not StepState.pending):
        raise Conflict("该环节当前不能办理（尚未轮到或已办结）", code="step_not_current")
    note = (note or "").strip() or None
    if not approve and not note:
        raise ValidationFailed("退回时请填写理由", code="reason_required")

    before = {"topic": snapshot(topic), "step": snapshot(step)}
    step.acted_by_id, step.acted_at, step.note = actor.id, utcnow(), note
    label = STEP_KIND_LABELS[step.kind]
    notices: list[Notice] = []
    if approve:
        step.state = StepState.approved
        following = [s for s in _round_steps(topic) if s.seq > step.seq]
        if following:
            notices += _make_pending(session, topic, following[0], step_day_overrides)
        else:
            topic.state = TopicState.approved
            topic.approved_at = utcnow()
            notices += _notify_managers(
                session, topic, kind_subject=f"topic:{topic.id}:approved:{topic.approval_round}",
                title="议题已审定", body=f"“{topic.title}”已完成审核程序，可以开展调研和协商。")
    else:
        step.state = StepState.returned
        for later in _round_steps(topic):
            if later.seq > step.seq:
                later.state = StepState.cancelled
        topic.state = TopicState.returned
        body = session.get(Body, step.body_id)
        notices += _notify_managers(
            session, topic, kind_subject=f"topic:{topic.id}:returned:{topic.approval_round}",
            title="议题被退回", body=f"“{topic.title}”在{label}环节被{body.name}退回：{note}")
    session.flush()
    record(session, actor_id=actor.id, action=f"topic.step.{'approve' if approve else 'return'}",
           object_type="topic", object_id=topic.id, before=before,
           after={"topic": snapshot(topic), "step": snapshot(step)})
    enqueue_many(session, notices)
    body = session.get(Body, step.body_id)
    if not approve:
        _tell_followers(session, topic, kind="returned",
                        event=f"returned:{topic.approval_round}",
                        text=f"在{label}环节退回修改，召集人修改后将重新提交审核",
                        exclude={actor.id} | _managers(session, topic))
    elif topic.state is TopicState.approved:
        _tell_followers(session, topic, kind="approved",
                        event=f"approved:{topic.approval_round}",
                        text=f"已通过{body.name}{label}，完成审核程序，将开展调研和协商",
                        exclude={actor.id} | _managers(session, topic))
    else:
        nxt = following[0]
        _tell_followers(session, topic, kind="step_passed", event=f"step:{step.id}:passed",
                        text=f"已通过{body.name}{label}，进入下一环节："
                             f"{session.get(Body, nxt.body_id).name}{STEP_KIND_LABELS[nxt.kind]}",
                        exclude={actor.id})
    return topic


def pending_reviews(session: Session, person: Person) -> list[ApprovalStep]:
    bodies = reviewer_body_ids(session, person)
    if not bodies:
        return []
    return list(session.scalars(
        select(ApprovalStep).join(Topic, Topic.id == ApprovalStep.topic_id)
        .where(ApprovalStep.body_id.in_(sorted(bodies)), ApprovalStep.state == StepState.pending,
               ApprovalStep.round == Topic.approval_round)
        .options(selectinload(ApprovalStep.topic))
        .order_by(ApprovalStep.due_on, ApprovalStep.id)))
