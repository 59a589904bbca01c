"""WeChat gateways. wechatpy is imported only inside the app/wechat package (here and in
oa_messages.py, the Official Account server messages).

``Wechat`` holds one gateway per app — ``mp`` (mini-program, WECHAT_MP_APPID/SECRET) and ``oa``
(Official Account, WECHAT_OA_APPID/SECRET) — plus the WeCom group robot. All HTTP goes through one
``requests`` session with ``WechatTransport`` mounted: it rewrites the WeChat hosts to
WECHAT_API_BASE when set (WECHAT.md trap 1) and puts a default timeout on every call, the token
fetch included (trap 2). Timeouts and connection errors come out as ``WechatError`` with an
outcome the outbox can act on; raw ``requests`` exceptions never leave this module.

Sandbox mode (no WeChat credential at all, app/config.py): placeholder appids ``wx_sandbox_mp``/``wx_sandbox_oa`` against
the local fake (app/wechat/fake.py) at WECHAT_API_BASE.
"""
from __future__ import annotations

import logging
import threading
import urllib.request
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Callable

import redis
import requests
from requests.adapters import HTTPAdapter
from urllib3.exceptions import ConnectTimeoutError, NewConnectionError
from wechatpy import WeChatClient
from wechatpy.crypto import WeChatWxaCrypto
from wechatpy.exceptions import InvalidAppIdException, WeChatClientException

from ..config import Config
from .errors import TOKEN_ERRCODES, WechatError, errcode_details
from .tokens import TokenStore

log = logging.getLogger(__name__)

API_HOST = "https://api.weixin.qq.com"
WECOM_HOST = "https://qyapi.weixin.qq.com"
WECHAT_HOSTS = (API_HOST, WECOM_HOST)
ORIGINAL_HOST_HEADER = "X-Wechat-Original-Host"
SANDBOX_APPIDS = {"mp": "wx_sandbox_mp", "oa": "wx_sandbox_oa"}
SANDBOX_SECRET = "sandbox-secret"
SEC_CHECK_MAX_CHARS = 2500
ROBOT_TEXT_MAX_BYTES = 2048
ROBOT_MARKDOWN_MAX_BYTES = 4096
_SUGGEST_RANK = {"pass": 0, "review": 1, "risky": 2}


# --- transport ----------------------------------------------------------------------------------

