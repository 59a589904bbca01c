"""Scheduling a consultation, inviting by group with the D9 composition check, notices with a
calendar file and a deep link, changes and cancellation, RSVPs (accept, decline with a reason,
substitute), the locked final list, and the D15 briefing blocked before research (D11)."""
from __future__ import annotations

from datetime import datetime, timedelta

import pytest
import time_machine
from sqlalchemy import func, select

from app.consultations.models import Consultation, Invitation
from app.db import utcnow
from app.notify.models import OutboxMessage

from .. import consult_world
from ..consult_world import as_
from ..helpers import committed_session, race


@pytest.fixture
def world(app):
    return consult_world.build(app)


def when(days=7, hours=2):
    start = (utcnow() + timedelta(days=days)).replace(microsecond=0)
    return {"starts_at": start.isoformat(), "ends_at": (start + timedelta(hours=hours)).isoformat()}


def schedule(client, world, room="village", who=None, **extra):
    body = {**when(), "place_kind": "mobile", "place": "前进村文化广场",
            "agenda": ["通报调研情况", "居民发言", "形成意见"], **extra}
    return client.post(f"/api/topics/{world['topics'][room]}/consultations", json=body,
                       headers=as_(world, who or f"conv_{room}"))


def invite(client, world, cid, pairs, who="conv_village"):
    return client.post(f"/api/consultations/{cid}/invitations",
                       json={"invitees": [{"person_id": world["people"][p], "group": g}
                                          for p, g in pairs]}, headers=as_(world, who))


FULL = [("member", "member"), ("resident", "resident"), ("resident2", "resident"),
        ("stakeholder", "stakeholder"), ("official", "official"), ("handler", "department")]


def outbox(app, kind=None):
    with committed_session(app) as s:
        q = select(OutboxMessage).order_by(OutboxMessage.id)
        if kind:
            q = q.where(OutboxMessage.kind == kind)
        return list(s.scalars(q))


def rsvp(client, world, cid, who, **body):
    return client.put(f"/api/consultations/{cid}/rsvp", json=body, headers=as_(world, who))


def complete_research(client, world, room="village"):
    task = client.post(f"/api/topics/{world['topics'][room]}/research",
                       json={"kind": "facts", "title": "入户走访"},
                       headers=as_(world, f"conv_{room}")).json
    client.patch(f"/api/research/{task['id']}", json={"notes": "走访 20 户，18 户支持。"},
                 headers=as_(world, f"conv_{room}"))
    assert client.post(f"/api/research/{task['id']}/complete",
                       headers=as_(world, f"conv_{room}")).status_code == 200


def test_schedule_invite_and_notice_with_composition_check(client, app, world):
    r = schedule(client, world)
    assert r.status_code == 201, r.json
    c = r.json
    assert (c["state"], c["place_label"], c["version"]) == ("scheduled", "现场（移动协商）", 1)
    assert c["link"] == f"/pages/meeting/meeting?id={c['id']}" and c["can_manage"] is True
    # Only officials so far: D9 warns of the three missing groups and sends nothing.
    r = invite(client, world, c["id"], [("official", "official")])
    assert r.status_code == 200 and len(r.json["warnings"]) == 3
    r = client.post(f"/api/consultations/{c['id']}/notices", json={},
                    headers=as_(world, "conv_village"))
    assert r.status_code == 200 and r.json["sent"] is False and len(r.json["warnings"]) == 3
    assert outbox(app, "meeting_notice") == []
    # The full list: no warning, one notice each, with the calendar file and the deep link.
    r = invite(client, world, c["id"], FULL)
    assert r.json["warnings"] == [] and len(r.json["invitations"]) == 6  # official not twice
    r = client.post(f"/api/consultations/{c['id']}/notices", json={},
                    headers=as_(world, "conv_village"))
    assert r.json == {"sent": True, "warnings": [], "recipients": 6}
    again = client.post(f"/api/consultations/{c['id']}/notices", json={},
                        headers=as_(world, "conv_village"))
    assert again.json["sent"] is True
    sent = outbox(app, "meeting_notice")
    assert sorted(m.recipient_id for m in sent) == sorted(world["people"][p] for p, _ in FULL)
    assert sent[0].payload["calendar"] == f"/api/consultations/{c['id']}/calendar.ics"
    assert sent[0].link == c["link"] and "前进村文化广场" in sent[0].body
    # What the WeChat message templates show (app/notify/templates.py sources).
    assert sent[0].payload["place"] == "前进村文化广场" and sent[0].payload["topic"]
    assert datetime.fromisoformat(sent[0].payload["starts_at"]).tzinfo is not None
    # Invited after the notices went out: told at once.
    invite(client, world, c["id"], [("member2", "member")])
    assert len(outbox(app, "meeting_notice")) == 7


