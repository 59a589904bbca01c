"""Item 7: the public results page of a topic (GET /api/topics/<tid>/results) — the whole chain
suggestion → topic → research → consultation → opinion items → decision per item (D19, D22,
D23) → handling (D20, D21) → summary stage, for anyone, without personal data.

The follow-through rows (decisions, tasks, events, extensions) are written directly on top of
tests/followup_world.routed_list: the services that write them belong to other modules; this
page only reads the tables."""
from __future__ import annotations

import json
from datetime import date, timedelta

import pytest
from sqlalchemy import select

from app.consultations.models import (
    Attendance, CheckInMethod, ResearchKind, ResearchState, ResearchTask,
)
from app.consultations.rules import InviteGroup, OpinionScope
from app.db import utcnow
from app.followup.models import (
    ExtensionRequest, ExtensionState, HandlingTask, ItemDecision, ItemState, ItemTrack, Outcome,
    TaskCoHandler, TaskEvent, TaskEventKind, TaskState,
)
from app.org.models import Person
from app.suggestions.models import Suggestion, SuggestionState
from app.topics import services as topics
from app.topics.models import Category, Source, Topic, TopicState

from .. import consult_world, followup_world
from ..helpers import bearer, committed_session, count_statements

ITEM_PHONE = "13912345678"
PROGRESS_PHONE = "13812345678"
SENSITIVE_NOTES = "调研发现征地补偿历史遗留纠纷"


@pytest.fixture
def world(app):
    return consult_world.build(app)


def _suggestion(s, w, *, title="村口道路年久失修", votes=12) -> int:
    sug = Suggestion(platform_id=w["rooms"]["village"], proposer_id=w["people"]["resident"],
                     source=Source.proposed, category=Category.livelihood, title=title,
                     description="村口道路坑洼，雨天积水", state=SuggestionState.taken_up,
                     topic_id=w["topics"]["village"], vote_count=votes, comment_count=0,
                     follower_count=1)
    s.add(sug)
    s.flush()
    return sug.id


