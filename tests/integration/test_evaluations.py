"""Evaluation of consultations (D26, D27): who may give each of the four kinds, the two phases,
one evaluation per person per consultation per phase and kind (changeable, a repeat is a
replay), scores 1–5, aggregates per consultation / platform / town / county, model cases and
their public list."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from app.consultations.models import (
    Attendance, CheckInMethod, Consultation, ConsultationState, Invitation, PlaceKind,
)
from app.consultations.rules import InviteGroup
from app.db import utcnow
from app.evaluation.models import Evaluation, EvaluationKind, ModelCase, Phase
from app.followup.models import ItemState, ItemTrack
from app.org import factories as f
from app.org.models import Region, Role
from app.suggestions.models import Follow
from app.workdays import CHINA_TZ

from .. import consult_world, followup_world
from ..consult_world import as_
from ..helpers import committed_session, race

GOOD = {"outcome_score": 4, "process_score": 5, "comment": "道路修得及时"}


@pytest.fixture
def world(app):
    return consult_world.build(app)


@pytest.fixture
def routed(app, world):
    return followup_world.routed_list(app, world, room="village")


def url(cid, phase="after_meeting", kind="resident"):
    return f"/api/consultations/{cid}/evaluations/{phase}/{kind}"


def put(client, world, who, cid, phase="after_meeting", kind="resident", body=None):
    return client.put(url(cid, phase, kind), json=body or GOOD, headers=as_(world, who))


def attend(app, world, cid, who):
    with committed_session(app) as s:
        s.add(Attendance(consultation_id=cid, person_id=world["people"][who], name=who,
                         group=InviteGroup.resident, method=CheckInMethod.convenor,
                         checked_in_at=utcnow()))


def invite(app, world, cid, who, group):
    with committed_session(app) as s:
        s.add(Invitation(consultation_id=cid, person_id=world["people"][who], group=group,
                         invited_at=utcnow(), invited_by_id=world["people"]["conv_village"]))


def settle_all(app, list_id):
    with committed_session(app) as s:
        for t in s.scalars(select(ItemTrack).where(ItemTrack.list_id == list_id)):
            t.state, t.settled_at = ItemState.done, utcnow()


def west_staff(app, world) -> None:
    """CPPCC staff of the other county (西县), logged in as world["tokens"]["west_staff"]."""
    from app.auth.current import open_session
    from app.auth.models import SessionKind

    with committed_session(app) as s:
        other = s.scalar(select(Region).where(Region.code == "9102"))
        p = f.create_person(s, name="西县政协工作人员")
        f.assign_role(s, p, Role.staff, region=other)
        s.flush()
        world["tokens"]["west_staff"] = open_session(s, p, SessionKind.mp, timedelta(days=1))[0]


def rows(app):
    with committed_session(app) as s:
        return s.scalar(select(func.count()).select_from(Evaluation))


# --- who may evaluate (D27) -----------------------------------------------------------------------

def test_party_government_review_by_routed_bodies_and_the_local_party_and_government(
        client, world, routed):
    cid = routed["consultation_id"]
    # town_pc received the list's local items (D18); county_pc received its county items.
    for who in ("rev_town_pc", "rev_county_pc", "rev_village_po"):
        r = put(client, world, who, cid, kind="party_government")
        assert r.status_code == 200, (who, r.json)
        assert r.json["kind_label"] == "党政点评"
    for who in ("rev_other_pc", "rev_special", "rev_housing", "resident", "county_staff"):
        r = put(client, world, who, cid, kind="party_government")
        assert r.status_code == 403, who
        assert r.json["error"] == "not_evaluator"
        assert "党政点评" in r.json["message"]


def test_member_appraisal_by_linked_or_invited_members(app, client, world, routed):
    cid = routed["consultation_id"]
    assert put(client, world, "member", cid, kind="member").status_code == 200  # linked (D29)
    for who in ("member2", "other_member", "resident", "conv_village"):
        r = put(client, world, who, cid, kind="member")
        assert (r.status_code, r.json["error"]) == (403, "not_evaluator"), who
        assert "委员评议" in r.json["message"]
    invite(app, world, cid, "member2", InviteGroup.member)
    assert put(client, world, "member2", cid, kind="member").status_code == 200
    invite(app, world, cid, "resident", InviteGroup.member)  # no member role: still refused
    assert put(client, world, "resident", cid, kind="member").status_code == 403


def test_resident_rating_by_people_who_came_or_followed(app, client, world, routed):
    cid = routed["consultation_id"]
    for who in ("resident", "resident2", "stakeholder"):
        r = put(client, world, who, cid)
        assert (r.status_code, r.json["error"]) == (403, "not_evaluator"), who
        assert "群众" in r.json["message"]
    attend(app, world, cid, "resident")
    with committed_session(app) as s:
        s.add(Follow(person_id=world["people"]["resident2"], topic_id=world["topics"]["village"]))
    invite(app, world, cid, "stakeholder", InviteGroup.stakeholder)
    for who in ("resident", "resident2", "stakeholder"):
        assert put(client, world, who, cid).status_code == 200, who
    assert put(client, world, "outsider", cid).status_code == 403
    assert rows(app) == 3


def test_organiser_analysis_by_the_convenor_and_cppcc_staff_over_the_platform(
        app, client, world, routed):
    cid = routed["consultation_id"]
    west_staff(app, world)
    for who in ("conv_village", "county_staff"):
        assert put(client, world, who, cid, kind="organiser").status_code == 200, who
    for who in ("conv_town", "west_staff", "member", "rev_town_pc"):
        r = put(client, world, who, cid, kind="organiser")
        assert (r.status_code, r.json["error"]) == (403, "not_evaluator"), who
        assert "组织者评析" in r.json["message"]


def test_unknown_phase_kind_or_consultation(client, world, routed):
    cid = routed["consultation_id"]
    r = put(client, world, "conv_village", cid, phase="later", kind="organiser")
    assert (r.status_code, r.json["error"]) == (422, "invalid_phase")
    r = put(client, world, "conv_village", cid, kind="everyone")
    assert (r.status_code, r.json["error"]) == (422, "invalid_kind")
    r = put(client, world, "conv_village", 999999, kind="organiser")
    assert (r.status_code, r.json["error"]) == (404, "consultation_not_found")
    assert client.put(url(cid), json=GOOD).status_code == 401


# --- scores and the one-per-person rule -----------------------------------------------------------

@pytest.mark.parametrize("bad", [
    {"outcome_score": 0, "process_score": 3}, {"outcome_score": 6, "process_score": 3},
    {"outcome_score": 3, "process_score": -1}, {"outcome_score": "5", "process_score": 3},
    {"outcome_score": 3.5, "process_score": 3}, {"process_score": 3},
    {"outcome_score": 3, "process_score": 3, "comment": "好" * 501},
])
def test_a_score_outside_1_to_5_is_refused_and_nothing_is_stored(app, client, world, routed,
                                                                  bad):
    cid = routed["consultation_id"]
    attend(app, world, cid, "resident")
    r = put(client, world, "resident", cid, body=bad)
    assert r.status_code == 422
    assert r.json["error"] == "validation_failed"
    assert r.json["message"]
    assert rows(app) == 0


def test_the_service_refuses_out_of_range_scores_too(app, world, routed):
    from app.errors import ValidationFailed
    from app.evaluation import services
    from app.org.models import Person

    with committed_session(app) as s:
        with pytest.raises(ValidationFailed) as e:
            services.evaluate(s, actor=s.get(Person, world["people"]["conv_village"]),
                              consultation_id=routed["consultation_id"],
                              phase=Phase.after_meeting, kind=EvaluationKind.organiser,
                              outcome_score=7, process_score=3, comment=None)
        assert e.value.code == "score_out_of_range"


def test_one_rating_per_person_per_phase_changeable_and_a_repeat_is_a_replay(
        app, client, world, routed):
    cid = routed["consultation_id"]
    attend(app, world, cid, "resident")
    first = put(client, world, "resident", cid)
    assert first.status_code == 200
    again = put(client, world, "resident", cid)
    assert again.status_code == 200 and again.json == first.json  # replay: nothing changed
    changed = put(client, world, "resident", cid,
                  body={"outcome_score": 2, "process_score": 3})
    assert changed.status_code == 200
    assert changed.json["id"] == first.json["id"]
    assert (changed.json["outcome_score"], changed.json["process_score"],
            changed.json["comment"]) == (2, 3, None)
    assert rows(app) == 1
    mine = client.get(f"/api/me/ratings/{cid}", headers=as_(world, "resident")).json
    assert mine["may_rate"] is True
    after_meeting = next(p for p in mine["phases"] if p["phase"] == "after_meeting")
    assert after_meeting["is_open"] and after_meeting["rating"]["outcome_score"] == 2
    assert after_meeting["phase_label"] == "会后评价"
    # Another kind by the same person is another evaluation (an organiser who also came).
    assert put(client, world, "conv_village", cid, kind="organiser").status_code == 200
    assert rows(app) == 2


# --- phases ---------------------------------------------------------------------------------------

def test_after_meeting_opens_when_the_consultation_is_held(app, client, world):
    with committed_session(app) as s:
        start = utcnow() + timedelta(days=3)
        c = Consultation(topic_id=world["topics"]["village"], platform_id=world["rooms"]["village"],
                         state=ConsultationState.scheduled, starts_at=start,
                         ends_at=start + timedelta(hours=2), place_kind=PlaceKind.venue,
                         place="村委会", agenda=[], created_by_id=world["people"]["conv_village"])
        s.add(c)
        s.flush()
        cid = c.id
    r = put(client, world, "conv_village", cid, kind="organiser")
    assert (r.status_code, r.json["error"]) == (409, "phase_not_open")
    assert "召开后" in r.json["message"]
    # Held from the first check-in, which opens an hour before the start: still no rating
    # while the meeting has not ended; once its end has passed (or the list is routed), open.
    with committed_session(app) as s:
        c = s.get(Consultation, cid)
        c.state, c.starts_at = ConsultationState.held, utcnow() - timedelta(minutes=10)
        c.ends_at = utcnow() + timedelta(hours=2)
    r = put(client, world, "conv_village", cid, kind="organiser")
    assert (r.status_code, r.json["error"]) == (409, "phase_not_open")
    with committed_session(app) as s:
        s.get(Consultation, cid).ends_at = utcnow() - timedelta(minutes=1)
    assert put(client, world, "conv_village", cid, kind="organiser").status_code == 200


def test_after_feedback_opens_when_every_item_is_settled(app, client, world, routed):
    cid = routed["consultation_id"]
    attend(app, world, cid, "resident")
    r = put(client, world, "resident", cid, phase="after_feedback")
    assert (r.status_code, r.json["error"]) == (409, "phase_not_open")
    assert "反馈" in r.json["message"]
    with committed_session(app) as s:  # one item settled, the other still handled
        t = s.scalar(select(ItemTrack).where(ItemTrack.item_id == routed["item_ids"][0]))
        t.state = ItemState.not_adopted
        t2 = s.scalar(select(ItemTrack).where(ItemTrack.item_id == routed["item_ids"][1]))
        t2.state = ItemState.handling
    assert put(client, world, "resident", cid, phase="after_feedback").status_code == 409
    summary = client.get(f"/api/consultations/{cid}/evaluations").json
    assert [p["is_open"] for p in summary["phases"]] == [True, False]
    settle_all(app, routed["list_id"])
    r = put(client, world, "resident", cid, phase="after_feedback")
    assert r.status_code == 200 and r.json["phase_label"] == "反馈后评价"
    assert rows(app) == 1


def test_no_opinion_list_means_no_feedback_phase(app, client, world):
    cid = followup_world.held_consultation(app, world, "village")
    r = put(client, world, "conv_village", cid, phase="after_feedback", kind="organiser")
    assert (r.status_code, r.json["error"]) == (409, "phase_not_open")


# --- concurrency (PostgreSQL) ---------------------------------------------------------------------

def test_two_simultaneous_first_ratings_leave_one_row(app, world, routed):
    if app.extensions["db"].engine.dialect.name != "postgresql":
        pytest.skip("needs PostgreSQL (TEST_DATABASE_URL): SQLite runs one transaction at a time")
    cid = routed["consultation_id"]
    attend(app, world, cid, "resident")
    # Two different ratings, sent by 8 threads at once (4 each): more than two widen the window
    # in which several pass the "no row yet" read before any INSERT commits.
    bodies = [{"outcome_score": 5, "process_score": 5}, {"outcome_score": 1, "process_score": 2}]
    results = race(app, 8, lambda c, i: c.put(url(cid), json=bodies[i % 2],
                                              headers=as_(world, "resident")).status_code)
    assert results == [200] * 8
    with committed_session(app) as s:
        stored = s.scalars(select(Evaluation)).all()
    assert len(stored) == 1
    assert (stored[0].outcome_score, stored[0].process_score) in {(5, 5), (1, 2)}


# --- aggregates -----------------------------------------------------------------------------------

def add_evaluations(app, cid, entries):
    """entries: (kind, phase, author key…, outcome, process); written directly."""
    with committed_session(app) as s:
        for kind, phase, author, o, p in entries:
            s.add(Evaluation(consultation_id=cid, kind=EvaluationKind(kind), phase=Phase(phase),
                             author_id=author, outcome_score=o, process_score=p))


def figures(by_kind, kind, phase):
    row = next(r for r in by_kind if r["kind"] == kind and r["phase"] == phase)
    return row["count"], row["outcome_mean"], row["process_mean"]


def test_aggregates_per_consultation_by_kind_and_phase(app, client, world, routed):
    cid = routed["consultation_id"]
    pp = world["people"]
    add_evaluations(app, cid, [
        ("resident", "after_meeting", pp["resident"], 5, 4),
        ("resident", "after_meeting", pp["resident2"], 2, 3),
        ("resident", "after_meeting", pp["stakeholder"], 3, 2),
        ("resident", "after_feedback", pp["resident"], 4, 4),
        ("member", "after_meeting", pp["member"], 4, 5),
        ("organiser", "after_meeting", pp["conv_village"], 3, 3),
    ])
    body = client.get(f"/api/consultations/{cid}/evaluations").json  # public
    assert figures(body["by_kind"], "resident", "after_meeting") == (3, 3.33, 3.0)
    assert figures(body["by_kind"], "resident", "after_feedback") == (1, 4.0, 4.0)
    assert figures(body["by_kind"], "member", "after_meeting") == (1, 4.0, 5.0)
    assert figures(body["by_kind"], "party_government", "after_meeting") == (0, None, None)
    assert body["overall"] == {"count": 6, "outcome_mean": 3.5, "process_mean": 3.5}
    assert len(body["by_kind"]) == 8
    text = str(body)
    assert "张居民" not in text and "author" not in text  # no personal data


def test_report_by_platform_town_and_county_within_reach(app, client, world):
    pp = world["people"]
    village = followup_world.held_consultation(app, world, "village")
    town = followup_world.held_consultation(app, world, "town")
    sector = followup_world.held_consultation(app, world, "sector")
    add_evaluations(app, village, [("resident", "after_meeting", pp["resident"], 5, 3),
                                   ("resident", "after_meeting", pp["resident2"], 3, 3)])
    add_evaluations(app, town, [("resident", "after_meeting", pp["resident"], 2, 5),
                                ("organiser", "after_meeting", pp["conv_town"], 4, 4)])
    add_evaluations(app, sector, [("member", "after_meeting", pp["member"], 1, 1)])
    h = as_(world, "county_staff")

    def report(level):
        r = client.get(f"/api/reports/evaluations?level={level}", headers=h)
        assert r.status_code == 200, r.json
        return {g["name"]: g for g in r.json["groups"]}

    by_platform = report("platform")
    assert len(by_platform) == 3
    vg = next(g for g in by_platform.values() if g["consultations"] == 1
              and g["overall"]["count"] == 2 and g["overall"]["outcome_mean"] == 4.0)
    assert figures(vg["by_kind"], "resident", "after_meeting") == (2, 4.0, 3.0)
    by_town = report("town")
    assert set(by_town) == {"新坝镇", "县（区）级平台"}
    assert by_town["新坝镇"]["consultations"] == 2
    assert figures(by_town["新坝镇"]["by_kind"], "resident", "after_meeting") == (3, 3.33, 3.67)
    assert by_town["新坝镇"]["overall"] == {"count": 4, "outcome_mean": 3.5, "process_mean": 3.75}
    assert by_town["县（区）级平台"]["overall"] == {"count": 1, "outcome_mean": 1.0,
                                              "process_mean": 1.0}
    by_county = report("county")
    assert set(by_county) == {"东县"}
    assert by_county["东县"]["consultations"] == 3
    assert by_county["东县"]["overall"] == {"count": 5, "outcome_mean": 3.0, "process_mean": 3.2}
    # Outside the period: nothing.
    r = client.get("/api/reports/evaluations?level=county&from=2001-01-01&to=2001-12-31",
                   headers=h)
    assert r.json["groups"] == []
    # A resident has no report; a bad level is a 422.
    assert client.get("/api/reports/evaluations", headers=as_(world, "resident")).status_code \
        == 403
    r = client.get("/api/reports/evaluations?level=province", headers=h)
    assert (r.status_code, r.json["error"]) == (422, "validation_failed")


def test_report_spreadsheet_opens_with_openpyxl(app, client, world):
    import io

    from openpyxl import load_workbook

    cid = followup_world.held_consultation(app, world, "village")
    add_evaluations(app, cid, [("resident", "after_meeting", world["people"]["resident"], 5, 4)])
    r = client.get("/api/reports/evaluations.xlsx?level=town", headers=as_(world, "county_staff"))
    assert r.status_code == 200
    assert r.mimetype.endswith("spreadsheetml.sheet")
    ws = load_workbook(io.BytesIO(r.data)).active
    values = [[c for c in row] for row in ws.iter_rows(values_only=True)]
    assert values[1][0] == "乡镇（街道）"
    assert ["新坝镇", 1, "群众评价", "会后评价", 1, 5, 4] in [list(v) for v in values]


# --- model cases (D27, D34) -----------------------------------------------------------------------

def test_model_case_mark_unmark_and_the_public_list(app, client, world, routed):
    cid = routed["consultation_id"]
    pp = world["people"]
    add_evaluations(app, cid, [("resident", "after_meeting", pp["resident"], 5, 4),
                               ("organiser", "after_meeting", pp["conv_village"], 4, 4)])
    h = as_(world, "county_staff")
    path = f"/api/consultations/{cid}/model-case"
    r = client.post(path, json={"reason": "群众全程参与，意见全部落实"}, headers=h)
    assert r.status_code == 201 and r.json["is_model_case"] is True
    again = client.post(path, json={"reason": "群众全程参与，意见全部落实"}, headers=h)
    assert again.status_code == 200 and again.json == r.json  # replay
    cases = client.get("/api/model-cases").json["cases"]  # anonymous
    assert len(cases) == 1
    case = cases[0]
    assert case["consultation_id"] == cid and case["reason"] == "群众全程参与，意见全部落实"
    assert case["topic_title"] == "village议题：加装电梯"
    assert (case["count"], case["outcome_mean"], case["process_mean"]) == (2, 4.5, 4.0)
    with committed_session(app) as s:
        held = s.get(Consultation, cid).starts_at
    assert case["held_on"] == held.astimezone(CHINA_TZ).date().isoformat()
    assert "张居民" not in str(cases) and "marked_by" not in str(cases)
    assert client.get(f"/api/consultations/{cid}/evaluations").json["is_model_case"] is True
    # A topic later withdrawn (or its platform closed) leaves the public list, like its results.
    from app.topics.models import Topic, TopicState
    with committed_session(app) as s:
        s.get(Topic, world["topics"]["village"]).state = TopicState.withdrawn
    assert client.get("/api/model-cases").json["cases"] == []
    assert client.get(f"/api/consultations/{cid}/evaluations").status_code == 404
    with committed_session(app) as s:
        s.get(Topic, world["topics"]["village"]).state = TopicState.approved
    r = client.post(path, json={"reason": "改为：协商流程规范"}, headers=h)
    assert r.status_code == 200 and r.json["reason"] == "改为：协商流程规范"
    assert client.delete(path, headers=h).status_code == 200
    assert client.get("/api/model-cases").json["cases"] == []
    assert client.delete(path, headers=h).status_code == 200  # already gone: a replay
    with committed_session(app) as s:
        assert s.scalar(select(func.count()).select_from(ModelCase)) == 0


def test_model_case_refusals(app, client, world, routed):
    cid = routed["consultation_id"]
    path = f"/api/consultations/{cid}/model-case"
    h = as_(world, "county_staff")
    r = client.post(path, json={"reason": "   "}, headers=h)
    assert (r.status_code, r.json["error"]) == (422, "reason_required")
    assert client.post(path, json={}, headers=h).status_code == 422
    assert client.post(path, json={"reason": "好"}, headers=as_(world, "resident")).status_code \
        == 403
    # A convenor is no CPPCC staff member; a reviewer neither.
    assert client.post(path, json={"reason": "好"},
                       headers=as_(world, "conv_village")).status_code == 403
    west_staff(app, world)  # staff of the other county: not found
    r = client.post(path, json={"reason": "好"}, headers=as_(world, "west_staff"))
    assert (r.status_code, r.json["error"]) == (404, "consultation_not_found")
    with committed_session(app) as s:
        s.get(Consultation, cid).state = ConsultationState.scheduled
    r = client.post(path, json={"reason": "好"}, headers=h)
    assert (r.status_code, r.json["error"]) == (409, "consultation_not_held")
    with committed_session(app) as s:
        assert s.scalar(select(func.count()).select_from(ModelCase)) == 0
