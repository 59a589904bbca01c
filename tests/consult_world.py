"""A small city for the consultation tests: every body D8 and D18 need, with a reviewer each;
a town room, a village room and a sector room with convenors; CPPCC members (one of another
county), residents, a stakeholder, an official and a department handler; and an approved topic
on each room (approved through the real D8 services)."""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from app.auth.current import open_session
from app.auth.models import SessionKind
from app.org import factories as f
from app.org.models import BodyKind, HostType, Person, PlatformKind, Role
from app.topics import services as topics
from app.topics.models import ApprovalStep, Category, Source, StepState

from .helpers import bearer, committed_session

BODIES = {
    # key: (name, kind, region key)
    "city_pc": ("海州市委", BodyKind.party_committee, "city"),
    "city_gov": ("海州市政府", BodyKind.government, "city"),
    "city_pg": ("海州市政协党组", BodyKind.cppcc_party_group, "city"),
    "county_pc": ("东县县委", BodyKind.party_committee, "county"),
    "county_gov": ("东县县政府", BodyKind.government, "county"),
    "county_cppcc": ("东县政协", BodyKind.cppcc, "county"),
    "county_pg": ("东县政协党组", BodyKind.cppcc_party_group, "county"),
    "special": ("东县政协社会法制委员会", BodyKind.cppcc_special_committee, "county"),
    "housing": ("东县住房和城乡建设局", BodyKind.department, "county"),
    "town_pc": ("新坝镇党委", BodyKind.party_committee, "town"),
    "village_po": ("前进村党总支", BodyKind.party_org, "village"),
    "community_po": ("新坝社区党委", BodyKind.party_org, "community"),
    "other_pc": ("西县县委", BodyKind.party_committee, "other_county"),
}


def approve_topic(s, topic_id: int, reviewers: dict[int, Person]) -> None:
    """Walk the topic's chain: each pending step approved by the reviewer of its body."""
    while True:
        step = s.scalar(select(ApprovalStep).where(ApprovalStep.topic_id == topic_id,
                                                   ApprovalStep.state == StepState.pending))
        if step is None:
            return
        topics.act_on_step(s, actor=reviewers[step.body_id], topic_id=topic_id,
                           step_id=step.id, approve=True, note=None)
        s.flush()


def build(app) -> dict:
    w: dict = {}
    with committed_session(app) as s:
        city, county, town, village = f.create_region_chain(
            s, code="9100", names=("海州市", "东县", "新坝镇", "前进村"))
        other_county = f.create_region(s, code="9102", name="西县", kind="county", parent=city)
        community = f.create_region(s, code="9101001002", name="新坝社区", kind="community",
                                    parent=town)
        regions = {"city": city, "county": county, "town": town, "village": village,
                   "community": community, "other_county": other_county}
        bodies = {k: f.create_body(s, name=n, kind=kind, region=regions[r])
                  for k, (n, kind, r) in BODIES.items()}
        factory = f.create_enterprise(s, name="新坝电梯厂", region=town)
        bodies["factory_po"] = f.create_body(s, name="新坝电梯厂党支部", kind=BodyKind.party_org,
                                             region=town, enterprise=factory)
        sector = f.create_sector(s, name="社会福利和社会保障界", region=county,
                                 special_committee=bodies["special"])
        rooms = {
            "town": f.create_platform(s, kind=PlatformKind.room, host_type=HostType.town,
                                      region=town),
            "village": f.create_platform(s, kind=PlatformKind.room, host_type=HostType.village,
                                         region=village),
            "sector": f.create_platform(s, kind=PlatformKind.room, host_type=HostType.sector,
                                        sector=sector),
            "community": f.create_platform(s, kind=PlatformKind.room,
                                           host_type=HostType.community, region=community),
            "enterprise": f.create_platform(s, kind=PlatformKind.room,
                                            host_type=HostType.enterprise, enterprise=factory),
        }
        people: dict[str, Person] = {}
        reviewers: dict[int, Person] = {}
        for key, body in bodies.items():
            p = f.create_person(s, name=f"审核{body.name}")
            f.assign_role(s, p, Role.reviewer, body=body)
            people[f"rev_{key}"], reviewers[body.id] = p, p
        for key, room in rooms.items():
            p = f.create_person(s, name=f"召集人{key}")
            f.set_convenor(s, room, p)
            people[f"conv_{key}"] = p
        for key, name, region in [("member", "钱委员", county), ("member2", "孙委员", county),
                                  ("other_member", "李委员", other_county)]:
            p = f.create_person(s, name=name, home_region=village)
            f.assign_role(s, p, Role.member, region=region, member_level="county")
            people[key] = p
        f.link_member(s, rooms["village"], people["member"])
        for key, name in [("resident", "张居民"), ("resident2", "王大爷"),
                          ("stakeholder", "赵店主"), ("official", "周镇长"),
                          ("outsider", "吴路人")]:
            people[key] = f.create_person(s, name=name, home_region=village)
        people["handler"] = f.create_person(s, name="郑科长")
        f.assign_role(s, people["handler"], Role.dept_handler, body=bodies["housing"])
        people["county_staff"] = f.create_person(s, name="县政协工作人员")
        f.assign_role(s, people["county_staff"], Role.staff, region=county)
        s.flush()

        topic_ids = {}
        for key, room in rooms.items():
            convenor = people[f"conv_{key}"]
            topic = topics.create_topic(
                s, actor=convenor, platform_id=room.id, title=f"{key}议题：加装电梯",
                description="老旧小区加装电梯的出资和维护办法", category=Category.livelihood,
                source=Source.proposed)
            topics.submit_topic(s, actor=convenor, topic_id=topic.id)
            s.flush()
            approve_topic(s, topic.id, reviewers)
            topic_ids[key] = topic.id

        # Valid for a month: the meeting tests travel in time to the meeting day.
        w["tokens"] = {k: open_session(s, p, SessionKind.mp, timedelta(days=30))[0]
                       for k, p in people.items()}
        w["people"] = {k: p.id for k, p in people.items()}
        w["rooms"] = {k: r.id for k, r in rooms.items()}
        w["bodies"] = {k: b.id for k, b in bodies.items()}
        w["topics"] = topic_ids
    return w


def as_(world: dict, who: str) -> dict:
    return bearer(world["tokens"][who])
