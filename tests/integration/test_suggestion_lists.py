"""Public suggestion lists: filters, three sorts with keyset pagination, no personal data, and a
fixed number of SQL statements whatever the page size (no N+1)."""
from __future__ import annotations

from datetime import timedelta

import pytest

from app.auth.current import open_session
from app.auth.models import SessionKind
from app.db import utcnow
from app.org import factories as f
from app.org.models import HostType, PlatformKind
from app.suggestions.models import Attachment, Suggestion, SuggestionState, Vote
from app.topics.models import Category, Source

from ..helpers import bearer, committed_session, count_statements

NAMES = ["王建国", "李秀英", "张伟", "刘洋", "陈静"]


@pytest.fixture
def world(app):
    w = {}
    with committed_session(app) as s:
        city, county, town, village = f.create_region_chain(
            s, code="7000", names=("列表市", "列表县", "列表镇", "列表村"))
        other = f.create_region(s, code="7002", name="别县", kind="county", parent=city)
        other_town = f.create_region(s, code="7002001", name="别镇", kind="township",
                                     parent=other)
        p_town = f.create_platform(s, kind=PlatformKind.room, host_type=HostType.town,
                                   region=town)
        p_village = f.create_platform(s, kind=PlatformKind.room, host_type=HostType.village,
                                      region=village)
        p_other = f.create_platform(s, kind=PlatformKind.room, host_type=HostType.town,
                                    region=other_town)
        people = [f.create_person(s, name=n, phone=f"1380000000{i}")
                  for i, n in enumerate(NAMES)]
        s.flush()
        w.update(county=county.id, town=town.id, p_town=p_town.id, p_village=p_village.id,
                 p_other=p_other.id, people=[p.id for p in people])
        w["token"] = open_session(s, people[0], SessionKind.mp, timedelta(hours=1))[0]
    return w


def add_suggestions(app, world, n, *, platform="p_town", votes=lambda i: i % 4,
                    state=SuggestionState.open, category=Category.livelihood):
    ids = []
    with committed_session(app) as s:
        base = utcnow() - timedelta(days=1)
        for i in range(n):
            sug = Suggestion(platform_id=world[platform], proposer_id=world["people"][i % 5],
                             source=Source.proposed, category=category,
                             title=f"建议事项{i:03d}", description="具体情况说明" * 3,
                             state=state, vote_count=votes(i),
                             last_activity_at=base + timedelta(minutes=(i * 7) % 60))
            s.add(sug)
            s.flush()
            ids.append(sug.id)
    return ids


def walk(client, url, headers=None):
    seen, cursor, pages = [], None, 0
    while True:
        r = client.get(url + (f"&cursor={cursor}" if cursor else ""), headers=headers or {})
        assert r.status_code == 200, r.json
        seen += r.json["items"]
        cursor = r.json["next_cursor"]
        pages += 1
        if not cursor:
            return seen, pages


@pytest.mark.parametrize("sort,key", [
    ("new", lambda i: (i["id"],)),
    ("supported", lambda i: (i["vote_count"], i["id"])),
    ("active", lambda i: (i["last_activity_at"], i["id"])),
])
def test_keyset_pages_cover_everything_once_in_order(client, app, world, sort, key):
    ids = add_suggestions(app, world, 23)  # many ties on vote_count and on activity time
    items, pages = walk(client, f"/api/suggestions?platform_id={world['p_town']}&sort={sort}"
                                "&limit=5")
    assert pages == 5
    assert sorted(i["id"] for i in items) == sorted(ids)
    keys = [key(i) for i in items]
    assert keys == sorted(keys, reverse=True)


