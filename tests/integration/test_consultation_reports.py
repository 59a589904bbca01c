"""D25 frequency per platform per year and the D29/D30 member ledger: the right numbers, China
calendar years, jurisdiction, a fixed number of statements, and the spreadsheet export."""
from __future__ import annotations

import io
from datetime import datetime, timedelta

import pytest
from openpyxl import load_workbook

from app.consultations.models import (
    Answer, Attendance, CheckInMethod, Consultation, ConsultationState, Invitation, MinutesEntry,
    OpinionItem, OpinionList, OpinionListState, PlaceKind, ResearchKind, ResearchState,
    ResearchTask,
)
from app.consultations.rules import InviteGroup, OpinionScope
from app.org import factories as f
from app.org.models import HostType, Platform, PlatformKind, Region
from app.workdays import CHINA_TZ

from .. import consult_world
from ..consult_world import as_
from ..helpers import committed_session, count_statements


@pytest.fixture
def world(app):
    return consult_world.build(app)


def meeting(s, world, room, when: datetime, state=ConsultationState.concluded) -> Consultation:
    c = Consultation(topic_id=world["topics"][room], platform_id=world["rooms"][room], state=state,
                     starts_at=when, ends_at=when + timedelta(hours=2), place_kind=PlaceKind.mobile,
                     place="广场", agenda=[], briefing_days_before=3, version=1,
                     created_by_id=world["people"][f"conv_{room}"])
    s.add(c)
    s.flush()
    return c


def china(y, m, d, h=10):
    return datetime(y, m, d, h, tzinfo=CHINA_TZ)


def test_frequency_counts_held_meetings_in_the_china_year(client, app, world):
    with committed_session(app) as s:
        meeting(s, world, "village", china(2026, 3, 1))
        meeting(s, world, "village", china(2026, 9, 1), ConsultationState.held)
        meeting(s, world, "village", china(2026, 10, 1), ConsultationState.cancelled)  # not held
        meeting(s, world, "village", china(2026, 11, 1), ConsultationState.scheduled)  # not yet
        # 00:30 on 1 January 2027 in China is still 2026 in UTC: it counts for 2027.
        meeting(s, world, "town", china(2027, 1, 1, 0))
        meeting(s, world, "town", china(2026, 12, 31, 23))
    r = client.get("/api/reports/consultation-frequency?year=2026",
                   headers=as_(world, "county_staff"))
    assert r.status_code == 200, r.json
    by = {p["id"]: p for p in r.json["platforms"]}
    assert (by[world["rooms"]["village"]]["held"], by[world["rooms"]["village"]]["below_minimum"]) \
        == (2, False)
    assert (by[world["rooms"]["town"]]["held"], by[world["rooms"]["town"]]["below_minimum"]) \
        == (1, True)
    assert by[world["rooms"]["sector"]]["held"] == 0
    # Five rooms (town, village, community, enterprise, sector): only the village reaches two.
    assert (r.json["minimum"], r.json["total_platforms"], r.json["below_minimum"]) == (2, 5, 4)
    county, = r.json["by_county"]
    assert (county["region_name"], county["platforms"], county["held"], county["below_minimum"]) \
        == ("东县", 5, 3, 4)
    next_year = client.get("/api/reports/consultation-frequency?year=2027",
                           headers=as_(world, "county_staff")).json
    assert {p["id"]: p["held"] for p in next_year["platforms"]}[world["rooms"]["town"]] == 1


def test_frequency_is_for_staff_within_reach(client, world):
    assert client.get("/api/reports/consultation-frequency",
                      headers=as_(world, "conv_village")).status_code == 403
    assert client.get("/api/reports/consultation-frequency",
                      headers=as_(world, "resident")).status_code == 403
    r = client.get("/api/reports/consultation-frequency?year=1999",
                   headers=as_(world, "county_staff"))
    assert r.status_code == 422 and r.json["details"][0]["field"] == "year"


def test_frequency_statements_do_not_grow_with_platforms(client, app, world):
    engine = app.extensions["db"].engine
    url = "/api/reports/consultation-frequency?year=2026"

    def run():
        return count_statements(engine, lambda: client.get(url, headers=as_(world,
                                                                            "county_staff")))

    before = run()
    with committed_session(app) as s:
        town = s.get(Region, s.get(Platform, world["rooms"]["town"]).region_id)
        for i in range(15):
            p = f.create_platform(s, kind=PlatformKind.contact_point, host_type=HostType.town,
                                  region=town, name=f"联络点{i}")
            s.flush()
            s.add(Consultation(topic_id=world["topics"]["town"], platform_id=p.id,
                               state=ConsultationState.held, starts_at=china(2026, 5, 1),
                               ends_at=china(2026, 5, 1, 12), place_kind=PlaceKind.mobile,
                               place="x", agenda=[], briefing_days_before=3, version=1,
                               created_by_id=world["people"]["conv_town"]))
    assert run() == before