def _chain(app, w, *, extra_items: int = 0, extra_events: int = 0) -> dict:
    """The village topic taken up from a suggestion, researched, consulted (two attendees by
    name), its list routed with three items (+ extra), then: item 0 adopted by the town and
    handled by the housing bureau (co-handled by the town committee) with plan, progress,
    an approved extension and completion on time; item 1 escalated at county level (D22) and
    adopted by the city, being handled; item 2 not adopted with an explanation (D23)."""
    items = [(f"村口道路坑洼，请联系{ITEM_PHONE}", "local"), ("建议增开通往县城的公交线路", "county"),
             ("建议在村口设置集市", "local")]
    items += [(f"补充意见{i}", "local") for i in range(extra_items)]
    routed = followup_world.routed_list(app, w, room="village", items=items)
    ids = routed["item_ids"]
    b, p = w["bodies"], w["people"]
    now = utcnow()
    with committed_session(app) as s:
        sid = _suggestion(s, w)
        s.add_all([
            ResearchTask(topic_id=w["topics"]["village"], kind=ResearchKind.site_visit,
                         title="实地察看村口道路", created_by_id=p["conv_village"],
                         state=ResearchState.completed, notes="路面破损约200米",
                         completed_at=now - timedelta(days=10)),
            ResearchTask(topic_id=w["topics"]["village"], kind=ResearchKind.facts,
                         title="排查历史纠纷", created_by_id=p["conv_village"],
                         state=ResearchState.completed, notes=SENSITIVE_NOTES, is_sensitive=True,
                         completed_at=now - timedelta(days=9)),
        ])
        for group, name, pid in [(InviteGroup.resident, "张居民", p["resident"]),
                                 (InviteGroup.resident, "王大爷", p["resident2"]),
                                 (InviteGroup.member, "钱委员", p["member"])]:
            s.add(Attendance(consultation_id=routed["consultation_id"], person_id=pid, name=name,
                             group=group, method=CheckInMethod.qr, checked_in_at=now))
        tracks = {t.item_id: t for t in s.scalars(select(ItemTrack))}

        def decide(iid, scope, body, outcome, explanation=None):
            s.add(ItemDecision(item_id=iid, scope=scope, body_id=b[body], outcome=outcome,
                               explanation=explanation, decided_by_id=p[f"rev_{body}"],
                               decided_at=now))

        def task(iid, state, *, body_assigning, due, completed_on=None, percent=0, plan=None,
                 result=None):
            t = HandlingTask(item_id=iid, lead_body_id=b["housing"],
                             assigning_body_id=b[body_assigning], assigned_by_id=p["rev_town_pc"],
                             assigned_on=date(2026, 9, 28), workdays=5, due_on=due,
                             original_due_on=date(2026, 10, 12), state=state, percent=percent,
                             plan_text=plan, planned_at=now if plan else None, result_text=result,
                             completed_on=completed_on, completed_at=now if completed_on else None)
            s.add(t)
            s.flush()
            return t

        # item 0: adopted, handled, extended once, completed on time.
        decide(ids[0], OpinionScope.local, "town_pc", Outcome.adopted)
        t0 = task(ids[0], TaskState.completed, body_assigning="town_pc", due=date(2026, 10, 20),
                  completed_on=date(2026, 10, 19), percent=100, plan="十月底前完成路面修补",
                  result="已完成村口道路200米修补")
        s.add(TaskCoHandler(task_id=t0.id, body_id=b["town_pc"]))
        events = [(TaskEventKind.assigned, None, None), (TaskEventKind.accepted, None, None),
                  (TaskEventKind.planned, None, "十月底前完成路面修补"),
                  (TaskEventKind.progress, 60, f"已完成一半，现场负责人郑科长{PROGRESS_PHONE}")]
        events += [(TaskEventKind.progress, 70, f"补充进展{i}") for i in range(extra_events)]
        events += [(TaskEventKind.completed, 100, "已完成村口道路200米修补")]
        for n, (kind, percent, text) in enumerate(events):
            s.add(TaskEvent(task_id=t0.id, kind=kind, body_id=b["housing"],
                            actor_id=p["handler"], percent=percent, text=text,
                            at=now - timedelta(days=len(events) - n)))
        s.add(ExtensionRequest(task_id=t0.id, requested_due_on=date(2026, 10, 20),
                               reason="雨季施工受阻", requested_by_id=p["handler"],
                               state=ExtensionState.approved, decided_by_id=p["rev_town_pc"],
                               decided_at=now, note="同意延期"))
        tracks[ids[0]].state, tracks[ids[0]].outcome = ItemState.done, Outcome.adopted
        # item 1: escalated by the county (D22), adopted by the city, in handling.
        decide(ids[1], OpinionScope.county, "county_pc", Outcome.escalated,
               "涉及跨县线路，报市级研究")
        decide(ids[1], OpinionScope.city, "city_gov", Outcome.adopted)
        task(ids[1], TaskState.planned, body_assigning="city_gov", due=date(2026, 11, 30),
             percent=30, plan="调整公交线网")
        tracks[ids[1]].state, tracks[ids[1]].outcome = ItemState.handling, Outcome.adopted
        tracks[ids[1]].current_scope = OpinionScope.city
        # item 2: not adopted, explained (D23).
        decide(ids[2], OpinionScope.local, "town_pc", Outcome.not_adopted,
               "村口为交通要道，设集市存在安全隐患")
        tracks[ids[2]].state, tracks[ids[2]].outcome = ItemState.not_adopted, Outcome.not_adopted
        for iid in ids[3:]:
            decide(iid, OpinionScope.local, "town_pc", Outcome.not_adopted, "已有同类安排")
            tracks[iid].state = ItemState.not_adopted
    return {**routed, "suggestion_id": sid, "topic_id": w["topics"]["village"]}