class WechatTransport(HTTPAdapter):
    """Rewrites WeChat hosts to ``api_base`` (when set) and applies a default timeout."""

    def __init__(self, api_base: str = "", timeout: float = 5.0, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.api_base = api_base.rstrip("/")
        self.timeout = timeout

    def rewrite(self, url: str) -> tuple[str, str | None]:
        if self.api_base:
            for host in WECHAT_HOSTS:
                if url == host or url.startswith(host + "/") or url.startswith(host + "?"):
                    return self.api_base + url[len(host):], host
        return url, None

    def send(self, request, **kwargs):  # type: ignore[override]
        if kwargs.get("timeout") is None:
            kwargs["timeout"] = self.timeout
        request.url, original = self.rewrite(request.url)
        if original:
            request.headers[ORIGINAL_HOST_HEADER] = original
            # Proxies were chosen for the public host; the local fake is reached directly.
            kwargs["proxies"] = {}
        return super().send(request, **kwargs)


def _proxies_from_environment() -> dict[str, str]:
    """HTTPS_PROXY / HTTP_PROXY for the WeChat hosts, read once (NO_PROXY naming them: none)."""
    env = urllib.request.getproxies()
    no_proxy = env.get("no")
    if no_proxy and all(requests.utils.should_bypass_proxies(host, no_proxy=no_proxy)
                        for host in WECHAT_HOSTS):
        return {}
    return {k: v for k, v in env.items() if k in ("http", "https")}


def make_http_session(api_base: str, timeout: float) -> requests.Session:
    session = requests.Session()
    # Read the proxy settings once instead of on every call: with trust_env, requests scans the
    # whole environment twice and looks for ~/.netrc on each request (a third of a send's CPU).
    session.trust_env = False
    session.proxies.update(_proxies_from_environment())
    adapter = WechatTransport(api_base, timeout, pool_maxsize=32)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    return session


def _was_sent(exc: requests.RequestException) -> bool:
    """Could the request have reached WeChat? False only when we know it did not."""
    if isinstance(exc, (requests.ConnectTimeout, requests.exceptions.SSLError,
                        requests.exceptions.InvalidURL, requests.exceptions.MissingSchema)):
        return False
    if isinstance(exc, requests.ConnectionError) and exc.args:
        reason = getattr(exc.args[0], "reason", exc.args[0])
        if isinstance(reason, (NewConnectionError, ConnectTimeoutError)):
            return False
    return True


@contextmanager
def _transport_errors(api: str):
    try:
        yield
    except requests.RequestException as exc:
        sent = _was_sent(exc)
        log.warning("wechat call failed", extra={"fields": {
            "api": api, "error": type(exc).__name__, "sent": sent}})
        raise WechatError.unavailable(sent=sent, api=api, detail=type(exc).__name__) from exc


def _check(result: Any, api: str, messages: dict[int, str] | None = None) -> dict:
    if not isinstance(result, dict):
        raise WechatError.http_status(getattr(result, "status_code", 0), api=api)
    errcode = int(result.get("errcode", 0) or 0)
    if errcode:
        log.info("wechat errcode", extra={"fields": {"api": api, "errcode": errcode}})
        raise WechatError.from_errcode(errcode, result.get("errmsg"), api=api, messages=messages)
    return result


def _json(response: requests.Response, api: str) -> Any:
    if response.status_code >= 400:
        raise WechatError.http_status(response.status_code, api=api)
    try:
        return response.json()
    except ValueError:
        raise WechatError.http_status(response.status_code, api=api) from None


def _template_data(data: dict) -> dict:
    """Accept ``{"thing1": "text"}`` or WeChat's ``{"thing1": {"value": "text"}}``."""
    return {k: (v if isinstance(v, dict) else {"value": v}) for k, v in data.items()}


# --- wechatpy client with our token store ----------------------------------------------------

class _Client(WeChatClient):
    """wechatpy's client with auto_retry off and tokens from our TokenStore (trap 3)."""

    def __init__(self, appid: str, secret: str, http: requests.Session, timeout: float,
                 tokens_getter: Callable[[], str]) -> None:
        super().__init__(appid, secret, timeout=timeout, auto_retry=False)
        self._http = http
        self._tokens_getter = tokens_getter

    @property
    def access_token(self) -> str:  # type: ignore[override]
        return self._tokens_getter()

    def fetch_access_token(self):  # pragma: no cover - never used: tokens come from TokenStore
        raise RuntimeError("tokens are managed by app.wechat.tokens.TokenStore")


@dataclass(frozen=True)
class Code2Session:
    openid: str
    unionid: str | None
    session_key: str  # never send this to the client


class WechatApp:
    """One WeChat app (appid): token handling, error mapping, one retry on a stale token."""

    def __init__(self, name: str, appid: str | None, secret: str, *, http: requests.Session,
                 redis_client: redis.Redis, timeout: float = 5.0, refresh_cap: int = 3,
                 token_mode: str = "classic", sandbox: bool = False) -> None:
        if token_mode not in ("classic", "stable"):
            raise ValueError("token_mode must be 'classic' or 'stable'")
        self.name = name
        self.appid = appid
        self.secret = secret
        self.sandbox = sandbox
        self.http = http
        self.timeout = timeout
        self.token_mode = token_mode
        self._pinned = threading.local()
        self.tokens = TokenStore(redis_client, appid or f"unconfigured_{name}",
                                 self._fetch_token, cap=refresh_cap, fetch_timeout=timeout)
        self.client = _Client(appid or "", secret, http, timeout, self._current_token)

    @property
    def configured(self) -> bool:
        return bool(self.appid and self.secret)

    def _require_configured(self) -> None:
        if not self.configured:
            raise WechatError.not_configured(self.name, appid_set=bool(self.appid),
                                             sandbox=self.sandbox)

    # -- tokens ------------------------------------------------------------------------------

    def _fetch_token(self, force: bool) -> tuple[str, int]:
        api = "cgi-bin/token" if self.token_mode == "classic" else "cgi-bin/stable_token"
        with _transport_errors(api):
            if self.token_mode == "classic":
                response = self.http.get(f"{API_HOST}/cgi-bin/token", params={
                    "grant_type": "client_credential", "appid": self.appid,
                    "secret": self.secret}, timeout=self.timeout)
            else:
                response = self.http.post(f"{API_HOST}/cgi-bin/stable_token", json={
                    "grant_type": "client_credential", "appid": self.appid,
                    "secret": self.secret, "force_refresh": force}, timeout=self.timeout)
        result = _check(_json(response, api), api)
        return str(result["access_token"]), int(result.get("expires_in", 7200))

    def access_token(self) -> str:
        self._require_configured()
        return self.tokens.get()

    def _current_token(self) -> str:
        token = getattr(self._pinned, "token", None)
        return token if token else self.tokens.get()

    def call(self, api: str, fn: Callable[[_Client], Any],
             messages: dict[int, str] | None = None) -> Any:
        """Run ``fn(client)`` (a wechatpy call that needs a token) with our error handling.

        On 40001/40014/42001 the token is refreshed (capped, under the lock) and the call is
        retried exactly once; a second token error is reported, never looped on.
        """
        self._require_configured()
        token = self.tokens.get()
        try:
            return self._invoke(api, fn, token, messages)
        except WechatError as exc:
            if exc.errcode not in TOKEN_ERRCODES:
                raise
            token_errcode = exc.errcode
        try:
            fresh = self.tokens.refresh(stale=token)
        except WechatError as exc:
            if exc.code == "wechat_token_invalid" and exc.errcode is None:
                exc.errcode, exc.api = token_errcode, api  # capped: report what triggered it
                exc.details = errcode_details(token_errcode)
            raise
        return self._invoke(api, fn, fresh, messages)

    def _invoke(self, api: str, fn: Callable[[_Client], Any], token: str,
                messages: dict[int, str] | None) -> Any:
        self._pinned.token = token
        try:
            with _transport_errors(api):
                result = fn(self.client)
        except WeChatClientException as exc:
            if exc.errcode is None:  # HTTP error status
                status = getattr(exc.response, "status_code", 0) or 0
                raise WechatError.http_status(status, api=api) from exc
            raise WechatError.from_errcode(int(exc.errcode), str(exc.errmsg), api=api,
                                           messages=messages) from exc
        finally:
            self._pinned.token = None
        return _check(result, api, messages)

    def post(self, endpoint: str, body: dict, messages: dict[int, str] | None = None) -> dict:
        """POST ``https://api.weixin.qq.com/<endpoint>`` with the access token."""
        return self.call(endpoint, lambda c: c.post(f"{API_HOST}/{endpoint}", data=body),
                         messages)


class MiniProgram(WechatApp):
    """小程序: login, phone number, content security, subscribe messages."""

    def code2session(self, js_code: str) -> Code2Session:
        """GET /sns/jscode2session directly: no access token needed (saves the daily quota)."""
        self._require_configured()
        api = "sns/jscode2session"
        if not js_code or not isinstance(js_code, str):
            raise WechatError.from_errcode(40029, "empty code", api=api)
        with _transport_errors(api):
            response = self.http.get(f"{API_HOST}/sns/jscode2session", params={
                "appid": self.appid, "secret": self.secret, "js_code": js_code,
                "grant_type": "authorization_code"}, timeout=self.timeout)
        result = _check(_json(response, api), api)
        return Code2Session(openid=result["openid"], unionid=result.get("unionid") or None,
                            session_key=result["session_key"])

    def phone_number(self, code: str) -> str:
        """The user's phone number (purePhoneNumber) for a single-use getPhoneNumber code."""
        result = self.post("wxa/business/getuserphonenumber", {"code": code},
                           messages={40029: "手机号授权已失效，请重新授权"})
        return str(result["phone_info"]["purePhoneNumber"])

    def msg_sec_check(self, openid: str, content: str, scene: int = 2) -> str:
        """Content security v2 → "pass" / "review" / "risky".

        scene: 1 资料, 2 评论, 3 论坛, 4 社交日志. Text longer than 2500 characters is checked in
        pieces and the worst verdict wins.
        """
        if scene not in (1, 2, 3, 4):
            raise ValueError("scene must be 1..4")
        pieces = [content[i:i + SEC_CHECK_MAX_CHARS]
                  for i in range(0, len(content), SEC_CHECK_MAX_CHARS)] or [""]
        worst = "pass"
        for piece in pieces:
            result = self.post("wxa/msg_sec_check", {
                "version": 2, "openid": openid, "scene": scene, "content": piece})
            suggest = str((result.get("result") or {}).get("suggest", "review"))
            if suggest not in _SUGGEST_RANK:
                suggest = "review"
            if _SUGGEST_RANK[suggest] > _SUGGEST_RANK[worst]:
                worst = suggest
            if worst == "risky":
                break
        return worst

    def send_subscribe(self, openid: str, template_id: str, data: dict, page: str | None = None,
                       miniprogram_state: str | None = None, lang: str = "zh_CN") -> int | None:
        """Subscribe message (raw post: wechatpy cannot set miniprogram_state/lang)."""
        if miniprogram_state not in (None, "developer", "trial", "formal"):
            raise ValueError("miniprogram_state must be developer, trial or formal")
        body: dict[str, Any] = {"touser": openid, "template_id": template_id,
                                "data": _template_data(data), "lang": lang}
        if page:
            body["page"] = page
        if miniprogram_state:
            body["miniprogram_state"] = miniprogram_state
        return self.post("cgi-bin/message/subscribe/send", body).get("msgid")


class OfficialAccount(WechatApp):
    """公众号: template messages and customer-service text (48-hour window)."""

    def send_template(self, openid: str, template_id: str, data: dict, url: str | None = None,
                      mini_program: dict | None = None) -> int | None:
        result = self.call("cgi-bin/message/template/send", lambda c: c.message.send_template(
            openid, template_id, _template_data(data), url=url, mini_program=mini_program))
        return result.get("msgid")

    def send_text(self, openid: str, text: str) -> None:
        self.call("cgi-bin/message/custom/send", lambda c: c.message.send_text(openid, text))

    def user_info(self, openid: str, timeout: float | None = None) -> dict:
        """cgi-bin/user/info: a follower's profile; ``unionid`` is there when the account is
        bound to an Open Platform (how the chatbot recognises a mini-program user)."""
        return self.call("cgi-bin/user/info", lambda c: c.get(
            "user/info", params={"openid": openid, "lang": "zh_CN"},
            timeout=timeout or self.timeout))


def _fit_bytes(text: str, limit: int) -> str:
    raw = text.encode("utf-8")
    if len(raw) <= limit:
        return text
    return raw[:limit - 3].decode("utf-8", "ignore") + "…"


class Wechat:
    """Everything WeChat for one process: ``mp``, ``oa`` and the WeCom robot."""

    def __init__(self, config: Config, redis_client: redis.Redis, *,
                 token_mode: str = "classic") -> None:
        self.api_base = config.wechat_api_base.rstrip("/")
        self.sandbox = config.sandbox
        self.timeout = float(config.wechat_timeout_seconds)
        self.http = make_http_session(self.api_base, self.timeout)
        common = dict(http=self.http, redis_client=redis_client, timeout=self.timeout,
                      refresh_cap=config.wechat_token_refresh_cap, token_mode=token_mode,
                      sandbox=config.sandbox)
        mp_appid, mp_secret = self._credentials("mp", config.wechat_mp_appid,
                                                config.wechat_mp_secret)
        oa_appid, oa_secret = self._credentials("oa", config.wechat_oa_appid,
                                                config.wechat_oa_secret)
        self.mp = MiniProgram("mp", mp_appid, mp_secret, **common)
        self.oa = OfficialAccount("oa", oa_appid, oa_secret, **common)

    def _credentials(self, name: str, appid: str, secret: str) -> tuple[str | None, str]:
        if appid:
            return appid, secret
        if self.api_base:  # sandbox: placeholder app against the fake
            return SANDBOX_APPIDS[name], SANDBOX_SECRET
        return None, ""

    def robot_send(self, key: str, content: str, msgtype: str = "text",
                   mentioned_mobiles: list[str] | None = None) -> None:
        """WeCom (企业微信) group robot. Over-long text is cut to the byte limit with "…"."""
        api = "cgi-bin/webhook/send"
        if msgtype == "text":
            body: dict[str, Any] = {"msgtype": "text", "text": {
                "content": _fit_bytes(content, ROBOT_TEXT_MAX_BYTES)}}
            if mentioned_mobiles:
                body["text"]["mentioned_mobile_list"] = list(mentioned_mobiles)
        elif msgtype == "markdown":
            body = {"msgtype": "markdown",
                    "markdown": {"content": _fit_bytes(content, ROBOT_MARKDOWN_MAX_BYTES)}}
        else:
            raise ValueError("msgtype must be text or markdown")
        with _transport_errors(api):
            response = self.http.post(f"{WECOM_HOST}/cgi-bin/webhook/send", params={"key": key},
                                      json=body, timeout=self.timeout)
        # For the robot 45009 means its 20-per-minute limit, not a daily quota.
        try:
            _check(_json(response, api), api,
                   messages={45009: "企业微信群机器人发送太频繁，请一分钟后再试"})
        except WechatError as exc:
            if exc.errcode == 45009:
                exc.retry_after = 60
            raise

    def drop_local_tokens(self) -> None:
        """Forget the tokens this process keeps (tests reset the fake WeChat and Redis)."""
        self.mp.tokens.drop_local()
        self.oa.tokens.drop_local()

    def close(self) -> None:
        self.http.close()


def decrypt_user_data(session_key: str, encrypted_data: str, iv: str, appid: str) -> dict:
    """Decrypt mini-program user data (wx.getUserInfo / share info…); checks the watermark appid."""
    try:
        return WeChatWxaCrypto(session_key, iv, appid).decrypt_message(encrypted_data)
    except (ValueError, KeyError, IndexError, TypeError, InvalidAppIdException) as exc:
        # A wrong key yields garbage → JSONDecodeError (a ValueError); bad base64/IV too.
        raise WechatError.decrypt_failed() from exc
