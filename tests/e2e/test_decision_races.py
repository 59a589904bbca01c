"""Reviewers' decisions and submissions happen once (D8, D18), however they arrive.

A topic's step and an opinion list's routing take exactly one decision. The same decision sent
again by the same reviewer (a phone that lost the answer and taps again) is answered as the
first one was — 200, the same body, nothing written twice; a different decision on a step or
routing already decided is 409. A double tap on 提交审核 submits once.

The replay and conflict rules run on every backend. The races run real threads through the
HTTP API on PostgreSQL, where the row locks are what serialises them (SQLite serialises whole
transactions with BEGIN IMMEDIATE, so a race there proves nothing)."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from app.audit.models import AuditEntry
from app.consultations.models import OpinionRouting
from app.notify.models import OutboxMessage
from app.org import factories as f
from app.org.models import Body, Role
from app.suggestions.models import TimelineEntry
from app.topics.models import ApprovalStep, Topic

from .. import consult_world
from ..consult_world import as_
from ..helpers import committed_session, race_in_order
from .test_consultation_flow import held_meeting, ok

TOPIC = {"title": "背街小巷路灯维修", "description": "多条背街小巷路灯损坏，夜间出行不便，希望协商维修和管护办法。",
         "category": "livelihood", "source": "proposed"}
ITEMS = [
    {"text": "由村委会牵头排查路灯损坏情况", "raised_by": "resident", "scope": "local"},
    {"text": "请县住建局将背街小巷路灯纳入统一管护", "raised_by": "member", "scope": "county"},
]
TRIES = 4


@pytest.fixture
def world(app):
    return consult_world.build(app)


@pytest.fixture
def pg(app):
    if app.extensions["db"].engine.dialect.name != "postgresql":
        pytest.skip("needs PostgreSQL (TEST_DATABASE_URL): SQLite runs one transaction at a time")
    return app


def answer(r):
    return r.status_code, r.get_json()


# --- topics ---------------------------------------------------------------------------------------

def draft(client, world) -> int:
    """A draft topic on the village room (chain: village Party organisation vets, the town's
    Party committee approves, the county CPPCC files)."""
    return ok(client.post(f"/api/platforms/{world['rooms']['village']}/topics", json=TOPIC,
                          headers=as_(world, "conv_village")), 201)["id"]


def submitted(client, world) -> tuple[int, dict]:
    topic_id = draft(client, world)
    topic = ok(client.post(f"/api/topics/{topic_id}/submit", headers=as_(world, "conv_village")))
    return topic_id, topic


def first_step(topic) -> int:
    return next(s["id"] for s in topic["steps"] if s["seq"] == 1
                and s["round"] == topic["approval_round"])


def decide(client, world, who, topic_id, step_id, verb, note="同意"):
    if verb == "return":
        note = "请补充维修资金来源"
    return client.post(f"/api/topics/{topic_id}/steps/{step_id}/{verb}", json={"note": note},
                       headers=as_(world, who))


def topic_record(app, topic_id) -> dict:
    """What the database holds about a topic's decisions: step states of the current round,
    decision audit entries, public trail kinds and review requests for each step."""
    with committed_session(app) as s:
        topic = s.get(Topic, topic_id)
        steps = s.scalars(select(ApprovalStep).where(
            ApprovalStep.topic_id == topic_id, ApprovalStep.round == topic.approval_round)
            .order_by(ApprovalStep.seq)).all()
        audits = s.scalars(select(AuditEntry.action).where(
            AuditEntry.object_type == "topic", AuditEntry.object_id == str(topic_id))
            .order_by(AuditEntry.id)).all()
        trail = s.scalars(select(TimelineEntry.kind).where(TimelineEntry.topic_id == topic_id)
                          .order_by(TimelineEntry.id)).all()
        requests = {step.seq: s.scalar(select(func.count()).select_from(OutboxMessage).where(
            OutboxMessage.kind == "review_request",
            OutboxMessage.dedupe_key.like(f"%:step:{step.id}:%"))) for step in steps}
        return {"state": topic.state.value, "round": topic.approval_round,
                "steps": [st.state.value for st in steps], "audits": list(audits),
                "trail": list(trail), "requests": requests,
                "all_steps": s.scalar(select(func.count()).select_from(ApprovalStep).where(
                    ApprovalStep.topic_id == topic_id))}


APPROVED_FIRST = {"state": "in_approval", "steps": ["approved", "pending", "waiting"],
                  "audits": ["topic.create", "topic.submit", "topic.step.approve"],
                  "trail": ["submitted", "step_passed"]}
RETURNED_FIRST = {"state": "returned", "steps": ["returned", "cancelled", "cancelled"],
                  "audits": ["topic.create", "topic.submit", "topic.step.return"],
                  "trail": ["submitted", "returned"]}


def assert_record(got: dict, want: dict) -> None:
    assert {k: got[k] for k in want} == want, got


def add_colleague(app, world, body_key: str) -> str:
    """A second reviewer of the same body, with a token."""
    from app.auth.current import open_session
    from app.auth.models import SessionKind

    with committed_session(app) as s:
        p = f.create_person(s, name="审核同事")
        f.assign_role(s, p, Role.reviewer, body=s.get(Body, world["bodies"][body_key]))
        s.flush()
        world["tokens"]["colleague"] = open_session(s, p, SessionKind.mp, timedelta(hours=1))[0]
    return "colleague"


def test_the_same_decision_again_is_answered_as_the_first(client, app, world):
    """D8: a lost answer, tapped again: the same 200 body, and no second audit entry, trail
    entry or notice to the next body."""
    topic_id, topic = submitted(client, world)
    step = first_step(topic)
    first = answer(decide(client, world, "rev_village_po", topic_id, step, "approve"))
    assert first[0] == 200 and first[1]["steps"][0]["state"] == "approved"
    again = answer(decide(client, world, "rev_village_po", topic_id, step, "approve"))
    assert again == first
    record = topic_record(app, topic_id)
    assert_record(record, APPROVED_FIRST)
    assert record["requests"] == {1: 1, 2: 1, 3: 0}


def test_a_returned_step_returned_again_is_a_replay(client, app, world):
    topic_id, topic = submitted(client, world)
    step = first_step(topic)
    first = answer(decide(client, world, "rev_village_po", topic_id, step, "return"))
    assert first[0] == 200 and first[1]["state"] == "returned"
    assert answer(decide(client, world, "rev_village_po", topic_id, step, "return")) == first
    assert_record(topic_record(app, topic_id), RETURNED_FIRST)


@pytest.mark.parametrize("verb,other", [("approve", "return"), ("return", "approve")])
def test_a_different_decision_on_a_decided_step_is_409(client, app, world, verb, other):
    topic_id, topic = submitted(client, world)
    step = first_step(topic)
    ok(decide(client, world, "rev_village_po", topic_id, step, verb))
    r = decide(client, world, "rev_village_po", topic_id, step, other)
    assert r.status_code == 409 and r.json["error"] == "step_not_current", r.json
    assert r.json["message"]
    assert_record(topic_record(app, topic_id),
                  APPROVED_FIRST if verb == "approve" else RETURNED_FIRST)


def test_a_colleague_repeating_a_decision_already_taken_gets_409(client, app, world):
    """The replay is the deciding reviewer's own: a colleague of the same body who approves
    the same step learns it was already handled (and nothing is written twice)."""
    who = add_colleague(app, world, "village_po")
    topic_id, topic = submitted(client, world)
    step = first_step(topic)
    ok(decide(client, world, "rev_village_po", topic_id, step, "approve"))
    r = decide(client, world, who, topic_id, step, "approve")
    assert r.status_code == 409 and r.json["error"] == "step_not_current"
    assert_record(topic_record(app, topic_id), APPROVED_FIRST)


def test_a_decision_retried_after_the_next_round_began_is_still_a_replay(client, app, world):
    """A reviewer's return, re-sent after the convenor revised and resubmitted: the retry is
    answered 200 with the topic as it is now, and does not touch the new round."""
    topic_id, topic = submitted(client, world)
    step = first_step(topic)
    ok(decide(client, world, "rev_village_po", topic_id, step, "return"))
    ok(client.post(f"/api/topics/{topic_id}/submit", headers=as_(world, "conv_village")))
    status, body = answer(decide(client, world, "rev_village_po", topic_id, step, "return"))
    assert status == 200 and body["approval_round"] == 2 and body["state"] == "in_approval"
    record = topic_record(app, topic_id)
    assert record["steps"] == ["pending", "waiting", "waiting"]
    assert record["audits"].count("topic.step.return") == 1
    # A different decision on the old round's step is refused as before.
    r = decide(client, world, "rev_village_po", topic_id, step, "approve")
    assert r.status_code == 409 and r.json["error"] == "step_not_current"


@pytest.mark.postgres
@pytest.mark.parametrize("calls,codes", [
    # The same reviewer sends 审核通过 and 退回修改 at the same moment.
    ([("rev_village_po", "approve"), ("rev_village_po", "return")], [200, 409]),
    # Three taps on 审核通过: the first decision and two replays.
    ([("rev_village_po", "approve")] * 3, [200, 200, 200]),
    # Two reviewers of one body, one approving, one returning.
    ([("rev_village_po", "approve"), ("colleague", "return")], [200, 409]),
], ids=["approve_and_return", "approve_three_times", "two_reviewers"])
def test_racing_decisions_on_a_step_take_one_decision(pg, world, calls, codes):
    """Issue 10 A1: exactly one decision per step. The same decision again is answered as the
    first (same body), a different one is 409 step_not_current; the topic and its steps agree
    with the winner, with one audit entry, one trail entry, one request to the next body, and
    never a 500."""
    if any(who == "colleague" for who, _ in calls):
        add_colleague(pg, world, "village_po")
    client = pg.test_client()
    for _ in range(TRIES):
        topic_id, topic = submitted(client, world)
        step = first_step(topic)
        results = race_in_order(pg, len(calls), lambda local, i: answer(
            decide(local, world, calls[i][0], topic_id, step, calls[i][1])))
        assert sorted(code for code, _ in results) == codes, results
        assert all(body["error"] == "step_not_current" for code, body in results if code == 409)
        answered = [body for code, body in results if code == 200]
        assert all(body == answered[0] for body in answered)
        record = topic_record(pg, topic_id)
        approved = answered[0]["state"] == "in_approval"
        assert_record(record, APPROVED_FIRST if approved else RETURNED_FIRST)
        # The next body is asked once (its one reviewer), or not at all after a return.
        assert (record["requests"][2], record["requests"][3]) == ((1, 0) if approved else (0, 0))
        assert [st["state"] for st in answered[0]["steps"]] == record["steps"]


@pytest.mark.postgres
def test_a_double_tap_on_submit_submits_once(pg, world):
    """Issue 10 A2: three submits at once: one 200, the others 409 topic_not_submittable —
    never a 500 — and one round of steps, one audit entry, one trail entry."""
    client = pg.test_client()
    for _ in range(TRIES):
        topic_id = draft(client, world)
        results = race_in_order(pg, 3, lambda local, i: answer(local.post(
            f"/api/topics/{topic_id}/submit", headers=as_(world, "conv_village"))))
        assert sorted(code for code, _ in results) == [200, 409, 409], results
        assert all(body["error"] == "topic_not_submittable" for code, body in results
                   if code == 409)
        record = topic_record(pg, topic_id)
        assert record["round"] == 1 and record["all_steps"] == 3
        assert_record(record, {"state": "in_approval", "steps": ["pending", "waiting", "waiting"],
                               "audits": ["topic.create", "topic.submit"],
                               "trail": ["submitted"]})


@pytest.mark.postgres
def test_a_double_tap_on_resubmit_opens_one_new_round(pg, world):
    client = pg.test_client()
    for _ in range(TRIES):
        topic_id, topic = submitted(client, world)
        ok(decide(client, world, "rev_village_po", topic_id, first_step(topic), "return"))
        results = race_in_order(pg, 2, lambda local, i: answer(local.post(
            f"/api/topics/{topic_id}/submit", headers=as_(world, "conv_village"))))
        assert sorted(code for code, _ in results) == [200, 409], results
        record = topic_record(pg, topic_id)
        assert record["round"] == 2 and record["all_steps"] == 6
        assert record["steps"] == ["pending", "waiting", "waiting"]
        assert record["audits"].count("topic.submit") == 2


# --- opinion lists (D18) --------------------------------------------------------------------------

def routed_list(client, app, world) -> dict:
    """A held consultation on the village topic, its list compiled and routed; the routings'
    ids by (scope, stage, body)."""
    cid = held_meeting(client, app, world)
    ok(client.put(f"/api/consultations/{cid}/opinions", json={"items": ITEMS},
                  headers=as_(world, "conv_village")))
    listing = ok(client.post(f"/api/consultations/{cid}/opinions/route",
                             headers=as_(world, "conv_village")))
    return {(r["scope"], r["stage"], r["body_id"]): r["id"] for r in listing["routings"]}


def routing_decision(client, world, who, routing_id, forward, note=None):
    data = {"forward": forward}
    if note is not None:
        data["note"] = note
    return client.post(f"/api/opinion-routings/{routing_id}/decision", json=data,
                       headers=as_(world, who))


def routing_record(app, routings: dict, world) -> dict:
    b = world["bodies"]
    with committed_session(app) as s:
        states = {key: s.get(OpinionRouting, rid).state.value for key, rid in routings.items()}
        review = routings[("county", 1, b["county_pg"])]
        audits = s.scalars(select(AuditEntry.action).where(
            AuditEntry.object_type == "opinion_routing", AuditEntry.object_id == str(review))
        ).all()
        stage2 = [routings[("county", 2, b[k])] for k in ("county_pc", "county_gov")]
        notices = s.scalar(select(func.count()).select_from(OutboxMessage).where(
            OutboxMessage.kind == "review_request",
            OutboxMessage.link.in_([f"/pages/opinions/opinions?routing={r}" for r in stage2])))
    return {"review": states[("county", 1, b["county_pg"])],
            "stage2": sorted(states[("county", 2, b[k])] for k in ("county_pc", "county_gov")),
            "audits": list(audits), "notices": notices}


FORWARDED = {"review": "forwarded", "stage2": ["pending", "pending"],
             "audits": ["opinions.forwarded"], "notices": 2}
HELD_BACK = {"review": "held_back", "stage2": ["waiting", "waiting"],
             "audits": ["opinions.held_back"], "notices": 0}
HOLD_NOTE = "县级管护资金正在统筹，暂缓转送"


def test_the_same_routing_decision_again_is_answered_as_the_first(client, app, world):
    routings = routed_list(client, app, world)
    review = routings[("county", 1, world["bodies"]["county_pg"])]
    first = answer(routing_decision(client, world, "rev_county_pg", review, True))
    assert first[0] == 200 and first[1]["state"] == "forwarded"
    assert answer(routing_decision(client, world, "rev_county_pg", review, True)) == first
    record = routing_record(app, routings, world)
    assert {k: record[k] for k in FORWARDED} == FORWARDED
    # Holding back what was forwarded is a different decision: 409 routing_decided.
    r = routing_decision(client, world, "rev_county_pg", review, False, HOLD_NOTE)
    assert r.status_code == 409 and r.json["error"] == "routing_decided"
    # A receiving body's acknowledgement, sent twice: one receipt.
    pc = routings[("county", 2, world["bodies"]["county_pc"])]
    first = answer(routing_decision(client, world, "rev_county_pc", pc, True))
    assert first[0] == 200 and first[1]["state"] == "received"
    assert answer(routing_decision(client, world, "rev_county_pc", pc, True)) == first
    with committed_session(app) as s:
        assert s.scalars(select(AuditEntry.action).where(
            AuditEntry.object_type == "opinion_routing", AuditEntry.object_id == str(pc))
        ).all() == ["opinions.received"]


def test_a_held_back_routing_held_back_again_is_a_replay(client, app, world):
    routings = routed_list(client, app, world)
    review = routings[("county", 1, world["bodies"]["county_pg"])]
    first = answer(routing_decision(client, world, "rev_county_pg", review, False, HOLD_NOTE))
    assert first[0] == 200 and first[1]["state"] == "held_back"
    assert answer(routing_decision(client, world, "rev_county_pg", review, False,
                                   HOLD_NOTE)) == first
    r = routing_decision(client, world, "rev_county_pg", review, True)
    assert r.status_code == 409 and r.json["error"] == "routing_decided"
    record = routing_record(app, routings, world)
    assert {k: record[k] for k in HELD_BACK} == HELD_BACK


def test_a_colleague_repeating_a_routing_decision_gets_409(client, app, world):
    who = add_colleague(app, world, "county_pg")
    routings = routed_list(client, app, world)
    review = routings[("county", 1, world["bodies"]["county_pg"])]
    ok(routing_decision(client, world, "rev_county_pg", review, True))
    r = routing_decision(client, world, who, review, True)
    assert r.status_code == 409 and r.json["error"] == "routing_decided"
    assert routing_record(app, routings, world)["audits"] == ["opinions.forwarded"]


@pytest.mark.postgres
@pytest.mark.parametrize("choices,codes", [
    ([(True, None), (False, HOLD_NOTE)], [200, 409]),  # 转送 and 暂不转送 at the same moment
    ([(True, None)] * 3, [200, 200, 200]),             # three taps on 转送
], ids=["forward_and_hold_back", "forward_three_times"])
def test_racing_routing_decisions_take_one_decision(pg, world, choices, codes):
    """Issue 10 A1 for opinion lists: one decision wins; the same decision again is answered
    as the first (same body), a different one 409 routing_decided; one audit entry, and the
    next stage opened (and its bodies notified) once or not at all."""
    client = pg.test_client()
    for _ in range(TRIES):
        routings = routed_list(client, pg, world)
        review = routings[("county", 1, world["bodies"]["county_pg"])]
        results = race_in_order(pg, len(choices), lambda local, i: answer(routing_decision(
            local, world, "rev_county_pg", review, *choices[i])))
        assert sorted(code for code, _ in results) == codes, results
        assert all(body["error"] == "routing_decided" for code, body in results if code == 409)
        answered = [body for code, body in results if code == 200]
        assert all(body == answered[0] for body in answered)
        record = routing_record(pg, routings, world)
        want = FORWARDED if answered[0]["state"] == "forwarded" else HELD_BACK
        assert {k: record[k] for k in want} == want, record
