"""D21: the feedback list of an opinion list — compiled exactly when its last item is settled,
as JSON, Word (A4) and Excel, readable by the opinion list's readers and the handling
departments, reported to the convenor, the bodies and departments, and every follower told once
(inbox first, then the WeChat channels). Also the topic's public milestones after approval."""
from __future__ import annotations

import io
import random
from datetime import date, timedelta

import pytest
import time_machine
from docx import Document
from openpyxl import load_workbook
from sqlalchemy import func, select

from app.consultations import opinions
from app.consultations.models import Attendance, CheckInMethod
from app.consultations.rules import InviteGroup, OpinionScope
from app.db import utcnow
from app.followup.feedback_models import FeedbackList
from app.followup.models import Outcome
from app.notify.channels import build_channels
from app.notify.dispatcher import DispatchPolicy, dispatch_once
from app.notify.models import InboxItem, OutboxMessage
from app.org import factories as f
from app.org.models import BodyKind, Person, Region, Role
from app.suggestions import trail
from app.suggestions.models import (
    Comment, CommentState, Follow, Suggestion, SuggestionState, TimelineEntry, Vote,
)
from app.topics.models import Category, Source

from .. import consult_world, followup_world
from ..consult_world import as_
from ..feedback_world import settle_done, settle_not_adopted
from ..helpers import bearer, committed_session
from .test_meetings import complete_research, schedule

ROAD, BUS, LAMP = "村口道路坑洼，建议年内修缮", "建议增开通往县城的公交线路", "建议村口加装路灯"


@pytest.fixture
def world(app):
    w = consult_world.build(app)
    with committed_session(app) as s:
        county = s.scalar(select(Region).where(Region.name == "东县"))
        transport = f.create_body(s, name="东县交通运输局", kind=BodyKind.department, region=county)
        co_handler = f.create_person(s, name="冯股长")
        f.assign_role(s, co_handler, Role.dept_handler, body=transport)
        s.flush()
        w["bodies"]["transport"], w["people"]["co_handler"] = transport.id, co_handler.id
    from app.auth.current import open_session
    from app.auth.models import SessionKind
    with committed_session(app) as s:
        w["tokens"]["co_handler"] = open_session(s, s.get(Person, w["people"]["co_handler"]),
                                                 SessionKind.mp, timedelta(days=30))[0]
    return w


def routed(app, w) -> dict:
    """Three local items to the town Party committee; the bus line is escalated (D22) and the
    county government decides it."""
    return followup_world.routed_list(app, w, room="village",
                                      items=[(ROAD, "local"), (BUS, "local"), (LAMP, "local")])


def settle_all_but_last(app, w, r):
    road, bus, lamp = r["item_ids"]
    settle_not_adopted(app, w, lamp, body="town_pc",
                       explanation="该路段已列入明年县道亮化工程，届时统一安装")
    settle_done(app, w, road, body="town_pc", lead="housing", co=("transport",),
                assigned_on=date(2026, 9, 28), due_on=date(2026, 10, 12),
                extensions=(date(2026, 10, 20),), completed_on=date(2026, 10, 19),
                plan="分两段修缮村口道路", result="村口道路 800 米已全部修缮")


def settle_last(app, w, r):
    settle_done(app, w, r["item_ids"][1], body="county_gov", lead="housing",
                outcome=Outcome.partly, scope=OpinionScope.county, escalated_by="town_pc",
                assigned_on=date(2026, 10, 9), due_on=date(2026, 10, 16),
                completed_on=date(2026, 10, 23), plan="调整县城至新坝的公交班次",
                result="早晚高峰各增开一班", explanation="全天增开运力不足，先在高峰时段增开")


@pytest.fixture
def compiled(app, world) -> dict:
    """The routed list with every item settled: its feedback list compiled."""
    r = routed(app, world)
    settle_all_but_last(app, world, r)
    settle_last(app, world, r)
    return r


def feedback_rows(app):
    with committed_session(app) as s:
        return s.scalars(select(FeedbackList)).all()


def get(client, w, who, cid, ext=""):
    return client.get(f"/api/consultations/{cid}/feedback-list{ext}", headers=as_(w, who))


# --- compiled exactly when the last item settles --------------------------------------------------

