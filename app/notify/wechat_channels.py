"""The real delivery channels (channels.py describes the two-step protocol).

- ``mp_subscribe``: mini-program subscribe message. One-time templates spend a credit (recorded
  from ``wx.requestSubscribeMessage``, credits.py) inside prepare's transaction; long-term ones
  need the person's standing consent. ``settle`` gives the credit back when WeChat surely did not
  deliver, and zeroes it on 43101 (WeChat says none is left).
- ``oa_template``: Official Account template message (opens the mini-program page when a
  mini-program appid is known).
- ``oa_customer_service``: Official Account text, only inside the 48-hour window after the
  person last wrote to the account (chat_accounts.last_inbound_at).
- ``wecom_robot``: the staff group's WeCom robot. Rows waiting together become one digest (the
  dispatcher gathers them: ``batch_filter``/``join``); 20 messages per minute per key are
  counted in Redis and never exceeded.

Every send maps WeChat's answer with channels.outcome_from_wechat_error: 43101/45015/… skip to the
next channel, 45011/5xx/timeouts-before-sending retry, a timeout after sending is ``unknown``, and
45009 (daily quota) makes the dispatcher pause the channel until Beijing midnight.
"""
from __future__ import annotations

import hashlib
import logging
import time
from datetime import timedelta
from typing import Any, Callable, Sequence

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from ..chat.models import ChatAccount
from ..db import utcnow
from ..org.models import WechatApp, WechatIdentity
from ..wechat.client import ROBOT_TEXT_MAX_BYTES
from ..wechat.errors import WechatError
from . import credits
from .channels import Delivery, Outcome, Result, notice_text, outcome_from_wechat_error
from .models import OutboxMessage
from .templates import Template, TemplateSet

log = logging.getLogger(__name__)

CS_WINDOW = timedelta(hours=48)
ROBOT_PER_MINUTE = 20
ROBOT_BATCH = 30
SANDBOX_ROBOT_KEY = "sandbox-staff-group"


def openid_of(session: Session, person_id: int, app: WechatApp) -> str | None:
    return session.scalar(select(WechatIdentity.openid).where(
        WechatIdentity.person_id == person_id, WechatIdentity.app == app
    ).order_by(WechatIdentity.id.desc()).limit(1))


def call_wechat(send: Callable[[], Any], what: str) -> Outcome:
    """Run one WeChat send and turn its answer into an Outcome."""
    try:
        answer = send()
    except WechatError as exc:
        return outcome_from_wechat_error(exc)
    msgid = f" msgid={answer}" if answer else ""
    return Outcome.sent(f"errcode=0 ok{msgid}（{what}）")


def mini_program_page(link: str | None) -> str | None:
    """A row link ("/pages/meeting/meeting?id=3") as WeChat wants a page: no leading slash."""
    return link.lstrip("/") if link else None


def template_fields(template, row: OutboxMessage) -> dict[str, str]:
    return template.data(kind=row.kind, title=row.title, body=row.body, payload=row.payload)


class _TemplateChannel:
    """A channel sending the kind's template (``templates.<app>``) to the person's openid."""

    app: WechatApp
    no_template: str
    no_openid: str

    def __init__(self, wechat: Any, templates: TemplateSet) -> None:
        self.wechat = wechat
        self.templates = templates

    def _address(self, row: OutboxMessage, session: Session) -> tuple[Template, str] | Outcome:
        template = getattr(self.templates, self.app.value).get(row.kind)
        if template is None:
            return Outcome.skip(self.no_template)
        openid = openid_of(session, row.recipient_id, self.app)
        if openid is None:
            return Outcome.skip(self.no_openid)
        return template, openid