def test_composition_can_be_overridden_by_the_convenor(client, app, world):
    c = schedule(client, world).json
    invite(client, world, c["id"], [("resident", "resident")])
    r = client.post(f"/api/consultations/{c['id']}/notices", json={"confirm": True},
                    headers=as_(world, "conv_village"))
    assert r.json["sent"] is True and r.json["recipients"] == 1 and len(r.json["warnings"]) == 2


def test_rsvp_accept_decline_substitute_and_the_locked_list(client, app, world):
    c = schedule(client, world).json
    invite(client, world, c["id"], FULL)
    cid = c["id"]
    assert rsvp(client, world, cid, "member", answer="accepted").status_code == 200
    r = rsvp(client, world, cid, "resident", answer="declined")
    assert r.status_code == 422 and r.json["error"] == "reason_required"
    r = rsvp(client, world, cid, "resident", answer="declined", reason="那天要去医院复查")
    assert r.json["my_invitation"]["answer_label"] == "请假"
    r = rsvp(client, world, cid, "resident2", answer="substitute", substitute_name="王小明")
    assert r.status_code == 422 and r.json["error"] == "substitute_not_allowed"
    r = rsvp(client, world, cid, "official", answer="substitute", substitute_name="  ",)
    assert r.status_code == 422 and r.json["error"] == "substitute_required"
    r = rsvp(client, world, cid, "official", answer="substitute", substitute_name="陈副镇长",
             substitute_title="副镇长")
    assert r.json["my_invitation"]["substitute_name"] == "陈副镇长"
    assert r.json["my_invitation"]["substitute_title"] == "副镇长"
    # Same answer twice: one audit entry, no change.
    rsvp(client, world, cid, "member", answer="accepted")
    # Not invited: no such invitation.
    r = rsvp(client, world, cid, "outsider", answer="accepted")
    assert r.status_code == 404 and r.json["error"] == "invitation_not_found"
    live = client.get(f"/api/consultations/{cid}/invitations",
                      headers=as_(world, "conv_village")).json
    by = {g["group"]: g for g in live["groups"]}
    assert (by["member"]["accepted"], by["resident"]["declined"], by["resident"]["pending"],
            by["official"]["substitute"], by["department"]["pending"]) == (1, 1, 1, 1, 1)
    names = {i["name"]: i for i in live["invitations"]}
    assert names["张居民"]["reason"] == "那天要去医院复查"  # the convenor sees full names
    # Invitees cannot read the list; the convenor locks it; answers freeze.
    assert client.get(f"/api/consultations/{cid}/invitations",
                      headers=as_(world, "member")).status_code == 403
    locked = client.post(f"/api/consultations/{cid}/lock", headers=as_(world, "conv_village"))
    assert locked.status_code == 200 and locked.json["list_locked_at"]
    r = rsvp(client, world, cid, "resident2", answer="accepted")
    assert r.status_code == 409 and r.json["error"] == "list_locked"
    with committed_session(app) as s:
        from app.audit.models import AuditEntry
        assert s.scalar(select(func.count()).select_from(AuditEntry)
                        .where(AuditEntry.action == "consultation.rsvp")) == 3


