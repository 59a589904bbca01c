"""The demo city's follow-through (issue 11 item 9): on the first town room (新浦街道), next to
demo_activity's topic with a meeting next week, one topic at every stage of the chain, so a
newcomer signing in as each demo person finds something to look at or do:

- 学校门口上下学交通疏导 — in its D8 approval chain, the town Party committee's step pending;
- 老旧小区楼道堆物清理 — consultation held three days ago, opinion list drafted, not routed
  (stage 已协商);
- 农贸市场早市占道经营整治 — held, list routed (D18): items await the town Party committee's
  decision one by one, the county item the county CPPCC party group's review (stage 办理中);
- 老旧小区雨污分流改造 — items decided four ways (adopted, partly with an explanation, not
  adopted with an explanation D23, escalated to the county D22), the adopted ones handled by the
  county 住房和城乡建设局 (D20) with plans and progress, one overdue, one with an extension
  request pending, one flagged key with the demo member supervising and a note (D24);
- 滨河公园步道破损修缮 — finished: every item settled, its feedback list compiled and the
  followers told (D21), evaluations of all four kinds in both phases (D26, D27), a model case.

Everything goes through the real services (take-up, approval, research, meetings, check-in,
opinion list, decisions, handling, supervision, evaluation), each step run as of its day in the
story with `db.story_clock`, so audit, outbox, tracks, timeline and feedback list are what
production writes, dated weeks or months ago. Idempotent by topic title (a topic already there is
left as it is); deterministic but for the dates, which count back from the seeding day. Called by
demo._Seeder.run; never commits.
"""
from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..db import story_clock
from ..workdays import CHINA_TZ
from .models import Body, BodyKind, Person, PlatformMember, Region

# Story days are counted back from the seeding day. Who raised an item (D17):
R, M, S, Z = "resident", "member", "stakeholder", "department"  # who raised an item


@dataclass
class Story:
    title: str
    suggestion: tuple[str, str]          # title, description
    started: int                         # days ago the suggestion was proposed
    held: int | None                     # days ago the meeting was held (None: not yet)
    stop: str                            # approval | consulted | routed | handling | done
    items: list[tuple[str, str, str]] = field(default_factory=list)  # text, raised by, scope


STORIES = [
    Story("学校门口上下学交通疏导",
          ("学校门口上下学时段拥堵严重", "新浦小学门口早晚接送车辆乱停，孩子过马路很危险，希望协商"
           "疏导办法。"), 10, None, "approval"),
    Story("老旧小区楼道堆物清理",
          ("楼道里杂物堆放存在消防隐患", "不少楼道堆着旧家具和纸箱，还有电动车充电，一旦起火后果"
           "严重。"), 40, 3, "consulted",
          [("由社区牵头开展一次楼道堆物集中清理，清理前三天张贴通知", R, "local"),
           ("在每个小区设置大件杂物临时存放点", R, "local")]),
    Story("农贸市场早市占道经营整治",
          ("早市摊位占道影响通行", "农贸市场早市摊位摆到了马路上，早高峰公交车过不去。"), 60,
          10, "routed",
          [("早市时段在市场东侧划定临时疏导摊区", R, "local"),
           ("由社区组织志愿者早市时段维持秩序", M, "local"),
           ("调整途经农贸市场的公交线路早高峰停靠点", Z, "county")]),
    Story("老旧小区雨污分流改造",
          ("小区雨天污水倒灌", "一下大雨化粪池就冒水，污水流进楼道，希望尽快改造管网。"), 120,
          55, "handling",
          [("将新浦街道老旧小区雨污分流改造列入区年度城建计划，年内开工", R, "county"),
           ("改造施工期间协调周边单位开放停车场，解决居民临时停车", S, "county"),
           ("由街道全额承担居民自建违章建筑的拆除费用", R, "local"),
           ("设立区级老旧小区改造专项资金，居民按比例自筹", M, "local")]),
    Story("滨河公园步道破损修缮",
          ("滨河公园步道坑洼多", "公园步道很多地砖松动破损，老人晨练容易摔倒，晚上照明也不够。"),
          250, 170, "done",
          [("年内完成滨河公园步道破损地砖更换", R, "county"),
           ("增设步道夜间照明，同时加装防滑设施", R, "county"),
           ("在公园内新建一座室内健身馆", R, "local")]),
]

