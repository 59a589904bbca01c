"""At the meeting: the signed, time-limited check-in code, check-in by scan or by the convenor,
substitutes and walk-ins, no meeting before research (D11), minutes by group (D16), and who may
read them."""
from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from sqlalchemy import func, select

from app.consultations.models import Attendance
from app.db import utcnow

from .. import consult_world
from ..consult_world import as_
from ..helpers import committed_session
from .test_meetings import FULL, complete_research, invite, rsvp, schedule


@pytest.fixture
def world(app):
    return consult_world.build(app)


@pytest.fixture
def meeting(client, world):
    """A meeting tomorrow at this time, everyone of FULL invited, research done."""
    start = (utcnow() + timedelta(days=1)).replace(microsecond=0)
    c = schedule(client, world, starts_at=start.isoformat(),
                 ends_at=(start + timedelta(hours=2)).isoformat()).json
    invite(client, world, c["id"], FULL)
    return {"id": c["id"], "start": start}


def code(client, world, cid, who="conv_village"):
    return client.get(f"/api/consultations/{cid}/checkin-code", headers=as_(world, who))


def scan(client, world, cid, who, value):
    return client.post(f"/api/consultations/{cid}/checkin", json={"code": value},
                       headers=as_(world, who))


def test_check_in_by_code_walk_ins_substitutes_and_no_duplicates(client, app, world, meeting):
    cid = meeting["id"]
    complete_research(client, world)
    rsvp(client, world, cid, "official", answer="substitute", substitute_name="陈副镇长")
    with time_machine.travel(meeting["start"] - timedelta(minutes=10), tick=False):
        r = code(client, world, cid)
        assert r.status_code == 200, r.json
        value = r.json["code"]
        # The picture on the convenor's screen is a real PNG of that code.
        import base64
        assert r.json["qr_png"].startswith("data:image/png;base64,")
        png = base64.b64decode(r.json["qr_png"].split(",", 1)[1])
        assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 200
        first = scan(client, world, cid, "member", value)
        assert first.status_code == 200 and first.json["group_label"] == "政协委员"
        assert first.json["method"] == "qr"
        assert scan(client, world, cid, "member", value).json["id"] == first.json["id"]
        # Not invited but in the room (has the code): a walk-in resident.
        walk = scan(client, world, cid, "outsider", value)
        assert (walk.json["group"], walk.json["method"]) == ("resident", "walk_in")
        # The convenor marks an elderly resident without a phone, and the official's substitute.
        r = client.post(f"/api/consultations/{cid}/attendance", json={"name": "刘奶奶"},
                        headers=as_(world, "conv_village"))
        assert r.status_code == 200 and r.json["method"] == "walk_in"
        r = client.post(f"/api/consultations/{cid}/attendance",
                        json={"person_id": world["people"]["official"]},
                        headers=as_(world, "conv_village"))
        assert r.json["name"] == "陈副镇长" and r.json["group"] == "official"
        listing = client.get(f"/api/consultations/{cid}/attendance",
                             headers=as_(world, "conv_village")).json
        assert listing["by_group"] == {"member": 1, "resident": 2, "official": 1}
        detail = client.get(f"/api/consultations/{cid}", headers=as_(world, "member")).json
        assert detail["state"] == "held" and detail["checked_in_at"]
        # Answers are closed once the meeting began; the convenor may still lock the list.
        r = rsvp(client, world, cid, "resident2", answer="accepted")
        assert r.status_code == 409 and r.json["error"] == "consultation_held"
        r = client.post(f"/api/consultations/{cid}/lock", headers=as_(world, "conv_village"))
        assert r.status_code == 200 and r.json["list_locked_at"]


def test_codes_expire_and_are_bound_to_their_meeting(client, world, meeting):
    cid = meeting["id"]
    complete_research(client, world)
    t0 = meeting["start"] - timedelta(minutes=30)
    with time_machine.travel(t0, tick=False):
        value = code(client, world, cid).json["code"]
    with time_machine.travel(t0 + timedelta(minutes=11), tick=False):  # two windows later
        r = scan(client, world, cid, "member", value)
        assert r.status_code == 422 and r.json["error"] == "checkin_code_invalid"
    with time_machine.travel(t0, tick=False):
        forged = value[:-1] + ("0" if value[-1] != "0" else "1")
        assert scan(client, world, cid, "member", forged).status_code == 422
        other = value.replace(f":{cid}:", f":{cid + 1}:")
        assert scan(client, world, cid, "member", other).status_code == 422
        for junk in ("", "yshsl-checkin", "x" * 100, f"yshsl-checkin:{cid}:abc:def"):
            r = scan(client, world, cid, "member", junk)
            assert r.status_code == 422
    # Outside the check-in period no code is issued, and a scan says the hours are over.
    with time_machine.travel(meeting["start"] - timedelta(hours=3), tick=False):
        r = code(client, world, cid)
        assert r.status_code == 409 and r.json["error"] == "checkin_closed"
    with time_machine.travel(meeting["start"] + timedelta(hours=3), tick=False):
        r = scan(client, world, cid, "member", value)
        assert r.status_code == 409 and r.json["error"] == "checkin_closed"