def test_change_and_cancel_notify_everyone_invited_and_the_calendar_follows(client, app, world):
    c = schedule(client, world).json
    invite(client, world, c["id"], FULL)
    client.post(f"/api/consultations/{c['id']}/notices", json={},
                headers=as_(world, "conv_village"))
    ics = client.get(f"/api/consultations/{c['id']}/calendar.ics", headers=as_(world, "member"))
    assert ics.status_code == 200 and ics.mimetype == "text/calendar"
    text = ics.get_data(as_text=True)
    assert "SEQUENCE:1\r\n" in text and "LOCATION:前进村文化广场" in text
    r = client.patch(f"/api/consultations/{c['id']}", json={**when(days=9)},
                     headers=as_(world, "conv_village"))
    assert r.status_code == 200 and r.json["version"] == 2
    changes = [m for m in outbox(app, "meeting_notice") if m.title == "协商会议变更"]
    assert len(changes) == 6
    assert "SEQUENCE:2" in client.get(f"/api/consultations/{c['id']}/calendar.ics",
                                      headers=as_(world, "member")).get_data(as_text=True)
    r = client.post(f"/api/consultations/{c['id']}/cancel", json={"reason": "暴雨预警，改期另行通知"},
                    headers=as_(world, "conv_village"))
    assert r.json["state"] == "cancelled"
    cancels = [m for m in outbox(app, "meeting_notice") if m.title == "协商会议取消"]
    assert len(cancels) == 6 and "暴雨预警" in cancels[0].body
    text = client.get(f"/api/consultations/{c['id']}/calendar.ics",
                      headers=as_(world, "member")).get_data(as_text=True)
    assert "METHOD:CANCEL" in text and "STATUS:CANCELLED" in text
    assert rsvp(client, world, c["id"], "member", answer="accepted").status_code == 409


def test_briefing_is_blocked_before_research_and_sent_once_after(client, app, world):
    c = schedule(client, world).json
    invite(client, world, c["id"], FULL)
    rsvp(client, world, c["id"], "resident", answer="declined", reason="外出")
    r = client.post(f"/api/consultations/{c['id']}/briefing", headers=as_(world, "conv_village"))
    assert r.status_code == 409 and r.json["error"] == "research_required"
    early = client.get(f"/api/consultations/{c['id']}/briefing", headers=as_(world, "member")).json
    assert early["research_done"] is False and "调研情况：暂无已完成的调研" in early["text"]
    assert "不调研不协商" in r.json["message"]
    assert outbox(app, "briefing") == []
    complete_research(client, world)
    for _ in range(2):
        r = client.post(f"/api/consultations/{c['id']}/briefing",
                        headers=as_(world, "conv_village"))
        assert r.status_code == 200 and r.json["recipients"] == 5  # the one who declined: not
    sent = outbox(app, "briefing")
    assert len(sent) == 5 and world["people"]["resident"] not in {m.recipient_id for m in sent}
    text = client.get(f"/api/consultations/{c['id']}/briefing", headers=as_(world, "member")).json
    assert "走访 20 户" in text["text"] and "居民发言" in text["text"] and text["research_done"]


def test_one_active_consultation_per_topic_and_only_for_approved_topics(client, world):
    assert schedule(client, world).status_code == 201
    r = schedule(client, world)
    assert r.status_code == 409 and r.json["error"] == "consultation_exists"


@pytest.mark.parametrize("extra, code", [
    ({"starts_at": (utcnow() - timedelta(days=1)).isoformat(),
      "ends_at": utcnow().isoformat()}, "starts_in_past"),
    ({**when(hours=-1)}, "ends_before_start"),
    ({**when(hours=13)}, "meeting_too_long"),
    ({"place_kind": "online", "place": "网上"}, "online_url_required"),
    ({"place_kind": "venue", "place": None}, "place_required"),
])
def test_bad_schedules_are_refused_and_nothing_is_stored(client, app, world, extra, code):
    r = schedule(client, world, **extra)
    assert r.status_code == 422 and r.json["error"] == code, r.json
    with committed_session(app) as s:
        assert s.scalar(select(func.count()).select_from(Consultation)) == 0


def test_naive_times_and_bad_urls_are_422(client, world):
    r = schedule(client, world, starts_at="2030-01-01T09:00:00", ends_at="2030-01-01T10:00:00")
    assert r.status_code == 422 and r.json["details"][0]["field"] == "starts_at"
    r = schedule(client, world, place_kind="online", online_url="javascript:alert(1)")
    assert r.status_code == 422 and r.json["details"][0]["field"] == "online_url"


@pytest.mark.parametrize("who, status", [
    ("conv_town", 404), ("resident", 404), ("other_member", 404), ("county_staff", 201),
])
def test_who_may_schedule(client, world, who, status):
    assert schedule(client, world, who=who).status_code == status


