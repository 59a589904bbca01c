"""Delivery channels behind the outbox dispatcher.

A channel works in two steps so that no network call ever happens inside a database transaction
(on SQLite a transaction holds the write lock; on PostgreSQL it would hold row locks):

- ``prepare(row, session) -> Delivery | Outcome`` runs inside the dispatcher's transaction: look
  up what the send needs (an openid, a subscription credit…). Returning an ``Outcome`` settles the
  step without a network call (the inbox channel does its whole job here; "no openid" is a skip).
  The dispatcher works in batches and calls ``prepare_many(rows, session) -> {row id: Delivery |
  Outcome}`` when a channel has it (a few statements for the whole batch instead of a few per
  row; the channels here implement ``prepare`` as a batch of one); ``prepare_all`` below falls
  back to ``prepare`` row by row for a channel without it.
- ``send(delivery) -> Outcome`` runs outside any transaction and does the network call. It gets
  a plain ``Delivery`` value, never an ORM object. The dispatcher calls it from several threads
  at once (a batch's sends overlap WeChat's latency): it must be thread-safe.

Outcomes: sent / retry(after) / failed (this channel refused for good) / unknown (the request went
out, no answer came back: never repeated automatically) / skip (not applicable: fall through to the
next channel, e.g. 43101 no subscription credit).

Optional hooks (the real channels are in wechat_channels.py):

- ``settle(session, delivery, outcome)`` runs inside the transaction that records a send's
  outcome (e.g. mp_subscribe gives a subscription credit back when nothing was delivered);
  ``settle_many(session, [(delivery, outcome)…])`` does it for a batch (``settle_all`` below);
- ``batch_filter(row)`` + ``join(delivery, rows) -> (delivery, joined ids)`` + ``batch_limit``:
  other due rows that may go out in the same message (the WeCom robot's digest). The dispatcher
  claims the joined rows under the same lease with their own in-flight markers and settles them
  with the lead row's outcome;
- ``quota_pause = False``: this channel's 45009 is not a daily quota (the dispatcher otherwise
  pauses a channel answering 45009 until Beijing midnight, see dispatcher.py).

Per notice kind, CHANNEL_ORDER lists the external channels to try in turn. The in-app inbox is not
in the list: it always gets its copy first, so nothing is lost when WeChat refuses.
"""
from __future__ import annotations

import enum
import html
import logging
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping, Protocol, Sequence, runtime_checkable

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from ..db import utcnow

from .models import NOTICE_KINDS, AttemptOutcome, InboxItem, OutboxMessage

log = logging.getLogger(__name__)

DETAIL_MAX = 500

# WeChat errcodes meaning "this channel cannot reach this person now; try the next one".
SKIP_ERRCODES = frozenset({
    43101,  # no subscription credit left
    43004,  # not following the Official Account
    45015,  # outside the 48-hour customer-service window
    45047,  # customer-service message limit reached in the window
    40003,  # invalid openid for this app
})


class Result(str, enum.Enum):
    sent = "sent"
    retry = "retry"
    failed = "failed"
    unknown = "unknown"
    skip = "skip"


_ATTEMPT = {
    Result.sent: AttemptOutcome.sent, Result.retry: AttemptOutcome.retry,
    Result.failed: AttemptOutcome.failed, Result.unknown: AttemptOutcome.unknown,
    Result.skip: AttemptOutcome.skipped,
}


@dataclass(frozen=True)
class Outcome:
    result: Result
    retry_after: float | None = None  # seconds; a floor for the dispatcher's backoff
    errcode: int | None = None
    detail: str = ""                  # WeChat's answer or our note; nothing personal

    @classmethod
    def sent(cls, detail: str = "") -> "Outcome":
        return cls(Result.sent, detail=detail)

    @classmethod
    def retry(cls, after: float | None = None, detail: str = "",
              errcode: int | None = None) -> "Outcome":
        return cls(Result.retry, retry_after=after, errcode=errcode, detail=detail)

    @classmethod
    def failed(cls, detail: str, errcode: int | None = None) -> "Outcome":
        return cls(Result.failed, errcode=errcode, detail=detail)

    @classmethod
    def unknown(cls, detail: str, errcode: int | None = None) -> "Outcome":
        return cls(Result.unknown, errcode=errcode, detail=detail)

    @classmethod
    def skip(cls, detail: str, errcode: int | None = None) -> "Outcome":
        return cls(Result.skip, errcode=errcode, detail=detail)

    @property
    def attempt_outcome(self) -> AttemptOutcome:
        return _ATTEMPT[self.result]

    @property
    def short_detail(self) -> str:
        return self.detail[:DETAIL_MAX]


