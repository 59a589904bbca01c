"""Issue 11 "Must show", end to end over HTTP against the real app (SQLite, and PostgreSQL + Redis
with TEST_DATABASE_URL / TEST_REDIS_URL): a resident's suggestion, supported and discussed, is
taken up as a topic and consulted; the opinion list is saved and routed (D18); its four items get
the four decisions (D19, D22, D23) by the right reviewers; the two adopted ones are assigned on
28 September 2026 with 5 working days — due 10 October (National Day skipped, the make-up
Saturday counted, D20); the departments' handlers (one signed in through a staff link code)
accept, plan, report progress with a photo and a PDF, and complete, one on time and one late;
the feedback list is compiled (D21), every follower gets one notice in the inbox and on WeChat
(the fake); the four kinds of evaluation are made (D26, D27); the aggregates and the three rates
per department show what the story implies. Along the way, the permissions: a handler sees only
their department's tasks, a resident cannot decide, another county's reviewer sees nothing.
The feedback list's Word and Excel files are read back item by item, and the public results
page and the suggestion list's 已办结 tab show where the suggestion went."""
from __future__ import annotations

import io
import xml.etree.ElementTree as ET
from datetime import date, datetime

import pytest
import time_machine
from docx import Document
from openpyxl import load_workbook

from app.notify.dispatcher import dispatch_once
from app.org.models import Person, WechatApp, WechatIdentity
from app.workdays import CHINA_TZ

from .. import handling_world
from ..consult_world import approve_topic, as_
from ..helpers import bearer, committed_session
from ..integration.test_auth_phone import login as wx_login
from ..integration.test_oa_webhook import post as oa_post, signed, text_xml
from ..unit.test_document_sniff import make_pdf
from ..unit.test_uploads_sniff import make_png

TEMPLATE_SEND = "/cgi-bin/message/template/send"
# The opinion list: two county items (decided by the county's Party committee and government
# after the CPPCC party group forwards them), two local ones (the town's Party committee).
ITEMS = [
    {"text": "请县住建局对村内危旧房屋开展安全排查", "raised_by": "resident", "scope": "county"},
    {"text": "建议增开前进村至县城的公交班次", "raised_by": "member", "scope": "county"},
    {"text": "建议在村口新建一座农贸市场", "raised_by": "resident", "scope": "local"},
    {"text": "建议全县统一老旧小区加装电梯补贴标准", "raised_by": "stakeholder", "scope": "local"},
]
PARTLY_WHY = "工作日班次先行增加，节假日班次待客流评估后再定"
NOT_WHY = "村口用地为基本农田，不能新建市场，已协调流动集市每周两次"
COUNTY_NOT_WHY = "补贴标准由市级统一制定，县级已向市政府反映"
FOLLOWERS = ("resident", "resident2", "outsider", "stakeholder")  # proposer, voter, commenter,
# attendee


def china(day: date, hour: int = 10, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=CHINA_TZ)


def on(day: date, hour: int = 10, minute: int = 0):
    return time_machine.travel(china(day, hour, minute), tick=False)


def ok(r, status=200):
    assert r.status_code == status, r.json
    return r.json


@pytest.fixture
def world(app):
    """consult_world's city with two more county departments (handling_world); the residents
    use the mini-program (an mp openid each, as a WeChat login leaves them)."""
    w = handling_world.build(app)
    with committed_session(app) as s:
        for who in FOLLOWERS:
            s.add(WechatIdentity(person_id=w["people"][who], app=WechatApp.mp,
                                 openid=f"o_mp_{who}"))
    return w


def bind_official_account(client, app, w, who: str) -> str:
    """The person binds their Official Account with a code from the mini-program (issue 10)."""
    openid = f"o_follow_{who}"
    code = ok(client.post("/api/me/chat-binding-code", headers=as_(w, who)), 201)["code"]
    body = text_xml(f"绑定 {code}", openid=openid,
                    msg_id=7_100_000_000_000_000_000 + w["people"][who])
    r = oa_post(client, body, signed(app.config["APP"].oa_webhook_token))
    assert r.status_code == 200 and "绑定" in ET.fromstring(r.data).findtext("Content")
    return openid


