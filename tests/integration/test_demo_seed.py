"""`seed-demo`: idempotent, deterministic, and shaped so every rule has data
(D2, D3, D5, D28, D29)."""
from __future__ import annotations

import pytest

from sqlalchemy import create_engine, func, select
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash

from app.audit.models import AuditEntry
from app.auth.models import StaffAccount
from app.crypto import get_cipher, normalise_phone
from app.db import Base
from app.org import demo_data
from app.org.demo import seed_demo, table_counts
from app.org.models import (
    Body, BodyKind, Enterprise, HostType, Person, Platform, PlatformCheck, PlatformKind,
    PlatformMember, PlatformServedUnit, Region, RegionLevel, Role, RoleAssignment, Sector,
)

from ..helpers import production_config


def _seed(session) -> dict:
    summary = seed_demo(session)
    session.commit()
    return summary


def test_seed_twice_changes_nothing(session):
    first = _seed(session)
    assert first["created"] == sum(v for k, v in first.items() if k != "created") > 0
    audit_after_first = session.query(AuditEntry).count()
    names_before = sorted(session.scalars(select(Person.name)))
    second = _seed(session)
    assert second["created"] == 0
    assert {k: v for k, v in second.items() if k != "created"} == {
        k: v for k, v in first.items() if k != "created"}
    assert table_counts(session) == {k: v for k, v in first.items() if k != "created"}
    assert session.query(AuditEntry).count() == audit_after_first  # nothing new to record
    assert sorted(session.scalars(select(Person.name))) == names_before


def test_seed_is_deterministic_across_databases(app, session, tmp_path):
    _seed(session)
    other = create_engine(f"sqlite:///{tmp_path / 'other.db'}")
    Base.metadata.create_all(other)
    try:
        with Session(other) as s2:
            seed_demo(s2, cipher=get_cipher())
            s2.commit()

            def shape(s):
                return (sorted(s.execute(select(Region.code, Region.name, Region.path))),
                        sorted(s.execute(select(Platform.name, Platform.convenor_id))),
                        sorted(s.execute(select(Person.id, Person.name, Person.phone_hash))))

            assert shape(s2) == shape(session)
    finally:
        other.dispose()


def test_every_platform_kind_and_host_type_is_present(session):
    _seed(session)
    platforms = session.scalars(select(Platform)).all()
    assert {p.kind for p in platforms} == set(PlatformKind)
    assert {p.host_type for p in platforms} == set(HostType)
    # D2: a joint room serves several villages; a mobile room serves villages and an enterprise.
    served = session.execute(select(Platform.kind, PlatformServedUnit.region_id,
                                    PlatformServedUnit.enterprise_id)
                             .join(Platform, Platform.id == PlatformServedUnit.platform_id)).all()
    assert sum(1 for k, r, _ in served if k is PlatformKind.joint and r) >= 2
    assert any(k is PlatformKind.mobile and e for k, _, e in served)
    # D4: rooms carry the unified name.
    assert all(p.name.endswith("“有事好商量”协商议事室") for p in platforms
               if p.kind is PlatformKind.room)
    # D2: every town-level unit has a room.
    towns = session.scalars(select(Region).where(Region.level == RegionLevel.town)).all()
    town_rooms = {p.region_id for p in platforms
                  if p.kind is PlatformKind.room and p.host_type is HostType.town}
    assert {t.id for t in towns} == town_rooms and len(towns) >= 9


def _head(session, **where) -> int | None:
    return session.scalar(select(Body.head_id).filter_by(**where))


