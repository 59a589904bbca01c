"""Topic API: drafting, submission into the D8 approval chain, and the reviewers' decisions.
Thin: the rules live in services.py and approval.py; each request commits once."""
from __future__ import annotations

from flask import Blueprint
from sqlalchemy import select

from ..api import endpoint
from ..auth.current import require_person
from ..db import get_session
from ..org.models import Body
from . import services
from .models import (
    CATEGORY_LABELS, SOURCE_LABELS, STEP_KIND_LABELS, STEP_STATE_LABELS, TOPIC_STATE_LABELS, Topic,
)
from .schemas import ReviewItem, ReviewList, StepDecisionIn, StepOut, TopicIn, TopicOut, TopicPatch

bp = Blueprint("topics", __name__, url_prefix="/api")
TAG = "议题与审核"


def topic_out(session, topic: Topic) -> TopicOut:
    steps = sorted(topic.steps, key=lambda s: (s.round, s.seq))
    names = dict(session.execute(select(Body.id, Body.name).where(
        Body.id.in_({s.body_id for s in steps}))).all()) if steps else {}
    return TopicOut(
        id=topic.id, platform_id=topic.platform_id, title=topic.title,
        description=topic.description, category=topic.category,
        category_label=CATEGORY_LABELS[topic.category], source=topic.source,
        source_label=SOURCE_LABELS[topic.source], state=topic.state,
        state_label=TOPIC_STATE_LABELS[topic.state], approval_round=topic.approval_round,
        approved_at=topic.approved_at, created_at=topic.created_at,
        steps=[StepOut(id=s.id, round=s.round, seq=s.seq, kind=s.kind,
                       kind_label=STEP_KIND_LABELS[s.kind], body_id=s.body_id,
                       body_name=names.get(s.body_id, ""), state=s.state,
                       state_label=STEP_STATE_LABELS[s.state], due_on=s.due_on,
                       acted_at=s.acted_at, note=s.note) for s in steps],
    )


def _answer(session, topic_id: int, status: int = 200):
    session.commit()
    person = require_person()
    return topic_out(session, services.get_topic_or_404(session, topic_id, person)), status


@endpoint(bp, "/platforms/<int:platform_id>/topics", methods=("POST",), summary="新建议题（草稿）",
          tags=[TAG], body=TopicIn, response=TopicOut, status=201, auth=services.MANAGE)
def create_topic(platform_id: int, body: TopicIn):
    """本平台召集人或管辖范围内的政协工作人员新建议题草稿。"""
    session = get_session()
    topic = services.create_topic(session, actor=require_person(), platform_id=platform_id,
                                  **body.model_dump())
    return _answer(session, topic.id, 201)


@endpoint(bp, "/topics/<int:topic_id>", methods=("PATCH",), summary="修改议题（草稿或退回后）",
          tags=[TAG], body=TopicPatch, response=TopicOut, auth=services.MANAGE)
def update_topic(topic_id: int, body: TopicPatch):
    session = get_session()
    services.update_topic(session, actor=require_person(), topic_id=topic_id,
                          **body.model_dump(exclude_unset=True))
    return _answer(session, topic_id)


@endpoint(bp, "/topics/<int:topic_id>/submit", methods=("POST",), summary="提交审核（D8）",
          tags=[TAG], response=TopicOut, auth=services.MANAGE)
def submit_topic(topic_id: int):
    """按平台承载单位生成审核流程并送第一环节；退回修改后再次提交开始新一轮审核。连点两次只提交
    一次，另一次返回 409 `topic_not_submittable`。"""
    session = get_session()
    services.submit_topic(session, actor=require_person(), topic_id=topic_id)
    return _answer(session, topic_id)


@endpoint(bp, "/topics/<int:topic_id>/steps/<int:step_id>/approve", methods=("POST",),
          summary="审核通过本环节", tags=[TAG], body=StepDecisionIn, response=TopicOut,
          auth=services.REVIEW)
def approve_step(topic_id: int, step_id: int, body: StepDecisionIn):
    """只有该环节所属机构的审核人可以办理，且只能办理当前待审环节。每个环节只有一个决定：本人重复
    提交同一决定按第一次的结果回答（200，不重复记录）；已办理的环节再提交不同决定返回 409
    `step_not_current`。"""
    session = get_session()
    services.act_on_step(session, actor=require_person(), topic_id=topic_id, step_id=step_id,
                         approve=True, note=body.note)
    return _answer(session, topic_id)


@endpoint(bp, "/topics/<int:topic_id>/steps/<int:step_id>/return", methods=("POST",),
          summary="退回修改（须填写理由）", tags=[TAG], body=StepDecisionIn, response=TopicOut,
          auth=services.REVIEW)
def return_step(topic_id: int, step_id: int, body: StepDecisionIn):
    """退回须填写理由；重复提交与冲突的处理同“审核通过本环节”。"""
    session = get_session()
    services.act_on_step(session, actor=require_person(), topic_id=topic_id, step_id=step_id,
                         approve=False, note=body.note)
    return _answer(session, topic_id)


@endpoint(bp, "/topics/<int:topic_id>", summary="议题详情（含审核流程）", tags=[TAG],
          response=TopicOut, auth="login")
def topic_detail(topic_id: int):
    """平台召集人、管辖范围内的工作人员和审核机构可以查看；其他人返回 404。"""
    session = get_session()
    return topic_out(session, services.get_topic_or_404(session, topic_id, require_person()))


@endpoint(bp, "/me/reviews", summary="我的审核待办", tags=[TAG], response=ReviewList,
          auth="login")
def my_reviews():
    """代表机构审核的人员：本人所在机构待办理的审核步骤（办理期限近的在前）。没有审核身份的人
    得到空列表（与 /api/me/opinion-inbox 一致）。"""
    session = get_session()
    steps = services.pending_reviews(session, require_person())
    names = dict(session.execute(select(Body.id, Body.name).where(
        Body.id.in_({s.body_id for s in steps}))).all()) if steps else {}
    return ReviewList(items=[ReviewItem(
        step_id=s.id, topic_id=s.topic_id, topic_title=s.topic.title,
        platform_id=s.topic.platform_id, kind=s.kind, kind_label=STEP_KIND_LABELS[s.kind],
        body_id=s.body_id, body_name=names.get(s.body_id, ""), due_on=s.due_on)
        for s in steps])
