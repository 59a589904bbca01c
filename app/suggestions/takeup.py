"""From suggestions to a topic: the convenor takes up one or several open suggestions as a draft
topic (duplicates merged into one), or declines one with a reason the proposer is told.

Both use cases check the caller's reach over the platform ("topic.manage": the platform's
convenor, or CPPCC staff / admins whose region covers it), change state, write audit entries,
public timeline entries and follower notices, all in the caller's transaction (never commit).
"""
from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..audit.services import record, snapshot
from ..auth.permissions import get_platform_or_404, reach
from ..db import utcnow
from ..errors import Conflict, NotFound, ValidationFailed
from ..notify.services import fan_out
from ..org.models import Person, Platform, Region
from ..topics import services as topic_services
from ..topics.models import Category, Source, Topic
from . import trail
from .models import Suggestion, SuggestionState

MANAGE = topic_services.MANAGE  # "topic.manage": the convenor of the platform, or staff in reach

MAX_MERGE = 20
DECLINE_REASON_MIN, DECLINE_REASON_MAX = 5, 500

# Why a suggestion that is not open cannot be taken up or declined (409, shown as-is).
_NOT_OPEN = {
    SuggestionState.taken_up: ("suggestion_already_taken_up", "已列为议题"),
    SuggestionState.declined: ("suggestion_already_declined", "已暂不采纳"),
    SuggestionState.held: ("suggestion_held", "尚在审核中"),
    SuggestionState.rejected: ("suggestion_rejected", "未通过内容审核"),
}


def suggestion_link(suggestion_id: int) -> str:
    return f"/pages/suggestion/suggestion?id={suggestion_id}"


def topic_link(topic_id: int) -> str:
    return f"/pages/topic/topic?id={topic_id}"


def _refuse_unless_open(s: Suggestion, verb: str) -> None:
    if s.state is SuggestionState.open:
        return
    code, what = _NOT_OPEN[s.state]
    raise Conflict(f"建议“{s.title}”{what}，不能{verb}", code=code)


def _lock_suggestions(session: Session, ids: Sequence[int]) -> list[Suggestion]:
    """Load and lock the rows in id order (no deadlock between two convenors); the fresh
    state is read after the lock, so a concurrent take-up is seen and refused."""
    return list(session.scalars(
        select(Suggestion).where(Suggestion.id.in_(sorted(ids))).order_by(Suggestion.id)
        .with_for_update().execution_options(populate_existing=True)))


def main_suggestion(suggestions: Sequence[Suggestion]) -> Suggestion:
    """The one whose title, description, category and source the topic takes by default: the
    most supported; on a tie the earliest."""
    return min(suggestions, key=lambda s: (-s.vote_count, s.id))