def test_convenors_follow_d28_except_the_one_planted_mismatch(session):
    _seed(session)
    mismatches = []
    for p in session.scalars(select(Platform)):
        if p.host_type is HostType.town:
            expected = _head(session, kind=BodyKind.cppcc_work_committee, region_id=p.region_id)
        elif p.host_type in (HostType.village, HostType.community):
            expected = _head(session, kind=BodyKind.party_org, region_id=p.region_id,
                             enterprise_id=None)
        elif p.host_type is HostType.enterprise:
            expected = _head(session, kind=BodyKind.party_org, enterprise_id=p.enterprise_id)
        else:
            expected = session.get(Sector, p.sector_id).convenor_id
        assert expected is not None and p.convenor_id is not None
        if p.convenor_id != expected:
            mismatches.append(p.region.code)
        # The convenor also holds the platform-scoped convenor role (permissions).
        assert session.scalar(select(RoleAssignment.id).where(
            RoleAssignment.person_id == p.convenor_id, RoleAssignment.role == Role.convenor,
            RoleAssignment.platform_id == p.id, RoleAssignment.is_active.is_(True)))
    assert mismatches == sorted(demo_data.CONVENOR_MISMATCH_TOWNS)
    # The mismatched room is run by the town's Party secretary instead of the director (D5).
    town = session.scalar(select(Region).where(Region.code.in_(demo_data.CONVENOR_MISMATCH_TOWNS)))
    room = session.scalar(select(Platform).where(Platform.region_id == town.id,
                                                 Platform.kind == PlatformKind.room))
    assert room.convenor_id == _head(session, kind=BodyKind.party_committee, region_id=town.id)


def test_planted_gaps_for_the_reports(session):
    _seed(session)
    # D2: villages neither hosting nor served by any platform.
    hosted = set(session.scalars(select(Platform.region_id)))
    served = set(session.scalars(select(PlatformServedUnit.region_id).where(
        PlatformServedUnit.region_id.is_not(None))))
    uncovered = session.scalars(select(Region.name).where(
        Region.level == RegionLevel.village, Region.id.not_in(hosted | served))).all()
    assert sorted(uncovered) == ["岗埠村", "船山村"]
    # ...and only those: every enterprise and sector is hosted or served by some platform.
    ent_hosted = set(session.scalars(select(Platform.enterprise_id)))
    ent_served = set(session.scalars(select(PlatformServedUnit.enterprise_id)))
    assert {e.id for e in session.scalars(select(Enterprise))} <= ent_hosted | ent_served
    sector_hosts = set(session.scalars(select(Platform.sector_id)))
    assert set(session.scalars(select(Sector.id))) <= sector_hosts
    # D29: exactly one platform without a linked member; every other has at least one.
    linked = set(session.scalars(select(PlatformMember.platform_id)))
    lonely = session.scalars(select(Platform).where(Platform.id.not_in(linked))).all()
    assert [p.region.name for p in lonely] == ["林埠村"]
    # D3: six checks per platform; some unmet, each with its evidence.
    n_platforms = session.query(Platform).count()
    assert session.query(PlatformCheck).count() == 6 * n_platforms
    unmet = session.scalars(select(PlatformCheck).where(PlatformCheck.is_met.is_(False))).all()
    expected_unmet = sum(len(v) for v in demo_data.MISSING_CHECKS.values())
    assert len(unmet) == expected_unmet
    assert all(c.evidence and c.checked_on and c.checked_by_id for c in unmet)


def test_members_have_sector_level_and_duty_group(session):
    _seed(session)
    members = session.scalars(
        select(RoleAssignment).where(RoleAssignment.role == Role.member)).all()
    assert len(members) > 40
    assert all(m.sector_id is not None and m.member_level is not None for m in members)  # D29
    county_members = [m for m in members if m.region.level is RegionLevel.county]
    assert county_members and all(m.duty_group_id is not None for m in county_members)
    levels = {m.member_level.value for m in members}
    assert {"city", "county", "provincial"} <= levels
    # D5: each work committee director is a CPPCC member.
    directors = set(session.scalars(select(Body.head_id).where(
        Body.kind == BodyKind.cppcc_work_committee)))
    assert directors and directors <= {m.person_id for m in members}