def test_compiled_once_when_the_last_item_settles_and_not_before(client, app, world):
    r = routed(app, world)
    cid = r["consultation_id"]
    settle_all_but_last(app, world, r)
    assert feedback_rows(app) == []
    before = get(client, world, "conv_village", cid)
    assert before.status_code == 404 and before.json["error"] == "feedback_list_not_found"
    with committed_session(app) as s:
        assert s.scalar(select(func.count()).select_from(OutboxMessage)
                        .where(OutboxMessage.kind == "feedback")) == 0
    settle_last(app, world, r)
    [fl] = feedback_rows(app)
    assert (fl.list_id, fl.items, fl.adopted, fl.partly, fl.not_adopted, fl.done, fl.on_time) \
        == (r["list_id"], 3, 1, 1, 1, 2, 1)
    # A second compile (any path) writes nothing more.
    from app.consultations.models import OpinionList
    from app.followup.feedback import compile_feedback
    with committed_session(app) as s:
        again = compile_feedback(s, s.get(OpinionList, r["list_id"]))
        assert again.id == fl.id
    assert len(feedback_rows(app)) == 1
    with committed_session(app) as s:
        assert s.scalar(select(func.count()).select_from(TimelineEntry)
                        .where(TimelineEntry.kind == "feedback")) == 1

    body = get(client, world, "conv_village", cid).json
    assert body["summary"] == "共3条意见，采纳1条、部分采纳1条、不予采纳1条，已办结2条"
    road, bus, lamp = body["items"]
    assert (road["decision_label"], road["lead"], road["co_handlers"], road["due_on"],
            road["original_due_on"], road["extensions"], road["completed_on"], road["on_time"]) \
        == ("采纳", "东县住房和城乡建设局", ["东县交通运输局"], "2026-10-20", "2026-10-12",
            ["2026-10-20"], "2026-10-19", True)
    assert road["plan"] == "分两段修缮村口道路" and road["result"] == "村口道路 800 米已全部修缮"
    # D22: the escalated item shows the upper level's decision and that it was escalated.
    assert bus["escalated"] is True and bus["decision_label"] == "部分采纳"
    assert bus["decided_by"] == "东县县政府" and "向上级反映" in bus["decision_text"]
    assert bus["on_time"] is False and bus["explanation"].startswith("全天增开")
    # D23: the not-adopted item carries its explanation and no handling.
    assert (lamp["decision_label"], lamp["lead"], lamp["on_time"]) == ("不予采纳", None, None)
    assert lamp["explanation"] == "该路段已列入明年县道亮化工程，届时统一安装"
    assert body["word_url"].endswith("/feedback-list.docx")


# --- documents ------------------------------------------------------------------------------------

def test_word_is_a4_with_every_item_decision_department_result_and_dates(client, world, compiled):
    r = compiled
    resp = get(client, world, "conv_village", r["consultation_id"], ".docx")
    assert resp.status_code == 200
    doc = Document(io.BytesIO(resp.data))
    section = doc.sections[0]
    assert round(section.page_width.cm, 1) == 21.0 and round(section.page_height.cm, 1) == 29.7
    assert round(section.top_margin.cm, 1) == 3.7 and round(section.left_margin.cm, 1) == 2.8
    assert "PAGE" in section.footer._element.xml  # page numbers at the foot
    text = "\n".join(p.text for p in doc.paragraphs)
    cells = "\n".join(c.text for t in doc.tables for row in t.rows for c in row.cells)
    assert doc.paragraphs[0].text == "关于“village议题：加装电梯”协商意见的结果反馈清单"
    for needle in (ROAD, BUS, LAMP, "采纳", "部分采纳", "不予采纳", "东县住房和城乡建设局",
                   "东县交通运输局", "村口道路 800 米已全部修缮", "早晚高峰各增开一班",
                   "该路段已列入明年县道亮化工程", "2026-09-28", "2026-10-20", "2026-10-19",
                   "2026-10-23", "逾期办结", "按期办结"):
        assert needle in text, needle
    for needle in (ROAD, "东县住房和城乡建设局", "2026-10-19", "早晚高峰各增开一班"):
        assert needle in cells, needle