def test_filters_region_state_category(client, app, world):
    town_ids = add_suggestions(app, world, 3, platform="p_town")
    village_ids = add_suggestions(app, world, 2, platform="p_village",
                                  category=Category.difficulty)
    add_suggestions(app, world, 2, platform="p_other")
    held = add_suggestions(app, world, 1, platform="p_town", state=SuggestionState.held)
    declined = add_suggestions(app, world, 1, platform="p_town", state=SuggestionState.declined)

    got = {i["id"] for i in client.get(f"/api/suggestions?region_id={world['county']}&limit=50")
           .json["items"]}
    assert got == set(town_ids + village_ids)  # the county includes its town and village
    got = {i["id"] for i in client.get("/api/suggestions?category=difficulty&limit=50")
           .json["items"]}
    assert got == set(village_ids)
    got = {i["id"] for i in client.get("/api/suggestions?state=declined").json["items"]}
    assert got == set(declined)
    assert held[0] not in {i["id"] for i in client.get("/api/suggestions?limit=50").json["items"]}
    r = client.get("/api/suggestions?state=held")
    assert r.status_code == 422 and r.json["error"] == "state_not_public"


def test_no_personal_data_and_voted_by_me(client, app, world):
    ids = add_suggestions(app, world, 3)
    with committed_session(app) as s:
        s.add(Vote(suggestion_id=ids[1], person_id=world["people"][0]))
        s.add(Attachment(suggestion_id=ids[2], uploaded_by_id=world["people"][0],
                         storage_key="k" * 32, content_type="image/jpeg", size_bytes=10,
                         sha256="0" * 64))
    anon = client.get("/api/suggestions").json["items"]
    text = str(anon)
    for name in NAMES:
        assert name not in text
    assert "13800000" not in text
    assert {i["proposer"] for i in anon} <= {"王**", "李**", "张*", "刘*", "陈*"}
    assert all(i["voted_by_me"] is None for i in anon)
    mine = {i["id"]: i for i in client.get("/api/suggestions",
                                           headers=bearer(world["token"])).json["items"]}
    assert mine[ids[1]]["voted_by_me"] is True and mine[ids[0]]["voted_by_me"] is False
    assert mine[ids[2]]["cover_url"] == "/api/uploads/" + "k" * 32


@pytest.mark.parametrize("cursor", ["garbage", "W10", "WyJuZXciLCJ4IiwxXQ"])
def test_bad_cursor_is_a_clear_error(client, world, cursor):
    r = client.get(f"/api/suggestions?cursor={cursor}")
    assert r.status_code == 422 and r.json["error"] == "invalid_cursor"
    assert "重新加载" in r.json["message"]


def test_cursor_of_another_sort_is_refused(client, app, world):
    add_suggestions(app, world, 4)
    cursor = client.get("/api/suggestions?limit=2&sort=new").json["next_cursor"]
    r = client.get(f"/api/suggestions?limit=2&sort=supported&cursor={cursor}")
    assert r.status_code == 422


def test_statement_count_does_not_grow_with_the_page(client, app, world):
    add_suggestions(app, world, 45)
    engine = app.extensions["db"].engine
    headers = bearer(world["token"])
    counts = {}
    for limit in (5, 40):
        counts[limit] = count_statements(engine, lambda: client.get(
            f"/api/suggestions?limit={limit}&sort=supported", headers=headers))
    assert counts[5] == counts[40]
    assert counts[5] <= 6  # login, person, list, covers, my votes (+ grants cache misses)


def test_hot_list_is_served_from_the_short_cache(client, app, world, monkeypatch):
    monkeypatch.setitem(app.config, "APP", app.config["APP"].with_(list_cache_seconds=30))
    ids = add_suggestions(app, world, 3)
    engine = app.extensions["db"].engine
    url = f"/api/suggestions?platform_id={world['p_town']}"
    first = client.get(url).json
    assert count_statements(engine, lambda: client.get(url)) == 0  # a cache hit: no SQL
    # Logged-in readers share the cached page and get their own voted_by_me with one query.
    with committed_session(app) as s:
        s.add(Vote(suggestion_id=ids[0], person_id=world["people"][0]))
    mine = client.get(url, headers=bearer(world["token"])).json
    assert {i["id"]: i["voted_by_me"] for i in mine["items"]}[ids[0]] is True
    assert [i["id"] for i in mine["items"]] == [i["id"] for i in first["items"]]
    # Another query is another key; a bad cursor is refused even when the page is cached.
    assert client.get(url + "&sort=supported").status_code == 200
    assert client.get(url + "&cursor=garbage").status_code == 422


