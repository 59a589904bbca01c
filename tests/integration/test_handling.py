"""D20–D21, the department side of handling: a handler of the lead department accepts, plans,
posts progress (percent, text, photos or a PDF) and completes; asks for a later due date. Only
their departments' tasks exist for them (404 otherwise); co-handlers read and post progress.
Every step is a TaskEvent and an audit entry; a repeated identical request is a replay."""
from __future__ import annotations

import io
from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from app.audit.models import AuditEntry
from app.suggestions.models import TimelineEntry
from app.followup.models import (
    ExtensionRequest, HandlingTask, ItemState, ItemTrack, TaskEvent, TaskEventKind,
)
from app.notify.models import OutboxMessage
from app.org.services import today_local
from app.suggestions.models import Attachment
from app.workdays import add_workdays, workdays_between

from .. import consult_world, followup_world, handling_world
from ..helpers import committed_session, race
from ..unit.test_uploads_sniff import make_png
from ..unit.test_document_sniff import make_pdf

as_ = consult_world.as_


@pytest.fixture
def world(app):
    return handling_world.build(app)


@pytest.fixture
def task(app, world):
    routed = followup_world.routed_list(app, world, room="village",
                                        items=[("村口道路坑洼，建议年内修缮", "local")])
    world["item_id"] = routed["item_ids"][0]
    return handling_world.assign(app, world, routed["item_ids"][0], lead="housing",
                                 co=["transport"])


def url(tid, step=""):
    return f"/api/handling/tasks/{tid}" + (f"/{step}" if step else "")


def upload(client, world, who, data, name, ctype, path="/api/uploads"):
    r = client.post(path, headers=as_(world, who),
                    data={"file": (io.BytesIO(data), name, ctype)},
                    content_type="multipart/form-data")
    assert r.status_code == 201, r.get_json()
    return r.get_json()["key"]


def events(app, tid):
    with committed_session(app) as s:
        return [e.kind for e in s.scalars(select(TaskEvent).where(TaskEvent.task_id == tid)
                                          .order_by(TaskEvent.id))]


def test_the_whole_department_path(app, client, world, task):
    h = as_(world, "handler")
    listed = client.get("/api/handling/tasks", headers=h).get_json()["items"]
    assert [(t["id"], t["state"], t["role"]) for t in listed] == [(task, "assigned", "lead")]
    assert listed[0]["item_text"] == "村口道路坑洼，建议年内修缮"

    assert client.post(url(task, "accept"), headers=h).get_json()["state"] == "accepted"
    r = client.post(url(task, "plan"), headers=h, json={"text": "十月底前完成路面修补"})
    assert r.status_code == 200 and r.get_json()["state"] == "planned"

    photo = upload(client, world, "handler", make_png(), "road.png", "image/png")
    pdf = upload(client, world, "handler", make_pdf(), "方案.pdf", "application/pdf",
                 path="/api/document-uploads")
    r = client.post(url(task, "progress"), headers=h,
                    json={"percent": 60, "text": "已完成主路段", "upload_keys": [photo, pdf]})
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["percent"] == 60

    r = client.post(url(task, "complete"), headers=h,
                    json={"result": "道路已全部修缮并通过验收", "upload_keys": []})
    body = r.get_json()
    assert r.status_code == 200, body
    assert (body["state"], body["percent"], body["completed_on"]) == (
        "completed", 100, today_local().isoformat())
    assert [e["kind"] for e in body["events"]] == [
        "assigned", "accepted", "planned", "progress", "completed"]
    progress = body["events"][3]
    assert sorted(a["content_type"] for a in progress["attachments"]) == [
        "application/pdf", "image/png"]

    # Progress after completion: 409, nothing written.
    r = client.post(url(task, "progress"), headers=h, json={"percent": 100, "text": "补充"})
    assert (r.status_code, r.get_json()["error"]) == (409, "task_completed")

    with committed_session(app) as s:
        track = s.scalar(select(ItemTrack).where(ItemTrack.item_id == world["item_id"]))
        assert track.state is ItemState.done and track.settled_at is not None
        assert s.scalar(select(func.count()).select_from(Attachment).where(
            Attachment.task_event_id.is_not(None))) == 2
        actions = set(s.scalars(select(AuditEntry.action).where(
            AuditEntry.object_type == "handling_task")))
        assert actions == {"handling.accept", "handling.plan", "handling.progress",
                           "handling.complete"}
        told = s.scalars(select(OutboxMessage.recipient_id).where(
            OutboxMessage.dedupe_key.like(f"%task_completed:{task}%"))).all()
        assert told == [world["people"]["rev_town_pc"]]
    assert events(app, task)[-1] is TaskEventKind.completed
    # D19: the public trail of the topic shows the item done, by the department's name only.
    with committed_session(app) as s:
        entries = s.execute(select(TimelineEntry.kind, TimelineEntry.text).where(
            TimelineEntry.topic_id == world["topics"]["village"]).order_by(TimelineEntry.id)).all()
    done = [text for kind, text in entries if kind == "item_done"]
    assert done == ["第 1 条意见：东县住房和城乡建设局已办结。办理结果：道路已全部修缮并通过验收"]


