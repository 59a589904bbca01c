"""Comments on suggestions: post (replies one level deep), the public thread view, reports and
the automatic hold after N reports. Services never commit; the caller commits once.

Rules decided here (docs/moderation.md explains them to people):

- **Where**: comments are read on public suggestions (open / taken up / declined, active
  platform) and *written* only while the suggestion is ``open`` (still collecting opinions). Once
  it is taken up as a topic or declined, the thread is read-only (409 ``comments_closed``): the
  discussion continues on the topic, and a decline is explained by its reason. Existing comments
  stay readable and reportable. Held or rejected suggestions: 404 for everyone here.
- **One level of replies**: a reply to a reply is attached to that reply's top-level comment
  (the client may show "回复 张**"); the parent must be publicly visible, on the same suggestion.
- **Content safety** (issue item 2) through ``safety.check_text``: ``risky`` → 422, nothing
  stored; ``review`` or a failing check → stored as ``held`` (only the author sees it, marked
  审核中); ``pass`` → ``visible``.
- **comment_count counts what the public sees**: a comment counts when it is ``visible`` and,
  for a reply, its top-level comment is ``visible`` too (hiding a top-level comment hides its
  thread). Every change moves the counter with one atomic ``UPDATE … SET comment_count =
  comment_count + :delta`` in the same transaction as the state change, under a lock on the
  thread's top-level row (PostgreSQL ``FOR UPDATE``; SQLite serialises writers with ``BEGIN
  IMMEDIATE``), so concurrent reports, replies and moderation never count twice.
  ``recount_comments`` computes the same number from the rows (tests, repair).
- **Reports**: one per person per comment (UNIQUE constraint; a second report is a no-op). When
  a visible comment reaches ``comment_report_threshold`` reports (config, default 3) it is held
  automatically. A moderator's approval clears the count (the old reporters cannot report it
  again; that many *new* reporters hold it again).
"""
from __future__ import annotations

from dataclasses import dataclass

from flask import current_app, has_app_context
from sqlalchemy import and_, false, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, aliased

from ..audit.services import record, snapshot
from ..crypto import mask_name
from ..db import utcnow
from ..errors import Conflict, NotFound, ValidationFailed
from ..org.models import Person, Platform
from . import safety
from .models import Comment, CommentReport, CommentState, Suggestion, SuggestionState
from .schemas import clean_text

BODY_MIN, BODY_MAX = 1, 500
REASON_MAX = 200
PAGE_MAX = 50
REPLIES_PREVIEW = 20  # replies shown under each top-level comment in the thread view
DEFAULT_REPORT_THRESHOLD = 3

PUBLIC_SUGGESTION_STATES = frozenset({SuggestionState.open, SuggestionState.taken_up,
                                      SuggestionState.declined})
COMMENTABLE_STATES = frozenset({SuggestionState.open})

COMMENT_STATE_LABELS = {
    CommentState.visible: "已公开", CommentState.held: "审核中",
    CommentState.hidden: "已隐藏", CommentState.rejected: "未通过审核",
}
CONVENOR_BADGE = "召集人"

AUDIT_FIELDS = ["suggestion_id", "parent_id", "state", "report_count", "moderation_note",
                 "moderated_by_id"]


def _invalid(code: str, message: str) -> ValidationFailed:
    return ValidationFailed(message, code=code)


def _suggestion_not_found() -> NotFound:
    return NotFound("该建议不存在", code="suggestion_not_found")


def _comment_not_found() -> NotFound:
    return NotFound("该评论不存在或已被隐藏", code="comment_not_found")


def report_threshold() -> int:
    if has_app_context():
        value = getattr(current_app.config["APP"], "comment_report_threshold",
                        DEFAULT_REPORT_THRESHOLD)
    else:
        value = DEFAULT_REPORT_THRESHOLD
    return max(1, int(value))  # 0 would hold every comment on its first report


def clean_body(body: str | None) -> str:
    """The comment text rules (also for callers that do not come through the HTTP schema)."""
    try:
        text = clean_text(body, multiline=True)
    except ValueError as exc:
        raise _invalid("text_invalid", str(exc)) from None
    if not BODY_MIN <= len(text) <= BODY_MAX:
        raise _invalid("comment_length", f"评论应为 {BODY_MIN}–{BODY_MAX} 个字")
    return text


