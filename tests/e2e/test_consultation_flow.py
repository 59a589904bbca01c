"""The whole consultation, end to end over HTTP, for each kind of host unit: approved topic →
scheduled → briefing refused before research → research → briefing → RSVPs (accept, decline
with a reason, substitute) → list locked → check-in → minutes → opinion list → routed by D18 for
every scope → the party group forwards → the Party committee and government receive. Then the
Word and spreadsheet exports, opened with python-docx and openpyxl."""
from __future__ import annotations

import io
from datetime import timedelta

import pytest
import time_machine
from docx import Document
from openpyxl import load_workbook

from app.db import utcnow

from .. import consult_world
from ..consult_world import as_
from ..helpers import race

ITEMS = [
    {"text": "由社区牵头成立加装电梯协调小组，逐栋征求意见", "raised_by": "resident", "scope": "local"},
    {"text": "=HYPERLINK(\"http://evil\")请县住建局简化加装电梯审批流程", "raised_by": "member",
     "scope": "county"},
    {"text": "建议市级财政对老旧小区加装电梯给予补贴", "raised_by": "stakeholder", "scope": "city"},
]

# D18: the platform's own receiver of the whole list, per host unit.
LOCAL_RECEIVER = {"town": "town_pc", "village": "town_pc", "community": "town_pc",
                  "enterprise": "town_pc", "sector": "special"}


@pytest.fixture
def world(app):
    return consult_world.build(app)


def ok(r, status=200):
    assert r.status_code == status, r.json
    return r.json