def test_steps_follow_the_order_accept_plan_progress(client, world, task):
    h = as_(world, "handler")
    r = client.post(url(task, "plan"), headers=h, json={"text": "方案"})
    assert (r.status_code, r.get_json()["error"]) == (409, "task_not_accepted")
    client.post(url(task, "accept"), headers=h)
    r = client.post(url(task, "progress"), headers=h, json={"percent": 10, "text": "开始"})
    assert (r.status_code, r.get_json()["error"]) == (409, "task_not_planned")
    r = client.post(url(task, "complete"), headers=h, json={"result": "完成"})
    assert (r.status_code, r.get_json()["error"]) == (409, "task_not_planned")


def test_another_departments_handler_gets_404_even_by_id(client, world, task):
    h = as_(world, "handler_water")
    assert client.get("/api/handling/tasks", headers=h).get_json()["items"] == []
    for method, step, payload in [("get", "", None), ("post", "accept", None),
                                  ("post", "plan", {"text": "方案"}),
                                  ("post", "progress", {"percent": 5, "text": "x"}),
                                  ("post", "extension", {"due_on": "2099-01-01",
                                                         "reason": "需要更多时间"})]:
        r = getattr(client, method)(url(task, step), headers=h, json=payload)
        assert (r.status_code, r.get_json()["error"]) == (404, "task_not_found"), step
    # Not a handler at all: no access to the handling API.
    assert client.get("/api/handling/tasks", headers=as_(world, "resident")).status_code == 403


def test_co_handler_reads_and_posts_progress_only(client, world, task):
    co = as_(world, "handler_transport")
    listed = client.get("/api/handling/tasks", headers=co).get_json()["items"]
    assert [(t["id"], t["role"]) for t in listed] == [(task, "co")]
    for step, payload in [("accept", None), ("plan", {"text": "方案"}),
                          ("complete", {"result": "完成"}),
                          ("extension", {"due_on": "2099-01-01", "reason": "需要更多时间"})]:
        r = client.post(url(task, step), headers=co, json=payload)
        assert (r.status_code, r.get_json()["error"]) == (403, "lead_department_only"), step
    h = as_(world, "handler")
    client.post(url(task, "accept"), headers=h)
    client.post(url(task, "plan"), headers=h, json={"text": "方案"})
    r = client.post(url(task, "progress"), headers=co, json={"percent": 30, "text": "配合完成"})
    assert r.status_code == 200, r.get_json()
    ev = r.get_json()["events"][-1]
    assert (ev["kind"], ev["body_name"]) == ("progress", "东县交通运输局")


