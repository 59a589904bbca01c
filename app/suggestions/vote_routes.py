"""Vote API: support / withdraw support for a suggestion. Thin: the rules are in votes.py; each
request commits once. The POST honours `Idempotency-Key` (app/idempotency.py)."""
from __future__ import annotations

from flask import Blueprint, current_app
from pydantic import BaseModel, Field

from ..api import endpoint
from ..auth.current import require_person
from ..db import get_session
from ..idempotency import idempotent
from ..redis_client import get_redis
from . import votes

bp = Blueprint("suggestion_votes", __name__, url_prefix="/api")
TAG = "建议"
RULE = "/suggestions/<int:suggestion_id>/vote"


class VoteOut(BaseModel):
    voted: bool = Field(description="当前用户是否支持该建议")
    vote_count: int = Field(description="支持人数")


def _rate_limit(person_id: int) -> None:
    votes.check_vote_rate(get_redis(), person_id,
                          current_app.config["APP"].vote_rate_limit_per_minute)


@endpoint(bp, RULE, methods=("POST",), summary="支持建议", tags=[TAG], response=VoteOut,
          status=201, also=(200,), auth="login")
@idempotent
def cast(suggestion_id: int):
    """每人对每条建议只能支持一次：首次支持返回 201，重复支持返回 200 和当前状态，不会重复计数。
    只有“征集中”的建议可以支持（其他状态 409 vote_closed）。支持后自动关注该建议。
    可带 Idempotency-Key 请求头。操作过于频繁时返回 429 rate_limited。"""
    person = require_person()
    _rate_limit(person.id)
    session = get_session()
    state = votes.cast_vote(session, suggestion_id=suggestion_id, person=person)
    session.commit()
    return VoteOut(voted=state.voted, vote_count=state.vote_count), (201 if state.changed else 200)


@endpoint(bp, RULE, methods=("DELETE",), summary="取消支持", tags=[TAG], response=VoteOut,
          auth="login")
def withdraw(suggestion_id: int):
    """取消对建议的支持；本来没有支持时什么也不改变（200）。只有“征集中”的建议可以取消支持。"""
    person = require_person()
    _rate_limit(person.id)
    session = get_session()
    state = votes.withdraw_vote(session, suggestion_id=suggestion_id, person=person)
    session.commit()
    return VoteOut(voted=state.voted, vote_count=state.vote_count)