class MpSubscribeChannel(_TemplateChannel):
    name = "mp_subscribe"
    app = WechatApp.mp
    no_template = "该类通知未配置订阅消息模板"
    no_openid = "未登录过小程序"

    def __init__(self, wechat: Any, templates: TemplateSet, state: str = "formal") -> None:
        super().__init__(wechat, templates)
        self.state = state

    def prepare(self, row: OutboxMessage, session: Session) -> Delivery | Outcome:
        address = self._address(row, session)
        if isinstance(address, Outcome):
            return address
        template, openid = address
        if template.long_term:
            if not credits.has_long_term(session, row.recipient_id, template.template_id):
                return Outcome.skip("未开启长期订阅")
        elif not credits.spend(session, row.recipient_id, template.template_id):
            return Outcome.skip("无订阅次数")
        return Delivery.of(row, openid, template_id=template.template_id,
                           long_term=template.long_term, data=template_fields(template, row),
                           page=mini_program_page(row.link))

    def send(self, delivery: Delivery) -> Outcome:
        x = delivery.extra
        return call_wechat(lambda: self.wechat.mp.send_subscribe(
            delivery.target, x["template_id"], x["data"], page=x["page"],
            miniprogram_state=self.state), "订阅消息")

    def settle(self, session: Session, delivery: Delivery, outcome: Outcome) -> None:
        """After the send: the credit stays spent only if the message went (or may have gone)."""
        x = delivery.extra
        if outcome.errcode == 43101:
            credits.exhausted(session, delivery.recipient_id, x["template_id"], x["long_term"])
        elif outcome.result not in (Result.sent, Result.unknown) and not x["long_term"]:
            credits.refund(session, delivery.recipient_id, x["template_id"])


class OaTemplateChannel(_TemplateChannel):
    name = "oa_template"
    app = WechatApp.oa
    no_template = "该类通知未配置公众号模板消息"
    no_openid = "未关注或未绑定公众号"

    def prepare(self, row: OutboxMessage, session: Session) -> Delivery | Outcome:
        address = self._address(row, session)
        if isinstance(address, Outcome):
            return address
        template, openid = address
        mp_appid = getattr(self.wechat.mp, "appid", None)
        page = mini_program_page(row.link)
        mini_program = {"appid": mp_appid, "pagepath": page} if mp_appid and page else None
        return Delivery.of(row, openid, template_id=template.template_id,
                           data=template_fields(template, row), mini_program=mini_program)

    def send(self, delivery: Delivery) -> Outcome:
        x = delivery.extra
        return call_wechat(lambda: self.wechat.oa.send_template(
            delivery.target, x["template_id"], x["data"], mini_program=x["mini_program"]),
            "公众号模板消息")


class OaCustomerServiceChannel:
    name = "oa_customer_service"

    def __init__(self, wechat: Any) -> None:
        self.wechat = wechat

    def prepare(self, row: OutboxMessage, session: Session) -> Delivery | Outcome:
        openid = openid_of(session, row.recipient_id, WechatApp.oa)
        if openid is None:
            return Outcome.skip("未关注或未绑定公众号")
        account = session.scalar(select(ChatAccount).where(ChatAccount.openid == openid))
        if account is None or not account.followed or account.last_inbound_at is None \
                or account.last_inbound_at < utcnow() - CS_WINDOW:
            return Outcome.skip("48 小时内未与公众号互动，不能发客服消息")
        return Delivery.of(row, openid, text=notice_text(row.title, row.body, row.link))

    def send(self, delivery: Delivery) -> Outcome:
        return call_wechat(lambda: self.wechat.oa.send_text(delivery.target,
                                                            delivery.extra["text"]), "客服消息")


def _digest(items: Sequence[tuple[str, str]], link: str | None) -> str:
    if len(items) == 1:
        return notice_text(items[0][0], items[0][1], link)
    lines = [f"【工作提醒】共 {len(items)} 条"]
    lines += [f"{n}. 【{title}】{body}" for n, (title, body) in enumerate(items, 1)]
    return "\n".join(lines)


def _fits(text: str) -> bool:
    return len(text.encode("utf-8")) <= ROBOT_TEXT_MAX_BYTES


