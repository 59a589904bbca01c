"""GET /api/audit: the trail for the console — newest first, filters, keyset pages, actor names,
no secrets, city-wide viewers only."""
from __future__ import annotations

from datetime import timedelta

from app.audit.services import record
from app.auth.current import open_session
from app.auth.models import SessionKind
from app.org import factories as f
from app.org.models import Role

from ..helpers import bearer, committed_session


def world(app):
    with committed_session(app) as s:
        city, county = f.create_region_chain(s, code="5100", names=("审计市", "审计县"))
        admin = f.create_person(s, name="管理员甲")
        county_staff = f.create_person(s, name="县工作人员")
        f.assign_role(s, admin, Role.admin, region=city)
        f.assign_role(s, county_staff, Role.staff, region=county)
        s.flush()
        for i in range(7):
            record(s, actor_id=admin.id, action="platform.check.set", object_type="platform",
                   object_id=i % 2 + 1, before={"is_met": False}, after={"is_met": True})
        record(s, actor_id=None, action="demo.seed", object_type="demo", after={"people": 3})
        return {"admin": open_session(s, admin, SessionKind.mp, timedelta(hours=1))[0],
                "county": open_session(s, county_staff, SessionKind.mp, timedelta(hours=1))[0],
                "admin_id": admin.id}


def test_pages_filters_and_names(client, app):
    w = world(app)
    first = client.get("/api/audit?limit=5", headers=bearer(w["admin"]))
    assert first.status_code == 200, first.json
    items = first.json["items"]
    assert len(items) == 5 and [i["id"] for i in items] == sorted((i["id"] for i in items),
                                                                  reverse=True)
    assert items[0] == {**items[0], "action": "demo.seed", "actor_id": None, "actor_name": "系统"}
    assert items[1]["actor_name"] == "管理员甲" and items[1]["after"] == {"is_met": True}
    rest = client.get(f"/api/audit?limit=5&before_id={first.json['next_before_id']}",
                      headers=bearer(w["admin"])).json
    assert rest["next_before_id"] is None
    seen = [i["id"] for i in items + rest["items"]]
    assert len(seen) == len(set(seen)) == 8  # every entry exactly once across the pages
    one = client.get("/api/audit?object_type=platform&object_id=2", headers=bearer(w["admin"]))
    assert {(i["object_type"], i["object_id"]) for i in one.json["items"]} == {("platform", "2")}
    assert len(one.json["items"]) == 3
    by_actor = client.get(f"/api/audit?actor_id={w['admin_id']}&action=platform.check.set",
                          headers=bearer(w["admin"])).json
    assert len(by_actor["items"]) == 7
    future = client.get("/api/audit?since=2999-01-01T00:00:00", headers=bearer(w["admin"])).json
    assert future["items"] == []


def test_county_staff_get_a_clear_403(client, app):
    w = world(app)
    r = client.get("/api/audit", headers=bearer(w["county"]))
    assert r.status_code == 403
    assert r.json["error"] == "audit_city_only" and "市级" in r.json["message"]


def test_bad_filters_are_422(client, app):
    w = world(app)
    r = client.get("/api/audit?limit=1000", headers=bearer(w["admin"]))
    assert r.status_code == 422 and r.json["details"][0]["field"] == "limit"
    r = client.get("/api/audit?since=yesterday", headers=bearer(w["admin"]))
    assert r.status_code == 422 and r.json["details"][0]["field"] == "since"