# The decisions of the handling and finished topics, by item: outcome, explanation (D23).
NOT_ADOPTED_WHY = ("违章建筑拆除费用依法由建设者承担，街道可以协调拆除施工并对困难家庭给予帮扶，"
                   "但不能全额承担。")
PARTLY_WHY = "周边单位停车场可在夜间开放，白天因单位自用无法开放；白天临时停车安排在新浦路沿线。"
GYM_WHY = "公园属于滨河绿地，按规划不能新建建筑；已建议在新浦街道文体中心增加室内健身器材。"


def _day(today: date, days_ago: int, hour: int = 10, minute: int = 0) -> datetime:
    return datetime.combine(today - timedelta(days=days_ago), time(hour, minute), CHINA_TZ)


class _Teller:
    """Tells the stories on the room, each step as of its day."""

    def __init__(self, seeder, room) -> None:
        from .services import today_local
        from .demo_people import find_demo_person

        self.seeder, self.s, self.room = seeder, seeder.s, room
        self.today = today_local()  # the seeding day; the story counts back from it
        s = self.s
        self.town = s.get(Region, room.region_id)
        self.county = s.get(Region, self.town.parent_id)
        self.convenor = s.get(Person, room.convenor_id)

        def person(key: str) -> Person | None:
            d = find_demo_person(s, key)
            return s.get(Person, d.person_id) if d else None

        self.member, self.staff = person("member"), person("county_staff")
        self.party_reviewer, self.gov_reviewer = person("party_reviewer"), person("county_reviewer")
        self.handler, self.demo_resident = person("dept_handler"), person("resident")
        self.residents = [seeder.person(f"activity:resident:{n}", self.town) for n in range(14)]
        self.room_members = list(s.scalars(select(PlatformMember.person_id).where(
            PlatformMember.platform_id == room.id).order_by(PlatformMember.person_id)))
        self.housing = s.scalar(select(Body).where(
            Body.region_id == self.county.id, Body.kind == BodyKind.department,
            Body.name.endswith("住房和城乡建设局")))

    def ready(self) -> bool:
        return None not in (self.member, self.staff, self.party_reviewer, self.gov_reviewer,
                            self.handler, self.demo_resident, self.housing)

    @contextlib.contextmanager
    def at(self, days_ago: int, hour: int = 10, minute: int = 0):
        """Run the block as of that day and hour (China time) of the story."""
        with story_clock(_day(self.today, days_ago, hour, minute)):
            yield
            self.s.flush()  # rows the block left pending get the story's time too

    def reviewer_of(self, body_id: int) -> Person | None:
        from .demo_activity import _reviewer_of

        return _reviewer_of(self.s, body_id)

    # --- from a suggestion to a held meeting ----------------------------------------------------

    def tell(self, story: Story, n: int) -> None:
        from ..topics.models import Topic

        if self.s.scalar(select(Topic.id).where(Topic.platform_id == self.room.id,
                                                Topic.title == story.title)) is not None:
            return
        proposer = self.residents[4 + n]
        # The demo resident supports (and so follows, D21) the finished topic's suggestion.
        voters = self.residents[:8] + ([self.demo_resident] if story.stop == "done" else [])
        with self.at(story.started, 9):
            from .demo_activity import add_suggestion

            sug = add_suggestion(self.seeder, self.room, story.suggestion[0],
                                 story.suggestion[1], proposer, voters)
        # Taken up 25 days before the meeting (3 days ago for the topic still in approval).
        topic = self._approve(story, sug.id, 3 if story.held is None else story.held + 25)
        if story.held is None:
            return
        self.held = story.held
        c = self._meeting(story, topic)
        if story.stop != "consulted":
            self._route(c, forward=story.stop in ("handling", "done"))
        if story.stop == "handling":
            self._handling(c)
        elif story.stop == "done":
            self._done(c)

    def _approve(self, story: Story, suggestion_id: int, d: int):
        """D7 take-up, submitted the next day, then the D8 chain: a step approved each day."""
        from ..suggestions.takeup import take_up_suggestions
        from ..topics import services as topics
        from ..topics.models import ApprovalStep, StepState

        s = self.s
        with self.at(d, 15):
            topic, _ = take_up_suggestions(s, actor=self.convenor, platform_id=self.room.id,
                                           suggestion_ids=[suggestion_id], title=story.title)
        self.seeder.created["topics"] += 1
        with self.at(d - 1, 9, 30):
            topics.submit_topic(s, actor=self.convenor, topic_id=topic.id)
        if story.held is None:
            return topic  # the town Party committee's step waits for the demo party reviewer
        for k in range(4):
            step = s.scalar(select(ApprovalStep).where(ApprovalStep.topic_id == topic.id,
                                                       ApprovalStep.state == StepState.pending))
            if step is None:
                break
            with self.at(d - 2 - k, 11):
                topics.act_on_step(s, actor=self.reviewer_of(step.body_id), topic_id=topic.id,
                                   step_id=step.id, approve=True, note=None)
        return topic

    def _meeting(self, story: Story, topic):
        """D11 research, then a meeting scheduled with invitations and notices (D9, D14), held
        (check-in marks it held, D14's public line), its opinion list written (D17)."""
        from ..consultations import checkin, opinions
        from ..consultations import research as research_services
        from ..consultations import services as meetings
        from ..consultations.models import PlaceKind, ResearchKind
        from ..consultations.rules import InviteGroup, OpinionScope

        s, held = self.s, self.held
        with self.at(held + 18):
            task = research_services.add_research_task(
                s, actor=self.convenor, topic_id=topic.id, kind=ResearchKind.stakeholders,
                title=f"走访“{story.title}”涉及的居民和单位")
        with self.at(held + 12, 16):
            research_services.update_research_task(
                s, actor=self.convenor, task_id=task.id,
                notes="走访居民 40 余户和相关单位，听取意见，整理形成调研报告。")
            research_services.complete_research_task(s, actor=self.convenor, task_id=task.id)
        starts = _day(self.today, held, 14, 30)
        with self.at(held + 10):
            c = meetings.schedule_consultation(
                s, actor=self.convenor, topic_id=topic.id, starts_at=starts,
                ends_at=starts + timedelta(hours=2), place_kind=PlaceKind.venue,
                place=self.room.venue_address or f"{self.town.name}协商议事室",
                agenda=["通报调研情况", "居民代表发言", "相关部门回应", "形成协商意见"],
                capacity=40)
            attendees = [(pid, InviteGroup.member) for pid in self.room_members]
            attendees += [(r.id, InviteGroup.resident) for r in self.residents[:4]]
            if story.stop == "done":
                attendees += [(self.demo_resident.id, InviteGroup.resident)]
            attendees += [(self.residents[8].id, InviteGroup.stakeholder)]
            meetings.invite(s, actor=self.convenor, consultation_id=c.id, invitees=attendees)
            meetings.send_notices(s, actor=self.convenor, consultation_id=c.id, confirm=True)
        self.seeder.created["consultations"] += 1
        at = _day(self.today, held, 14, 20)  # ten minutes before the start (check-in opens)
        with self.at(held, 14, 20):
            for pid, _ in attendees:
                checkin.mark_present(s, actor=self.convenor, consultation_id=c.id,
                                     person_id=pid, now=at)
            checkin.mark_present(s, actor=self.convenor, consultation_id=c.id,
                                 name="周边商户代表", group=InviteGroup.resident, now=at)
        with self.at(held - 1, 16):
            opinions.save_opinion_list(
                s, actor=self.convenor, consultation_id=c.id,
                items=[(text, InviteGroup(group), OpinionScope(scope),
                        self.member.id if group == M else None)
                       for text, group, scope in story.items])
        return c

    def _route(self, c, *, forward: bool) -> None:
        """D18: routed two days after the meeting; for the handling and finished topics the
        county CPPCC party group forwards the county items three days later."""
        from ..consultations import opinions
        from ..consultations.models import OpinionList, OpinionRouting, RoutingState
        from ..consultations.rules import RouteAction

        s = self.s
        with self.at(self.held - 2, 9):
            opinions.route_opinion_list(s, actor=self.convenor, consultation_id=c.id)
        if not forward:
            return
        list_id = s.scalar(select(OpinionList.id).where(OpinionList.consultation_id == c.id))
        for row in s.scalars(select(OpinionRouting).where(
                OpinionRouting.list_id == list_id, OpinionRouting.action == RouteAction.review,
                OpinionRouting.state == RoutingState.pending).order_by(OpinionRouting.id)):
            with self.at(self.held - 5, 11):
                opinions.decide(s, actor=self.reviewer_of(row.body_id), routing_id=row.id,
                                forward=True, note=None)

    def _items(self, c) -> list[int]:
        from ..consultations.models import OpinionItem, OpinionList

        return list(self.s.scalars(select(OpinionItem.id).join(
            OpinionList, OpinionList.id == OpinionItem.list_id)
            .where(OpinionList.consultation_id == c.id).order_by(OpinionItem.seq)))

    # --- decisions and handling -----------------------------------------------------------------

    def _decide(self, d: int, actor: Person, item_id: int, outcome, why: str | None = None):
        from ..followup.decisions import decide_item

        with self.at(d, 10):
            decide_item(self.s, actor=actor, item_id=item_id, outcome=outcome, explanation=why)

    def _assign(self, d: int, item_id: int, workdays: int) -> int:
        from ..followup.assignment import assign_item
        from ..followup.models import HandlingTask

        with self.at(d, 15):
            assign_item(self.s, actor=self.gov_reviewer, item_id=item_id,
                        lead_body_id=self.housing.id, workdays=workdays)
        return self.s.scalar(select(HandlingTask.id).where(HandlingTask.item_id == item_id))

    def _start(self, d: int, task_id: int, plan: str) -> None:
        from ..followup import handling

        with self.at(d, 9):
            handling.accept(self.s, actor=self.handler, task_id=task_id)
        with self.at(d - 2, 17):
            handling.plan(self.s, actor=self.handler, task_id=task_id, text=plan)

    def _progress(self, d: int, task_id: int, percent: int, text: str) -> None:
        from ..followup import handling

        with self.at(d, 16):
            handling.progress(self.s, actor=self.handler, task_id=task_id, percent=percent,
                              text=text)

    def _handling(self, c) -> None:
        """Decided forty days ago; the overdue item is flagged key and supervised (D24)."""
        from ..followup import handling, supervision
        from ..followup.models import HandlingTask, Outcome

        sewer, parking, demolition, fund = self._items(c)
        self._decide(41, self.party_reviewer, demolition, Outcome.not_adopted, NOT_ADOPTED_WHY)
        self._decide(41, self.party_reviewer, fund, Outcome.escalated)
        self._decide(40, self.gov_reviewer, sewer, Outcome.adopted)
        self._decide(40, self.gov_reviewer, parking, Outcome.partly, PARTLY_WHY)
        overdue = self._assign(39, sewer, 15)
        later = self._assign(39, parking, 40)
        for task_id, plan in ((overdue, "排查管网现状、完成改造设计，纳入年度城建计划并组织施工招标。"),
                              (later, "与周边 3 家单位协商夜间开放停车场，白天在新浦路沿线施划临时车位。")):
            self._start(38, task_id, plan)
        self._progress(20, overdue, 60, "已完成管网排查和改造设计，施工招标因资金拨付延后，正在推进。")
        self._progress(10, later, 30, "已与 2 家单位签订夜间停车开放协议，新浦路临时车位已施划。")
        with self.at(3, 11):
            due = self.s.get(HandlingTask, later).due_on
            handling.request_extension(self.s, actor=self.handler, task_id=later,
                                       due_on=due + timedelta(days=30),
                                       reason="第三家单位停车场开放需上级主管部门批准，申请延期一个月。")
        with self.at(15, 10):
            supervision.flag_item(self.s, actor=self.staff, item_id=sewer,
                                  reason="群众反映强烈、已逾期，列为重点督办事项",
                                  member_ids=[self.member.id])
        with self.at(8, 15):
            supervision.add_note(self.s, actor=self.member, item_id=sewer,
                                 text="实地察看了三个小区，管网设计已完成，建议区住建局尽快落实施工"
                                      "资金，雨季前完成主管网改造。")

    def _done(self, c) -> None:
        """Decided and handled months ago; the last item's completion compiles the feedback list
        and tells the followers (D21); then the evaluations (D27) and the model case."""
        from ..evaluation.models import EvaluationKind, Phase
        from ..evaluation.services import evaluate, mark_model_case
        from ..followup import handling
        from ..followup.assignment import decide_extension
        from ..followup.models import ExtensionRequest, HandlingTask, Outcome

        s = self.s
        paving, lights, gym = self._items(c)
        self._decide(161, self.party_reviewer, gym, Outcome.not_adopted, GYM_WHY)
        self._decide(160, self.gov_reviewer, paving, Outcome.adopted)
        self._decide(160, self.gov_reviewer, lights, Outcome.partly,
                     "夜间照明年内增设；防滑设施结合明年步道整体改造一并实施，先在坡道处加装。")
        first = self._assign(159, paving, 20)
        second = self._assign(159, lights, 30)
        self._start(158, first, "分段施工，先更换主步道破损地砖，再修补支路，施工期间分段封闭。")
        self._start(158, second, "委托供电部门设计照明线路，新增路灯 40 盏，坡道加装防滑条。")
        self._progress(145, first, 50, "主步道地砖更换完成，正在修补支路。")
        self._progress(140, second, 40, "照明线路设计完成，路灯已采购。")
        with self.at(136, 11):
            handling.complete(s, actor=self.handler, task_id=first,
                              result="已更换破损地砖 1200 平方米，步道全线恢复通行。")
        with self.at(132, 10):
            due = s.get(HandlingTask, second).due_on
            handling.request_extension(s, actor=self.handler, task_id=second,
                                       due_on=due + timedelta(days=14),
                                       reason="路灯基础施工遇连续降雨，申请延期两周。")
        with self.at(131, 15):
            x = s.scalar(select(ExtensionRequest).where(ExtensionRequest.task_id == second))
            decide_extension(s, actor=self.gov_reviewer, request_id=x.id, approve=True,
                             note="同意延期，请注意施工安全。")
        self._progress(125, second, 80, "路灯已安装 32 盏，坡道防滑条加装完毕。")
        with self.at(118, 16):
            handling.complete(s, actor=self.handler, task_id=second,
                              result="新增路灯 40 盏，坡道加装防滑条 300 米，夜间照明达到标准。")
        raters = [(self.party_reviewer, EvaluationKind.party_government, 5, 4,
                   "协商议题贴近群众，意见具体可行，办理及时。"),
                  (self.member, EvaluationKind.member, 4, 5, "程序规范，群众参与度高。"),
                  (self.convenor, EvaluationKind.organiser, 4, 4,
                   "会前调研充分，部门回应到位；下次可以更早邀请相关单位。")]
        raters += [(r, EvaluationKind.resident, score, 5 if n % 2 else 4, comment)
                   for n, (r, score, comment) in enumerate(zip(
                       self.residents[:4], (5, 4, 5, 3),
                       ("步道修好了，晨练放心多了", None, "晚上散步亮堂了", "希望防滑设施早点全部装好")))]
        for phase, d in ((Phase.after_meeting, self.held - 3), (Phase.after_feedback, 110)):
            for k, (who, kind, outcome, process, comment) in enumerate(raters):
                with self.at(d - k % 3, 20):
                    evaluate(s, actor=who, consultation_id=c.id, phase=phase, kind=kind,
                             outcome_score=outcome, process_score=process, comment=comment)
        with self.at(100, 10):
            mark_model_case(s, actor=self.staff, consultation_id=c.id,
                            reason="从群众建议到办结全程公开，意见采纳率高、办理按期，群众满意。")


