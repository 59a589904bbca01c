"""Comments on suggestions over HTTP: one-level replies, content safety (risky refused, review
held, failing check held), the public thread view (masked names, the author's own held comments,
keyset pagination, a fixed number of SQL statements), comment_count equal to what the public
sees, and the commenter following the suggestion. Reports: test_comment_reports.py."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from app.audit.models import AuditEntry
from app.auth.current import open_session
from app.auth.models import SessionKind
from app.org import factories as f
from app.org.models import HostType, PlatformKind, Role, WechatApp, WechatIdentity
from app.suggestions.comments import recount_comments
from app.suggestions.models import (
    Comment, CommentState, Follow, Suggestion, SuggestionState,
)
from app.topics.models import Category, Source

from ..helpers import bearer, committed_session, count_statements

# Full names that must never appear in a public answer.
NAMES = {"r1": "王小明", "r2": "李秀英", "r3": "张建国", "r4": "刘德华", "r5": "陈晓东",
         "r6": "赵文静", "nobind": "孙无绑"}
STAFF_NAMES = {"conv_town": "周召集", "conv_other": "吴召集", "staff_a": "郑工作",
               "staff_b": "冯工作", "admin": "钱管理"}


def build_world(app) -> dict:
    """County A (a town room with its convenor and staff) and county B (another town room with
    its convenor and staff), an admin for the city, residents with mini-program openids (so the
    fake WeChat answers the content check) and one without (the check cannot run → held).
    Suggestions on the town room in every state, and one open on the other room."""
    w: dict = {}
    with committed_session(app) as s:
        city = f.create_region(s, code="8800", name="评论市", kind="city")
        county_a = f.create_region(s, code="8801", name="甲县", kind="county", parent=city)
        county_b = f.create_region(s, code="8802", name="乙县", kind="county", parent=city)
        town = f.create_region(s, code="8801001", name="甲镇", kind="township", parent=county_a)
        town_b = f.create_region(s, code="8802001", name="乙镇", kind="township",
                                 parent=county_b)
        p_town = f.create_platform(s, kind=PlatformKind.room, host_type=HostType.town,
                                   region=town)
        p_other = f.create_platform(s, kind=PlatformKind.room, host_type=HostType.town,
                                    region=town_b)
        people = {key: f.create_person(s, name=name, home_region=town)
                  for key, name in NAMES.items()}
        for key, name in STAFF_NAMES.items():
            people[key] = f.create_person(s, name=name)
        f.set_convenor(s, p_town, people["conv_town"])
        f.set_convenor(s, p_other, people["conv_other"])
        f.assign_role(s, people["staff_a"], Role.staff, region=county_a)
        f.assign_role(s, people["staff_b"], Role.staff, region=county_b)
        f.assign_role(s, people["admin"], Role.admin, region=city)
        for key, person in people.items():
            if key != "nobind":
                s.add(WechatIdentity(person_id=person.id, app=WechatApp.mp, openid=f"o_{key}"))

        def suggestion(platform, state, title, proposer="r1"):
            sug = Suggestion(platform_id=platform.id, proposer_id=people[proposer].id,
                             source=Source.proposed, category=Category.livelihood, title=title,
                             description="具体情况说明", state=state)
            s.add(sug)
            s.flush()
            return sug.id

        w["sug"] = {
            "open": suggestion(p_town, SuggestionState.open, "小区路灯不亮"),
            "taken": suggestion(p_town, SuggestionState.taken_up, "菜市场停车难"),
            "declined": suggestion(p_town, SuggestionState.declined, "广场舞噪音"),
            "held": suggestion(p_town, SuggestionState.held, "待审核的建议", proposer="r2"),
            "other": suggestion(p_other, SuggestionState.open, "乙镇的建议", proposer="r3"),
        }
        s.flush()
        w["tokens"] = {k: open_session(s, p, SessionKind.mp, timedelta(hours=1))[0]
                       for k, p in people.items()}
        w["people"] = {k: p.id for k, p in people.items()}
        w["platforms"] = {"town": p_town.id, "other": p_other.id}
    return w


@pytest.fixture
def world(app, fake_wechat):
    return build_world(app)


def as_(world, who) -> dict:
    return bearer(world["tokens"][who])


def post(client, world, who, sug="open", body="路灯坏了很久了，晚上出行不安全", parent=None,
         headers=None):
    payload = {"body": body} if parent is None else {"body": body, "parent_id": parent}
    sid = world["sug"][sug] if isinstance(sug, str) else sug
    return client.post(f"/api/suggestions/{sid}/comments", json=payload,
                       headers={**as_(world, who), **(headers or {})})


def comment(client, world, who, **kw) -> int:
    r = post(client, world, who, **kw)
    assert r.status_code == 201, r.json
    return r.json["comment"]["id"]


def report(client, world, who, comment_id, reason=None):
    return client.post(f"/api/comments/{comment_id}/report",
                       json={} if reason is None else {"reason": reason},
                       headers=as_(world, who))


def thread(client, world, who=None, sug="open", **params):
    r = client.get(f"/api/suggestions/{world['sug'][sug]}/comments",
                   query_string=params, headers=as_(world, who) if who else {})
    assert r.status_code == 200, r.json
    return r.json


def all_ids(page) -> list[int]:
    return [c["id"] for c in page["items"]] + [r["id"] for c in page["items"]
                                               for r in c["replies"]]


def exact_count(app, sid) -> int:
    """comment_count as stored, after checking it equals the rows' truth."""
    with committed_session(app) as s:
        stored = s.scalar(select(Suggestion.comment_count).where(Suggestion.id == sid))
        assert stored == recount_comments(s, sid)
        return stored


