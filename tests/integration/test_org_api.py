"""The organisation API: public regions and platforms (no personal data), nearby search,
pagination, filters, no N+1; six-musts updates (D3) and member links (D29) within reach."""
from __future__ import annotations

import json
from datetime import timedelta
from types import SimpleNamespace

import pytest
from sqlalchemy import select

from app.audit.models import AuditEntry
from app.auth.current import open_session
from app.auth.models import SessionKind
from app.org import factories as f
from app.org.models import (
    BodyKind, PlatformCheck, PlatformMember, Role, SixMust, WechatApp, WechatIdentity,
)
from app.org.services import today_local

from ..helpers import count_statements

PHONES = ["13812345678", "13987654321", "15011112222", "18600001111"]
OPENID = "o_secret_openid_A1b2C3"
FULL_NAMES = ["周建国", "李红梅", "赵六顺", "钱委员甲", "孙委员乙"]


def login(db, person) -> dict:
    token, _ = open_session(db, person, SessionKind.mp, timedelta(hours=1))
    db.commit()
    return {"Authorization": f"Bearer {token}"}


def org_world(db, cipher) -> SimpleNamespace:
    """A small city: county A (two towns, villages, an enterprise, a sector) and county B.
    Expected report figures are worked out by hand in tests/integration/test_org_reports.py."""
    w = SimpleNamespace()
    w.city = f.create_region(db, code="32", name="海州湾市", kind="city")
    w.county_a = f.create_region(db, code="3201", name="海滨区", kind="district",
                                 parent=w.city)
    w.county_b = f.create_region(db, code="3202", name="云台县", kind="county",
                                 parent=w.city)
    w.town_a = f.create_region(db, code="320101", name="新浦街道", kind="subdistrict",
                               parent=w.county_a)
    w.town_a2 = f.create_region(db, code="320102", name="浦南镇", kind="township",
                                parent=w.county_a)
    w.town_b = f.create_region(db, code="320201", name="云台镇", kind="township",
                               parent=w.county_b)
    w.village_a1 = f.create_region(db, code="32010101", name="民主村", kind="village",
                                   parent=w.town_a)
    w.village_a2 = f.create_region(db, code="32010102", name="小河村", kind="village",
                                   parent=w.town_a, is_room_eligible=False)
    w.community_a = f.create_region(db, code="32010103", name="海连社区",
                                    kind="community", parent=w.town_a)
    w.village_a3 = f.create_region(db, code="32010201", name="空白村", kind="village",
                                   parent=w.town_a2, is_room_eligible=False)
    w.enterprise = f.create_enterprise(db, name="海滨化工有限公司", region=w.town_a)
    w.sector = f.create_sector(db, name="教育界", region=w.county_a)

    w.director = f.create_person(db, cipher=cipher, name="周建国", phone=PHONES[0],
                                 home_region=w.town_a)
    w.village_sec = f.create_person(db, cipher=cipher, name="李红梅", phone=PHONES[1])
    w.other = f.create_person(db, cipher=cipher, name="赵六顺", phone=PHONES[2])
    w.ent_sec = f.create_person(db, cipher=cipher, name="吴企书记")
    w.town_a2_sec = f.create_person(db, cipher=cipher, name="郑镇书记")
    w.b_convenor = f.create_person(db, cipher=cipher, name="冯召集")
    w.member = f.create_person(db, cipher=cipher, name="钱委员甲", phone=PHONES[3])
    w.member_b = f.create_person(db, cipher=cipher, name="孙委员乙")
    w.staff_a = f.create_person(db, cipher=cipher, name="区政协工作人员")
    w.staff_b = f.create_person(db, cipher=cipher, name="县政协工作人员")
    w.admin = f.create_person(db, cipher=cipher, name="市政协管理员")
    w.resident = f.create_person(db, cipher=cipher, name="王居民")
    db.add(WechatIdentity(person_id=w.director.id, app=WechatApp.mp, openid=OPENID))

    cppcc_a = f.create_body(db, name="海滨区政协", kind=BodyKind.cppcc, region=w.county_a)
    f.create_body(db, name="新浦街道政协工作委员会", kind=BodyKind.cppcc_work_committee,
                  region=w.town_a, head=w.director, parent=cppcc_a)
    f.create_body(db, name="民主村党总支", kind=BodyKind.party_org, region=w.village_a1,
                  head=w.village_sec)
    f.create_body(db, name="海滨化工党委", kind=BodyKind.party_org, region=w.town_a,
                  enterprise=w.enterprise, head=w.ent_sec)
    f.create_body(db, name="浦南镇党委", kind=BodyKind.party_committee, region=w.town_a2,
                  head=w.town_a2_sec)

    w.p_town_a = f.create_platform(db, kind="room", host_type="town", region=w.town_a,
                                   venue_address="新浦街道党群服务中心二楼",
                                   latitude=34.60, longitude=119.20, convenor=w.director)
    # D4: an old local brand as the main name (the report flags it).
    w.p_village_a1 = f.create_platform(db, kind="room", host_type="village",
                                       region=w.village_a1, name="民主村议事厅",
                                       secondary_name="老兵调解室",
                                       latitude=34.61, longitude=119.20, convenor=w.other)
    w.p_joint = f.create_platform(db, kind="joint", host_type="community",
                                  region=w.community_a, latitude=34.62, longitude=119.21)
    f.add_served_unit(db, w.p_joint, region=w.village_a2)
    w.p_enterprise = f.create_platform(db, kind="room", host_type="enterprise",
                                       enterprise=w.enterprise, convenor=w.ent_sec)
    w.p_sector = f.create_platform(db, kind="room", host_type="sector", sector=w.sector)
    w.p_town_a2 = f.create_platform(db, kind="contact_point", host_type="town",
                                    region=w.town_a2, convenor=w.town_a2_sec)
    w.p_town_b = f.create_platform(db, kind="room", host_type="town", region=w.town_b,
                                   latitude=34.80, longitude=119.40, convenor=w.b_convenor)
    w.p_inactive = f.create_platform(db, kind="room", host_type="village",
                                     region=w.village_a2, latitude=34.60, longitude=119.20)
    w.p_inactive.is_active = False

    today = today_local()
    for must in SixMust:
        f.set_check(db, w.p_town_a, must, is_met=True, evidence="材料已存档",
                    checked_on=today - timedelta(days=30))
    f.set_check(db, w.p_village_a1, SixMust.venue, is_met=True, evidence="场所照片",
                checked_on=today)
    f.assign_role(db, w.member, Role.member, region=w.county_a, sector=w.sector)
    f.assign_role(db, w.member_b, Role.member, region=w.county_b)
    f.link_member(db, w.p_town_a, w.member)
    f.assign_role(db, w.staff_a, Role.staff, region=w.county_a)
    f.assign_role(db, w.staff_b, Role.staff, region=w.county_b)
    f.assign_role(db, w.admin, Role.admin, region=w.city)
    f.assign_role(db, w.resident, Role.resident, region=w.city)
    db.commit()
    w.active_ids = {p.id for p in (w.p_town_a, w.p_village_a1, w.p_joint, w.p_enterprise,
                                   w.p_sector, w.p_town_a2, w.p_town_b)}
    return w


