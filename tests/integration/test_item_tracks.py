"""D19: every item of a routed opinion list is followed from routing on (one track per item)."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from app.consultations.rules import OpinionScope
from app.followup.models import ItemState, ItemTrack

from .. import consult_world, followup_world
from ..helpers import committed_session


@pytest.fixture
def world(app):
    return consult_world.build(app)


def test_routing_a_list_opens_one_awaiting_track_per_item_at_its_scope(app, world):
    routed = followup_world.routed_list(app, world, room="village", items=[
        ("修缮村口道路", "local"), ("增开公交线路", "county"), ("建设市级养老中心", "city")])
    with committed_session(app) as s:
        tracks = s.scalars(select(ItemTrack).order_by(ItemTrack.item_id)).all()
        assert [(t.item_id, t.list_id, t.state, t.current_scope, t.outcome) for t in tracks] == [
            (iid, routed["list_id"], ItemState.awaiting, scope, None)
            for iid, scope in zip(routed["item_ids"], (OpinionScope.local, OpinionScope.county,
                                                        OpinionScope.city))]
