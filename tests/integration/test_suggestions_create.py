"""Proposing suggestions over HTTP: the four D7 sources decided by the server (resident →
proposed, member → recommended, campaign → solicited, Party committee / government → assigned),
their refusals, text rules, the proposer following their suggestion, audit and timeline; and
solicitation campaigns (create, list, detail)."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from app.audit.models import AuditEntry
from app.auth import ratelimit
from app.auth.current import open_session
from app.auth.models import SessionKind
from app.org import factories as f
from app.org.models import BodyKind, HostType, PlatformKind, Role, WechatApp, WechatIdentity
from app.org.services import today_local
from app.suggestions.models import Campaign, Follow, Suggestion, TimelineEntry
from app.wechat.fake_apis import openid_for

from ..helpers import bearer, committed_session

# Everyone who uses the mini-program has an mp openid (content safety needs it); "no_openid"
# is someone who came in through the staff console only.
PEOPLE = ["resident", "resident2", "member", "rev_town_pc", "rev_other_pc", "rev_village_po",
          "rev_county_gov", "staff", "other_staff", "conv_town", "conv_other", "no_openid"]


def build_world(app) -> dict:
    """A city with two counties; in the first a town with a village; a room in each; the town's
    Party committee, the county government, a village Party organisation (which may not assign),
    reviewers for each, county staff, convenors, a CPPCC member, two residents."""
    w: dict = {}
    with committed_session(app) as s:
        city, county, town, village = f.create_region_chain(
            s, code="8100", names=("测试市", "东县", "新坝镇", "前进村"))
        other_town = f.create_region(s, code="8101002", name="白塔镇", kind="township",
                                     parent=county)
        other_county = f.create_region(s, code="8102", name="西县", kind="county", parent=city)
        far_town = f.create_region(s, code="8102001", name="远山镇", kind="township",
                                   parent=other_county)
        bodies = {
            "town_pc": f.create_body(s, name="新坝镇党委", kind=BodyKind.party_committee,
                                     region=town),
            "other_pc": f.create_body(s, name="白塔镇党委", kind=BodyKind.party_committee,
                                      region=other_town),
            "village_po": f.create_body(s, name="前进村党总支", kind=BodyKind.party_org,
                                        region=village),
            "county_gov": f.create_body(s, name="东县人民政府", kind=BodyKind.government,
                                        region=county),
        }
        rooms = {
            "town": f.create_platform(s, kind=PlatformKind.room, host_type=HostType.town,
                                      region=town),
            "village": f.create_platform(s, kind=PlatformKind.room, host_type=HostType.village,
                                         region=village),
            "other_town": f.create_platform(s, kind=PlatformKind.room, host_type=HostType.town,
                                            region=other_town),
            "far": f.create_platform(s, kind=PlatformKind.room, host_type=HostType.town,
                                     region=far_town),
        }
        people = {}
        names = {"resident": "张居民", "resident2": "李群众", "member": "王委员",
                 "staff": "赵干事", "other_staff": "钱干事", "no_openid": "孙干部"}
        for key in PEOPLE:
            people[key] = f.create_person(s, name=names.get(key, f"测{key}"),
                                          phone=f"139{len(people):08d}", home_region=village)
        f.assign_role(s, people["member"], Role.member, region=county)
        f.assign_role(s, people["rev_town_pc"], Role.reviewer, body=bodies["town_pc"])
        f.assign_role(s, people["rev_other_pc"], Role.reviewer, body=bodies["other_pc"])
        f.assign_role(s, people["rev_village_po"], Role.reviewer, body=bodies["village_po"])
        f.assign_role(s, people["rev_county_gov"], Role.reviewer, body=bodies["county_gov"])
        f.assign_role(s, people["staff"], Role.staff, region=county)
        f.assign_role(s, people["other_staff"], Role.staff, region=other_county)
        f.set_convenor(s, rooms["town"], people["conv_town"])
        f.set_convenor(s, rooms["other_town"], people["conv_other"])
        for key, p in people.items():
            if key != "no_openid":
                s.add(WechatIdentity(person_id=p.id, app=WechatApp.mp,
                                     openid=openid_for(f"w{p.id}")))
        s.flush()
        w["tokens"] = {k: open_session(s, p, SessionKind.mp, timedelta(hours=1))[0]
                       for k, p in people.items()}
        w["people"] = {k: p.id for k, p in people.items()}
        w["rooms"] = {k: r.id for k, r in rooms.items()}
        w["bodies"] = {k: b.id for k, b in bodies.items()}
        w["regions"] = {"city": city.id, "county": county.id, "town": town.id,
                        "village": village.id, "other_town": other_town.id,
                        "other_county": other_county.id}
    return w


@pytest.fixture
def world(app, fake_wechat):
    return build_world(app)


def as_(world, who):
    return bearer(world["tokens"][who])


SUGGESTION = {"title": "小区停车位太少", "description": "晚上回来找不到车位，消防通道经常被占。",
              "category": "livelihood"}


def propose(client, world, who="resident", room="town", **extra):
    return client.post(f"/api/platforms/{world['rooms'][room]}/suggestions",
                       json={**SUGGESTION, **extra}, headers=as_(world, who))


def count(app, model) -> int:
    with committed_session(app) as s:
        return s.scalar(select(func.count()).select_from(model))


def add_campaign(app, world, *, room=None, region=None, opens=-1, closes=5) -> int:
    today = today_local()
    with committed_session(app) as s:
        c = Campaign(title="城区停车问题征集", description="请大家提建议",
                     platform_id=world["rooms"][room] if room else None,
                     region_id=world["regions"][region] if region else None,
                     opens_on=today + timedelta(days=opens),
                     closes_on=today + timedelta(days=closes),
                     created_by_id=world["people"]["staff"])
        s.add(c)
        s.flush()
        return c.id


# --- D7: the four sources ---------------------------------------------------------------------------

def test_resident_proposes_and_follows_it(client, app, world):
    r = propose(client, world)
    assert r.status_code == 201, r.json
    body = r.json
    assert body["source"] == "proposed" and body["source_label"] == "群众出题"
    assert body["state"] == "open" and body["notice"] is None
    assert body["category_label"] == "实事"
    assert body["is_mine"] is True and body["followed_by_me"] is True
    assert body["follower_count"] == 1
    assert body["proposer"] == "张**"
    with committed_session(app) as s:
        sug = s.get(Suggestion, body["id"])
        assert sug.proposer_id == world["people"]["resident"]
        assert sug.platform_id == world["rooms"]["town"]
        assert "自动审核：通过" in sug.moderation_note
        assert s.scalar(select(Follow.person_id).where(Follow.suggestion_id == sug.id)) \
            == world["people"]["resident"]
        entry = s.scalar(select(AuditEntry).where(AuditEntry.action == "suggestion.create"))
        assert entry.object_id == str(sug.id) and entry.actor_id == world["people"]["resident"]
        assert entry.after["source"] == "proposed" and entry.after["safety"] == "pass"
        kinds = list(s.scalars(select(TimelineEntry.kind).where(
            TimelineEntry.suggestion_id == sug.id)))
        assert kinds == ["published"]


def test_member_recommends_unless_speaking_as_a_resident(client, app, world):
    r = propose(client, world, "member")
    assert r.status_code == 201 and r.json["source"] == "recommended"
    assert r.json["source_label"] == "委员荐题"
    r = propose(client, world, "member", as_member=False, title="路灯不亮晚上很黑")
    assert r.status_code == 201 and r.json["source"] == "proposed"
    r = propose(client, world, "member", as_member=True, title="垃圾分类点太远")
    assert r.json["source"] == "recommended"


def test_a_resident_cannot_claim_to_be_a_member(client, app, world):
    r = propose(client, world, "resident", as_member=True)
    assert r.status_code == 403 and r.json["error"] == "not_a_member"
    assert count(app, Suggestion) == 0


def test_the_client_cannot_choose_the_source(client, app, world):
    r = propose(client, world, "resident", source="assigned")
    assert r.status_code == 422
    assert count(app, Suggestion) == 0


def test_solicited_through_an_open_campaign_on_the_platform_or_a_region_above(client, app,
                                                                            world):
    on_platform = add_campaign(app, world, room="town")
    on_county = add_campaign(app, world, region="county")
    r = propose(client, world, campaign_id=on_platform)
    assert r.status_code == 201, r.json
    assert r.json["source"] == "solicited" and r.json["campaign"]["id"] == on_platform
    # A region campaign covers every platform below it, e.g. a village room in the county.
    r = propose(client, world, "member", room="village", campaign_id=on_county)
    assert r.status_code == 201, r.json
    assert r.json["source"] == "solicited"  # the campaign wins over the member role


@pytest.mark.parametrize("opens,closes,code,status,words", [
    (-10, -1, "campaign_closed", 409, "已结束"),
    (3, 10, "campaign_not_open", 409, "尚未开始"),
])
def test_a_campaign_outside_its_dates_refuses(client, app, world, opens, closes, code, status,
                                              words):
    cid = add_campaign(app, world, room="town", opens=opens, closes=closes)
    r = propose(client, world, campaign_id=cid)
    assert r.status_code == status and r.json["error"] == code
    assert words in r.json["message"]
    assert count(app, Suggestion) == 0


def test_a_campaign_open_today_only_is_open(client, app, world):
    cid = add_campaign(app, world, room="town", opens=0, closes=0)
    assert propose(client, world, campaign_id=cid).status_code == 201


@pytest.mark.parametrize("scope", [{"room": "other_town"}, {"region": "other_county"},
                                   {"region": "other_town"}])
def test_a_campaign_that_does_not_cover_the_platform_refuses(client, app, world, scope):
    cid = add_campaign(app, world, **scope)
    r = propose(client, world, room="town", campaign_id=cid)
    assert r.status_code == 422 and r.json["error"] == "campaign_out_of_scope"
    assert "征集范围" in r.json["message"]
    assert count(app, Suggestion) == 0


def test_an_unknown_campaign_is_404(client, app, world):
    r = propose(client, world, campaign_id=999)
    assert r.status_code == 404 and r.json["error"] == "campaign_not_found"


@pytest.mark.parametrize("who,body,room", [
    ("rev_town_pc", "town_pc", "town"),          # the town's Party committee, a town room
    ("rev_town_pc", "town_pc", "village"),       # ... and a village room in the town
    ("rev_county_gov", "county_gov", "other_town"),  # the county government, anywhere in it
    ("staff", "county_gov", "town"),             # CPPCC staff acting for the government
])
def test_assigned_by_a_party_committee_or_government(client, app, world, who, body, room):
    r = propose(client, world, who, room=room, assigned_by_body_id=world["bodies"][body])
    assert r.status_code == 201, r.json
    assert r.json["source"] == "assigned" and r.json["source_label"] == "党委政府点题"
    with committed_session(app) as s:
        assert s.get(Suggestion, r.json["id"]).assigned_by_body_id == world["bodies"][body]
    assert r.json["assigned_by"] in ("新坝镇党委", "东县人民政府")


@pytest.mark.parametrize("who,body,room,status,code", [
    ("resident", "town_pc", "town", 403, "not_allowed_to_assign"),
    ("member", "town_pc", "town", 403, "not_allowed_to_assign"),
    ("conv_town", "town_pc", "town", 403, "not_allowed_to_assign"),
    ("rev_other_pc", "town_pc", "town", 403, "not_allowed_to_assign"),  # another body's reviewer
    ("other_staff", "county_gov", "town", 403, "not_allowed_to_assign"),  # staff out of reach
    ("rev_other_pc", "other_pc", "town", 422, "assign_out_of_scope"),  # its own body, wrong town
    ("rev_village_po", "village_po", "village", 404, "body_not_found"),  # not a committee/gov
])
def test_assigning_is_refused_to_everyone_else(client, app, world, who, body, room, status,
                                               code):
    r = propose(client, world, who, room=room, assigned_by_body_id=world["bodies"][body])
    assert r.status_code == status and r.json["error"] == code, r.json
    assert count(app, Suggestion) == 0


def test_assigned_and_campaign_are_exclusive(client, app, world):
    cid = add_campaign(app, world, room="town")
    r = propose(client, world, "rev_town_pc", campaign_id=cid,
                assigned_by_body_id=world["bodies"]["town_pc"])
    assert r.status_code == 422 and r.json["error"] == "source_conflict"


# --- text rules and other refusals ------------------------------------------------------------------

@pytest.mark.parametrize("change,field", [
    ({"title": "  停车  "}, "title"),                     # 2 characters once stripped
    ({"title": "停" * 61}, "title"),
    ({"title": "停车位\u0007太少"}, "title"),               # a control character
    ({"title": "停车位\n太少了"}, "title"),                 # no line break in a title
    ({"title": "停车位\u202e太少了"}, "title"),             # a bidi override
    ({"description": "第一行\x00第二行"}, "description"),
    ({"description": "长" * 5001}, "description"),
    ({"category": "urgent"}, "category"),
    ({"latitude": 34.6}, "location"),
    ({"latitude": 95, "longitude": 119.2}, "latitude"),
    ({"attachment_ids": list(range(1, 11))}, "attachment_ids"),
])
def test_bad_input_is_refused_in_chinese(client, app, world, change, field):
    r = propose(client, world, **change)
    assert r.status_code == 422, r.json
    assert field in r.json["message"] or field in str(r.json.get("details")) \
        or "经度" in r.json["message"]
    assert not any("a" <= ch <= "z" for ch in r.json["message"].split("：")[-1])
    assert count(app, Suggestion) == 0


def test_text_is_stripped_and_line_breaks_kept(client, app, world):
    r = propose(client, world, title="  小区停车位太少  ", description="  第一行\r\n第二行\t说明  ")
    assert r.status_code == 201
    assert r.json["title"] == "小区停车位太少"
    assert r.json["description"] == "第一行\n第二行\t说明"


def test_location_is_stored(client, app, world):
    r = propose(client, world, address="新坝镇人民路 12 号", latitude=34.6, longitude=119.2)
    assert r.status_code == 201
    assert (r.json["address"], r.json["latitude"], r.json["longitude"]) == \
        ("新坝镇人民路 12 号", 34.6, 119.2)


def test_login_required_and_unknown_platform(client, app, world):
    assert client.post(f"/api/platforms/{world['rooms']['town']}/suggestions",
                       json=SUGGESTION).status_code == 401
    r = client.post("/api/platforms/9999/suggestions", json=SUGGESTION,
                    headers=as_(world, "resident"))
    assert r.status_code == 404 and r.json["error"] == "platform_not_found"


def test_inactive_platform_takes_no_suggestions(client, app, world):
    from app.org.models import Platform

    with committed_session(app) as s:
        s.get(Platform, world["rooms"]["town"]).is_active = False
    assert propose(client, world).status_code == 404


def test_per_person_rate_limit(client, app, world, monkeypatch):
    from app.suggestions import routes

    monkeypatch.setattr(routes, "SUGGEST_LIMIT", ratelimit.Limit("suggestion-create", 2, 3600))
    assert propose(client, world, title="第一条建议内容").status_code == 201
    assert propose(client, world, title="第二条建议内容").status_code == 201
    r = propose(client, world, title="第三条建议内容")
    assert r.status_code == 429 and r.json["error"] == "rate_limited"
    assert propose(client, world, "resident2", title="别人不受影响").status_code == 201
    assert count(app, Suggestion) == 3


# --- campaigns ---------------------------------------------------------------------------------------

def campaign_body(**extra):
    today = today_local()
    return {"title": "老旧小区改造意见征集", "description": "请就改造内容提出建议。",
            "opens_on": today.isoformat(), "closes_on": (today + timedelta(days=30)).isoformat(),
            **extra}


def test_staff_and_convenors_create_campaigns_within_their_reach(client, app, world):
    r = client.post("/api/campaigns", json=campaign_body(region_id=world["regions"]["county"]),
                    headers=as_(world, "staff"))
    assert r.status_code == 201, r.json
    assert r.json["region"] == {"id": world["regions"]["county"], "name": "东县"}
    assert r.json["status"] == "open" and r.json["status_label"] == "征集中"
    r = client.post("/api/campaigns", json=campaign_body(platform_id=world["rooms"]["town"]),
                    headers=as_(world, "conv_town"))
    assert r.status_code == 201 and r.json["platform"]["id"] == world["rooms"]["town"]
    with committed_session(app) as s:
        assert s.scalar(select(func.count()).select_from(AuditEntry).where(
            AuditEntry.action == "campaign.create")) == 2


@pytest.mark.parametrize("who,scope,status", [
    ("conv_town", {"platform_id": "other_town"}, 404),   # another platform
    ("conv_town", {"region_id": "town"}, 404),           # convenors: own platform only
    ("other_staff", {"region_id": "county"}, 404),        # another county's staff
    ("resident", {"platform_id": "town"}, 403),
    ("member", {"platform_id": "town"}, 403),
])
def test_campaign_creation_refused_outside_reach(client, app, world, who, scope, status):
    (name, key), = scope.items()
    value = world["rooms"][key] if name == "platform_id" else world["regions"][key]
    r = client.post("/api/campaigns", json=campaign_body(**{name: value}),
                    headers=as_(world, who))
    assert r.status_code == status, r.json
    assert count(app, Campaign) == 0


@pytest.mark.parametrize("change,code", [
    ({"closes_on": "2000-01-01", "opens_on": "2000-01-02"}, "campaign_dates"),
    ({"opens_on": "2000-01-01", "closes_on": "2000-01-31"}, "campaign_dates"),  # already over
    ({"platform_id": None}, "campaign_scope"),
])
def test_campaign_input_rules(client, app, world, change, code):
    body = {**campaign_body(platform_id=world["rooms"]["town"]), **change}
    body = {k: v for k, v in body.items() if v is not None}
    r = client.post("/api/campaigns", json=body, headers=as_(world, "staff"))
    assert r.status_code == 422 and r.json["error"] == code


def test_public_campaign_lists_by_platform_and_region(client, app, world):
    town = add_campaign(app, world, room="town")
    village = add_campaign(app, world, room="village")
    county = add_campaign(app, world, region="county")
    other = add_campaign(app, world, room="other_town")
    far = add_campaign(app, world, region="other_county")
    add_campaign(app, world, room="village", opens=-9, closes=-1)   # over
    add_campaign(app, world, room="village", opens=2, closes=9)     # not yet

    def ids(url):
        r = client.get(url)
        assert r.status_code == 200
        return {c["id"] for c in r.json["items"]}

    assert ids(f"/api/campaigns?platform_id={world['rooms']['village']}") == {village, county}
    assert ids(f"/api/campaigns?region_id={world['regions']['town']}") == {town, village, county}
    assert ids(f"/api/campaigns?region_id={world['regions']['other_county']}") == {far}
    assert ids("/api/campaigns") == {town, village, county, other, far}


def test_campaign_detail_counts_public_suggestions(client, app, world):
    cid = add_campaign(app, world, room="town")
    assert propose(client, world, campaign_id=cid).status_code == 201
    r = client.get(f"/api/campaigns/{cid}")
    assert r.status_code == 200 and r.json["suggestion_count"] == 1
    assert client.get("/api/campaigns/999").status_code == 404
    old = add_campaign(app, world, room="town", opens=-9, closes=-1)
    assert client.get(f"/api/campaigns/{old}").json["status_label"] == "已结束"