def test_outsiders_cannot_see_or_answer(client, world):
    c = schedule(client, world).json
    invite(client, world, c["id"], FULL)
    for who in ("outsider", "other_member", "conv_town"):
        r = client.get(f"/api/consultations/{c['id']}", headers=as_(world, who))
        assert r.status_code == 404 and r.json["error"] == "consultation_not_found"
        assert client.get(f"/api/consultations/{c['id']}/calendar.ics",
                          headers=as_(world, who)).status_code == 404
    # An invitee sees the meeting and their own answer, but cannot manage it.
    mine = client.get(f"/api/consultations/{c['id']}", headers=as_(world, "stakeholder")).json
    assert mine["my_invitation"]["group_label"] == "利益相关方" and mine["can_manage"] is False
    # Who to ask: the platform and its convenor (masked, as on the public platform page).
    assert mine["platform_name"] and mine["convenor_name"].endswith("*")
    assert mine["checked_in_at"] is None
    assert invite(client, world, c["id"], [("outsider", "resident")],
                  who="stakeholder").status_code == 403
    listing = client.get("/api/me/consultations", headers=as_(world, "stakeholder")).json
    assert [i["id"] for i in listing["items"]] == [c["id"]]


def test_inviting_someone_who_does_not_exist_stores_nothing(client, app, world):
    c = schedule(client, world).json
    r = client.post(f"/api/consultations/{c['id']}/invitations",
                    json={"invitees": [{"person_id": world["people"]["member"], "group": "member"},
                                       {"person_id": 999999, "group": "resident"}]},
                    headers=as_(world, "conv_village"))
    assert r.status_code == 422 and r.json["error"] == "invitee_not_found"
    with committed_session(app) as s:
        assert s.scalar(select(func.count()).select_from(Invitation)) == 0


def test_the_scheduler_sends_due_briefings_after_research_only(client, app, world):
    from scheduler.jobs import JOBS, run_job

    spec = next(j for j in JOBS if j.id == "send_due_briefings")
    c = schedule(client, world, briefing_days_before=3, **when(days=2)).json  # due already
    invite(client, world, c["id"], FULL)
    assert run_job(app, spec) == {"sent": 0, "blocked": 0}  # notices not sent yet: not due
    client.post(f"/api/consultations/{c['id']}/notices", json={},
                headers=as_(world, "conv_village"))
    for _ in range(2):  # blocked by D11; the convenor is reminded once
        assert run_job(app, spec) == {"sent": 0, "blocked": 1}
    reminders = outbox(app, "reminder")
    assert [m.recipient_id for m in reminders] == [world["people"]["conv_village"]]
    assert "不调研不协商" in reminders[0].body
    complete_research(client, world)
    assert run_job(app, spec) == {"sent": 1, "blocked": 0}
    assert run_job(app, spec) == {"sent": 0, "blocked": 0}  # sent once
    assert len(outbox(app, "briefing")) == 6


def test_suggested_members_linked_first_then_their_duty_group(client, app, world):
    from app.org import factories as f
    from app.org.models import Person, Region, Role

    with committed_session(app) as s:
        county = s.get(Region, s.get(Person, world["people"]["member"]).home_region_id)
        while county.kind.value != "county":
            county = s.get(Region, county.parent_id)
        group = f.create_duty_group(s, name="第三履职小组", region=county)
        f.assign_role(s, s.get(Person, world["people"]["member"]), Role.member, region=county,
                      member_level="county", duty_group=group)
        f.assign_role(s, s.get(Person, world["people"]["member2"]), Role.member, region=county,
                      member_level="county", duty_group=group)
    c = schedule(client, world).json
    r = client.get(f"/api/consultations/{c['id']}/suggested-members",
                   headers=as_(world, "conv_village"))
    assert r.status_code == 200, r.json
    assert [(i["name"], i["reason"]) for i in r.json["items"]] == [
        ("钱委员", "本平台联系的委员"), ("孙委员", "同一履职小组的委员")]
    invite(client, world, c["id"], [("member", "member")])
    left = client.get(f"/api/consultations/{c['id']}/suggested-members",
                      headers=as_(world, "conv_village")).json["items"]
    assert [i["name"] for i in left] == ["孙委员"]
    assert client.get(f"/api/consultations/{c['id']}/suggested-members",
                      headers=as_(world, "member")).status_code == 403


