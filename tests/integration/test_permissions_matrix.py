"""The permission matrix: role × endpoint × jurisdiction (own county vs another county) → status.

One world: the city, county A (东海县) and county B (灌云县), each with a town, a village and a
town room. Every actor holds one role within county A (or the city). A row of EXPECTED is what
that actor gets from each endpoint; 404 (not 403) outside the actor's reach, so other counties'
people, regions and platforms are not revealed (DESIGN.md "Permissions").
"""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from app.audit.models import AuditEntry
from app.auth.current import open_session
from app.auth.models import SessionKind
from app.org import factories as f
from app.org.models import BodyKind, Role

from ..helpers import committed_session as db


ROLES = ["anonymous", "resident", "member", "convenor", "liaison", "reviewer", "dept_handler",
         "county_staff", "city_staff", "admin"]

# endpoint name → (method, path template, JSON body); {A}/{B} are county ids, {PA}/{PB} town
# rooms in county A/B, {person_a}/{person_b} residents living in county A/B.
ENDPOINTS = {
    "me": ("GET", "/api/me", None),
    "people": ("GET", "/api/people", None),
    "people_in_own_county": ("GET", "/api/people?region_id={A}", None),
    "people_in_other_county": ("GET", "/api/people?region_id={B}", None),
    "person_in_own_county": ("GET", "/api/people/{person_a}", None),
    "person_in_other_county": ("GET", "/api/people/{person_b}", None),
    "report": ("GET", "/api/reports/coverage", None),
    "report_own_county": ("GET", "/api/reports/coverage?region_id={A}", None),
    "report_other_county": ("GET", "/api/reports/coverage?region_id={B}", None),
    "six_musts_own_room": ("PUT", "/api/platforms/{PA}/checks/venue",
                           {"is_met": True, "evidence": "活动室门牌照片"}),
    "six_musts_other_room": ("PUT", "/api/platforms/{PB}/checks/venue",
                             {"is_met": True, "evidence": "活动室门牌照片"}),
    # D29: a county A member, not yet linked; another county's room only "through the CPPCC".
    "link_member_own_room": ("POST", "/api/platforms/{PA}/members/{member_a}", None),
    "link_member_other_room": ("POST", "/api/platforms/{PB}/members/{member_a}", None),
    "audit": ("GET", "/api/audit", None),
}
COLUMNS = list(ENDPOINTS)

# Each row lists the statuses in the order of COLUMNS.
#                me   people own  other p_own p_oth rep  r_own r_oth chk  chk_o lnk  lnk_o audit
EXPECTED = {
    "anonymous":    [401, 401, 401, 401, 401, 401, 401, 401, 401, 401, 401, 401, 401, 401],
    "resident":     [200, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403],
    "member":       [200, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403],
    "convenor":     [200, 403, 403, 403, 403, 403, 403, 403, 403, 200, 404, 201, 404, 403],
    "liaison":      [200, 403, 403, 403, 403, 403, 403, 403, 403, 200, 404, 201, 404, 403],
    "reviewer":     [200, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403],
    "dept_handler": [200, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403],
    "county_staff": [200, 200, 200, 404, 200, 404, 200, 200, 404, 200, 404, 201, 404, 403],
    "city_staff":   [200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 201, 201, 200],
    "admin":        [200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 201, 201, 200],
}


def build_world(s) -> tuple[dict, dict]:
    """Returns (ids for the path templates, bearer token per role)."""
    city = f.create_region(s, code="3207", name="连云港市", kind="city")
    a = f.create_region(s, code="320722", name="东海县", kind="county", parent=city)
    b = f.create_region(s, code="320723", name="灌云县", kind="county", parent=city)
    a_town = f.create_region(s, code="320722001", name="牛山街道", kind="subdistrict", parent=a)
    b_town = f.create_region(s, code="320723001", name="伊山镇", kind="township", parent=b)
    a_village = f.create_region(s, code="320722001001", name="新坝社区", kind="community",
                                parent=a_town)
    b_village = f.create_region(s, code="320723001001", name="东门村", kind="village",
                                parent=b_town)
    room_a = f.create_platform(s, kind="room", host_type="town", region=a_town)
    room_b = f.create_platform(s, kind="room", host_type="town", region=b_town)
    work_committee = f.create_body(s, name="牛山街道政协工作委员会",
                                   kind=BodyKind.cppcc_work_committee, region=a_town)
    party_committee = f.create_body(s, name="牛山街道党工委", kind=BodyKind.party_committee,
                                    region=a_town)
    department = f.create_body(s, name="东海县住房和城乡建设局", kind=BodyKind.department,
                               region=a)

    person_a = f.create_person(s, name="居民甲", phone="13800000001", home_region=a_village)
    person_b = f.create_person(s, name="居民乙", phone="13800000002", home_region=b_village)
    member_a = f.create_person(s, name="委员丙", home_region=a_village)
    f.assign_role(s, member_a, Role.member, region=a, member_level="county")

    actors = {name: f.create_person(s, name=name, home_region=a_village)
              for name in ROLES if name != "anonymous"}
    f.assign_role(s, actors["member"], Role.member, region=a, member_level="county")
    f.link_member(s, room_a, actors["member"])
    f.set_convenor(s, room_a, actors["convenor"])
    f.assign_role(s, actors["liaison"], Role.liaison, body=work_committee)
    f.assign_role(s, actors["reviewer"], Role.reviewer, body=party_committee)
    f.assign_role(s, actors["dept_handler"], Role.dept_handler, body=department)
    f.assign_role(s, actors["county_staff"], Role.staff, region=a)
    f.assign_role(s, actors["city_staff"], Role.staff, region=city)
    f.assign_role(s, actors["admin"], Role.admin, region=city)

    tokens = {name: open_session(s, person, SessionKind.mp, timedelta(hours=1))[0]
              for name, person in actors.items()}
    ids = {"A": a.id, "B": b.id, "PA": room_a.id, "PB": room_b.id,
           "person_a": person_a.id, "person_b": person_b.id, "member_a": member_a.id}
    return ids, tokens