def test_member_ledger_counts_and_who_may_see_it(client, app, world):
    member = world["people"]["member"]
    with committed_session(app) as s:
        c1 = meeting(s, world, "village", china(2026, 4, 1))
        c2 = meeting(s, world, "village", china(2026, 8, 1), ConsultationState.held)
        c_old = meeting(s, world, "town", china(2025, 6, 1))
        now = c1.starts_at
        for c, answer in ((c1, Answer.accepted), (c2, Answer.declined), (c_old, Answer.accepted)):
            s.add(Invitation(consultation_id=c.id, person_id=member, group=InviteGroup.member,
                             answer=answer, invited_at=now,
                             invited_by_id=world["people"]["conv_village"]))
        s.add(Attendance(consultation_id=c1.id, person_id=member, name="钱委员",
                         group=InviteGroup.member, method=CheckInMethod.qr, checked_in_at=now))
        s.add(Attendance(consultation_id=c_old.id, person_id=member, name="钱委员",
                         group=InviteGroup.member, method=CheckInMethod.qr, checked_in_at=now))
        for seq in (1, 2):
            s.add(MinutesEntry(consultation_id=c1.id, seq=seq, speaker_person_id=member,
                               speaker_name="钱委员", group=InviteGroup.member, text="发言",
                               recorded_by_id=world["people"]["conv_village"], created_at=now))
        s.add(ResearchTask(topic_id=world["topics"]["village"], kind=ResearchKind.facts,
                           title="走访", assignee_id=member, created_by_id=member,
                           state=ResearchState.completed, notes="n", completed_at=now))
        s.add(ResearchTask(topic_id=world["topics"]["village"], kind=ResearchKind.facts,
                           title="未完成", assignee_id=member, created_by_id=member,
                           state=ResearchState.open, notes=""))
        lst = OpinionList(consultation_id=c1.id, state=OpinionListState.routed,
                          created_by_id=member)
        s.add(lst)
        s.flush()
        s.add(OpinionItem(list_id=lst.id, seq=1, text="意见", raised_by=InviteGroup.member,
                          raised_by_person_id=member, scope=OpinionScope.local))
    mine = client.get("/api/members/%d/ledger?year=2026" % member, headers=as_(world, "member"))
    assert mine.status_code == 200, mine.json
    counts = {k: mine.json[k] for k in ("invited", "accepted", "declined", "attended", "research",
                                        "speeches", "opinions")}
    assert counts == {"invited": 2, "accepted": 1, "declined": 1, "attended": 1, "research": 1,
                      "speeches": 2, "opinions": 1}
    assert [(m["answer"], m["attended"]) for m in mine.json["meetings"]] == [
        ("accepted", True), ("declined", False)]
    # County staff see it; another member and a convenor do not (not even that it exists).
    assert client.get(f"/api/members/{member}/ledger?year=2026",
                      headers=as_(world, "county_staff")).json["invited"] == 2
    for who in ("member2", "conv_village", "other_member"):
        assert client.get(f"/api/members/{member}/ledger?year=2026",
                          headers=as_(world, who)).status_code == 404
    # The county's sheet for the annual assessment, and its spreadsheet.
    sheet = client.get("/api/reports/member-ledger?year=2026",
                       headers=as_(world, "county_staff")).json
    rows = {m["name"]: m for m in sheet["members"]}
    assert set(rows) == {"钱委员", "孙委员"}  # the other county's member is outside the reach
    assert rows["钱委员"]["attended"] == 1 and rows["孙委员"]["invited"] == 0
    xlsx = client.get("/api/reports/member-ledger.xlsx?year=2026",
                      headers=as_(world, "county_staff"))
    assert xlsx.status_code == 200
    ws = load_workbook(io.BytesIO(xlsx.data)).active
    assert ws["A1"].value == "2026年度政协委员参加协商议事情况"
    assert [c.value for c in ws[2]][:3] == ["姓名", "所属区域", "受邀次数"]
    body = {r[0]: r for r in ws.iter_rows(min_row=3, values_only=True)}
    assert body["钱委员"][2:] == (2, 1, 1, 1, 1, 2, 1)
    assert client.get("/api/reports/member-ledger.xlsx?year=2026",
                      headers=as_(world, "member")).status_code == 403
