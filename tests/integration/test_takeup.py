"""Issue 3 item 6: the convenor takes up one or several suggestions as a topic (duplicates merged
into one draft topic, D7 source kept, D8 chain next), or declines one with a reason the proposer
is told. Followers are carried over and told exactly once; refusals answer in Chinese."""
from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from app.audit.models import AuditEntry
from app.auth.current import open_session
from app.auth.models import SessionKind
from app.notify.models import OutboxMessage
from app.org import factories as f
from app.org.models import BodyKind, HostType, PlatformKind, Role
from app.suggestions import trail
from app.suggestions.models import (
    Follow,
    Suggestion,
    SuggestionState,
    TimelineEntry,
    Vote,
)
from app.topics.models import Category, Source, Topic

from ..helpers import bearer, committed_session

PHONE = "13912345678"


def add_suggestion(s, *, platform_id, proposer_id, title, votes=(), state=SuggestionState.open,
                   category=Category.livelihood, source=Source.proposed,
                   description=None, followers=()):
    """A suggestion with real vote rows (the counter equals its rows) and real follows."""
    sug = Suggestion(platform_id=platform_id, proposer_id=proposer_id, source=source,
                     category=category, title=title,
                     description=description or f"{title}：请协商解决，附近居民意见很大。",
                     state=state, vote_count=0, comment_count=0, follower_count=0)
    s.add(sug)
    s.flush()
    for pid in votes:
        s.add(Vote(suggestion_id=sug.id, person_id=pid))
    sug.vote_count = len(votes)
    for pid in (proposer_id, *followers):
        trail.follow(s, person_id=pid, suggestion_id=sug.id)
    s.flush()
    return sug.id


@pytest.fixture
def world(app):
    return build_world(app)


def build_world(app) -> dict:
    """A county with a town and a village; a village room (D8: vet → approve → file) and a
    room in another town; reviewers for every body of the chain; convenors; county staff;
    residents (with full names and phones, which must never reach the public trail)."""
    w = {}
    with committed_session(app) as s:
        city, county, town, village = f.create_region_chain(
            s, code="7000", names=("北市", "南县", "清河镇", "柳树村"))
        other_town = f.create_region(s, code="7001002", name="石桥镇", kind="township",
                                     parent=county)
        other_county = f.create_region(s, code="7002", name="北县", kind="county", parent=city)
        bodies = {
            "village_po": f.create_body(s, name="柳树村党总支", kind=BodyKind.party_org,
                                        region=village),
            "town_pc": f.create_body(s, name="清河镇党委", kind=BodyKind.party_committee,
                                     region=town),
            "county_cppcc": f.create_body(s, name="南县政协", kind=BodyKind.cppcc,
                                          region=county),
        }
        rooms = {
            "village": f.create_platform(s, kind=PlatformKind.room, host_type=HostType.village,
                                         region=village),
            "other": f.create_platform(s, kind=PlatformKind.room, host_type=HostType.town,
                                       region=other_town),
        }
        people = {}
        for key, body in bodies.items():
            p = f.create_person(s, name=f"审核员{key}")
            f.assign_role(s, p, Role.reviewer, body=body)
            people[f"rev_{key}"] = p
        people["conv_village"] = f.create_person(s, name="召集人甲")
        f.set_convenor(s, rooms["village"], people["conv_village"])
        people["conv_other"] = f.create_person(s, name="召集人乙")
        f.set_convenor(s, rooms["other"], people["conv_other"])
        people["staff"] = f.create_person(s, name="县政协干事")
        f.assign_role(s, people["staff"], Role.staff, region=county)
        people["far_staff"] = f.create_person(s, name="北县干事")
        f.assign_role(s, people["far_staff"], Role.staff, region=other_county)
        for i, name in enumerate(["张三丰", "李四光", "王五福", "赵六合", "钱七巧"]):
            people[f"r{i}"] = f.create_person(s, name=name, phone=f"1391234567{i}",
                                              home_region=village)
        s.flush()
        w["tokens"] = {k: open_session(s, p, SessionKind.mp, timedelta(hours=1))[0]
                       for k, p in people.items()}
        w["people"] = {k: p.id for k, p in people.items()}
        w["rooms"] = {k: r.id for k, r in rooms.items()}
        w["bodies"] = {k: b.id for k, b in bodies.items()}
        w["names"] = {k: p.name for k, p in people.items()}
    return w


def as_(world, who):
    return bearer(world["tokens"][who])


