"""Votes (支持) on suggestions: one per person per suggestion, withdraw allowed, counts exact under
concurrency.

- One vote per person per suggestion is the UNIQUE (suggestion_id, person_id) constraint on
  `votes`: the insert is INSERT … ON CONFLICT DO NOTHING, so a second tap (or fifty concurrent
  ones) finds the existing row and changes nothing.
- `Suggestion.vote_count` moves with one atomic UPDATE (vote_count = vote_count ± 1) in the same
  transaction as the row change, and only when a row really was inserted or deleted — never a
  read-modify-write. The same UPDATE re-checks `state = 'open'`, so a vote racing a take-up or a
  decline is refused (409) rather than counted on a closed suggestion.
- Only open suggestions take votes or withdrawals (the others: 409 vote_closed). Suggestions the
  caller may not see (held or rejected ones of other people, inactive platforms) are 404, as in
  the detail view.
- Voting makes the voter follow the suggestion (app.suggestions.trail.follow); withdrawing does
  not unfollow (the person may still want to hear what becomes of it).
- No audit entry per vote: the vote row is its own record (who, when), and the vote path is the
  hottest write of the product (bench/). Withdrawals leave no row by design.

Services never commit; the route commits once.
"""
from __future__ import annotations

from dataclasses import dataclass

import redis
from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from ..auth import ratelimit
from ..db import insert_ignoring_duplicate, utcnow
from ..errors import Conflict, NotFound
from ..org.models import Person, Platform, Region
from .models import Suggestion, SuggestionState, Vote
from .services import PUBLIC_STATES, can_moderate

_votes = Vote.__table__
_suggestions = Suggestion.__table__


class VoteClosed(Conflict):
    code = "vote_closed"
    message = "该建议已结束征集"


# Why a visible suggestion takes no votes, in the resident's words (the code stays vote_closed).
CLOSED_MESSAGES = {
    SuggestionState.held: "该建议正在审核中，公开后才能支持",
    SuggestionState.taken_up: "该建议已列为议题，不再征集支持",
    SuggestionState.declined: "该建议暂不采纳，已结束征集",
    SuggestionState.rejected: "该建议未通过审核",
}


def suggestion_not_found() -> NotFound:
    return NotFound("该建议不存在", code="suggestion_not_found")


@dataclass(frozen=True)
class VoteState:
    voted: bool
    vote_count: int
    changed: bool  # True when this call inserted or deleted the vote


def vote_limit(per_minute: int) -> ratelimit.Limit:
    return ratelimit.Limit("vote", per_minute, 60)


def check_vote_rate(client: redis.Redis, person_id: int, per_minute: int) -> None:
    """Per-person limit on vote requests (cast and withdraw) → 429 rate_limited. When Redis is
    down the limit lets requests through (logged by ratelimit.hit): the UNIQUE constraint still
    keeps the votes right, only the flood protection is off."""
    ratelimit.check(client, vote_limit(per_minute), f"p{person_id}")


def _open_suggestion(session: Session, suggestion_id: int, person: Person) -> None:
    """404 when the caller may not see the suggestion, 409 vote_closed when it is not open."""
    row = session.execute(
        select(Suggestion.state, Suggestion.proposer_id, Platform.is_active, Platform.id, Platform.region_id)
        .join(Platform, Platform.id == Suggestion.platform_id)
        .where(Suggestion.id == suggestion_id)).first()
    if row is None:
        raise suggestion_not_found()
    if row.state is SuggestionState.open and row.is_active:
        return
    # Held / rejected (or on an inactive platform): only the proposer and the platform's
    # moderators know it exists; to them it is closed, to anyone else it does not exist.
    hidden = not (row.state in PUBLIC_STATES and row.is_active)
    if hidden and row.proposer_id != person.id and not _may_moderate(session, person, row):
        raise suggestion_not_found()
    raise VoteClosed(CLOSED_MESSAGES.get(row.state) if row.is_active else None)


