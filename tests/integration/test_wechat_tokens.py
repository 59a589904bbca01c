"""Access tokens in Redis: one fetch on a cold start, capped refreshes, no loops (WECHAT.md trap 3)."""
from __future__ import annotations

import multiprocessing
import threading
import uuid

import pytest

from app.config import Config
from app.wechat.client import Wechat
from app.wechat.errors import WechatError
from app.wechat.fake import openid_for
from tests.conftest import TEST_REDIS_URL
from tests.integration.test_wechat_client import make_wechat, redis_client  # noqa: F401

SUBSCRIBE = "/cgi-bin/message/subscribe/send"
MP = "wx_sandbox_mp"


def send(wechat: Wechat, appid: str = MP) -> int | None:
    return wechat.mp.send_subscribe(openid_for("alice", appid), "T", {"thing1": "通知"})


# --- cold start --------------------------------------------------------------------------------

def test_eight_threads_starting_cold_fetch_one_token(app, fake_wechat):
    wechat = app.extensions["wechat"]  # one app, its Redis (fakeredis or TEST_REDIS_URL)
    barrier = threading.Barrier(8)
    results: list[object] = []

    def worker():
        barrier.wait(timeout=10)
        try:
            results.append(send(wechat))
        except Exception as exc:  # noqa: BLE001 - reported below
            results.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(timeout=30)
    assert len(results) == 8 and all(isinstance(r, int) for r in results), results
    assert fake_wechat.token_fetches(MP) == 1
    assert len(fake_wechat.calls("/cgi-bin/token")) == 1
    assert len(fake_wechat.calls(SUBSCRIBE, ok=True)) == 8


def test_instances_sharing_redis_share_the_token(fake_wechat, redis_client):  # noqa: F811
    first = make_wechat(fake_wechat, redis_client)
    second = make_wechat(fake_wechat, redis_client)
    send(first)
    send(second)
    assert fake_wechat.token_fetches(MP) == 1
    tokens = {c.params["access_token"] for c in fake_wechat.calls(SUBSCRIBE)}
    assert len(tokens) == 1


def _cold_start_worker(base_url: str, redis_url: str, appid: str, barrier, results) -> None:
    import redis

    wechat = Wechat(Config(wechat_mp_appid=appid, wechat_mp_secret="s",
                           wechat_api_base=base_url), redis.Redis.from_url(redis_url))
    try:
        barrier.wait(timeout=60)
        results.put(("ok", send(wechat, appid)))
    except Exception as exc:  # noqa: BLE001 - reported to the parent
        results.put(("error", repr(exc)))


@pytest.mark.redis
@pytest.mark.skipif(not TEST_REDIS_URL, reason="needs a real Redis shared by processes "
                                                "(TEST_REDIS_URL)")
def test_eight_processes_starting_cold_fetch_one_token(fake_wechat):
    appid = f"wx_proc_{uuid.uuid4().hex[:8]}"  # nothing of it in Redis yet: a cold start
    ctx = multiprocessing.get_context("spawn")
    barrier, results = ctx.Barrier(8), ctx.Queue()
    procs = [ctx.Process(target=_cold_start_worker,
                         args=(fake_wechat.base_url, TEST_REDIS_URL, appid, barrier, results))
             for _ in range(8)]
    for p in procs:
        p.start()
    try:
        outcomes = [results.get(timeout=120) for _ in procs]
    finally:
        for p in procs:
            p.join(timeout=30)
            if p.is_alive():
                p.kill()
    assert all(kind == "ok" for kind, _ in outcomes), outcomes
    assert fake_wechat.token_fetches(appid) == 1
    assert len(fake_wechat.calls(SUBSCRIBE, ok=True)) == 8


# --- persistent token errors stop -------------------------------------------------------------

