"""Followers and the public trail of suggestions and topics.

Small services other features call (they never commit; the caller commits once):

    follow(session, person_id=p.id, suggestion_id=s.id)          -> True if newly followed
    unfollow(session, person_id=p.id, topic_id=t.id)             -> True if a follow was removed
    follower_ids(session, suggestion_id=s.id)                    -> [person ids]
    add_timeline(session, suggestion_id=s.id, kind="taken_up", text="已列为议题：……")
    notify_followers(session, topic_id=t.id, subject="topic:7:approved:1",
                     title="议题已审定", body="……", link="/pages/topic/topic?id=7")

Following is idempotent (INSERT … ON CONFLICT DO NOTHING on the UNIQUE (subject, person)
constraints), and `Suggestion.follower_count` moves with a single atomic UPDATE only when a row
was really inserted or deleted, so two concurrent taps never count twice.

The timeline is public (residents read it in the mini-program): its text must never carry
personal data — no names, phones, openids; `add_timeline` blanks out anything that looks like
a mobile or ID-card number as a last line of defence.

Follower notices go through the outbox (app.notify.services.fan_out) with dedupe_key =
kind + subject + recipient, so a retried request or a replayed job never sends a notice twice.
"""
from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from ..crypto import mask_numbers
from ..db import insert_ignoring_duplicate, utcnow
from ..notify.models import NOTICE_KINDS, OutboxMessage
from ..notify.services import fan_out
from .models import Follow, Suggestion, TimelineEntry

# Timeline entry kinds (a stable code; the Chinese text is in the entry itself).
TIMELINE_KINDS = frozenset({
    "published",        # the suggestion became public
    "taken_up",         # merged into a topic (on the suggestion and on the topic)
    "declined",         # the convenor declined it, with the reason
    "topic_created",    # a topic was drafted from suggestions
    "submitted",        # D8: the topic entered its approval chain
    "step_passed",      # D8: one step of the chain was passed
    "returned",         # D8: returned for revision (the reason stays internal)
    "approved",         # D8: the whole chain passed
    "withdrawn",        # the convenor gave the topic up
    "item_decided",     # D19/D22/D23: a body decided one opinion item (app/followup/decisions)
    "item_assigned",    # D20: an adopted item was given to a lead department with a due date
    "item_done",        # D21: the lead department completed an item, with its result
    "note",             # any other public progress note
    "consultation_held",  # D14: the consultation on the topic took place
    "list_routed",      # D17/D18: its opinion list was sent to the bodies concerned
    "feedback",         # D21: every item settled, the feedback list compiled
})

TIMELINE_TEXT_MAX = 500



def _subject(suggestion_id: int | None, topic_id: int | None) -> tuple[str, int]:
    if (suggestion_id is None) == (topic_id is None):
        raise ValueError("give exactly one of suggestion_id / topic_id")
    return ("suggestion", suggestion_id) if suggestion_id is not None else ("topic", topic_id)


def _insert_follow_ignoring_duplicate(session: Session, values: dict, column: str) -> bool:
    """True if a row was inserted (UNIQUE <subject>, person_id)."""
    return insert_ignoring_duplicate(session, Follow.__table__, values, [column, "person_id"])


def _bump_follower_count(session: Session, suggestion_id: int, delta: int) -> None:
    """Atomic counter move in the same transaction as the row change (never read-modify-write)."""
    session.execute(
        update(Suggestion).where(Suggestion.id == suggestion_id)
        .values(follower_count=Suggestion.follower_count + delta)
        .execution_options(synchronize_session="fetch"))


def follow(session: Session, *, person_id: int, suggestion_id: int | None = None,
           topic_id: int | None = None, bump_count: bool = True) -> bool:
    """Follow a suggestion or a topic. Idempotent: returns True only when newly followed.

    Visibility (can this person see the subject at all?) is the caller's check; this only
    writes the row and keeps the suggestion's follower_count equal to its rows. A caller that
    moves the suggestion's counters itself in the same transaction (votes.cast_vote, one UPDATE
    for both counters) passes bump_count=False and adds the returned 1 to follower_count.
    """
    kind, subject_id = _subject(suggestion_id, topic_id)
    column = f"{kind}_id"
    session.flush()  # pending ORM rows (e.g. a just-created suggestion) must exist first
    inserted = _insert_follow_ignoring_duplicate(
        session, {"person_id": person_id, column: subject_id, "created_at": utcnow()}, column)
    if inserted and kind == "suggestion" and bump_count:
        _bump_follower_count(session, subject_id, +1)
    return inserted


