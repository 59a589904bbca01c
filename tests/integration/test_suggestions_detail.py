"""The suggestion detail (public without personal data; held and rejected ones only for the
proposer and the platform's moderators; a fixed number of statements), similar suggestions,
and replayed Idempotency-Keys on the create endpoints."""
from __future__ import annotations

import io
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from app.org.services import today_local
from app.suggestions.models import Attachment, Suggestion, SuggestionState, Vote
from app.topics.models import Category, Source, Topic, TopicState

from ..helpers import committed_session, count_statements
from ..unit.test_uploads_sniff import make_png
from .test_suggestions_create import as_, build_world, propose


@pytest.fixture
def world(app, fake_wechat):
    return build_world(app)


def add(app, world, *, title="小区停车位太少", state=SuggestionState.open, room="town",
        who="resident", description="说明", photos=0, **extra) -> int:
    with committed_session(app) as s:
        sug = Suggestion(platform_id=world["rooms"][room], proposer_id=world["people"][who],
                         source=Source.proposed, category=Category.livelihood, title=title,
                         description=description, state=state, **extra)
        s.add(sug)
        s.flush()
        for i in range(photos):
            s.add(Attachment(suggestion_id=sug.id, uploaded_by_id=world["people"][who],
                             storage_key=f"{sug.id:04d}{i:02d}" + "k" * 36,
                             content_type="image/png", size_bytes=10, sha256="0" * 64,
                             width=10, height=10))
        return sug.id


# --- the detail ----------------------------------------------------------------------------------

def test_public_detail_shows_no_personal_data(client, app, world):
    r = propose(client, world, address="人民路口", latitude=34.6, longitude=119.2)
    sid = r.json["id"]
    anon = client.get(f"/api/suggestions/{sid}")
    assert anon.status_code == 200
    body = anon.json
    assert body["proposer"] == "张**"
    text = str(body)
    assert "张居民" not in text and "139000" not in text and "o_w" not in text
    assert body["is_mine"] is None and body["voted_by_me"] is None
    assert body["followed_by_me"] is None and body["moderation_note"] is None
    assert body["platform"]["id"] == world["rooms"]["town"]
    assert body["state_label"] == "征集中" and body["source_label"] == "群众出题"
    assert (body["vote_count"], body["comment_count"], body["follower_count"]) == (0, 0, 1)
    other = client.get(f"/api/suggestions/{sid}", headers=as_(world, "resident2")).json
    assert other["is_mine"] is False and other["followed_by_me"] is False
    assert other["voted_by_me"] is False


def test_viewer_flags(client, app, world):
    sid = add(app, world)
    with committed_session(app) as s:
        s.add(Vote(suggestion_id=sid, person_id=world["people"]["resident2"]))
    r = client.get(f"/api/suggestions/{sid}", headers=as_(world, "resident2")).json
    assert r["voted_by_me"] is True and r["is_mine"] is False


def test_declined_shows_its_reason_and_taken_up_its_topic(client, app, world):
    declined = add(app, world, state=SuggestionState.declined, decline_reason="已纳入年度计划")
    r = client.get(f"/api/suggestions/{declined}").json
    assert r["state_label"] == "暂不采纳" and r["decline_reason"] == "已纳入年度计划"
    with committed_session(app) as s:
        topic = Topic(platform_id=world["rooms"]["town"], title="停车难题", description="说明",
                      category=Category.livelihood, source=Source.proposed,
                      state=TopicState.draft, created_by_id=world["people"]["conv_town"])
        s.add(topic)
        s.flush()
        topic_id = topic.id
    taken = add(app, world, state=SuggestionState.taken_up, topic_id=topic_id)
    r = client.get(f"/api/suggestions/{taken}").json
    assert r["topic_id"] == topic_id and r["decline_reason"] is None
    assert client.get(f"/api/suggestions/{add(app, world)}").json["topic_id"] is None


@pytest.mark.parametrize("state", [SuggestionState.held, SuggestionState.rejected])
def test_held_and_rejected_are_invisible_to_others(client, app, world, state):
    sid = add(app, world, state=state, moderation_note="自动审核：待人工审核")
    for who in (None, "resident2", "member", "conv_other", "other_staff", "rev_town_pc"):
        r = client.get(f"/api/suggestions/{sid}", headers=as_(world, who) if who else {})
        assert r.status_code == 404 and r.json["error"] == "suggestion_not_found", who
    mine = client.get(f"/api/suggestions/{sid}", headers=as_(world, "resident"))
    assert mine.status_code == 200 and mine.json["moderation_note"] is None
    for who in ("conv_town", "staff"):
        r = client.get(f"/api/suggestions/{sid}", headers=as_(world, who))
        assert r.status_code == 200 and r.json["moderation_note"] == "自动审核：待人工审核"
    # Not in the public list either.
    assert sid not in {i["id"] for i in client.get("/api/suggestions").json["items"]}


def test_unknown_suggestion_is_404(client, world):
    assert client.get("/api/suggestions/4242").status_code == 404


def test_detail_statement_count_does_not_grow_with_photos(client, app, world):
    few = add(app, world, photos=1)
    many = add(app, world, photos=9, title="路灯不亮晚上很黑")
    engine = app.extensions["db"].engine
    for headers in ({}, as_(world, "resident2")):
        n_few = count_statements(engine, lambda h=headers: client.get(
            f"/api/suggestions/{few}", headers=h))
        n_many = count_statements(engine, lambda h=headers: client.get(
            f"/api/suggestions/{many}", headers=h))
        assert n_few == n_many
        assert n_many <= (2 if not headers else 5)
    r = client.get(f"/api/suggestions/{many}").json
    assert len(r["attachments"]) == 9