def test_the_whole_chain_is_public_and_masked(app, client, world):
    chain = _chain(app, world)
    r = client.get(f"/api/topics/{chain['topic_id']}/results")
    assert r.status_code == 200, r.json
    data = r.json
    text = json.dumps(data, ensure_ascii=False)

    topic = data["topic"]
    assert topic["title"] == "village议题：加装电梯" and topic["category_label"] == "实事"
    assert topic["source_label"] == "群众出题" and topic["approved_on"]
    assert data["stage"] == "handling" and data["stage_label"] == "办理中"
    assert [s["label"] for s in data["stages"]] == ["征集中", "已立题", "已协商", "办理中", "已办结"]
    assert [s["reached"] for s in data["stages"]] == [True, True, True, True, False]

    [sug] = data["suggestions"]
    assert sug["id"] == chain["suggestion_id"] and sug["vote_count"] == 12
    assert sug["title"] == "村口道路年久失修" and sug["proposer"] == "张**"

    research = {r["kind"]: r for r in data["research"]}
    assert research["site_visit"]["title"] == "实地察看村口道路"
    assert research["site_visit"]["completed_on"]
    assert research["facts"]["title"] is None  # D12: a sensitive finding stays internal

    [cons] = data["consultations"]
    assert cons["held_on"] and cons["place_kind_label"] == "现场（移动协商）"
    assert {g["group"]: g["count"] for g in cons["attendance"]} == {"resident": 2, "member": 1}
    assert cons["attendee_count"] == 3

    items = cons["items"]
    assert [i["seq"] for i in items] == [1, 2, 3]
    i0, i1, i2 = items
    assert i0["text"] == "村口道路坑洼，请联系***" and i0["scope_label"] == "本级可解决"
    assert i0["state"] == "done" and i0["outcome_label"] == "采纳"
    h0 = i0["handling"]
    assert h0["lead_department"] == "东县住房和城乡建设局"
    assert h0["co_handlers"] == ["新坝镇党委"]
    assert h0["state_label"] == "已办结" and h0["percent"] == 100
    assert h0["plan"] == "十月底前完成路面修补" and h0["result"] == "已完成村口道路200米修补"
    assert h0["completed_on"] == "2026-10-19" and h0["due_on"] == "2026-10-20"
    assert h0["on_time"] is True
    assert [e["kind"] for e in h0["events"]] == ["assigned", "accepted", "planned", "progress",
                                                 "completed"]
    assert h0["events"][3]["text"] == "已完成一半，现场负责人郑科长***"  # masked by the page
    assert h0["events"][3]["percent"] == 60 and h0["events"][3]["kind_label"] == "办理进展"
    [ext] = h0["extensions"]
    assert ext["requested_due_on"] == "2026-10-20" and ext["state_label"] == "已同意"

    # D22: the escalation trail, level by level.
    assert [(d["scope"], d["body"], d["outcome_label"]) for d in i1["decisions"]] == [
        ("county", "东县县委", "向上级政协反映"), ("city", "海州市政府", "采纳")]
    assert i1["decisions"][0]["explanation"] == "涉及跨县线路，报市级研究"
    assert i1["handling"]["state_label"] == "办理中" and i1["handling"]["percent"] == 30
    assert i1["handling"]["on_time"] is None
    # D23: the explanation residents read.
    assert i2["outcome_label"] == "不予采纳" and i2["handling"] is None
    assert i2["explanation"] == "村口为交通要道，设集市存在安全隐患"

    summary = data["summary"]
    assert summary == {**summary, "item_count": 3, "settled_count": 2, "adopted_count": 2,
                       "not_adopted_count": 1, "handling_count": 1, "done_count": 1,
                       "done_on_time_count": 1}

    # Nothing personal: no full names (residents, reviewers, the handler), no phone, no notes.
    for secret in (ITEM_PHONE, PROGRESS_PHONE, "张居民", "王大爷", "钱委员", "审核", "openid",
                   SENSITIVE_NOTES, "路面破损约200米"):
        assert secret not in text, secret


def test_anonymous_and_logged_in_callers_see_the_same_page(app, client, world):
    chain = _chain(app, world)
    anon = client.get(f"/api/topics/{chain['topic_id']}/results").json
    mine = client.get(f"/api/topics/{chain['topic_id']}/results",
                      headers=bearer(world["tokens"]["resident"])).json
    assert anon == mine


