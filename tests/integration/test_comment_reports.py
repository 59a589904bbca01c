"""Reports on comments: once per person, the automatic hold after N reports (the thread
leaves the count, a reply only itself), and every count exact under concurrent comments and
reports."""
from __future__ import annotations

import threading

from sqlalchemy import func, select

from app.audit.models import AuditEntry
from app.suggestions.models import Comment, CommentReport, CommentState, Follow, Suggestion

from ..helpers import committed_session
from .test_comments_api import (  # noqa: F401 (world is a fixture)
    all_ids, comment, exact_count, post, report, thread, world,
)


def test_one_report_per_person_a_second_is_a_no_op(client, app, world):
    cid = comment(client, world, "r1")
    first = report(client, world, "r2", cid, reason="人身攻击")
    assert first.status_code == 201, first.json
    assert first.json["already_reported"] is False
    again = report(client, world, "r2", cid, reason="再举报一次")
    assert again.status_code == 200 and again.json["already_reported"] is True
    with committed_session(app) as s:
        assert s.get(Comment, cid).report_count == 1
        assert s.scalars(select(CommentReport.reason)).all() == ["人身攻击"]
        assert s.scalar(select(func.count()).select_from(AuditEntry).where(
            AuditEntry.action == "comment.report")) == 1
    own = report(client, world, "r1", cid)
    assert own.status_code == 422 and own.json["error"] == "cannot_report_own_comment"
    assert client.post(f"/api/comments/{cid}/report", json={}).status_code == 401
    assert report(client, world, "r2", 999999).status_code == 404
    assert report(client, world, "r2", cid, reason="x" * 201).status_code == 422


def test_n_reports_hold_a_comment_and_its_thread_leaves_the_count(client, app, world):
    sid = world["sug"]["open"]
    top = comment(client, world, "r1", body="有争议的评论")
    for who in ("r2", "r3"):
        comment(client, world, who, body=f"{who}的回复", parent=top)
    other = comment(client, world, "r4", body="另一条评论")
    assert exact_count(app, sid) == 4

    for who in ("r2", "r3"):
        assert report(client, world, who, top).status_code == 201
    assert top in all_ids(thread(client, world))  # below the threshold (3): still public
    assert report(client, world, "r5", top).status_code == 201

    with committed_session(app) as s:
        c = s.get(Comment, top)
        assert c.state is CommentState.held and c.report_count == 3
        assert "3 人举报" in c.moderation_note
        entry = s.scalar(select(AuditEntry).where(AuditEntry.action == "comment.auto_hold"))
        assert entry.actor_id is None
        assert entry.before["state"] == "visible" and entry.after["state"] == "held"
    assert all_ids(thread(client, world)) == [other]  # the whole thread is held
    assert exact_count(app, sid) == 1
    # A held comment cannot be reported (it is not public) or replied to.
    assert report(client, world, "r6", top).status_code == 404
    assert post(client, world, "r6", parent=top).status_code == 404
    # Its author still sees it, marked 审核中.
    mine = thread(client, world, "r1")
    assert next(i for i in mine["items"] if i["id"] == top)["state_label"] == "审核中"


def test_a_reported_reply_leaves_the_count_alone_not_its_thread(client, app, world, monkeypatch):
    monkeypatch.setitem(app.config, "APP", app.config["APP"].with_(comment_report_threshold=1))
    sid = world["sug"]["open"]
    top = comment(client, world, "r1")
    reply = comment(client, world, "r2", body="不当回复", parent=top)
    keep = comment(client, world, "r3", body="正常回复", parent=top)
    assert report(client, world, "r4", reply).status_code == 201  # threshold 1: held at once
    assert all_ids(thread(client, world)) == [top, keep]
    assert exact_count(app, sid) == 2


def test_concurrent_comments_and_reports_keep_every_count_exact(client, app, world):
    sid = world["sug"]["open"]
    target = comment(client, world, "conv_town", body="被多人同时举报的评论")
    reporters = ["r1", "r2", "r3", "r4", "r5", "r6"]
    posters = ["r1", "r2", "r3", "r4", "r5", "r6", "staff_a", "admin"]
    results: dict[str, list[int]] = {"report": [], "post": []}
    lock = threading.Lock()
    start = threading.Barrier(len(reporters) + len(posters))

    def run(what, fn):
        local = app.test_client()
        start.wait()
        r = fn(local)
        with lock:
            results[what].append(r.status_code)

    threads = [threading.Thread(target=run, args=(
        "report", lambda c, who=who: report(c, world, who, target))) for who in reporters]
    threads += [threading.Thread(target=run, args=(
        "post", lambda c, who=who: post(c, world, who, body=f"{who}同时发表的评论")))
        for who in posters]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert results["post"] == [201] * len(posters)
    # The third report holds the comment; whoever comes after finds it no longer public.
    assert sorted(results["report"]) == [201] * 3 + [404] * 3
    with committed_session(app) as s:
        c = s.get(Comment, target)
        assert c.report_count == 3 == s.scalar(select(func.count()).select_from(CommentReport))
        assert c.state is CommentState.held
        assert s.scalar(select(func.count()).select_from(AuditEntry).where(
            AuditEntry.action == "comment.auto_hold")) == 1
        followers = s.scalar(select(func.count()).select_from(Follow).where(
            Follow.suggestion_id == sid))
        assert s.get(Suggestion, sid).follower_count == followers
    assert exact_count(app, sid) == len(posters)
