"""Mini-program subscribe-message credits (WECHAT.md "Platform rules").

The mini-program calls ``wx.requestSubscribeMessage`` on a user tap and posts the raw result
(``{"<template id>": "accept" | "reject" | "ban" | "filter", "errMsg": …}``) here:

- "accept" on a one-time template: one more credit (one message may be sent), at most
  CREDIT_CAP stored — WeChat itself keeps no more useful count than that, and a person tapping
  the same button a hundred times should not build a hoard;
- "accept" on a long-term template: ``long_term`` on (no credit needed); "reject"/"ban" clears it;
- template ids this deployment has not configured are ignored (an old mini-program version).

The mp_subscribe channel spends one credit per one-time send (a conditional UPDATE, credits > 0)
and gives it back when WeChat surely did not deliver (``refund``). All writes are single
statements guarded by the (person_id, template_id) UNIQUE constraint: concurrent reports and
sends never lose a count.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from ..db import insert_ignoring_duplicate, utcnow
from .models import NOTICE_KINDS, SubscriptionCredit
from .templates import TemplateSet

CREDIT_CAP = 50
MAX_PER_REQUEST = 3  # wx.requestSubscribeMessage accepts at most 3 template ids per call
RESULTS = ("accept", "reject", "ban", "filter")

_t = SubscriptionCredit


def _where(person_id: int, template_id: str):
    return (_t.person_id == person_id, _t.template_id == template_id)


def _ensure_row(session: Session, person_id: int, template_id: str) -> None:
    insert_ignoring_duplicate(session, _t.__table__, {
        "person_id": person_id, "template_id": template_id, "credits": 0, "long_term": False,
        "updated_at": utcnow()}, ["person_id", "template_id"])


def record_results(session: Session, person_id: int, results: Mapping[str, str],
                   templates: TemplateSet) -> int:
    """Apply a ``wx.requestSubscribeMessage`` result; returns how many entries counted."""
    counted = 0
    for template_id, answer in results.items():
        template = templates.mp_template(template_id)
        if template is None:
            continue  # not configured here: ignored
        counted += 1
        if answer == "accept":
            _ensure_row(session, person_id, template_id)
            change = ({"long_term": True} if template.long_term
                      else {"credits": _t.credits + 1})
            stmt = update(_t).where(*_where(person_id, template_id))
            if not template.long_term:
                stmt = stmt.where(_t.credits < CREDIT_CAP)
            session.execute(stmt.values(**change, updated_at=utcnow())
                            .execution_options(synchronize_session=False))
        elif answer in ("reject", "ban") and template.long_term:
            session.execute(update(_t).where(*_where(person_id, template_id), _t.long_term)
                            .values(long_term=False, updated_at=utcnow())
                            .execution_options(synchronize_session=False))
        # "filter" (hidden by WeChat's background rules) and a one-time "reject": nothing to do.
    return counted


def spend(session: Session, person_id: int, template_id: str) -> bool:
    """Take one credit for one send; False when none is left."""
    result = session.execute(
        update(_t).where(*_where(person_id, template_id), _t.credits > 0)
        .values(credits=_t.credits - 1, updated_at=utcnow())
        .execution_options(synchronize_session=False))
    return result.rowcount == 1


def refund(session: Session, person_id: int, template_id: str) -> None:
    """Give back a credit whose send surely did not reach the person."""
    session.execute(
        update(_t).where(*_where(person_id, template_id), _t.credits < CREDIT_CAP)
        .values(credits=_t.credits + 1, updated_at=utcnow())
        .execution_options(synchronize_session=False))


def exhausted(session: Session, person_id: int, template_id: str, long_term: bool) -> None:
    """WeChat answered 43101: the person has no subscription left for this template."""
    values = {"long_term": False} if long_term else {"credits": 0}
    session.execute(update(_t).where(*_where(person_id, template_id))
                    .values(**values, updated_at=utcnow())
                    .execution_options(synchronize_session=False))


def has_long_term(session: Session, person_id: int, template_id: str) -> bool:
    return bool(session.scalar(select(_t.long_term).where(*_where(person_id, template_id))))


@dataclass(frozen=True)
class KindSubscription:
    kind: str
    kind_label: str
    template_id: str
    long_term: bool
    subscribed: bool  # long-term: accepted and not refused since
    credits: int      # one-time: messages that may still be sent


def subscriptions_of(session: Session, person_id: int,
                     templates: TemplateSet) -> list[KindSubscription]:
    """Per notice kind with a mini-program template: what the person has left."""
    ids = sorted({t.template_id for t in templates.mp.values()})
    rows = {r.template_id: r for r in session.scalars(select(_t).where(
        _t.person_id == person_id, _t.template_id.in_(ids)))} if ids else {}
    out = []
    for kind, template in templates.mp.items():
        row = rows.get(template.template_id)
        out.append(KindSubscription(
            kind=kind, kind_label=NOTICE_KINDS[kind], template_id=template.template_id,
            long_term=template.long_term,
            subscribed=bool(row and row.long_term and template.long_term),
            credits=0 if template.long_term or row is None else row.credits))
    return out


def credits_left(session: Session, person_id: int, template_id: str) -> int:
    """For tests and support: the stored one-time credits."""
    return session.scalar(select(func.coalesce(func.max(_t.credits), 0)).where(
        *_where(person_id, template_id))) or 0
