"""Moderation of held content: the queue and the decisions of convenors (their platform) and
CPPCC staff / admins (their reach), permission action ``content.moderate``.

- The queue: held suggestions; held comments and visible comments that have been reported —
  oldest first, keyset on id, limited to the moderator's reach (optionally one platform).
- A held suggestion: ``approve`` → ``open`` (public; the proposer is told, a public timeline
  entry "published" is written) or ``reject`` → ``rejected`` (the note is required and told to
  the proposer). Notices go through the outbox in the same transaction (kind status_change).
- A comment: ``approve`` (held / hidden → visible; on a visible reported comment: dismiss the
  reports), ``hide`` (visible / held → hidden: taken down), ``reject`` (held → rejected: never
  shown). comment_count follows (see comments.py).
- The same decision again is a no-op (200, nothing written); a decision that does not fit the
  current state is 409. Objects outside the moderator's reach are 404 (never 403), like
  everywhere else. Every decision is audited with before / after.
Services never commit; the caller commits once.
"""
from __future__ import annotations

from typing import Literal

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from ..audit.services import record, snapshot
from ..auth.permissions import Reach, get_platform_or_404, reach
from ..crypto import mask_name
from ..db import utcnow
from ..errors import Conflict, NotFound, ValidationFailed
from ..notify.services import dedupe_key, enqueue_notice
from ..org.models import Person, Platform, Region
from ..topics.models import CATEGORY_LABELS, SOURCE_LABELS
from .comments import AUDIT_FIELDS, COMMENT_STATE_LABELS, lock_thread, set_comment_state
from .models import (
    SUGGESTION_STATE_LABELS, Attachment, Comment, CommentReport, CommentState, Suggestion,
    SuggestionState,
)
from .uploads import public_url

MODERATE = "content.moderate"
NOTE_MAX = 500
PAGE_MAX = 100
REASONS_SHOWN = 5
PUBLISHED_TEXT = "建议已通过审核并公开，欢迎支持和评论"

Kind = Literal["suggestion", "comment"]
CommentDecision = Literal["approve", "hide", "reject"]
SuggestionDecision = Literal["approve", "reject"]


def suggestion_link(suggestion_id: int) -> str:
    # The same mini-program page as app/suggestions/takeup.py uses.
    return f"/pages/suggestion/suggestion?id={suggestion_id}"


def _clean_note(note: str | None) -> str | None:
    note = (note or "").strip() or None
    if note is not None and len(note) > NOTE_MAX:
        raise ValidationFailed(f"说明最多 {NOTE_MAX} 字", code="note_too_long")
    return note


def _covers(session: Session, moderator: Person, platform_id: int) -> bool:
    row = session.execute(select(Platform, Region.path)
                          .join(Region, Region.id == Platform.region_id)
                          .where(Platform.id == platform_id)).first()
    return row is not None and reach(session, moderator, MODERATE).covers_platform(*row)


# --- the queue -----------------------------------------------------------------------------------

def _scoped(stmt, r: Reach, platform_id: int | None):
    stmt = stmt.join(Platform, Platform.id == Suggestion.platform_id).join(
        Region, Region.id == Platform.region_id).where(r.platform_clause(Platform.id, Region.path))
    if platform_id is not None:
        stmt = stmt.where(Platform.id == platform_id)
    return stmt


def _comment_queue_clause():
    return or_(Comment.state == CommentState.held,
               and_(Comment.state == CommentState.visible, Comment.report_count > 0))


def _decode_cursor(cursor: str | None) -> int | None:
    if cursor in (None, ""):
        return None
    if not cursor.isdigit() or len(cursor) > 18:
        raise ValidationFailed("翻页参数无效，请从第一页重新加载", code="invalid_cursor")
    return int(cursor)


def moderation_queue(session: Session, *, moderator: Person, kind: Kind = "comment",
                     platform_id: int | None = None, cursor: str | None = None,
                     limit: int = 20) -> dict:
    """Items waiting for a decision within the moderator's reach, oldest first, plus the
    number waiting of each kind (for the tabs). A fixed number of statements per page."""
    limit = max(1, min(PAGE_MAX, limit))
    after = _decode_cursor(cursor)
    if platform_id is not None:
        get_platform_or_404(session, platform_id, moderator, MODERATE)  # 404 outside reach
    r = reach(session, moderator, MODERATE)

    counts = {
        "suggestion": session.scalar(_scoped(
            select(func.count(Suggestion.id)).where(Suggestion.state == SuggestionState.held),
            r, platform_id)) or 0,
        "comment": session.scalar(_scoped(
            select(func.count(Comment.id)).join(Suggestion, Suggestion.id == Comment.suggestion_id)
            .where(_comment_queue_clause()), r, platform_id)) or 0,
    }
    if kind == "suggestion":
        items, more = _suggestion_items(session, r, platform_id, after, limit)
    else:
        items, more = _comment_items(session, r, platform_id, after, limit)
    return {"kind": kind, "counts": counts, "items": items,
            "next_cursor": str(items[-1]["id"]) if more and items else None}


