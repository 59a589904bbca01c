"""Handling API for department handlers (D20–D21). Thin: the rules are in handling.py; each
request commits once."""
from __future__ import annotations

from flask import Blueprint

from ..api import endpoint
from ..auth.current import require_person
from ..db import get_session
from . import handling
from .schemas import CompleteIn, ExtensionIn, PlanIn, ProgressIn, TaskDetail, TaskList, TaskQuery
from .views import task_detail, task_views

bp = Blueprint("handling", __name__, url_prefix="/api/handling")
TAG = "承办部门"
ACT = "handling.act"


@endpoint(bp, "/tasks", summary="本部门的交办事项", tags=[TAG], query=TaskQuery,
          response=TaskList, auth=ACT)
def tasks(query: TaskQuery):
    """承办部门经办人：本部门牵头或协办的交办事项，新的在前。可按状态（state，可重复）和是否
    逾期（overdue）筛选；逾期指办理期限早于今天（北京时间）且未办结，workdays_overdue 为逾期的
    工作日数。"""
    session = get_session()
    person = require_person()
    rows = handling.list_tasks(session, person, states=query.state, overdue=query.overdue)
    return TaskList(items=task_views(session, rows, handling.handler_body_ids(session, person)))


def _answer(session, person, task) -> TaskDetail:
    return task_detail(session, task, handling.handler_body_ids(session, person))


@endpoint(bp, "/tasks/<int:task_id>", summary="交办事项详情", tags=[TAG], response=TaskDetail,
          auth=ACT)
def detail(task_id: int):
    """事项、期限、进度和每一步办理记录（含图片和 PDF）。只能查看本部门牵头或协办的事项，其他
    部门的事项返回 404。"""
    session = get_session()
    person = require_person()
    return _answer(session, person, handling.get_task_or_404(session, task_id, person))


def _step(fn, task_id: int, **kwargs) -> TaskDetail:
    session = get_session()
    person = require_person()
    task = fn(session, actor=person, task_id=task_id, **kwargs)
    session.commit()
    return _answer(session, person, task)


@endpoint(bp, "/tasks/<int:task_id>/accept", methods=("POST",), summary="签收", tags=[TAG],
          response=TaskDetail, auth=ACT)
def accept(task_id: int):
    """牵头承办部门签收交办事项（已签收的再次签收按原结果回答）。协办部门 403
    `lead_department_only`。"""
    return _step(handling.accept, task_id)


@endpoint(bp, "/tasks/<int:task_id>/plan", methods=("POST",), summary="提交工作方案",
          tags=[TAG], body=PlanIn, response=TaskDetail, auth=ACT)
def plan(task_id: int, body: PlanIn):
    """D20：签收后提交工作方案，之后可以报送进展。未签收 409 `task_not_accepted`；重复提交同一
    方案按原结果回答。"""
    return _step(handling.plan, task_id, text=body.text)


@endpoint(bp, "/tasks/<int:task_id>/progress", methods=("POST",), summary="报送办理进展",
          tags=[TAG], body=ProgressIn, response=TaskDetail, auth=ACT)
def progress(task_id: int, body: ProgressIn):
    """牵头或协办部门报送进展：进度（0–100，不能低于上次，否则 422 `percent_decreasing`）、说明、
    图片或 PDF。提交工作方案前 409 `task_not_planned`，办结后 409 `task_completed`。"""
    return _step(handling.progress, task_id, percent=body.percent, text=body.text,
                 upload_keys=body.upload_keys)


@endpoint(bp, "/tasks/<int:task_id>/complete", methods=("POST",), summary="办结",
          tags=[TAG], body=CompleteIn, response=TaskDetail, auth=ACT)
def complete(task_id: int, body: CompleteIn):
    """D21：牵头承办部门填写办理结果办结，进度记为 100%，交办单位的审核人收到通知。办结后不能再
    更改（409 `task_completed`；同一结果重复提交按原结果回答）。"""
    return _step(handling.complete, task_id, result=body.result, upload_keys=body.upload_keys)


@endpoint(bp, "/tasks/<int:task_id>/extension", methods=("POST",), summary="申请延期",
          tags=[TAG], body=ExtensionIn, response=TaskDetail, auth=ACT)
def extension(task_id: int, body: ExtensionIn):
    """牵头承办部门申请延期，由交办单位审批。新日期须晚于当前期限（422
    `extension_not_later`）、不早于今天（422 `due_in_past`），最多为当前期限后 60 个工作日
    （422 `extension_too_long`）；每个事项同时只能有一份待审批的申请（409
    `extension_pending`，同一申请重复提交按原结果回答）。"""
    return _step(handling.request_extension, task_id, due_on=body.due_on, reason=body.reason)