def test_percent_may_not_decrease_and_must_be_0_to_100(client, world, task):
    h = as_(world, "handler")
    client.post(url(task, "accept"), headers=h)
    client.post(url(task, "plan"), headers=h, json={"text": "方案"})
    assert client.post(url(task, "progress"), headers=h,
                       json={"percent": 50, "text": "一半"}).status_code == 200
    r = client.post(url(task, "progress"), headers=h, json={"percent": 40, "text": "回退"})
    assert (r.status_code, r.get_json()["error"]) == (422, "percent_decreasing")
    assert client.post(url(task, "progress"), headers=h,
                       json={"percent": 101, "text": "x"}).status_code == 422


def test_extension_validation_pending_and_replay(app, client, world, task):
    h = as_(world, "handler")
    detail = client.get(url(task), headers=h).get_json()
    due = date.fromisoformat(detail["due_on"])
    r = client.post(url(task, "extension"), headers=h,
                    json={"due_on": due.isoformat(), "reason": "施工受雨季影响"})
    assert (r.status_code, r.get_json()["error"]) == (422, "extension_not_later")
    later = (due + timedelta(days=14)).isoformat()
    r = client.post(url(task, "extension"), headers=h, json={"due_on": later, "reason": " "})
    assert r.status_code == 422
    r = client.post(url(task, "extension"), headers=h,
                    json={"due_on": later, "reason": "施工受雨季影响"})
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["pending_extension"]["requested_due_on"] == later
    again = client.post(url(task, "extension"), headers=h,
                        json={"due_on": later, "reason": "施工受雨季影响"})
    assert again.status_code == 200
    other = client.post(url(task, "extension"), headers=h,
                        json={"due_on": (due + timedelta(days=30)).isoformat(),
                              "reason": "另一理由"})
    assert (other.status_code, other.get_json()["error"]) == (409, "extension_pending")
    with committed_session(app) as s:
        assert s.scalar(select(func.count()).select_from(ExtensionRequest)) == 1
        told = s.scalars(select(OutboxMessage.recipient_id).where(
            OutboxMessage.dedupe_key.like("%extension_request:%"))).all()
        assert told == [world["people"]["rev_town_pc"]]
    assert events(app, task).count(TaskEventKind.extension_requested) == 1


def test_an_extension_in_the_past_is_refused(app, client, world):
    routed = followup_world.routed_list(app, world, room="village", items=[("修路", "local")])
    long_ago = today_local() - timedelta(days=60)
    tid = handling_world.assign(app, world, routed["item_ids"][0], assigned_on=long_ago)
    r = client.post(url(tid, "extension"), headers=as_(world, "handler"),
                    json={"due_on": (today_local() - timedelta(days=1)).isoformat(),
                          "reason": "需要更多时间"})
    assert (r.status_code, r.get_json()["error"]) == (422, "due_in_past")


def test_an_absurd_extension_date_is_refused(app, client, world, task):
    """Found on the production shape: an extension to 9999-12-31 was accepted and, once
    approved, the task could never be overdue again. A later due date is bounded like the
    assignment's own time limit (at most 60 working days past the current due date)."""
    h = as_(world, "handler")
    due = date.fromisoformat(client.get(url(task), headers=h).get_json()["due_on"])
    for absurd in ("9999-12-31", add_workdays(due, 61).isoformat()):
        r = client.post(url(task, "extension"), headers=h,
                        json={"due_on": absurd, "reason": "需要更多时间"})
        assert (r.status_code, r.get_json()["error"]) == (422, "extension_too_long"), absurd
        assert "60 个工作日" in r.get_json()["message"]
    with committed_session(app) as s:
        assert s.scalar(select(func.count()).select_from(ExtensionRequest)) == 0
    r = client.post(url(task, "extension"), headers=h,
                    json={"due_on": add_workdays(due, 60).isoformat(), "reason": "需要更多时间"})
    assert r.status_code == 200, r.get_json()