def outcome_from_wechat_error(exc: Any) -> Outcome:
    """Map app.wechat.errors.WechatError (duck-typed: errcode, errmsg, outcome, retry_after)."""
    errcode = getattr(exc, "errcode", None)
    errmsg = getattr(exc, "errmsg", None) or getattr(exc, "code", "")
    detail = f"errcode={errcode} {errmsg}" if errcode is not None else str(errmsg)
    verdict = getattr(getattr(exc, "outcome", None), "value", "retryable")
    if verdict == "unknown":
        return Outcome.unknown(detail or "请求已发出，未收到微信答复", errcode)
    if errcode in SKIP_ERRCODES:
        return Outcome.skip(detail, errcode)
    if verdict == "permanent":
        return Outcome.failed(detail, errcode)
    return Outcome.retry(getattr(exc, "retry_after", None), detail, errcode)


@dataclass(frozen=True)
class Delivery:
    """What an external channel needs to send one notice (plain values only)."""

    outbox_id: int
    recipient_id: int
    kind: str
    title: str
    body: str
    link: str | None
    payload: dict | None
    target: str | None = None  # openid, robot key…
    extra: dict = field(default_factory=dict)

    @classmethod
    def of(cls, row: OutboxMessage, target: str | None = None, **extra: Any) -> "Delivery":
        return cls(outbox_id=row.id, recipient_id=row.recipient_id, kind=row.kind,
                   title=row.title, body=row.body, link=row.link,
                   payload=dict(row.payload) if row.payload else None, target=target,
                   extra=extra)


@runtime_checkable
class Channel(Protocol):
    name: str

    def prepare(self, row: OutboxMessage, session: Session) -> Delivery | Outcome: ...

    def send(self, delivery: Delivery) -> Outcome: ...


Prepared = dict[int, "Delivery | Outcome"]  # outbox id → what prepare decided


def prepare_all(channel: Any, rows: Sequence[OutboxMessage], session: Session) -> Prepared:
    """``channel.prepare_many`` when it has one, else ``prepare`` row by row."""
    many = getattr(channel, "prepare_many", None)
    if many is not None:
        return many(rows, session)
    return {row.id: channel.prepare(row, session) for row in rows}


def settle_all(channel: Any, session: Session,
               settled: Sequence[tuple[Delivery, Outcome]]) -> None:
    """Run the channel's settle hook for a batch of sends (``settle_many`` when it has one)."""
    many = getattr(channel, "settle_many", None)
    if many is not None:
        many(session, settled)
        return
    settle = getattr(channel, "settle", None)
    if settle is not None:
        for delivery, outcome in settled:
            settle(session, delivery, outcome)


class BatchPrepare:
    """Mixin: ``prepare`` is ``prepare_many`` for one row (one implementation)."""

    def prepare_many(self, rows: Sequence[OutboxMessage], session: Session
                     ) -> Prepared:  # pragma: no cover - overridden
        raise NotImplementedError

    def prepare(self, row: OutboxMessage, session: Session) -> Delivery | Outcome:
        return self.prepare_many([row], session)[row.id]


