"""D24: CPPCC staff flag key and difficult items and name members to track them; the members
see their items (department, due date, overdue by how many working days) and add supervision
notes with photos; staff see the overdue items of their jurisdiction."""
from __future__ import annotations

import io
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from app.audit.models import AuditEntry
from app.followup.models import ItemSupervisor, ItemTrack, SupervisionNote
from app.notify.models import OutboxMessage
from app.org.services import today_local
from app.suggestions.models import Attachment
from app.workdays import add_workdays, workdays_between

from .. import consult_world, followup_world, handling_world
from ..helpers import committed_session
from ..unit.test_uploads_sniff import make_png

as_ = consult_world.as_


@pytest.fixture
def world(app):
    return handling_world.build(app)


@pytest.fixture
def items(app, world):
    routed = followup_world.routed_list(app, world, room="village",
                                        items=[("村口道路坑洼，建议年内修缮", "local"),
                                               ("增设路灯", "local")])
    start = today_local() - timedelta(days=40)
    world["late_task"] = handling_world.assign(app, world, routed["item_ids"][0],
                                               assigned_on=start)
    world["due"] = add_workdays(start, 5)
    return routed["item_ids"]


def flag(client, world, item_id, who="county_staff", reason="群众反映强烈，涉及安全",
         members=("member",)):
    return client.post(f"/api/opinion-items/{item_id}/supervision", headers=as_(world, who),
                       json={"reason": reason,
                             "member_ids": [world["people"][m] for m in members]})


def test_staff_flag_an_item_and_the_named_members_track_it(app, client, world, items):
    r = flag(client, world, items[0])
    assert r.status_code == 200, r.get_json()
    assert (r.get_json()["is_key"], r.get_json()["key_reason"]) == (True, "群众反映强烈，涉及安全")
    assert flag(client, world, items[0]).status_code == 200  # replay
    with committed_session(app) as s:
        track = s.scalar(select(ItemTrack).where(ItemTrack.item_id == items[0]))
        assert track.is_key and track.flagged_by_id == world["people"]["county_staff"]
        assert s.scalar(select(func.count()).select_from(ItemSupervisor)) == 1
        told = s.scalars(select(OutboxMessage.recipient_id).where(
            OutboxMessage.dedupe_key.like(f"%supervise:{items[0]}%"))).all()
        assert told == [world["people"]["member"]]
        assert s.scalar(select(func.count()).select_from(AuditEntry).where(
            AuditEntry.action == "supervision.flag")) == 1

    mine = client.get("/api/me/supervision", headers=as_(world, "member")).get_json()["items"]
    assert len(mine) == 1
    row = mine[0]
    assert (row["item_id"], row["item_text"], row["department"], row["state_label"]) == (
        items[0], "村口道路坑洼，建议年内修缮", "东县住房和城乡建设局", "办理中")
    assert row["topic_title"] == "village议题：加装电梯"
    assert (row["due_on"], row["overdue"], row["workdays_overdue"]) == (
        world["due"].isoformat(), True, workdays_between(world["due"], today_local()))
    assert client.get("/api/me/supervision",
                      headers=as_(world, "member2")).get_json()["items"] == []


def test_only_members_can_be_named_and_only_staff_within_reach_flag(client, world, items):
    r = flag(client, world, items[0], members=("resident",))
    assert (r.status_code, r.get_json()["error"]) == (422, "not_a_member")
    assert flag(client, world, items[0], who="member").status_code == 403
    assert flag(client, world, items[0], reason=" ").status_code == 422
    assert flag(client, world, 999999).status_code == 404


def test_named_members_add_notes_with_photos_others_get_404(app, client, world, items):
    flag(client, world, items[0])
    photo = client.post("/api/uploads", headers=as_(world, "member"),
                        data={"file": (io.BytesIO(make_png()), "a.png", "image/png")},
                        content_type="multipart/form-data").get_json()["key"]
    note = {"text": "实地察看：主路段已修补，支路仍有坑洼", "upload_keys": [photo]}
    path = f"/api/opinion-items/{items[0]}/supervision-notes"
    r = client.post(path, headers=as_(world, "member"), json=note)
    assert r.status_code == 200, r.get_json()
    again = client.post(path, headers=as_(world, "member"), json=note)
    assert again.status_code == 200 and again.get_json() == r.get_json()
    notes = r.get_json()["notes"]
    assert [(n["text"], n["author_name"], len(n["photos"])) for n in notes] == [
        (note["text"], "钱委员", 1)]
    for who in ("member2", "resident", "handler"):
        r = client.post(path, headers=as_(world, who), json={"text": "我也来看看"})
        assert (r.status_code, r.get_json()["error"]) == (404, "item_not_found"), who
    with committed_session(app) as s:
        assert s.scalar(select(func.count()).select_from(SupervisionNote)) == 1
        assert s.scalar(select(func.count()).select_from(Attachment).where(
            Attachment.supervision_note_id.is_not(None))) == 1


def test_staff_see_overdue_items_of_their_jurisdiction(app, client, world, items):
    handling_world.assign(app, world, items[1], workdays=200)
    rows = client.get("/api/handling/overdue", headers=as_(world, "county_staff"))
    assert rows.status_code == 200, rows.get_json()
    got = rows.get_json()["items"]
    assert [(r["item_id"], r["task_id"], r["overdue"]) for r in got] == [
        (items[0], world["late_task"], True)]
    assert client.get("/api/handling/overdue", headers=as_(world, "member")).status_code == 403
    # Staff of another county see none of it, and cannot flag it (404).
    with committed_session(app) as s:
        from app.auth.current import open_session
        from app.auth.models import SessionKind
        from app.org import factories as f
        from app.org.models import Person, Role

        other = f.create_person(s, name="西县政协工作人员")
        region = s.get(Person, world["people"]["other_member"]).roles[0].region
        f.assign_role(s, other, Role.staff, region=region)
        s.flush()
        world["tokens"]["other_staff"] = open_session(s, other, SessionKind.mp,
                                                      timedelta(days=1))[0]
    assert client.get("/api/handling/overdue",
                      headers=as_(world, "other_staff")).get_json()["items"] == []
    assert flag(client, world, items[0], who="other_staff").status_code == 404


def test_only_members_of_a_cppcc_over_the_platform_are_named_and_only_while_in_office(
        app, client, world, items):
    """D24/D29: the members who track an item belong to a CPPCC over its platform (this county's
    or the city's) — another county's member is refused and sees nothing; a member whose role
    ended no longer sees the item or adds notes."""
    from app.org.models import RoleAssignment, Role

    r = flag(client, world, items[0], members=("other_member",))
    assert (r.status_code, r.get_json()["error"]) == (422, "not_a_member")
    mine = client.get("/api/me/supervision", headers=as_(world, "other_member")).get_json()
    assert mine["items"] == []
    assert flag(client, world, items[0], members=("member", "member2")).status_code == 200
    with committed_session(app) as s:
        role = s.scalar(select(RoleAssignment).where(
            RoleAssignment.person_id == world["people"]["member2"],
            RoleAssignment.role == Role.member))
        role.is_active = False
    assert client.get("/api/me/supervision", headers=as_(world, "member2")).get_json()["items"] == []
    r = client.post(f"/api/opinion-items/{items[0]}/supervision-notes",
                    headers=as_(world, "member2"), json={"text": "卸任后补记"})
    assert (r.status_code, r.get_json()["error"]) == (404, "item_not_found")
    assert len(client.get("/api/me/supervision", headers=as_(world, "member"))
               .get_json()["items"]) == 1