# --- the counter ---------------------------------------------------------------------------------

def _move_count(session: Session, suggestion_id: int, delta: int) -> None:
    """One atomic UPDATE in the caller's transaction (never read-modify-write). A newly shown
    comment also makes the suggestion "recently active" (the list's `active` sort)."""
    if not delta:
        return
    values = {"comment_count": Suggestion.comment_count + delta}
    if delta > 0:
        values["last_activity_at"] = utcnow()
    session.execute(update(Suggestion).where(Suggestion.id == suggestion_id).values(**values)
                    .execution_options(synchronize_session="fetch"))


def recount_comments(session: Session, suggestion_id: int) -> int:
    """What comment_count must be, from the rows: visible comments whose top-level comment (if
    they are a reply) is visible too."""
    parent = aliased(Comment)
    return session.scalar(
        select(func.count(Comment.id))
        .outerjoin(parent, parent.id == Comment.parent_id)
        .where(Comment.suggestion_id == suggestion_id, Comment.state == CommentState.visible,
               or_(Comment.parent_id.is_(None), parent.state == CommentState.visible))) or 0


def _visible_replies(session: Session, root_id: int) -> int:
    return session.scalar(select(func.count(Comment.id)).where(
        Comment.parent_id == root_id, Comment.state == CommentState.visible)) or 0


def _locked(session: Session, comment_id: int) -> Comment | None:
    return session.scalar(select(Comment).where(Comment.id == comment_id).with_for_update()
                          .execution_options(populate_existing=True))


def lock_thread(session: Session, comment_id: int) -> tuple[Comment, Comment]:
    """(comment, its top-level comment), both locked, top-level first — every state change of
    a comment takes the locks in this order, so two of them never deadlock and the counter
    arithmetic below sees settled states. `parent_id` never changes, so it is read unlocked."""
    found = session.execute(select(Comment.parent_id).where(Comment.id == comment_id)).first()
    if found is None:
        raise _comment_not_found()
    parent_id = found.parent_id
    root = _locked(session, parent_id or comment_id)
    comment = root if parent_id is None else _locked(session, comment_id)
    return comment, root


def set_comment_state(session: Session, comment: Comment, root: Comment,
                      new_state: CommentState) -> int:
    """Change a comment's state (thread locked by `lock_thread`) and move the suggestion's
    comment_count by what the public now sees more or less. Returns that delta."""
    old_state = comment.state
    if old_state is new_state:
        return 0
    if comment.parent_id is None:
        was, now = old_state is CommentState.visible, new_state is CommentState.visible
        delta = 0
        if was != now:
            # The whole thread appears or disappears with its top-level comment.
            weight = 1 + _visible_replies(session, comment.id)
            delta = weight if now else -weight
    else:
        shown = root.state is CommentState.visible
        delta = (int(shown and new_state is CommentState.visible)
                 - int(shown and old_state is CommentState.visible))
    comment.state = new_state
    session.flush()
    _move_count(session, comment.suggestion_id, delta)
    return delta


# --- loaders -------------------------------------------------------------------------------------

def get_public_suggestion_or_404(session: Session, suggestion_id: int) -> Suggestion:
    """A suggestion the public may read (and comment on, if open): public state, active
    platform. Held / rejected suggestions are 404 here, even for their proposer."""
    row = session.execute(
        select(Suggestion, Platform.is_active)
        .join(Platform, Platform.id == Suggestion.platform_id)
        .where(Suggestion.id == suggestion_id)).first()
    if row is None or row[0].state not in PUBLIC_SUGGESTION_STATES or not row[1]:
        raise _suggestion_not_found()
    return row[0]


