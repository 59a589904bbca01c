"""Issue 3 item 8: following suggestions and topics, the public timelines (no personal data),
and every D8 transition of a topic on its public trail and in its followers' notices."""
from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from app.notify.models import OutboxMessage
from app.org.models import Platform
from app.suggestions import trail
from app.suggestions.models import Suggestion, SuggestionState

from ..helpers import committed_session
from .test_takeup import PHONE, add_suggestion, as_, build_world, take_up


@pytest.fixture
def world(app):
    return build_world(app)


def _suggestion(app, world, **kw):
    p = world["people"]
    with committed_session(app) as s:
        return add_suggestion(s, platform_id=world["rooms"]["village"], proposer_id=p["r0"],
                              title=kw.pop("title", "村里小广场的健身器材坏了"), **kw)


# --- follow / unfollow ---------------------------------------------------------------------------

def test_follow_a_suggestion_is_idempotent_and_counted_exactly(client, app, world):
    sid = _suggestion(app, world)  # the proposer follows: 1
    url = f"/api/suggestions/{sid}/follow"
    r = client.post(url, headers=as_(world, "r1"))
    assert r.status_code == 200 and r.json == {"following": True, "changed": True,
                                              "follower_count": 2}
    r = client.post(url, headers=as_(world, "r1"))  # a double tap
    assert r.json == {"following": True, "changed": False, "follower_count": 2}
    r = client.post(url, headers=as_(world, "r2"))
    assert r.json["follower_count"] == 3
    r = client.delete(url, headers=as_(world, "r1"))
    assert r.json == {"following": False, "changed": True, "follower_count": 2}
    r = client.delete(url, headers=as_(world, "r1"))
    assert r.json == {"following": False, "changed": False, "follower_count": 2}
    assert client.post(url).status_code == 401
    with committed_session(app) as s:
        assert trail.follower_ids(s, suggestion_id=sid) == sorted(
            [world["people"]["r0"], world["people"]["r2"]])


def test_held_suggestions_cannot_be_followed_or_seen(client, app, world):
    sid = _suggestion(app, world, state=SuggestionState.held)
    assert client.post(f"/api/suggestions/{sid}/follow",
                       headers=as_(world, "r1")).status_code == 404
    assert client.get(f"/api/suggestions/{sid}/timeline").status_code == 404
    assert client.get("/api/suggestions/999999/timeline").status_code == 404


def test_following_a_taken_up_suggestion_also_follows_its_topic(client, app, world):
    sid = _suggestion(app, world)
    topic_id = take_up(client, world, [sid]).json["topic"]["id"]
    r = client.post(f"/api/suggestions/{sid}/follow", headers=as_(world, "r3"))
    assert r.status_code == 200 and r.json["changed"] is True
    with committed_session(app) as s:
        assert world["people"]["r3"] in trail.follower_ids(s, topic_id=topic_id)


def test_follow_a_topic_and_list_my_follows(client, app, world):
    sids = [_suggestion(app, world, title=f"建议第{i}条：修缮村道") for i in range(3)]
    topic_id = take_up(client, world, [sids[0]]).json["topic"]["id"]
    url = f"/api/topics/{topic_id}/follow"
    r = client.post(url, headers=as_(world, "r4"))
    # r0 (the proposer) was carried over, r4 is new.
    assert r.json == {"following": True, "changed": True, "follower_count": 2}
    assert client.post(url, headers=as_(world, "r4")).json["changed"] is False
    for sid in sids[1:]:
        client.post(f"/api/suggestions/{sid}/follow", headers=as_(world, "r4"))

    page = client.get("/api/me/follows?limit=2", headers=as_(world, "r4")).json
    assert [(i["subject"], i["id"]) for i in page["items"]] == [
        ("suggestion", sids[2]), ("suggestion", sids[1])]
    assert page["items"][0]["state_label"] == "征集中"
    rest = client.get(f"/api/me/follows?limit=2&before_id={page['next_before_id']}",
                      headers=as_(world, "r4")).json
    assert [(i["subject"], i["id"], i["state_label"]) for i in rest["items"]] == [
        ("topic", topic_id, "草拟中")]
    assert rest["next_before_id"] is None
    # Someone else's follows are not mine.
    mine = client.get("/api/me/follows", headers=as_(world, "r3")).json
    assert mine["items"] == []

    assert client.delete(url, headers=as_(world, "r4")).json["follower_count"] == 1
    assert client.post("/api/topics/999999/follow", headers=as_(world, "r4")).status_code == 404


