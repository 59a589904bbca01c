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
from ..org.models import WechatApp
from ..wechat.client import ROBOT_TEXT_MAX_BYTES
from ..wechat.errors import WechatError
from . import credits
from .channels import (BatchPrepare, Delivery, Outcome, Prepared, Result, mp_appid, notice_text,
                       openids_of, outcome_from_wechat_error)
from .models import OutboxMessage
from .templates import Template, TemplateSet

log = logging.getLogger(__name__)

CS_WINDOW = timedelta(hours=48)
ROBOT_PER_MINUTE = 20
ROBOT_BATCH = 30
SANDBOX_ROBOT_KEY = "sandbox-staff-group"


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


class _TemplateChannel(BatchPrepare):
    """A channel sending the kind's template (``templates.<app>``) to the person's openid."""

    app: WechatApp
    no_template: str
    no_openid: str

    def __init__(self, wechat: Any, templates: TemplateSet) -> None:
        self.wechat = wechat
        self.templates = templates

    def _addresses(self, rows: Sequence[OutboxMessage], session: Session
                   ) -> dict[int, tuple[Template, str] | Outcome]:
        """Per row: its template and openid (one query for the batch), or the skip."""
        templates = getattr(self.templates, self.app.value)
        addressed = [row for row in rows if row.kind in templates]
        openids = openids_of(session, [row.recipient_id for row in addressed], self.app)
        out: dict[int, tuple[Template, str] | Outcome] = {}
        for row in rows:
            openid = openids.get(row.recipient_id)
            out[row.id] = (Outcome.skip(self.no_template) if row.kind not in templates
                           else Outcome.skip(self.no_openid) if openid is None
                           else (templates[row.kind], openid))
        return out


class MpSubscribeChannel(_TemplateChannel):
    name = "mp_subscribe"
    app = WechatApp.mp
    no_template = "该类通知未配置订阅消息模板"
    no_openid = "未登录过小程序"

    def __init__(self, wechat: Any, templates: TemplateSet, state: str = "formal") -> None:
        super().__init__(wechat, templates)
        self.state = state

    def prepare_many(self, rows: Sequence[OutboxMessage], session: Session) -> Prepared:
        """Openids in one query, long-term consents in one, one-time credits spent with one
        conditional UPDATE … RETURNING per template."""
        out: Prepared = {}
        addressed = []
        for row, address in zip(rows, self._addresses(rows, session).values()):
            if isinstance(address, Outcome):
                out[row.id] = address
            else:
                addressed.append((row, *address))
        long_term = [(r.recipient_id, t.template_id) for r, t, _ in addressed if t.long_term]
        consented = credits.long_term_of(session, long_term)
        one_time = [(r, t, o) for r, t, o in addressed if not t.long_term]
        spent = credits.spend_many(session, [(r.recipient_id, t.template_id)
                                             for r, t, _ in one_time])
        allowed = dict(zip((r.id for r, _, _ in one_time), spent))
        for row, template, openid in addressed:
            if template.long_term and (row.recipient_id, template.template_id) not in consented:
                out[row.id] = Outcome.skip("未开启长期订阅")
            elif not template.long_term and not allowed[row.id]:
                out[row.id] = Outcome.skip("无订阅次数")
            else:
                out[row.id] = Delivery.of(
                    row, openid, template_id=template.template_id,
                    long_term=template.long_term, data=template_fields(template, row),
                    page=mini_program_page(row.link))
        return out

    def send(self, delivery: Delivery) -> Outcome:
        x = delivery.extra
        return call_wechat(lambda: self.wechat.mp.send_subscribe(
            delivery.target, x["template_id"], x["data"], page=x["page"],
            miniprogram_state=self.state), "订阅消息")

    def settle_many(self, session: Session,
                    settled: Sequence[tuple[Delivery, Outcome]]) -> None:
        """After the sends: a credit stays spent only if its message went (or may have gone);
        43101 zeroes it (or the long-term consent). A few statements for the whole batch."""
        exhausted, refunds = [], []
        for delivery, outcome in settled:
            x = delivery.extra
            if outcome.errcode == 43101:
                exhausted.append((delivery.recipient_id, x["template_id"], x["long_term"]))
            elif outcome.result not in (Result.sent, Result.unknown) and not x["long_term"]:
                refunds.append((delivery.recipient_id, x["template_id"]))
        credits.exhausted_many(session, exhausted)
        credits.refund_many(session, refunds)


class OaTemplateChannel(_TemplateChannel):
    name = "oa_template"
    app = WechatApp.oa
    no_template = "该类通知未配置公众号模板消息"
    no_openid = "未关注或未绑定公众号"

    def prepare_many(self, rows: Sequence[OutboxMessage], session: Session) -> Prepared:
        mp_appid = getattr(self.wechat.mp, "appid", None)
        out: Prepared = {}
        for row, address in zip(rows, self._addresses(rows, session).values()):
            if isinstance(address, Outcome):
                out[row.id] = address
                continue
            template, openid = address
            page = mini_program_page(row.link)
            mini_program = {"appid": mp_appid, "pagepath": page} if mp_appid and page else None
            out[row.id] = Delivery.of(row, openid, template_id=template.template_id,
                                      data=template_fields(template, row),
                                      mini_program=mini_program)
        return out

    def send(self, delivery: Delivery) -> Outcome:
        x = delivery.extra
        return call_wechat(lambda: self.wechat.oa.send_template(
            delivery.target, x["template_id"], x["data"], mini_program=x["mini_program"]),
            "公众号模板消息")


class OaCustomerServiceChannel(BatchPrepare):
    name = "oa_customer_service"

    def __init__(self, wechat: Any) -> None:
        self.wechat = wechat

    def prepare_many(self, rows: Sequence[OutboxMessage], session: Session) -> Prepared:
        """Openids in one query, their chat accounts (the 48-hour window) in another."""
        openids = openids_of(session, [row.recipient_id for row in rows], WechatApp.oa)
        since = utcnow() - CS_WINDOW
        open_window = set(session.scalars(select(ChatAccount.openid).where(
            ChatAccount.openid.in_(set(openids.values())), ChatAccount.followed,
            ChatAccount.last_inbound_at >= since))) if openids else set()
        out: Prepared = {}
        for row in rows:
            openid = openids.get(row.recipient_id)
            out[row.id] = (
                Outcome.skip("未关注或未绑定公众号") if openid is None
                else Outcome.skip("48 小时内未与公众号互动，不能发客服消息")
                if openid not in open_window
                else Delivery.of(row, openid, text=notice_text(
                    row.title, row.body, row.link, mp_appid(self.wechat))))
        return out

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


class WecomRobotChannel(BatchPrepare):
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

    def prepare_many(self, rows: Sequence[OutboxMessage], session: Session) -> Prepared:
        if not self.key:
            return {row.id: Outcome.skip("未配置企业微信群机器人（WECOM_ROBOT_KEY）")
                    for row in rows}
        now = self.clock()
        if self._used(now) >= self.per_minute:  # one look at the shared counter per batch
            return {row.id: self._wait(now) for row in rows}
        return {row.id: Delivery.of(row, self.key, items=[(row.title, row.body)],
                                    text=_digest([(row.title, row.body)], row.link))
                for row in rows}

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