@pytest.mark.parametrize("room", list(LOCAL_RECEIVER))
def test_full_consultation_and_routing(client, app, world, room):
    conv = f"conv_{room}"
    topic = world["topics"][room]
    start = (utcnow() + timedelta(days=5)).replace(microsecond=0)
    c = ok(client.post(f"/api/topics/{topic}/consultations", headers=as_(world, conv), json={
        "starts_at": start.isoformat(), "ends_at": (start + timedelta(hours=2)).isoformat(),
        "place_kind": "mobile", "place": "小区广场", "agenda": ["通报调研", "居民发言"],
        "briefing_days_before": 2}), 201)
    cid = c["id"]
    invitees = [("member", "member"), ("resident", "resident"), ("resident2", "resident"),
                ("stakeholder", "stakeholder"), ("official", "official")]
    ok(client.post(f"/api/consultations/{cid}/invitations", headers=as_(world, conv), json={
        "invitees": [{"person_id": world["people"][p], "group": g} for p, g in invitees]}))
    assert ok(client.post(f"/api/consultations/{cid}/notices", json={},
                          headers=as_(world, conv)))["sent"] is True

    # D11: the briefing is refused before research, sent after.
    r = client.post(f"/api/consultations/{cid}/briefing", headers=as_(world, conv))
    assert r.status_code == 409 and r.json["error"] == "research_required"
    task = ok(client.post(f"/api/topics/{topic}/research", headers=as_(world, conv),
                          json={"kind": "stakeholders", "title": "听取住户意见"}), 201)
    ok(client.patch(f"/api/research/{task['id']}", headers=as_(world, conv),
                    json={"notes": "低层住户担心采光，高层住户愿多出资。"}))
    ok(client.post(f"/api/research/{task['id']}/complete", headers=as_(world, conv)))
    assert ok(client.post(f"/api/consultations/{cid}/briefing",
                          headers=as_(world, conv)))["recipients"] == 5

    # RSVPs, then the final list.
    ok(client.put(f"/api/consultations/{cid}/rsvp", headers=as_(world, "member"),
                  json={"answer": "accepted"}))
    ok(client.put(f"/api/consultations/{cid}/rsvp", headers=as_(world, "resident2"),
                  json={"answer": "declined", "reason": "出差在外地"}))
    ok(client.put(f"/api/consultations/{cid}/rsvp", headers=as_(world, "official"),
                  json={"answer": "substitute", "substitute_name": "陈副镇长"}))
    for who in ("resident", "stakeholder"):
        ok(client.put(f"/api/consultations/{cid}/rsvp", headers=as_(world, who),
                      json={"answer": "accepted"}))
    ok(client.post(f"/api/consultations/{cid}/lock", headers=as_(world, conv)))

    # The meeting day: check-in by code and by the convenor, minutes.
    with time_machine.travel(start - timedelta(minutes=15), tick=False):
        code = ok(client.get(f"/api/consultations/{cid}/checkin-code",
                             headers=as_(world, conv)))["code"]
        for who in ("member", "resident", "stakeholder"):
            ok(client.post(f"/api/consultations/{cid}/checkin", json={"code": code},
                           headers=as_(world, who)))
        ok(client.post(f"/api/consultations/{cid}/attendance", headers=as_(world, conv),
                       json={"person_id": world["people"]["official"]}))
    with time_machine.travel(start + timedelta(minutes=10), tick=False):
        for group, name, text in [("resident", "张居民", "希望尽快装上电梯"),
                                  ("stakeholder", "赵店主", "施工期间请照顾商户"),
                                  ("member", "钱委员", "建议分摊方案公开公示")]:
            ok(client.post(f"/api/consultations/{cid}/minutes", headers=as_(world, conv),
                           json={"group": group, "text": text, "speaker_name": name}), 201)
        ok(client.put(f"/api/consultations/{cid}/opinions", headers=as_(world, conv),
                      json={"items": ITEMS}))
    listing = ok(client.post(f"/api/consultations/{cid}/opinions/route",
                             headers=as_(world, conv)))
    assert listing["state"] == "routed"
    got = {(r["scope"], r["stage"], r["action"], r["body_id"], r["state"])
           for r in listing["routings"]}
    b = world["bodies"]
    assert got == {
        ("local", 1, "receive", b[LOCAL_RECEIVER[room]], "pending"),
        ("county", 1, "review", b["county_pg"], "pending"),
        ("county", 2, "receive", b["county_pc"], "waiting"),
        ("county", 2, "receive", b["county_gov"], "waiting"),
        ("city", 1, "review", b["city_pg"], "pending"),
        ("city", 2, "receive", b["city_pc"], "waiting"),
        ("city", 2, "receive", b["city_gov"], "waiting"),
    }
    detail = ok(client.get(f"/api/consultations/{cid}", headers=as_(world, conv)))
    assert detail["state"] == "concluded"

    # The county party group sees only the county item, forwards it; the county Party
    # committee now has it and acknowledges; the city party group holds back with a reason.
    pg_inbox = ok(client.get("/api/me/opinion-inbox", headers=as_(world, "rev_county_pg")))
    entry, = pg_inbox["items"]
    assert [i["scope"] for i in entry["items"]] == ["county"]
    assert ok(client.get("/api/me/opinion-inbox", headers=as_(world, "rev_county_pc")))[
        "items"] == []  # not before the party group forwards
    ok(client.post(f"/api/opinion-routings/{entry['routing']['id']}/decision",
                   json={"forward": True}, headers=as_(world, "rev_county_pg")))
    pc_entry, = ok(client.get("/api/me/opinion-inbox", headers=as_(world, "rev_county_pc")))["items"]
    r = client.post(f"/api/opinion-routings/{pc_entry['routing']['id']}/decision",
                    json={"forward": False}, headers=as_(world, "rev_county_pc"))
    assert r.status_code == 422 and r.json["error"] == "receive_only"  # receiving is not judging
    done = ok(client.post(f"/api/opinion-routings/{pc_entry['routing']['id']}/decision",
                          json={}, headers=as_(world, "rev_county_pc")))
    assert done["state"] == "received"
    again = client.post(f"/api/opinion-routings/{pc_entry['routing']['id']}/decision", json={},
                        headers=as_(world, "rev_county_pc"))
    assert again.status_code == 200 and again.json == done  # a replay, answered as the first
    city, = ok(client.get("/api/me/opinion-inbox", headers=as_(world, "rev_city_pg")))["items"]
    r = client.post(f"/api/opinion-routings/{city['routing']['id']}/decision",
                    json={"forward": False}, headers=as_(world, "rev_city_pg"))
    assert r.status_code == 422 and r.json["error"] == "note_required"
    ok(client.post(f"/api/opinion-routings/{city['routing']['id']}/decision",
                   json={"forward": False, "note": "市级补贴政策正在制定，先行调研"},
                   headers=as_(world, "rev_city_pg")))
    assert ok(client.get("/api/me/opinion-inbox", headers=as_(world, "rev_city_pc")))[
        "items"] == []
    # The local receiver sees the whole list.
    local, = ok(client.get("/api/me/opinion-inbox",
                           headers=as_(world, f"rev_{LOCAL_RECEIVER[room]}")))["items"]
    assert [i["seq"] for i in local["items"]] == [1, 2, 3]

    # Exports: open them and find every item.
    docx = client.get(f"/api/consultations/{cid}/opinions.docx", headers=as_(world, conv))
    assert docx.status_code == 200
    doc = Document(io.BytesIO(docx.data))
    text = "\n".join(p.text for p in doc.paragraphs)
    assert "关于“" in doc.paragraphs[0].text and "协商意见清单" in doc.paragraphs[0].text
    for n, item in enumerate(ITEMS, 1):
        assert f"{n}．{item['text']}" in text
    table = doc.tables[0]
    assert [c.text for c in table.rows[0].cells] == ["序号", "意见建议", "提出方", "解决层级"]
    assert [r.cells[3].text for r in table.rows[1:]] == ["本级可解决", "需县（区）解决", "需市级解决"]
    xlsx = client.get(f"/api/consultations/{cid}/opinions.xlsx", headers=as_(world, "member"))
    ws = load_workbook(io.BytesIO(xlsx.data)).active
    rows = list(ws.iter_rows(min_row=4, values_only=True))
    assert [r[1] for r in rows] == [i["text"] for i in ITEMS]  # the "=…" item stays text
    assert [r[2] for r in rows] == ["群众代表", "政协委员", "利益相关方"]
    assert ws.cell(row=5, column=2).data_type == "s"
    # Someone who may not see the meeting cannot download the list either.
    assert client.get(f"/api/consultations/{cid}/opinions.docx",
                      headers=as_(world, "other_member")).status_code == 404