def take_up(client, world, ids, who="conv_village", room="village", **extra):
    return client.post(f"/api/platforms/{world['rooms'][room]}/topics/from-suggestions",
                       json={"suggestion_ids": ids, **extra}, headers=as_(world, who))


def outbox(app, **where):
    with app.app_context():
        s = app.extensions["db"].new_session()
        try:
            stmt = select(OutboxMessage).order_by(OutboxMessage.id)
            for k, v in where.items():
                stmt = stmt.where(getattr(OutboxMessage, k) == v)
            return [(m.recipient_id, m.title, m.body, m.dedupe_key) for m in s.scalars(stmt)]
        finally:
            s.close()


@pytest.fixture
def three(app, world):
    """Three duplicates on the village room: the second is the most supported."""
    p = world["people"]
    room = world["rooms"]["village"]
    with committed_session(app) as s:
        a = add_suggestion(s, platform_id=room, proposer_id=p["r0"], title="村口路灯不亮",
                           votes=[p["r1"]], followers=[p["r1"]])
        b = add_suggestion(s, platform_id=room, proposer_id=p["r1"], title="村口主路需要安装路灯",
                           votes=[p["r0"], p["r2"], p["r3"]], followers=[p["r2"]],
                           category=Category.difficulty, source=Source.recommended)
        c = add_suggestion(s, platform_id=room, proposer_id=p["r2"], title="晚上村口太黑",
                           votes=[], followers=[p["r3"], p["conv_village"]])
    return [a, b, c]


# --- taking up ------------------------------------------------------------------------------------

def test_take_up_merges_duplicates_into_one_draft_topic(client, app, world, three):
    a, b, c = three
    p = world["people"]
    r = take_up(client, world, [a, b, c, b])  # a repeated id counts once
    assert r.status_code == 201, r.json
    topic = r.json["topic"]
    assert r.json["suggestion_ids"] == [a, b, c]
    # Defaults come from the most supported suggestion (b: 3 votes), its D6 category, D7 source.
    assert topic["title"] == "村口主路需要安装路灯"
    assert topic["category"] == "difficulty" and topic["source"] == "recommended"
    assert topic["state"] == "draft" and topic["platform_id"] == world["rooms"]["village"]

    with committed_session(app) as s:
        sugs = s.scalars(select(Suggestion).order_by(Suggestion.id)).all()
        assert [(x.state, x.topic_id) for x in sugs] == [
            (SuggestionState.taken_up, topic["id"])] * 3
        assert s.scalar(select(func.count()).select_from(Topic)) == 1
        # Every follower of every merged suggestion (proposers included) follows the topic.
        followers = trail.follower_ids(s, topic_id=topic["id"])
        assert followers == sorted({p["r0"], p["r1"], p["r2"], p["r3"], p["conv_village"]})
        # Suggestion follows are kept (their counters unchanged).
        assert [x.follower_count for x in sugs] == [2, 2, 3]
        actions = [(e.action, e.object_type, e.object_id) for e in s.scalars(
            select(AuditEntry).order_by(AuditEntry.id))]
        assert ("topic.create", "topic", str(topic["id"])) in actions
        assert sorted(o for act, t, o in actions if act == "suggestion.take_up") == sorted(
            str(i) for i in (a, b, c))
        entries = s.scalars(select(TimelineEntry).order_by(TimelineEntry.id)).all()
        assert sorted((e.suggestion_id, e.text) for e in entries if e.suggestion_id) == sorted(
            (i, "已列为议题：村口主路需要安装路灯") for i in (a, b, c))
        topic_texts = [e.text for e in entries if e.topic_id == topic["id"]]
        assert topic_texts == ["由3条相似建议合并列为议题，召集人正在准备报送审核"]

    # One notice per follower (the convenor who acted is not told about their own act).
    notices = outbox(app, kind="status_change")
    assert sorted(n[0] for n in notices) == sorted({p["r0"], p["r1"], p["r2"], p["r3"]})
    assert all("村口主路需要安装路灯" in n[2] and "3条" in n[2] for n in notices)


def test_explicit_fields_override_the_defaults(client, world, three):
    r = take_up(client, world, three[:2], title="村口道路照明问题",
                description="合并两条建议：村口主路缺少路灯，夜间出行不安全。",
                category="livelihood", source="solicited")
    assert r.status_code == 201, r.json
    t = r.json["topic"]
    assert (t["title"], t["category"], t["source"]) == ("村口道路照明问题", "livelihood",
                                                        "solicited")
    assert t["description"].startswith("合并两条建议")