def test_completing_closes_a_pending_extension_request(app, client, world, task):
    """Found on the production shape: a task completed while its extension request waited left
    the request pending for ever — in the assigning reviewer's queue and on the task — though
    it could be neither approved nor refused any more (409 task_completed)."""
    h, rev = as_(world, "handler"), as_(world, "rev_town_pc")
    client.post(url(task, "accept"), headers=h)
    client.post(url(task, "plan"), headers=h, json={"text": "十月底前完成路面修补"})
    due = date.fromisoformat(client.get(url(task), headers=h).get_json()["due_on"])
    r = client.post(url(task, "extension"), headers=h,
                    json={"due_on": (due + timedelta(days=14)).isoformat(),
                          "reason": "施工受雨季影响"})
    assert r.status_code == 200, r.get_json()
    assert len(client.get("/api/opinion-items/queue", headers=rev).get_json()["extensions"]) == 1
    r = client.post(url(task, "complete"), headers=h, json={"result": "道路已修缮"})
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["pending_extension"] is None
    assert client.get("/api/opinion-items/queue", headers=rev).get_json()["extensions"] == []
    with committed_session(app) as s:
        x = s.scalar(select(ExtensionRequest))
        assert x.state.value != "pending" and x.decided_at is not None
        assert x.note and "已办结" in x.note
    # Answering it now is the ordinary "already answered", not a dead end.
    r = client.post(f"/api/extension-requests/{x.id}/decision", headers=rev,
                    json={"approve": True})
    assert (r.status_code, r.get_json()["error"]) == (409, "extension_decided")


def test_repeated_identical_steps_are_replays(app, client, world, task):
    h = as_(world, "handler")
    photo = upload(client, world, "handler", make_png(), "a.png", "image/png")
    steps = [("accept", None), ("plan", {"text": "方案"}),
             ("progress", {"percent": 20, "text": "开工", "upload_keys": [photo]}),
             ("complete", {"result": "完成"})]
    for step, payload in steps:
        first = client.post(url(task, step), headers=h, json=payload)
        second = client.post(url(task, step), headers=h, json=payload)
        assert first.status_code == second.status_code == 200, (step, second.get_json())
        assert first.get_json() == second.get_json()
    assert events(app, task) == [TaskEventKind.assigned, TaskEventKind.accepted,
                                 TaskEventKind.planned, TaskEventKind.progress,
                                 TaskEventKind.completed]


def test_a_handler_attaches_only_their_own_unused_uploads(app, client, world, task):
    h = as_(world, "handler")
    client.post(url(task, "accept"), headers=h)
    client.post(url(task, "plan"), headers=h, json={"text": "方案"})
    theirs = upload(client, world, "resident", make_png(), "a.png", "image/png")
    r = client.post(url(task, "progress"), headers=h,
                    json={"percent": 10, "text": "x", "upload_keys": [theirs]})
    assert (r.status_code, r.get_json()["error"]) == (422, "attachment_unavailable")
    assert events(app, task)[-1] is TaskEventKind.planned


def test_overdue_flag_and_working_days_overdue(app, client, world):
    routed = followup_world.routed_list(app, world, room="village",
                                        items=[("修路", "local"), ("装灯", "local")])
    start = today_local() - timedelta(days=40)
    late = handling_world.assign(app, world, routed["item_ids"][0], assigned_on=start)
    handling_world.assign(app, world, routed["item_ids"][1], workdays=200)
    h = as_(world, "handler")
    rows = client.get("/api/handling/tasks?overdue=true", headers=h).get_json()["items"]
    due = add_workdays(start, 5)
    assert [(t["id"], t["overdue"], t["workdays_overdue"]) for t in rows] == [
        (late, True, workdays_between(due, today_local()))]
    assert len(client.get("/api/handling/tasks?state=assigned", headers=h)
               .get_json()["items"]) == 2
    assert client.get("/api/handling/tasks?state=completed", headers=h).get_json()["items"] == []


