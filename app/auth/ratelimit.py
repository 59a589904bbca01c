"""A small fixed-window rate limit in Redis (login attempts per client address).

Redis holds only counters here: if it is unreachable the limit fails open (logged), because
refusing every login when a cache is down would be worse than a burst of attempts — the staff
lockout (stored in the database) still bounds password guessing.
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import redis

from ..errors import RateLimited

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Limit:
    name: str
    max_hits: int
    window_seconds: int


# code2session allows 100 calls per minute per user (WECHAT.md); one address may hide several
# users behind NAT (an office Wi-Fi), so the per-address limit sits below that with headroom.
WX_LOGIN = Limit("wx-login", 60, 60)
PHONE_BIND = Limit("phone-bind", 20, 60)
STAFF_LOGIN = Limit("staff-login", 20, 60)


def window_key(limit: Limit, subject: str, now: float) -> str:
    window = int(now // limit.window_seconds)
    return f"rl:{limit.name}:{subject}:{window}"


def hit(client: redis.Redis, limit: Limit, subject: str, now: float | None = None) -> int:
    """Count one attempt; returns the count in the current window (0 when Redis is down)."""
    now = time.time() if now is None else now
    key = window_key(limit, subject, now)
    try:
        pipe = client.pipeline()
        pipe.incr(key)
        pipe.expire(key, limit.window_seconds + 1)
        count, _ = pipe.execute()
        return int(count)
    except redis.RedisError as exc:
        log.warning("rate limit unavailable", extra={"fields": {
            "limit": limit.name, "error": type(exc).__name__}})
        return 0


def check(client: redis.Redis, limit: Limit, subject: str, now: float | None = None) -> None:
    """Raise RateLimited (429) when `subject` went over `limit` in the current window."""
    now = time.time() if now is None else now
    if hit(client, limit, subject, now) > limit.max_hits:
        retry_after = limit.window_seconds - int(now % limit.window_seconds)
        raise RateLimited(f"操作太频繁，请 {retry_after} 秒后再试", code="rate_limited")
