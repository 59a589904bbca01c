"""Mini-program login through the fake WeChat server, tokens, logout and /api/me."""
from __future__ import annotations

import json
from datetime import timedelta

import pytest
import time_machine
from sqlalchemy import func, select

from app.audit.models import AuditEntry
from app.auth import ratelimit
from app.auth.current import open_session
from app.auth.models import LoginSession, SessionKind
from app.crypto import get_cipher
from app.db import utcnow
from app.org import factories as f
from app.org.models import Person, Role, WechatApp, WechatIdentity
from app.wechat.errors import WechatError
from app.wechat.fake import openid_for, unionid_for

from ..helpers import committed_session as db, bearer


def login(client, code):
    return client.post("/api/auth/wx-login", json={"code": code})


def test_first_login_creates_a_resident_and_the_token_works(client, app, fake_wechat):
    r = login(client, "user-alice")
    assert r.status_code == 200, r.json
    body = r.json
    assert body["is_new"] is True
    assert body["person"]["roles"] == ["resident"]
    assert body["person"]["name"] == "微信用户"
    token = body["token"]
    assert len(token) >= 32

    me = client.get("/api/me", headers=bearer(token))
    assert me.status_code == 200, me.json
    assert me.json["id"] == body["person"]["id"]
    assert me.json["phone_masked"] is None
    assert me.json["home_region"] is None
    assert me.json["session"]["kind"] == "mp"
    assert me.json["roles"] == [{"role": "resident", "label": "群众", "implicit": True,
                                 "scope_type": None, "scope_id": None, "scope_name": None}]
    with db(app) as s:
        ident = s.scalar(select(WechatIdentity))
        assert ident.openid == openid_for("alice")
        assert ident.unionid == unionid_for("alice")
        assert ident.app is WechatApp.mp
        assert s.scalar(select(AuditEntry).where(AuditEntry.action == "person.registered"))


def test_second_login_finds_the_same_person(client):
    first = login(client, "user-alice-1").json
    second = login(client, "user-alice-2").json
    assert second["is_new"] is False
    assert second["person"]["id"] == first["person"]["id"]
    assert second["token"] != first["token"]
    # Both sessions are valid at once (two phones, or an old token not yet dropped).
    assert client.get("/api/me", headers=bearer(first["token"])).status_code == 200
    assert client.get("/api/me", headers=bearer(second["token"])).status_code == 200


def test_session_key_is_stored_encrypted_and_never_returned(client, app, fake_wechat):
    r = login(client, "user-carol")
    calls = fake_wechat.calls("/sns/jscode2session", ok=True)
    assert len(calls) == 1
    session_key = calls[0].response["session_key"]
    token = r.json["token"]
    bodies = [r.get_data(as_text=True),
              client.get("/api/me", headers=bearer(token)).get_data(as_text=True),
              client.post("/api/auth/logout", headers=bearer(token)).get_data(as_text=True)]
    for text in bodies:
        assert session_key not in text
        assert "session_key" not in text
    with db(app) as s:
        ident = s.scalar(select(WechatIdentity))
        assert ident.session_key_enc and session_key.encode() not in ident.session_key_enc
        assert get_cipher().decrypt(ident.session_key_enc) == session_key
        # The raw token is not stored either: only its hash.
        assert s.scalar(select(LoginSession.id).where(LoginSession.token_hash == token)) is None
        audit = json.dumps([(a.before, a.after) for a in s.scalars(select(AuditEntry))],
                           ensure_ascii=False)
        assert session_key not in audit and token not in audit


def test_reused_code_is_refused_with_a_clear_message(client, fake_wechat):
    assert login(client, "user-dave").status_code == 200
    again = login(client, "user-dave")
    assert again.status_code == 401
    assert again.json["error"] == "wx_code_invalid"
    assert again.json["message"] == "登录凭证无效，请重新登录"


@pytest.mark.parametrize("code", ["invalid-code", "含中文"])
def test_bad_code_is_refused(client, code):
    r = login(client, code)
    assert r.status_code == 401
    assert r.json["error"] == "wx_code_invalid"


def test_empty_code_is_a_validation_error(client, fake_wechat):
    r = login(client, "")
    assert r.status_code == 422
    assert fake_wechat.calls("/sns/jscode2session") == []


def test_high_risk_user_gets_wechats_message(client):
    r = login(client, "risky-1")
    assert r.status_code == 403
    assert r.json["error"] == "wechat_user_risky"
    assert "安全风险" in r.json["message"]


def test_wechat_busy_is_503(client, fake_wechat):
    fake_wechat.fail("/sns/jscode2session", -1)
    r = login(client, "user-erin")
    assert r.status_code == 503
    assert r.json == {"error": "wechat_unavailable", "message": "微信服务暂时不可用，请稍后再试",
                      "request_id": r.json["request_id"]}


