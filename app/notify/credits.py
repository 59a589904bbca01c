"""Mini-program subscribe-message credits (WECHAT.md "Platform rules").

The mini-program calls ``wx.requestSubscribeMessage`` on a user tap and posts the raw result
(``{"<template id>": "accept" | "reject" | "ban" | "filter", "errMsg": …}``) here:

- "accept" on a one-time template: one more credit (one message may be sent), at most
  CREDIT_CAP stored — WeChat itself keeps no more useful count than that, and a person tapping
  the same button a hundred times should not build a hoard;
- "accept" on a long-term template: ``long_term`` on (no credit needed); "reject"/"ban" clears it;
- template ids this deployment has not configured are ignored (an old mini-program version).

The mp_subscribe channel spends one credit per one-time send (``spend_many``: a conditional
UPDATE … RETURNING, credits > 0, for a whole dispatch batch) and gives it back when WeChat surely
did not deliver (``refund_many``). All writes are single statements guarded by the
(person_id, template_id) UNIQUE constraint: concurrent reports and sends never lose a count.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Mapping, Sequence

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


Key = tuple[int, str]  # (person_id, template_id)


def _rounds(keys: Sequence[Key]) -> list[dict[str, list[int]]]:
    """The keys as rounds of {template_id: [person_id…]}: each (person, template) at most once
    per round (one UPDATE changes a row once), repeats in later rounds — usually one round."""
    rounds: list[dict[str, list[int]]] = []
    for key, times in Counter(keys).items():
        for n in range(times):
            if n == len(rounds):
                rounds.append({})
            rounds[n].setdefault(key[1], []).append(key[0])
    return rounds


def spend_many(session: Session, keys: Sequence[Key]) -> list[bool]:
    """Take one credit per entry (a person may appear twice: two credits); per entry, whether
    it got one. One conditional UPDATE … RETURNING per template and round."""
    got: Counter[Key] = Counter()
    for round_ in _rounds(keys):
        for template_id, people in round_.items():
            spent = session.scalars(
                update(_t).where(_t.template_id == template_id, _t.person_id.in_(people),
                                 _t.credits > 0)
                .values(credits=_t.credits - 1, updated_at=utcnow())
                .returning(_t.person_id).execution_options(synchronize_session=False))
            got.update((person_id, template_id) for person_id in spent)
    out = []
    for key in keys:
        out.append(got[key] > 0)
        got[key] -= 1
    return out


def refund_many(session: Session, keys: Sequence[Key]) -> None:
    """Give back one credit per entry whose send surely did not reach the person."""
    for round_ in _rounds(keys):
        for template_id, people in round_.items():
            session.execute(
                update(_t).where(_t.template_id == template_id, _t.person_id.in_(people),
                                 _t.credits < CREDIT_CAP)
                .values(credits=_t.credits + 1, updated_at=utcnow())
                .execution_options(synchronize_session=False))


def exhausted_many(session: Session, keys: Sequence[tuple[int, str, bool]]) -> None:
    """WeChat answered 43101 for these (person, template, long_term): none left."""
    groups: dict[tuple[str, bool], set[int]] = {}
    for person_id, template_id, long_term in keys:
        groups.setdefault((template_id, long_term), set()).add(person_id)
    for (template_id, long_term), people in groups.items():
        values = {"long_term": False} if long_term else {"credits": 0}
        session.execute(update(_t).where(_t.template_id == template_id,
                                         _t.person_id.in_(sorted(people)))
                        .values(**values, updated_at=utcnow())
                        .execution_options(synchronize_session=False))


def long_term_of(session: Session, keys: Sequence[Key]) -> set[Key]:
    """The (person, template) pairs among ``keys`` with standing long-term consent."""
    if not keys:
        return set()
    found = session.execute(select(_t.person_id, _t.template_id).where(
        _t.template_id.in_({k[1] for k in keys}), _t.person_id.in_({k[0] for k in keys}),
        _t.long_term)).all()
    return {(p, t) for p, t in found} & set(keys)


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