class WecomRobotChannel:
    """The staff group's WeCom robot: one message per batch of waiting rows, ≤ 20 per minute."""

    name = "wecom_robot"
    quota_pause = False  # the robot's 45009 is its per-minute limit, not a daily quota
    batch_limit = ROBOT_BATCH

    def __init__(self, wechat: Any, key: str, redis_client: Any, *,
                 per_minute: int = ROBOT_PER_MINUTE,
                 clock: Callable[[], float] = time.time) -> None:
        self.wechat = wechat
        self.key = key
        self.redis = redis_client
        self.per_minute = per_minute
        self.clock = clock

    # -- the per-minute budget (Redis, shared by every dispatcher) ---------------------------------

    def _counter(self, now: float) -> str:
        key_id = hashlib.sha256(self.key.encode()).hexdigest()[:16]  # the key is a secret
        return f"notify:robot:{key_id}:{int(now // 60)}"

    def _wait(self, now: float) -> Outcome:
        return Outcome.retry(after=60 - now % 60 + 1,
                             detail=f"企业微信群机器人每分钟最多 {self.per_minute} 条，下一分钟合并发送")

    def _used(self, now: float) -> int:
        try:
            return int(self.redis.get(self._counter(now)) or 0)
        except Exception:  # Redis down: WeChat's own limit (45009 → retry) still holds
            log.warning("robot rate counter unavailable", exc_info=True)
            return 0

    def _reserve(self, now: float) -> bool:
        try:
            pipe = self.redis.pipeline()
            pipe.incr(self._counter(now))
            pipe.expire(self._counter(now), 120)
            count = pipe.execute()[0]
        except Exception:
            log.warning("robot rate counter unavailable", exc_info=True)
            return True
        return int(count) <= self.per_minute

    # -- the protocol -------------------------------------------------------------------------------

    def prepare(self, row: OutboxMessage, session: Session) -> Delivery | Outcome:
        if not self.key:
            return Outcome.skip("未配置企业微信群机器人（WECOM_ROBOT_KEY）")
        now = self.clock()
        if self._used(now) >= self.per_minute:
            return self._wait(now)
        items = [(row.title, row.body)]
        return Delivery.of(row, self.key, items=items, text=_digest(items, row.link))

    def batch_filter(self, row: OutboxMessage):
        """Rows that may go out in the same group message as ``row``."""
        t = OutboxMessage
        return (t.kind == row.kind) & or_(t.channel.is_(None), t.channel == self.name)

    def join(self, lead: Delivery, others: Sequence[OutboxMessage]
             ) -> tuple[Delivery, list[int]]:
        """One digest: identical notices (one per staff member) appear once; rows whose text
        would not fit in one message (2048 bytes) are left for the next one."""
        items = list(lead.extra["items"])
        joined: list[int] = []
        for row in others:
            item = (row.title, row.body)
            if item not in items:
                if not _fits(_digest(items + [item], lead.link)):
                    continue
                items.append(item)
            joined.append(row.id)
        extra = {**lead.extra, "items": items, "text": _digest(items, lead.link)}
        return Delivery(**{**vars(lead), "extra": extra}), joined

    def send(self, delivery: Delivery) -> Outcome:
        now = self.clock()
        if not self._reserve(now):
            return self._wait(now)
        return call_wechat(lambda: self.wechat.robot_send(delivery.target, delivery.extra["text"]),
                           "企业微信群机器人")


def wechat_channels(wechat: Any, templates: TemplateSet, config: Any,
                    redis_client: Any) -> list:
    """The real channels this deployment can use (an app that is not configured is left out)."""
    found: list = []
    mp = getattr(wechat, "mp", None)
    oa = getattr(wechat, "oa", None)
    if mp is not None and mp.configured and templates.mp:
        found.append(MpSubscribeChannel(wechat, templates, config.wechat_mp_state))
    if oa is not None and oa.configured:
        if templates.oa:
            found.append(OaTemplateChannel(wechat, templates))
        found.append(OaCustomerServiceChannel(wechat))
    key = config.wecom_robot_key or (SANDBOX_ROBOT_KEY if config.sandbox else "")
    if key and wechat is not None:
        found.append(WecomRobotChannel(wechat, key, redis_client))
    return found