def test_excel_has_one_row_per_item_with_every_field_and_a4_setup(client, world, compiled):
    r = compiled
    resp = get(client, world, "rev_town_pc", r["consultation_id"], ".xlsx")
    assert resp.status_code == 200
    ws = load_workbook(io.BytesIO(resp.data)).active
    assert int(ws.page_setup.paperSize) == 9  # A4
    rows = list(ws.iter_rows(values_only=True))
    header = rows[2]
    assert header[:4] == ("序号", "意见建议", "解决层级", "研究决定")
    by = {row[0]: dict(zip(header, row)) for row in rows[3:]}
    assert set(by) == {1, 2, 3}
    assert (by[1]["意见建议"], by[1]["研究决定"], by[1]["牵头办理部门"], by[1]["协办部门"],
            by[1]["交办日期"], by[1]["原定办结期限"], by[1]["办结期限（含延期）"], by[1]["延期次数"],
            by[1]["办结日期"], by[1]["是否按期办结"], by[1]["办理结果"]) == (
        ROAD, "采纳", "东县住房和城乡建设局", "东县交通运输局", "2026-09-28", "2026-10-12",
        "2026-10-20", 1, "2026-10-19", "按期办结", "村口道路 800 米已全部修缮")
    assert (by[2]["研究决定"], by[2]["是否经向上级反映"], by[2]["决定机构"], by[2]["是否按期办结"]) \
        == ("部分采纳", "是", "东县县政府", "逾期办结")
    assert (by[3]["研究决定"], by[3]["解释说明"], by[3]["牵头办理部门"]) == (
        "不予采纳", "该路段已列入明年县道亮化工程，届时统一安装", None)


# --- who may read ---------------------------------------------------------------------------------

def test_readers_are_the_opinion_lists_readers_and_the_handling_departments(client, app, world):
    r = routed(app, world)
    cid = r["consultation_id"]
    settle_all_but_last(app, world, r)
    for who in ("conv_village", "handler", "co_handler", "outsider"):
        assert get(client, world, who, cid).status_code == 404, who
    settle_last(app, world, r)
    # rev_county_gov: no copy of the list, but its body decided the escalated item (D22).
    for who in ("conv_village", "rev_town_pc", "rev_county_gov", "county_staff", "handler",
                "co_handler"):
        assert get(client, world, who, cid).status_code == 200, who
        assert get(client, world, who, cid, ".xlsx").status_code == 200, who
    for who in ("outsider", "resident", "rev_other_pc", "rev_city_pc", "rev_county_pc"):
        resp = get(client, world, who, cid, ".docx")
        assert resp.status_code == 404, who
    assert client.get(f"/api/consultations/{cid}/feedback-list").status_code == 401
    assert get(client, world, "conv_village", 999999).status_code == 404


# --- notices --------------------------------------------------------------------------------------

def add_followers(app, w) -> dict[str, int]:
    """The topic's suggestion with its proposer, a voter (who follows), a commenter who does
    not follow, a follower of the topic, two attendees (one a walk-in without a person) and a
    deactivated follower."""
    with committed_session(app) as s:
        people = {k: f.create_person(s, name=n) for k, n in (
            ("proposer", "甲居民"), ("voter", "乙居民"), ("commenter", "丙居民"),
            ("topic_follower", "丁居民"), ("attendee", "戊居民"), ("gone", "己居民"))}
        s.flush()
        ids = {k: p.id for k, p in people.items()}
        tid = w["topics"]["village"]
        sug = Suggestion(platform_id=w["rooms"]["village"], proposer_id=ids["proposer"],
                         source=Source.proposed, category=Category.livelihood, title="修路",
                         description="村口道路坑洼", state=SuggestionState.taken_up, topic_id=tid)
        s.add(sug)
        s.flush()
        s.add(Vote(suggestion_id=sug.id, person_id=ids["voter"]))
        trail.follow(s, person_id=ids["voter"], suggestion_id=sug.id)
        s.add(Comment(suggestion_id=sug.id, author_id=ids["commenter"], body="支持",
                      state=CommentState.visible))
        trail.follow(s, person_id=ids["topic_follower"], topic_id=tid)
        trail.follow(s, person_id=ids["gone"], topic_id=tid)
        people["gone"].is_active = False
        # The proposer also follows the topic and attends: still one notice.
        trail.follow(s, person_id=ids["proposer"], topic_id=tid)
        # The convenor follows the topic too: one notice, the convenor's one.
        trail.follow(s, person_id=w["people"]["conv_village"], topic_id=tid)
        ids["suggestion"] = sug.id
    return ids


def attend(app, w, cid, ids):
    with committed_session(app) as s:
        for pid in (ids["attendee"], ids["proposer"], w["people"]["member"]):
            s.add(Attendance(consultation_id=cid, person_id=pid, name="到场", checked_in_at=utcnow(),
                             group=InviteGroup.resident, method=CheckInMethod.walk_in))
        s.add(Attendance(consultation_id=cid, person_id=None, name="路过居民",
                         group=InviteGroup.resident, method=CheckInMethod.walk_in,
                         checked_in_at=utcnow()))