def test_people_phones_are_encrypted_and_unique(session):
    _seed(session)
    cipher = get_cipher()
    people = session.scalars(select(Person)).all()
    assert len({p.phone_hash for p in people}) == len(people)
    for p in people[:50]:
        phone = cipher.decrypt(p.phone_enc)
        assert normalise_phone(phone) == phone
        assert cipher.lookup_hash(phone) == p.phone_hash
        assert phone.encode() not in p.phone_enc


def test_demo_staff_accounts_log_in_with_documented_password(session):
    _seed(session)
    accounts = {a.username: a for a in session.scalars(select(StaffAccount))}
    assert not check_password_hash(accounts["admin"].password_hash, "demo12345")
    assert set(accounts) == {u for u, *_ in demo_data.DEMO_ACCOUNTS}
    for username, role, slug, _label in demo_data.DEMO_ACCOUNTS:
        account = accounts[username]
        assert account.password_hash != demo_data.DEMO_PASSWORD
        assert check_password_hash(account.password_hash, demo_data.DEMO_PASSWORD)
        grants = session.scalars(select(RoleAssignment).where(
            RoleAssignment.person_id == account.person_id)).all()
        assert [g.role.value for g in grants] == [role]
        expected = next(c["code"] for c in demo_data.COUNTIES if c["slug"] == slug) if slug \
            else demo_data.CITY["code"]
        assert grants[0].region.code == expected


def test_demo_accounts_log_in_to_the_console(app, session, client):
    from app.auth.staff import check_password_policy

    _seed(session)
    for username, *_ in demo_data.DEMO_ACCOUNTS:
        check_password_policy(demo_data.DEMO_PASSWORD, username)  # what create-staff demands
    r = client.post("/api/auth/staff/login",
                    json={"username": "haibin_staff", "password": demo_data.DEMO_PASSWORD})
    assert r.status_code == 200, r.json
    bad = client.post("/api/auth/staff/login",
                      json={"username": "city_staff", "password": "demo1234"})
    assert bad.status_code == 401


def test_cli_seed_demo_prints_chinese_summary(app):
    runner = app.test_cli_runner()
    first = runner.invoke(args=["seed-demo"])
    assert first.exit_code == 0, first.output
    assert "演示数据已就绪" in first.output and "city_staff" in first.output
    assert demo_data.DEMO_PASSWORD in first.output
    second = runner.invoke(args=["seed-demo"])
    assert second.exit_code == 0
    assert "未做任何更改" in second.output
    with app.app_context():
        with app.extensions["db"].session_scope() as s:
            assert s.query(StaffAccount).count() == len(demo_data.DEMO_ACCOUNTS)


def test_cli_seed_demo_refused_outside_sandbox(app, monkeypatch):
    """The demo accounts' password is public: production (WECHAT_MP_APPID set) never loads
    them — exit 2, a Chinese reason, no row written."""
    monkeypatch.setitem(app.config, "APP", production_config(app.config["APP"]))
    result = app.test_cli_runner().invoke(args=["seed-demo"])
    assert result.exit_code == 2
    assert "只能在沙箱模式" in result.output
    with app.app_context():
        with app.extensions["db"].session_scope() as s:
            assert s.query(StaffAccount).count() == 0


def test_make_run_demo_switch(app):
    from app.config import ConfigError
    from app.runner import wants_demo

    sandbox = app.config["APP"]
    assert sandbox.sandbox and wants_demo(sandbox, {}) is True
    assert wants_demo(sandbox, {"DEMO_DATA": "0"}) is False
    production = production_config(sandbox)
    assert wants_demo(production, {}) is False
    with pytest.raises(ConfigError, match="正式环境不得载入"):
        wants_demo(production, {"DEMO_DATA": "1"})