def test_a_topic_taken_up_but_not_consulted_has_the_topic_stage(app, client, world):
    with committed_session(app) as s:
        _suggestion(s, world)
    r = client.get(f"/api/topics/{world['topics']['village']}/results").json
    assert r["stage"] == "topic" and r["consultations"] == []
    assert [s["reached"] for s in r["stages"]] == [True, True, False, False, False]
    assert r["summary"]["item_count"] == 0


@pytest.mark.parametrize("state", [TopicState.draft, TopicState.in_approval,
                                   TopicState.returned, TopicState.withdrawn])
def test_a_topic_not_approved_or_withdrawn_is_not_found(app, client, world, state):
    with committed_session(app) as s:
        convenor = s.get(Person, world["people"]["conv_village"])
        t = topics.create_topic(s, actor=convenor, platform_id=world["rooms"]["village"],
                                title="未审定的议题", description="还在准备中的议题说明",
                                category=Category.livelihood, source=Source.proposed)
        t.state = state
        s.flush()
        tid = t.id
    for headers in ({}, bearer(world["tokens"]["resident"])):
        r = client.get(f"/api/topics/{tid}/results", headers=headers)
        assert r.status_code == 404 and r.json["error"] == "topic_not_found"
    assert client.get("/api/topics/987654/results").status_code == 404


def test_once_every_item_is_settled_the_stage_is_done(app, client, world):
    chain = _chain(app, world)
    with committed_session(app) as s:
        track = s.scalar(select(ItemTrack).where(ItemTrack.item_id == chain["item_ids"][1]))
        track.state = ItemState.done
    r = client.get(f"/api/topics/{chain['topic_id']}/results").json
    assert r["stage"] == "done" and r["stage_label"] == "已办结"
    assert all(s["reached"] for s in r["stages"])


def test_statement_count_does_not_grow_with_items_or_events(app, client, world):
    engine = app.extensions["db"].engine
    chain = _chain(app, world)
    url = f"/api/topics/{chain['topic_id']}/results"
    small = count_statements(engine, lambda: client.get(url))
    # A second, bigger consultation on the same topic: more items, more events.
    with committed_session(app) as s:
        s.execute(Topic.__table__.update().where(Topic.id == chain["topic_id"])
                  .values(updated_at=utcnow()))
    _chain(app, world, extra_items=6, extra_events=8)
    r = client.get(url).json
    assert len(r["consultations"]) == 2 and len(r["consultations"][1]["items"]) == 9
    big = count_statements(engine, lambda: client.get(url))
    assert small == big
    assert big <= 13, big  # 11, + the feedback list and the evaluations: one statement each


def test_the_suggestion_detail_links_to_the_results_once_they_are_public(app, client, world):
    chain = _chain(app, world)
    d = client.get(f"/api/suggestions/{chain['suggestion_id']}").json
    assert (d["stage"], d["stage_label"]) == ("handling", "办理中")
    assert d["topic_id"] == d["results_topic_id"] == chain["topic_id"]
    with committed_session(app) as s:
        convenor = s.get(Person, world["people"]["conv_village"])
        draft = topics.create_topic(s, actor=convenor, platform_id=world["rooms"]["village"],
                                    title="草拟中的议题", description="还在准备中的议题说明",
                                    category=Category.livelihood, source=Source.proposed)
        s.flush()
        sid = _suggestion(s, world, title="另一条建议")
        s.get(Suggestion, sid).topic_id = draft.id
    d = client.get(f"/api/suggestions/{sid}").json
    assert d["stage"] == "topic" and d["topic_id"] is not None
    assert d["results_topic_id"] is None  # not approved yet: no results page to open


def test_the_results_link_for_notices_opens_a_registered_page():
    from pathlib import Path

    from app.followup.results import results_link

    pages = json.loads((Path(__file__).parents[2] / "miniprogram" / "app.json").read_text())["pages"]
    link = results_link(7)
    assert link == "/pages/results/results?id=7" and link[1:].split("?")[0] in pages