# D20: the town's own offices handle what its Party (working) committee adopts (it may assign only
# in its region and below); the demo department handler also handles for the first, so a
# newcomer who adopts a local item as the town's reviewer sees the task arrive as the handler.
TOWN_OFFICES = ["城市管理办公室", "社区建设办公室"]


def _town_offices(seeder, room) -> None:
    from .demo_people import find_demo_person
    from .models import Role

    town = seeder.s.get(Region, room.region_id)
    party = seeder.s.scalar(select(Body).where(Body.region_id == town.id,
                                               Body.kind == BodyKind.party_committee))
    handler = find_demo_person(seeder.s, "dept_handler")
    for n, office in enumerate(TOWN_OFFICES):
        body = seeder.body(f"{town.name}{office}", BodyKind.department, town, parent=party,
                           head=seeder.person(f"town:{town.code}:dept:{office}", town),
                           head_role=Role.dept_handler)
        if n == 0 and handler is not None:
            seeder.role(seeder.s.get(Person, handler.person_id), Role.dept_handler, body=body)
    seeder.s.flush()


def seed_followthrough(seeder) -> None:
    """`seeder` is demo._Seeder. After demo_activity.seed_activity."""
    from .demo_activity import _room

    room = _room(seeder.s)
    if room is None or room.convenor_id is None:
        return
    _town_offices(seeder, room)
    teller = _Teller(seeder, room)
    if not teller.ready():  # a city without the demo people: no story to tell
        return
    for n, story in enumerate(STORIES):
        teller.tell(story, n)
