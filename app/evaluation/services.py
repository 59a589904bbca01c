"""Evaluation services (D26, D27) and model cases. Services take a session and never commit.

Who may evaluate, per kind (D27; decided here, documented in docs/followthrough.md):

- party_government (党政点评): an active reviewer of a body the consultation's opinion list was
  routed to (app/consultations OpinionRouting, D18), or of a Party committee, government or Party
  organisation whose region is the platform's region or above it (the Party and government that
  govern the place). Nobody else: 403 `not_evaluator`.
- member (委员评议): a person holding an active CPPCC member role who is linked to the platform
  (D29) or was invited to the consultation as a member.
- resident (群众评价): a person who attended the consultation, was invited to it as a resident
  or stakeholder, proposed / voted for / follows a suggestion taken up into its topic, or follows
  the topic (app/suggestions/trail followers). The mini-program's rating page is their way in.
- organiser (组织者评析): the platform's convenor, or CPPCC staff whose region covers the
  platform (county CPPCC or town work committee, D26).

Phases: after_meeting opens when the consultation is held (or concluded); after_feedback when
its opinion list is routed and every item's track is settled (app/followup SETTLED_STATES) —
exactly when the feedback list (D21) is compiled. A phase not open: 409 `phase_not_open`.
"""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ..auth.permissions import grants_of
from ..consultations.models import (
    Attendance, Consultation, ConsultationState, Invitation, OpinionItem, OpinionList,
    OpinionRouting,
)
from ..consultations.rules import InviteGroup
from ..db import utcnow
from ..errors import Conflict, Forbidden, NotFound, ValidationFailed
from ..followup.models import SETTLED_STATES, ItemTrack
from ..org.models import (
    Body, BodyKind, Person, Platform, PlatformMember, Region, Role, RoleAssignment,
)
from ..suggestions.models import Follow, Suggestion, Vote
from ..topics.models import Topic, TopicState
from ..workdays import CHINA_TZ
from .models import (
    COMMENT_MAX, KIND_LABELS, MAX_SCORE, MIN_SCORE, PHASE_LABELS, Evaluation, EvaluationKind,
    ModelCase, Phase,
)

HELD = (ConsultationState.held, ConsultationState.concluded)
PARTY_GOVERNMENT_BODIES = (BodyKind.party_committee, BodyKind.government, BodyKind.party_org)

NOT_EVALUATOR = {
    EvaluationKind.party_government: "只有收到本次意见清单的党委、政府审核人或所在地党委、政府审核人可以进行党政点评",
    EvaluationKind.member: "只有联系本平台或受邀参加本次协商的政协委员可以进行委员评议",
    EvaluationKind.resident: "只有参加本次协商、提出或支持、关注该议题的群众可以评价",
    EvaluationKind.organiser: "只有本平台召集人或管辖本平台的政协工作人员可以进行组织者评析",
}


def parse_phase(value: str) -> Phase:
    try:
        return Phase(value)
    except ValueError:
        raise ValidationFailed("评价阶段应为会后评价（after_meeting）或反馈后评价（after_feedback）",
                               code="invalid_phase") from None


def parse_kind(value: str) -> EvaluationKind:
    try:
        return EvaluationKind(value)
    except ValueError:
        raise ValidationFailed("评价类别应为 party_government / member / resident / organiser",
                               code="invalid_kind") from None


def get_consultation(session: Session, consultation_id: int) -> Consultation:
    c = session.get(Consultation, consultation_id)
    if c is None or c.state is ConsultationState.cancelled:
        raise NotFound("该协商活动不存在", code="consultation_not_found")
    return c


# --- phases ---------------------------------------------------------------------------------------