# --- posting -------------------------------------------------------------------------------------

def test_a_comment_is_public_masked_counted_and_its_author_follows(client, app, world):
    sid = world["sug"]["open"]
    r = post(client, world, "r2")
    assert r.status_code == 201, r.json
    c = r.json["comment"]
    assert (c["state"], c["state_label"], c["notice"]) == ("visible", "已公开", None)
    assert c["author"] == "李**" and c["is_mine"] is True
    assert r.json["comment_count"] == 1 == exact_count(app, sid)

    anon = client.get(f"/api/suggestions/{sid}/comments")
    assert anon.status_code == 200
    assert [i["body"] for i in anon.json["items"]] == ["路灯坏了很久了，晚上出行不安全"]
    assert anon.json["items"][0]["author"] == "李**"
    assert anon.json["items"][0]["is_mine"] is None
    text = anon.get_data(as_text=True)
    for name in NAMES.values():
        assert name not in text  # masked names only, never a full name
    assert "o_r2" not in text

    with committed_session(app) as s:
        assert s.scalar(select(Follow.id).where(Follow.suggestion_id == sid,
                                                Follow.person_id == world["people"]["r2"]))
        assert s.get(Suggestion, sid).follower_count == 1
        entry = s.scalar(select(AuditEntry).where(AuditEntry.action == "comment.create"))
        assert entry.actor_id == world["people"]["r2"]
        assert entry.after["state"] == "visible" and entry.after["safety"] == "pass"
    # Commenting again does not follow twice.
    comment(client, world, "r2", body="再补充一点")
    with committed_session(app) as s:
        assert s.get(Suggestion, sid).follower_count == 1


def test_the_convenor_reply_carries_a_badge_but_no_name(client, app, world):
    top = comment(client, world, "r1")
    reply = post(client, world, "conv_town", body="已记录，近期安排维修", parent=top)
    assert reply.status_code == 201
    item = thread(client, world)["items"][0]["replies"][0]
    assert item["author_badge"] == "召集人" and item["author"] == "周**"
    assert thread(client, world)["items"][0]["author_badge"] is None