def test_demo_shows_the_whole_path_on_the_first_town_room(session):
    """Suggestions with support, one taken up into an approved topic (D8), research done
    (D11), a consultation next week with invitations by group (D9) and notices out."""
    from sqlalchemy import func

    from app.consultations.models import Consultation, Invitation, ResearchTask
    from app.notify.models import OutboxMessage
    from app.suggestions.models import Suggestion, Vote
    from app.topics.models import Topic, TopicState

    _seed(session)
    sugs = session.scalars(select(Suggestion).order_by(Suggestion.id)).all()
    assert [s.title for s in sugs][:3] == ["老旧小区加装电梯", "菜市场周边停车难", "小区路灯损坏多日未修"]
    for s in sugs:
        rows = session.scalar(select(func.count()).select_from(Vote)
                              .where(Vote.suggestion_id == s.id))
        assert s.vote_count == rows > 0
    topic = session.scalar(select(Topic).order_by(Topic.id))  # the first: demo_activity's
    assert topic.state is TopicState.approved and sugs[0].topic_id == topic.id
    assert session.scalar(select(ResearchTask).order_by(ResearchTask.id)).completed_at is not None
    c = session.scalar(select(Consultation).order_by(Consultation.id))
    assert c.state.value == "scheduled" and c.notice_sent_at is not None
    groups = {i.group.value for i in session.scalars(select(Invitation))}
    assert {"member", "resident", "stakeholder"} <= groups
    assert session.scalar(select(func.count()).select_from(OutboxMessage)
                          .where(OutboxMessage.kind == "meeting_notice")) == len(
        session.scalars(select(Invitation)).all())


def test_every_routing_target_of_the_demo_city_has_an_active_reader(session):
    """D18 (issue 10, item 7): every body an opinion list of a demo platform can be routed or
    forwarded to — for every scope its platform accepts — exists and has an active reviewer, so
    no copy ever waits on nobody."""
    from app.consultations.opinions import resolve_target
    from app.consultations.rules import TARGET_LABELS, list_routes, routable_scopes

    _seed(session)
    readers = set(session.scalars(
        select(RoleAssignment.body_id).join(Person, Person.id == RoleAssignment.person_id)
        .where(RoleAssignment.role == Role.reviewer, RoleAssignment.is_active.is_(True),
               Person.is_active.is_(True), RoleAssignment.body_id.is_not(None))))
    unread, targets = [], set()
    for platform in session.scalars(select(Platform).where(Platform.is_active.is_(True))):
        level = session.get(Region, platform.region_id).level
        for scope, steps in list_routes(platform.host_type, set(routable_scopes(level))).items():
            for step in steps:
                body = resolve_target(session, platform, step.target)
                assert body is not None, (platform.name, TARGET_LABELS[step.target])
                targets.add(body.id)
                if body.id not in readers:
                    unread.append((platform.name, scope.value, body.name))
    assert unread == []
    # Every kind of receiving body is among the targets (the governments too).
    kinds = {session.get(Body, b).kind for b in targets}
    assert {BodyKind.party_committee, BodyKind.government, BodyKind.cppcc_party_group,
            BodyKind.cppcc_special_committee} <= kinds


# --- issue 10 item 18: one demo person per role, and a way to act as each ------------------------

ROLE_KEYS = ["resident", "member", "convenor", "party_reviewer", "cppcc_reviewer",
             "county_reviewer", "dept_handler", "county_staff", "city_staff"]


def test_the_demo_city_has_a_person_for_every_role(session):
    from app.consultations.models import Invitation
    from app.org.demo_people import demo_people

    _seed(session)
    people = {d.key: d for d in demo_people(session)}
    assert list(people) == ROLE_KEYS

    def roles(key, **where):
        stmt = select(RoleAssignment).where(RoleAssignment.person_id == people[key].person_id,
                                            RoleAssignment.is_active.is_(True))
        return [(r.role, r.body.kind if r.body else None) for r in session.scalars(stmt)]

    assert (Role.resident, None) in roles("resident")
    assert (Role.member, None) in roles("member")
    assert (Role.reviewer, BodyKind.party_committee) in roles("party_reviewer")
    assert (Role.reviewer, BodyKind.cppcc) in roles("cppcc_reviewer")
    assert (Role.reviewer, BodyKind.government) in roles("county_reviewer")
    assert (Role.dept_handler, BodyKind.department) in roles("dept_handler")
    assert (Role.staff, None) in roles("county_staff") and (Role.staff, None) in roles("city_staff")
    room = session.scalar(select(Platform).where(
        Platform.convenor_id == people["convenor"].person_id))
    assert room is not None and room.name in people["convenor"].where
    assert people["county_staff"].console == "haibin_staff"
    assert people["city_staff"].console == "city_staff"
    # The department handler is invited to the demo meeting as the department concerned (D9).
    inv = session.scalar(select(Invitation).where(
        Invitation.person_id == people["dept_handler"].person_id))
    assert inv is not None and inv.group.value == "department"