def unfollow(session: Session, *, person_id: int, suggestion_id: int | None = None,
             topic_id: int | None = None) -> bool:
    """Stop following. Idempotent: returns True only when a follow was removed."""
    kind, subject_id = _subject(suggestion_id, topic_id)
    column = getattr(Follow, f"{kind}_id")
    session.flush()
    removed = session.execute(
        delete(Follow).where(column == subject_id, Follow.person_id == person_id)
        .execution_options(synchronize_session=False)).rowcount
    if removed and kind == "suggestion":
        _bump_follower_count(session, subject_id, -removed)
    return bool(removed)


def is_following(session: Session, *, person_id: int, suggestion_id: int | None = None,
                 topic_id: int | None = None) -> bool:
    kind, subject_id = _subject(suggestion_id, topic_id)
    column = getattr(Follow, f"{kind}_id")
    return session.scalar(select(Follow.id).where(
        column == subject_id, Follow.person_id == person_id)) is not None


def follower_ids(session: Session, suggestion_id: int | None = None,
                 topic_id: int | None = None) -> list[int]:
    """The people following a suggestion or a topic, in a stable order."""
    kind, subject_id = _subject(suggestion_id, topic_id)
    column = getattr(Follow, f"{kind}_id")
    session.flush()
    return list(session.scalars(
        select(Follow.person_id).where(column == subject_id).order_by(Follow.person_id)))


def copy_followers(session: Session, *, from_suggestion_ids: Iterable[int],
                   to_topic_id: int) -> list[int]:
    """Every follower of the given suggestions also follows the topic (take-up, merge).
    Returns the people who newly follow the topic."""
    people: dict[int, None] = {}
    for sid in from_suggestion_ids:
        for pid in follower_ids(session, suggestion_id=sid):
            people.setdefault(pid)
    return [pid for pid in people if follow(session, person_id=pid, topic_id=to_topic_id)]


def public_text(text: str) -> str:
    """Text for the public trail: trimmed, bounded, and with anything that looks like a mobile
    or ID-card number blanked out. Callers build the text from public fields only (titles,
    organisation names, the convenor's public reason); this is the last line of defence for
    user-written parts (a title or a reason that quotes a phone number)."""
    text = (text or "").strip()
    if not text:
        raise ValueError("timeline text must not be empty")
    text = mask_numbers(text)
    if len(text) > TIMELINE_TEXT_MAX:
        text = text[:TIMELINE_TEXT_MAX - 1] + "…"
    return text


def add_timeline(session: Session, *, suggestion_id: int | None = None,
                 topic_id: int | None = None, kind: str, text: str) -> TimelineEntry:
    """One public trail entry (Chinese text, never personal data) on a suggestion or a topic."""
    _subject(suggestion_id, topic_id)
    if kind not in TIMELINE_KINDS:
        raise ValueError(f"unknown timeline kind {kind!r}; add it to TIMELINE_KINDS")
    entry = TimelineEntry(suggestion_id=suggestion_id, topic_id=topic_id, kind=kind,
                          text=public_text(text))
    session.add(entry)
    session.flush()
    return entry


def timeline(session: Session, *, suggestion_id: int | None = None,
             topic_id: int | None = None) -> list[TimelineEntry]:
    """The public trail, oldest first."""
    kind, subject_id = _subject(suggestion_id, topic_id)
    column = getattr(TimelineEntry, f"{kind}_id")
    return list(session.scalars(select(TimelineEntry).where(column == subject_id)
                                .order_by(TimelineEntry.at, TimelineEntry.id)))


def notify_followers(session: Session, *, suggestion_id: int | None = None,
                     topic_id: int | None = None, kind: str = "status_change", subject: str,
                     title: str, body: str, link: str | None = None,
                     exclude: Iterable[int] = ()) -> list[OutboxMessage]:
    """The same notice to every follower of a suggestion or topic, through the outbox.

    `subject` names the event (e.g. "topic:7:approved:1"); dedupe_key = kind + subject +
    recipient, so calling this again for the same event (a retried request, a replayed job)
    never sends anyone a second notice. People in `exclude` (e.g. the actor, or someone who
    already got a more specific notice) are skipped.
    """
    if kind not in NOTICE_KINDS:
        raise ValueError(f"unknown notice kind {kind!r}")
    skip = set(exclude)
    recipients = [pid for pid in follower_ids(session, suggestion_id=suggestion_id,
                                              topic_id=topic_id) if pid not in skip]
    if not recipients:
        return []
    return fan_out(session, kind=kind, subject=subject, recipient_ids=recipients, title=title,
                   body=body, link=link)
