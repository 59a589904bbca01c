"""The in-app inbox API (thin): my notices, newest first; mark one as read. Subscribe-message
credits: what the mini-program should ask for, and what the person answered."""
from __future__ import annotations

from flask import Blueprint, current_app

from ..api import endpoint
from ..db import get_session
from . import credits, services
from .schemas import (InboxItemOut, InboxPage, InboxQuery, KindSubscriptionOut, SubscribeResults,
                      SubscriptionsOut)
from .templates import get_templates

bp = Blueprint("notify", __name__, url_prefix="/api")
# The template file is read and checked when the app is built: a mistake stops the start-up.
bp.record_once(lambda state: get_templates(state.app))


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


def _subscriptions(session, person_id: int) -> SubscriptionsOut:
    kinds = credits.subscriptions_of(session, person_id, get_templates(current_app))
    return SubscriptionsOut(kinds=[KindSubscriptionOut(**vars(k)) for k in kinds],
                            max_per_request=credits.MAX_PER_REQUEST,
                            credit_cap=credits.CREDIT_CAP)


@endpoint(bp, "/me/subscriptions", summary="我的订阅消息", tags=["消息"],
          response=SubscriptionsOut, auth="login")
def my_subscriptions():
    """每类通知对应的小程序订阅消息模板，以及我还能收到几条（一次性订阅）或是否已长期订阅。
    小程序在用户点击按钮时，据此调用 wx.requestSubscribeMessage（每次最多 3 个模板）。"""
    return _subscriptions(get_session(), _me().id)


@endpoint(bp, "/me/subscriptions", methods=("POST",), summary="记录订阅结果", tags=["消息"],
          body=SubscribeResults, response=SubscriptionsOut, auth="login")
def record_subscriptions(body: SubscribeResults):
    """把 wx.requestSubscribeMessage 的返回结果原样提交：一次性模板每次“accept”可多收一条消息
    （每个模板最多累计 50 次）；长期模板“accept”即开启，“reject”“ban”即关闭。
    本系统未配置的模板编号会被忽略。"""
    session = get_session()
    person = _me()
    credits.record_results(session, person.id, body.results, get_templates(current_app))
    session.commit()
    return _subscriptions(session, person.id)