def test_a_member_of_another_county_cannot_answer_for_someone_else(client, app, world):
    c = schedule(client, world).json
    invite(client, world, c["id"], FULL)
    r = rsvp(client, world, c["id"], "other_member", answer="accepted")
    assert r.status_code == 404 and r.json["error"] == "invitation_not_found"
    # There is no way to name someone else: an extra field is refused, nothing changes.
    r = rsvp(client, world, c["id"], "other_member", answer="declined", reason="代他请假",
             person_id=world["people"]["member"])
    assert r.status_code == 422 and r.json["details"][0]["field"] == "person_id"
    with committed_session(app) as s:
        inv = s.scalar(select(Invitation).where(
            Invitation.person_id == world["people"]["member"]))
        assert inv.answer.value == "pending"


def test_concurrent_invitations_of_the_same_people_make_one_each(client, app, world):
    c = schedule(client, world).json
    body = {"invitees": [{"person_id": world["people"][p], "group": g} for p, g in FULL]}
    codes = race(app, 6, lambda local, i: local.post(
        f"/api/consultations/{c['id']}/invitations", json=body,
        headers=as_(world, "conv_village")).status_code)
    assert codes == [200] * 6
    with committed_session(app) as s:
        assert s.scalar(select(func.count()).select_from(Invitation)) == len(FULL)


def test_the_same_answer_twice_at_once_is_one_change(client, app, world):
    """Two taps at once (or the chat and the mini-program): one change, one audit entry."""
    from app.audit.models import AuditEntry

    c = schedule(client, world).json
    invite(client, world, c["id"], FULL)
    codes = race(app, 6, lambda local, i: local.put(
        f"/api/consultations/{c['id']}/rsvp", json={"answer": "accepted"},
        headers=as_(world, "member")).status_code)
    assert codes == [200] * 6
    with committed_session(app) as s:
        assert s.scalar(select(func.count()).select_from(AuditEntry).where(
            AuditEntry.action == "consultation.rsvp")) == 1


def test_more_people_coming_than_the_place_holds_is_flagged(client, world):
    c = schedule(client, world, capacity=2).json
    invite(client, world, c["id"], FULL)
    for who in ("member", "resident"):
        rsvp(client, world, c["id"], who, answer="accepted")
    live = client.get(f"/api/consultations/{c['id']}/invitations",
                      headers=as_(world, "conv_village")).json
    assert not any("容量" in w for w in live["warnings"])
    rsvp(client, world, c["id"], "official", answer="substitute", substitute_name="陈副镇长")
    live = client.get(f"/api/consultations/{c['id']}/invitations",
                      headers=as_(world, "conv_village")).json
    assert "确认参加的有 3 人，已超过会场容量 2 人" in live["warnings"]


def test_my_meetings_coming_first_soonest_first_then_the_past(client, app, world):
    later = schedule(client, world, room="village", **when(days=20)).json
    sooner = schedule(client, world, room="town", **when(days=3)).json
    invite(client, world, later["id"], [("member", "member")])
    invite(client, world, sooner["id"], [("member", "member")], who="county_staff")
    with committed_session(app) as s:
        done = s.get(Consultation, sooner["id"])  # pretend it was last month
        done.starts_at, done.ends_at = utcnow() - timedelta(days=30), utcnow() - timedelta(days=30)
    items = client.get("/api/me/consultations", headers=as_(world, "member")).json["items"]
    assert [i["id"] for i in items] == [later["id"], sooner["id"]]
    client.post(f"/api/consultations/{later['id']}/cancel", json={"reason": "改期"},
                headers=as_(world, "conv_village"))
    items = client.get("/api/me/consultations", headers=as_(world, "member")).json["items"]
    assert [i["id"] for i in items] == [sooner["id"]]  # a cancelled future meeting drops out