def test_no_meeting_before_research(client, app, world, meeting):
    cid = meeting["id"]
    with time_machine.travel(meeting["start"], tick=False):
        value = code(client, world, cid).json["code"]
        r = scan(client, world, cid, "member", value)
        assert r.status_code == 409 and r.json["error"] == "research_required"
        r = client.post(f"/api/consultations/{cid}/minutes",
                        json={"group": "resident", "text": "我先说两句", "speaker_name": "王大爷"},
                        headers=as_(world, "conv_village"))
        assert r.status_code == 409
    with committed_session(app) as s:
        assert s.scalar(select(func.count()).select_from(Attendance)) == 0


def test_minutes_by_group_with_d16_notes_and_who_may_read(client, world, meeting):
    cid = meeting["id"]
    complete_research(client, world)
    with time_machine.travel(meeting["start"] + timedelta(minutes=5), tick=False):
        r = client.post(f"/api/consultations/{cid}/minutes",
                        json={"group": "official", "text": "先介绍一下政策", "speaker_name": "周镇长"},
                        headers=as_(world, "conv_village"))
        assert r.status_code == 201
        assert r.json["notes"] == ["D16：建议先请群众代表发言", "D16：群众代表发言不到一半，建议多听群众意见"]
        for who in ("resident", "resident2"):
            r = client.post(f"/api/consultations/{cid}/minutes",
                            json={"group": "resident", "text": "电梯费用怎么分摊？",
                                  "speaker_person_id": world["people"][who]},
                            headers=as_(world, "conv_village"))
        assert [i["seq"] for i in r.json["items"]] == [1, 2, 3]
        assert r.json["items"][1]["speaker_name"] == "张居民"
        assert r.json["notes"] == ["D16：建议先请群众代表发言"]
    # An invitee reads them; a member of another county, a stranger and another room's
    # convenor do not even see the meeting.
    assert client.get(f"/api/consultations/{cid}/minutes",
                      headers=as_(world, "stakeholder")).status_code == 200
    for who in ("other_member", "outsider", "conv_town"):
        assert client.get(f"/api/consultations/{cid}/minutes",
                          headers=as_(world, who)).status_code == 404
    # Invitees cannot write the minutes or mark others present.
    r = client.post(f"/api/consultations/{cid}/minutes", json={"group": "member", "text": "x",
                                                               "speaker_name": "我"},
                    headers=as_(world, "member"))
    assert r.status_code == 403


def test_a_member_of_another_county_cannot_check_in_without_the_code(client, world, meeting):
    cid = meeting["id"]
    complete_research(client, world)
    with time_machine.travel(meeting["start"], tick=False):
        assert code(client, world, cid, who="other_member").status_code == 404
        r = client.post(f"/api/consultations/{cid}/attendance",
                        json={"person_id": world["people"]["other_member"]},
                        headers=as_(world, "other_member"))
        assert r.status_code == 404
        r = scan(client, world, cid, "other_member", "yshsl-checkin:1:1:deadbeef")
        assert r.status_code == 422


def test_a_retried_speech_with_its_key_is_recorded_once(client, world, meeting):
    cid = meeting["id"]
    complete_research(client, world)
    headers = {**as_(world, "conv_village"), "Idempotency-Key": "speech-5b1d2e70-0001"}
    body = {"group": "resident", "text": "希望电梯费用按楼层分摊", "speaker_name": "王大爷"}
    with time_machine.travel(meeting["start"] + timedelta(minutes=5), tick=False):
        for _ in range(3):
            r = client.post(f"/api/consultations/{cid}/minutes", json=body, headers=headers)
            assert r.status_code == 201
        assert [i["seq"] for i in r.json["items"]] == [1]