def _suggestion_items(session, r, platform_id, after, limit):
    stmt = _scoped(select(Suggestion, Platform.name.label("platform_name"),
                          Person.name.label("proposer_name"))
                   .join(Person, Person.id == Suggestion.proposer_id)
                   .where(Suggestion.state == SuggestionState.held), r, platform_id)
    if after is not None:
        stmt = stmt.where(Suggestion.id > after)
    rows = session.execute(stmt.order_by(Suggestion.id).limit(limit + 1)).all()
    more = len(rows) > limit
    rows = rows[:limit]
    photos: dict[int, list[str]] = {}
    if rows:
        for sid, key in session.execute(
                select(Attachment.suggestion_id, Attachment.storage_key)
                .where(Attachment.suggestion_id.in_([row[0].id for row in rows]))
                .order_by(Attachment.id)):
            photos.setdefault(sid, []).append(public_url(key))
    items = [{
        "kind": "suggestion", "id": s.id, "platform_id": s.platform_id,
        "platform_name": platform_name, "title": s.title, "description": s.description,
        "category": s.category.value, "category_label": CATEGORY_LABELS[s.category],
        "source": s.source.value, "source_label": SOURCE_LABELS[s.source],
        "address": s.address, "proposer": mask_name(proposer_name),
        "state": s.state.value, "state_label": SUGGESTION_STATE_LABELS[s.state],
        "moderation_note": s.moderation_note, "attachments": photos.get(s.id, []),
        "created_at": s.created_at,
    } for s, platform_name, proposer_name in rows]
    return items, more


def _comment_items(session, r, platform_id, after, limit):
    stmt = _scoped(select(Comment, Suggestion.title.label("suggestion_title"),
                          Suggestion.platform_id, Platform.name.label("platform_name"),
                          Person.name.label("author_name"))
                   .join(Suggestion, Suggestion.id == Comment.suggestion_id)
                   .join(Person, Person.id == Comment.author_id)
                   .where(_comment_queue_clause()), r, platform_id)
    if after is not None:
        stmt = stmt.where(Comment.id > after)
    rows = session.execute(stmt.order_by(Comment.id).limit(limit + 1)).all()
    more = len(rows) > limit
    rows = rows[:limit]
    reasons: dict[int, list[str]] = {}
    if rows:
        ranked = (select(CommentReport.comment_id, CommentReport.reason,
                         func.row_number().over(partition_by=CommentReport.comment_id,
                                                order_by=CommentReport.id.desc()).label("rn"))
                  .where(CommentReport.comment_id.in_([row[0].id for row in rows]),
                         CommentReport.reason.is_not(None))
                  .subquery())
        for cid, reason, _ in session.execute(
                select(ranked).where(ranked.c.rn <= REASONS_SHOWN).order_by(ranked.c.rn)):
            reasons.setdefault(cid, []).append(reason)
    items = [{
        "kind": "comment", "id": c.id, "platform_id": pid, "platform_name": platform_name,
        "suggestion_id": c.suggestion_id, "suggestion_title": title, "parent_id": c.parent_id,
        "body": c.body, "author": mask_name(author_name), "state": c.state.value,
        "state_label": COMMENT_STATE_LABELS[c.state], "report_count": c.report_count,
        "report_reasons": reasons.get(c.id, []), "moderation_note": c.moderation_note,
        "created_at": c.created_at,
    } for c, title, pid, platform_name, author_name in rows]
    return items, more


# --- decisions on comments -----------------------------------------------------------------------

# decision → {current state: new state}; the same state again is a no-op.
_COMMENT_MOVES: dict[str, dict[CommentState, CommentState]] = {
    "approve": {CommentState.held: CommentState.visible,
                CommentState.hidden: CommentState.visible,
                CommentState.visible: CommentState.visible},
    "hide": {CommentState.visible: CommentState.hidden, CommentState.held: CommentState.hidden,
             CommentState.hidden: CommentState.hidden},
    "reject": {CommentState.held: CommentState.rejected,
               CommentState.rejected: CommentState.rejected},
}
_COMMENT_REFUSALS = {
    ("approve", CommentState.rejected): "该评论已被驳回，不能再公开",
    ("hide", CommentState.rejected): "该评论已被驳回，无需隐藏",
    ("reject", CommentState.visible): "该评论已公开过，请选择“隐藏”",
    ("reject", CommentState.hidden): "该评论已被隐藏",
}