def test_each_demo_person_signs_in_with_the_fake_wechat_login_code(session, app, client):
    """The login code user-demo_<key>-… (sandbox.login_as in DevTools) signs in as that demo
    person through the ordinary /api/auth/wx-login."""
    from app.org.demo_people import demo_people

    _seed(session)
    people = demo_people(session)
    session.commit()  # end the read: the requests below write (SQLite has one writer)
    for d in people:
        r = client.post("/api/auth/wx-login", json={"code": f"user-{d.login_as}-t1"})
        assert r.status_code == 200, r.json
        assert r.json["person"]["id"] == d.person_id and r.json["is_new"] is False, d.key


# --- issue 11 item 9: the follow-through chain, one topic at every stage --------------------------

def _stages(session) -> dict[str, list[str]]:
    """Topic titles by public stage (app/followup/results.py), on the demo room."""
    from app.followup.results import topic_stage
    from app.topics.models import Topic, TopicState

    out: dict[str, list[str]] = {}
    for title, state, stage in session.execute(
            select(Topic.title, Topic.state, topic_stage(Topic.id)).order_by(Topic.id)):
        out.setdefault(stage if state is TopicState.approved else state.value, []).append(title)
    return out


def test_demo_has_a_topic_at_every_stage(session):
    from app.followup.results import stage_filter
    from app.suggestions.models import Suggestion
    from app.topics.models import TopicState

    _seed(session)
    stages = _stages(session)
    # D8: one topic still in its approval chain; approved ones at every public stage.
    assert len(stages.get(TopicState.in_approval.value, [])) == 1, stages
    for stage in ("topic", "consulted", "handling", "done"):
        assert stages.get(stage), (stage, stages)
    assert len(stages["handling"]) == 2  # awaiting decisions, and in handling
    # The suggestion list's tabs (item 7): every tab has a suggestion of the demo room.
    for stage in ("open", "topic", "consulted", "handling", "done"):
        assert session.scalar(select(Suggestion.id).where(stage_filter(stage)).limit(1)), stage


def test_demo_routed_list_waits_in_the_reviewers_queue(session):
    from app.followup.decisions import review_queue
    from app.org.demo_people import demo_people

    _seed(session)
    people = {d.key: d for d in demo_people(session)}
    party = session.get(Person, people["party_reviewer"].person_id)
    queue = review_queue(session, party)
    assert len(queue["awaiting"]) >= 2  # the town's items to decide one by one (D19)
    county = session.get(Person, people["county_reviewer"].person_id)
    queue = review_queue(session, county)
    assert queue["awaiting"]  # the item escalated to the county (D22)
    assert len(queue["extensions"]) == 1  # the pending extension request


