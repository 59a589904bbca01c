"""The WeChat APIs the fake server answers, with WeChat's JSON shapes and error codes.

Conventions (documented in docs/wechat.md):

- Login codes (``/sns/jscode2session``): every well-formed code works once; reuse → 40029.
  ``user-<name>`` or ``user-<name>-<anything>`` logs in as ``<name>``: openid
  ``openid_for(name, appid)`` (differs per app, like WeChat) and unionid ``unionid_for(name)``
  (same across apps) — unless the suffix contains ``nounion`` (no unionid).
  ``risky-<anything>`` → 40226 (high-risk user). ``invalid…``, empty, over 128 characters or
  characters outside ``[A-Za-z0-9_.-]`` → 40029. Any other code gets an anonymous openid derived
  from the code, without unionid.
- Phone codes (``/wxa/business/getuserphonenumber``): single-use; ``phone-<11 digits>[-x]``
  → that number; other well-formed codes → a stable 139xxxxxxxx number derived from the code.
- Official Account followers (``/cgi-bin/user/info``): an openid ``openid_for(name, appid)`` of
  the calling app → unionid ``unionid_for(name)``; any other openid → 40003.
- Content security: text containing a "risky" word → ``risky``; a "review" word → ``review``.
"""
from __future__ import annotations

import base64
import hashlib
import re
import secrets
from dataclasses import dataclass, field
from typing import Any, Callable

SANDBOX_MP_APPID = "wx_sandbox_mp"

CODE_RE = re.compile(r"^[A-Za-z0-9_.\-]{1,128}$")
USER_CODE_RE = re.compile(r"^user-([A-Za-z0-9_]{1,40})(?:-(.*))?$")
PHONE_CODE_RE = re.compile(r"^phone-(1\d{10})(?:-.*)?$")
DEFAULT_RISKY_WORDS = ("违禁测试词",)
DEFAULT_REVIEW_WORDS = ("待审测试词",)
ROBOT_PER_MINUTE = 20

ERRMSGS = {
    -1: "system error",
    40001: "invalid credential, access_token is invalid or not latest",
    40003: "invalid openid",
    40013: "invalid appid",
    40029: "invalid code",
    40037: "invalid template_id",
    40058: "invalid parameter, content exceed max length",
    40125: "invalid appsecret",
    40226: "invalid user, high risk",
    41001: "access_token missing",
    41004: "appsecret missing",
    43004: "require subscribe",
    43101: "user refuse to accept the msg",
    44002: "empty post data",
    45009: "reach max api daily quota limit",
    45011: "api minute-quota reach limit, mustslower, retry next minute",
    45015: "response out of time limit or subscription is canceled",
    47001: "data format error",
    47003: "argument invalid!",
    93000: "invalid webhook url",
}


def errmsg_for(errcode: int) -> str:
    return f"{ERRMSGS.get(errcode, 'error')} rid: {secrets.token_hex(6)}"


def error(errcode: int, errmsg: str | None = None) -> dict:
    return {"errcode": errcode, "errmsg": errmsg or errmsg_for(errcode)}


def _digest(*parts: str) -> str:
    return hashlib.sha256("|".join(parts).encode()).hexdigest()


def openid_for(name: str, appid: str = SANDBOX_MP_APPID) -> str:
    """The fake's openid for user ``name`` in app ``appid`` (differs per app, like WeChat)."""
    return f"o_{name}_{_digest('openid', appid)[:6]}"


def unionid_for(name: str) -> str:
    """The fake's unionid for user ``name`` (the same in every app)."""
    return f"u_{name}"


def phone_for_code(code: str) -> str:
    match = PHONE_CODE_RE.match(code)
    if match:
        return match.group(1)
    return "139" + str(int(_digest("phone", code)[:12], 16))[-8:].zfill(8)


@dataclass
class Call:
    """One request as the fake saw it."""

    method: str
    path: str
    params: dict[str, str]
    body: Any
    host: str | None
    at: float
    appid: str | None = None
    errcode: int | None = None  # the answer's errcode (0 = success); None while pending
    response: dict | None = None


@dataclass
class Api:
    method: str
    needs_token: bool
    handler: Callable[[Any, Call], dict]
    kind: str = field(default="")


