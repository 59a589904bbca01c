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


def test_lists_routed_before_the_follow_through_get_their_tracks_from_the_migration(app, world):
    """Migration 0011: a list routed before item tracks existed (its tracks missing) gets one
    awaiting track per item at its scope; lists with tracks and draft lists are left alone."""
    import importlib.util
    from pathlib import Path

    from sqlalchemy import delete, text

    path = next((Path(__file__).parents[2] / "migrations" / "versions").glob("*_0011_*.py"))
    spec = importlib.util.spec_from_file_location("m0011", path)
    migration = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(migration)

    old = followup_world.routed_list(app, world, room="village", items=[
        ("修缮村口道路", "local"), ("增开公交线路", "county")])
    new = followup_world.routed_list(app, world, room="town", items=[("整治早市", "local")])
    with committed_session(app) as s:
        s.execute(delete(ItemTrack).where(ItemTrack.list_id == old["list_id"]))
        s.get(ItemTrack, s.scalar(select(ItemTrack.id).where(
            ItemTrack.list_id == new["list_id"]))).state = ItemState.not_adopted
    with committed_session(app) as s:
        s.execute(text(migration.BACKFILL))
        s.execute(text(migration.BACKFILL))  # a second run adds nothing
    with committed_session(app) as s:
        rows = s.execute(select(ItemTrack.item_id, ItemTrack.state, ItemTrack.current_scope)
                         .order_by(ItemTrack.item_id)).all()
        assert rows == sorted([
            (old["item_ids"][0], ItemState.awaiting, OpinionScope.local),
            (old["item_ids"][1], ItemState.awaiting, OpinionScope.county),
            (new["item_ids"][0], ItemState.not_adopted, OpinionScope.local)])