def held_meeting(client, app, world) -> int:
    """A consultation on the village topic, marked held (the meeting day is tested above)."""
    from app.consultations.models import Consultation, ConsultationState

    from ..helpers import committed_session

    start = (utcnow() + timedelta(days=2)).replace(microsecond=0)
    cid = ok(client.post(f"/api/topics/{world['topics']['village']}/consultations",
                         headers=as_(world, "conv_village"), json={
                             "starts_at": start.isoformat(),
                             "ends_at": (start + timedelta(hours=1)).isoformat(),
                             "place_kind": "mobile", "place": "广场"}), 201)["id"]
    with committed_session(app) as s:
        s.get(Consultation, cid).state = ConsultationState.held
    return cid


def test_two_tabs_saving_the_list_at_once_leave_one_whole_list(client, app, world):
    """The convenor saves from two devices at the same moment: no error, one list, and its
    items are one of the two versions — never a mix, never numbered twice."""
    from sqlalchemy import select

    from app.consultations.models import OpinionItem

    from ..helpers import committed_session

    cid = held_meeting(client, app, world)
    versions = [[{"text": f"版本{v}第{n}条", "raised_by": "resident", "scope": "local"}
                 for n in range(1, 6)] for v in (1, 2)]
    codes = race(app, 2, lambda local, i: local.put(
        f"/api/consultations/{cid}/opinions", json={"items": versions[i]},
        headers=as_(world, "conv_village")).status_code)
    assert codes == [200, 200]
    with committed_session(app) as s:
        texts = [i.text for i in s.scalars(select(OpinionItem).order_by(OpinionItem.seq))]
    assert texts in ([i["text"] for i in versions[0]], [i["text"] for i in versions[1]])