@pytest.fixture
def world(app):
    with db(app) as s:
        return build_world(s)


def call(client, name, ids, token):
    method, template, body = ENDPOINTS[name]
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return client.open(template.format(**ids), method=method, json=body, headers=headers)


def test_the_table_is_complete():
    assert set(EXPECTED) == set(ROLES)
    assert all(len(row) == len(COLUMNS) for row in EXPECTED.values())


@pytest.mark.parametrize("role", ROLES)
def test_permission_matrix(client, world, role):
    ids, tokens = world
    got = {}
    for name in COLUMNS:
        r = call(client, name, ids, tokens.get(role))
        got[name] = r.status_code
        if r.status_code >= 400:
            # One error shape everywhere; the code matches the status.
            assert r.json["error"] and r.json["message"]
    assert got == dict(zip(COLUMNS, EXPECTED[role]))


def test_a_resident_cannot_read_staff_reports(client, world):
    ids, tokens = world
    r = call(client, "report", ids, tokens["resident"])
    assert r.status_code == 403
    assert r.json["error"] == "forbidden" and r.json["message"] == "您没有权限进行此操作"


def test_county_staff_cannot_see_another_countys_people(client, app, world):
    ids, tokens = world
    r = call(client, "person_in_other_county", ids, tokens["county_staff"])
    assert r.status_code == 404
    assert r.json["error"] == "person_not_found"
    # Same answer as for an id that does not exist at all: nothing is revealed.
    missing = client.get("/api/people/987654",
                         headers={"Authorization": f"Bearer {tokens['county_staff']}"})
    assert (missing.status_code, missing.json["error"], missing.json["message"]) == (
        404, r.json["error"], r.json["message"])
    listing = client.get("/api/people?per_page=100",
                         headers={"Authorization": f"Bearer {tokens['county_staff']}"}).json
    names = {p["name"] for p in listing["items"]}
    assert "居民甲" in names and "居民乙" not in names
    assert listing["total"] == len(listing["items"])
    by_phone = client.get("/api/people?q=13800000002",
                          headers={"Authorization": f"Bearer {tokens['county_staff']}"}).json
    assert by_phone["items"] == [] and by_phone["total"] == 0


def test_city_staff_sees_both_counties_and_every_view_is_audited(client, app, world):
    ids, tokens = world
    headers = {"Authorization": f"Bearer {tokens['city_staff']}"}
    detail = client.get(f"/api/people/{ids['person_b']}", headers=headers)
    assert detail.status_code == 200
    assert detail.json["name"] == "居民乙"
    assert detail.json["phone_masked"] == "138****0002"
    assert "13800000002" not in detail.get_data(as_text=True)
    assert detail.json["home_region"]["name"] == "东门村"
    found = client.get("/api/people?q=138 0000 0002", headers=headers).json
    assert [p["id"] for p in found["items"]] == [ids["person_b"]]
    with db(app) as s:
        entries = s.scalars(select(AuditEntry).order_by(AuditEntry.id)).all()
        viewed = [e for e in entries if e.action == "person.viewed"]
        assert [(e.object_id, e.actor_id is not None) for e in viewed] == [
            (str(ids["person_b"]), True)]
        searched = [e for e in entries if e.action == "people.searched_by_phone"]
        assert [e.after for e in searched] == [{"phone": "138****0002", "found": 1}]


def test_people_list_filters_by_region_and_name(client, world):
    ids, tokens = world
    headers = {"Authorization": f"Bearer {tokens['admin']}"}
    in_b = client.get(f"/api/people?region_id={ids['B']}", headers=headers).json
    assert [p["name"] for p in in_b["items"]] == ["居民乙"]
    by_name = client.get("/api/people?q=居民", headers=headers).json
    assert sorted(p["name"] for p in by_name["items"]) == ["居民乙", "居民甲"]
    page = client.get("/api/people?per_page=2&page=2", headers=headers).json
    assert page["page"] == 2 and len(page["items"]) == 2 and page["total"] == 12
    staff_row = [p for p in client.get("/api/people?q=county_staff", headers=headers)
                 .json["items"]]
    assert staff_row[0]["roles"] == ["staff"]


def test_a_deactivated_role_no_longer_grants_access(client, app, world):
    from app.org.models import RoleAssignment

    ids, tokens = world
    with db(app) as s:
        for ra in s.scalars(select(RoleAssignment).where(RoleAssignment.role == Role.staff)):
            ra.is_active = False
    r = call(client, "person_in_own_county", ids, tokens["county_staff"])
    assert r.status_code == 403
