"""A local fake of the WeChat APIs: a real HTTP server for sandbox mode, development and tests.

In process::

    fake = FakeWechat().start()      # a free port on 127.0.0.1
    config = config.with_(wechat_api_base=fake.base_url)
    ...
    fake.fail("/cgi-bin/message/subscribe/send", 43101)       # next call answers 43101
    fake.calls("/cgi-bin/message/subscribe/send")             # what was sent
    fake.stop()

Standalone: ``python -m app.wechat.fake --port 8765`` then ``WECHAT_API_BASE=http://127.0.0.1:8765``.
The same switches are available over HTTP under ``/__fake__/`` (see docs/wechat.md).

Every API that needs an access token checks it (missing → 41001, unknown or expired → 40001).
Login/phone code conventions are in app/wechat/fake_apis.py and docs/wechat.md.
"""
from __future__ import annotations

import argparse
import json
import random
import threading
import time
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable
from urllib.parse import parse_qs, urlsplit

from .fake_apis import (DEFAULT_REVIEW_WORDS, DEFAULT_RISKY_WORDS, ApiHandlers, Call, error,
                        openid_for, phone_for_code, unionid_for)

__all__ = ["FakeWechat", "Call", "openid_for", "unionid_for", "phone_for_code"]

ORIGINAL_HOST_HEADER = "X-Wechat-Original-Host"
CONTROL_PREFIX = "/__fake__/"


@dataclass
class Fault:
    """A fault switch for one path (or "*" for every API)."""

    path: str
    errcode: int | None = None
    errmsg: str | None = None
    remaining: int | None = 1  # None: always
    delay: float = 0.0
    hang: float = 0.0  # seconds to stall before answering (longer than the client timeout)
    percent: float | None = None  # only this share (0-100) of matching calls is affected

    def matches(self, path: str) -> bool:
        return (self.path == "*" or self.path == path) and self.remaining != 0