def linked_handler(client, w) -> dict:
    """Issue 10: county staff issue a link code for the housing bureau's handler, who enters it
    in the mini-program after logging in with WeChat; that token now acts as the handler."""
    code = ok(client.post(f"/api/people/{w['people']['handler']}/link-code", json={},
                          headers=as_(w, "county_staff")), 201)["code"]
    me = wx_login(client, "housing-handler-phone")
    linked = ok(client.post("/api/auth/link", json={"code": code}, headers=bearer(me["token"])))
    assert linked["person"]["id"] == w["people"]["handler"]
    return bearer(me["token"])


def upload(client, headers, data, name, ctype, path):
    r = client.post(path, headers=headers, data={"file": (io.BytesIO(data), name, ctype)},
                    content_type="multipart/form-data")
    assert r.status_code == 201, r.json
    return r.json["key"]


def the_topic(client, app, w) -> tuple[int, int]:
    """A resident proposes on the village room; a neighbour votes, a passer-by comments; the
    convenor takes it up as a topic, which is approved along D8. (suggestion id, topic id)"""
    with on(date(2026, 9, 1)):
        sug = ok(client.post(f"/api/platforms/{w['rooms']['village']}/suggestions",
                             headers=as_(w, "resident"), json={
                                 "title": "前进村危旧房屋和出行问题", "category": "livelihood",
                                 "description": "村里几处老房子墙体开裂，去县城的公交车太少。"}),
                 201)
        assert sug["state"] == "open", sug  # passed the content check (the fake WeChat)
        sid = sug["id"]
        ok(client.post(f"/api/suggestions/{sid}/vote", headers=as_(w, "resident2")), 201)
        ok(client.post(f"/api/suggestions/{sid}/comments", headers=as_(w, "outsider"),
                       json={"body": "赞成，公交车一天只有两班"}), 201)
    with on(date(2026, 9, 2)):
        topic = ok(client.post(
            f"/api/platforms/{w['rooms']['village']}/topics/from-suggestions",
            headers=as_(w, "conv_village"), json={"suggestion_ids": [sid]}), 201)["topic"]
        ok(client.post(f"/api/topics/{topic['id']}/submit", headers=as_(w, "conv_village")))
        # The D8 chain by its reviewers, through the real service (over HTTP in
        # tests/e2e/test_topic_approval.py).
        with committed_session(app) as s:
            reviewers = {w["bodies"][key[4:]]: s.get(Person, pid)
                         for key, pid in w["people"].items() if key.startswith("rev_")}
            approve_topic(s, topic["id"], reviewers)
    return sid, topic["id"]


def the_meeting(client, w, topic_id: int) -> int:
    """Scheduled, invited, researched, briefed; the stakeholder and the resident come; the
    opinion list of four items is saved and routed (D18)."""
    conv = as_(w, "conv_village")
    start = china(date(2026, 9, 10), 15)
    with on(date(2026, 9, 3)):
        cid = ok(client.post(f"/api/topics/{topic_id}/consultations", headers=conv, json={
            "starts_at": start.isoformat(), "ends_at": china(date(2026, 9, 10), 17).isoformat(),
            "place_kind": "venue", "place": "前进村议事室", "agenda": ["通报调研", "居民发言"],
            "briefing_days_before": 2}), 201)["id"]
        ok(client.post(f"/api/consultations/{cid}/invitations", headers=conv, json={
            "invitees": [{"person_id": w["people"][p], "group": g} for p, g in
                         [("member", "member"), ("resident", "resident"),
                          ("stakeholder", "stakeholder")]]}))
        ok(client.post(f"/api/consultations/{cid}/notices", json={}, headers=conv))
        task = ok(client.post(f"/api/topics/{topic_id}/research", headers=conv,
                              json={"kind": "site_visit", "title": "察看危旧房屋"}), 201)
        ok(client.patch(f"/api/research/{task['id']}", headers=conv,
                        json={"notes": "三处房屋墙体开裂，需专业鉴定。"}))
        ok(client.post(f"/api/research/{task['id']}/complete", headers=conv))
        ok(client.post(f"/api/consultations/{cid}/briefing", headers=conv))
        for who in ("member", "resident", "stakeholder"):
            ok(client.put(f"/api/consultations/{cid}/rsvp", headers=as_(w, who),
                          json={"answer": "accepted"}))
        ok(client.post(f"/api/consultations/{cid}/lock", headers=conv))
    with on(date(2026, 9, 10), 14, 45):
        code = ok(client.get(f"/api/consultations/{cid}/checkin-code", headers=conv))["code"]
        for who in ("resident", "stakeholder"):  # the member is away
            ok(client.post(f"/api/consultations/{cid}/checkin", json={"code": code},
                           headers=as_(w, who)))
    with on(date(2026, 9, 10), 16, 30):
        ok(client.post(f"/api/consultations/{cid}/minutes", headers=conv, json={
            "group": "resident", "text": "老房子下雨天不敢住", "speaker_name": "张居民"}), 201)
        ok(client.put(f"/api/consultations/{cid}/opinions", headers=conv,
                      json={"items": ITEMS}))
        assert ok(client.post(f"/api/consultations/{cid}/opinions/route",
                              headers=conv))["state"] == "routed"
    return cid


