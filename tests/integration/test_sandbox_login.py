"""Sandbox sign-in (issue 10 item 18): POST /sandbox/login gives the same sessions as the real
logins — a mini-program bearer token, or a console cookie with its CSRF token — for a demo
person named by key or any person by id; sandbox mode only (404 otherwise)."""
from __future__ import annotations

import dataclasses

from sqlalchemy import select

from app import create_app
from app.audit.models import AuditEntry
from app.org import factories as f
from app.org.models import Role

from ..helpers import bearer, committed_session


def _staff(app) -> int:
    with committed_session(app) as s:
        city, county, *_ = f.create_region_chain(s, code="8100", names=("测试市", "东县", "新坝镇",
                                                                          "前进村"))
        person = f.create_person(s, name="赵干事", phone=None, home_region=county)
        f.assign_role(s, person, Role.staff, region=county)
        s.flush()
        return person.id


def test_a_person_by_id_gets_a_mini_program_token(app, client):
    pid = _staff(app)
    r = client.post("/sandbox/login", json={"person_id": pid})
    assert r.status_code == 200, r.json
    assert set(r.json) == {"token", "expires_at", "is_new", "person"}
    assert r.json["person"]["id"] == pid and "staff" in r.json["person"]["roles"]
    me = client.get("/api/me", headers=bearer(r.json["token"]))
    assert me.status_code == 200 and me.json["id"] == pid
    assert me.json["session"]["kind"] == "mp"
    with committed_session(app) as s:
        entry = s.scalar(select(AuditEntry).where(AuditEntry.action == "auth.login"))
        assert entry.actor_id == pid and entry.after == {"kind": "mp", "sandbox": True}


def test_console_true_gives_the_console_cookie_and_csrf_token(app, client):
    pid = _staff(app)
    r = client.post("/sandbox/login", json={"person_id": pid, "console": True})
    assert r.status_code == 200, r.json
    assert set(r.json) == {"csrf_token", "expires_at", "person"}
    assert "staff_session=" in r.headers["Set-Cookie"] and "HttpOnly" in r.headers["Set-Cookie"]
    me = client.get("/api/me")
    assert me.status_code == 200 and me.json["session"]["kind"] == "staff"
    # A console session changes state only with its CSRF token, as after a password login.
    assert client.post("/api/auth/logout").json["error"] == "csrf_failed"
    assert client.post("/api/auth/logout",
                       headers={"X-CSRF-Token": r.json["csrf_token"]}).status_code == 200


def test_bad_requests_are_refused_in_chinese(app, client):
    pid = _staff(app)
    for body, status, code in [
            ({}, 422, "person_required"),
            ({"key": "convenor", "person_id": pid}, 422, "person_required"),
            ({"person_id": str(pid)}, 422, "person_required"),
            ({"person_id": True}, 422, "person_required"),
            ({"person_id": pid, "console": "yes"}, 422, "invalid_body"),
            ({"person_id": pid, "as": "admin"}, 422, "invalid_body"),
            ({"person_id": 99999}, 404, "person_not_found"),
            ({"key": "convenor"}, 404, "demo_person_not_found")]:  # no demo city loaded
        r = client.post("/sandbox/login", json=body)
        assert (r.status_code, r.json["error"]) == (status, code), body
        assert r.json["message"]
    assert client.get("/sandbox/demo-people").json == {"people": []}


def test_only_in_sandbox_mode(app, config):
    pid = _staff(app)
    prod = create_app(dataclasses.replace(config, sandbox=False, wechat_mp_appid="wx123"))
    c = prod.test_client()
    assert c.post("/sandbox/login", json={"person_id": pid}).status_code == 404
    assert c.post("/sandbox/login", json={"person_id": pid, "console": True}).status_code == 404
    assert c.get("/sandbox/demo-people").status_code == 404
