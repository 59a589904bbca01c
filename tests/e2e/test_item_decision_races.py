"""One decision per item, one task per item, under concurrency (D19, D20) — PostgreSQL.

Real threads through the HTTP API; the item track's row lock (tracks.track_for_update) is what
serialises them (SQLite runs one writer at a time, so a race there proves nothing)."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from app.audit.models import AuditEntry
from app.followup.models import HandlingTask, ItemDecision, ItemTrack

from .. import followup_world
from ..decision_world import assign, decide, forward
from ..helpers import committed_session, race_in_order
from .test_decision_races import answer, pg, world  # noqa: F401 (fixtures)

TRIES = 4
WHY = "县财政今年无此预算"


def county_item(client, app, w) -> int:
    routed = followup_world.routed_list(app, w, items=[("增开通往县城的公交线路", "county")])
    forward(client, app, w, routed["list_id"], "county")
    return routed["item_ids"][0]


def record_of(app, iid) -> dict:
    with committed_session(app) as s:
        return {
            "decisions": s.scalar(select(func.count()).select_from(ItemDecision)
                                  .where(ItemDecision.item_id == iid)),
            "audits": s.scalars(select(AuditEntry.action).where(
                AuditEntry.object_type == "opinion_item", AuditEntry.object_id == str(iid))
                .order_by(AuditEntry.id)).all(),
            "state": s.scalar(select(ItemTrack.state).where(ItemTrack.item_id == iid)).value,
            "tasks": s.scalar(select(func.count()).select_from(HandlingTask)
                              .where(HandlingTask.item_id == iid)),
        }


@pytest.mark.postgres
@pytest.mark.parametrize("calls,codes", [
    # The county Party committee adopts while the county government refuses, at once.
    ([("rev_county_pc", "adopted", None), ("rev_county_gov", "not_adopted", WHY)], [200, 409]),
    # Three taps on 采纳 by one reviewer: one decision and two replays.
    ([("rev_county_gov", "adopted", None)] * 3, [200, 200, 200]),
], ids=["two_bodies", "three_taps"])
def test_racing_decisions_on_an_item_take_one_decision(pg, world, calls, codes):
    client = pg.test_client()
    for _ in range(TRIES):
        iid = county_item(client, pg, world)
        results = race_in_order(pg, len(calls), lambda local, i: answer(
            decide(local, world, *calls[i][:1], iid, *calls[i][1:])))
        assert sorted(code for code, _ in results) == codes, results
        assert all(body["error"] == "item_decided" for code, body in results if code == 409)
        answered = [body for code, body in results if code == 200]
        assert all(body == answered[0] for body in answered)
        record = record_of(pg, iid)
        outcome = answered[0]["outcome"]
        assert record["decisions"] == 1 and record["audits"] == [f"followup.decision.{outcome}"]
        assert record["state"] == ("assigning" if outcome == "adopted" else "not_adopted")


@pytest.mark.postgres
def test_a_double_tap_on_assignment_makes_one_task(pg, world):
    client = pg.test_client()
    for _ in range(TRIES):
        iid = county_item(client, pg, world)
        assert decide(client, world, "rev_county_gov", iid, "adopted").status_code == 200
        results = race_in_order(pg, 3, lambda local, i: answer(
            assign(local, world, "rev_county_gov", iid, "housing", (), 10)))
        assert [code for code, _ in results] == [200, 200, 200], results
        assert all(body == results[0][1] for _, body in results)
        record = record_of(pg, iid)
        assert (record["tasks"], record["state"]) == (1, "handling")
        assert record["audits"] == ["followup.decision.adopted", "followup.assign"]


@pytest.mark.postgres
def test_two_first_escalations_from_one_list_make_one_county_chain(pg, world):
    """D22: the town escalates two local items of the same list at the same moment; the list
    has no county chain yet. Both escalations succeed and share one chain (the list's lock), never
    a 500 on the routings' unique constraint."""
    from app.consultations.models import OpinionRouting

    client = pg.test_client()
    for _ in range(TRIES):
        routed = followup_world.routed_list(pg, world, items=[
            ("修缮村口道路", "local"), ("设立村级养老服务站", "local")])
        items = routed["item_ids"]
        results = race_in_order(pg, 2, lambda local, i: answer(
            decide(local, world, "rev_town_pc", items[i], "escalated", "涉及全县统筹")))
        assert [code for code, _ in results] == [200, 200], results
        with committed_session(pg) as s:
            chain = s.scalars(select(OpinionRouting.body_id).where(
                OpinionRouting.list_id == routed["list_id"], OpinionRouting.scope == "county")
                .order_by(OpinionRouting.body_id)).all()
            assert chain == sorted([world["bodies"][k] for k in ("county_pg", "county_pc",
                                                                 "county_gov")])
            assert {s.scalar(select(ItemTrack.current_scope).where(ItemTrack.item_id == i)).value
                    for i in items} == {"county"}
