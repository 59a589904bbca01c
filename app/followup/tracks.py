"""Item tracks: the follow-through state of each opinion item (D19), opened when the list is
routed. Services never commit.

`open_tracks` is called by the routing service (app/consultations/opinions.py), in the same
transaction, so every routed item has exactly one track (UNIQUE item_id) and the decision,
handling, feedback and results code can rely on it. `track_for_update` is how every change to an
item starts: the track row is locked, so one decision wins and a repeat sees what the first did.
"""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..consultations.models import OpinionList
from ..db import utcnow
from .models import SETTLED_STATES, ItemState, ItemTrack


def open_tracks(session: Session, lst: OpinionList) -> list[ItemTrack]:
    """One track per item of a list being routed, each awaiting a decision at its own scope."""
    tracks = [ItemTrack(item_id=i.id, list_id=lst.id, state=ItemState.awaiting,
                        current_scope=i.scope) for i in lst.items]
    session.add_all(tracks)
    session.flush()
    return tracks


def track_for_update(session: Session, item_id: int) -> ItemTrack | None:
    """The item's track, locked (SELECT … FOR UPDATE; SQLite writers already run one at a
    time) and re-read, so a change made meanwhile by another request is seen."""
    return session.scalar(select(ItemTrack).where(ItemTrack.item_id == item_id)
                          .with_for_update().execution_options(populate_existing=True))


def tracks_of(session: Session, list_id: int) -> list[ItemTrack]:
    return list(session.scalars(select(ItemTrack).where(ItemTrack.list_id == list_id)
                                .order_by(ItemTrack.item_id)))


def settle(session: Session, track: ItemTrack, state: ItemState) -> None:
    """The item reached its end (not adopted, or its handling completed): the one place that
    marks it, so what follows a settled item (the feedback list once the whole list is settled,
    D21) hangs off here. The caller holds the track's lock."""
    if state not in SETTLED_STATES:
        raise ValueError(f"{state} is not a settled state")
    track.state, track.settled_at = state, utcnow()
    session.flush()
    # D21: the last settled item of a list compiles its feedback list (once; see feedback.py).
    from .feedback import on_settled  # feedback reads the opinion list, which imports us

    on_settled(session, track)