class Story:
    """Where the story has got to: ids and the handlers' headers."""

    def __init__(self, client, app, w):
        self.client, self.app, self.w = client, app, w
        self.sid, self.topic_id = the_topic(client, app, w)
        self.cid = the_meeting(client, w, self.topic_id)
        self.item: dict[int, int] = {}
        self.tasks: dict[str, int] = {}
        self.routing_id = 0

    def forward(self) -> None:
        """The county CPPCC party group forwards the county items (D18 stage 1)."""
        client, w = self.client, self.w
        with on(date(2026, 9, 25), 9):
            assert ok(client.get("/api/opinion-items/queue",
                                 headers=as_(w, "rev_county_gov")))["awaiting"] == []
            [entry] = ok(client.get("/api/me/opinion-inbox",
                                    headers=as_(w, "rev_county_pg")))["items"]
            self.routing_id = entry["routing"]["id"]
            ok(client.post(f"/api/opinion-routings/{self.routing_id}/decision",
                           json={"forward": True}, headers=as_(w, "rev_county_pg")))
            county = ok(client.get("/api/opinion-items/queue",
                                   headers=as_(w, "rev_county_gov")))["awaiting"]
            local = ok(client.get("/api/opinion-items/queue",
                                  headers=as_(w, "rev_town_pc")))["awaiting"]
        assert [i["seq"] for i in county] == [1, 2] and [i["seq"] for i in local] == [3, 4]
        self.item = {i["seq"]: i["id"] for i in county + local}

    def decide(self, who, seq, outcome, explanation=None) -> dict:
        body = {"outcome": outcome}
        if explanation:
            body["explanation"] = explanation
        return ok(self.client.post(f"/api/opinion-items/{self.item[seq]}/decision", json=body,
                                   headers=as_(self.w, who)))

    def decide_all(self) -> None:
        """The four kinds of decision, each by a reviewer of the body that received the item at
        its level (D19, D22, D23)."""
        client, w = self.client, self.w
        with on(date(2026, 9, 25)):
            assert self.decide("rev_county_gov", 1, "adopted")["state"] == "assigning"
            r = client.post(f"/api/opinion-items/{self.item[2]}/decision",
                            json={"outcome": "partly"}, headers=as_(w, "rev_county_pc"))
            assert (r.status_code, r.json["error"]) == (422, "explanation_required")  # D23
            assert self.decide("rev_county_pc", 2, "partly", PARTLY_WHY)["state"] == "assigning"
            assert self.decide("rev_town_pc", 3, "not_adopted", NOT_WHY)["state"] == \
                "not_adopted"
            up = self.decide("rev_town_pc", 4, "escalated")
            assert (up["state"], up["current_scope"]) == ("awaiting", "county")
            # The same decision again is a replay, a different one a conflict.
            assert self.decide("rev_town_pc", 3, "not_adopted", NOT_WHY)["state"] == \
                "not_adopted"
            r = client.post(f"/api/opinion-items/{self.item[1]}/decision",
                            json={"outcome": "adopted"}, headers=as_(w, "rev_county_pc"))
            assert (r.status_code, r.json["error"]) == (409, "item_decided")
        with on(date(2026, 9, 26)):
            # D22: the escalated item reaches the county, whose party group had already
            # forwarded the list, and is decided there.
            [up] = ok(client.get("/api/opinion-items/queue",
                                 headers=as_(w, "rev_county_gov")))["awaiting"]
            assert up["seq"] == 4
            assert self.decide("rev_county_gov", 4, "not_adopted", COUNTY_NOT_WHY)["state"] == \
                "not_adopted"

    def assign_all(self) -> None:
        """28 September 2026, 5 working days (D20): 29 and 30 September, National Day (1–7
        October) skipped, then 8, 9 and the make-up Saturday 10 October: due 10 October."""
        client, w = self.client, self.w
        with on(date(2026, 9, 28)):
            depts = {d["name"] for d in ok(client.get(
                "/api/departments", headers=as_(w, "rev_county_gov")))["items"]}
            assert {"东县住房和城乡建设局", "东县交通运输局"} <= depts
            for seq, who, lead in ((1, "rev_county_gov", "housing"),
                                   (2, "rev_county_pc", "transport")):
                got = ok(client.post(f"/api/opinion-items/{self.item[seq]}/assignment",
                                     headers=as_(w, who), json={
                                         "lead_body_id": w["bodies"][lead], "co_body_ids": [],
                                         "workdays": 5}))
                t = got["task"]
                assert (t["assigned_on"], t["workdays"], t["due_on"], t["due_estimated"]) == (
                    "2026-09-28", 5, "2026-10-10", False)
                assert got["state"] == "handling"
                self.tasks[lead] = t["id"]

    def handle_all(self, housing: dict) -> None:
        """The housing bureau (its handler signed in by a link code) plans the next day and
        completes on 9 October, on time; the transport bureau plans 6 working days after the
        assignment (late) and completes on 13 October, after its due date."""
        client, w = self.client, self.w
        h = f"{TASKS}/{self.tasks['housing']}"
        with on(date(2026, 9, 29)):
            ok(client.post(f"{h}/accept", headers=housing))
            ok(client.post(f"{h}/plan", headers=housing, json={"text": HOUSING_PLAN}))
        with on(date(2026, 9, 30)):
            photo = upload(client, housing, make_png(), "排查现场.png", "image/png",
                           "/api/uploads")
            pdf = upload(client, housing, make_pdf(), "鉴定方案.pdf", "application/pdf",
                         "/api/document-uploads")
            got = ok(client.post(f"{h}/progress", headers=housing, json={
                "percent": 60, "text": "已完成12户排查", "upload_keys": [photo, pdf]}))
            assert got["percent"] == 60
        with on(date(2026, 10, 9)):
            done = ok(client.post(f"{h}/complete", headers=housing,
                                  json={"result": HOUSING_RESULT, "upload_keys": []}))
            assert (done["state"], done["percent"], done["completed_on"]) == (
                "completed", 100, "2026-10-09")
            r = client.post(f"{h}/progress", headers=housing,
                            json={"percent": 100, "text": "补充", "upload_keys": []})
            assert (r.status_code, r.json["error"]) == (409, "task_completed")
        events = ok(client.get(h, headers=housing))["events"]
        assert [e["kind"] for e in events] == ["assigned", "accepted", "planned", "progress",
                                               "completed"]
        assert sorted(a["content_type"] for a in events[3]["attachments"]) == [
            "application/pdf", "image/png"]
        # One item still open: no feedback list yet.
        r = client.get(f"/api/consultations/{self.cid}/feedback-list",
                       headers=as_(w, "conv_village"))
        assert (r.status_code, r.json["error"]) == (404, "feedback_list_not_found")
        transport = as_(w, "handler_transport")
        t = f"{TASKS}/{self.tasks['transport']}"
        with on(date(2026, 10, 12)):
            ok(client.post(f"{t}/accept", headers=transport))
            ok(client.post(f"{t}/plan", headers=transport, json={"text": TRANSPORT_PLAN}))
        with on(date(2026, 10, 13)):
            ok(client.post(f"{t}/complete", headers=transport,
                           json={"result": TRANSPORT_RESULT, "upload_keys": []}))