def _may_moderate(session: Session, person: Person, row) -> bool:
    platform = session.get(Platform, row.id)
    path = session.scalar(select(Region.path).where(Region.id == row.region_id)) or ""
    return can_moderate(session, person, platform, path)


def _insert_vote(session: Session, suggestion_id: int, person_id: int) -> bool:
    """True when a row was added (UNIQUE suggestion_id, person_id: one vote per person)."""
    return insert_ignoring_duplicate(
        session, _votes, {"suggestion_id": suggestion_id, "person_id": person_id,
                          "created_at": utcnow()}, ["suggestion_id", "person_id"])


def _move_count(session: Session, suggestion_id: int, delta: int, *, touch: bool,
                followers: int = 0) -> int:
    """vote_count += delta (and follower_count += followers) atomically in one UPDATE, only
    while the suggestion is open; the new vote count. VoteClosed when the suggestion closed
    meanwhile (the caller's transaction then rolls back, taking the row changes with it)."""
    values = {"vote_count": _suggestions.c.vote_count + delta}
    if followers:
        values["follower_count"] = _suggestions.c.follower_count + followers
    if touch:
        values["last_activity_at"] = utcnow()
    count = session.execute(
        update(_suggestions)
        .where(_suggestions.c.id == suggestion_id,
               _suggestions.c.state == SuggestionState.open.value)
        .values(**values).returning(_suggestions.c.vote_count)).scalar()
    if count is None:
        raise VoteClosed()
    _forget_loaded(session, suggestion_id)
    return count


def _forget_loaded(session: Session, suggestion_id: int) -> None:
    """A Suggestion already loaded in this session now has stale counters: reload on access."""
    loaded = session.identity_map.get(session.identity_key(Suggestion, suggestion_id))
    if loaded is not None:
        session.expire(loaded, ["vote_count", "last_activity_at", "follower_count"])


def _current_count(session: Session, suggestion_id: int) -> int:
    """Re-read after a no-op: a concurrent request of the same person may have just committed
    (READ COMMITTED: this statement sees it), so the answer matches the row that exists."""
    return session.scalar(select(_suggestions.c.vote_count)
                          .where(_suggestions.c.id == suggestion_id)) or 0


def cast_vote(session: Session, *, suggestion_id: int, person: Person) -> VoteState:
    """Support an open suggestion. Idempotent: voting again returns the existing state and
    changes nothing. The voter follows the suggestion. Four statements: check, vote row,
    follow row, one UPDATE moving both counters."""
    _open_suggestion(session, suggestion_id, person)
    if not _insert_vote(session, suggestion_id, person.id):
        return VoteState(True, _current_count(session, suggestion_id), False)
    from .trail import follow

    followed = follow(session, person_id=person.id, suggestion_id=suggestion_id,
                      bump_count=False)
    count = _move_count(session, suggestion_id, +1, touch=True, followers=int(followed))
    return VoteState(True, count, True)


def withdraw_vote(session: Session, *, suggestion_id: int, person: Person) -> VoteState:
    """Take a vote back from an open suggestion. Withdrawing without a vote changes nothing.
    Not "activity": last_activity_at stays (a vote/withdraw loop must not lift a suggestion
    in the "recently active" list)."""
    _open_suggestion(session, suggestion_id, person)
    removed = session.execute(
        delete(_votes).where(_votes.c.suggestion_id == suggestion_id,
                             _votes.c.person_id == person.id)).rowcount
    if not removed:
        return VoteState(False, _current_count(session, suggestion_id), False)
    count = _move_count(session, suggestion_id, -removed, touch=False)
    return VoteState(False, count, True)


def has_voted(session: Session, *, suggestion_id: int, person_id: int) -> bool:
    return session.scalar(select(_votes.c.id).where(
        _votes.c.suggestion_id == suggestion_id, _votes.c.person_id == person_id)) is not None
