"""Demo activity on top of the demo city, so the sandbox shows the whole path at once: on the
first town room (新浦街道), residents' suggestions with support, one taken up into a topic that
went through its D8 chain, research done (D11), and a consultation next week with invitations by
group and notices sent (D9, D15). Written through the real services (audit, outbox, counters),
idempotent by title, deterministic. Called by seed_demo; never commits."""
from __future__ import annotations

from datetime import datetime, time, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..db import utcnow
from ..workdays import CHINA_TZ
from .models import HostType, Person, Platform, PlatformKind, PlatformMember, Region, Role, \
    RoleAssignment

ROOM_TOWN_CODE = "329901001"  # 新浦街道 (demo_data.COUNTIES[0]["towns"][0])
SUGGESTIONS = [
    ("老旧小区加装电梯", "本小区多为六层老楼，老人上下楼困难，希望协商加装电梯的出资和维护办法。", 12),
    ("菜市场周边停车难", "早市时段车辆乱停，影响通行，建议规划临时停车位。", 7),
    ("小区路灯损坏多日未修", "三号楼到大门的路灯坏了两周，晚上出行不安全。", 4),
]
TOPIC_TITLE = "老旧小区加装电梯"
DEPARTMENT = "住房和城乡建设局"  # the county department concerned (demo_data.COUNTY_DEPARTMENTS)


def _room(session: Session) -> Platform | None:
    town = session.scalar(select(Region).where(Region.code == ROOM_TOWN_CODE))
    if town is None:
        return None
    return session.scalar(select(Platform).where(
        Platform.region_id == town.id, Platform.kind == PlatformKind.room,
        Platform.host_type == HostType.town).order_by(Platform.id))


def _reviewer_of(session: Session, body_id: int) -> Person | None:
    return session.scalar(select(Person).join(RoleAssignment, RoleAssignment.person_id == Person.id)
                          .where(RoleAssignment.body_id == body_id,
                                 RoleAssignment.role == Role.reviewer,
                                 RoleAssignment.is_active.is_(True)).order_by(Person.id))