def test_replies_are_one_level_deep(client, app, world):
    top = comment(client, world, "r1", body="第一条")
    reply = comment(client, world, "r2", body="回复第一条", parent=top)
    reply_to_reply = comment(client, world, "r3", body="回复那条回复", parent=reply)
    with committed_session(app) as s:
        # A reply to a reply joins the top-level comment's thread.
        assert s.get(Comment, reply).parent_id == top
        assert s.get(Comment, reply_to_reply).parent_id == top
    page = thread(client, world)
    assert [i["id"] for i in page["items"]] == [top]
    assert [r["id"] for r in page["items"][0]["replies"]] == [reply, reply_to_reply]
    assert all(r["parent_id"] == top for r in page["items"][0]["replies"])
    assert page["items"][0]["reply_count"] == 2
    assert page["items"][0]["has_more_replies"] is False
    assert exact_count(app, world["sug"]["open"]) == 3


def test_a_reply_needs_a_visible_parent_on_the_same_suggestion(client, app, world,
                                                               fake_wechat):
    elsewhere = comment(client, world, "r1", sug="other")
    r = post(client, world, "r2", parent=elsewhere)
    assert r.status_code == 404 and r.json["error"] == "comment_not_found"
    fake_wechat.set_words(review=["待审测试词"])
    held = comment(client, world, "r1", body="待审测试词")
    assert post(client, world, "r2", parent=held).status_code == 404
    assert post(client, world, "r2", parent=999999).status_code == 404
    with committed_session(app) as s:
        assert s.scalar(select(func.count()).select_from(Comment)) == 2


def test_only_open_suggestions_take_comments_and_held_ones_are_not_found(client, app, world):
    for state in ("taken", "declined"):
        r = post(client, world, "r2", sug=state)
        assert r.status_code == 409 and r.json["error"] == "comments_closed"
        assert r.json["message"] == "该建议已结束讨论，不能再发表评论"
        page = thread(client, world, sug=state)  # still readable
        assert page["is_open"] is False and page["items"] == []
    assert thread(client, world)["is_open"] is True
    held = world["sug"]["held"]
    # Held: not public, not even for its proposer (the moderators see it in their queue).
    assert post(client, world, "r2", sug="held").status_code == 404
    assert client.get(f"/api/suggestions/{held}/comments",
                      headers=as_(world, "r2")).status_code == 404
    assert client.get("/api/suggestions/999999/comments").status_code == 404


def test_input_rules(client, app, world):
    assert client.post(f"/api/suggestions/{world['sug']['open']}/comments",
                       json={"body": "好"}).status_code == 401
    for bad in ("", "   ", "x" * 501, "a\u0000b"):
        r = post(client, world, "r1", body=bad)
        assert r.status_code == 422, bad
        assert r.json["error"] == "validation_failed"
    r = post(client, world, "r1", body="  " + "好" * 500 + "\n")
    assert r.status_code == 201 and r.json["comment"]["body"] == "好" * 500
    r = client.post(f"/api/suggestions/{world['sug']['open']}/comments",
                    json={"body": "好", "state": "visible"}, headers=as_(world, "r1"))
    assert r.status_code == 422  # no extra fields (a client cannot choose the state)


def test_comments_and_reports_are_rate_limited_per_person(client, app, world, monkeypatch):
    from app.auth import ratelimit
    from app.suggestions import comment_routes

    # A day-long window: the test cannot straddle a window boundary in practice.
    monkeypatch.setattr(comment_routes, "COMMENT_LIMIT",
                        ratelimit.Limit("comment-create", 2, 86400))
    assert [post(client, world, "r1", body=f"第{i}条").status_code for i in range(3)] == [
        201, 201, 429]
    assert post(client, world, "r2").status_code == 201  # another person has their own limit
    with committed_session(app) as s:
        assert s.scalar(select(func.count()).select_from(Comment)) == 3


# --- content safety ------------------------------------------------------------------------------