def test_list_still_answers_when_redis_is_down(client, app, world, monkeypatch):
    from redis.exceptions import ConnectionError as RedisConnectionError

    monkeypatch.setitem(app.config, "APP", app.config["APP"].with_(list_cache_seconds=30))
    add_suggestions(app, world, 2)

    def down(*a, **k):
        raise RedisConnectionError("down")

    monkeypatch.setattr(app.extensions["redis"], "get", down)
    monkeypatch.setattr(app.extensions["redis"], "set", down)
    r = client.get("/api/suggestions")
    assert r.status_code == 200 and len(r.json["items"]) == 2


def test_an_unknown_or_closed_platform_is_404_not_an_empty_list(client, app, world):
    assert client.get(f"/api/suggestions?platform_id={world['p_town']}").json["items"] == []
    r = client.get("/api/suggestions?platform_id=987654")
    assert r.status_code == 404 and r.json["error"] == "platform_not_found"
    with committed_session(app) as s:
        from app.org.models import Platform
        s.get(Platform, world["p_village"]).is_active = False
    r = client.get(f"/api/suggestions?platform_id={world['p_village']}")
    assert r.status_code == 404 and r.json["message"] == "该协商议事平台不存在或已停用"


# --- stage tabs (issue 11 item 7): a suggestion taken up does not vanish --------------------------

STAGE_LABELS = {"open": "征集中", "topic": "已立题", "consulted": "已协商", "handling": "办理中",
                "done": "已办结"}


def staged_topic(app, world, stage: str, *, topic_state=None) -> int:
    """An approved topic on the town platform at `stage`, written row by row: consulted = a
    held consultation, no routed list; handling = a routed list with one item settled and one
    awaiting a decision (D19); done = every item settled (not adopted / done)."""
    from app.consultations.models import (
        Consultation, ConsultationState, OpinionItem, OpinionList, OpinionListState, PlaceKind,
    )
    from app.consultations.rules import InviteGroup, OpinionScope
    from app.followup.models import ItemState, ItemTrack
    from app.topics.models import Topic, TopicState

    with committed_session(app) as s:
        t = Topic(platform_id=world["p_town"], title=f"{stage}议题", description="议题说明" * 3,
                  category=Category.livelihood, source=Source.proposed,
                  state=topic_state or TopicState.approved, created_by_id=world["people"][0],
                  approved_at=utcnow())
        s.add(t)
        s.flush()
        if stage in ("consulted", "handling", "done"):
            start = utcnow() - timedelta(days=2)
            c = Consultation(topic_id=t.id, platform_id=world["p_town"],
                             state=ConsultationState.held if stage == "consulted"
                             else ConsultationState.concluded, starts_at=start, held_at=start,
                             ends_at=start + timedelta(hours=2), place_kind=PlaceKind.venue,
                             place="议事室", agenda=[], created_by_id=world["people"][0])
            s.add(c)
            s.flush()
        if stage in ("handling", "done"):
            lst = OpinionList(consultation_id=c.id, state=OpinionListState.routed,
                              routed_at=utcnow(), created_by_id=world["people"][0])
            s.add(lst)
            s.flush()
            states = ([ItemState.done, ItemState.awaiting] if stage == "handling"
                      else [ItemState.done, ItemState.not_adopted])
            for seq, state in enumerate(states, 1):
                item = OpinionItem(list_id=lst.id, seq=seq, text=f"意见{seq}",
                                   raised_by=InviteGroup.resident, scope=OpinionScope.local)
                s.add(item)
                s.flush()
                s.add(ItemTrack(item_id=item.id, list_id=lst.id, state=state,
                                current_scope=OpinionScope.local))
        return t.id


def take_up(app, ids, topic_id):
    with committed_session(app) as s:
        for sid in ids:
            sug = s.get(Suggestion, sid)
            sug.state, sug.topic_id = SuggestionState.taken_up, topic_id


