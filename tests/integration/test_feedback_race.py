"""D21 under concurrency: the last two items of a list settled at the same moment compile its
feedback list exactly once — not twice, and not zero times (each settling transaction alone
still sees the other item unsettled). Meant for PostgreSQL (TEST_DATABASE_URL); on SQLite the
writers take turns anyway."""
from __future__ import annotations

import time
from datetime import date

import pytest
from sqlalchemy import func, select

from app.followup import feedback
from app.followup.feedback_models import FeedbackList
from app.notify.models import OutboxMessage
from app.suggestions.models import TimelineEntry

from .. import consult_world, followup_world
from ..feedback_world import settle_done, settle_not_adopted
from ..helpers import committed_session, race


@pytest.fixture
def world(app):
    return consult_world.build(app)


def test_the_last_two_items_settled_at_once_compile_exactly_once(app, world, monkeypatch):
    r = followup_world.routed_list(app, world, room="village",
                                   items=[("修缮村口道路", "local"), ("加装路灯", "local")])
    original = feedback.on_settled

    def slow(session, track):
        # Both transactions have settled their own item before either looks at the list.
        time.sleep(0.4)
        return original(session, track)

    monkeypatch.setattr(feedback, "on_settled", slow)

    def settle(_client, i):
        item = r["item_ids"][i]
        if i == 0:
            settle_done(app, world, item, body="town_pc", lead="housing",
                        assigned_on=date(2026, 9, 28), due_on=date(2026, 10, 12),
                        completed_on=date(2026, 10, 9))
        else:
            settle_not_adopted(app, world, item, body="town_pc", explanation="已列入明年计划")
        return i

    assert race(app, 2, settle) == [0, 1]
    with committed_session(app) as s:
        [fl] = s.scalars(select(FeedbackList)).all()
        assert (fl.list_id, fl.items, fl.adopted, fl.not_adopted, fl.done) == (
            r["list_id"], 2, 1, 1, 1)
        assert s.scalar(select(func.count()).select_from(TimelineEntry)
                        .where(TimelineEntry.kind == "feedback")) == 1
        recipients = s.scalars(select(OutboxMessage.recipient_id)
                               .where(OutboxMessage.kind == "feedback")).all()
        assert recipients and len(recipients) == len(set(recipients))