@pytest.mark.parametrize("body", ["这里有违禁测试词", "你是个傻 逼"])  # WeChat / local word list
def test_risky_text_is_refused_and_nothing_is_stored(client, app, world, body):
    r = post(client, world, "r2", body=body)
    assert r.status_code == 422
    assert r.json["error"] == "content_risky"
    assert r.json["message"] == "内容含有不当信息，请修改后再提交"
    with committed_session(app) as s:
        assert s.scalar(select(func.count()).select_from(Comment)) == 0
        assert s.scalar(select(func.count()).select_from(Follow)) == 0
        assert s.scalar(select(func.count()).select_from(AuditEntry).where(
            AuditEntry.action == "comment.create")) == 0
    assert exact_count(app, world["sug"]["open"]) == 0


def test_review_text_is_held_and_only_its_author_sees_it(client, app, world, fake_wechat):
    visible = comment(client, world, "r1", body="路灯的事大家都关心")
    fake_wechat.set_words(review=["待审测试词"])
    r = post(client, world, "r2", body="这条有待审测试词")
    assert r.status_code == 201, r.json
    c = r.json["comment"]
    assert (c["state"], c["state_label"]) == ("held", "审核中")
    assert c["notice"] == "已提交，审核通过后公开"
    assert r.json["comment_count"] == 1 == exact_count(app, world["sug"]["open"])
    reply = post(client, world, "r2", body="回复也有待审测试词", parent=visible)
    assert reply.status_code == 201 and reply.json["comment"]["state"] == "held"

    assert all_ids(thread(client, world)) == [visible]                 # the public
    assert all_ids(thread(client, world, "r3")) == [visible]           # anyone else
    mine = thread(client, world, "r2")                                  # the author
    assert set(all_ids(mine)) == {visible, c["id"], reply.json["comment"]["id"]}
    held_item = next(i for i in mine["items"] if i["id"] == c["id"])
    assert held_item["state_label"] == "审核中" and held_item["is_mine"] is True
    assert mine["items"][1]["replies"][0]["state_label"] == "审核中"
    with committed_session(app) as s:
        note = s.get(Comment, c["id"]).moderation_note
    assert "建议人工审核" in note
    # The author still follows what they commented on.
    with committed_session(app) as s:
        assert s.scalar(select(Follow.id).where(Follow.person_id == world["people"]["r2"]))


@pytest.mark.parametrize("errcode", [-1, 45009])
def test_a_failing_check_holds(client, app, world, fake_wechat, errcode):
    fake_wechat.fail("/wxa/msg_sec_check", errcode, times=None)
    r = post(client, world, "r2")
    assert r.status_code == 201 and r.json["comment"]["state"] == "held"
    with committed_session(app) as s:
        assert "检测失败" in s.get(Comment, r.json["comment"]["id"]).moderation_note
    assert thread(client, world)["items"] == []
    assert exact_count(app, world["sug"]["open"]) == 0


def test_an_author_without_a_mini_program_identity_is_held(client, app, world, fake_wechat):
    r = post(client, world, "nobind")
    assert r.status_code == 201 and r.json["comment"]["state"] == "held"
    assert fake_wechat.calls(path="/wxa/msg_sec_check") == []


def test_a_replayed_idempotency_key_gives_one_comment(client, app, world):
    key = {"Idempotency-Key": "c0mment-retry-0001"}
    first = post(client, world, "r2", headers=key)
    again = post(client, world, "r2", headers=key)
    assert first.status_code == again.status_code == 201
    assert first.json == again.json
    with committed_session(app) as s:
        assert s.scalar(select(func.count()).select_from(Comment)) == 1
    assert exact_count(app, world["sug"]["open"]) == 1


# --- the public thread view ----------------------------------------------------------------------

