"""D8 end to end over HTTP: every host unit's chain, return and resubmit, and refusals when the
wrong body's reviewer acts or a step would be skipped."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from app.audit.models import AuditEntry
from app.auth.current import open_session
from app.auth.models import SessionKind
from app.notify.models import OutboxMessage
from app.org import factories as f
from app.org.models import BodyKind, HostType, PlatformKind, Role

from ..helpers import bearer, committed_session


@pytest.fixture
def world(app):
    """A county with a town, a village, an enterprise and a county sector; every body of the
    chains with one reviewer; one convenor per room; tokens for everyone."""
    w = {}
    with committed_session(app) as s:
        city, county, town, village = f.create_region_chain(
            s, code="9000", names=("测试市", "东县", "新坝镇", "前进村"))
        other_town = f.create_region(s, code="9001002", name="白塔镇", kind="township",
                                     parent=county)
        ent = f.create_enterprise(s, name="东县食品厂", region=town)
        bodies = {
            "town_pc": f.create_body(s, name="新坝镇党委", kind=BodyKind.party_committee,
                                     region=town),
            "other_pc": f.create_body(s, name="白塔镇党委", kind=BodyKind.party_committee,
                                      region=other_town),
            "county_cppcc": f.create_body(s, name="东县政协", kind=BodyKind.cppcc, region=county),
            "village_po": f.create_body(s, name="前进村党总支", kind=BodyKind.party_org,
                                        region=village),
            "ent_po": f.create_body(s, name="东县食品厂党支部", kind=BodyKind.party_org,
                                    region=town, enterprise=ent),
            "party_group": f.create_body(s, name="东县政协党组",
                                         kind=BodyKind.cppcc_party_group, region=county),
            "special": f.create_body(s, name="东县政协文教卫体委员会",
                                     kind=BodyKind.cppcc_special_committee, region=county),
        }
        sector = f.create_sector(s, name="教育界", region=county,
                                 special_committee=bodies["special"])
        rooms = {
            "town": f.create_platform(s, kind=PlatformKind.room, host_type=HostType.town,
                                      region=town),
            "village": f.create_platform(s, kind=PlatformKind.room, host_type=HostType.village,
                                         region=village),
            "enterprise": f.create_platform(s, kind=PlatformKind.room,
                                            host_type=HostType.enterprise, enterprise=ent),
            "sector": f.create_platform(s, kind=PlatformKind.room, host_type=HostType.sector,
                                        sector=sector),
            "other_town": f.create_platform(s, kind=PlatformKind.room, host_type=HostType.town,
                                            region=other_town),
        }
        people = {}
        for key, body in bodies.items():
            p = f.create_person(s, name=f"审核{key}")
            f.assign_role(s, p, Role.reviewer, body=body)
            people[f"rev_{key}"] = p
        for key, room in rooms.items():
            p = f.create_person(s, name=f"召集{key}")
            f.set_convenor(s, room, p)
            people[f"conv_{key}"] = p
        people["resident"] = f.create_person(s, name="张居民", home_region=village)
        s.flush()
        w["tokens"] = {k: open_session(s, p, SessionKind.mp, timedelta(hours=1))[0]
                       for k, p in people.items()}
        w["people"] = {k: p.id for k, p in people.items()}
        w["rooms"] = {k: r.id for k, r in rooms.items()}
        w["bodies"] = {k: b.id for k, b in bodies.items()}
    return w


TOPIC = {"title": "老旧小区加装电梯", "description": "多位老人反映上下楼困难，希望协商加装电梯的出资和维护办法。",
         "category": "livelihood", "source": "proposed"}


def as_(world, who):
    return bearer(world["tokens"][who])


def draft(client, world, room):
    r = client.post(f"/api/platforms/{world['rooms'][room]}/topics", json=TOPIC,
                    headers=as_(world, f"conv_{room}"))
    assert r.status_code == 201, r.json
    return r.json["id"]


def current_step(topic):
    pending = [s for s in topic["steps"]
               if s["state"] == "pending" and s["round"] == topic["approval_round"]]
    assert len(pending) == 1, topic["steps"]
    return pending[0]


def act(client, world, who, topic_id, step_id, verb="approve", note=None):
    return client.post(f"/api/topics/{topic_id}/steps/{step_id}/{verb}",
                       json={"note": note} if note is not None else {},
                       headers=as_(world, who))


@pytest.mark.parametrize("room,reviewers", [
    ("town", ["rev_town_pc", "rev_county_cppcc"]),
    ("village", ["rev_village_po", "rev_town_pc", "rev_county_cppcc"]),
    ("enterprise", ["rev_ent_po", "rev_town_pc", "rev_county_cppcc"]),
    ("sector", ["rev_special", "rev_party_group"]),
])
def test_each_d8_path_end_to_end(client, app, world, room, reviewers):
    topic_id = draft(client, world, room)
    r = client.post(f"/api/topics/{topic_id}/submit", headers=as_(world, f"conv_{room}"))
    assert r.status_code == 200, r.json
    topic = r.json
    assert topic["state"] == "in_approval"
    assert [s["body_id"] for s in topic["steps"]] == [
        world["bodies"][who[4:]] for who in reviewers]
    for who in reviewers:
        step = current_step(topic)
        assert step["body_id"] == world["bodies"][who[4:]]
        assert step["due_on"] is not None
        # The reviewer sees it in their queue.
        queue = client.get("/api/me/reviews", headers=as_(world, who)).json["items"]
        assert [i["step_id"] for i in queue] == [step["id"]]
        assert queue[0]["body_name"] == step["body_name"]
        r = act(client, world, who, topic_id, step["id"], note="同意")
        assert r.status_code == 200, r.json
        topic = r.json
    assert topic["state"] == "approved" and topic["approved_at"]
    assert all(s["state"] == "approved" for s in topic["steps"])

    with app.app_context():
        s = app.extensions["db"].new_session()
        kinds = [a.action for a in s.scalars(select(AuditEntry).where(
            AuditEntry.object_type == "topic", AuditEntry.object_id == str(topic_id))
            .order_by(AuditEntry.id))]
        assert kinds == ["topic.create", "topic.submit"] + ["topic.step.approve"] * len(reviewers)
        requests = s.scalars(select(OutboxMessage).where(
            OutboxMessage.kind == "review_request")).all()
        assert sorted(m.recipient_id for m in requests) == sorted(
            world["people"][who] for who in reviewers)
        approved = s.scalars(select(OutboxMessage).where(
            OutboxMessage.kind == "status_change")).all()
        assert [m.recipient_id for m in approved] == [world["people"][f"conv_{room}"]]
        s.close()


def test_return_and_resubmit_starts_a_new_round(client, app, world):
    topic_id = draft(client, world, "village")
    topic = client.post(f"/api/topics/{topic_id}/submit", headers=as_(world, "conv_village")).json
    first = current_step(topic)
    assert act(client, world, "rev_village_po", topic_id, first["id"]).status_code == 200
    topic = client.get(f"/api/topics/{topic_id}", headers=as_(world, "conv_village")).json
    second = current_step(topic)

    # Returning needs a reason.
    r = act(client, world, "rev_town_pc", topic_id, second["id"], "return", note="  ")
    assert r.status_code == 422 and r.json["error"] == "reason_required"
    r = act(client, world, "rev_town_pc", topic_id, second["id"], "return",
            note="请补充资金来源和维护责任")
    assert r.status_code == 200
    topic = r.json
    assert topic["state"] == "returned"
    assert [s["state"] for s in topic["steps"]] == ["approved", "returned", "cancelled"]

    # The convenor was told why.
    with app.app_context():
        s = app.extensions["db"].new_session()
        notice = s.scalar(select(OutboxMessage).where(OutboxMessage.kind == "status_change"))
        assert notice.recipient_id == world["people"]["conv_village"]
        assert "请补充资金来源和维护责任" in notice.body
        s.close()

    # Revise, resubmit: a new round from the first step; old steps cannot be acted on.
    r = client.patch(f"/api/topics/{topic_id}", json={"description": TOPIC["description"] +
                     "资金由居民、财政、产权单位按比例分担。"}, headers=as_(world, "conv_village"))
    assert r.status_code == 200
    topic = client.post(f"/api/topics/{topic_id}/submit", headers=as_(world, "conv_village")).json
    assert topic["approval_round"] == 2 and topic["state"] == "in_approval"
    r = act(client, world, "rev_town_pc", topic_id, second["id"])
    assert r.status_code == 409 and r.json["error"] == "step_not_current"
    for who in ("rev_village_po", "rev_town_pc", "rev_county_cppcc"):
        topic = act(client, world, who, topic_id, current_step(topic)["id"]).json
    assert topic["state"] == "approved"
    assert len(topic["steps"]) == 6


def test_wrong_body_and_skipped_steps_are_refused(client, world):
    topic_id = draft(client, world, "village")
    topic = client.post(f"/api/topics/{topic_id}/submit", headers=as_(world, "conv_village")).json
    first, second, third = sorted(topic["steps"], key=lambda s: s["seq"])

    # Another town's Party committee cannot act on this topic at all: it is not in its chain.
    r = act(client, world, "rev_other_pc", topic_id, first["id"])
    assert r.status_code == 404
    # The town's Party committee is in the chain, but step 1 belongs to the village organisation.
    r = act(client, world, "rev_town_pc", topic_id, first["id"])
    assert r.status_code == 403 and r.json["error"] == "not_step_reviewer"
    # Skipping ahead: step 2 and 3 are not pending yet.
    r = act(client, world, "rev_town_pc", topic_id, second["id"])
    assert r.status_code == 409 and r.json["error"] == "step_not_current"
    r = act(client, world, "rev_county_cppcc", topic_id, third["id"])
    assert r.status_code == 409
    # A resident is not a reviewer; a convenor cannot approve their own topic.
    assert act(client, world, "resident", topic_id, first["id"]).status_code == 403
    assert act(client, world, "conv_village", topic_id, first["id"]).status_code == 403
    # Acting twice on the same step: the same decision again is a replay (the same answer),
    # a different one is refused.
    done = act(client, world, "rev_village_po", topic_id, first["id"])
    assert done.status_code == 200
    r = act(client, world, "rev_village_po", topic_id, first["id"])
    assert r.status_code == 200 and r.json == done.json
    r = act(client, world, "rev_village_po", topic_id, first["id"], "return", note="再看看")
    assert r.status_code == 409 and r.json["error"] == "step_not_current"
    # Nothing changed by the refused attempts: step 2 is pending, 3 waiting.
    topic = client.get(f"/api/topics/{topic_id}", headers=as_(world, "conv_village")).json
    assert [s["state"] for s in sorted(topic["steps"], key=lambda s: s["seq"])] == [
        "approved", "pending", "waiting"]


def test_submission_rules_and_jurisdiction(client, app, world):
    topic_id = draft(client, world, "town")
    # Another room's convenor neither sees nor submits it; a resident cannot draft.
    r = client.post(f"/api/topics/{topic_id}/submit", headers=as_(world, "conv_other_town"))
    assert r.status_code == 404
    r = client.get(f"/api/topics/{topic_id}", headers=as_(world, "resident"))
    assert r.status_code == 404
    r = client.post(f"/api/platforms/{world['rooms']['town']}/topics", json=TOPIC,
                    headers=as_(world, "resident"))
    assert r.status_code == 403
    r = client.post(f"/api/platforms/{world['rooms']['town']}/topics", json=TOPIC,
                    headers=as_(world, "conv_other_town"))
    assert r.status_code == 404
    # Bad input keeps the stored topic intact.
    r = client.patch(f"/api/topics/{topic_id}", json={"title": 123, "evil": "x"},
                     headers=as_(world, "conv_town"))
    assert r.status_code == 422
    assert client.get(f"/api/topics/{topic_id}",
                      headers=as_(world, "conv_town")).json["title"] == TOPIC["title"]
    # Submitting twice is refused; editing while in approval is refused.
    assert client.post(f"/api/topics/{topic_id}/submit",
                       headers=as_(world, "conv_town")).status_code == 200
    r = client.post(f"/api/topics/{topic_id}/submit", headers=as_(world, "conv_town"))
    assert r.status_code == 409 and r.json["error"] == "topic_not_submittable"
    r = client.patch(f"/api/topics/{topic_id}", json={"title": "新的标题内容"},
                     headers=as_(world, "conv_town"))
    assert r.status_code == 409 and r.json["error"] == "topic_not_editable"


def test_chain_with_an_unregistered_body_is_refused_clearly(client, app, world):
    from app.org.models import Body, RoleAssignment

    with committed_session(app) as s:
        body_id = world["bodies"]["village_po"]
        for ra in s.scalars(select(RoleAssignment).where(RoleAssignment.body_id == body_id)):
            s.delete(ra)
        s.flush()
        s.delete(s.get(Body, body_id))
    topic_id = draft(client, world, "village")
    r = client.post(f"/api/topics/{topic_id}/submit", headers=as_(world, "conv_village"))
    assert r.status_code == 409 and r.json["error"] == "approval_chain_incomplete"
    assert "本级党组织" in r.json["message"]
    topic = client.get(f"/api/topics/{topic_id}", headers=as_(world, "conv_village")).json
    assert topic["state"] == "draft" and topic["steps"] == []


def test_someone_without_a_review_role_has_an_empty_queue(client, world):
    r = client.get("/api/me/reviews", headers=as_(world, "resident"))
    assert r.status_code == 200 and r.json == {"items": []}
    assert client.get("/api/me/reviews").status_code == 401
