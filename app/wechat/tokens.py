"""Access tokens shared through Redis, refreshed under a lock with a per-minute cap (WECHAT.md trap 3).

- The token lives at ``wechat:access_token:<appid>`` with a TTL a little shorter than WeChat's
  ``expires_in`` (old and new tokens overlap for 5 minutes after a refresh).
- A refresh takes the Redis lock ``wechat:access_token_lock:<appid>`` and *re-reads* the token
  after acquiring it: when N workers start cold, one fetches and the others find its token.
- Every fetch counts against ``cap`` per app per 60-second window; past the cap we raise
  ``WechatError(code="wechat_token_invalid")`` instead of fetching again, so a persistent 40001
  can never turn into a refresh storm that burns the 2000/day quota.
"""
from __future__ import annotations

import logging
import time
from typing import Callable

import redis

from .errors import WechatError

log = logging.getLogger(__name__)

WINDOW_SECONDS = 60
# A process keeps the token it read for this long before reading Redis again. Safe: after a
# refresh elsewhere the old token still works for 5 minutes, and a 40001 re-reads at once.
LOCAL_SECONDS = 30.0
# WeChat keeps the previous token valid for 5 minutes after a refresh; refresh before it expires.
EARLY_REFRESH_SECONDS = 300

Fetch = Callable[[bool], tuple[str, int]]  # fetch(force) -> (token, expires_in)


class TokenStore:
    def __init__(self, client: redis.Redis, appid: str, fetch: Fetch, *, cap: int = 3,
                 fetch_timeout: float = 5.0) -> None:
        self.redis = client
        self.appid = appid
        self._fetch = fetch
        self.cap = max(1, int(cap))
        self.key = f"wechat:access_token:{appid}"
        self.lock_key = f"wechat:access_token_lock:{appid}"
        self.count_key = f"wechat:access_token_refreshes:{appid}"
        # Long enough for one fetch (connect + read timeouts) plus slack; a crashed holder's
        # lock expires on its own.
        self.lock_ttl = 2 * fetch_timeout + 5
        self.wait_timeout = 2 * fetch_timeout + 5
        self._local: tuple[str, float] | None = None  # (token, monotonic time it expires here)

    # -- reading ---------------------------------------------------------------------------

    def _read(self) -> str | None:
        try:
            raw = self.redis.get(self.key)
        except redis.RedisError as exc:
            raise _store_down(exc) from exc
        if raw is None:
            return None
        token = raw.decode() if isinstance(raw, bytes) else str(raw)
        self._keep(token)
        return token

    def _keep(self, token: str) -> None:
        self._local = (token, time.monotonic() + LOCAL_SECONDS)

    def get(self) -> str:
        """The current token, fetching one (under the lock) when there is none."""
        local = self._local
        if local is not None and local[1] > time.monotonic():
            return local[0]
        return self._read() or self.refresh(stale=None)

    # -- refreshing ------------------------------------------------------------------------

    def refresh(self, stale: str | None) -> str:
        """Get a token other than ``stale`` (None: any token), fetching at most once."""
        self._local = None
        try:
            lock = self.redis.lock(self.lock_key, timeout=self.lock_ttl,
                                   blocking_timeout=self.wait_timeout, thread_local=False)
            acquired = lock.acquire()
        except redis.RedisError as exc:
            raise _store_down(exc) from exc
        if not acquired:
            token = self._read()
            if token and token != stale:
                return token
            log.warning("wechat token lock wait timed out", extra={"fields": {"appid": self.appid}})
            raise WechatError.unavailable(sent=False, api="cgi-bin/token",
                                          detail="token lock wait timed out")
        try:
            # Re-read under the lock: another worker may have refreshed while we waited.
            token = self._read()
            if token and token != stale:
                return token
            self._count_fetch()
            token, expires_in = self._fetch(stale is not None)
            ttl = max(60, int(expires_in) - EARLY_REFRESH_SECONDS)
            try:
                self.redis.set(self.key, token, ex=ttl)
            except redis.RedisError as exc:
                raise _store_down(exc) from exc
            self._keep(token)
            log.info("wechat access token refreshed",
                     extra={"fields": {"appid": self.appid, "ttl": ttl}})
            return token
        finally:
            try:
                lock.release()
            except redis.RedisError:  # expired or Redis gone: the TTL cleans up
                pass

    def _count_fetch(self) -> None:
        try:
            # The window starts at the first fetch; INCR keeps the TTL.
            self.redis.set(self.count_key, 0, ex=WINDOW_SECONDS, nx=True)
            count = int(self.redis.incr(self.count_key))
            ttl = int(self.redis.ttl(self.count_key))
            if ttl < 0:  # the key expired between SET and INCR
                self.redis.expire(self.count_key, WINDOW_SECONDS)
                ttl = WINDOW_SECONDS
        except redis.RedisError as exc:
            raise _store_down(exc) from exc
        if count > self.cap:
            log.error("wechat token refresh cap reached",
                      extra={"fields": {"appid": self.appid, "cap": self.cap}})
            raise WechatError.token_refresh_capped(self.cap, ttl, api="cgi-bin/token")

    def drop_local(self) -> None:
        """Forget this process's copy (the next call reads Redis)."""
        self._local = None

    def forget(self) -> None:
        """Drop the stored token (tests, or an operator after rotating the AppSecret)."""
        self._local = None
        self.redis.delete(self.key, self.count_key)


def _store_down(exc: Exception) -> WechatError:
    return WechatError("服务暂时不可用，请稍后再试", code="wechat_token_store_unavailable",
                       status=503, errmsg=type(exc).__name__)