def get_public_comment_or_404(session: Session, comment_id: int) -> Comment:
    """A comment the public sees: visible, its top-level comment visible, on a public
    suggestion of an active platform."""
    parent = aliased(Comment)
    comment = session.scalar(
        select(Comment)
        .join(Suggestion, Suggestion.id == Comment.suggestion_id)
        .join(Platform, Platform.id == Suggestion.platform_id)
        .outerjoin(parent, parent.id == Comment.parent_id)
        .where(Comment.id == comment_id, Comment.state == CommentState.visible,
               or_(Comment.parent_id.is_(None), parent.state == CommentState.visible),
               Suggestion.state.in_(PUBLIC_SUGGESTION_STATES), Platform.is_active.is_(True)))
    if comment is None:
        raise _comment_not_found()
    return comment


# --- posting -------------------------------------------------------------------------------------

def post_comment(session: Session, *, author: Person, suggestion_id: int, body: str,
                 parent_id: int | None = None) -> tuple[Comment, safety.SafetyVerdict]:
    """A comment (or a one-level reply) on an open suggestion, checked for content safety.

    `risky` → ContentRisky (422), nothing stored; `review` or a failing check → `held`;
    `pass` → `visible` and counted. The author follows the suggestion either way."""
    text = clean_body(body)
    suggestion = get_public_suggestion_or_404(session, suggestion_id)
    if suggestion.state not in COMMENTABLE_STATES:
        raise Conflict("该建议已结束讨论，不能再发表评论", code="comments_closed")
    root_id = None
    if parent_id is not None:
        parent = get_public_comment_or_404(session, parent_id)
        if parent.suggestion_id != suggestion.id:
            raise _comment_not_found()
        # One level deep: a reply to a reply joins its top-level comment's thread.
        root_id = parent.parent_id or parent.id

    # Last of the checks, because it calls WeChat (and before any row lock is taken).
    verdict = safety.check_text(session, person=author, texts=[text],
                                scene=safety.SCENE_COMMENT).refuse_if_risky()
    visible = verdict.verdict == safety.PASS

    if root_id is not None:
        root = _locked(session, root_id)
        if root is None or root.state is not CommentState.visible:
            raise _comment_not_found()  # hidden meanwhile
    comment = Comment(suggestion_id=suggestion.id, author_id=author.id, parent_id=root_id,
                      body=text, state=CommentState.visible if visible else CommentState.held,
                      report_count=0, moderation_note=None if visible else verdict.note)
    session.add(comment)
    session.flush()
    if visible:
        _move_count(session, suggestion.id, +1)
    record(session, actor_id=author.id, action="comment.create", object_type="comment",
           object_id=comment.id,
           after={**snapshot(comment, ["suggestion_id", "parent_id", "state"]),
                  "safety": verdict.verdict, "safety_wechat": verdict.wechat,
                  "safety_local": verdict.local})
    from .trail import follow  # helper D's service: idempotent, keeps follower_count exact

    follow(session, person_id=author.id, suggestion_id=suggestion.id)
    return comment, verdict


# --- reports -------------------------------------------------------------------------------------

def _insert_report(session: Session, values: dict) -> bool:
    """INSERT … ON CONFLICT (comment_id, reporter_id) DO NOTHING; True if a row was inserted."""
    table = CommentReport.__table__
    dialect = session.get_bind().dialect.name
    if dialect in ("postgresql", "sqlite"):
        insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        stmt = insert(table).values(**values).on_conflict_do_nothing(
            index_elements=["comment_id", "reporter_id"]).returning(table.c.id)
        return session.execute(stmt).first() is not None
    try:  # pragma: no cover - portable fallback
        with session.begin_nested():
            session.execute(table.insert().values(**values))
        return True
    except IntegrityError:  # pragma: no cover
        return False


@dataclass(frozen=True)
class ReportOutcome:
    created: bool        # False: this person had already reported it (nothing changed)
    comment: Comment
    auto_held: bool      # this report made the comment reach the threshold