def seed_activity(seeder) -> None:
    """`seeder` is demo._Seeder (for persons and the created counter)."""
    from ..consultations import research as research_services
    from ..consultations import services as meetings
    from ..consultations.models import PlaceKind, ResearchKind
    from ..consultations.rules import InviteGroup
    from ..suggestions.models import Suggestion, SuggestionState
    from ..topics import services as topics
    from ..topics.models import ApprovalStep, Category, Source, StepState, Topic

    s: Session = seeder.s
    room = _room(s)
    if room is None or room.convenor_id is None:
        return
    town = s.get(Region, room.region_id)
    convenor = s.get(Person, room.convenor_id)
    residents = [seeder.person(f"activity:resident:{n}", town) for n in range(14)]
    existing = {t for t in s.scalars(select(Suggestion.title).where(
        Suggestion.platform_id == room.id))}
    now = utcnow()
    for n, (title, description, supporters) in enumerate(SUGGESTIONS):
        if title not in existing:
            add_suggestion(seeder, room, title, description, residents[n],
                           residents[:supporters])

    seeded = s.scalar(select(Topic.id).where(Topic.platform_id == room.id,
                                             Topic.title == TOPIC_TITLE))
    if seeded is not None:
        _invite_department(seeder, town, convenor, seeded)  # a city seeded before it was added
        return
    topic = topics.create_topic(s, actor=convenor, platform_id=room.id, title=TOPIC_TITLE,
                                description=SUGGESTIONS[0][1], category=Category.livelihood,
                                source=Source.proposed)
    lead = s.scalar(select(Suggestion).where(Suggestion.platform_id == room.id,
                                             Suggestion.title == SUGGESTIONS[0][0]))
    lead.state, lead.topic_id = SuggestionState.taken_up, topic.id
    topics.submit_topic(s, actor=convenor, topic_id=topic.id)
    s.flush()
    while True:  # D8: each step approved by its body's reviewer
        step = s.scalar(select(ApprovalStep).where(ApprovalStep.topic_id == topic.id,
                                                   ApprovalStep.state == StepState.pending))
        if step is None:
            break
        reviewer = _reviewer_of(s, step.body_id)
        if reviewer is None:
            return  # an incomplete chain: the demo stops at the topic awaiting approval
        topics.act_on_step(s, actor=reviewer, topic_id=topic.id, step_id=step.id, approve=True,
                           note=None)
        s.flush()
    seeder.created["topics"] += 1
    task = research_services.add_research_task(
        s, actor=convenor, topic_id=topic.id, kind=ResearchKind.stakeholders,
        title="走访六栋老楼住户")
    research_services.update_research_task(
        s, actor=convenor, task_id=task.id,
        notes="走访 6 栋楼 72 户：低层住户担心采光和噪音，高层住户愿意多出资；多数希望政府给予补贴。")
    research_services.complete_research_task(s, actor=convenor, task_id=task.id)

    day = (now.astimezone(CHINA_TZ) + timedelta(days=7)).date()
    starts = datetime.combine(day, time(14, 30), CHINA_TZ)
    c = meetings.schedule_consultation(
        s, actor=convenor, topic_id=topic.id, starts_at=starts,
        ends_at=starts + timedelta(hours=2), place_kind=PlaceKind.venue,
        place=room.venue_address or f"{town.name}协商议事室",
        agenda=["通报调研情况", "居民代表发言", "相关部门回应", "形成协商意见"], capacity=40)
    members = list(s.scalars(select(PlatformMember.person_id).where(
        PlatformMember.platform_id == room.id)))
    invitees = [(pid, InviteGroup.member) for pid in members]
    invitees += [(r.id, InviteGroup.resident) for r in residents[:3]]
    invitees += [(residents[3].id, InviteGroup.stakeholder)]
    meetings.invite(s, actor=convenor, consultation_id=c.id, invitees=invitees)
    meetings.send_notices(s, actor=convenor, consultation_id=c.id, confirm=True)
    _invite_department(seeder, town, convenor, topic.id)
    seeder.created["consultations"] += 1


def add_suggestion(seeder, room: Platform, title: str, description: str, proposer: Person,
                   supporters: list[Person]):
    """A resident's published suggestion (livelihood), followed by its proposer and supported by
    `supporters` (the proposer's own support skipped) through the vote service."""
    from ..suggestions import votes
    from ..suggestions.models import Suggestion, SuggestionState
    from ..suggestions.trail import follow
    from ..topics.models import Category, Source

    s: Session = seeder.s
    sug = Suggestion(platform_id=room.id, proposer_id=proposer.id, source=Source.proposed,
                     category=Category.livelihood, title=title, description=description,
                     state=SuggestionState.open, vote_count=0, comment_count=0,
                     follower_count=0, last_activity_at=utcnow())
    s.add(sug)
    s.flush()
    follow(s, person_id=proposer.id, suggestion_id=sug.id)
    for voter in supporters:
        if voter.id != proposer.id:
            votes.cast_vote(s, suggestion_id=sug.id, person=voter)
    seeder.created["suggestions"] += 1
    return sug


def _invite_department(seeder, town: Region, convenor: Person, topic_id: int) -> None:
    """D9: the county department concerned (its handler, the demo's 承办部门经办人) is invited
    to the demo meeting while it is still open. Idempotent (invite() skips the invited)."""
    from ..consultations import services as meetings
    from ..consultations.models import Consultation, ConsultationState
    from ..consultations.rules import InviteGroup

    s: Session = seeder.s
    c = s.scalar(select(Consultation).where(Consultation.topic_id == topic_id)
                 .order_by(Consultation.id).limit(1))
    if (c is None or c.state is not ConsultationState.scheduled or c.list_locked_at is not None
            or utcnow() >= c.starts_at):  # started: no new invitations (409 consultation_held)
        return
    county = s.get(Region, town.parent_id)
    handler = seeder.person(f"county:{county.code}:dept:{DEPARTMENT}", county)
    meetings.invite(s, actor=convenor, consultation_id=c.id,
                    invitees=[(handler.id, InviteGroup.department)])