@pytest.fixture
def db(app):
    """A session WITHOUT an app context of its own: each request then gets its own context and
    its own database session, closed when the request ends (as in production). Sharing the
    test's context would share `g` (login caches, an open SQLite write transaction)."""
    s = app.extensions["db"].new_session()
    try:
        yield s
    finally:
        s.rollback()
        s.close()


@pytest.fixture
def world(app, db):
    return org_world(db, app.extensions["cipher"])


def all_pages(client, url: str, limit: int) -> list[list[dict]]:
    pages, cursor = [], None
    for _ in range(50):
        sep = "&" if "?" in url else "?"
        r = client.get(f"{url}{sep}limit={limit}" + (f"&cursor={cursor}" if cursor else ""))
        assert r.status_code == 200, r.json
        pages.append(r.json["items"])
        cursor = r.json["next_cursor"]
        if cursor is None:
            return pages
    raise AssertionError("pagination did not end")


# --- regions -------------------------------------------------------------------------------------

def test_regions_top_level_children_and_tree(client, world):
    r = client.get("/api/regions")
    assert r.status_code == 200
    assert [n["name"] for n in r.json["items"]] == ["海州湾市"]
    assert r.json["items"][0]["children"] is None

    r = client.get(f"/api/regions?parent_id={world.county_a.id}")
    assert [n["name"] for n in r.json["items"]] == ["新浦街道", "浦南镇"]

    r = client.get(f"/api/regions?parent_id={world.city.id}&depth=3")
    counties = r.json["items"]
    assert [c["name"] for c in counties] == ["海滨区", "云台县"]
    town_a = counties[0]["children"][0]
    assert town_a["name"] == "新浦街道" and town_a["kind"] == "subdistrict"
    assert [v["name"] for v in town_a["children"]] == ["民主村", "小河村", "海连社区"]
    assert set(town_a["children"][0]) == {"id", "name", "kind", "level", "children"}