TASKS = "/api/handling/tasks"
HOUSING_PLAN = "委托鉴定机构逐户排查，国庆后出具报告"
HOUSING_RESULT = "排查危旧房屋15户，3户已加固"
TRANSPORT_PLAN = "调整运力，增开工作日班次"
TRANSPORT_RESULT = "工作日增开2个班次"


def finished(client, app, w) -> Story:
    housing = linked_handler(client, w)
    story = Story(client, app, w)
    story.forward()
    story.decide_all()
    story.assign_all()
    story.handle_all(housing)
    return story


def test_from_the_opinion_list_to_the_three_rates(client, app, world, fake_wechat):
    w = world
    openids = {who: bind_official_account(client, app, w, who) for who in FOLLOWERS}
    story = finished(client, app, w)
    cid, topic_id = story.cid, story.topic_id

    # --- the feedback list (D21) ----------------------------------------------------------------
    fl = ok(client.get(f"/api/consultations/{cid}/feedback-list",
                       headers=as_(w, "conv_village")))
    assert (fl["items_count"], fl["adopted"], fl["partly"], fl["not_adopted"], fl["done"],
            fl["on_time"]) == (4, 1, 1, 2, 2, 1)
    assert fl["results_page"] == f"/pages/results/results?id={topic_id}"
    assert fl["compiled_at"].startswith("2026-10-13")
    assert [(i["decision_text"], i["decided_by"], i["lead"], i["on_time"]) for i in fl["items"]] \
        == [("采纳", "东县县政府", "东县住房和城乡建设局", True),
            ("部分采纳", "东县县委", "东县交通运输局", False),
            ("不予采纳", "新坝镇党委", None, None),
            ("不予采纳（经政协渠道向上级反映，由东县县政府研究决定）", "东县县政府", None, None)]

    # --- every follower told once: the inbox copy, then WeChat (the fake) ----------------------
    while dispatch_once(app, batch_size=200, worker_id="e2e").claimed:
        pass
    for who in FOLLOWERS:
        inbox = ok(client.get("/api/me/inbox", headers=as_(w, who)))["items"]
        feedback = [n for n in inbox if n["kind"] == "feedback"]
        assert len(feedback) == 1, (who, inbox)
        assert feedback[0]["title"] == "您关注的议题有了办理结果"
        # The link opens the results page of the topic: the page reads its `id` (app.json).
        assert feedback[0]["link"] == f"/pages/results/results?id={topic_id}"
        assert "共4条意见，采纳1条、部分采纳1条、不予采纳2条，已办结2条" in feedback[0]["body"]
    reached = [c.body["touser"] for c in fake_wechat.calls(TEMPLATE_SEND, ok=True)
               if c.body["template_id"] == "sandbox_oa_feedback"]
    assert sorted(reached) == sorted(openids.values())  # once each

    # --- four evaluations after the feedback list (D26, D27) ------------------------------------
    scores = {"party_government": ("rev_county_gov", 5, 4), "member": ("member", 4, 4),
              "resident": ("resident", 4, 5), "organiser": ("conv_village", 3, 4)}
    with on(date(2026, 10, 15)):
        for kind, (who, outcome, process) in scores.items():
            ok(client.put(f"/api/consultations/{cid}/evaluations/after_feedback/{kind}",
                          headers=as_(w, who),
                          json={"outcome_score": outcome, "process_score": process}))
    expected = [(kind, 1, float(o), float(p)) for kind, (_, o, p) in scores.items()]

    def figures(by_kind):
        assert all(r["count"] == 0 for r in by_kind if r["phase"] == "after_meeting")
        return [(r["kind"], r["count"], r["outcome_mean"], r["process_mean"])
                for r in by_kind if r["phase"] == "after_feedback"]

    # Per consultation (public), then per platform, town and county (staff).
    summary = ok(client.get(f"/api/consultations/{cid}/evaluations"))
    assert figures(summary["by_kind"]) == expected
    assert summary["overall"] == {"count": 4, "outcome_mean": 4.0, "process_mean": 4.25}
    staff = as_(w, "county_staff")
    period = "date_from=2026-09-01&date_to=2026-12-31"
    for level, name in (("platform", "前进村“有事好商量”协商议事室"), ("town", "新坝镇"),
                        ("county", "东县")):
        [group] = ok(client.get(f"/api/reports/evaluations?level={level}&{period}",
                                headers=staff))["groups"]
        assert (group["name"], group["consultations"]) == (name, 1), level
        assert figures(group["by_kind"]) == expected, level
        assert group["overall"] == {"count": 4, "outcome_mean": 4.0, "process_mean": 4.25}

    # --- the three rates per department (item 6) ------------------------------------------------
    rates = {d["name"]: d for d in ok(client.get(f"/api/reports/department-rates?{period}",
                                                 headers=staff))["departments"]}
    keys = ("assigned", "responded", "response_rate", "due", "resolved", "resolution_rate",
            "ratings", "satisfaction_mean", "satisfied_share")
    assert {n: tuple(d[k] for k in keys) for n, d in rates.items()} == {
        # Plan the next day, completed the day before the due date, the resident's 4 of 5.
        "东县住房和城乡建设局": (1, 1, 1.0, 1, 1, 1.0, 1, 4.0, 1.0),
        # Plan after 6 working days (N = 5), completed three days late.
        "东县交通运输局": (1, 0, 0.0, 1, 0, 0.0, 1, 4.0, 1.0),
        "东县水利局": (0, 0, None, 0, 0, None, 0, None, None),
    }

    # --- the public results page and the suggestion's stage tab ---------------------------------
    results = ok(client.get(f"/api/topics/{topic_id}/results"))
    assert (results["stage"], results["stage_label"]) == ("done", "已办结")
    assert [(st["label"], st["reached"]) for st in results["stages"]] == [
        ("征集中", True), ("已立题", True), ("已协商", True), ("办理中", True), ("已办结", True)]
    assert [x["id"] for x in results["suggestions"]] == [story.sid]
    [c] = results["consultations"]
    assert (c["held_on"], c["attendee_count"], c["list_routed_on"]) == (
        "2026-09-10", 2, "2026-09-10")
    assert [(i["seq"], i["state_label"], i["outcome"], [d["body"] for d in i["decisions"]])
            for i in c["items"]] == [
        (1, "已办结", "adopted", ["东县县政府"]), (2, "已办结", "partly", ["东县县委"]),
        (3, "不予采纳", "not_adopted", ["新坝镇党委"]),
        (4, "不予采纳", "not_adopted", ["新坝镇党委", "东县县政府"])]
    # The feedback list (D21) and the evaluations (D27) are on the page too: figures only.
    assert c["feedback"] == {
        "compiled_on": "2026-10-13", "item_count": 4, "adopted_count": 1, "partly_count": 1,
        "not_adopted_count": 2, "done_count": 2, "on_time_count": 1,
        "summary": "共4条意见，采纳1条、部分采纳1条、不予采纳2条，已办结2条"}
    assert (c["ratings"]["is_model_case"], c["ratings"]["model_case_reason"]) == (False, None)
    assert figures(c["ratings"]["by_kind"]) == expected
    assert c["ratings"]["overall"] == {"count": 4, "outcome_mean": 4.0, "process_mean": 4.25}
    first = c["items"][0]["handling"]
    assert (first["lead_department"], first["due_on"], first["completed_on"], first["on_time"],
            [e["kind"] for e in first["events"]]) == (
        "东县住房和城乡建设局", "2026-10-10", "2026-10-09", True,
        ["assigned", "accepted", "planned", "progress", "completed"])
    assert results["summary"] == {
        "stage": "done", "stage_label": "已办结", "consultation_count": 1, "item_count": 4,
        "settled_count": 4, "adopted_count": 2, "not_adopted_count": 2, "escalated_count": 1,
        "handling_count": 0, "done_count": 2, "done_on_time_count": 1}
    text = str(results)
    assert "郑科长" not in text and "张居民" not in text  # no handler or resident by name
    # The topic's public timeline goes on after approval, to the feedback list.
    trail = ok(client.get(f"/api/topics/{topic_id}/timeline"))["items"]
    kinds = [e["kind"] for e in trail]
    assert kinds[kinds.index("approved") + 1:] == [
        "consultation_held", "list_routed"] + ["item_decided"] * 5 + ["item_assigned"] * 2 + [
        "item_done"] * 2 + ["feedback"]
    assert "办理期限 2026年10月10日" in trail[-4]["text"]
    assert [e["text"].split("。")[0] for e in trail[-3:-1]] == [
        "第 1 条意见：东县住房和城乡建设局已办结", "第 2 条意见：东县交通运输局已办结"]
    tab = ok(client.get("/api/suggestions?stage=done"))["items"]
    assert [(x["id"], x["stage"], x["stage_label"], x["topic_id"]) for x in tab] == [
        (story.sid, "done", "已办结", topic_id)]
    assert ok(client.get("/api/suggestions?stage=handling"))["items"] == []