def test_invite_a_neighbour_by_phone_who_later_logs_in(client, app, world, fake_wechat):
    """A village convenor invites someone who never used the mini-program, by name and mobile.
    When that resident logs in and binds the same number, the invitation is theirs."""
    c = schedule(client, world).json
    body = {"invitees": [{"phone": "139 0000 8888", "name": "刘奶奶", "group": "resident"}]}
    r = client.post(f"/api/consultations/{c['id']}/invitations", json=body,
                    headers=as_(world, "conv_village"))
    assert r.status_code == 200, r.json
    assert [i["name"] for i in r.json["invitations"]] == ["刘奶奶"]
    again = client.post(f"/api/consultations/{c['id']}/invitations", json=body,
                        headers=as_(world, "conv_village")).json
    assert len(again["invitations"]) == 1  # the same number is the same person
    with committed_session(app) as s:
        from app.org.models import Person
        person = s.scalar(select(Person).where(Person.name == "刘奶奶"))
        assert person.phone_enc and b"13900008888" not in person.phone_enc
    login = client.post("/api/auth/wx-login", json={"code": "user-liu"}).json
    bound = client.post("/api/auth/phone", json={"code": "phone-13900008888"},
                        headers={"Authorization": f"Bearer {login['token']}"})
    assert bound.status_code == 200 and bound.json["merged"] is True
    mine = client.get("/api/me/consultations",
                      headers={"Authorization": f"Bearer {login['token']}"}).json["items"]
    assert [m["id"] for m in mine] == [c["id"]]


@pytest.mark.parametrize("invitee, code", [
    ({"phone": "12345", "name": "某人", "group": "resident"}, "invalid_phone"),
    ({"phone": "13900007777", "group": "resident"}, "name_required"),
    ({"person_id": 1, "phone": "13900007777", "name": "某人", "group": "resident"},
     "validation_failed"),
    ({"group": "resident"}, "validation_failed"),
])
def test_bad_phone_invitations_store_nothing(client, app, world, invitee, code):
    c = schedule(client, world).json
    r = client.post(f"/api/consultations/{c['id']}/invitations", json={"invitees": [
        {"person_id": world["people"]["member"], "group": "member"}, invitee]},
        headers=as_(world, "conv_village"))
    assert r.status_code == 422 and r.json["error"] == code, r.json
    with committed_session(app) as s:
        assert s.scalar(select(func.count()).select_from(Invitation)) == 0


def test_suggested_residents_are_those_who_cared_about_the_topic(client, app, world):
    from app.suggestions.models import Follow, Suggestion, SuggestionState, Vote
    from app.topics.models import Category, Source

    p = world["people"]
    with committed_session(app) as s:
        sug = Suggestion(platform_id=world["rooms"]["village"], proposer_id=p["resident"],
                         source=Source.proposed, category=Category.livelihood, title="加装电梯",
                         description="", state=SuggestionState.taken_up,
                         topic_id=world["topics"]["village"], vote_count=1, comment_count=0,
                         follower_count=1)
        s.add(sug)
        s.flush()
        s.add(Vote(suggestion_id=sug.id, person_id=p["resident2"], created_at=utcnow()))
        s.add(Follow(topic_id=world["topics"]["village"], person_id=p["stakeholder"],
                     created_at=utcnow()))
    c = schedule(client, world).json
    r = client.get(f"/api/consultations/{c['id']}/suggested-residents",
                   headers=as_(world, "conv_village"))
    assert r.status_code == 200, r.json
    got = [(i["person_id"], i["reason"]) for i in r.json["items"]]
    assert got == [(p["resident"], "提出了相关建议"), (p["resident2"], "支持了相关建议"),
                   (p["stakeholder"], "关注了本议题")]
    assert all(i["name"].endswith("*") for i in r.json["items"])  # masked
    invite(client, world, c["id"], [("resident", "resident")])
    left = client.get(f"/api/consultations/{c['id']}/suggested-residents",
                      headers=as_(world, "conv_village")).json["items"]
    assert [i["person_id"] for i in left] == [p["resident2"], p["stakeholder"]]
    assert client.get(f"/api/consultations/{c['id']}/suggested-residents",
                      headers=as_(world, "resident")).status_code == 403


