"""Staff reports (org.reports.view), limited to the caller's reach: coverage (D2), member links
(D29), six musts and unified names (D3, D4), convenors (D28). The world is org_world() from
test_org_api.py; the expected figures below are worked out by hand from it."""
from __future__ import annotations

from datetime import timedelta

import pytest

from app.org import factories as f
from app.org.models import SixMust
from app.org.services import today_local
from tests.helpers import count_statements
from tests.integration.test_org_api import db, login, world  # noqa: F401

REPORTS = ["coverage", "member-links", "six-musts", "convenors"]


def get(client, headers, report, region=None):
    url = f"/api/reports/{report}" + (f"?region_id={region.id}" if region is not None else "")
    return client.get(url, headers=headers)


# --- reach ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("report", REPORTS)
def test_reports_are_limited_to_reach(client, db, world, report):
    staff_a = login(db, world.staff_a)
    # County A staff asking for county B (or a town in it): not found, not "forbidden".
    for region in (world.county_b, world.town_b):
        r = get(client, staff_a, report, region)
        assert r.status_code == 404 and r.json["error"] == "region_not_found"
    assert get(client, staff_a, report, world.town_a).status_code == 200
    assert client.get(f"/api/reports/{report}?region_id=999999",
                      headers=staff_a).status_code == 404
    # A resident and a convenor hold no reporting role; nobody logged in gets 401.
    assert get(client, login(db, world.resident), report).status_code == 403
    assert get(client, login(db, world.director), report, world.town_a).status_code == 403
    assert client.get(f"/api/reports/{report}").status_code == 401


def test_without_region_a_report_covers_the_callers_whole_reach(client, db, world):
    w = world
    a = get(client, login(db, w.staff_a), "member-links").json
    b = get(client, login(db, w.staff_b), "member-links").json
    everyone = get(client, login(db, w.admin), "member-links").json
    ids = lambda rep: {p["id"] for p in rep["platforms"]}  # noqa: E731
    assert w.p_town_b.id not in ids(a) and ids(b) == {w.p_town_b.id}
    assert ids(everyone) == ids(a) | ids(b)
    assert (a["total_platforms"], b["total_platforms"], everyone["total_platforms"]) == (6, 1, 7)


def test_report_query_validation(client, db, world):
    r = client.get("/api/reports/coverage?region_id=abc", headers=login(db, world.staff_a))
    assert r.status_code == 422 and r.json["details"][0] == {"field": "region_id",
                                                             "message": "应为整数"}


# --- D2 ------------------------------------------------------------------------------------------

def test_d2_coverage_report(client, db, world):
    w = world
    rep = get(client, login(db, w.staff_a), "coverage", w.county_a).json
    # Units of county A: 2 towns, 4 villages/communities, 1 enterprise, 1 sector. 空白村 has no
    # platform; 小河村 is served by the joint room (its own room is inactive).
    assert rep["total"] == {"units": 8, "covered": 7, "ratio": 0.875, "towns": 2,
                            "towns_with_room": 1}
    assert [(u["unit_type"], u["name"]) for u in rep["uncovered"]] == [("region", "空白村")]
    # 浦南镇 has only a contact point: D2 wants a room in every town-level unit.
    assert [u["name"] for u in rep["towns_without_room"]] == ["浦南镇"]
    noted = rep["eligible_without_room"]
    assert [(u["name"], u["served_by"]) for u in noted] == [("海连社区", ["joint"])]
    assert noted[0]["served_by_labels"] == ["联合协商议事室"]
    regions = {g["name"]: g for g in rep["regions"]}
    assert set(regions) == {"海滨区", "新浦街道", "浦南镇"}
    assert (regions["新浦街道"]["units"], regions["新浦街道"]["covered"]) == (5, 5)
    assert (regions["浦南镇"]["units"], regions["浦南镇"]["covered"], regions["浦南镇"]["ratio"]) \
        == (2, 1, 0.5)


def test_d2_coverage_improves_when_a_platform_serves_the_gap(client, db, world):
    w = world
    f.add_served_unit(db, w.p_town_a2, region=w.village_a3)
    db.commit()
    rep = get(client, login(db, w.staff_a), "coverage", w.town_a2).json
    assert rep["uncovered"] == [] and rep["total"]["ratio"] == 1.0
    assert [u["name"] for u in rep["towns_without_room"]] == ["浦南镇"]


def test_d2_a_platform_next_door_covers_a_unit_in_scope(client, db, world):
    # A joint room hosted in town A serves 空白村 in town A2: the town-A2 report counts it.
    w = world
    f.add_served_unit(db, w.p_joint, region=w.village_a3)
    db.commit()
    rep = get(client, login(db, w.staff_a), "coverage", w.town_a2).json
    assert rep["uncovered"] == []


# --- D29 -----------------------------------------------------------------------------------------

def test_d29_platforms_without_a_linked_member(client, db, world):
    w = world
    headers = login(db, w.staff_a)
    rep = get(client, headers, "member-links", w.county_a).json
    assert {p["id"] for p in rep["platforms"]} == {
        w.p_village_a1.id, w.p_joint.id, w.p_enterprise.id, w.p_sector.id, w.p_town_a2.id}
    assert (rep["total_platforms"], rep["without_member"]) == (6, 5)
    r = client.post(f"/api/platforms/{w.p_sector.id}/members/{w.member.id}", headers=headers)
    assert r.status_code == 201
    rep = get(client, headers, "member-links", w.county_a).json
    assert w.p_sector.id not in {p["id"] for p in rep["platforms"]} and rep["without_member"] == 4