def test_each_sees_and_acts_only_on_what_is_theirs(client, app, world):
    """In the same world: a resident cannot decide; another county's reviewer cannot see the
    items; a handler sees and acts only on their department's tasks."""
    w = world
    housing = linked_handler(client, w)
    story = Story(client, app, w)
    story.forward()
    item = story.item
    for who in ("resident", "member", "handler", "rev_other_pc"):
        for seq in item:
            r = client.post(f"/api/opinion-items/{item[seq]}/decision",
                            json={"outcome": "adopted"}, headers=as_(w, who))
            assert (r.status_code, r.json["error"]) == (404, "item_not_found"), (who, seq)
    assert ok(client.get("/api/opinion-items/queue", headers=as_(w, "rev_other_pc"))) == {
        "awaiting": [], "to_assign": [], "extensions": []}
    r = client.get(f"/api/routings/{story.routing_id}/items", headers=as_(w, "rev_other_pc"))
    assert r.status_code == 404
    assert ok(client.get("/api/me/opinion-inbox", headers=as_(w, "rev_other_pc")))["items"] == []
    # The county's party group does see them (the refusals above are not for everyone).
    assert [i["seq"] for i in ok(client.get(f"/api/routings/{story.routing_id}/items",
                                            headers=as_(w, "rev_county_pg")))["items"]] == [1, 2]
    story.decide_all()
    story.assign_all()

    transport = as_(w, "handler_transport")
    water = as_(w, "handler_water")
    mine = {"housing": housing, "transport": transport}
    for dept, headers in mine.items():
        assert [t["id"] for t in ok(client.get(TASKS, headers=headers))["items"]] == \
            [story.tasks[dept]]
    assert ok(client.get(TASKS, headers=water))["items"] == []
    for headers, other in ((housing, "transport"), (transport, "housing"), (water, "housing"),
                           (water, "transport")):
        url = f"{TASKS}/{story.tasks[other]}"
        assert client.get(url, headers=headers).status_code == 404
        for step, body in (("accept", None), ("plan", {"text": "方案"}),
                           ("progress", {"percent": 10, "text": "进展", "upload_keys": []}),
                           ("complete", {"result": "办结", "upload_keys": []})):
            r = client.post(f"{url}/{step}", headers=headers, json=body)
            assert r.status_code == 404, (other, step, r.json)
    for who in ("resident", "rev_county_gov"):  # not handlers at all
        assert client.get(TASKS, headers=as_(w, who)).status_code == 403
    # The other departments' attempts changed nothing: each task is still just assigned.
    for dept, headers in mine.items():
        detail = ok(client.get(f"{TASKS}/{story.tasks[dept]}", headers=headers))
        assert (detail["state"], [e["kind"] for e in detail["events"]]) == (
            "assigned", ["assigned"])

    # After the feedback list, another county's reviewer still sees nothing of it.
    story.handle_all(housing)
    for path in (f"/api/consultations/{story.cid}/feedback-list",
                 f"/api/consultations/{story.cid}/feedback-list.docx",
                 f"/api/routings/{story.routing_id}/items"):
        assert client.get(path, headers=as_(w, "rev_other_pc")).status_code == 404, path
    assert client.get(f"/api/consultations/{story.cid}/feedback-list",
                      headers=as_(w, "handler_water")).status_code == 404