# --- similar suggestions -------------------------------------------------------------------------

def test_similar_suggestions_on_the_same_platform(client, app, world):
    parking = add(app, world, title="小区停车位太少")
    add(app, world, title="广场舞噪音扰民")
    add(app, world, title="小区车位紧张停车难", state=SuggestionState.held)
    add(app, world, title="小区停车位太少了", room="other_town")
    declined = add(app, world, title="停车位不够用", state=SuggestionState.declined)
    r = client.get(f"/api/platforms/{world['rooms']['town']}/suggestions/similar",
                   query_string={"title": "停车位不够"})
    assert r.status_code == 200, r.json
    ids = [i["id"] for i in r.json["items"]]
    assert ids and ids[0] == parking
    assert declined not in ids and len(ids) == 1  # held, other platforms, declined: never
    assert r.json["items"][0]["category_label"] == "实事"
    assert 0 < r.json["items"][0]["score"] <= 1
    assert r.json["items"][0]["voted_by_me"] is False  # anonymous
    # Logged in, a resident sees which of them they already support.
    assert client.post(f"/api/suggestions/{parking}/vote", json={},
                       headers=as_(world, "resident")).status_code == 201
    mine = client.get(f"/api/platforms/{world['rooms']['town']}/suggestions/similar",
                      query_string={"title": "停车位不够"}, headers=as_(world, "resident")).json
    assert mine["items"][0]["voted_by_me"] is True
    other = client.get(f"/api/platforms/{world['rooms']['town']}/suggestions/similar",
                       query_string={"title": "停车位不够"}, headers=as_(world, "resident2")).json
    assert other["items"][0]["voted_by_me"] is False


def test_similar_needs_a_title_and_a_known_platform(client, world):
    url = f"/api/platforms/{world['rooms']['town']}/suggestions/similar"
    assert client.get(url).status_code == 422
    assert client.get(url, query_string={"title": "x" * 61}).status_code == 422
    assert client.get("/api/platforms/999/suggestions/similar",
                      query_string={"title": "停车"}).status_code == 404
    assert client.get(url, query_string={"title": "停车"}).json["items"] == []


def test_similar_loads_candidates_in_one_query(client, app, world):
    for i in range(30):
        add(app, world, title=f"第{i}号楼停车位太少")
    engine = app.extensions["db"].engine
    url = f"/api/platforms/{world['rooms']['town']}/suggestions/similar"
    n = count_statements(engine, lambda: client.get(url, query_string={"title": "停车位太少"}))
    assert n <= 2  # the platform, the candidates


# --- Idempotency-Key on the create endpoints ---------------------------------------------------------

def test_replayed_key_gives_one_suggestion(client, app, world, fake_wechat):
    headers = {**as_(world, "resident"), "Idempotency-Key": "sugg-001"}
    url = f"/api/platforms/{world['rooms']['town']}/suggestions"
    body = {"title": "小区停车位太少", "category": "livelihood"}
    first = client.post(url, json=body, headers=headers)
    again = client.post(url, json=body, headers=headers)
    assert first.status_code == again.status_code == 201
    assert first.json == again.json
    assert again.headers.get("Idempotent-Replayed") == "true"
    with committed_session(app) as s:
        assert s.scalar(select(func.count()).select_from(Suggestion)) == 1
        assert s.scalar(select(Suggestion.follower_count)) == 1
    assert len(fake_wechat.calls(path="/wxa/msg_sec_check", ok=True)) == 1  # checked once
    other = client.post(url, json={**body, "title": "另一个建议标题"}, headers=headers)
    assert other.status_code == 422 and other.json["error"] == "idempotency_key_reused"


def test_a_refused_request_can_be_retried_with_the_same_key(client, app, world, fake_wechat):
    headers = {**as_(world, "resident"), "Idempotency-Key": "sugg-002"}
    url = f"/api/platforms/{world['rooms']['town']}/suggestions"
    body = {"title": "小区停车位太少", "category": "livelihood"}
    fake_wechat.set_words(risky=["停车位"])
    assert client.post(url, json=body, headers=headers).status_code == 422
    fake_wechat.set_words(risky=[])
    assert client.post(url, json=body, headers=headers).status_code == 201


def test_replayed_key_gives_one_campaign(client, app, world):
    from app.suggestions.models import Campaign

    today = today_local()
    body = {"title": "老旧小区改造意见征集", "description": "请提建议",
            "platform_id": world["rooms"]["town"], "opens_on": today.isoformat(),
            "closes_on": (today + timedelta(days=9)).isoformat()}
    headers = {**as_(world, "conv_town"), "Idempotency-Key": "camp-1"}
    first = client.post("/api/campaigns", json=body, headers=headers)
    again = client.post("/api/campaigns", json=body, headers=headers)
    assert first.status_code == again.status_code == 201 and first.json == again.json
    with committed_session(app) as s:
        assert s.scalar(select(func.count()).select_from(Campaign)) == 1


def test_replayed_key_gives_one_upload(client, app, world):
    headers = {**as_(world, "resident"), "Idempotency-Key": "up-1"}

    def send():
        return client.post("/api/uploads", headers=headers, content_type="multipart/form-data",
                           data={"file": (io.BytesIO(make_png()), "a.png")})

    first, again = send(), send()
    assert first.status_code == again.status_code == 201 and first.json == again.json
    with committed_session(app) as s:
        assert s.scalar(select(func.count()).select_from(Attachment)) == 1