def test_demo_topic_in_handling(session):
    """Decisions of all four kinds (D19, D22, D23); the county housing department handles the
    adopted items (D20): plans, progress, one overdue, one pending extension; one key item
    supervised by the demo member with a note (D24)."""
    from app.followup.handling import list_tasks, overdue_of
    from app.followup.models import (
        ExtensionRequest, ExtensionState, HandlingTask, ItemDecision, ItemSupervisor, ItemTrack,
        Outcome, SupervisionNote, TaskEvent, TaskEventKind,
    )
    from app.org.demo_people import demo_people

    _seed(session)
    people = {d.key: d for d in demo_people(session)}
    outcomes = {d.outcome for d in session.scalars(select(ItemDecision))}
    assert outcomes == set(Outcome)
    assert all(d.explanation for d in session.scalars(select(ItemDecision).where(
        ItemDecision.outcome.in_([Outcome.not_adopted, Outcome.partly]))))
    handler = session.get(Person, people["dept_handler"].person_id)
    tasks = list_tasks(session, handler)
    assert len(tasks) >= 4 and all(t.plan_text for t in tasks)
    assert [t for t in tasks if overdue_of(t).overdue]
    open_tasks = [t for t in tasks if t.state.value != "completed"]
    assert len(open_tasks) == 2 and all(0 < t.percent < 100 for t in open_tasks)
    pending = session.scalars(select(ExtensionRequest).where(
        ExtensionRequest.state == ExtensionState.pending)).all()
    assert len(pending) == 1 and pending[0].task_id in {t.id for t in open_tasks}
    assert session.scalar(select(TaskEvent.id).where(
        TaskEvent.kind == TaskEventKind.progress).limit(1))
    key = session.scalars(select(ItemTrack).where(ItemTrack.is_key.is_(True))).all()
    assert len(key) == 1 and key[0].key_reason
    sup = session.scalars(select(ItemSupervisor)).all()
    assert [s.person_id for s in sup] == [people["member"].person_id]
    note = session.scalar(select(SupervisionNote))
    assert note.person_id == people["member"].person_id and note.item_id == key[0].item_id
    # ...and what the demo member and the demo county staff see of it.
    from app.followup.supervision import my_items, overdue_items

    member = session.get(Person, people["member"].person_id)
    (mine,) = my_items(session, member)
    assert mine.item_id == key[0].item_id and mine.overdue and mine.notes
    staff = session.get(Person, people["county_staff"].person_id)
    assert [v.item_id for v in overdue_items(session, staff)] == [key[0].item_id]
    # Dates are believable: assigned weeks ago, every step after the one before.
    for t in tasks:
        events = session.scalars(select(TaskEvent).where(TaskEvent.task_id == t.id)
                                 .order_by(TaskEvent.id)).all()
        assert [e.at for e in events] == sorted(e.at for e in events)
        assert t.assigned_on < t.due_on
    assert session.scalar(select(HandlingTask.id).where(HandlingTask.assigned_on
                                                        < today_minus(20)).limit(1))


def today_minus(days: int):
    from datetime import timedelta

    from app.org.services import today_local

    return today_local() - timedelta(days=days)


def test_demo_finished_topic_feedback_ratings_model_case(app, session, client):
    from app.evaluation.models import Evaluation, EvaluationKind, ModelCase, Phase
    from app.followup.feedback_models import FeedbackList
    from app.notify.models import OutboxMessage

    _seed(session)
    stages = _stages(session)
    fl = session.scalar(select(FeedbackList))
    assert fl is not None and fl.items >= 3 and fl.done >= 2 and fl.not_adopted >= 1
    # D21: the followers were told (inbox first).
    told = session.scalar(select(func.count()).select_from(OutboxMessage).where(
        OutboxMessage.kind == "feedback"))
    assert told >= 5
    evals = session.scalars(select(Evaluation).where(
        Evaluation.consultation_id == fl.consultation_id)).all()
    assert {(e.kind, e.phase) for e in evals} == {(k, p) for k in EvaluationKind for p in Phase}
    residents = [e for e in evals if e.kind is EvaluationKind.resident]
    assert len({e.author_id for e in residents}) >= 3
    assert session.scalar(select(ModelCase)).consultation_id == fl.consultation_id
    # The demo resident supported the suggestion: told of the results, and may rate (not yet).
    from app.evaluation.services import my_ratings
    from app.org.demo_people import find_demo_person

    resident = session.get(Person, find_demo_person(session, "resident").person_id)
    assert session.scalar(select(OutboxMessage.id).where(
        OutboxMessage.kind == "feedback", OutboxMessage.recipient_id == resident.id).limit(1))
    mine = my_ratings(session, resident, fl.consultation_id)
    assert mine["may_rate"] and all(p["is_open"] and p["rating"] is None for p in mine["phases"])
    # The public results page (item 7) shows the whole chain of the finished topic.
    session.commit()
    r = client.get(f"/api/topics/{fl.topic_id}/results")
    assert r.status_code == 200, r.json
    page = r.json
    assert page["stage"] == "done" and page["topic"]["title"] in stages["done"]
    assert page["suggestions"] and page["research"]
    (c,) = page["consultations"]
    assert c["attendee_count"] >= 5 and c["list_routed_on"]
    assert all(i["settled"] and i["decisions"] for i in c["items"])
    assert all(i["handling"]["result"] for i in c["items"] if i["outcome"] != "not_adopted")
    assert page["summary"]["done_count"] >= 2
    r = client.get("/api/model-cases")
    assert [m["topic_id"] for m in r.json["cases"]] == [fl.topic_id]


