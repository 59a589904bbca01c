"""Phone binding through the fake WeChat, including the merge with a person staff imported by
phone, and the conflicts that must refuse a merge."""
from __future__ import annotations

import json

import pytest

from sqlalchemy import func, select

from app.audit.models import AuditEntry
from app.auth.models import LoginSession
from app.crypto import get_cipher
from app.org import factories as f
from app.org.models import (
    Person, PlatformMember, Role, RoleAssignment, WechatApp, WechatIdentity,
)
from app.wechat.fake import unionid_for

from ..helpers import committed_session as db, bearer


def login(client, code):
    r = client.post("/api/auth/wx-login", json={"code": code})
    assert r.status_code == 200, r.json
    return r.json


def bind(client, token, code):
    return client.post("/api/auth/phone", json={"code": code}, headers=bearer(token))


def world(s):
    city = f.create_region(s, code="C", name="连云港市", kind="city")
    county = f.create_region(s, code="C1", name="东海县", kind="county", parent=city)
    town = f.create_region(s, code="C11", name="牛山街道", kind="subdistrict", parent=county)
    room = f.create_platform(s, kind="room", host_type="town", region=town)
    return county, town, room


def test_binding_a_new_phone_stores_it_encrypted_and_returns_it_masked(client, app):
    me = login(client, "user-amy")
    r = bind(client, me["token"], "phone-13812345678")
    assert r.status_code == 200, r.json
    assert r.json["phone_masked"] == "138****5678"
    assert r.json["merged"] is False
    assert r.json["person"]["id"] == me["person"]["id"]
    assert "13812345678" not in r.get_data(as_text=True)
    assert client.get("/api/me", headers=bearer(me["token"])).json["phone_masked"] \
        == "138****5678"
    with db(app) as s:
        person = s.get(Person, me["person"]["id"])
        assert b"13812345678" not in person.phone_enc
        assert get_cipher().decrypt(person.phone_enc) == "13812345678"
        assert person.phone_hash == get_cipher().lookup_hash("13812345678")
        entries = s.scalars(select(AuditEntry).where(AuditEntry.action == "person.phone_bound"))
        afters = [e.after for e in entries]
        assert afters == [{"phone": "138****5678", "replaced": False}]
        dump = json.dumps([(e.before, e.after) for e in s.scalars(select(AuditEntry))])
        assert "13812345678" not in dump


def test_binding_another_phone_replaces_the_first_and_frees_it(client, app):
    amy = login(client, "user-amy")
    assert bind(client, amy["token"], "phone-13812345678").status_code == 200
    r = bind(client, amy["token"], "phone-13700000001")
    assert r.status_code == 200 and r.json["phone_masked"] == "137****0001"
    # The first number is free again: another user binds it without any merge.
    ben = login(client, "user-ben")
    again = bind(client, ben["token"], "phone-13812345678-again")
    assert again.status_code == 200 and again.json["merged"] is False
    assert again.json["person"]["id"] == ben["person"]["id"]


def test_stale_or_reused_phone_code_is_400_not_401(client, fake_wechat):
    me = login(client, "user-amy")
    assert bind(client, me["token"], "phone-13812345678").status_code == 200
    reused = bind(client, me["token"], "phone-13812345678")
    assert reused.status_code == 400
    assert reused.json["error"] == "phone_code_invalid"
    assert reused.json["message"] == "手机号授权已失效，请重新授权"
    bad = bind(client, me["token"], "invalid-x")
    assert bad.status_code == 400


def test_wechat_down_while_binding_is_503(client, fake_wechat):
    me = login(client, "user-amy")
    fake_wechat.fail("/wxa/business/getuserphonenumber", -1)
    r = bind(client, me["token"], "phone-13812345678")
    assert r.status_code == 503 and r.json["error"] == "wechat_unavailable"


def test_binding_needs_a_login(client, fake_wechat):
    r = client.post("/api/auth/phone", json={"code": "phone-13812345678"})
    assert r.status_code == 401
    assert fake_wechat.calls("/wxa/business/getuserphonenumber") == []