def test_regions_unknown_parent_and_bad_depth(client, world):
    assert client.get("/api/regions?parent_id=999999").status_code == 404
    r = client.get("/api/regions?depth=9")
    assert r.status_code == 422 and r.json["details"][0]["field"] == "depth"


# --- public platform list and detail -------------------------------------------------------------

def test_public_views_contain_no_personal_data(client, world):
    texts = [client.get("/api/platforms?limit=100").get_data(as_text=True)]
    for pid in world.active_ids:
        r = client.get(f"/api/platforms/{pid}")
        assert r.status_code == 200
        texts.append(r.get_data(as_text=True))
    blob = "\n".join(texts)
    for secret in [*PHONES, OPENID, *FULL_NAMES, "openid", "phone"]:
        assert secret not in blob, secret
    detail = client.get(f"/api/platforms/{world.p_town_a.id}").json
    assert detail["convenor"] == {"role": "召集人", "name": "周**"}


def test_platform_detail_public_fields(client, world):
    d = client.get(f"/api/platforms/{world.p_village_a1.id}").json
    assert d["name"] == "民主村议事厅" and d["secondary_name"] == "老兵调解室"
    assert (d["kind"], d["host_type"], d["host_name"]) == ("room", "village", "民主村")
    assert d["region_names"] == ["海州湾市", "海滨区", "新浦街道", "民主村"]
    assert (d["latitude"], d["longitude"]) == (34.61, 119.20)
    assert d["member_count"] == 0 and d["convenor"] == {"role": "召集人", "name": "赵**"}
    musts = {i["must"]: i for i in d["six_musts"]["items"]}
    assert musts["venue"]["status"] == "met" and musts["rules"]["status"] == "missing"
    assert "evidence" not in musts["venue"]
    assert d["six_musts"]["is_compliant"] is False

    full = client.get(f"/api/platforms/{world.p_town_a.id}").json
    assert full["six_musts"]["is_compliant"] is True and full["member_count"] == 1
    assert client.get(f"/api/platforms/{world.p_sector.id}").json["convenor"] is None
    assert d["six_musts"]["required"] is True
    contact = client.get(f"/api/platforms/{world.p_town_a2.id}").json
    assert contact["six_musts"]["required"] is False  # D3 binds rooms, not contact points


def test_inactive_or_unknown_platform_is_not_found(client, world):
    assert client.get(f"/api/platforms/{world.p_inactive.id}").status_code == 404
    assert client.get("/api/platforms/999999").status_code == 404
    ids = {i["id"] for page in all_pages(client, "/api/platforms", 100) for i in page}
    assert ids == world.active_ids


def test_region_filter_includes_descendants(client, world):
    def ids(region):
        return {i["id"] for i in client.get(
            f"/api/platforms?region_id={region.id}&limit=100").json["items"]}

    w = world
    assert ids(w.county_a) == {w.p_town_a.id, w.p_village_a1.id, w.p_joint.id,
                               w.p_enterprise.id, w.p_sector.id, w.p_town_a2.id}
    assert ids(w.town_a) == {w.p_town_a.id, w.p_village_a1.id, w.p_joint.id, w.p_enterprise.id}
    assert ids(w.village_a1) == {w.p_village_a1.id}
    assert ids(w.county_b) == {w.p_town_b.id}
    assert client.get("/api/platforms?region_id=999999").status_code == 404


def test_kind_and_host_type_filters(client, world):
    r = client.get("/api/platforms?kind=room&host_type=town&limit=100")
    assert {i["id"] for i in r.json["items"]} == {world.p_town_a.id, world.p_town_b.id}
    r = client.get("/api/platforms?kind=contact_point")
    assert [i["kind_label"] for i in r.json["items"]] == ["委员协商联系点"]