def test_the_feedback_list_documents_carry_every_item(client, app, world):
    """The .docx and .xlsx open with python-docx and openpyxl, are A4, and hold every item with
    its decision, department, result and dates."""
    w = world
    story = finished(client, app, w)
    base = f"/api/consultations/{story.cid}/feedback-list"

    r = client.get(f"{base}.docx", headers=as_(w, "conv_village"))
    assert r.status_code == 200
    doc = Document(io.BytesIO(r.data))
    for section in doc.sections:
        assert (round(section.page_width.cm, 2), round(section.page_height.cm, 2)) == (21.0, 29.7)
    paragraphs = [p.text for p in doc.paragraphs]
    text = "\n".join(paragraphs)
    assert paragraphs[0] == "关于“前进村危旧房屋和出行问题”协商意见的结果反馈清单"
    assert "共4条意见，采纳1条、部分采纳1条、不予采纳2条，已办结2条" in text
    for n, it in enumerate(ITEMS, 1):
        assert f"{n}．{it['text']}" in text
    for line in ("研究决定：采纳（东县县政府，2026-09-25）",
                 "办理部门：东县住房和城乡建设局牵头", f"工作方案：{HOUSING_PLAN}",
                 f"办理结果：{HOUSING_RESULT}",
                 "交办日期：2026-09-28；办结期限：2026-10-10；办结日期：2026-10-09；按期办结",
                 "研究决定：部分采纳（东县县委，2026-09-25）", f"解释说明：{PARTLY_WHY}",
                 "办理部门：东县交通运输局牵头", f"办理结果：{TRANSPORT_RESULT}",
                 "交办日期：2026-09-28；办结期限：2026-10-10；办结日期：2026-10-13；逾期办结",
                 "研究决定：不予采纳（新坝镇党委，2026-09-25）", f"解释说明：{NOT_WHY}",
                 "研究决定：不予采纳（经政协渠道向上级反映，由东县县政府研究决定）",
                 f"解释说明：{COUNTY_NOT_WHY}"):
        assert line in paragraphs, line
    table = doc.tables[0]
    assert [c.text for c in table.rows[0].cells] == [
        "序号", "意见建议", "研究决定", "办理部门", "办理结果", "交办日期", "办结期限", "办结日期"]
    assert [[c.text for c in row.cells] for row in table.rows[1:]] == [
        ["1", ITEMS[0]["text"], "采纳", "东县住房和城乡建设局", HOUSING_RESULT, "2026-09-28",
         "2026-10-10", "2026-10-09"],
        ["2", ITEMS[1]["text"], "部分采纳", "东县交通运输局", TRANSPORT_RESULT, "2026-09-28",
         "2026-10-10", "2026-10-13"],
        ["3", ITEMS[2]["text"], "不予采纳", "", NOT_WHY, "", "", ""],
        ["4", ITEMS[3]["text"], "不予采纳（经政协渠道向上级反映，由东县县政府研究决定）", "",
         COUNTY_NOT_WHY, "", "", ""]]

    r = client.get(f"{base}.xlsx", headers=as_(w, "rev_county_gov"))
    assert r.status_code == 200
    ws = load_workbook(io.BytesIO(r.data)).active
    assert (str(ws.page_setup.paperSize), ws.page_setup.orientation) == (
        ws.PAPERSIZE_A4, "landscape")
    header = [c.value for c in ws[3]]
    rows = [dict(zip(header, row)) for row in ws.iter_rows(min_row=4, values_only=True)]
    fields = ("序号", "意见建议", "研究决定", "是否经向上级反映", "决定机构", "决定日期", "解释说明",
              "牵头办理部门", "办理结果", "交办日期", "办结期限（含延期）", "办结日期", "是否按期办结")
    empty = (None, "")
    got = [tuple(None if row[f] in empty else row[f] for f in fields) for row in rows]
    assert got == [
        (1, ITEMS[0]["text"], "采纳", "否", "东县县政府", "2026-09-25", None,
         "东县住房和城乡建设局", HOUSING_RESULT, "2026-09-28", "2026-10-10", "2026-10-09",
         "按期办结"),
        (2, ITEMS[1]["text"], "部分采纳", "否", "东县县委", "2026-09-25", PARTLY_WHY,
         "东县交通运输局", TRANSPORT_RESULT, "2026-09-28", "2026-10-10", "2026-10-13",
         "逾期办结"),
        (3, ITEMS[2]["text"], "不予采纳", "否", "新坝镇党委", "2026-09-25", NOT_WHY, None, None,
         None, None, None, None),
        (4, ITEMS[3]["text"], "不予采纳", "是", "东县县政府", "2026-09-26", COUNTY_NOT_WHY,
         None, None, None, None, None, None)]