def add_rows(app, world, *, tops: int, replies_each: int, long_thread: int = 0) -> dict:
    """Comments written straight into the tables (the read path is under test)."""
    sid = world["sug"]["open"]
    authors = [world["people"][k] for k in ("r1", "r2", "r3", "r4", "r5")]
    out = {"tops": [], "long": None, "long_replies": []}
    with committed_session(app) as s:
        for i in range(tops):
            top = Comment(suggestion_id=sid, author_id=authors[i % 5], body=f"评论{i}",
                          state=CommentState.visible)
            s.add(top)
            s.flush()
            out["tops"].append(top.id)
            for j in range(replies_each):
                s.add(Comment(suggestion_id=sid, author_id=authors[j % 5], parent_id=top.id,
                              body=f"回复{i}-{j}", state=CommentState.visible))
            # Hidden and other people's held replies never show.
            s.add(Comment(suggestion_id=sid, author_id=authors[1], parent_id=top.id,
                          body="隐藏的回复", state=CommentState.hidden))
        if long_thread:
            top = Comment(suggestion_id=sid, author_id=authors[0], body="长讨论",
                          state=CommentState.visible)
            s.add(top)
            s.flush()
            out["long"] = top.id
            for j in range(long_thread):
                r = Comment(suggestion_id=sid, author_id=authors[j % 5], parent_id=top.id,
                            body=f"长讨论回复{j}", state=CommentState.visible)
                s.add(r)
                s.flush()
                out["long_replies"].append(r.id)
        s.add(Comment(suggestion_id=sid, author_id=authors[2], body="别人的待审评论",
                      state=CommentState.held))
        s.flush()
        s.get(Suggestion, sid).comment_count = recount_comments(s, sid)
    return out


def walk(client, url, headers=None, limit=7):
    seen, cursor = [], None
    while True:
        params = {"limit": limit, **({"cursor": cursor} if cursor else {})}
        r = client.get(url, query_string=params, headers=headers or {})
        assert r.status_code == 200, r.json
        seen.append(r.json)
        cursor = r.json["next_cursor"]
        if not cursor:
            return seen


def test_keyset_pages_cover_every_top_level_comment_once_newest_first(client, app, world):
    rows = add_rows(app, world, tops=23, replies_each=2)
    pages = walk(client, f"/api/suggestions/{world['sug']['open']}/comments")
    tops = [i["id"] for p in pages for i in p["items"]]
    assert tops == sorted(rows["tops"], reverse=True)
    assert len(pages) == 4
    for p in pages:
        for item in p["items"]:
            assert item["reply_count"] == 2 and len(item["replies"]) == 2
            assert [r["body"] for r in item["replies"]] == sorted(r["body"] for r in
                                                                  item["replies"])
            assert all(r["state"] == "visible" for r in item["replies"])
    assert pages[0]["comment_count"] == 23 * 3 == exact_count(app, world["sug"]["open"])
    bad = client.get(f"/api/suggestions/{world['sug']['open']}/comments?cursor=abc")
    assert bad.status_code == 422 and bad.json["error"] == "invalid_cursor"


def test_a_long_thread_shows_its_first_replies_and_pages_the_rest(client, app, world):
    rows = add_rows(app, world, tops=1, replies_each=0, long_thread=27)
    page = thread(client, world)
    long_item = next(i for i in page["items"] if i["id"] == rows["long"])
    assert [r["id"] for r in long_item["replies"]] == rows["long_replies"][:20]
    assert long_item["reply_count"] == 27 and long_item["has_more_replies"] is True
    pages = walk(client, f"/api/comments/{rows['long']}/replies", limit=10)
    assert [r["id"] for p in pages for r in p["items"]] == rows["long_replies"]
    # A reply is not a thread; an unknown comment is not found.
    assert client.get(f"/api/comments/{rows['long_replies'][0]}/replies").status_code == 404
    assert client.get("/api/comments/999999/replies").status_code == 404


@pytest.mark.parametrize("who", [None, "r3"])
def test_the_thread_view_runs_a_fixed_number_of_statements(client, app, world, who):
    add_rows(app, world, tops=45, replies_each=3)
    engine = app.extensions["db"].engine
    url = f"/api/suggestions/{world['sug']['open']}/comments"
    headers = as_(world, who) if who else {}
    counts = {}
    for limit in (2, 45):
        def get(limit=limit):
            r = client.get(url, query_string={"limit": limit}, headers=headers)
            assert r.status_code == 200 and len(r.json["items"]) == limit
        counts[limit] = count_statements(engine, get)
    assert counts[2] == counts[45]
    # (login) + suggestion + page + replies of the page
    assert counts[2] <= (4 if who else 3)
