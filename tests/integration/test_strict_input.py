"""What the API takes in (issue 10 #10, #11, #13): display names follow the title text rules,
request bodies are strictly typed (no "yes" for true, no "3" for 3), search terms are literal
(no LIKE wildcards), and odd values on PATCH /api/consultations are a 422 — never a 500, for
anyone, before or after the permission check."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from app.consultations.models import Consultation
from app.org.models import Person

from .. import consult_world
from ..consult_world import as_
from ..helpers import committed_session
from .test_meetings import schedule


@pytest.fixture
def world(app):
    return consult_world.build(app)


def _names(app) -> set[str]:
    with committed_session(app) as s:
        return set(s.scalars(select(Person.name)))


# --- #10 display names -----------------------------------------------------------------------

BAD_NAMES = ["张\n三", "张\u200b三", "\u202e张三", "张\x00三", "张\u2028三", "张\t三"]


def test_display_names_refuse_control_and_invisible_characters(client, app, world):
    before = _names(app)
    for name in BAD_NAMES:
        resp = client.patch("/api/me", json={"name": name}, headers=as_(world, "resident"))
        assert resp.status_code == 422, (name, resp.get_json())
        body = resp.get_json()
        assert body["error"] == "validation_failed"
        assert body["details"][0]["field"] == "name"
    assert _names(app) == before


def test_names_given_for_others_follow_the_same_rules(client, app, world):
    resp = schedule(client, world)
    assert resp.status_code == 201, resp.get_json()
    cid = resp.get_json()["id"]
    before = _names(app)
    for name in BAD_NAMES:
        resp = client.post(f"/api/consultations/{cid}/invitations", json={"invitees": [
            {"phone": "13700001111", "name": name, "group": "resident"}]},
            headers=as_(world, "conv_village"))
        assert resp.status_code == 422, (name, resp.get_json())
        assert resp.get_json()["details"][0]["field"] == "invitees.0.name"
    assert _names(app) == before


def test_a_plain_name_is_trimmed_and_kept(client, world):
    resp = client.patch("/api/me", json={"name": "  张小三 "}, headers=as_(world, "resident"))
    assert resp.status_code == 200, resp.get_json()
    assert resp.get_json()["name"] == "张小三"


def test_titles_refuse_a_zero_width_space_too(client, world):
    # One rule for titles and names: the zero-width space hides text as well as U+202E does.
    resp = client.post(f"/api/platforms/{world['rooms']['village']}/suggestions",
                       json={"title": "路灯\u200b不亮了", "category": "livelihood"},
                       headers=as_(world, "resident"))
    assert resp.status_code == 422, resp.get_json()
    assert resp.get_json()["details"][0]["field"] == "title"


@pytest.mark.parametrize("field, value", [
    ("title", "\u202e加装电梯议题"), ("title", "加装\u200b电梯议题"), ("title", "加装电梯\n议题"),
    ("title", "加装\x00电梯议题"), ("description", "议题说明文字\u202e足够长的"),
    ("description", "议题说明文字\x00足够长的"),
])
def test_topic_titles_follow_the_title_rules(client, app, world, field, value):
    """A topic's title and description are public (trail, topic page) like a suggestion's: the
    same text rules, 422 — not a reversed title on the trail, nor a 400 from the database."""
    from app.topics.models import Topic

    room, who = world["rooms"]["village"], as_(world, "conv_village")
    body = {"title": "加装电梯议题", "description": "议题说明文字足够长的。",
            "category": "livelihood", "source": "assigned", field: value}
    with committed_session(app) as s:
        before = s.scalar(select(func.count()).select_from(Topic))
    resp = client.post(f"/api/platforms/{room}/topics", json=body, headers=who)
    assert resp.status_code == 422, resp.get_json()
    assert resp.get_json()["details"][0]["field"] == field
    draft = client.post(f"/api/platforms/{room}/topics", json={**body, field: "加装电梯议题说明文字"},
                        headers=who)
    assert draft.status_code == 201, draft.get_json()
    resp = client.patch(f"/api/topics/{draft.get_json()['id']}", json={field: value}, headers=who)
    assert resp.status_code == 422, resp.get_json()
    with committed_session(app) as s:
        assert s.scalar(select(func.count()).select_from(Topic)) == before + 1
    merged = client.post(f"/api/platforms/{room}/topics/from-suggestions",
                         json={"suggestion_ids": [1], field: value}, headers=who)
    assert merged.status_code == 422, merged.get_json()
    assert merged.get_json()["details"][0]["field"] == field


# --- #11 strict types, literal search ---------------------------------------------------------

@pytest.mark.parametrize("payload, field", [
    ({"as_member": "yes"}, "as_member"),
    ({"as_member": 1}, "as_member"),
    ({"title": 12345678}, "title"),
    ({"campaign_id": "1"}, "campaign_id"),
    ({"latitude": "30.5"}, "latitude"),
])
def test_request_bodies_are_strictly_typed(client, app, world, payload, field):
    from app.suggestions.models import Suggestion

    body = {"title": "小区路灯不亮", "category": "livelihood", **payload}
    resp = client.post(f"/api/platforms/{world['rooms']['village']}/suggestions", json=body,
                       headers=as_(world, "member"))
    assert resp.status_code == 422, resp.get_json()
    assert resp.get_json()["error"] == "validation_failed"
    assert resp.get_json()["details"][0]["field"] == field
    with committed_session(app) as s:
        assert s.scalar(select(func.count()).select_from(Suggestion)) == 0


def test_strict_bodies_still_take_iso_times_and_enum_values(client, world):
    resp = schedule(client, world, capacity=30)
    assert resp.status_code == 201, resp.get_json()
    resp = schedule(client, world, room="town", capacity="30")
    assert resp.status_code == 422
    assert resp.get_json()["details"][0]["field"] == "capacity"


def test_people_search_terms_are_literal(client, world):
    for q in ["_", "%", "%%", "__", "\\", "张%", "_居民", "[张]"]:
        resp = client.get("/api/people", query_string={"q": q},
                          headers=as_(world, "county_staff"))
        assert resp.status_code == 200, resp.get_json()
        assert resp.get_json()["total"] == 0, (q, [p["name"] for p in resp.get_json()["items"]])


def test_people_search_still_finds_part_of_a_name(client, world):
    resp = client.get("/api/people", query_string={"q": "居民"},
                      headers=as_(world, "county_staff"))
    assert [p["name"] for p in resp.get_json()["items"]] == ["张居民"]


def test_sandbox_people_search_is_literal(app, world):
    from app.chat.sandbox import people_to_pick

    with committed_session(app) as s:
        assert people_to_pick(s, "_") == []
        assert people_to_pick(s, "%") == []
        assert [p["name"] for p in people_to_pick(s, "居民")] == ["张居民"]


# --- #13 odd values on PATCH /api/consultations/<id> ------------------------------------------

ODD_PATCHES = [{"starts_at": None}, {"ends_at": None}, {"briefing_days_before": {}},
               {"place_kind": None}, {"briefing_days_before": None}, {"starts_at": {}},
               {"agenda": [None]}, {"capacity": True}, {"starts_at": "2026-13-45T99:00:00+08:00"}]


@pytest.mark.parametrize("who", ["conv_village", "resident", "outsider", "county_staff"])
def test_odd_patch_values_are_422_for_anyone(client, app, world, who):
    cid = schedule(client, world).get_json()["id"]
    with committed_session(app) as s:
        before = s.get(Consultation, cid).version
    for patch in ODD_PATCHES:
        resp = client.patch(f"/api/consultations/{cid}", json=patch, headers=as_(world, who))
        assert resp.status_code == 422, (patch, resp.get_json())
        assert resp.get_json()["error"] == "validation_failed"
    with committed_session(app) as s:
        assert s.get(Consultation, cid).version == before


@pytest.mark.parametrize("extra", [
    {"place": "前进村\x00文化广场"},
    {"agenda": ["通报调研情况", "居民\x00发言"]},
])
def test_a_nul_anywhere_in_a_body_is_422_and_nothing_is_stored(client, app, world, extra):
    """Issue 10 item 10: a NUL is refused as bad input (422 naming the field) on every field, not
    stored (SQLite keeps it) nor left to the database (PostgreSQL: 400 value_out_of_range)."""
    with committed_session(app) as s:
        before = s.scalar(select(func.count()).select_from(Consultation))
    resp = schedule(client, world, **extra)
    assert resp.status_code == 422, resp.get_json()
    body = resp.get_json()
    assert body["error"] == "validation_failed"
    assert body["details"][0]["field"].split(".")[0] == next(iter(extra))
    assert "空字符" in body["details"][0]["message"]
    with committed_session(app) as s:
        assert s.scalar(select(func.count()).select_from(Consultation)) == before