# --- public timelines ----------------------------------------------------------------------------

def _assert_no_personal_data(world, payload):
    text = json.dumps(payload, ensure_ascii=False)
    for name in world["names"].values():
        assert name not in text, name
    assert PHONE[:7] not in text
    assert "openid" not in text


def test_suggestion_timeline_is_public_and_has_no_personal_data(client, app, world):
    sid = _suggestion(app, world, title="村口的路灯坏了13912345670")
    with committed_session(app) as s:
        trail.add_timeline(s, suggestion_id=sid, kind="published", text="建议已公开，欢迎支持和评论")
    topic = take_up(client, world, [sid], title="村口路灯维修").json["topic"]
    r = client.get(f"/api/suggestions/{sid}/timeline")  # anonymous
    assert r.status_code == 200
    body = r.json
    assert body["state"] == "taken_up" and body["state_label"] == "已列为议题"
    assert body["topic_id"] == topic["id"] and body["following"] is None
    assert [i["kind"] for i in body["items"]] == ["published", "taken_up"]
    assert body["items"][1]["text"] == "已列为议题：村口路灯维修"
    # The title is the proposer's own public text; the phone number in it is shown as typed on
    # the suggestion itself but never copied onto the topic's trail.
    topic_tl = client.get(f"/api/topics/{topic['id']}/timeline").json
    assert topic_tl["items"][0]["text"] == \
        "由群众建议“村口的路灯坏了***”列为议题，召集人正在准备报送审核"
    _assert_no_personal_data(world, topic_tl)
    _assert_no_personal_data(world, {k: v for k, v in body.items() if k != "title"})
    # A logged-in viewer sees whether they follow it.
    assert client.get(f"/api/suggestions/{sid}/timeline",
                      headers=as_(world, "r0")).json["following"] is True


def test_topic_timeline_of_an_inactive_platform_is_not_found(client, app, world):
    sid = _suggestion(app, world)
    topic_id = take_up(client, world, [sid]).json["topic"]["id"]
    assert client.get(f"/api/topics/{topic_id}/timeline").status_code == 200
    with committed_session(app) as s:
        s.get(Platform, world["rooms"]["village"]).is_active = False
    assert client.get(f"/api/topics/{topic_id}/timeline").status_code == 404
    assert client.get(f"/api/suggestions/{sid}/timeline").status_code == 404


# --- D8 transitions on the public trail ----------------------------------------------------------

def _step(topic):
    pending = [s for s in topic["steps"]
               if s["state"] == "pending" and s["round"] == topic["approval_round"]]
    assert len(pending) == 1
    return pending[0]["id"]


def _act(client, world, who, topic, verb="approve", note=None):
    r = client.post(f"/api/topics/{topic['id']}/steps/{_step(topic)}/{verb}",
                    json={} if note is None else {"note": note}, headers=as_(world, who))
    assert r.status_code == 200, r.json
    return r.json


def _follower_notices(app, person_id, keys=False):
    with app.app_context():
        s = app.extensions["db"].new_session()
        try:
            return [m.dedupe_key if keys else (m.title, m.body) for m in s.scalars(
                select(OutboxMessage).where(OutboxMessage.recipient_id == person_id,
                                            OutboxMessage.kind == "status_change")
                .order_by(OutboxMessage.id))]
        finally:
            s.close()


RETURN_REASON = "请补充村民代表会议记录和资金测算"