def test_demo_follow_through_seed_is_idempotent(session):
    from app.evaluation.models import Evaluation
    from app.followup.models import HandlingTask, ItemDecision, SupervisionNote, TaskEvent
    from app.notify.models import OutboxMessage
    from app.suggestions.models import TimelineEntry

    tables = (Evaluation, HandlingTask, ItemDecision, SupervisionNote, TaskEvent, OutboxMessage,
              TimelineEntry, AuditEntry)

    def counts():
        return [session.scalar(select(func.count()).select_from(t)) for t in tables]

    _seed(session)
    before = counts()
    assert all(before)
    assert _seed(session)["created"] == 0
    assert counts() == before


def test_demo_finished_topic_results_page_shows_feedback_and_ratings(session, client):
    from app.followup.feedback_models import FeedbackList

    _seed(session)
    topic_id = session.scalar(select(FeedbackList.topic_id))
    session.commit()
    (c,) = client.get(f"/api/topics/{topic_id}/results").json["consultations"]
    assert c["feedback"]["item_count"] == c["feedback"]["done_count"] + c["feedback"]["not_adopted_count"]
    assert c["ratings"]["is_model_case"] is True
    assert {(r["kind"], r["phase"]) for r in c["ratings"]["by_kind"] if r["count"]} == {
        (k, ph) for k in ("party_government", "member", "resident", "organiser")
        for ph in ("after_meeting", "after_feedback")}


def test_the_demo_town_reviewer_can_assign_what_they_adopt_and_the_handler_sees_it(session):
    """A newcomer signed in as the town's party reviewer adopts a local item of the routed demo
    topic: D20 needs a department in the town to give it to (GET /api/departments lists the
    deciding body's region and below), and the demo handler sees the task."""
    from app.followup import assignment, decisions, handling
    from app.followup.models import HandlingTask, ItemState, ItemTrack
    from app.org.demo_people import find_demo_person

    _seed(session)
    reviewer = session.get(Person, find_demo_person(session, "party_reviewer").person_id)
    handler = session.get(Person, find_demo_person(session, "dept_handler").person_id)
    offices = assignment.departments_for(session, reviewer)
    assert offices, "the town has no department to assign to"
    awaiting = decisions.review_queue(session, reviewer)["awaiting"]
    assert awaiting  # the routed demo topic's local items wait for this reviewer
    track = session.scalar(select(ItemTrack).where(ItemTrack.state == ItemState.awaiting,
                                                   ItemTrack.current_scope == "local")
                           .order_by(ItemTrack.item_id))
    decisions.decide_item(session, actor=reviewer, item_id=track.item_id, outcome="adopted")
    assignment.assign_item(session, actor=reviewer, item_id=track.item_id,
                          lead_body_id=offices[0].id, workdays=10)
    task = session.scalar(select(HandlingTask).where(HandlingTask.item_id == track.item_id))
    assert task.id in {t.id for t in handling.list_tasks(session, handler)}