def feedback_ready(session: Session, consultation_id: int) -> bool:
    """Every item of the consultation's routed opinion list is settled (D21: the feedback list
    is compiled exactly then). A list without items, or not routed, is not ready."""
    lst = session.scalar(select(OpinionList).where(OpinionList.consultation_id == consultation_id))
    if lst is None:
        return False
    items = session.scalar(select(func.count()).select_from(OpinionItem)
                           .where(OpinionItem.list_id == lst.id)) or 0
    states = list(session.scalars(select(ItemTrack.state).where(ItemTrack.list_id == lst.id)))
    return items > 0 and len(states) == items and all(s in SETTLED_STATES for s in states)


def meeting_over(c: Consultation) -> bool:
    """The consultation took place: its list is routed, or it is held (from the first check-in,
    up to an hour before the start) and its end time has passed."""
    return c.state is ConsultationState.concluded or (
        c.state is ConsultationState.held and utcnow() >= c.ends_at)


def open_phases(session: Session, c: Consultation) -> dict[Phase, bool]:
    held = meeting_over(c)
    return {Phase.after_meeting: held,
            Phase.after_feedback: held and feedback_ready(session, c.id)}


def require_open(session: Session, c: Consultation, phase: Phase) -> None:
    if open_phases(session, c)[phase]:
        return
    if phase is Phase.after_meeting:
        raise Conflict("协商活动召开后才能进行会后评价", code="phase_not_open")
    raise Conflict("意见清单的每一项都办结（或说明不予采纳）、形成结果反馈清单后才能进行反馈后评价",
                   code="phase_not_open")


# --- who may evaluate -----------------------------------------------------------------------------

def _platform_path(session: Session, platform: Platform) -> str:
    return session.scalar(select(Region.path).where(Region.id == platform.region_id)) or ""


def _reviewer_body_ids(session: Session, person_id: int) -> set[int]:
    return set(session.scalars(select(RoleAssignment.body_id).where(
        RoleAssignment.person_id == person_id, RoleAssignment.role == Role.reviewer,
        RoleAssignment.is_active.is_(True), RoleAssignment.body_id.is_not(None))))


def is_staff_over(session: Session, person: Person, platform: Platform) -> bool:
    """CPPCC staff (the staff role, not the system admin) whose region covers the platform."""
    path = _platform_path(session, platform)
    return any(g.role is Role.staff and (
        (g.region_path and path.startswith(g.region_path)) or g.platform_id == platform.id)
        for g in grants_of(session, person))


def may_party_government(session: Session, person: Person, c: Consultation,
                         platform: Platform) -> bool:
    bodies = _reviewer_body_ids(session, person.id)
    if not bodies:
        return False
    routed = set(session.scalars(
        select(OpinionRouting.body_id).join(OpinionList, OpinionList.id == OpinionRouting.list_id)
        .where(OpinionList.consultation_id == c.id)))
    if bodies & routed:
        return True
    path = _platform_path(session, platform)
    for kind, body_path in session.execute(
            select(Body.kind, Region.path).join(Region, Region.id == Body.region_id)
            .where(Body.id.in_(bodies))):
        if kind in PARTY_GOVERNMENT_BODIES and path.startswith(body_path):
            return True
    return False


def may_member(session: Session, person: Person, c: Consultation) -> bool:
    is_member = session.scalar(select(RoleAssignment.id).where(
        RoleAssignment.person_id == person.id, RoleAssignment.role == Role.member,
        RoleAssignment.is_active.is_(True)).limit(1))
    if is_member is None:
        return False
    linked = session.scalar(select(PlatformMember.id).where(
        PlatformMember.platform_id == c.platform_id, PlatformMember.person_id == person.id))
    invited = session.scalar(select(Invitation.id).where(
        Invitation.consultation_id == c.id, Invitation.person_id == person.id,
        Invitation.group == InviteGroup.member))
    return linked is not None or invited is not None