@pytest.mark.parametrize("cap", [3, 2])
def test_persistent_40001_stops_after_the_cap(fake_wechat, redis_client, cap):  # noqa: F811
    wechat = make_wechat(fake_wechat, redis_client, wechat_token_refresh_cap=cap)
    fake_wechat.fail(SUBSCRIBE, 40001, times=None)
    attempts = cap + 4
    errors = []
    for _ in range(attempts):
        with pytest.raises(WechatError) as info:
            send(wechat)
        errors.append(info.value)
    assert all(e.code == "wechat_token_invalid" and e.errcode == 40001 for e in errors)
    assert fake_wechat.token_fetches(MP) <= cap + 1
    assert len(fake_wechat.calls("/cgi-bin/token")) <= cap + 1
    # Each call tried at most twice: no recursion, no loop.
    assert len(fake_wechat.calls(SUBSCRIBE)) <= 2 * attempts
    last = errors[-1]
    assert "已暂停刷新" in last.message and last.retryable and last.retry_after > 0


def test_one_call_with_persistent_40001_refreshes_once(fake_wechat, redis_client):  # noqa: F811
    wechat = make_wechat(fake_wechat, redis_client)
    fake_wechat.fail(SUBSCRIBE, 40001, times=None)
    with pytest.raises(WechatError) as info:
        send(wechat)
    assert info.value.errcode == 40001 and info.value.message
    assert len(fake_wechat.calls(SUBSCRIBE)) == 2
    assert fake_wechat.token_fetches(MP) == 2  # the first token and one refresh


def test_failing_token_endpoint_is_not_hammered(fake_wechat, redis_client):  # noqa: F811
    wechat = make_wechat(fake_wechat, redis_client, wechat_token_refresh_cap=3)
    fake_wechat.fail("/cgi-bin/token", -1, times=None)
    codes = []
    for _ in range(6):
        with pytest.raises(WechatError) as info:
            send(wechat)
        codes.append(info.value.code)
    assert codes[:3] == ["wechat_busy"] * 3
    assert codes[3:] == ["wechat_token_invalid"] * 3
    assert len(fake_wechat.calls("/cgi-bin/token")) == 3
    assert fake_wechat.calls(SUBSCRIBE) == []


def test_stable_token_mode(fake_wechat, redis_client):  # noqa: F811
    wechat = Wechat(Config(wechat_api_base=fake_wechat.base_url), redis_client,
                    token_mode="stable")
    send(wechat)
    fake_wechat.fail(SUBSCRIBE, 40001)
    send(wechat)
    bodies = [c.body for c in fake_wechat.calls("/cgi-bin/stable_token")]
    assert [b["force_refresh"] for b in bodies] == [False, True]
    assert fake_wechat.calls("/cgi-bin/token") == []


# --- the process's own copy ------------------------------------------------------------------

class _CountingRedis:
    """A Redis client that counts reads of the token key (wraps the real one)."""

    def __init__(self, inner):
        self.inner, self.token_reads = inner, 0

    def get(self, key):
        if key.startswith("wechat:access_token:"):
            self.token_reads += 1
        return self.inner.get(key)

    def __getattr__(self, name):
        return getattr(self.inner, name)


def test_a_process_reads_the_shared_token_once_per_interval(fake_wechat, redis_client):  # noqa: F811
    counting = _CountingRedis(redis_client)
    wechat = make_wechat(fake_wechat, counting)
    for _ in range(20):
        send(wechat)
    assert counting.token_reads <= 2  # the cold read (and the re-read under the fetch lock)
    assert fake_wechat.token_fetches(MP) == 1


def test_a_token_refreshed_elsewhere_is_picked_up_after_a_40001(fake_wechat, redis_client):  # noqa: F811
    first = make_wechat(fake_wechat, redis_client)
    second = make_wechat(fake_wechat, redis_client)
    send(first)
    send(second)  # both now hold the same token locally
    fake_wechat.expire_tokens(MP)
    send(first)  # 40001 → one refresh, stored in Redis
    send(second)  # its local copy is stale: 40001 → re-reads Redis, no second fetch
    assert fake_wechat.token_fetches(MP) == 2
    assert [c.errcode for c in fake_wechat.calls(SUBSCRIBE)] == [0, 0, 40001, 0, 40001, 0]


def test_proxy_settings_are_read_once_and_no_proxy_is_honoured(monkeypatch):
    from app.wechat.client import make_http_session

    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.example:3128")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    session = make_http_session("", 5.0)
    assert session.trust_env is False
    assert session.proxies.get("https") == "http://proxy.example:3128"
    monkeypatch.setenv("NO_PROXY", "api.weixin.qq.com,qyapi.weixin.qq.com")
    assert make_http_session("", 5.0).proxies == {}