@pytest.mark.parametrize("qs, field, message", [
    ("kind=palace", "kind", "取值不在允许范围内"),
    ("host_type=school", "host_type", "取值不在允许范围内"),
    ("limit=abc", "limit", "应为整数"),
    ("limit=0", "limit", "数值过小"),
    ("limit=101", "limit", "数值过大"),
    ("radius_km=500&near=34.6,119.2", "radius_km", "数值过大"),
    ("near=abc", "near", "应为“纬度,经度”，如 34.6,119.2"),
    ("near=95,119", "near", "经纬度超出范围"),
    ("cursor=" + "x" * 201, "cursor", "内容过长（最多 200 字）"),
])
def test_list_validation_is_422_in_chinese(client, world, qs, field, message):
    r = client.get(f"/api/platforms?{qs}")
    assert r.status_code == 422
    assert r.json["error"] == "validation_failed"
    assert {"field": field, "message": message} in r.json["details"]


@pytest.mark.parametrize("cursor", ["not-base64!!", "eyJ4IjoxfQ", "bnVsbA"])
def test_bad_cursor_is_422(client, world, cursor):
    r = client.get(f"/api/platforms?cursor={cursor}")
    assert r.status_code == 422 and r.json["error"] == "invalid_cursor"


def test_pagination_with_cursor_walks_every_platform_once(client, world):
    pages = all_pages(client, "/api/platforms", 3)
    assert [len(p) for p in pages] == [3, 3, 1]
    ids = [i["id"] for p in pages for i in p]
    assert ids == sorted(ids) and set(ids) == world.active_ids


def test_nearby_sorted_by_distance_within_radius(client, world):
    w = world
    r = client.get("/api/platforms?near=34.60,119.20&radius_km=5")
    items = r.json["items"]
    assert [i["id"] for i in items] == [w.p_town_a.id, w.p_village_a1.id, w.p_joint.id]
    d = [i["distance_km"] for i in items]
    # 0.01° of latitude ≈ 1.11 km; (0.02°, 0.01°) at 34.6°N ≈ 2.40 km.
    assert d[0] == 0 and 1.10 < d[1] < 1.12 and 2.39 < d[2] < 2.42
    far = client.get("/api/platforms?near=34.60,119.20&radius_km=50").json["items"]
    assert [i["id"] for i in far][-1] == w.p_town_b.id and 25 < far[-1]["distance_km"] < 30
    # Platforms without coordinates are not "nearby".
    assert w.p_enterprise.id not in {i["id"] for i in far}