class InboxChannel(BatchPrepare):
    """The in-app inbox: always run first, inside the transaction (idempotent per outbox row)."""

    name = "inbox"

    def prepare_many(self, rows: Sequence[OutboxMessage], session: Session) -> Prepared:
        """One SELECT for the copies that exist (a later pass: retry, re-claim) and one
        multi-row INSERT for the others."""
        ids = [row.id for row in rows]
        exists = set(session.scalars(select(InboxItem.outbox_id)
                                     .where(InboxItem.outbox_id.in_(ids)))) if ids else set()
        new = [row for row in rows if row.id not in exists]
        if new:
            now = utcnow()
            session.execute(insert(InboxItem), [
                {"person_id": row.recipient_id, "outbox_id": row.id, "kind": row.kind,
                 "title": row.title, "body": row.body, "link": row.link, "created_at": now}
                for row in new])
        return {row.id: Outcome.skip("站内信已存在") if row.id in exists
                else Outcome.sent("已写入站内信") for row in rows}

    def send(self, delivery: Delivery) -> Outcome:  # pragma: no cover - settled in prepare
        return Outcome.sent("已写入站内信")


SANDBOX_TEXT_MAX = 600


def openids_of(session: Session, person_ids: Iterable[int], app: Any, *,
               latest: bool = True) -> dict[int, str]:
    """person id → their openid in ``app`` (the newest identity, or the oldest), one query."""
    from ..org.models import WechatIdentity

    wanted = set(person_ids)
    if not wanted:
        return {}
    t = WechatIdentity
    found: dict[int, str] = {}
    for person_id, openid in session.execute(
            select(t.person_id, t.openid).where(t.person_id.in_(wanted), t.app == app)
            .order_by(t.id.desc() if latest else t.id)):
        found.setdefault(person_id, openid)
    return found


# An Official Account text may carry a link that opens a mini-program page (WECHAT.md: the
# mini-program must be associated with the account); `href` is for WeChat versions without it.
MINI_PROGRAM_LINK_FALLBACK = "https://mp.weixin.qq.com/"


def notice_text(title: str, body: str, link: str | None, mp_appid: str | None = None) -> str:
    """Plain text of a notice for a chat message (customer-service message, robot). With the
    mini-program's appid (Official Account texts), the link is a tappable mini-program link,
    kept whole when the text is cut."""
    label = f"【{title}】"
    text = f"{label}\n{body}"
    if link and mp_appid:
        page = html.escape(link.lstrip("/"), quote=True)
        tail = (f'\n<a href="{MINI_PROGRAM_LINK_FALLBACK}" data-miniprogram-appid='
                f'"{html.escape(mp_appid, quote=True)}" data-miniprogram-path="{page}">'
                "在小程序中查看详情</a>")
        room = SANDBOX_TEXT_MAX - len(tail)
        return (text if len(text) <= room else text[:room - 1] + "…") + tail
    if link:
        text += "\n（详情请在小程序中查看）"
    if len(text) > SANDBOX_TEXT_MAX:
        text = text[:SANDBOX_TEXT_MAX - 1] + "…"
    return text


def mp_appid(wechat: Any) -> str | None:
    return getattr(getattr(wechat, "mp", None), "appid", None) or None


class SandboxChannel(BatchPrepare):
    """Sandbox mode: the notice goes to the local fake WeChat as an Official Account
    customer-service text, so it shows in the fake's record and the sandbox chat page.

    Without a usable client (no WECHAT_API_BASE yet) the send is only recorded in the attempt.
    """

    name = "sandbox"

    def __init__(self, wechat: Any = None) -> None:
        self.wechat = wechat

    @property
    def usable(self) -> bool:
        oa = getattr(self.wechat, "oa", None)
        return bool(oa is not None and getattr(oa, "configured", False))

    def prepare_many(self, rows: Sequence[OutboxMessage], session: Session) -> Prepared:
        from ..org.models import WechatApp

        openids = openids_of(session, [row.recipient_id for row in rows], WechatApp.oa,
                             latest=False)
        # Sandbox only: a person who never bound the Official Account still gets a record at
        # the fake under a synthetic openid (the fake accepts any openid starting with "o").
        return {row.id: Delivery.of(
            row, openids.get(row.recipient_id) or f"osandbox_person_{row.recipient_id}",
            text=notice_text(row.title, row.body, row.link, mp_appid(self.wechat)))
            for row in rows}

    def send(self, delivery: Delivery) -> Outcome:
        if not self.usable:
            log.info("sandbox notice recorded only (no fake WeChat client)", extra={"fields": {
                "outbox_id": delivery.outbox_id, "kind": delivery.kind}})
            return Outcome.sent("沙箱模式：未连接模拟微信，仅记录")
        from ..wechat.errors import WechatError

        try:
            self.wechat.oa.send_text(delivery.target, delivery.extra["text"])
        except WechatError as exc:
            return outcome_from_wechat_error(exc)
        return Outcome.sent("errcode=0 ok（模拟微信客服消息）")


