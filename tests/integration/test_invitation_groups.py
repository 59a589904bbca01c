"""D9: who is invited, counted and checked in as 政协委员 — only a person holding an active
member role (by id, by phone, suggested, walk-in); 422 `group_mismatch` otherwise, nothing of the
batch stored (issue 10 item 3)."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from app.consultations.models import Invitation
from app.db import utcnow

from .. import consult_world
from ..consult_world import as_
from ..helpers import committed_session
from .test_meetings import complete_research, invite, schedule


@pytest.fixture
def world(app):
    return consult_world.build(app)


def invitations_by_person(app, cid) -> dict:
    with committed_session(app) as s:
        return {pid: g.value for pid, g in s.execute(select(
            Invitation.person_id, Invitation.group).where(Invitation.consultation_id == cid))}


@pytest.mark.parametrize("who", ["outsider", "conv_village", "handler", "rev_county_pg"])
def test_only_a_member_is_invited_as_a_member(client, app, world, who):
    """Issue 10 item 3 (D9): a person is invited as 政协委员 only if they hold the member role
    (no role, a convenor, a department handler, a reviewer: no); otherwise 422
    `group_mismatch`, in Chinese, and nothing of the batch is stored (D9 counts stay true)."""
    c = schedule(client, world).json
    r = invite(client, world, c["id"], [("resident2", "resident"), (who, "member")])
    assert r.status_code == 422 and r.json["error"] == "group_mismatch", r.json
    assert "未登记为政协委员" in r.json["message"] and "群众代表或利益相关方" in r.json["message"]
    assert invitations_by_person(app, c["id"]) == {}
    # The same person in a group the platform does not register: the convenor's judgement.
    assert invite(client, world, c["id"], [(who, "stakeholder")]).status_code == 200


def test_members_by_phone_must_be_registered_members(client, app, world):
    """By mobile number: an unknown number cannot be a member (nobody is registered for it, and
    nobody is created); a known non-member cannot either; a registered member can."""
    from app.org import factories as f
    from app.org.models import Person, Region, Role

    with committed_session(app) as s:
        county = s.scalar(select(Region).where(Region.name == "东县"))
        f.create_person(s, name="周阿姨", phone="13900006666")
        m = f.create_person(s, name="冯委员", phone="13900005555")
        f.assign_role(s, m, Role.member, region=county, member_level="county")
    c = schedule(client, world).json
    url, conv = f"/api/consultations/{c['id']}/invitations", as_(world, "conv_village")
    for phone, name in [("13900004444", "陌生人"), ("13900006666", "周阿姨")]:
        r = client.post(url, headers=conv, json={"invitees": [
            {"phone": phone, "name": name, "group": "member"}]})
        assert r.status_code == 422 and r.json["error"] == "group_mismatch", r.json
        assert "政协委员" in r.json["message"]
    with committed_session(app) as s:
        assert s.scalar(select(Person).where(Person.name == "陌生人")) is None
    r = client.post(url, headers=conv, json={"invitees": [
        {"phone": "139 0000 5555", "name": "冯委员", "group": "member"}]})
    assert r.status_code == 200, r.json
    assert [(i["name"], i["group_label"]) for i in r.json["invitations"]] == [("冯委员", "政协委员")]
    assert "尚未邀请政协委员" not in r.json["warnings"]
    # Leaders and department heads are not registered as such: new numbers are welcome.
    r = client.post(url, headers=conv, json={"invitees": [
        {"phone": "13900003333", "name": "何局长", "group": "department"},
        {"phone": "13900002222", "name": "许镇长", "group": "official"}]})
    assert r.status_code == 200, r.json


def test_a_former_member_is_neither_suggested_nor_invited_as_a_member(client, app, world):
    """A member whose role was ended (still linked to the platform) is no member: not suggested,
    not invitable as one, not counted for D9."""
    from app.org.models import Role, RoleAssignment

    with committed_session(app) as s:
        for ra in s.scalars(select(RoleAssignment).where(
                RoleAssignment.person_id == world["people"]["member"],
                RoleAssignment.role == Role.member)):
            ra.is_active = False
    c = schedule(client, world).json
    r = client.get(f"/api/consultations/{c['id']}/suggested-members",
                   headers=as_(world, "conv_village"))
    assert r.status_code == 200 and r.json["items"] == []
    r = invite(client, world, c["id"], [("member", "member")])
    assert r.status_code == 422 and r.json["error"] == "group_mismatch"
    r = invite(client, world, c["id"], [("member2", "member")])
    assert r.status_code == 200 and "尚未邀请政协委员" not in r.json["warnings"]


def test_walk_ins_are_counted_in_their_real_group(client, app, world):
    """On the meeting day the convenor marks a walk-in: as 政协委员 only a member (by person);
    someone known by name alone is never counted as a member."""
    import time_machine as tm

    start = (utcnow() + timedelta(days=1)).replace(microsecond=0)
    c = schedule(client, world, starts_at=start.isoformat(),
                 ends_at=(start + timedelta(hours=2)).isoformat()).json
    complete_research(client, world)
    url, conv = f"/api/consultations/{c['id']}/attendance", as_(world, "conv_village")
    with tm.travel(start, tick=False):
        for body in ({"person_id": world["people"]["outsider"], "group": "member"},
                     {"name": "自称委员", "group": "member"}):
            r = client.post(url, json=body, headers=conv)
            assert r.status_code == 422 and r.json["error"] == "group_mismatch", (body, r.json)
        r = client.post(url, json={"person_id": world["people"]["member2"], "group": "member"},
                        headers=conv)
        assert r.status_code == 200 and r.json["group"] == "member"
        assert client.get(url, headers=conv).json["by_group"] == {"member": 1}