def test_topic_transitions_are_on_the_trail_and_reach_followers(client, app, world):
    p = world["people"]
    sid = _suggestion(app, world, followers=[p["r1"]])
    topic = take_up(client, world, [sid]).json["topic"]
    client.post(f"/api/topics/{topic['id']}/follow", headers=as_(world, "r2"))

    conv = as_(world, "conv_village")
    topic = client.post(f"/api/topics/{topic['id']}/submit", headers=conv).json
    topic = _act(client, world, "rev_village_po", topic)          # vet passed
    topic = _act(client, world, "rev_town_pc", topic, "return", RETURN_REASON)
    assert topic["state"] == "returned"
    topic = client.post(f"/api/topics/{topic['id']}/submit", headers=conv).json  # round 2
    for who in ("rev_village_po", "rev_town_pc", "rev_county_cppcc"):
        topic = _act(client, world, who, topic)
    assert topic["state"] == "approved"

    tl = client.get(f"/api/topics/{topic['id']}/timeline").json
    assert tl["state"] == "approved" and tl["state_label"] == "已审定"
    assert [(i["kind"], i["text"]) for i in tl["items"]] == [
        ("topic_created", "由群众建议“村里小广场的健身器材坏了”列为议题，召集人正在准备报送审核"),
        ("submitted", "已提交审核，当前环节：柳树村党总支把关"),
        ("step_passed", "已通过柳树村党总支把关，进入下一环节：清河镇党委审定"),
        ("returned", "在审定环节退回修改，召集人修改后将重新提交审核"),
        ("submitted", "修改后重新提交审核（第2轮），当前环节：柳树村党总支把关"),
        ("step_passed", "已通过柳树村党总支把关，进入下一环节：清河镇党委审定"),
        ("step_passed", "已通过清河镇党委审定，进入下一环节：南县政协备案"),
        ("approved", "已通过南县政协备案，完成审核程序，将开展调研和协商"),
    ]
    # The return reason and the reviewers' names stay off the public trail.
    text = json.dumps(tl, ensure_ascii=False)
    assert RETURN_REASON not in text
    _assert_no_personal_data(world, tl)

    # Each follower got each event exactly once: the take-up (for those carried over from the
    # suggestion) + 7 transitions, and never the reason.
    for who, expected in (("r0", 8), ("r1", 8), ("r2", 7)):
        got = _follower_notices(app, p[who])
        assert len(got) == expected, (who, got)
        # Distinct events (round 1 and round 2 each pass the vet step: same words).
        assert len(set(_follower_notices(app, p[who], keys=True))) == expected
        assert all(RETURN_REASON not in body for _, body in got)
        assert got[-1] == ("议题进展", ("您关注的议题“村里小广场的健身器材坏了”"
                                        "已通过南县政协备案，完成审核程序，将开展调研和协商。"))
    # The convenor (who manages it) still gets the reason, once, from the chain itself.
    conv_notices = _follower_notices(app, p["conv_village"])
    assert [b for _, b in conv_notices if RETURN_REASON in b] == [
        f"“村里小广场的健身器材坏了”在审定环节被清河镇党委退回：{RETURN_REASON}"]
    assert len(conv_notices) == 2  # returned + approved; never their own submissions


def test_a_reviewer_following_the_topic_is_not_told_of_their_own_decision(client, app, world):
    p = world["people"]
    sid = _suggestion(app, world)
    topic = take_up(client, world, [sid]).json["topic"]
    client.post(f"/api/topics/{topic['id']}/follow", headers=as_(world, "rev_village_po"))
    topic = client.post(f"/api/topics/{topic['id']}/submit",
                        headers=as_(world, "conv_village")).json
    _act(client, world, "rev_village_po", topic)
    titles = [t for t, _ in _follower_notices(app, p["rev_village_po"])]
    # Told of the submission (as a follower), not of the step they passed themselves.
    assert titles == ["议题进展"]
    with committed_session(app) as s:
        assert s.get(Suggestion, sid).state is SuggestionState.taken_up