def test_a_retried_take_up_creates_nothing_and_sends_nothing_twice(client, app, world, three):
    assert take_up(client, world, three).status_code == 201
    first = outbox(app)
    r = take_up(client, world, three)  # the phone retries after a lost answer
    assert r.status_code == 409 and r.json["error"] == "suggestion_already_taken_up"
    assert "已列为议题" in r.json["message"]
    assert outbox(app) == first
    with committed_session(app) as s:
        assert s.scalar(select(func.count()).select_from(Topic)) == 1
        topic_id = s.scalar(select(Topic.id))
        # Replaying the fan-out of the same event (a retried job) adds no row either.
        again = trail.notify_followers(s, topic_id=topic_id, subject=f"topic:{topic_id}:created",
                                       title="建议已列为议题", body="重复")
        assert len(again) == len(first) + 1  # the acting convenor, excluded before, now
    rows = outbox(app)
    assert rows[:len(first)] == first  # nobody who was told got a second notice
    assert len({r[3] for r in rows}) == len(rows)


def test_idempotency_key_replay_returns_the_first_answer(client, app, world, three):
    from app import idempotency
    if not hasattr(idempotency, "idempotent"):
        pytest.skip("the Idempotency-Key mechanism (helper B) has not landed")
    url = f"/api/platforms/{world['rooms']['village']}/topics/from-suggestions"
    headers = {**as_(world, "conv_village"), "Idempotency-Key": "takeup-0001-abcdef"}
    r1 = client.post(url, json={"suggestion_ids": three}, headers=headers)
    r2 = client.post(url, json={"suggestion_ids": three}, headers=headers)
    assert r1.status_code == r2.status_code == 201
    assert r2.json["topic"]["id"] == r1.json["topic"]["id"]
    with committed_session(app) as s:
        assert s.scalar(select(func.count()).select_from(Topic)) == 1
    assert len(outbox(app)) == 4