def take_up_suggestions(session: Session, *, actor: Person, platform_id: int,
                        suggestion_ids: Sequence[int], title: str | None = None,
                        description: str | None = None, category: Category | None = None,
                        source: Source | None = None) -> tuple[Topic, list[Suggestion]]:
    """Take up 1–20 open suggestions of this platform as one draft topic (merging duplicates).

    Defaults come from the most supported suggestion. Every follower of every merged suggestion
    (and every proposer) now follows the topic and is told once; each suggestion and the topic
    get a public timeline entry (D7 source kept; the topic then goes into its D8 chain).
    """
    # Reach first: a convenor of another platform learns nothing about this one (404).
    platform = get_platform_or_404(session, platform_id, actor, MANAGE)
    ids = list(dict.fromkeys(suggestion_ids))
    if not 1 <= len(ids) <= MAX_MERGE:
        raise ValidationFailed(f"一次可合并 1 至 {MAX_MERGE} 条建议", code="too_many_suggestions")
    found = {s.id: s for s in _lock_suggestions(session, ids)}
    # Unknown ids and other platforms' suggestions get the same answer (nothing leaks).
    foreign = [i for i in ids if i not in found or found[i].platform_id != platform.id]
    if foreign:
        raise ValidationFailed(
            "以下建议不属于本平台：" + "、".join(f"#{i}" for i in foreign),
            code="suggestion_not_on_platform",
            # The one error shape: details is a list of {field, message} (+ the id concerned).
            details=[{"field": f"suggestion_ids.{list(suggestion_ids).index(i)}",
                      "message": f"建议 #{i} 不属于本平台", "suggestion_id": i} for i in foreign])
    suggestions = [found[i] for i in ids]
    for s in suggestions:
        _refuse_unless_open(s, "列为议题")

    main = main_suggestion(suggestions)
    topic = topic_services.create_topic(
        session, actor=actor, platform_id=platform.id, title=title or main.title,
        description=description or main.description, category=category or main.category,
        source=source or main.source)

    now = utcnow()
    for s in suggestions:
        before = snapshot(s, ["state", "topic_id"])
        s.state = SuggestionState.taken_up
        s.topic_id = topic.id
        s.last_activity_at = now
        record(session, actor_id=actor.id, action="suggestion.take_up", object_type="suggestion",
               object_id=s.id, before=before,
               after={"state": s.state.value, "topic_id": topic.id,
                      "merged_with": [o.id for o in suggestions if o.id != s.id]})
        trail.add_timeline(session, suggestion_id=s.id, kind="taken_up",
                           text=f"已列为议题：{topic.title}")
    session.flush()

    if len(suggestions) == 1:
        origin = f"由群众建议“{main.title}”列为议题"
    else:
        origin = f"由{len(suggestions)}条相似建议合并列为议题"
    trail.add_timeline(session, topic_id=topic.id, kind="topic_created",
                       text=f"{origin}，召集人正在准备报送审核")

    # Followers of every merged suggestion follow the topic; so do the proposers (the people
    # who most want to know). `follow` is idempotent, so overlaps count once.
    trail.copy_followers(session, from_suggestion_ids=ids, to_topic_id=topic.id)
    for pid in dict.fromkeys(s.proposer_id for s in suggestions):
        trail.follow(session, person_id=pid, topic_id=topic.id)

    merged = f"（由{len(suggestions)}条相似建议合并）" if len(suggestions) > 1 else ""
    trail.notify_followers(
        session, topic_id=topic.id, subject=f"topic:{topic.id}:created",
        title="建议已列为议题",
        body=f"您关注的建议已列为议题“{topic.title}”{merged}，接下来将按程序报送审核，"
             f"进展会继续通知您。",
        link=topic_link(topic.id), exclude=[actor.id])
    return topic, suggestions


def _managed_suggestion(session: Session, suggestion_id: int, actor: Person) -> Suggestion:
    """The suggestion, if the actor manages its platform; otherwise "not found" (no IDOR)."""
    row = session.execute(
        select(Suggestion, Platform, Region.path)
        .join(Platform, Platform.id == Suggestion.platform_id)
        .outerjoin(Region, Region.id == Platform.region_id)
        .where(Suggestion.id == suggestion_id)
        .with_for_update(of=Suggestion).execution_options(populate_existing=True)).first()
    if row is None or not reach(session, actor, MANAGE).covers_platform(row[1], row[2] or ""):
        raise NotFound("该建议不存在", code="suggestion_not_found")
    return row[0]


def decline_suggestion(session: Session, *, actor: Person, suggestion_id: int,
                       reason: str) -> Suggestion:
    """Decline an open suggestion with a reason. The proposer is told the reason through the
    outbox; followers see it on the public timeline and get a notice too."""
    reason = (reason or "").strip()
    if not DECLINE_REASON_MIN <= len(reason) <= DECLINE_REASON_MAX:
        raise ValidationFailed(
            f"请填写暂不采纳的理由（{DECLINE_REASON_MIN}至{DECLINE_REASON_MAX}字）",
            code="reason_required")
    s = _managed_suggestion(session, suggestion_id, actor)
    _refuse_unless_open(s, "暂不采纳")
    before = snapshot(s, ["state", "decline_reason"])
    s.state = SuggestionState.declined
    s.decline_reason = reason
    s.last_activity_at = utcnow()
    session.flush()
    record(session, actor_id=actor.id, action="suggestion.decline", object_type="suggestion",
           object_id=s.id, before=before, after={"state": s.state.value, "decline_reason": reason})
    trail.add_timeline(session, suggestion_id=s.id, kind="declined",
                       text=f"召集人暂不采纳此建议。理由：{reason}")

    subject = f"suggestion:{s.id}:declined"
    title = "建议暂不采纳"
    # The proposer is told whether or not they still follow it (the same dedupe key as the
    # follower notice, so nobody gets it twice).
    fan_out(session, kind="status_change", subject=subject, recipient_ids=[s.proposer_id],
            title=title, body=f"您提出的建议“{s.title}”暂不采纳。理由：{reason}",
            link=suggestion_link(s.id))
    trail.notify_followers(
        session, suggestion_id=s.id, subject=subject, title=title,
        body=f"您关注的建议“{s.title}”暂不采纳。理由：{reason}",
        link=suggestion_link(s.id), exclude=[actor.id, s.proposer_id])
    return s