def test_imported_member_gets_their_roles_on_first_login(client, app):
    """Staff imported the CPPCC member by phone before they ever opened the mini-program."""
    with db(app) as s:
        county, town, room = world(s)
        member = f.create_person(s, name="张委员", phone="13900001111", home_region=town)
        f.assign_role(s, member, Role.member, region=county, member_level="county")
        f.link_member(s, room, member)
        member_id, county_id, room_id = member.id, county.id, room.id
    fresh = login(client, "user-zhang")
    second_device = login(client, "user-zhang-2")["token"]
    fresh_id = fresh["person"]["id"]
    assert fresh_id != member_id

    r = bind(client, fresh["token"], "phone-13900001111")
    assert r.status_code == 200, r.json
    assert r.json["merged"] is True
    assert r.json["person"]["id"] == member_id
    assert r.json["person"]["name"] == "张委员"
    assert "member" in r.json["person"]["roles"]

    for token in (fresh["token"], second_device):
        me = client.get("/api/me", headers=bearer(token)).json
        assert me["id"] == member_id
        assert ("member", county_id) in {(x["role"], x["scope_id"]) for x in me["roles"]}
        assert [(p["id"], p["relation"]) for p in me["platforms"]] == [(room_id, "member")]
    # The next WeChat login lands on the member directly.
    assert login(client, "user-zhang-3")["person"]["id"] == member_id

    with db(app) as s:
        old = s.get(Person, fresh_id)
        assert old.is_active is False and old.phone_hash is None
        ident = s.scalar(select(WechatIdentity).where(WechatIdentity.app == WechatApp.mp))
        assert ident.person_id == member_id
        assert s.scalar(select(func.count()).select_from(LoginSession)
                        .where(LoginSession.person_id == fresh_id)) == 0
        merged = s.scalar(select(AuditEntry).where(AuditEntry.action == "person.merged"))
        assert merged.object_id == str(member_id)
        assert merged.before == {"person_id": fresh_id}
        assert merged.after["moved"]["wechat_identities.person_id"] == 1
        # History stays with who did it: the registration entry still names the old record.
        reg = s.scalar(select(AuditEntry).where(AuditEntry.action == "person.registered"))
        assert reg.actor_id == fresh_id


def test_merge_keeps_duplicates_with_the_old_record(client, app):
    """Rows that would break a unique constraint on the target stay behind; the rest move."""
    with db(app) as s:
        county, town, room = world(s)
        member = f.create_person(s, name="张委员", phone="13900001111")
        f.link_member(s, room, member)
        member_id, room_id, town_id = member.id, room.id, town.id
    fresh = login(client, "user-zhang")
    with db(app) as s:
        source = s.get(Person, fresh["person"]["id"])
        source.home_region_id = town_id
        f.link_member(s, s.get(type(room), room_id), source)       # duplicate: stays
        f.assign_role(s, source, Role.liaison, region=s.get(type(town), town_id))  # moves
    r = bind(client, fresh["token"], "phone-13900001111")
    assert r.status_code == 200 and r.json["merged"] is True
    with db(app) as s:
        assert s.scalar(select(func.count()).select_from(PlatformMember)
                        .where(PlatformMember.person_id == member_id)) == 1
        liaison = s.scalar(select(RoleAssignment).where(RoleAssignment.role == Role.liaison))
        assert liaison.person_id == member_id
        assert s.get(Person, member_id).home_region_id == town_id
        merged = s.scalar(select(AuditEntry).where(AuditEntry.action == "person.merged"))
        assert merged.after["kept_with_old_record"] == {"platform_members.person_id": 1}


def test_no_merge_when_the_phone_owner_already_has_another_mini_program_login(client, app):
    with db(app) as s:
        member = f.create_person(s, name="张委员", phone="13900001111")
        s.add(WechatIdentity(person_id=member.id, app=WechatApp.mp, openid="o_someone_else"))
        member_id = member.id
    fresh = login(client, "user-intruder")
    r = bind(client, fresh["token"], "phone-13900001111")
    assert r.status_code == 409
    assert r.json["error"] == "phone_bound_to_other_wechat"
    assert "联系工作人员" in r.json["message"]
    with db(app) as s:
        assert s.get(Person, fresh["person"]["id"]).is_active is True
        assert s.get(Person, fresh["person"]["id"]).phone_hash is None
        assert s.scalar(select(func.count()).select_from(WechatIdentity)
                        .where(WechatIdentity.person_id == member_id)) == 1
        assert s.scalar(select(AuditEntry).where(AuditEntry.action == "person.merged")) is None
    assert client.get("/api/me", headers=bearer(fresh["token"])).json["id"] \
        == fresh["person"]["id"]