def test_a_retried_schedule_with_its_key_returns_the_first_meeting(client, app, world):
    headers = {**as_(world, "conv_village"), "Idempotency-Key": "sched-7f3a9c1e-0001"}
    body = {**when(), "place_kind": "online", "online_url": "https://meeting.example.cn/r/88"}
    first = client.post(f"/api/topics/{world['topics']['village']}/consultations", json=body,
                        headers=headers)
    again = client.post(f"/api/topics/{world['topics']['village']}/consultations", json=body,
                        headers=headers)
    assert first.status_code == again.status_code == 201, first.json
    assert first.json["id"] == again.json["id"]
    assert first.json["place"] == "网上协商（会议链接见通知）"  # online needs no place text
    with committed_session(app) as s:
        assert s.scalar(select(func.count()).select_from(Consultation)) == 1


def test_answers_close_at_the_start_time(client, app, world):
    """Issue 10 item 4: the docs promise answers close when the meeting starts. At starts_at + 1
    minute nobody has checked in, so the state is still `scheduled`: still refused (409), and
    the answer stored before is kept. A minute before the start an answer still counts."""
    start = (utcnow() + timedelta(days=2)).replace(microsecond=0)
    c = schedule(client, world, starts_at=start.isoformat(),
                 ends_at=(start + timedelta(hours=2)).isoformat()).json
    invite(client, world, c["id"], FULL)
    assert rsvp(client, world, c["id"], "resident", answer="declined",
                reason="出差").status_code == 200
    with time_machine.travel(start - timedelta(minutes=1), tick=False):
        assert rsvp(client, world, c["id"], "member", answer="accepted").status_code == 200
    for at in (start, start + timedelta(minutes=1)):
        with time_machine.travel(at, tick=False):
            r = rsvp(client, world, c["id"], "resident", answer="accepted")
            assert r.status_code == 409 and r.json["error"] == "consultation_held"
            assert r.json["message"] == "会议已经开始，不能再更改答复"
            r = rsvp(client, world, c["id"], "official", answer="substitute",
                     substitute_name="陈副镇长")
            assert r.status_code == 409 and r.json["error"] == "consultation_held"
            assert client.get(f"/api/consultations/{c['id']}",
                              headers=as_(world, "resident")).json["state"] == "scheduled"
    with committed_session(app) as s:
        answers = dict(s.execute(select(Invitation.person_id, Invitation.answer).where(
            Invitation.consultation_id == c["id"])).all())
    assert answers[world["people"]["resident"]].value == "declined"
    assert answers[world["people"]["member"]].value == "accepted"
    assert answers[world["people"]["official"]].value == "pending"


def test_no_new_invitations_from_the_start_time(client, app, world):
    """Issue 10 item 4 follow-up: answers close at starts_at, so an invitation added then would
    ask for an answer nobody can give. From the start time (state still `scheduled`: nobody has
    checked in) every invitation path answers 409 `consultation_held`, pointing the convenor to
    walk-in check-in (现场签到); nothing is stored: no invitation, no person, no notice."""
    from app.org.models import Person
    start = (utcnow() + timedelta(days=2)).replace(microsecond=0)
    c = schedule(client, world, starts_at=start.isoformat(),
                 ends_at=(start + timedelta(hours=2)).isoformat()).json
    assert invite(client, world, c["id"], [("member", "member")]).status_code == 200
    with time_machine.travel(start - timedelta(minutes=1), tick=False):
        assert invite(client, world, c["id"], [("resident", "resident")]).status_code == 200
    before_outbox = len(outbox(app))
    for at in (start, start + timedelta(minutes=1)):
        with time_machine.travel(at, tick=False):
            for r in (invite(client, world, c["id"], [("resident2", "resident")]),
                      client.post(f"/api/consultations/{c['id']}/invitations", json={"invitees": [
                          {"phone": "139 0000 6666", "name": "孙阿姨", "group": "resident"}]},
                          headers=as_(world, "conv_village"))):
                assert r.status_code == 409 and r.json["error"] == "consultation_held", r.json
                assert "现场签到" in r.json["message"]
            assert client.get(f"/api/consultations/{c['id']}",
                              headers=as_(world, "conv_village")).json["state"] == "scheduled"
    with committed_session(app) as s:
        invited = set(s.scalars(select(Invitation.person_id).where(
            Invitation.consultation_id == c["id"])))
        assert s.scalar(select(func.count()).select_from(Person).where(
            Person.name == "孙阿姨")) == 0
    assert invited == {world["people"]["member"], world["people"]["resident"]}
    assert len(outbox(app)) == before_outbox