def test_the_record_is_closed_once_the_opinion_list_is_routed(client, app, world, meeting):
    """Issue 10 item 5: once the opinion list is routed the meeting is `concluded` and its record
    is closed: no check-in code, no scan, no convenor check-in (invitee, substitute, walk-in),
    no speech, no new list — each 409 with a stable code and a Chinese reason; nothing changes.
    Still inside the check-in hours, where today every one of them was accepted."""
    from app.consultations.models import MinutesEntry, OpinionItem

    cid = meeting["id"]
    complete_research(client, world)
    rsvp(client, world, cid, "official", answer="substitute", substitute_name="陈副镇长")
    conv = as_(world, "conv_village")
    with time_machine.travel(meeting["start"] + timedelta(minutes=10), tick=False):
        value = code(client, world, cid).json["code"]
        assert scan(client, world, cid, "member", value).status_code == 200
        assert client.post(f"/api/consultations/{cid}/minutes", headers=conv, json={
            "group": "resident", "text": "希望尽快装电梯", "speaker_name": "张居民"}).status_code == 201
        items = [{"text": "成立加装电梯协调小组", "raised_by": "resident", "scope": "local"}]
        assert client.put(f"/api/consultations/{cid}/opinions", json={"items": items},
                          headers=conv).status_code == 200
        r = client.post(f"/api/consultations/{cid}/opinions/route", headers=conv)
        assert r.status_code == 200, r.json
        assert client.get(f"/api/consultations/{cid}", headers=conv).json["state"] == "concluded"

        closed = "意见清单已报送，会议记录已关闭，不能再签到或记录发言"
        refused = [
            code(client, world, cid),
            scan(client, world, cid, "resident", value),
            scan(client, world, cid, "outsider", value),  # a walk-in by scan
            client.post(f"/api/consultations/{cid}/attendance",
                        json={"person_id": world["people"]["resident2"]}, headers=conv),
            client.post(f"/api/consultations/{cid}/attendance",
                        json={"person_id": world["people"]["official"]}, headers=conv),
            client.post(f"/api/consultations/{cid}/attendance", json={"name": "刘奶奶"},
                        headers=conv),
            client.post(f"/api/consultations/{cid}/minutes", headers=conv, json={
                "group": "member", "text": "补充一点", "speaker_name": "钱委员"}),
        ]
        for r in refused:
            assert (r.status_code, r.json["error"], r.json["message"]) == (
                409, "consultation_concluded", closed), r.json
        r = client.put(f"/api/consultations/{cid}/opinions", headers=conv, json={
            "items": [{"text": "另一条", "raised_by": "member", "scope": "local"}]})
        assert (r.status_code, r.json["error"]) == (409, "opinion_list_routed")
        assert r.json["message"] == "意见清单已报送，不能修改"
    with committed_session(app) as s:
        assert s.scalar(select(func.count()).select_from(Attendance)) == 1
        assert s.scalar(select(func.count()).select_from(MinutesEntry)) == 1
        assert [i.text for i in s.scalars(select(OpinionItem))] == ["成立加装电梯协调小组"]


@pytest.mark.postgres
def test_a_check_in_waits_for_a_routing_in_progress_and_is_then_refused(client, app, world, meeting):
    """Issue 10 item 5 under concurrency: routing the list and a check-in at the same moment are
    serialized on the consultation row. While a routing transaction holds the row (and has marked
    it concluded, not yet committed), a scan waits; once it commits, the scan is refused —
    never an attendance written into a record that is already closed."""
    import threading

    from app.consultations.models import Consultation, ConsultationState

    if app.extensions["db"].engine.dialect.name != "postgresql":
        pytest.skip("needs PostgreSQL (TEST_DATABASE_URL): SQLite runs one transaction at a time")
    cid = meeting["id"]
    complete_research(client, world)
    with time_machine.travel(meeting["start"] + timedelta(minutes=10), tick=False):
        value = code(client, world, cid).json["code"]
        assert scan(client, world, cid, "member", value).status_code == 200  # the meeting is held
        routing = app.extensions["db"].new_session()
        try:
            c = routing.scalar(select(Consultation).where(Consultation.id == cid)
                               .with_for_update())
            c.state = ConsultationState.concluded
            routing.flush()
            answers = []
            other = threading.Thread(target=lambda: answers.append(
                scan(app.test_client(), world, cid, "resident", value)))
            other.start()
            other.join(1.5)
            assert other.is_alive(), "the scan did not wait for the routing's lock"
            routing.commit()
        finally:
            routing.close()
        other.join(10)
        assert not other.is_alive()
    r = answers[0]
    assert r.status_code == 409, r.json
    assert r.json["error"] == "consultation_concluded"
    with committed_session(app) as s:
        assert s.scalar(select(func.count()).select_from(Attendance)) == 1