def test_two_handlers_completing_at_once_complete_once(app, world, task):
    """Lock the track, then the task: one completion, one event, one settle (PostgreSQL)."""
    with committed_session(app) as s:
        from app.auth.current import open_session
        from app.auth.models import SessionKind
        from app.org import factories as f
        from app.org.models import Body, Role
        p = f.create_person(s, name="住建局二号经办")
        f.assign_role(s, p, Role.dept_handler, body=s.get(Body, world["bodies"]["housing"]))
        s.flush()
        world["tokens"]["handler2"] = open_session(s, p, SessionKind.mp, timedelta(days=1))[0]
    client = app.test_client()
    h = as_(world, "handler")
    client.post(url(task, "accept"), headers=h)
    client.post(url(task, "plan"), headers=h, json={"text": "方案"})
    who = ["handler", "handler2"]
    results = race(app, 2, lambda c, i: c.post(url(task, "complete"), headers=as_(world, who[i]),
                                              json={"result": f"办结{i}"}).status_code)
    assert results == [200, 409]
    assert events(app, task).count(TaskEventKind.completed) == 1
    with committed_session(app) as s:
        assert s.get(HandlingTask, task).state.value == "completed"


def test_a_pdf_is_served_as_a_download_and_a_disguised_one_refused(client, world):
    key = upload(client, world, "handler", make_pdf(), "方案.pdf", "application/pdf",
                 path="/api/document-uploads")
    r = client.get(f"/api/uploads/{key}")
    assert r.status_code == 200 and r.mimetype == "application/pdf"
    assert r.headers["Content-Disposition"].startswith("attachment;")
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    r = client.post("/api/document-uploads", headers=as_(world, "handler"),
                    data={"file": (io.BytesIO(b"<html><script>x</script></html>%%EOF"),
                                   "方案.pdf", "application/pdf")},
                    content_type="multipart/form-data")
    assert (r.status_code, r.get_json()["error"]) == (422, "document_invalid")
    # A PDF is no suggestion photo.
    r = client.post("/api/uploads", headers=as_(world, "handler"),
                    data={"file": (io.BytesIO(make_pdf()), "x.pdf", "application/pdf")},
                    content_type="multipart/form-data")
    assert r.status_code == 422


def test_the_orphan_purge_keeps_uploads_on_handling_steps(app, client, world, task):
    from datetime import datetime, timezone

    from app.suggestions.uploads import purge_orphan_uploads

    h = as_(world, "handler")
    client.post(url(task, "accept"), headers=h)
    client.post(url(task, "plan"), headers=h, json={"text": "方案"})
    used = upload(client, world, "handler", make_pdf(), "a.pdf", "application/pdf",
                  path="/api/document-uploads")
    upload(client, world, "handler", make_png(), "unused.png", "image/png")
    client.post(url(task, "progress"), headers=h,
                json={"percent": 10, "text": "x", "upload_keys": [used]})
    with committed_session(app) as s:
        done = purge_orphan_uploads(s, now=datetime(2099, 1, 1, tzinfo=timezone.utc))
        assert done["rows"] == 1
        assert s.scalars(select(Attachment.storage_key)).all() == [used]


def test_handlers_of_a_department_for_the_assignment_notice(app, world):
    from app.followup.handling import handler_ids

    with committed_session(app) as s:
        assert handler_ids(s, [world["bodies"]["housing"]]) == [world["people"]["handler"]]
        assert handler_ids(s, [world["bodies"]["town_pc"]]) == []


def test_the_list_reads_in_a_fixed_number_of_statements(app, client, world):
    from ..helpers import count_statements

    routed = followup_world.routed_list(app, world, room="village",
                                        items=[(f"事项{i}", "local") for i in range(4)])
    h = as_(world, "handler")
    handling_world.assign(app, world, routed["item_ids"][0])
    one = count_statements(app.extensions["db"].engine,
                           lambda: client.get("/api/handling/tasks", headers=h))
    for iid in routed["item_ids"][1:]:
        tid = handling_world.assign(app, world, iid, co=["transport"])
        client.post(url(tid, "extension"), headers=h,
                    json={"due_on": "2099-01-01", "reason": "需要更多时间"})
    many = count_statements(app.extensions["db"].engine,
                            lambda: client.get("/api/handling/tasks", headers=h))
    assert many == one