# --- D3 / D4 -------------------------------------------------------------------------------------

def test_d3_d4_six_musts_report(client, db, world):
    w = world
    rep = get(client, login(db, w.staff_a), "six-musts", w.county_a).json
    # Contact points are not held to the six musts; p_town_a meets all six.
    assert (rep["total_platforms"], rep["compliant"]) == (5, 1)
    items = {p["id"]: p for p in rep["platforms"]}
    assert set(items) == {w.p_village_a1.id, w.p_joint.id, w.p_enterprise.id, w.p_sector.id}
    village = items[w.p_village_a1.id]
    assert "有场所（未达标）" not in village["six_musts"]["missing"]
    assert "有制度（未达标）" in village["six_musts"]["missing"]
    assert len(village["six_musts"]["missing"]) == 5
    assert village["uses_unified_name"] is False
    assert village["suggested_name"] == "民主村“有事好商量”协商议事室"
    assert items[w.p_enterprise.id]["uses_unified_name"] is True
    assert items[w.p_enterprise.id]["suggested_name"] is None


def test_d3_stale_and_unevidenced_checks_are_not_compliant(client, db, world):
    w = world
    old = today_local() - timedelta(days=400)
    f.set_check(db, w.p_town_a, SixMust.results, is_met=True, evidence="总结", checked_on=old)
    f.set_check(db, w.p_town_a, SixMust.signage, is_met=True, evidence=None,
                checked_on=today_local())
    db.commit()
    rep = get(client, login(db, w.staff_a), "six-musts", w.town_a).json
    town = next(p for p in rep["platforms"] if p["id"] == w.p_town_a.id)
    status = {i["must"]: i["status"] for i in town["six_musts"]["items"]}
    assert status["results"] == "stale" and status["signage"] == "claimed"
    assert status["venue"] == "met"
    assert town["six_musts"]["missing"] == ["有标识（已申报但缺少佐证材料）", "有成效（超过12个月未复核）"]


def test_d3_report_reflects_an_update_through_the_api(client, db, world):
    w = world
    convenor = login(db, w.director)
    for must in ("rules", "signage"):
        r = client.put(f"/api/platforms/{w.p_town_a.id}/checks/{must}", json={"is_met": False},
                       headers=convenor)
        assert r.status_code == 200
    rep = get(client, login(db, w.staff_a), "six-musts", w.town_a).json
    town = next(p for p in rep["platforms"] if p["id"] == w.p_town_a.id)
    assert town["six_musts"]["missing"] == ["有制度（未达标）", "有标识（未达标）"]


# --- D28 -----------------------------------------------------------------------------------------

def test_d28_convenor_report(client, db, world):
    w = world
    rep = get(client, login(db, w.staff_a), "convenors", w.county_a).json
    found = {m["id"]: m for m in rep["mismatches"]}
    # OK and not listed: the town room (work committee director), the enterprise room (its Party
    # secretary), the town contact point (the town Party committee head).
    assert set(found) == {w.p_village_a1.id, w.p_joint.id, w.p_sector.id}
    village = found[w.p_village_a1.id]
    assert village["status"] == "mismatch"
    assert village["expected"] == [{"person_id": w.village_sec.id, "name": "李红梅"}]
    assert village["convenor"] == {"person_id": w.other.id, "name": "赵六顺"}
    assert village["expected_label"] == "村（社区）党组织负责人"
    assert found[w.p_joint.id]["status"] == "missing"
    assert found[w.p_sector.id]["status"] == "missing"
    assert found[w.p_sector.id]["expected_sources"] == ["sector_convenor"]
    assert rep["total_platforms"] == 6
    for m in rep["mismatches"]:
        assert "phone" not in m and all("phone" not in e for e in m["expected"])


def test_d28_fixing_the_convenor_clears_the_mismatch(client, db, world):
    w = world
    f.set_convenor(db, w.p_village_a1, w.village_sec)
    w.sector.convenor_id = w.member.id
    f.set_convenor(db, w.p_sector, w.member)
    db.commit()
    rep = get(client, login(db, w.staff_a), "convenors", w.county_a).json
    assert {m["id"] for m in rep["mismatches"]} == {w.p_joint.id}


def test_d28_expected_person_not_recorded(client, db, world):
    # County B's town has no work committee on record: the convenor cannot be checked.
    rep = get(client, login(db, world.staff_b), "convenors").json
    assert [(m["id"], m["status"]) for m in rep["mismatches"]] == [
        (world.p_town_b.id, "expected_unknown")]
    assert rep["mismatches"][0]["convenor"]["name"] == "冯召集"


# --- no N+1 --------------------------------------------------------------------------------------

@pytest.mark.parametrize("report", REPORTS)
def test_report_statement_count_does_not_grow_with_platforms(app, client, db, world, report):
    w = world
    headers = login(db, w.admin)

    def run() -> int:
        holder = {}
        n = count_statements(app.extensions["db"].engine, lambda: holder.setdefault(
            "r", get(client, headers, report, w.county_a)))
        assert holder["r"].status_code == 200
        return n

    before = run()
    for i in range(20):
        p = f.create_platform(db, kind="room", host_type="village", region=w.village_a3,
                              name=f"加测{i}“有事好商量”协商议事室", convenor=w.other)
        f.set_check(db, p, SixMust.venue, is_met=True, evidence="照片",
                    checked_on=today_local())
        f.link_member(db, p, w.member)
    db.commit()
    assert run() == before
