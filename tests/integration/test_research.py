"""Research on an approved topic (D11–D13): tasks, notes, completion, the D12 alert to the
approving Party committee (once), D13 links, and who may do what."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from app.notify.models import OutboxMessage
from app.topics import services as topics
from app.topics.models import Category, Source

from .. import consult_world
from ..consult_world import as_
from ..helpers import committed_session


@pytest.fixture
def world(app):
    return consult_world.build(app)


def add(client, world, who="conv_village", topic="village", **body):
    return client.post(f"/api/topics/{world['topics'][topic]}/research",
                       json={"kind": "facts", "title": "走访加装电梯的楼栋", **body},
                       headers=as_(world, who))


def alerts(app) -> list[OutboxMessage]:
    with committed_session(app) as s:
        return list(s.scalars(select(OutboxMessage).where(OutboxMessage.kind == "research_alert")))


def test_convenor_plans_research_assignee_records_and_completes(client, app, world):
    r = add(client, world, assignee_id=world["people"]["member"], link_kind="proposal",
            link_ref="东政协提〔2026〕15号")
    assert r.status_code == 201, r.json
    task = r.json
    assert (task["kind_label"], task["state"], task["link_label"]) == ("摸清实情", "open", "提案办理")
    # The assigned member writes the notes; completing needs them.
    empty = client.post(f"/api/research/{task['id']}/complete", headers=as_(world, "member"))
    assert empty.status_code == 422 and empty.json["error"] == "research_notes_required"
    listing = client.get(f"/api/topics/{world['topics']['village']}/research",
                         headers=as_(world, "conv_village")).json
    assert listing["has_completed"] is False
    r = client.patch(f"/api/research/{task['id']}", json={"notes": "共走访 6 栋楼，4 栋同意出资。"},
                     headers=as_(world, "member"))
    assert r.status_code == 200 and r.json["notes"].startswith("共走访")
    done = client.post(f"/api/research/{task['id']}/complete", headers=as_(world, "member"))
    assert done.status_code == 200 and done.json["state"] == "completed"
    listing = client.get(f"/api/topics/{world['topics']['village']}/research",
                         headers=as_(world, "conv_village")).json
    assert listing["has_completed"] is True and len(listing["items"]) == 1
    again = client.patch(f"/api/research/{task['id']}", json={"notes": "改"},
                         headers=as_(world, "member"))
    assert again.status_code == 409 and again.json["error"] == "research_completed"


def test_d12_sensitive_finding_alerts_the_approving_party_committee_once(client, app, world):
    task = add(client, world).json
    for _ in range(3):  # saved again and again: one alert per reviewer, not three
        r = client.patch(f"/api/research/{task['id']}",
                         json={"notes": "有住户强烈反对", "is_sensitive": True},
                         headers=as_(world, "conv_village"))
        assert r.status_code == 200
    assert r.json["escalated_at"] is not None
    sent = alerts(app)
    # The village room's topic was approved by the town Party committee (D8 approve step).
    assert [m.recipient_id for m in sent] == [world["people"]["rev_town_pc"]]
    assert "敏感问题" in sent[0].body
    r = client.patch(f"/api/research/{task['id']}", json={"is_long_standing": True},
                     headers=as_(world, "conv_village"))
    assert r.status_code == 200 and len(alerts(app)) == 1


def test_sector_topic_alerts_the_cppcc_party_group_that_approved_it(client, app, world):
    task = add(client, world, who="conv_sector", topic="sector").json
    client.patch(f"/api/research/{task['id']}", json={"is_long_standing": True},
                 headers=as_(world, "conv_sector"))
    assert [m.recipient_id for m in alerts(app)] == [world["people"]["rev_county_pg"]]
    assert "长期未解决的难题" in alerts(app)[0].body


def test_research_waits_for_approval(client, app, world):
    with committed_session(app) as s:
        from app.org.models import Person
        convenor = s.get(Person, world["people"]["conv_town"])
        draft = topics.create_topic(s, actor=convenor, platform_id=world["rooms"]["town"],
                                    title="草稿议题", description="说明",
                                    category=Category.major, source=Source.proposed)
        s.flush()
        draft_id = draft.id
    r = client.post(f"/api/topics/{draft_id}/research", json={"kind": "policy", "title": "查政策"},
                    headers=as_(world, "conv_town"))
    assert r.status_code == 409 and r.json["error"] == "topic_not_approved"


@pytest.mark.parametrize("who, status", [
    ("conv_town", 404),     # another platform's convenor: the topic does not exist for them
    ("resident", 404),
    ("other_member", 404),
    ("county_staff", 201),  # CPPCC staff of the county
])
def test_who_may_add_research(client, world, who, status):
    assert add(client, world, who=who).status_code == status


def test_only_the_assignee_or_a_manager_writes_the_notes(client, world):
    task = add(client, world, assignee_id=world["people"]["member"]).json
    r = client.patch(f"/api/research/{task['id']}", json={"notes": "冒名填写"},
                     headers=as_(world, "member2"))
    assert r.status_code == 404  # not the assignee and outside the topic: it does not exist
    r = client.patch(f"/api/research/{task['id']}", json={"notes": "x"},
                     headers=as_(world, "conv_town"))
    assert r.status_code == 404


@pytest.mark.parametrize("body, field", [
    ({"kind": "gossip", "title": "走访"}, "kind"),
    ({"kind": "facts", "title": "  "}, "title"),
    ({"kind": "facts", "title": "走访", "link_kind": "proposal"}, None),
    ({"kind": "facts", "title": "走访", "assignee_id": 2**40}, "assignee_id"),
])
def test_bad_research_input(client, app, world, body, field):
    r = client.post(f"/api/topics/{world['topics']['village']}/research", json=body,
                    headers=as_(world, "conv_village"))
    assert r.status_code == 422, r.json
    if field:
        assert r.json["details"][0]["field"] == field
    else:
        assert r.json["error"] == "research_link_incomplete"
    with committed_session(app) as s:
        from app.consultations.models import ResearchTask
        assert s.scalar(select(func.count()).select_from(ResearchTask)) == 0


def test_photos_of_the_research(client, app, world):
    import io

    from ..unit.test_uploads_sniff import make_jpeg, make_png

    def upload(who, data):
        r = client.post("/api/uploads", headers=as_(world, who),
                        data={"file": (io.BytesIO(data), "p.jpg", "image/jpeg")},
                        content_type="multipart/form-data")
        assert r.status_code == 201, r.json
        return r.json["id"]

    task = add(client, world).json
    mine = [upload("conv_village", make_jpeg()), upload("conv_village", make_png())]
    theirs = upload("resident", make_png())
    r = client.post(f"/api/research/{task['id']}/photos", json={"attachment_ids": [theirs]},
                    headers=as_(world, "conv_village"))
    assert r.status_code == 422 and r.json["error"] == "attachment_unavailable"
    r = client.post(f"/api/research/{task['id']}/photos", json={"attachment_ids": mine},
                    headers=as_(world, "conv_village"))
    assert r.status_code == 200 and [p["id"] for p in r.json["photos"]] == mine
    assert client.get(r.json["photos"][0]["url"]).status_code == 200
    # Used once: neither a second research record nor a suggestion can take them again.
    again = client.post(f"/api/research/{task['id']}/photos", json={"attachment_ids": mine[:1]},
                        headers=as_(world, "conv_village"))
    assert again.status_code == 422
    listing = client.get(f"/api/topics/{world['topics']['village']}/research",
                         headers=as_(world, "conv_village")).json
    assert len(listing["items"][0]["photos"]) == 2
    # The nightly purge leaves research photos alone, however old.
    from datetime import timedelta

    from app.suggestions.models import Attachment
    from scheduler.jobs import JOBS, run_job
    with committed_session(app) as s:
        for a in s.scalars(select(Attachment)):
            a.created_at = a.created_at - timedelta(days=3)
    run_job(app, next(j for j in JOBS if j.id == "purge_orphan_uploads"))
    with committed_session(app) as s:
        left = set(s.scalars(select(Attachment.id)))
    assert left == set(mine)  # the resident's unused upload went, the research photos stayed