# Per notice kind, the external channels in the order they are tried. Names without a registered
# channel are left out (e.g. oa_template when the Official Account is not configured).
CHANNEL_ORDER: dict[str, tuple[str, ...]] = {
    "meeting_notice": ("mp_subscribe", "oa_template", "oa_customer_service"),
    "briefing": ("mp_subscribe", "oa_template", "oa_customer_service"),
    "status_change": ("mp_subscribe", "oa_template"),
    "reminder": ("mp_subscribe", "oa_template", "oa_customer_service"),
    "feedback": ("mp_subscribe", "oa_template"),
    "chat_reply": ("oa_customer_service",),
    "staff_alert": ("wecom_robot",),
    "review_request": ("mp_subscribe", "oa_template"),
    "research_alert": ("oa_template", "mp_subscribe"),
}
DEFAULT_ORDER: tuple[str, ...] = ("mp_subscribe", "oa_template")
CHANNEL_LABELS: dict[str, str] = {
    "mp_subscribe": "小程序订阅消息",
    "oa_template": "公众号模板消息",
    "oa_customer_service": "公众号客服消息",
    "wecom_robot": "企业微信群机器人",
    "sandbox": "沙箱模拟消息",
}
assert set(CHANNEL_ORDER) == set(NOTICE_KINDS), "every notice kind needs a channel order"


class ChannelSet:
    """The registered channels and the order in which they are tried per kind."""

    def __init__(self, channels: Iterable[Channel] = (),
                 order: Mapping[str, Sequence[str]] | None = None,
                 default: Sequence[str] = DEFAULT_ORDER, inbox: Channel | None = None) -> None:
        self.inbox: Channel = inbox or InboxChannel()
        self.channels: dict[str, Channel] = {}
        for ch in channels:
            if ch.name == self.inbox.name or ch.name in self.channels:
                raise ValueError(f"duplicate channel name {ch.name!r}")
            self.channels[ch.name] = ch
        self.order = {k: tuple(v) for k, v in (CHANNEL_ORDER if order is None else order).items()}
        self.default = tuple(default)

    def order_for(self, kind: str) -> tuple[str, ...]:
        """The registered external channels for this kind, in order."""
        names = self.order.get(kind, self.default)
        return tuple(n for n in names if n in self.channels)

    def get(self, name: str) -> Channel:
        return self.channels[name]


def build_channels(app: Any, wechat: Any = None) -> ChannelSet:
    """The channels of this deployment: the real WeChat channels the settings allow (templates,
    WECOM_ROBOT_KEY…). Sandbox mode: the same channels against the fake WeChat with the sandbox
    templates, and the SandboxChannel last in every kind's order, so a person without any openid
    still shows up at the fake. ``wechat`` replaces the app's gateways (tests)."""
    from .templates import get_templates
    from .wechat_channels import wechat_channels

    config = app.config["APP"]
    wechat = wechat if wechat is not None else app.extensions.get("wechat")
    real = wechat_channels(wechat, get_templates(app), config, app.extensions.get("redis"))
    if not config.sandbox:
        return ChannelSet(real)
    sandbox = SandboxChannel(wechat)
    order = {kind: CHANNEL_ORDER.get(kind, DEFAULT_ORDER) + (sandbox.name,)
             for kind in NOTICE_KINDS}
    return ChannelSet([*real, sandbox], order=order, default=DEFAULT_ORDER + (sandbox.name,))