def test_no_merge_when_the_unionids_differ(client, app):
    """The owner chats with the Official Account from a different WeChat user."""
    with db(app) as s:
        member = f.create_person(s, name="张委员", phone="13900001111")
        s.add(WechatIdentity(person_id=member.id, app=WechatApp.oa, openid="oa_other",
                             unionid=unionid_for("someone_else")))
    fresh = login(client, "user-intruder")
    r = bind(client, fresh["token"], "phone-13900001111")
    assert r.status_code == 409 and r.json["error"] == "phone_bound_to_other_wechat"


def test_merge_with_the_same_users_official_account_identity(client, app):
    """Same WeChat user on the Official Account but without unionid there: the verified phone
    links them (different apps, no unionid contradiction)."""
    with db(app) as s:
        member = f.create_person(s, name="张委员", phone="13900001111")
        s.add(WechatIdentity(person_id=member.id, app=WechatApp.oa, openid="oa_zhang"))
        member_id = member.id
    fresh = login(client, "user-zhang-nounion")
    r = bind(client, fresh["token"], "phone-13900001111")
    assert r.status_code == 200 and r.json["person"]["id"] == member_id
    with db(app) as s:
        apps = sorted(i.app.value for i in s.scalars(
            select(WechatIdentity).where(WechatIdentity.person_id == member_id)))
        assert apps == ["mp", "oa"]


def test_no_merge_into_a_disabled_person(client, app):
    with db(app) as s:
        member = f.create_person(s, name="张委员", phone="13900001111")
        member.is_active = False
    fresh = login(client, "user-zhang")
    r = bind(client, fresh["token"], "phone-13900001111")
    assert r.status_code == 403 and r.json["error"] == "account_disabled"


@pytest.mark.parametrize("grant", ["reviewer", "dept_handler", "staff", "admin", "console"])
def test_no_self_service_merge_into_a_privileged_person(client, app, grant):
    """A recycled or swapped phone number must not hand over a reviewer's, handler's, staff
    member's or administrator's account: 409 privileged_account, nothing moves."""
    with db(app) as s:
        county, _town, _room = world(s)
        officer = f.create_person(s, name="李科长", phone="13900002222")
        if grant == "console":
            from app.auth.staff import create_staff_account
            create_staff_account(s, person=officer, username="li_kz", password="Long-enough-9")
        elif grant == "reviewer":
            body = f.create_body(s, name="东海县委", kind="party_committee", region=county)
            f.assign_role(s, officer, Role.reviewer, body=body)
        else:
            f.assign_role(s, officer, grant, region=county)
        officer_id = officer.id
    fresh = login(client, "user-newcomer")
    r = bind(client, fresh["token"], "phone-13900002222")
    assert r.status_code == 409, r.json
    assert r.json["error"] == "privileged_account"
    assert "联系政协工作人员" in r.json["message"]
    with db(app) as s:
        assert s.get(Person, fresh["person"]["id"]).is_active is True
        assert s.get(Person, fresh["person"]["id"]).phone_hash is None
        assert s.scalar(select(func.count()).select_from(WechatIdentity)
                        .where(WechatIdentity.person_id == officer_id)) == 0
        assert s.scalar(select(AuditEntry).where(AuditEntry.action == "person.merged")) is None


def test_an_ended_privileged_role_does_not_block_the_merge(client, app):
    with db(app) as s:
        county, _town, _room = world(s)
        former = f.create_person(s, name="王委员", phone="13900003333")
        f.assign_role(s, former, Role.member, region=county)
        f.assign_role(s, former, Role.staff, region=county).is_active = False
        former_id = former.id
    fresh = login(client, "user-wang")
    r = bind(client, fresh["token"], "phone-13900003333")
    assert r.status_code == 200 and r.json["person"]["id"] == former_id
