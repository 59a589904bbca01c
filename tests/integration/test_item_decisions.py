"""Decisions per opinion item (D19, D22, D23) by the receiving body's reviewer.

The body that received an item at its current level decides it once: adopted, partly adopted
(with an explanation), not adopted (an explanation for the residents, D23; the item is settled)
or escalated through the CPPCC channel to the next level (D22). The same decision sent again by
the reviewer who took it is a replay; anything else on a decided item is 409 item_decided."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from app.audit.models import AuditEntry
from app.followup.models import ItemDecision, ItemState, ItemTrack
from app.notify.models import OutboxMessage
from app.suggestions import trail
from app.suggestions.models import TimelineEntry

from .. import consult_world, followup_world
from ..consult_world import as_
from ..decision_world import decide, forward, routing_id, routings
from ..helpers import committed_session

WHY = "该路段明年列入县道改造计划，届时统一修缮"


@pytest.fixture
def world(app):
    return consult_world.build(app)


def track(app, item_id) -> ItemTrack:
    with committed_session(app) as s:
        t = s.scalar(select(ItemTrack).where(ItemTrack.item_id == item_id))
        s.expunge(t)
        return t


def audits(app, item_id) -> list[str]:
    with committed_session(app) as s:
        return list(s.scalars(select(AuditEntry.action).where(
            AuditEntry.object_type == "opinion_item", AuditEntry.object_id == str(item_id))
            .order_by(AuditEntry.id)))


def topic_trail(app, w, room="village") -> list[tuple[str, str]]:
    with committed_session(app) as s:
        return [(e.kind, e.text) for e in s.scalars(select(TimelineEntry).where(
            TimelineEntry.topic_id == w["topics"][room]).order_by(TimelineEntry.id))]


def local_list(app, w, *texts):
    return followup_world.routed_list(app, w, room="village",
                                      items=[(t, "local") for t in texts] or None)


# --- the four outcomes ------------------------------------------------------------------------

def test_the_town_committee_adopts_a_local_item(client, app, world):
    routed = followup_world.routed_list(app, world, items=[("修缮村口道路", "local")])
    iid = routed["item_ids"][0]
    r = decide(client, world, "rev_town_pc", iid, "adopted")
    assert r.status_code == 200, r.json
    body = r.json
    assert (body["id"], body["state"], body["outcome"], body["outcome_label"]) == (
        iid, "assigning", "adopted", "采纳")
    assert [(d["scope"], d["body_id"], d["outcome"]) for d in body["decisions"]] == [
        ("local", world["bodies"]["town_pc"], "adopted")]
    t = track(app, iid)
    assert (t.state, t.outcome.value, t.decided_at is not None) == (ItemState.assigning,
                                                                    "adopted", True)
    assert audits(app, iid) == ["followup.decision.adopted"]
    kinds = [k for k, _ in topic_trail(app, world)]
    assert kinds[-1] == "item_decided"
    text = topic_trail(app, world)[-1][1]
    assert "第 1 条意见" in text and "新坝镇党委" in text and "采纳" in text
    assert "审核" not in text  # no reviewer's name on the public trail


@pytest.mark.parametrize("outcome", ["partly", "not_adopted"])
def test_partly_and_not_adopted_need_an_explanation(client, app, world, outcome):
    """D23: the residents concerned are told why; nothing is written without it."""
    iid = local_list(app, world, "修缮村口道路")["item_ids"][0]
    for missing in (None, "   "):
        r = decide(client, world, "rev_town_pc", iid, outcome, missing)
        assert r.status_code == 422 and r.json["error"] == "explanation_required", r.json
        assert r.json["message"]
    assert track(app, iid).state is ItemState.awaiting and audits(app, iid) == []
    r = decide(client, world, "rev_town_pc", iid, outcome, WHY)
    assert r.status_code == 200, r.json
    assert r.json["decisions"][0]["explanation"] == WHY


def test_partly_adopted_waits_for_assignment(client, app, world):
    iid = local_list(app, world, "修缮村口道路")["item_ids"][0]
    r = decide(client, world, "rev_town_pc", iid, "partly", WHY)
    assert (r.json["state"], r.json["outcome_label"]) == ("assigning", "部分采纳")


def test_not_adopted_settles_the_item_and_tells_the_followers_why(client, app, world):
    """D23: every follower of the topic gets the explanation (once, however often it is sent)."""
    iid = local_list(app, world, "修缮村口道路")["item_ids"][0]
    with committed_session(app) as s:
        for who in ("resident", "resident2"):
            trail.follow(s, person_id=world["people"][who], topic_id=world["topics"]["village"])
    r = decide(client, world, "rev_town_pc", iid, "not_adopted", WHY)
    assert r.status_code == 200 and r.json["state"] == "not_adopted"
    assert decide(client, world, "rev_town_pc", iid, "not_adopted", WHY).status_code == 200
    t = track(app, iid)
    assert t.state is ItemState.not_adopted and t.settled_at is not None
    with committed_session(app) as s:
        notes = s.scalars(select(OutboxMessage).where(
            OutboxMessage.kind == "status_change",
            OutboxMessage.dedupe_key.like(f"%item:{iid}:%")).order_by(OutboxMessage.recipient_id)
        ).all()
        assert [n.recipient_id for n in notes] == sorted(
            [world["people"]["resident"], world["people"]["resident2"]])
        assert all(WHY in n.body for n in notes)
    kind, text = topic_trail(app, world)[-2]  # the list's only item: the feedback list follows
    assert kind == "item_decided" and "不予采纳" in text and WHY in text


@pytest.mark.parametrize("outcome", ["partly", "not_adopted"])
def test_the_explanation_reaches_everyone_who_took_part_and_opens_the_results(
        client, app, world, outcome):
    """D23 "residents who disagree receive an explanation": whoever took part in the topic's way
    here (the feedback list's people: followers, proposers, commenters, attendees) — not only
    the topic's followers — and for partly adopted items too; the notice opens the public
    results, where the explanation stands beside the item."""
    from app.consultations.models import Attendance, CheckInMethod
    from app.consultations.rules import InviteGroup
    from app.db import utcnow

    routed = local_list(app, world, "修缮村口道路")
    iid = routed["item_ids"][0]
    p = world["people"]
    with committed_session(app) as s:
        trail.follow(s, person_id=p["resident"], topic_id=world["topics"]["village"])
        s.add(Attendance(consultation_id=routed["consultation_id"], person_id=p["stakeholder"],
                         name="赵店主", group=InviteGroup.stakeholder, method=CheckInMethod.qr,
                         checked_in_at=utcnow()))
    assert decide(client, world, "rev_town_pc", iid, outcome, WHY).status_code == 200
    with committed_session(app) as s:
        notes = s.scalars(select(OutboxMessage).where(
            OutboxMessage.kind == "status_change",
            OutboxMessage.dedupe_key.like(f"%item:{iid}:%")).order_by(OutboxMessage.recipient_id)
        ).all()
        assert [n.recipient_id for n in notes] == sorted([p["resident"], p["stakeholder"]])
        assert all(WHY in n.body and n.link == f"/pages/results/results?id={world['topics']['village']}"
                   for n in notes)


def test_escalating_a_local_item_routes_it_to_the_county_cppcc(client, app, world):
    """D22: a list with no county items gets the county chain for the escalated item: the
    county CPPCC party group reviews (pending, its reviewer asked), the county Party committee
    and government wait; after the review forwards, either of them decides."""
    routed = local_list(app, world, "修缮村口道路", "设立村级养老服务站")
    iid, other = routed["item_ids"]
    before = routings(app, routed["list_id"])
    assert {scope for scope, _ in before} == {"local"}
    r = decide(client, world, "rev_town_pc", iid, "escalated", "涉及全县养老服务布局")
    assert r.status_code == 200, r.json
    assert (r.json["state"], r.json["current_scope"], r.json["outcome"]) == (
        "awaiting", "county", "escalated")
    t = track(app, iid)
    assert t.current_scope.value == "county" and t.state is ItemState.awaiting
    b = world["bodies"]
    after = routings(app, routed["list_id"])
    assert {k: (v[1], v[2]) for k, v in after.items() if k[0] == "county"} == {
        ("county", b["county_pg"]): ("pending", 1), ("county", b["county_pc"]): ("waiting", 2),
        ("county", b["county_gov"]): ("waiting", 2)}
    with committed_session(app) as s:
        asked = s.scalars(select(OutboxMessage.recipient_id).where(
            OutboxMessage.kind == "review_request")).all()
        assert world["people"]["rev_county_pg"] in asked
    # The party group sees the escalated item only, not the rest of the list.
    pg = routing_id(app, world, routed["list_id"], "county", "county_pg")
    seen = client.get(f"/api/routings/{pg}/items", headers=as_(world, "rev_county_pg"))
    assert seen.status_code == 200, seen.json
    assert [i["id"] for i in seen.json["items"]] == [iid]
    # Waiting receivers cannot decide yet.
    assert decide(client, world, "rev_county_pc", iid, "adopted").status_code == 404
    forward(client, app, world, routed["list_id"], "county")
    r = decide(client, world, "rev_county_gov", iid, "adopted")
    assert r.status_code == 200, r.json
    assert [(d["scope"], d["outcome"]) for d in r.json["decisions"]] == [
        ("local", "escalated"), ("county", "adopted")]
    assert r.json["state"] == "assigning"
    # One decision wins at the county: the Party committee's different view is refused.
    r = decide(client, world, "rev_county_pc", iid, "not_adopted", WHY)
    assert r.status_code == 409 and r.json["error"] == "item_decided"
    # The town committee's decision is taken too: it cannot decide again.
    r = decide(client, world, "rev_town_pc", iid, "adopted")
    assert r.status_code == 409 and r.json["error"] == "item_decided"
    assert audits(app, iid) == ["followup.decision.escalated", "followup.decision.adopted"]
    assert track(app, other).state is ItemState.awaiting


def test_escalating_into_an_existing_county_chain_shows_the_item_to_it(client, app, world):
    """The list already has county routings (forwarded): no new ones; the county bodies see the
    escalated item next to their own and decide it."""
    routed = followup_world.routed_list(app, world, items=[("修缮村口道路", "local"),
                                                           ("增开公交线路", "county")])
    local, county = routed["item_ids"]
    forward(client, app, world, routed["list_id"], "county")
    before = routings(app, routed["list_id"])
    assert decide(client, world, "rev_town_pc", local, "escalated").status_code == 200
    assert routings(app, routed["list_id"]) == before
    pc = routing_id(app, world, routed["list_id"], "county", "county_pc")
    seen = client.get(f"/api/routings/{pc}/items", headers=as_(world, "rev_county_pc"))
    assert [i["id"] for i in seen.json["items"]] == [local, county]
    inbox = client.get("/api/me/opinion-inbox", headers=as_(world, "rev_county_pc")).json
    assert [i["seq"] for e in inbox["items"] for i in e["items"]] == [1, 2]
    assert decide(client, world, "rev_county_pc", local, "adopted").status_code == 200


def test_a_city_item_cannot_be_escalated(client, app, world):
    routed = followup_world.routed_list(app, world, items=[("建设市级养老中心", "city")])
    iid = routed["item_ids"][0]
    forward(client, app, world, routed["list_id"], "city")
    r = decide(client, world, "rev_city_pc", iid, "escalated")
    assert r.status_code == 422 and r.json["error"] == "cannot_escalate", r.json
    assert track(app, iid).state is ItemState.awaiting and audits(app, iid) == []
    assert decide(client, world, "rev_city_pc", iid, "adopted").status_code == 200


def test_an_item_escalated_twice_reaches_the_city(client, app, world):
    routed = local_list(app, world, "修缮村口道路")
    iid = routed["item_ids"][0]
    assert decide(client, world, "rev_town_pc", iid, "escalated").status_code == 200
    forward(client, app, world, routed["list_id"], "county")
    r = decide(client, world, "rev_county_pc", iid, "escalated")
    assert r.status_code == 200 and r.json["current_scope"] == "city"
    forward(client, app, world, routed["list_id"], "city")
    r = decide(client, world, "rev_city_gov", iid, "escalated")
    assert r.status_code == 422 and r.json["error"] == "cannot_escalate"


# --- replay and conflict ------------------------------------------------------------------------

def test_the_same_decision_again_is_a_replay_and_a_different_one_409(client, app, world):
    iid = local_list(app, world, "修缮村口道路")["item_ids"][0]
    first = decide(client, world, "rev_town_pc", iid, "partly", WHY)
    assert first.status_code == 200
    again = decide(client, world, "rev_town_pc", iid, "partly", WHY)
    assert (again.status_code, again.json) == (200, first.json)
    for outcome, why in (("adopted", None), ("partly", "另一个说明"), ("not_adopted", WHY)):
        r = decide(client, world, "rev_town_pc", iid, outcome, why)
        assert r.status_code == 409 and r.json["error"] == "item_decided", (outcome, r.json)
    with committed_session(app) as s:
        assert s.scalar(select(func.count()).select_from(ItemDecision)) == 1
    assert audits(app, iid) == ["followup.decision.partly"]
    assert [k for k, _ in topic_trail(app, world)].count("item_decided") == 1


def test_a_colleague_repeating_the_decision_gets_409(client, app, world):
    from ..e2e.test_decision_races import add_colleague

    who = add_colleague(app, world, "town_pc")
    iid = local_list(app, world, "修缮村口道路")["item_ids"][0]
    assert decide(client, world, "rev_town_pc", iid, "adopted").status_code == 200
    r = decide(client, world, who, iid, "adopted")
    assert r.status_code == 409 and r.json["error"] == "item_decided"


# --- who may decide -----------------------------------------------------------------------------

def test_an_item_not_routed_to_my_body_is_404(client, app, world):
    routed = followup_world.routed_list(app, world, items=[("修缮村口道路", "local"),
                                                           ("增开公交线路", "county")])
    local, county = routed["item_ids"]
    # The county receives only county items; its receivers wait until the review forwards.
    for who, iid in (("rev_county_pc", local), ("rev_county_pc", county),
                     ("rev_county_pg", county), ("rev_special", local),
                     ("rev_town_pc", county), ("rev_town_pc", 999999)):
        r = decide(client, world, who, iid, "adopted")
        assert r.status_code == 404 and r.json["error"] == "item_not_found", (who, iid, r.json)
    assert audits(app, local) == audits(app, county) == []


@pytest.mark.parametrize("who", ["resident", "member", "handler", "conv_village",
                                 "county_staff"])
def test_people_who_are_not_its_reviewers_cannot_decide(client, app, world, who):
    iid = local_list(app, world, "修缮村口道路")["item_ids"][0]
    r = decide(client, world, who, iid, "adopted")
    assert r.status_code == 404 and r.json["error"] == "item_not_found"
    assert track(app, iid).state is ItemState.awaiting


def test_another_countys_reviewer_sees_nothing(client, app, world):
    routed = followup_world.routed_list(app, world, items=[("增开公交线路", "county")])
    iid = routed["item_ids"][0]
    forward(client, app, world, routed["list_id"], "county")
    pc = routing_id(app, world, routed["list_id"], "county", "county_pc")
    r = client.get(f"/api/routings/{pc}/items", headers=as_(world, "rev_other_pc"))
    assert r.status_code == 404 and r.json["error"] == "routing_not_found"
    q = client.get("/api/opinion-items/queue", headers=as_(world, "rev_other_pc"))
    assert q.status_code == 200 and q.json == {"awaiting": [], "to_assign": [],
                                               "extensions": []}
    assert decide(client, world, "rev_other_pc", iid, "adopted").status_code == 404
    mine = client.get("/api/opinion-items/queue", headers=as_(world, "rev_county_pc")).json
    assert [i["id"] for i in mine["awaiting"]] == [iid]


def test_bad_outcomes_are_refused(client, app, world):
    iid = local_list(app, world, "修缮村口道路")["item_ids"][0]
    for data in ({"outcome": "maybe"}, {}, {"outcome": "adopted", "explanation": "x" * 2001},
                 {"outcome": "adopted", "extra": 1}):
        r = client.post(f"/api/opinion-items/{iid}/decision", json=data,
                        headers=as_(world, "rev_town_pc"))
        assert r.status_code == 422, (data, r.json)
    assert track(app, iid).state is ItemState.awaiting


def test_the_queue_lists_items_awaiting_my_decision_and_adopted_ones_to_assign(
        client, app, world):
    routed = local_list(app, world, "修缮村口道路", "设立村级养老服务站", "拓宽田间道路")
    a, b, c = routed["item_ids"]
    decide(client, world, "rev_town_pc", a, "adopted")
    decide(client, world, "rev_town_pc", b, "not_adopted", WHY)
    q = client.get("/api/opinion-items/queue", headers=as_(world, "rev_town_pc"))
    assert q.status_code == 200, q.json
    assert [i["id"] for i in q.json["awaiting"]] == [c]
    assert [i["id"] for i in q.json["to_assign"]] == [a]
    assert q.json["awaiting"][0]["topic_title"] and q.json["awaiting"][0]["routing_id"]
    assert client.get("/api/opinion-items/queue",
                      headers=as_(world, "resident")).json["awaiting"] == []


def test_reading_a_routings_items_costs_the_same_for_more_items(client, app, world):
    """No query per item (decisions, tasks, who may decide are read in bulk)."""
    from ..helpers import count_statements

    engine = app.extensions["db"].engine
    counts = []
    for n in (2, 6):
        routed = local_list(app, world, *[f"第{k}条意见" for k in range(n)])
        decide(client, world, "rev_town_pc", routed["item_ids"][0], "partly", WHY)
        rid = routing_id(app, world, routed["list_id"], "local", "town_pc")
        counts.append(count_statements(engine, lambda: client.get(
            f"/api/routings/{rid}/items", headers=as_(world, "rev_town_pc"))))
    assert counts[0] == counts[1], counts


# --- a review that holds the items back ---------------------------------------------------------

HELD = "该事项已纳入县里明年的专项规划，暂不单独转送"


def test_a_party_group_holding_back_settles_its_items_with_its_reason(client, app, world):
    """D18/D23: a county CPPCC party group that holds a copy back keeps its items from going
    up; they are settled — not adopted by the party group, its reason the explanation residents
    read — so the list still reaches its feedback list (D21) instead of waiting for ever."""
    from app.followup.feedback_models import FeedbackList

    routed = followup_world.routed_list(app, world, room="village", items=[
        ("修缮村口道路", "local"), ("增开公交线路", "county")])
    local, county = routed["item_ids"]
    with committed_session(app) as s:
        trail.follow(s, person_id=world["people"]["resident"], topic_id=world["topics"]["village"])
    rid = routing_id(app, world, routed["list_id"], "county", "county_pg")
    r = client.post(f"/api/opinion-routings/{rid}/decision", json={"forward": False, "note": HELD},
                    headers=as_(world, "rev_county_pg"))
    assert r.status_code == 200, r.json
    t = track(app, county)
    assert (t.state, t.outcome) == (ItemState.not_adopted, "not_adopted")
    with committed_session(app) as s:
        [d] = s.scalars(select(ItemDecision).where(ItemDecision.item_id == county)).all()
        assert (d.scope.value, d.body_id, d.outcome.value, d.explanation) == (
            "county", world["bodies"]["county_pg"], "not_adopted", HELD)
        told = s.scalars(select(OutboxMessage).where(
            OutboxMessage.dedupe_key.like(f"%item:{county}:not_adopted%"))).all()
        assert [m.recipient_id for m in told] == [world["people"]["resident"]]
        assert HELD in told[0].body
    assert track(app, local).state is ItemState.awaiting  # the town still decides its own
    assert decide(client, world, "rev_town_pc", local, "not_adopted", WHY).status_code == 200
    with committed_session(app) as s:
        assert s.scalar(select(func.count()).select_from(FeedbackList).where(
            FeedbackList.list_id == routed["list_id"])) == 1
    # The other county body cannot decide the held item afterwards.
    assert decide(client, world, "rev_county_gov", county, "adopted").status_code in (404, 409)


def test_escalating_into_a_chain_that_was_held_back_is_refused(client, app, world):
    """An item cannot be sent up into a county chain whose party group already held the list
    back: it would wait there for a review that is over (409, nothing written)."""
    routed = followup_world.routed_list(app, world, room="village", items=[
        ("修缮村口道路", "local"), ("增开公交线路", "county")])
    local = routed["item_ids"][0]
    rid = routing_id(app, world, routed["list_id"], "county", "county_pg")
    assert client.post(f"/api/opinion-routings/{rid}/decision", json={"forward": False, "note": HELD},
                       headers=as_(world, "rev_county_pg")).status_code == 200
    r = decide(client, world, "rev_town_pc", local, "escalated", "涉及全县道路规划")
    assert (r.status_code, r.json["error"]) == (409, "escalation_held_back")
    t = track(app, local)
    assert (t.state, t.current_scope.value, t.outcome) == (ItemState.awaiting, "local", None)


def test_the_last_items_decision_is_on_the_trail_before_the_feedback_list(client, app, world):
    """D21/D23: when a not-adopted decision settles the list's last item, its explanation comes
    first on the topic's public trail, then the feedback list that it completes."""
    iid = local_list(app, world, "修缮村口道路")["item_ids"][0]
    assert decide(client, world, "rev_town_pc", iid, "not_adopted", WHY).status_code == 200
    kinds = [kind for kind, _ in topic_trail(app, world)]
    assert kinds[-2:] == ["item_decided", "feedback"]


def test_a_copy_waiting_for_the_party_groups_review_is_not_readable_yet(client, app, world):
    """D18: the county Party committee sees the county items only once the county CPPCC party
    group forwards them: before that its copy's items are 404, as its inbox does not list it."""
    routed = followup_world.routed_list(app, world, room="village", items=[
        ("增开公交线路", "county")])
    pc = routing_id(app, world, routed["list_id"], "county", "county_pc")
    r = client.get(f"/api/routings/{pc}/items", headers=as_(world, "rev_county_pc"))
    assert (r.status_code, r.json["error"]) == (404, "routing_not_found")
    forward(client, app, world, routed["list_id"], "county")
    r = client.get(f"/api/routings/{pc}/items", headers=as_(world, "rev_county_pc"))
    assert r.status_code == 200 and [i["text"] for i in r.json["items"]] == ["增开公交线路"]