class FakeWechat:
    """State, fault switches and records of the fake; thread-safe (one lock)."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, *, seed: int = 1234,
                 clock: Callable[[], float] = time.time) -> None:
        self.host, self.port = host, port
        self.clock = clock
        self._seed = seed
        self._lock = threading.RLock()
        self._release = threading.Event()  # set on reset/stop: hung requests finish at once
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.apis = ApiHandlers(self)
        self._clear()

    def _clear(self) -> None:
        self.app_secrets: dict[str, str] = {}
        self.tokens: dict[str, tuple[str, float]] = {}
        self.stable_tokens: dict[str, str] = {}
        self.token_fetch_counts: Counter[str] = Counter()
        self.used_codes: set[str] = set()
        self.used_phone_codes: set[str] = set()
        self.robot_counts: defaultdict[tuple[str, int], int] = defaultdict(int)
        self.risky_words: list[str] = list(DEFAULT_RISKY_WORDS)
        self.review_words: list[str] = list(DEFAULT_REVIEW_WORDS)
        self._calls: list[Call] = []
        self._faults: list[Fault] = []
        self._msgid = 1000
        self._random = random.Random(self._seed)

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> "FakeWechat":
        if self._server is not None:
            return self
        self._server = ThreadingHTTPServer((self.host, self.port), _make_handler(self))
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self._release.clear()
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        name="fake-wechat", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._release.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> "FakeWechat":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        if self._server is None:
            raise RuntimeError("fake WeChat server is not started")
        return f"http://{self.host}:{self.port}"

    def reset(self) -> None:
        """Forget everything: calls, tokens, used codes, faults, words, registered secrets."""
        self._release.set()  # let any hung request answer now
        with self._lock:
            self._clear()
            self._release = threading.Event()

    # -- fault switches ----------------------------------------------------------------------

    def fail(self, path: str, errcode: int, times: int | None = 1,
             errmsg: str | None = None) -> None:
        """Answer ``errcode`` on ``path`` for the next ``times`` calls (None: always)."""
        self._add(Fault(path, errcode=errcode, errmsg=errmsg, remaining=times))

    def fail_percent(self, path: str, percent: float, errcode: int = -1) -> None:
        """Fail about ``percent``% of calls on ``path`` (seeded, so repeatable)."""
        self._add(Fault(path, errcode=errcode, remaining=None, percent=percent))

    def delay(self, path: str, seconds: float, times: int | None = None) -> None:
        self._add(Fault(path, delay=seconds, remaining=times))

    def hang(self, path: str, times: int | None = 1, seconds: float = 30.0) -> None:
        """Stall ``seconds`` before answering (released early by reset/stop): a client timeout."""
        self._add(Fault(path, hang=seconds, remaining=times))

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()

    def _add(self, fault: Fault) -> None:
        with self._lock:
            self._faults.append(fault)

    def expire_tokens(self, appid: str | None = None) -> None:
        """Make issued access tokens invalid (as if 2 hours had passed)."""
        with self._lock:
            for token, (owner, _) in list(self.tokens.items()):
                if appid is None or owner == appid:
                    self.tokens[token] = (owner, 0.0)

    def set_words(self, risky: list[str] | None = None, review: list[str] | None = None) -> None:
        """Words that make msg_sec_check answer risky / review (None: leave unchanged)."""
        with self._lock:
            if risky is not None:
                self.risky_words = list(risky)
            if review is not None:
                self.review_words = list(review)

    def register_app(self, appid: str, secret: str) -> None:
        """Require this secret for ``appid`` (otherwise any non-empty secret is accepted)."""
        with self._lock:
            self.app_secrets[appid] = secret

    # -- records -----------------------------------------------------------------------------

    def calls(self, path: str | None = None, *, ok: bool | None = None) -> list[Call]:
        """Recorded calls, oldest first; ``ok=True`` only successful ones (errcode 0)."""
        with self._lock:
            found = [c for c in self._calls if path is None or c.path == path]
        if ok is not None:
            found = [c for c in found if (c.errcode == 0) is ok]
        return found

    def token_fetches(self, appid: str | None = None) -> int:
        """Successful token fetches (classic + stable), for one app or all."""
        with self._lock:
            if appid is None:
                return sum(self.token_fetch_counts.values())
            return self.token_fetch_counts[appid]

    def token_requests(self, appid: str | None = None) -> int:
        """Every request that reached a token endpoint, failed or not."""
        paths = ("/cgi-bin/token", "/cgi-bin/stable_token")
        with self._lock:
            return sum(1 for c in self._calls if c.path in paths
                       and (appid is None or _call_appid(c) == appid))

    def next_msgid(self) -> int:
        self._msgid += 1
        return self._msgid

    # -- request processing (called by the HTTP handler) ---------------------------------------

    def handle(self, method: str, path: str, params: dict[str, str], body: Any,
               host: str | None) -> tuple[int, dict]:
        call = Call(method=method, path=path, params=params, body=body, host=host,
                    at=self.clock())
        api = self.apis.routes.get(path)
        with self._lock:
            self._calls.append(call)
            faults = [f for f in self._faults if f.matches(path)] if api else []
            applied: list[Fault] = []
            for fault in faults:
                if fault.percent is not None and self._random.uniform(0, 100) >= fault.percent:
                    continue
                if fault.remaining is not None:
                    fault.remaining -= 1
                applied.append(fault)
            release = self._release
        if api is None:
            call.errcode, call.response = -1, {"errcode": -1, "errmsg": "fake: unknown api"}
            return 404, call.response
        pause = sum(f.delay for f in applied)
        if pause:
            time.sleep(pause)
        hang = max((f.hang for f in applied), default=0.0)
        if hang:
            release.wait(hang)
        forced = next((f for f in applied if f.errcode is not None), None)
        with self._lock:
            if method != api.method:
                answer = error(43002, "require POST method" if api.method == "POST"
                               else "require GET method")
            elif forced is not None:
                answer = error(forced.errcode, forced.errmsg)
            else:
                answer = (api.needs_token and self.apis.check_token(call)) or api.handler(call)
            call.errcode = int(answer.get("errcode", 0))
            call.response = answer
        return 200, answer

    def control(self, method: str, name: str, body: Any, params: dict[str, str]) -> dict:
        """The HTTP control API under /__fake__/ (for the standalone server)."""
        body = body if isinstance(body, dict) else {}
        if name == "calls" and method == "GET":
            path = params.get("path")
            return {"calls": [asdict(c) for c in self.calls(path)],
                    "token_fetches": self.token_fetches(params.get("appid"))}
        if name == "reset" and method == "POST":
            self.reset()
        elif name == "fault" and method == "POST":
            self._add(Fault(path=str(body.get("path", "*")), errcode=body.get("errcode"),
                            errmsg=body.get("errmsg"), remaining=body.get("times", 1),
                            delay=float(body.get("delay", 0)), hang=float(body.get("hang", 0)),
                            percent=body.get("percent")))
        elif name == "clear_faults" and method == "POST":
            self.clear_faults()
        elif name == "words" and method == "POST":
            self.set_words(body.get("risky"), body.get("review"))
        elif name == "expire_tokens" and method == "POST":
            self.expire_tokens(body.get("appid"))
        elif name == "users" and method == "GET":
            name_ = params.get("name", "alice")
            appid = params.get("appid", "wx_sandbox_mp")
            return {"openid": openid_for(name_, appid), "unionid": unionid_for(name_)}
        else:
            return {"errcode": 404, "errmsg": f"unknown control {method} {name}"}
        return {"errcode": 0, "errmsg": "ok"}


def _call_appid(call: Call) -> str | None:
    if call.appid:
        return call.appid
    if isinstance(call.body, dict):
        return call.body.get("appid")
    return call.params.get("appid")


def _make_handler(fake: FakeWechat) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "FakeWechat/1.0"
        # Keep-alive, as WeChat's servers do: clients reuse connections (requests.Session).
        protocol_version = "HTTP/1.1"
        # Headers and body go out as separate writes: without this, Nagle's algorithm and the
        # client's delayed ACK add tens of milliseconds to every kept-alive request.
        disable_nagle_algorithm = True

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - quiet
            pass

        def _dispatch(self, method: str) -> None:
            parts = urlsplit(self.path)
            params = {k: v[0] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            body: Any = None
            if raw:
                try:
                    body = json.loads(raw.decode("utf-8"))
                except (UnicodeDecodeError, ValueError):
                    body = {"__invalid_json__": True}
            if parts.path.startswith(CONTROL_PREFIX):
                status, answer = 200, fake.control(method, parts.path[len(CONTROL_PREFIX):],
                                                   body, params)
            elif isinstance(body, dict) and body.get("__invalid_json__"):
                status, answer = 200, error(47001)
            else:
                status, answer = fake.handle(method, parts.path, params, body,
                                             self.headers.get(ORIGINAL_HOST_HEADER))
            payload = json.dumps(answer, ensure_ascii=False, default=str).encode("utf-8")
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
            except OSError:  # the client gave up (timeout): nothing to do
                pass

        def do_GET(self) -> None:  # noqa: N802 - http.server naming
            self._dispatch("GET")

        def do_POST(self) -> None:  # noqa: N802
            self._dispatch("POST")

    return Handler


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="本地模拟微信接口服务（沙箱/开发/测试用）")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--risky", action="append", default=None,
                        help="内容安全检测判为 risky 的词，可重复")
    args = parser.parse_args(argv)
    fake = FakeWechat(args.host, args.port)
    fake.start()
    if args.risky:
        fake.set_words(risky=args.risky)
    print(f"模拟微信服务已启动：{fake.base_url}（设置 WECHAT_API_BASE={fake.base_url}；Ctrl+C 退出）",
          flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        fake.stop()


if __name__ == "__main__":
    main()