def test_a_double_tap_on_route_routes_once(client, app, world):
    from sqlalchemy import func, select

    from app.consultations.models import OpinionRouting

    from ..helpers import committed_session

    cid = held_meeting(client, app, world)
    ok(client.put(f"/api/consultations/{cid}/opinions", json={"items": ITEMS},
                  headers=as_(world, "conv_village")))
    codes = race(app, 3, lambda local, i: local.post(
        f"/api/consultations/{cid}/opinions/route", headers=as_(world, "conv_village")).status_code)
    assert codes == [200, 409, 409]
    with committed_session(app) as s:
        assert s.scalar(select(func.count()).select_from(OpinionRouting)) == 7


def test_the_person_who_raised_an_opinion_is_kept_and_counts_in_their_ledger(client, app, world):
    cid = held_meeting(client, app, world)
    member = world["people"]["member"]
    saved = ok(client.put(f"/api/consultations/{cid}/opinions", headers=as_(world, "conv_village"),
                          json={"items": [{**ITEMS[0], "raised_by": "member",
                                           "raised_by_person_id": member}, ITEMS[2]]}))
    assert [i["raised_by_person_id"] for i in saved["items"]] == [member, None]
    from app.workdays import CHINA_TZ
    year = (utcnow() + timedelta(days=2)).astimezone(CHINA_TZ).year  # the meeting's China year
    ledger = ok(client.get(f"/api/members/{member}/ledger?year={year}",
                           headers=as_(world, "member")))
    assert ledger["opinions"] == 1


def _settled_feedback_list(client, app, world, cid) -> str:
    """D21: route the saved list and settle every item (not adopted, D23): its feedback list."""
    from sqlalchemy import select

    from app.consultations.models import OpinionItem, OpinionList

    from ..feedback_world import settle_not_adopted
    from ..helpers import committed_session

    ok(client.post(f"/api/consultations/{cid}/opinions/route",
                   headers=as_(world, "conv_village")))
    with committed_session(app) as s:
        lst = s.scalar(select(OpinionList).where(OpinionList.consultation_id == cid))
        items = [(i.id, i.scope) for i in s.scalars(select(OpinionItem)
                                                    .where(OpinionItem.list_id == lst.id))]
    for item_id, scope in items:
        settle_not_adopted(app, world, item_id, body="town_pc", scope=scope,
                           explanation="经研究暂不采纳，已说明理由")
    return f"/api/consultations/{cid}/feedback-list.docx"


# Every Word file the product exports, by its route, with how to get one for a held meeting
# whose list is saved (in this order). A new .docx route must be added here (the test below
# fails until it is).
DOCX_EXPORTS = {
    "/api/consultations/<int:consultation_id>/opinions.docx":
        lambda client, app, world, cid: f"/api/consultations/{cid}/opinions.docx",
    "/api/consultations/<int:consultation_id>/feedback-list.docx": _settled_feedback_list,
}


def test_every_exported_word_file_is_a4(client, app, world):
    """Issue 10 item 8: the margins follow GB/T 9704, whose paper is A4 (21.0 × 29.7 cm), so the
    page is A4 too — not python-docx's default US Letter (21.59 × 27.94 cm). Every section of
    every .docx route the app serves."""
    routes = {r.rule for r in app.url_map.iter_rules() if r.rule.endswith(".docx")}
    assert routes == set(DOCX_EXPORTS), "a new .docx export: add it to DOCX_EXPORTS"
    cid = held_meeting(client, app, world)
    ok(client.put(f"/api/consultations/{cid}/opinions", json={"items": ITEMS},
                  headers=as_(world, "conv_village")))
    for rule, url in DOCX_EXPORTS.items():
        r = client.get(url(client, app, world, cid), headers=as_(world, "conv_village"))
        assert r.status_code == 200, rule
        doc = Document(io.BytesIO(r.data))
        for section in doc.sections:
            assert (round(section.page_width.cm, 2), round(section.page_height.cm, 2)) == \
                (21.0, 29.7), rule
            # GB/T 9704 margins on that page.
            assert [round(m.cm, 1) for m in (section.top_margin, section.bottom_margin,
                                             section.left_margin, section.right_margin)] == \
                [3.7, 3.5, 2.8, 2.6]