def may_resident(session: Session, person: Person, c: Consultation) -> bool:
    pid = person.id
    taken_up = select(Suggestion.id).where(Suggestion.topic_id == c.topic_id)
    checks = (
        select(Attendance.id).where(Attendance.consultation_id == c.id,
                                    Attendance.person_id == pid),
        select(Invitation.id).where(
            Invitation.consultation_id == c.id, Invitation.person_id == pid,
            Invitation.group.in_([InviteGroup.resident, InviteGroup.stakeholder])),
        select(Follow.id).where(Follow.person_id == pid, or_(
            Follow.topic_id == c.topic_id, Follow.suggestion_id.in_(taken_up))),
        select(Vote.id).where(Vote.person_id == pid, Vote.suggestion_id.in_(taken_up)),
        select(Suggestion.id).where(Suggestion.proposer_id == pid,
                                    Suggestion.topic_id == c.topic_id),
    )
    return any(session.scalar(q.limit(1)) is not None for q in checks)


def may_organiser(session: Session, person: Person, platform: Platform) -> bool:
    return platform.convenor_id == person.id or is_staff_over(session, person, platform)


def may_evaluate(session: Session, person: Person, c: Consultation, kind: EvaluationKind) -> bool:
    platform = session.get(Platform, c.platform_id)
    if kind is EvaluationKind.party_government:
        return may_party_government(session, person, c, platform)
    if kind is EvaluationKind.member:
        return may_member(session, person, c)
    if kind is EvaluationKind.resident:
        return may_resident(session, person, c)
    return may_organiser(session, person, platform)


# --- evaluate -------------------------------------------------------------------------------------

