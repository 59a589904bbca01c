"""The in-app inbox API (thin): my notices, newest first; mark one as read."""
from __future__ import annotations

from flask import Blueprint

from ..api import endpoint
from ..db import get_session
from . import services
from .schemas import InboxItemOut, InboxPage, InboxQuery

bp = Blueprint("notify", __name__, url_prefix="/api")


def _me():
    from ..auth.current import current_person

    return current_person()  # never None here: auth="login" ran first


@endpoint(bp, "/me/inbox", summary="我的消息", tags=["消息"], query=InboxQuery,
          response=InboxPage, auth="login")
def my_inbox(query: InboxQuery):
    """站内信，最新的在前。每条通知都会在这里留一份，即使微信消息没有送达。
    分页：把返回的 next_before_id 作为下一次请求的 before_id。"""
    session = get_session()
    person = _me()
    items, next_before = services.list_inbox(session, person.id, before_id=query.before_id,
                                             limit=query.limit, unread_only=query.unread_only)
    return InboxPage(items=[InboxItemOut.of(i) for i in items],
                     unread_count=services.unread_count(session, person.id),
                     next_before_id=next_before)


@endpoint(bp, "/me/inbox/<int:item_id>/read", methods=("POST",), summary="标记消息为已读",
          tags=["消息"], response=InboxItemOut, auth="login")
def mark_inbox_read(item_id: int):
    """只能标记自己的消息；别人的消息按“不存在”处理。重复标记保留第一次的阅读时间。"""
    session = get_session()
    item = services.mark_read(session, _me().id, item_id)
    session.commit()
    return InboxItemOut.of(item)