def test_nearby_pagination_with_ties(client, db):
    city = f.create_region(db, code="9", name="测试市", kind="city")
    county = f.create_region(db, code="91", name="测试县", kind="county", parent=city)
    town = f.create_region(db, code="911", name="测试镇", kind="township", parent=county)
    # Two platforms at each distance, so the (distance, id) keyset must break ties.
    for i in range(10):
        f.create_platform(db, kind="mobile", host_type="town", region=town,
                          name=f"流动议事室{i}", latitude=30.0 + (i // 2) * 0.01,
                          longitude=120.0)
    db.commit()
    url = "/api/platforms?near=30.0,120.0&radius_km=20"
    whole = client.get(url + "&limit=100").json["items"]
    pages = all_pages(client, url, 3)
    assert [len(p) for p in pages] == [3, 3, 3, 1]
    walked = [i["id"] for p in pages for i in p]
    assert walked == [i["id"] for i in whole] and len(set(walked)) == 10
    keys = [(i["distance_km"], i["id"]) for i in whole]
    assert keys == sorted(keys)
    # A plain-list cursor is refused in nearby mode (and vice versa).
    plain = client.get("/api/platforms?limit=1").json["next_cursor"]
    assert client.get(url + f"&cursor={plain}").status_code == 422


# --- no N+1 --------------------------------------------------------------------------------------

def test_platform_list_statement_count_does_not_grow(app, client, db):
    city = f.create_region(db, code="8", name="计数市", kind="city")
    county = f.create_region(db, code="81", name="计数县", kind="county", parent=city)
    town = f.create_region(db, code="811", name="计数镇", kind="township", parent=county)
    ent = f.create_enterprise(db, name="计数公司", region=town)
    sector = f.create_sector(db, name="经济界", region=county)
    convenor = f.create_person(db, name="召集人")

    def add(n: int, start: int) -> None:
        for i in range(start, start + n):
            extra = ({"host_type": "enterprise", "enterprise": ent} if i % 3 == 0 else
                     {"host_type": "sector", "sector": sector} if i % 3 == 1 else
                     {"host_type": "town", "region": town})
            f.create_platform(db, kind="mobile", name=f"平台{i}", latitude=31 + i / 1000,
                              longitude=121.0, convenor=convenor, **extra)
        db.commit()

    urls = ["/api/platforms?limit=100", f"/api/platforms?limit=100&region_id={county.id}",
            "/api/platforms?limit=100&near=31.0,121.0&radius_km=50"]

    def counts(expected_items: int) -> list[int]:
        out = []
        for url in urls:
            holder = {}
            out.append(count_statements(app.extensions["db"].engine,
                                        lambda: holder.setdefault("r", client.get(url))))
            assert len(holder["r"].json["items"]) == expected_items
        return out

    add(5, 0)
    small = counts(5)
    add(45, 5)
    large = counts(50)
    assert small == large
    assert max(large) <= 4


# --- D3: six musts -------------------------------------------------------------------------------

def test_convenor_updates_own_platform_check_with_audit(client, db, world):
    headers = login(db, world.director)
    url = f"/api/platforms/{world.p_town_a.id}/checks/rules"
    day = (today_local() - timedelta(days=1)).isoformat()
    r = client.put(url, json={"is_met": True, "evidence": "  议事规则已上墙  ", "checked_on": day},
                   headers=headers)
    assert r.status_code == 200, r.json
    rules = next(i for i in r.json["six_musts"]["items"] if i["must"] == "rules")
    assert (rules["status"], rules["evidence"], rules["checked_on"]) == ("met", "议事规则已上墙", day)

    r = client.put(url, json={"is_met": False}, headers=headers)
    assert r.status_code == 200
    assert r.json["six_musts"]["is_compliant"] is False
    assert r.json["six_musts"]["missing"] == ["有制度（未达标）"]

    db.expire_all()
    check = db.scalar(select(PlatformCheck).where(
        PlatformCheck.platform_id == world.p_town_a.id, PlatformCheck.must == SixMust.rules))
    assert check.is_met is False and check.checked_on == today_local()
    assert check.checked_by_id == world.director.id
    entries = db.scalars(select(AuditEntry).where(
        AuditEntry.action == "platform.check.update").order_by(AuditEntry.id)).all()
    assert [e.actor_id for e in entries] == [world.director.id] * 2
    assert entries[0].object_id == str(world.p_town_a.id)
    assert entries[0].before["evidence"] == "材料已存档" and entries[0].after["evidence"] == "议事规则已上墙"
    assert entries[1].before["is_met"] is True and entries[1].after["is_met"] is False


def test_first_check_of_a_must_is_created_and_audited_without_before(client, db, world):
    headers = login(db, world.staff_a)
    r = client.put(f"/api/platforms/{world.p_sector.id}/checks/signage",
                   json={"is_met": True, "evidence": "门牌照片"}, headers=headers)
    assert r.status_code == 200
    entry = db.scalar(select(AuditEntry).where(AuditEntry.action == "platform.check.update"))
    assert entry.before is None and entry.after["must"] == "signage"
    assert entry.after["checked_on"] == today_local().isoformat()


@pytest.mark.parametrize("who, platform, status", [
    ("director", "p_village_a1", 404),   # convenor of another platform
    ("staff_b", "p_town_a", 404),        # staff of another county
    ("staff_a", "p_town_b", 404),
    ("staff_a", "p_village_a1", 200),    # staff of the region
    ("admin", "p_town_b", 200),
    ("resident", "p_town_a", 403),
    ("member", "p_town_a", 403),
])
def test_check_update_is_limited_to_reach(client, db, world, who, platform, status):
    headers = login(db, getattr(world, who))
    r = client.put(f"/api/platforms/{getattr(world, platform).id}/checks/venue",
                   json={"is_met": True, "evidence": "照片"}, headers=headers)
    assert r.status_code == status
    audited = db.scalar(select(AuditEntry.id).where(
        AuditEntry.action == "platform.check.update"))
    assert (audited is not None) is (status == 200)


def test_check_update_needs_login(client, world):
    r = client.put(f"/api/platforms/{world.p_town_a.id}/checks/venue", json={"is_met": True})
    assert r.status_code == 401


@pytest.mark.parametrize("must, body, field", [
    ("beauty", {"is_met": True}, "must"),
    ("venue", {"is_met": "maybe"}, "is_met"),
    ("venue", {"is_met": 1}, "is_met"),
    ("venue", {}, "is_met"),
    ("venue", {"is_met": True, "evidence": "字" * 2001}, "evidence"),
    ("venue", {"is_met": True, "checked_on": "yesterday"}, "checked_on"),
    ("venue", {"is_met": True, "checked_on": "2999-01-01"}, "checked_on"),
    ("venue", {"is_met": True, "colour": "red"}, "colour"),
])
def test_check_update_validation(client, db, world, must, body, field):
    headers = login(db, world.director)
    r = client.put(f"/api/platforms/{world.p_town_a.id}/checks/{must}", json=body,
                   headers=headers)
    assert r.status_code == 422, r.json
    assert field in {d["field"] for d in r.json["details"]}
    assert all(any("\u4e00" <= ch <= "\u9fff" for ch in d["message"]) for d in r.json["details"])
    assert db.scalar(select(AuditEntry.id)) is None


# --- D29: member links ---------------------------------------------------------------------------

def test_link_and_unlink_member_with_audit(client, db, world):
    headers = login(db, world.staff_a)
    url = f"/api/platforms/{world.p_joint.id}/members/{world.member.id}"
    r = client.post(url, headers=headers)
    assert r.status_code == 201 and r.json["member_count"] == 1 and r.json["linked"] is True
    r = client.post(url, headers=headers)  # idempotent: no second row, no second audit entry
    assert r.status_code == 200 and r.json["member_count"] == 1
    r = client.delete(url, headers=headers)
    assert r.status_code == 200 and r.json["member_count"] == 0
    assert "没有联系的政协委员" in r.json["warning"]
    assert client.delete(url, headers=headers).status_code == 404

    actions = db.scalars(select(AuditEntry.action).where(
        AuditEntry.object_id == str(world.p_joint.id)).order_by(AuditEntry.id)).all()
    assert actions == ["platform.member.link", "platform.member.unlink"]
    assert db.scalar(select(PlatformMember.id).where(
        PlatformMember.platform_id == world.p_joint.id)) is None


def test_members_of_another_county_come_through_the_cppcc(client, db, world):
    """D29: a convenor links members serving on the room's own line of regions; members of
    any other level or county are invited "through the city/county CPPCC" — staff link them."""
    own = f"/api/platforms/{world.p_town_a.id}/members/{world.member.id}"  # county A member
    assert client.delete(own, headers=login(db, world.director)).status_code == 200
    assert client.post(own, headers=login(db, world.director)).status_code == 201
    url = f"/api/platforms/{world.p_town_a.id}/members/{world.member_b.id}"  # county B member
    r = client.post(url, headers=login(db, world.director))
    assert r.status_code == 404 and r.json["error"] == "member_not_found"
    r = client.post(url, headers=login(db, world.staff_a))
    assert r.status_code == 201 and r.json["member_count"] == 2


@pytest.mark.parametrize("who, platform, person, status", [
    ("staff_a", "p_joint", "resident", 404),      # not a CPPCC member
    ("staff_a", "p_joint", None, 404),            # nobody
    ("staff_b", "p_joint", "member", 404),        # platform outside reach
    ("director", "p_joint", "member", 404),       # convenor of another platform
    ("resident", "p_joint", "member", 403),
])
def test_link_member_refusals(client, db, world, who, platform, person, status):
    headers = login(db, getattr(world, who))
    pid = getattr(world, person).id if person else 999999
    r = client.post(f"/api/platforms/{getattr(world, platform).id}/members/{pid}",
                    headers=headers)
    assert r.status_code == status
    assert db.scalar(select(PlatformMember.id).where(
        PlatformMember.platform_id == world.p_joint.id)) is None


def test_openapi_lists_the_org_endpoints(client):
    doc = client.get("/api/openapi.json").json
    assert doc["paths"]["/api/platforms/{platform_id}/checks/{must}"]["put"]["x-permission"] \
        == "platform.manage"
    assert "security" not in doc["paths"]["/api/platforms"]["get"]
    assert doc["paths"]["/api/reports/coverage"]["get"]["x-permission"] == "org.reports.view"
    json.dumps(doc)  # serialisable