def test_convenor_bodies_departments_and_every_follower_are_told_once(
        client, app, world, fake_wechat):
    ids = add_followers(app, world)
    r = routed(app, world)
    attend(app, world, r["consultation_id"], ids)
    settle_all_but_last(app, world, r)
    settle_last(app, world, r)
    p = world["people"]
    # The body the list went to, the county government that decided the escalated item (D22),
    # the lead and co-handling departments.
    officials = {p["conv_village"], p["rev_town_pc"], p["rev_county_gov"], p["handler"],
                 p["co_handler"]}
    followers = {ids["proposer"], ids["voter"], ids["commenter"], ids["topic_follower"],
                 ids["attendee"], p["member"]}
    with committed_session(app) as s:
        rows = s.scalars(select(OutboxMessage).where(OutboxMessage.kind == "feedback")).all()
        by = {}
        for row in rows:
            assert row.recipient_id not in by, "one notice per person"
            by[row.recipient_id] = row
    assert set(by) == officials | followers
    tid = world["topics"]["village"]
    for pid in officials:
        assert by[pid].link == f"/pages/opinions/opinions?id={r['consultation_id']}"
        assert by[pid].payload["word_url"].endswith("/feedback-list.docx")
    for pid in followers:
        assert by[pid].link == f"/pages/results/results?id={tid}"
        assert "采纳1条、部分采纳1条、不予采纳1条，已办结2条" in by[pid].body

    # Inbox first, then the channels (sandbox: the fake WeChat records every one).
    ch = build_channels(app)
    policy = DispatchPolicy(max_attempts=3, base_delay=10, max_delay=100, jitter=0.2)
    while dispatch_once(app, batch_size=50, worker_id="w", channels=ch, policy=policy,
                        rng=random.Random(3)).claimed:
        pass
    with committed_session(app) as s:
        inbox = s.execute(select(InboxItem.person_id, func.count()).where(
            InboxItem.kind == "feedback").group_by(InboxItem.person_id)).all()
        assert dict(inbox) == {pid: 1 for pid in officials | followers}
    sent = [c for c in fake_wechat.calls(ok=True) if "/message/" in c.path
            and ("结果反馈清单已形成" in str(c.body) or "有了办理结果" in str(c.body))]
    assert sorted(c.body["touser"] for c in sent) == sorted(
        f"osandbox_person_{pid}" for pid in officials | followers)


# --- the public milestones ------------------------------------------------------------------------

def topic_timeline(app, tid):
    with committed_session(app) as s:
        return [(e.kind, e.text) for e in trail.timeline(s, topic_id=tid)]


def test_routing_and_feedback_are_public_milestones_without_names(app, world):
    tid = world["topics"]["village"]
    r = routed(app, world)
    kinds = topic_timeline(app, tid)
    assert ("list_routed", "协商形成的意见清单（3条）已报送新坝镇党委研究办理") in kinds
    settle_all_but_last(app, world, r)
    assert "feedback" not in [k for k, _ in topic_timeline(app, tid)]
    settle_last(app, world, r)
    [text] = [t for k, t in topic_timeline(app, tid) if k == "feedback"]
    assert text == "结果反馈清单已形成：共3条意见，采纳1条、部分采纳1条、不予采纳1条，已办结2条"
    names = ("召集人", "审核", "郑科长", "冯股长")
    mine = [t for k, t in topic_timeline(app, tid) if k in ("list_routed", "feedback")]
    assert len(mine) == 2 and not any(n in t for t in mine for n in names)


def test_the_meeting_held_is_a_public_milestone_once(client, app, world):
    complete_research(client, world)
    start = (utcnow() + timedelta(days=1)).replace(microsecond=0)
    cid = schedule(client, world, starts_at=start.isoformat(),
                   ends_at=(start + timedelta(hours=2)).isoformat()).json["id"]
    tid = world["topics"]["village"]
    assert "consultation_held" not in [k for k, _ in topic_timeline(app, tid)]
    with time_machine.travel(start + timedelta(minutes=5), tick=False):
        for who in ("resident", "resident2"):
            resp = client.post(f"/api/consultations/{cid}/attendance",
                               json={"person_id": world["people"][who], "group": "resident"},
                               headers=as_(world, "conv_village"))
            assert resp.status_code in (200, 201), resp.json
    held = [t for k, t in topic_timeline(app, tid) if k == "consultation_held"]
    day = (start + timedelta(minutes=5, hours=8)).strftime("%Y年%m月%d日")
    assert len(held) == 1 and held[0].startswith(day) and "召开协商会议" in held[0]
    assert "张居民" not in held[0]