def moderate_comment(session: Session, *, moderator: Person, comment_id: int,
                     decision: CommentDecision, note: str | None = None) -> tuple[Comment, bool]:
    """Decide on a comment. Returns (comment, changed)."""
    if decision not in _COMMENT_MOVES:
        raise ValidationFailed("处理方式只能是通过、隐藏或驳回", code="invalid_decision")
    note = _clean_note(note)
    platform_id = session.scalar(select(Suggestion.platform_id).join(
        Comment, Comment.suggestion_id == Suggestion.id).where(Comment.id == comment_id))
    if platform_id is None or not _covers(session, moderator, platform_id):
        raise NotFound("该评论不存在", code="comment_not_found")

    comment, root = lock_thread(session, comment_id)
    new_state = _COMMENT_MOVES[decision].get(comment.state)
    if new_state is None:
        raise Conflict(_COMMENT_REFUSALS.get((decision, comment.state), "该评论的状态已变化"),
                       code="comment_state_conflict")
    # Approving a visible comment dismisses its reports; otherwise the same state is a no-op.
    if new_state is comment.state and not (decision == "approve" and comment.report_count):
        return comment, False

    before = snapshot(comment, AUDIT_FIELDS)
    delta = set_comment_state(session, comment, root, new_state)
    if decision == "approve":
        # Cleared by a person: it takes that many *new* reports to hold it again.
        comment.report_count = 0
    comment.moderated_by_id = moderator.id
    comment.moderated_at = utcnow()
    comment.moderation_note = note
    session.flush()
    record(session, actor_id=moderator.id, action=f"comment.{decision}", object_type="comment",
           object_id=comment.id, before=before,
           after={**snapshot(comment, AUDIT_FIELDS), "comment_count_delta": delta})
    return comment, True


# --- decisions on suggestions --------------------------------------------------------------------

_SUGGESTION_MOVES = {"approve": SuggestionState.open, "reject": SuggestionState.rejected}


def moderate_suggestion(session: Session, *, moderator: Person, suggestion_id: int,
                        decision: SuggestionDecision, note: str | None = None
                        ) -> tuple[Suggestion, bool]:
    """Approve (→ open, public) or reject (→ rejected, note required) a held suggestion; the
    proposer is told through the outbox. Returns (suggestion, changed)."""
    if decision not in _SUGGESTION_MOVES:
        raise ValidationFailed("处理方式只能是通过或驳回", code="invalid_decision")
    note = _clean_note(note)
    if decision == "reject" and not note:
        raise ValidationFailed("请填写未通过审核的原因，将告知提出人", code="note_required")
    platform_id = session.scalar(select(Suggestion.platform_id)
                                 .where(Suggestion.id == suggestion_id))
    if platform_id is None or not _covers(session, moderator, platform_id):
        raise NotFound("该建议不存在", code="suggestion_not_found")

    sug = session.scalar(select(Suggestion).where(Suggestion.id == suggestion_id)
                         .with_for_update().execution_options(populate_existing=True))
    target = _SUGGESTION_MOVES[decision]
    if sug.state is target:
        return sug, False  # a repeated tap: nothing changes, nobody is told twice
    if sug.state is not SuggestionState.held:
        raise Conflict(f"该建议当前状态为“{SUGGESTION_STATE_LABELS[sug.state]}”，不在待审核状态",
                       code="suggestion_not_held")

    fields = ["state", "moderation_note"]
    before = snapshot(sug, fields)
    sug.state = target
    sug.moderation_note = note
    if target is SuggestionState.open:
        sug.last_activity_at = utcnow()
        title, body = "您的建议已公开", f"您提交的建议“{sug.title}”已通过审核，现已公开征集意见。"
    else:
        title, body = "您的建议未通过审核", f"您提交的建议“{sug.title}”未通过审核。原因：{note}"
    session.flush()
    if target is SuggestionState.open:
        from .trail import add_timeline  # helper D's public trail

        add_timeline(session, suggestion_id=sug.id, kind="published", text=PUBLISHED_TEXT)
    enqueue_notice(session, kind="status_change", recipient_id=sug.proposer_id, title=title,
                   body=body, link=suggestion_link(sug.id),
                   dedupe_key=dedupe_key("status_change", f"suggestion:{sug.id}:moderation",
                                         sug.proposer_id, decision))
    record(session, actor_id=moderator.id, action=f"suggestion.moderate.{decision}",
           object_type="suggestion", object_id=sug.id, before=before,
           after=snapshot(sug, fields))
    return sug, True