def report_comment(session: Session, *, reporter: Person, comment_id: int,
                   reason: str | None = None) -> ReportOutcome:
    """Report a publicly visible comment. Once per person (a second time is a no-op); at the
    threshold the comment is held for moderation and leaves the public count."""
    comment = get_public_comment_or_404(session, comment_id)
    if comment.author_id == reporter.id:
        raise _invalid("cannot_report_own_comment", "不能举报自己的评论")
    try:
        reason = clean_text(reason) or None
    except ValueError as exc:
        raise _invalid("text_invalid", str(exc)) from None
    if reason is not None and len(reason) > REASON_MAX:
        raise _invalid("reason_too_long", f"举报理由最多 {REASON_MAX} 字")

    comment, root = lock_thread(session, comment_id)
    if comment.state is not CommentState.visible or root.state is not CommentState.visible:
        raise _comment_not_found()  # held or hidden while we were waiting for the lock
    if not _insert_report(session, {"comment_id": comment.id, "reporter_id": reporter.id,
                                    "reason": reason, "created_at": utcnow()}):
        return ReportOutcome(created=False, comment=comment, auto_held=False)
    session.execute(update(Comment).where(Comment.id == comment.id)
                    .values(report_count=Comment.report_count + 1)
                    .execution_options(synchronize_session=False))
    session.refresh(comment, ["report_count"])
    record(session, actor_id=reporter.id, action="comment.report", object_type="comment",
           object_id=comment.id, after={"reason": reason, "report_count": comment.report_count})

    threshold = report_threshold()
    auto_held = False
    if comment.state is CommentState.visible and comment.report_count >= threshold:
        before = snapshot(comment, AUDIT_FIELDS)
        delta = set_comment_state(session, comment, root, CommentState.held)
        comment.moderation_note = f"被 {comment.report_count} 人举报，已自动转人工审核"
        session.flush()
        # The system acted (actor None); the reports that triggered it are audited above.
        record(session, actor_id=None, action="comment.auto_hold", object_type="comment",
               object_id=comment.id, before=before,
               after={**snapshot(comment, AUDIT_FIELDS), "threshold": threshold,
                      "comment_count_delta": delta})
        auto_held = True
    return ReportOutcome(created=True, comment=comment, auto_held=auto_held)


# --- the public thread view ----------------------------------------------------------------------

def _shown_clause(viewer_id: int | None):
    """Visible comments, plus the viewer's own held ones (marked 审核中)."""
    own_held = (and_(Comment.author_id == viewer_id, Comment.state == CommentState.held)
                if viewer_id is not None else false())
    return or_(Comment.state == CommentState.visible, own_held)


def _item(row, *, convenor_id: int | None, viewer_id: int | None) -> dict:
    held = row.state is CommentState.held
    return {
        "id": row.id, "parent_id": row.parent_id, "body": row.body,
        "author": mask_name(row.author_name),
        "author_badge": CONVENOR_BADGE if convenor_id and row.author_id == convenor_id else None,
        "is_mine": None if viewer_id is None else row.author_id == viewer_id,
        "state": row.state.value, "state_label": COMMENT_STATE_LABELS[row.state],
        "notice": safety.HELD_MESSAGE if held else None,
        "created_at": row.created_at,
    }


def _decode_cursor(cursor: str | None) -> int | None:
    if cursor in (None, ""):
        return None
    if not cursor.isdigit() or len(cursor) > 18:
        raise ValidationFailed("翻页参数无效，请从第一页重新加载", code="invalid_cursor")
    return int(cursor)


def _comment_columns():
    return (Comment.id, Comment.parent_id, Comment.body, Comment.state, Comment.author_id,
            Comment.created_at, Person.name.label("author_name"))