def stage_world(app, world) -> dict[str, list[int]]:
    from app.topics.models import TopicState

    expected = {"open": add_suggestions(app, world, 7)}
    for stage in ("topic", "consulted", "handling", "done"):
        expected[stage] = add_suggestions(app, world, 7)
        take_up(app, expected[stage], staged_topic(app, world, stage))
    # In no tab: declined, and taken up into a topic that was withdrawn.
    add_suggestions(app, world, 2, state=SuggestionState.declined)
    take_up(app, add_suggestions(app, world, 2),
            staged_topic(app, world, "topic", topic_state=TopicState.withdrawn))
    return expected


@pytest.mark.parametrize("sort", ["new", "supported", "active"])
def test_stage_tabs_page_through_each_stage_once(client, app, world, sort):
    expected = stage_world(app, world)
    tids = {}
    for stage, ids in expected.items():
        items, pages = walk(client, f"/api/suggestions?stage={stage}&sort={sort}&limit=3")
        assert pages == 3, stage
        assert sorted(i["id"] for i in items) == sorted(ids), stage
        assert {(i["stage"], i["stage_label"]) for i in items} == {(stage, STAGE_LABELS[stage])}
        assert all(i["state"] == ("open" if stage == "open" else "taken_up") for i in items)
        tids[stage] = {i["topic_id"] for i in items}
        key = {"new": lambda i: (i["id"],), "supported": lambda i: (i["vote_count"], i["id"]),
               "active": lambda i: (i["last_activity_at"], i["id"])}[sort]
        assert [key(i) for i in items] == sorted((key(i) for i in items), reverse=True)
    assert tids["open"] == {None}
    assert all(len(tids[s]) == 1 and None not in tids[s] for s in STAGE_LABELS if s != "open")


def test_without_a_stage_the_list_is_as_before_with_stage_fields(client, app, world):
    expected = stage_world(app, world)
    items = client.get("/api/suggestions?limit=50").json["items"]
    assert sorted(i["id"] for i in items) == sorted(expected["open"])
    assert {(i["stage"], i["topic_id"]) for i in items} == {("open", None)}
    taken = client.get("/api/suggestions?state=taken_up&limit=50").json["items"]
    assert len(taken) == 4 * 7 + 2
    by_id = {i["id"]: i for i in taken}
    assert {by_id[i]["stage"] for i in expected["handling"]} == {"handling"}
    # The withdrawn topic's suggestions have no stage (in no tab).
    assert sum(i["stage"] is None for i in taken) == 2
    declined = client.get("/api/suggestions?state=declined").json["items"]
    assert {i["stage"] for i in declined} == {None}


def test_a_suggestion_moves_to_the_next_tab_as_its_topic_advances(client, app, world):
    from app.followup.models import ItemState, ItemTrack

    [sid] = add_suggestions(app, world, 1)
    tid = staged_topic(app, world, "handling")
    take_up(app, [sid], tid)

    def tab_of():
        return [st for st in STAGE_LABELS
                if sid in {i["id"] for i in client.get(f"/api/suggestions?stage={st}").json["items"]}]

    assert tab_of() == ["handling"]
    with committed_session(app) as s:
        for track in s.query(ItemTrack).all():
            track.state = ItemState.not_adopted
    assert tab_of() == ["done"]


@pytest.mark.parametrize("query,code", [("stage=handling&state=open", "stage_state_conflict"),
                                        ("stage=open&state=taken_up", "stage_state_conflict"),
                                        ("stage=done&state=declined", "stage_state_conflict"),
                                        ("stage=doing", "validation_failed")])
def test_a_stage_that_contradicts_the_state_is_refused(client, world, query, code):
    r = client.get(f"/api/suggestions?{query}")
    assert r.status_code == 422 and r.json["error"] == code, r.json
    assert client.get("/api/suggestions?stage=handling&state=taken_up").status_code == 200


def test_stage_tab_statement_count_does_not_grow_with_the_page(client, app, world):
    ids = add_suggestions(app, world, 45)
    take_up(app, ids, staged_topic(app, world, "handling"))
    engine = app.extensions["db"].engine
    counts = {limit: count_statements(engine, lambda: client.get(
        f"/api/suggestions?stage=handling&limit={limit}&sort=supported")) for limit in (5, 40)}
    assert counts[5] == counts[40] <= 3