def _check_score(value: int, field: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not MIN_SCORE <= value <= MAX_SCORE:
        raise ValidationFailed(f"评分应为 {MIN_SCORE}–{MAX_SCORE} 分", code="score_out_of_range",
                               details=[{"field": field, "message": "评分应为 1–5 分"}])


def _clean_comment(comment: str | None) -> str | None:
    comment = (comment or "").strip() or None
    if comment is not None and len(comment) > COMMENT_MAX:
        raise ValidationFailed(f"评价意见最多 {COMMENT_MAX} 字", code="comment_too_long")
    return comment


def _mine_for_update(session: Session, cid: int, phase: Phase, kind: EvaluationKind,
                     author_id: int) -> Evaluation | None:
    return session.scalar(
        select(Evaluation).where(Evaluation.consultation_id == cid, Evaluation.phase == phase,
                                 Evaluation.kind == kind, Evaluation.author_id == author_id)
        .with_for_update().execution_options(populate_existing=True))


def evaluate(session: Session, *, actor: Person, consultation_id: int, phase: Phase,
             kind: EvaluationKind, outcome_score: int, process_score: int,
             comment: str | None) -> Evaluation:
    """Record or replace the actor's evaluation (D27). Checks in order: scores (422), the
    consultation (404), the kind's permission (403), the phase (409). A repeat with the same
    values is a replay: the row is unchanged. Two racing first PUTs leave one row: the loser's
    INSERT hits the UNIQUE constraint inside a savepoint and becomes an update."""
    _check_score(outcome_score, "outcome_score")
    _check_score(process_score, "process_score")
    comment = _clean_comment(comment)
    c = get_consultation(session, consultation_id)
    if not may_evaluate(session, actor, c, kind):
        raise Forbidden(NOT_EVALUATOR[kind], code="not_evaluator")
    require_open(session, c, phase)
    row = _mine_for_update(session, c.id, phase, kind, actor.id)
    if row is None:
        row = Evaluation(consultation_id=c.id, phase=phase, kind=kind, author_id=actor.id,
                         outcome_score=outcome_score, process_score=process_score,
                         comment=comment)
        try:
            with session.begin_nested():
                session.add(row)
                session.flush()
            return row
        except IntegrityError:
            row = _mine_for_update(session, c.id, phase, kind, actor.id)
            if row is None:  # pragma: no cover - the constraint said it exists
                raise
    if (row.outcome_score, row.process_score, row.comment) != (outcome_score, process_score,
                                                                 comment):
        row.outcome_score, row.process_score, row.comment = outcome_score, process_score, comment
        row.updated_at = utcnow()
        session.flush()
    return row


def evaluation_dict(e: Evaluation) -> dict:
    return {"id": e.id, "consultation_id": e.consultation_id, "phase": e.phase.value,
            "phase_label": PHASE_LABELS[e.phase], "kind": e.kind.value,
            "kind_label": KIND_LABELS[e.kind], "outcome_score": e.outcome_score,
            "process_score": e.process_score, "comment": e.comment,
            "created_at": e.created_at, "updated_at": e.updated_at}


# --- aggregates -----------------------------------------------------------------------------------

@dataclass
class Tally:
    count: int = 0
    outcome_sum: int = 0
    process_sum: int = 0

    def add(self, n: int, outcome_sum: int, process_sum: int) -> None:
        self.count += n
        self.outcome_sum += int(outcome_sum or 0)
        self.process_sum += int(process_sum or 0)

    def as_dict(self) -> dict:
        return {"count": self.count,
                "outcome_mean": round(self.outcome_sum / self.count, 2) if self.count else None,
                "process_mean": round(self.process_sum / self.count, 2) if self.count else None}


def tallies(session: Session, consultation_ids) -> dict[int, dict[tuple, Tally]]:
    """Per consultation: (kind, phase) → count and sums (one statement)."""
    out: dict[int, dict[tuple, Tally]] = {}
    ids = list(consultation_ids)
    if not ids:
        return out
    for cid, kind, phase, n, o, p in session.execute(
            select(Evaluation.consultation_id, Evaluation.kind, Evaluation.phase, func.count(),
                   func.sum(Evaluation.outcome_score), func.sum(Evaluation.process_score))
            .where(Evaluation.consultation_id.in_(ids))
            .group_by(Evaluation.consultation_id, Evaluation.kind, Evaluation.phase)):
        out.setdefault(cid, {}).setdefault((kind, phase), Tally()).add(n, o, p)
    return out


def breakdown(by: dict[tuple, Tally]) -> list[dict]:
    """Every kind × phase (zero counts included), then the overall figure."""
    rows = []
    for kind in EvaluationKind:
        for phase in Phase:
            t = by.get((kind, phase), Tally())
            rows.append({"kind": kind.value, "kind_label": KIND_LABELS[kind],
                         "phase": phase.value, "phase_label": PHASE_LABELS[phase],
                         **t.as_dict()})
    return rows


def overall(by: dict[tuple, Tally]) -> Tally:
    total = Tally()
    for t in by.values():
        total.add(t.count, t.outcome_sum, t.process_sum)
    return total


def consultation_summary(session: Session, consultation_id: int) -> dict:
    """Public figures of one consultation: no author, no comment (personal data stays out).
    Public as its topic's results are: an approved topic on an active platform (404 otherwise)."""
    c = get_consultation(session, consultation_id)
    if session.scalar(select(Topic.id).join(Platform, Platform.id == Topic.platform_id).where(
            Topic.id == c.topic_id, *_public())) is None:
        raise NotFound("该协商活动不存在", code="consultation_not_found")
    by = tallies(session, [c.id]).get(c.id, {})
    phases = open_phases(session, c)
    return {"consultation_id": c.id, "is_model_case": model_case_of(session, c.id) is not None,
            "phases": [{"phase": p.value, "phase_label": PHASE_LABELS[p], "is_open": o}
                       for p, o in phases.items()],
            "by_kind": breakdown(by), "overall": overall(by).as_dict()}


def my_ratings(session: Session, person: Person, consultation_id: int) -> dict:
    """The resident's rating page: each phase, whether it is open, and their rating in it."""
    c = get_consultation(session, consultation_id)
    title = session.scalar(select(Topic.title).where(Topic.id == c.topic_id))
    platform = session.get(Platform, c.platform_id)
    phases = open_phases(session, c)
    mine = {e.phase: e for e in session.scalars(select(Evaluation).where(
        Evaluation.consultation_id == c.id, Evaluation.author_id == person.id,
        Evaluation.kind == EvaluationKind.resident))}
    return {"consultation_id": c.id, "topic_title": title or "", "platform_name": platform.name,
            "starts_at": c.starts_at, "may_rate": may_resident(session, person, c),
            "phases": [{"phase": p.value, "phase_label": PHASE_LABELS[p], "is_open": o,
                        "rating": evaluation_dict(mine[p]) if p in mine else None}
                       for p, o in phases.items()]}


# --- model cases ----------------------------------------------------------------------------------

def model_case_of(session: Session, consultation_id: int) -> ModelCase | None:
    return session.scalar(select(ModelCase).where(ModelCase.consultation_id == consultation_id))


def _staff_consultation(session: Session, actor: Person, consultation_id: int) -> Consultation:
    """404 for a consultation outside the staff member's region (no IDOR)."""
    c = session.get(Consultation, consultation_id)
    if c is None or not is_staff_over(session, actor, session.get(Platform, c.platform_id)):
        raise NotFound("该协商活动不存在或不在您的管辖范围内", code="consultation_not_found")
    return c


def mark_model_case(session: Session, *, actor: Person, consultation_id: int,
                    reason: str) -> tuple[ModelCase, bool]:
    """D27 / D34: staff over the platform mark a held consultation a model case. Returns the
    row and whether it is new; marking again changes the reason (same reason: a replay)."""
    reason = " ".join((reason or "").split())
    if not reason:
        raise ValidationFailed("请填写列为典型案例的理由", code="reason_required")
    if len(reason) > 500:
        raise ValidationFailed("理由最多 500 字", code="reason_too_long")
    c = _staff_consultation(session, actor, consultation_id)
    if not meeting_over(c):
        raise Conflict("协商活动召开后才能列为典型案例", code="consultation_not_held")
    row = session.scalar(select(ModelCase).where(ModelCase.consultation_id == c.id)
                         .with_for_update())
    if row is None:
        row = ModelCase(consultation_id=c.id, reason=reason, marked_by_id=actor.id)
        try:
            with session.begin_nested():
                session.add(row)
                session.flush()
            return row, True
        except IntegrityError:
            row = session.scalar(select(ModelCase).where(ModelCase.consultation_id == c.id)
                                 .with_for_update().execution_options(populate_existing=True))
    if row.reason != reason:
        row.reason, row.marked_by_id, row.marked_at = reason, actor.id, utcnow()
        session.flush()
    return row, False


def unmark_model_case(session: Session, *, actor: Person, consultation_id: int) -> bool:
    """Returns whether a mark was removed (removing an absent one is a replay, not an error)."""
    c = _staff_consultation(session, actor, consultation_id)
    row = session.scalar(select(ModelCase).where(ModelCase.consultation_id == c.id)
                         .with_for_update())
    if row is None:
        return False
    session.delete(row)
    session.flush()
    return True


def _public():
    """SQL: the topic is public (approved, on an active platform), as for its results page."""
    return (Topic.state == TopicState.approved, Platform.is_active.is_(True))


def model_cases(session: Session) -> list[dict]:
    """The public list (anyone): topic title, platform, date, reason and mean scores."""
    rows = session.execute(
        select(ModelCase, Consultation, Topic.title, Platform.name)
        .join(Consultation, Consultation.id == ModelCase.consultation_id)
        .join(Topic, Topic.id == Consultation.topic_id)
        .join(Platform, Platform.id == Consultation.platform_id)
        .where(*_public())
        .order_by(ModelCase.marked_at.desc(), ModelCase.id.desc())).all()
    t = tallies(session, [c.id for _, c, _, _ in rows])
    return [{"consultation_id": c.id, "topic_id": c.topic_id, "topic_title": title,
             "platform_id": c.platform_id, "platform_name": pname,
             "held_on": c.starts_at.astimezone(CHINA_TZ).date(), "reason": m.reason,
             "marked_at": m.marked_at, **overall(t.get(c.id, {})).as_dict()}
            for m, c, title, pname in rows]