def test_wechat_unreachable_is_503(client, app, monkeypatch):
    def down(code):
        raise WechatError.unavailable(sent=False, api="sns/jscode2session")

    monkeypatch.setattr(app.extensions["wechat"].mp, "code2session", down)
    r = login(client, "user-erin")
    assert r.status_code == 503
    assert r.json["error"] == "wechat_unavailable"
    with db(app) as s:
        assert s.scalar(select(Person)) is None


def test_unionid_links_to_the_person_known_from_the_official_account(client, app):
    with db(app) as s:
        bob = f.create_person(s, name="王建国")
        s.add(WechatIdentity(person_id=bob.id, app=WechatApp.oa, openid="oa-openid-bob",
                             unionid=unionid_for("bob")))
        bob_id = bob.id
    r = login(client, "user-bob")
    assert r.status_code == 200
    assert r.json["is_new"] is False
    assert r.json["person"]["id"] == bob_id
    assert r.json["person"]["name"] == "王建国"
    with db(app) as s:
        apps = sorted(i.app.value for i in s.scalars(
            select(WechatIdentity).where(WechatIdentity.person_id == bob_id)))
        assert apps == ["mp", "oa"]
        assert s.scalar(select(Person.id).where(Person.id != bob_id)) is None


def test_without_unionid_a_new_person_is_created(client, app):
    with db(app) as s:
        bob = f.create_person(s, name="王建国")
        s.add(WechatIdentity(person_id=bob.id, app=WechatApp.oa, openid="oa-openid-bob",
                             unionid=unionid_for("bob")))
        bob_id = bob.id
    r = login(client, "user-bob-nounion")
    assert r.json["is_new"] is True
    assert r.json["person"]["id"] != bob_id


def test_a_parallel_first_login_reuses_the_identity_the_other_request_created(
        client, app, monkeypatch):
    """Two first logins of one user race: the loser's insert hits UNIQUE(app, openid) and it
    must use the winner's identity instead of failing or creating a second person."""
    from app.auth import services

    with db(app) as s:
        winner = f.create_person(s, name="微信用户")
        s.add(WechatIdentity(person_id=winner.id, app=WechatApp.mp, openid=openid_for("race")))
        winner_id = winner.id
    real = services._mp_identity
    calls = {"n": 0}

    def not_yet_visible(session, openid):
        calls["n"] += 1
        return None if calls["n"] == 1 else real(session, openid)

    monkeypatch.setattr(services, "_mp_identity", not_yet_visible)
    r = login(client, "user-race")
    assert r.status_code == 200, r.json
    assert r.json["person"]["id"] == winner_id and r.json["is_new"] is False
    with db(app) as s:
        assert s.scalar(select(func.count()).select_from(Person)) == 1
        assert s.scalar(select(AuditEntry).where(AuditEntry.action == "person.registered")) \
            is None


def test_disabled_person_cannot_log_in(client, app):
    first = login(client, "user-frank-1").json
    with db(app) as s:
        s.get(Person, first["person"]["id"]).is_active = False
    r = login(client, "user-frank-2")
    assert r.status_code == 403
    assert r.json["error"] == "account_disabled"
    # Existing tokens of a disabled person stop working too.
    assert client.get("/api/me", headers=bearer(first["token"])).status_code == 401


def test_login_attempts_are_rate_limited_per_address(client, fake_wechat, monkeypatch, frozen_limits):
    monkeypatch.setattr(ratelimit, "WX_LOGIN", ratelimit.Limit("wx-login", 3, 60))
    codes = [login(client, f"user-gina-{i}").status_code for i in range(5)]
    assert codes == [200, 200, 200, 429, 429]
    # The refused attempts never reached WeChat (code2session: 100/min per user).
    assert len(fake_wechat.calls("/sns/jscode2session")) == 3
    other = client.post("/api/auth/wx-login", json={"code": "user-hank"},
                        environ_base={"REMOTE_ADDR": "10.0.0.9"})
    assert other.status_code == 200


# --- tokens ------------------------------------------------------------------------------------

@pytest.mark.parametrize("header", [
    None,
    "Bearer ",
    "Bearer garbage-token",
    "Bearer " + "x" * 500,
    "Token abc",
])
def test_missing_or_garbage_tokens_are_401(client, header):
    login(client, "user-ivy")
    headers = {"Authorization": header} if header is not None else {}
    r = client.get("/api/me", headers=headers)
    assert r.status_code == 401
    assert r.json["error"] == "unauthorized"


