"""Supervision API (D24): staff flag key items and name members; members see their items and
add notes; staff see overdue items. Thin: the rules are in supervision.py."""
from __future__ import annotations

from dataclasses import asdict

from flask import Blueprint

from ..api import endpoint
from ..auth.current import require_person
from ..db import get_session
from . import supervision
from .schemas import FlagIn, NoteIn, SupervisedItem, SupervisedList

bp = Blueprint("supervision", __name__, url_prefix="/api")
TAG = "跟踪督办"


def _out(view) -> SupervisedItem:
    data = asdict(view)
    data["state"] = view.state.value
    return SupervisedItem(**data)


@endpoint(bp, "/opinion-items/<int:item_id>/supervision", methods=("POST",),
          summary="列为重点督办事项", tags=[TAG], body=FlagIn, response=SupervisedItem,
          auth=supervision.SUPERVISE)
def flag(item_id: int, body: FlagIn):
    """D24：政协工作人员把本辖区的重点难点意见事项列为重点督办，说明理由并指定跟踪督办的
    委员（须为在任政协委员，否则 422 `not_a_member`）；新指定的委员收到通知。同样的理由和委员
    重复提交按原结果回答；再次提交可更新理由、增加委员。"""
    session = get_session()
    person = require_person()
    supervision.flag_item(session, actor=person, item_id=item_id, reason=body.reason,
                          member_ids=body.member_ids)
    session.commit()
    return _out(supervision.item_views(session, [item_id], with_notes=True)[0])


@endpoint(bp, "/me/supervision", summary="我跟踪督办的事项", tags=[TAG], response=SupervisedList,
          auth="login")
def mine():
    """委员：被指定跟踪督办的事项，含承办部门、办理期限、是否逾期及逾期工作日数和督办记录。"""
    session = get_session()
    return SupervisedList(items=[_out(v) for v in
                                 supervision.my_items(session, require_person())])


@endpoint(bp, "/opinion-items/<int:item_id>/supervision-notes", methods=("POST",),
          summary="记录督办意见", tags=[TAG], body=NoteIn, response=SupervisedItem, auth="login")
def note(item_id: int, body: NoteIn):
    """被指定的委员记录督办意见（文字和图片）。未被指定的人返回 404 `item_not_found`；同一意见
    重复提交按原结果回答。"""
    session = get_session()
    view = supervision.add_note(session, actor=require_person(), item_id=item_id,
                                text=body.text, upload_keys=body.upload_keys)
    session.commit()
    return _out(view)


@endpoint(bp, "/handling/overdue", summary="逾期未办结事项", tags=[TAG],
          response=SupervisedList, auth=supervision.SUPERVISE)
def overdue():
    """政协工作人员：本辖区内超过办理期限仍未办结的事项，逾期最久的在前。"""
    session = get_session()
    return SupervisedList(items=[_out(v) for v in
                                 supervision.overdue_items(session, require_person())])