def test_concurrent_take_ups_of_the_same_suggestion_make_one_topic(app, world, three):
    url = f"/api/platforms/{world['rooms']['village']}/topics/from-suggestions"
    statuses = []
    start = threading.Barrier(4)

    def go():
        c = app.test_client()
        start.wait()
        r = c.post(url, json={"suggestion_ids": [three[0]]}, headers=as_(world, "conv_village"))
        statuses.append(r.status_code)

    threads = [threading.Thread(target=go) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(statuses) == [201, 409, 409, 409]
    with committed_session(app) as s:
        assert s.scalar(select(func.count()).select_from(Topic)) == 1


@pytest.mark.parametrize("state,code", [
    (SuggestionState.held, "suggestion_held"),
    (SuggestionState.declined, "suggestion_already_declined"),
    (SuggestionState.taken_up, "suggestion_already_taken_up"),
    (SuggestionState.rejected, "suggestion_rejected"),
])
def test_only_open_suggestions_can_be_taken_up_and_nothing_half_happens(
        client, app, world, three, state, code):
    with committed_session(app) as s:
        bad = add_suggestion(s, platform_id=world["rooms"]["village"],
                             proposer_id=world["people"]["r4"], title="已处理过的建议",
                             state=state)
    r = take_up(client, world, [three[0], bad])
    assert r.status_code == 409 and r.json["error"] == code
    assert "已处理过的建议" in r.json["message"]
    with committed_session(app) as s:  # all or nothing: the open one is untouched
        assert s.get(Suggestion, three[0]).state is SuggestionState.open
        assert s.scalar(select(func.count()).select_from(Topic)) == 0
    assert outbox(app) == []


def test_suggestions_of_another_platform_or_unknown_ids_are_refused(client, app, world, three):
    with committed_session(app) as s:
        foreign = add_suggestion(s, platform_id=world["rooms"]["other"],
                                 proposer_id=world["people"]["r4"], title="石桥镇的建议")
    for ids in ([three[0], foreign], [three[0], 999999]):
        r = take_up(client, world, ids)
        assert r.status_code == 422 and r.json["error"] == "suggestion_not_on_platform"
        # The one error shape (issue 10 item 16): details is a list of {field, message, …}.
        assert r.json["details"] == [{"field": "suggestion_ids.1", "suggestion_id": ids[1],
                                      "message": f"建议 #{ids[1]} 不属于本平台"}]
    with committed_session(app) as s:
        assert s.scalar(select(func.count()).select_from(Topic)) == 0


def test_who_may_take_up(client, world, three):
    # A convenor of another platform does not learn this platform exists for them (404).
    r = take_up(client, world, three, who="conv_other")
    assert r.status_code == 404
    r = take_up(client, world, three, who="far_staff")
    assert r.status_code == 404
    # Residents and reviewers have no role for this at all (403).
    assert take_up(client, world, three, who="r0").status_code == 403
    assert take_up(client, world, three, who="rev_town_pc").status_code == 403
    # Anonymous: 401.
    r = client.post(f"/api/platforms/{world['rooms']['village']}/topics/from-suggestions",
                    json={"suggestion_ids": three})
    assert r.status_code == 401
    # CPPCC staff of the county may (their reach covers the village).
    assert take_up(client, world, three, who="staff").status_code == 201


def test_merge_size_is_bounded(client, world, three):
    r = take_up(client, world, [])
    assert r.status_code == 422
    r = take_up(client, world, list(range(1, 22)))
    assert r.status_code == 422 and r.json["details"][0]["field"] == "suggestion_ids"


# --- declining ------------------------------------------------------------------------------------

def decline(client, world, sid, reason, who="conv_village"):
    return client.post(f"/api/suggestions/{sid}/decline", json={"reason": reason},
                       headers=as_(world, who))


REASON = "该路段属于县道，由县交通局统一安装路灯，已转交相关部门。"


def test_decline_tells_the_proposer_the_reason(client, app, world, three):
    a = three[0]
    p = world["people"]
    r = decline(client, world, a, f"  {REASON}  ")
    assert r.status_code == 200, r.json
    assert r.json["state"] == "declined" and r.json["decline_reason"] == REASON
    notices = outbox(app)
    # The proposer (r0) and the follower (r1) are told, each once, with the reason.
    assert sorted(n[0] for n in notices) == sorted([p["r0"], p["r1"]])
    proposer = next(n for n in notices if n[0] == p["r0"])
    assert REASON in proposer[2] and "您提出的建议“村口路灯不亮”" in proposer[2]
    with committed_session(app) as s:
        sug = s.get(Suggestion, a)
        assert sug.state is SuggestionState.declined and sug.decline_reason == REASON
        texts = [e.text for e in trail.timeline(s, suggestion_id=a)]
        assert texts == [f"召集人暂不采纳此建议。理由：{REASON}"]
        audit = s.scalar(select(AuditEntry).where(AuditEntry.action == "suggestion.decline"))
        assert audit.object_id == str(a) and audit.actor_id == p["conv_village"]
        assert audit.after == {"state": "declined", "decline_reason": REASON}
    # Declining again is a conflict, and nobody is told twice.
    r = decline(client, world, a, REASON)
    assert r.status_code == 409 and r.json["error"] == "suggestion_already_declined"
    assert outbox(app) == notices


def test_decline_refusals(client, app, world, three):
    a, b, _ = three
    r = decline(client, world, a, "太短")
    assert r.status_code == 422
    r = decline(client, world, a, "     \n   ")
    assert r.status_code == 422
    r = decline(client, world, a, "理" * 501)
    assert r.status_code == 422
    assert decline(client, world, a, REASON, who="conv_other").status_code == 404
    assert decline(client, world, a, REASON, who="r1").status_code == 403
    assert decline(client, world, 999999, REASON).status_code == 404
    assert take_up(client, world, [b]).status_code == 201
    r = decline(client, world, b, REASON)
    assert r.status_code == 409 and r.json["error"] == "suggestion_already_taken_up"
    with committed_session(app) as s:
        assert s.get(Suggestion, a).state is SuggestionState.open
        held = add_suggestion(s, platform_id=world["rooms"]["village"],
                              proposer_id=world["people"]["r4"], title="待审核建议",
                              state=SuggestionState.held)
    r = decline(client, world, held, REASON)
    assert r.status_code == 409 and r.json["error"] == "suggestion_held"


def test_a_declined_suggestion_cannot_then_be_taken_up(client, world, three):
    assert decline(client, world, three[0], REASON).status_code == 200
    r = take_up(client, world, [three[0]])
    assert r.status_code == 409 and r.json["error"] == "suggestion_already_declined"
    assert "暂不采纳" in r.json["message"]


def test_follow_rows_are_unique_per_subject(app, world, three):
    with committed_session(app) as s:
        total = s.scalar(select(func.count()).select_from(Follow))
        assert total == sum(s.get(Suggestion, i).follower_count for i in three)