def list_comments(session: Session, *, suggestion_id: int, viewer_id: int | None = None,
                  cursor: str | None = None, limit: int = 20) -> dict:
    """Top-level comments newest first (keyset on id), each with its first replies (oldest
    first) and how many there are. Three statements whatever the page size: the suggestion,
    the page, the replies of the page (a window function caps them per thread)."""
    limit = max(1, min(PAGE_MAX, limit))
    before = _decode_cursor(cursor)
    head = session.execute(
        select(Suggestion.state, Suggestion.comment_count, Platform.is_active,
               Platform.convenor_id)
        .join(Platform, Platform.id == Suggestion.platform_id)
        .where(Suggestion.id == suggestion_id)).first()
    if head is None or head.state not in PUBLIC_SUGGESTION_STATES or not head.is_active:
        raise _suggestion_not_found()
    shown = _shown_clause(viewer_id)

    stmt = (select(*_comment_columns()).join(Person, Person.id == Comment.author_id)
            .where(Comment.suggestion_id == suggestion_id, Comment.parent_id.is_(None), shown))
    if before is not None:
        stmt = stmt.where(Comment.id < before)
    rows = session.execute(stmt.order_by(Comment.id.desc()).limit(limit + 1)).all()
    more = len(rows) > limit
    rows = rows[:limit]

    replies: dict[int, list] = {row.id: [] for row in rows}
    totals: dict[int, int] = {}
    if rows:
        ranked = (
            select(*_comment_columns(),
                   func.row_number().over(partition_by=Comment.parent_id,
                                          order_by=Comment.id).label("rn"),
                   func.count(Comment.id).over(partition_by=Comment.parent_id).label("total"))
            .join(Person, Person.id == Comment.author_id)
            .where(Comment.parent_id.in_(list(replies)), shown)
            .subquery())
        for r in session.execute(select(ranked).where(ranked.c.rn <= REPLIES_PREVIEW)
                                 .order_by(ranked.c.parent_id, ranked.c.id)):
            replies[r.parent_id].append(r)
            totals[r.parent_id] = r.total

    convenor_id = head.convenor_id
    items = []
    for row in rows:
        item = _item(row, convenor_id=convenor_id, viewer_id=viewer_id)
        item["replies"] = [_item(r, convenor_id=convenor_id, viewer_id=viewer_id)
                           for r in replies[row.id]]
        item["reply_count"] = totals.get(row.id, 0)
        item["has_more_replies"] = item["reply_count"] > len(item["replies"])
        items.append(item)
    return {
        "suggestion_id": suggestion_id, "comment_count": head.comment_count,
        "is_open": head.state in COMMENTABLE_STATES,
        "items": items, "next_cursor": str(rows[-1].id) if more and rows else None,
    }


def list_replies(session: Session, *, comment_id: int, viewer_id: int | None = None,
                 cursor: str | None = None, limit: int = 20) -> dict:
    """The rest of one thread: its replies oldest first, keyset on id (`cursor` = last id)."""
    limit = max(1, min(PAGE_MAX, limit))
    after = _decode_cursor(cursor)
    head = session.execute(
        select(Comment.id, Comment.parent_id, Comment.state, Comment.author_id,
               Suggestion.state.label("suggestion_state"), Platform.is_active,
               Platform.convenor_id)
        .join(Suggestion, Suggestion.id == Comment.suggestion_id)
        .join(Platform, Platform.id == Suggestion.platform_id)
        .where(Comment.id == comment_id)).first()
    own_held = (head is not None and head.state is CommentState.held
                and viewer_id is not None and head.author_id == viewer_id)
    if (head is None or head.parent_id is not None or not head.is_active
            or head.suggestion_state not in PUBLIC_SUGGESTION_STATES
            or not (head.state is CommentState.visible or own_held)):
        raise _comment_not_found()
    stmt = (select(*_comment_columns()).join(Person, Person.id == Comment.author_id)
            .where(Comment.parent_id == comment_id, _shown_clause(viewer_id)))
    if after is not None:
        stmt = stmt.where(Comment.id > after)
    rows = session.execute(stmt.order_by(Comment.id).limit(limit + 1)).all()
    more = len(rows) > limit
    rows = rows[:limit]
    return {
        "comment_id": comment_id,
        "items": [_item(r, convenor_id=head.convenor_id, viewer_id=viewer_id) for r in rows],
        "next_cursor": str(rows[-1].id) if more and rows else None,
    }


def comment_view(session: Session, comment: Comment, *, viewer_id: int | None) -> dict:
    """One comment as its author sees it right after posting."""
    row = session.execute(select(*_comment_columns(), Platform.convenor_id)
                          .join(Person, Person.id == Comment.author_id)
                          .join(Suggestion, Suggestion.id == Comment.suggestion_id)
                          .join(Platform, Platform.id == Suggestion.platform_id)
                          .where(Comment.id == comment.id)).one()
    return _item(row, convenor_id=row.convenor_id, viewer_id=viewer_id)