class ApiHandlers:
    """Endpoint logic; ``state`` is the FakeWechat (its lock is held by the caller)."""

    def __init__(self, state: Any) -> None:
        self.s = state
        self.routes: dict[str, Api] = {
            "/cgi-bin/token": Api("GET", False, self.token),
            "/cgi-bin/stable_token": Api("POST", False, self.stable_token),
            "/sns/jscode2session": Api("GET", False, self.jscode2session),
            "/wxa/business/getuserphonenumber": Api("POST", True, self.phone_number),
            "/wxa/msg_sec_check": Api("POST", True, self.msg_sec_check),
            "/cgi-bin/message/subscribe/send": Api("POST", True, self.subscribe_send),
            "/cgi-bin/message/template/send": Api("POST", True, self.template_send),
            "/cgi-bin/message/custom/send": Api("POST", True, self.custom_send),
            "/cgi-bin/user/info": Api("GET", True, self.user_info),
            "/cgi-bin/webhook/send": Api("POST", False, self.robot_send),
        }

    # -- apps and tokens -----------------------------------------------------------------------

    def _check_app(self, appid: str | None, secret: str | None) -> dict | None:
        if not appid or not appid.startswith("wx"):
            return error(40013)
        if not secret:
            return error(41004)
        expected = self.s.app_secrets.get(appid)
        if expected is not None and expected != secret:
            return error(40125)
        return None

    def token(self, call: Call) -> dict:
        appid, secret = call.params.get("appid"), call.params.get("secret")
        if call.params.get("grant_type") != "client_credential":
            return error(40002, "invalid grant_type")
        problem = self._check_app(appid, secret)
        if problem:
            return problem
        call.appid = appid
        self.s.token_fetch_counts[appid] += 1
        now = self.s.clock()
        # A new classic token leaves the previous ones valid for 5 more minutes (WECHAT.md).
        for token, (owner, expires_at) in list(self.s.tokens.items()):
            if owner == appid:
                self.s.tokens[token] = (owner, min(expires_at, now + 300))
        return self._issue(appid, now)

    def stable_token(self, call: Call) -> dict:
        body = call.body if isinstance(call.body, dict) else {}
        appid, secret = body.get("appid"), body.get("secret")
        problem = self._check_app(appid, secret)
        if problem:
            return problem
        call.appid = appid
        self.s.token_fetch_counts[appid] += 1
        now = self.s.clock()
        current = self.s.stable_tokens.get(appid)
        if current and not body.get("force_refresh"):
            owner_expiry = self.s.tokens.get(current)
            if owner_expiry and owner_expiry[1] > now + 60:
                return {"access_token": current, "expires_in": int(owner_expiry[1] - now)}
        answer = self._issue(appid, now)
        self.s.stable_tokens[appid] = answer["access_token"]
        return answer

    def _issue(self, appid: str, now: float) -> dict:
        token = f"FAKE_{secrets.token_urlsafe(24)}"
        self.s.tokens[token] = (appid, now + 7200)
        return {"access_token": token, "expires_in": 7200}

    def check_token(self, call: Call) -> dict | None:
        token = call.params.get("access_token")
        if not token:
            return error(41001)
        owner = self.s.tokens.get(token)
        if owner is None or owner[1] <= self.s.clock():
            return error(40001)
        call.appid = owner[0]
        return None

    # -- mini-program login and phone ---------------------------------------------------------

    def jscode2session(self, call: Call) -> dict:
        p = call.params
        problem = self._check_app(p.get("appid"), p.get("secret"))
        if problem:
            return problem
        appid, code = p["appid"], p.get("js_code", "")
        call.appid = appid
        if p.get("grant_type") != "authorization_code":
            return error(40002, "invalid grant_type")
        if not CODE_RE.match(code) or code.startswith("invalid") or code in self.s.used_codes:
            return error(40029)
        self.s.used_codes.add(code)
        if code.startswith("risky-"):
            return error(40226)
        session_key = base64.b64encode(bytes.fromhex(_digest("sk", appid, code)[:32])).decode()
        match = USER_CODE_RE.match(code)
        if match:
            name, suffix = match.group(1), match.group(2) or ""
            answer = {"openid": openid_for(name, appid), "session_key": session_key}
            if "nounion" not in suffix:
                answer["unionid"] = unionid_for(name)
            return answer
        return {"openid": f"o_anon_{_digest('anon', appid, code)[:16]}", "session_key": session_key}

    def phone_number(self, call: Call) -> dict:
        code = (call.body or {}).get("code", "") if isinstance(call.body, dict) else ""
        if not CODE_RE.match(code or "") or code.startswith("invalid") \
                or code in self.s.used_phone_codes:
            return error(40029)
        self.s.used_phone_codes.add(code)
        phone = phone_for_code(code)
        return {"errcode": 0, "errmsg": "ok", "phone_info": {
            "phoneNumber": phone, "purePhoneNumber": phone, "countryCode": "86",
            "watermark": {"timestamp": int(self.s.clock()), "appid": call.appid}}}

    # -- content security ---------------------------------------------------------------------

    def msg_sec_check(self, call: Call) -> dict:
        body = call.body if isinstance(call.body, dict) else {}
        if body.get("version") != 2 or body.get("scene") not in (1, 2, 3, 4):
            return error(47001)
        if not str(body.get("openid") or "").startswith("o"):
            return error(40003)
        content = body.get("content")
        if not isinstance(content, str) or len(content) > 2500:
            return error(47001, "data format error hint: content length must be <= 2500")
        suggest, label = "pass", 100
        if any(w in content for w in self.s.risky_words):
            suggest, label = "risky", 20006
        elif any(w in content for w in self.s.review_words):
            suggest, label = "review", 21000
        return {"errcode": 0, "errmsg": "ok",
                "result": {"suggest": suggest, "label": label},
                "detail": [{"strategy": "content_model", "errcode": 0, "suggest": suggest,
                            "label": label, "prob": 90}],
                "trace_id": secrets.token_hex(12)}

    # -- messages -----------------------------------------------------------------------------

    def _check_message(self, body: Any) -> dict | None:
        if not isinstance(body, dict) or not body:
            return error(44002)
        if not str(body.get("touser") or "").startswith("o"):
            return error(40003)
        if not body.get("template_id"):
            return error(40037)
        data = body.get("data")
        if not isinstance(data, dict):
            return error(47003, "argument invalid! data invalid")
        for key, item in data.items():
            if not isinstance(item, dict) or not isinstance(item.get("value"), str):
                return error(47003, f"argument invalid! data.{key}.value invalid")
            if key.startswith("thing") and len(item["value"]) > 20:
                return error(47003, f"argument invalid! data.{key}.value invalid")
        return None

    def subscribe_send(self, call: Call) -> dict:
        problem = self._check_message(call.body)
        if problem:
            return problem
        if call.body.get("miniprogram_state", "formal") not in ("developer", "trial", "formal"):
            return error(47003, "argument invalid! miniprogram_state invalid")
        return {"errcode": 0, "errmsg": "ok", "msgid": self.s.next_msgid()}

    def template_send(self, call: Call) -> dict:
        problem = self._check_message(call.body)
        if problem:
            return problem
        return {"errcode": 0, "errmsg": "ok", "msgid": self.s.next_msgid()}

    def custom_send(self, call: Call) -> dict:
        body = call.body
        if not isinstance(body, dict) or not body:
            return error(44002)
        if not str(body.get("touser") or "").startswith("o"):
            return error(40003)
        msgtype = body.get("msgtype")
        if not msgtype or not isinstance(body.get(msgtype), dict):
            return error(47001)
        if msgtype == "text" and not body["text"].get("content"):
            return error(44002)
        return {"errcode": 0, "errmsg": "ok"}

    def user_info(self, call: Call) -> dict:
        """A follower of the Official Account: ``o_<name>_…`` of this app → unionid u_<name>."""
        openid = call.params.get("openid", "")
        name = openid[2:].rsplit("_", 1)[0] if openid.startswith("o_") else ""
        if not name or openid != openid_for(name, call.appid or ""):
            return error(40003)
        return {"subscribe": 1, "openid": openid, "language": "zh_CN",
                "subscribe_time": int(self.s.clock()), "unionid": unionid_for(name)}

    # -- WeCom group robot ---------------------------------------------------------------------

    def robot_send(self, call: Call) -> dict:
        key = call.params.get("key", "")
        if not key or key.startswith("invalid"):
            return error(93000)
        body = call.body if isinstance(call.body, dict) else {}
        msgtype = body.get("msgtype")
        limits = {"text": 2048, "markdown": 4096}
        if msgtype not in limits or not isinstance(body.get(msgtype), dict):
            return error(40008, "invalid message type")
        content = body[msgtype].get("content")
        if not isinstance(content, str) or not content:
            return error(44004, "empty content")
        if len(content.encode("utf-8")) > limits[msgtype]:
            return error(40058)
        window = int(self.s.clock() // 60)
        sent = self.s.robot_counts[(key, window)] = self.s.robot_counts[(key, window)] + 1
        if sent > ROBOT_PER_MINUTE:
            return error(45009, "api freq out of limit")
        return {"errcode": 0, "errmsg": "ok"}
