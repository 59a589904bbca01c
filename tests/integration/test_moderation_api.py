"""The moderation queue and decisions over HTTP: who may moderate what (convenor: their platform;
staff: their reach; another platform's convenor → 404; a resident → 403), held suggestions
approved (public, proposer told) or rejected (note told), comments approved / hidden / rejected
with comment_count always equal to what the public sees, and every decision audited."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from app.audit.models import AuditEntry
from app.notify.models import OutboxMessage
from app.suggestions.models import (
    Comment, CommentState, Suggestion, SuggestionState, TimelineEntry,
)
from app.topics.models import Category, Source

from ..helpers import committed_session
from .test_comments_api import (
    all_ids, as_, build_world, comment, exact_count, post, report, thread,
)


@pytest.fixture
def world(app, fake_wechat):
    return build_world(app)


def queue(client, world, who, **params):
    return client.get("/api/moderation", query_string=params, headers=as_(world, who))


def decide(client, world, who, kind, obj_id, decision, note=None):
    payload = {"decision": decision} if note is None else {"decision": decision, "note": note}
    return client.post(f"/api/moderation/{kind}/{obj_id}", json=payload, headers=as_(world, who))


def held_comment(client, world, who, **kw) -> int:
    r = post(client, world, who, body=kw.pop("body", "这条有待审测试词"), **kw)
    assert r.status_code == 201 and r.json["comment"]["state"] == "held", r.json
    return r.json["comment"]["id"]


def state_of(app, cid) -> CommentState:
    with committed_session(app) as s:
        return s.get(Comment, cid).state


# --- who may moderate ----------------------------------------------------------------------------

def test_moderation_needs_a_moderator_role_and_stays_within_reach(client, app, world):
    cid = held_comment(client, world, "r2")
    held_sug = world["sug"]["held"]
    town = world["platforms"]["town"]
    # Not logged in → 401; a resident (no moderator role) → 403, whatever the object.
    assert client.get("/api/moderation").status_code == 401
    for r in (queue(client, world, "r1"),
              decide(client, world, "r1", "comments", cid, "approve"),
              decide(client, world, "r1", "suggestions", held_sug, "approve")):
        assert r.status_code == 403 and r.json["error"] == "forbidden"
    # Another platform's convenor and another county's staff: 404, as if it did not exist.
    for who in ("conv_other", "staff_b"):
        assert queue(client, world, who, platform_id=town).status_code == 404
        r = decide(client, world, who, "comments", cid, "approve")
        assert r.status_code == 404 and r.json["error"] == "comment_not_found"
        r = decide(client, world, who, "suggestions", held_sug, "approve")
        assert r.status_code == 404 and r.json["error"] == "suggestion_not_found"
        assert queue(client, world, who).json["counts"] == {"suggestion": 0, "comment": 0}
    assert state_of(app, cid) is CommentState.held
    with committed_session(app) as s:
        assert s.get(Suggestion, held_sug).state is SuggestionState.held
        assert s.scalar(select(func.count()).select_from(AuditEntry).where(
            AuditEntry.action.like("%moderate%") | AuditEntry.action.in_(
                ["comment.approve", "comment.hide", "comment.reject"]))) == 0
    # Unknown objects: 404 for a moderator too.
    assert decide(client, world, "admin", "comments", 999999, "hide").status_code == 404
    assert decide(client, world, "admin", "suggestions", 999999, "approve").status_code == 404


def test_the_queue_shows_held_and_reported_items_in_reach_oldest_first(client, app, world):
    held_a = held_comment(client, world, "r2")
    reported = comment(client, world, "r1", body="被举报一次的评论")
    assert report(client, world, "r3", reported, reason="广告").status_code == 201
    untouched = comment(client, world, "r4", body="没人举报的评论")
    held_b = held_comment(client, world, "r5", body="又一条待审测试词")
    elsewhere = held_comment(client, world, "r3", sug="other")

    expected = [held_a, reported, held_b]
    for who in ("conv_town", "staff_a"):
        page = queue(client, world, who).json
        assert page["kind"] == "comment"
        assert [i["id"] for i in page["items"]] == expected
        assert page["counts"] == {"suggestion": 1, "comment": 3}
    item = queue(client, world, "conv_town").json["items"][1]
    assert item["report_count"] == 1 and item["report_reasons"] == ["广告"]
    assert item["suggestion_title"] == "小区路灯不亮" and item["author"] == "王**"
    assert untouched not in [i["id"] for i in queue(client, world, "conv_town").json["items"]]
    assert [i["id"] for i in queue(client, world, "conv_other").json["items"]] == [elsewhere]
    admin = queue(client, world, "admin").json
    assert [i["id"] for i in admin["items"]] == sorted(expected + [elsewhere])
    only_town = queue(client, world, "admin", platform_id=world["platforms"]["town"]).json
    assert [i["id"] for i in only_town["items"]] == expected
    # Keyset pages, oldest first.
    seen, cursor = [], None
    while True:
        page = queue(client, world, "admin", limit=2, **({"cursor": cursor} if cursor else {}))
        seen += [i["id"] for i in page.json["items"]]
        cursor = page.json["next_cursor"]
        if not cursor:
            break
    assert seen == sorted(expected + [elsewhere])

    sugs = queue(client, world, "conv_town", kind="suggestion").json
    assert [i["id"] for i in sugs["items"]] == [world["sug"]["held"]]
    assert sugs["items"][0]["proposer"] == "李**" and sugs["items"][0]["title"] == "待审核的建议"
    assert queue(client, world, "conv_town", kind="vote").status_code == 422


# --- held suggestions ----------------------------------------------------------------------------

def test_approving_a_held_suggestion_publishes_it_and_tells_the_proposer(client, app, world):
    sid = world["sug"]["held"]
    assert client.get(f"/api/suggestions/{sid}/comments").status_code == 404
    r = decide(client, world, "conv_town", "suggestions", sid, "approve", note="内容属实")
    assert r.status_code == 200, r.json
    assert r.json == {"kind": "suggestion", "id": sid, "state": "open", "state_label": "征集中",
                      "changed": True, "comment_count": None}
    assert client.get(f"/api/suggestions/{sid}/comments").status_code == 200
    assert sid in [i["id"] for i in client.get("/api/suggestions?limit=50").json["items"]]
    with committed_session(app) as s:
        notices = s.scalars(select(OutboxMessage)).all()
        assert [(n.kind, n.recipient_id) for n in notices] == [
            ("status_change", world["people"]["r2"])]
        assert "待审核的建议" in notices[0].body and "已通过审核" in notices[0].body
        assert [t.kind for t in s.scalars(select(TimelineEntry).where(
            TimelineEntry.suggestion_id == sid))] == ["published"]
        entry = s.scalar(select(AuditEntry).where(
            AuditEntry.action == "suggestion.moderate.approve"))
        assert entry.actor_id == world["people"]["conv_town"]
        assert entry.before["state"] == "held" and entry.after["state"] == "open"
    # A second tap changes nothing and tells nobody twice; rejecting it now is a conflict.
    again = decide(client, world, "staff_a", "suggestions", sid, "approve")
    assert again.status_code == 200 and again.json["changed"] is False
    conflict = decide(client, world, "staff_a", "suggestions", sid, "reject", note="改主意")
    assert conflict.status_code == 409 and conflict.json["error"] == "suggestion_not_held"
    with committed_session(app) as s:
        assert s.scalar(select(func.count()).select_from(OutboxMessage)) == 1
    assert queue(client, world, "conv_town").json["counts"]["suggestion"] == 0


def test_rejecting_a_held_suggestion_needs_a_reason_that_the_proposer_is_told(client, app,
                                                                              world):
    sid = world["sug"]["held"]
    r = decide(client, world, "staff_a", "suggestions", sid, "reject")
    assert r.status_code == 422 and r.json["error"] == "note_required"
    r = decide(client, world, "staff_a", "suggestions", sid, "reject", note="涉及个人隐私信息")
    assert r.status_code == 200 and r.json["state"] == "rejected"
    assert r.json["state_label"] == "未通过审核"
    with committed_session(app) as s:
        sug = s.get(Suggestion, sid)
        assert sug.state is SuggestionState.rejected
        assert sug.moderation_note == "涉及个人隐私信息"
        notice = s.scalar(select(OutboxMessage))
        assert notice.recipient_id == world["people"]["r2"] and notice.kind == "status_change"
        assert "涉及个人隐私信息" in notice.body
        assert s.scalar(select(AuditEntry).where(
            AuditEntry.action == "suggestion.moderate.reject")).after["state"] == "rejected"
    assert decide(client, world, "staff_a", "suggestions", sid, "approve").status_code == 409
    assert client.get(f"/api/suggestions/{sid}/comments").status_code == 404
    # Only held suggestions are moderated: an open one cannot be "rejected" here.
    r = decide(client, world, "conv_town", "suggestions", world["sug"]["open"], "reject",
               note="不行")
    assert r.status_code == 409


# --- comments ------------------------------------------------------------------------------------

def test_counts_stay_exact_through_hide_approve_and_reject(client, app, world):
    sid = world["sug"]["open"]
    top = comment(client, world, "r1", body="主评论")
    r2 = comment(client, world, "r2", body="第一条回复", parent=top)
    r3 = comment(client, world, "r3", body="第二条回复", parent=top)
    assert exact_count(app, sid) == 3

    def step(who, cid, decision, count, *, changed=True, note=None):
        r = decide(client, world, who, "comments", cid, decision, note=note)
        assert r.status_code == 200, r.json
        assert r.json["changed"] is changed and r.json["comment_count"] == count
        assert exact_count(app, sid) == count

    step("conv_town", r2, "hide", 2, note="含有他人电话")
    assert all_ids(thread(client, world)) == [top, r3]
    step("staff_a", top, "hide", 0)                      # the whole thread goes with it
    assert thread(client, world)["items"] == []
    assert client.get(f"/api/comments/{top}/replies").status_code == 404
    step("staff_a", top, "hide", 0, changed=False)       # the same decision again: no-op
    step("conv_town", top, "approve", 2)                 # back, with its visible reply
    assert all_ids(thread(client, world)) == [top, r3]
    step("admin", r2, "approve", 3)
    held = held_comment(client, world, "r4")
    assert exact_count(app, sid) == 3
    step("conv_town", held, "approve", 4)
    assert held in all_ids(thread(client, world))
    rejected = held_comment(client, world, "r5", parent=top)
    step("conv_town", rejected, "reject", 4, note="广告")
    step("conv_town", rejected, "reject", 4, changed=False)
    assert state_of(app, rejected) is CommentState.rejected

    for cid, decision, code in ((rejected, "approve", "comment_state_conflict"),
                                (r3, "reject", "comment_state_conflict")):
        r = decide(client, world, "conv_town", "comments", cid, decision)
        assert r.status_code == 409 and r.json["error"] == code
    assert decide(client, world, "conv_town", "comments", r3, "delete").status_code == 422
    r = client.post(f"/api/moderation/comments/{r3}", headers=as_(world, "conv_town"),
                    json={"decision": "hide", "note": "x" * 501})
    assert r.status_code == 422
    assert exact_count(app, sid) == 4

    with committed_session(app) as s:
        hide = s.scalar(select(AuditEntry).where(AuditEntry.action == "comment.hide",
                                                 AuditEntry.object_id == str(r2)))
        assert hide.actor_id == world["people"]["conv_town"]
        assert hide.before["state"] == "visible" and hide.after["state"] == "hidden"
        assert hide.after["moderation_note"] == "含有他人电话"
        assert hide.after["comment_count_delta"] == -1
        actions = [a for a, in s.execute(select(AuditEntry.action).where(
            AuditEntry.action.like("comment.%"), AuditEntry.action != "comment.create")
            .order_by(AuditEntry.id))]
        # Only real changes are audited (the two no-ops are not).
        assert actions == ["comment.hide", "comment.hide", "comment.approve", "comment.approve",
                           "comment.approve", "comment.reject"]
        c = s.get(Comment, r2)
        assert c.moderated_by_id == world["people"]["admin"] and c.moderated_at is not None


def test_an_auto_held_comment_returns_when_approved_and_reports_start_again(client, app,
                                                                             world):
    sid = world["sug"]["open"]
    cid = comment(client, world, "r1", body="引起争议的评论")
    for who in ("r2", "r3", "r4"):
        assert report(client, world, who, cid).status_code == 201
    assert state_of(app, cid) is CommentState.held and exact_count(app, sid) == 0
    assert [i["id"] for i in queue(client, world, "conv_town").json["items"]] == [cid]

    r = decide(client, world, "conv_town", "comments", cid, "approve", note="正常反映问题")
    assert r.status_code == 200 and r.json["state"] == "visible"
    assert exact_count(app, sid) == 1 and all_ids(thread(client, world)) == [cid]
    with committed_session(app) as s:
        assert s.get(Comment, cid).report_count == 0
    assert queue(client, world, "conv_town").json["items"] == []
    # Those who reported cannot report again; it takes three new people to hold it again.
    assert report(client, world, "r2", cid).status_code == 200
    for who in ("r5", "r6"):
        assert report(client, world, who, cid).status_code == 201
    assert state_of(app, cid) is CommentState.visible
    assert report(client, world, "staff_a", cid).status_code == 201
    assert state_of(app, cid) is CommentState.held and exact_count(app, sid) == 0


def test_approving_a_reported_visible_comment_dismisses_the_reports(client, app, world):
    cid = comment(client, world, "r1")
    assert report(client, world, "r2", cid, reason="看不惯").status_code == 201
    r = decide(client, world, "staff_a", "comments", cid, "approve")
    assert r.status_code == 200 and r.json["changed"] is True and r.json["state"] == "visible"
    assert queue(client, world, "staff_a").json["counts"]["comment"] == 0
    with committed_session(app) as s:
        entry = s.scalar(select(AuditEntry).where(AuditEntry.action == "comment.approve"))
        assert entry.before["report_count"] == 1 and entry.after["report_count"] == 0
    # Nothing left to dismiss: approving again is a no-op.
    again = decide(client, world, "staff_a", "comments", cid, "approve")
    assert again.status_code == 200 and again.json["changed"] is False


def test_moderators_see_suggestions_of_every_state_but_queue_only_held(client, app, world):
    with committed_session(app) as s:
        extra = Suggestion(platform_id=world["platforms"]["town"],
                           proposer_id=world["people"]["r3"], source=Source.proposed,
                           category=Category.major, title="第二条待审建议", description="说明",
                           state=SuggestionState.held)
        s.add(extra)
        s.flush()
        extra_id = extra.id
    page = queue(client, world, "staff_a", kind="suggestion").json
    assert [i["id"] for i in page["items"]] == [world["sug"]["held"], extra_id]
    assert page["items"][1]["category_label"] == "要事"
    assert decide(client, world, "staff_a", "suggestions", extra_id,
                  "approve").status_code == 200
    page = queue(client, world, "staff_a", kind="suggestion").json
    assert [i["id"] for i in page["items"]] == [world["sug"]["held"]]
    assert page["counts"]["suggestion"] == 1