def test_expired_token_is_401(client, app):
    token = login(client, "user-jack").json["token"]
    ttl = app.config["APP"].session_ttl_hours
    with time_machine.travel(utcnow() + timedelta(hours=ttl) - timedelta(minutes=1)):
        assert client.get("/api/me", headers=bearer(token)).status_code == 200
    with time_machine.travel(utcnow() + timedelta(hours=ttl, minutes=1)):
        assert client.get("/api/me", headers=bearer(token)).status_code == 401


def test_logout_revokes_the_token(client, app):
    token = login(client, "user-kate").json["token"]
    r = client.post("/api/auth/logout", headers=bearer(token))
    assert r.status_code == 200 and r.json == {"ok": True}
    assert client.get("/api/me", headers=bearer(token)).status_code == 401
    assert client.post("/api/auth/logout", headers=bearer(token)).status_code == 401
    with db(app) as s:
        row = s.scalar(select(LoginSession))
        assert row.revoked_at is not None
        assert s.scalar(select(AuditEntry).where(AuditEntry.action == "auth.logout"))


def test_a_staff_session_token_is_not_accepted_as_bearer(client, app):
    with db(app) as s:
        person = f.create_person(s, name="李四")
        staff_token, _ = open_session(s, person, SessionKind.staff, timedelta(hours=1))
        mp_token, _ = open_session(s, person, SessionKind.mp, timedelta(hours=1))
    assert client.get("/api/me", headers=bearer(staff_token)).status_code == 401
    assert client.get("/api/me", headers=bearer(mp_token)).status_code == 200


# --- /api/me -----------------------------------------------------------------------------------

def test_me_lists_roles_with_scopes_and_platforms(client, app):
    with db(app) as s:
        city = f.create_region(s, code="C", name="连云港市", kind="city")
        county = f.create_region(s, code="C1", name="东海县", kind="county", parent=city)
        town = f.create_region(s, code="C11", name="牛山街道", kind="subdistrict", parent=county)
        village = f.create_region(s, code="C111", name="新坝社区", kind="community", parent=town)
        me = f.create_person(s, name="赵六", phone="13812341234", home_region=village)
        f.assign_role(s, me, Role.member, region=county, member_level="county")
        room = f.create_platform(s, kind="room", host_type="town", region=town, convenor=me)
        linked = f.create_platform(s, kind="room", host_type="community", region=village)
        f.link_member(s, linked, me)
        token, _ = open_session(s, me, SessionKind.mp, timedelta(hours=1))
        ids = {"county": county.id, "room": room.id, "linked": linked.id, "village": village.id}
    r = client.get("/api/me", headers=bearer(token))
    assert r.status_code == 200, r.json
    body = r.json
    assert body["name"] == "赵六"
    assert body["phone_masked"] == "138****1234"
    assert body["home_region"] == {"id": ids["village"], "name": "新坝社区"}
    roles = {(x["role"], x["scope_type"], x["scope_id"]): x for x in body["roles"]}
    assert roles[("member", "region", ids["county"])]["label"] == "政协委员"
    assert roles[("member", "region", ids["county"])]["scope_name"] == "东海县"
    assert roles[("convenor", "platform", ids["room"])]["label"] == "召集人"
    assert roles[("resident", "region", ids["village"])]["implicit"] is True
    assert [(p["id"], p["relation"]) for p in body["platforms"]] == [
        (ids["room"], "convenor"), (ids["linked"], "member")]
    assert "13812341234" not in r.get_data(as_text=True)


def test_patch_me_sets_name_and_home_region(client, app):
    with db(app) as s:
        city = f.create_region(s, code="C", name="连云港市", kind="city")
        county = f.create_region(s, code="C1", name="东海县", kind="county", parent=city)
        county_id = county.id
    token = login(client, "user-lily").json["token"]
    r = client.patch("/api/me", json={"name": " 刘丽 ", "home_region_id": county_id},
                     headers=bearer(token))
    assert r.status_code == 200, r.json
    assert r.json["name"] == "刘丽"
    assert r.json["home_region"] == {"id": county_id, "name": "东海县"}
    resident = [x for x in r.json["roles"] if x["role"] == "resident"][0]
    assert resident["scope_id"] == county_id
    missing = client.patch("/api/me", json={"home_region_id": 999999}, headers=bearer(token))
    assert missing.status_code == 404
    blank = client.patch("/api/me", json={"name": "   "}, headers=bearer(token))
    assert blank.status_code == 422
    with db(app) as s:
        entry = s.scalar(select(AuditEntry).where(AuditEntry.action == "person.profile_updated"))
        assert entry.after == {"name": "刘丽", "home_region_id": county_id}
