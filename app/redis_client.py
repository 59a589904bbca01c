"""Redis: the real server when REDIS_URL is set; otherwise an in-process stand-in.

The stand-in (fakeredis) is acceptable only on the embedded default: Redis never holds the only
copy of anything that matters (DESIGN.md "Redis").
"""
from __future__ import annotations

import redis
from flask import current_app


def make_redis(url: str) -> redis.Redis:
    if url:
        return redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2,
                                    health_check_interval=30)
    import fakeredis

    return fakeredis.FakeRedis()


def init_redis(app) -> None:
    app.extensions["redis"] = make_redis(app.config["APP"].redis_url)


def get_redis() -> redis.Redis:
    return current_app.extensions["redis"]
