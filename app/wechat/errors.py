"""WeChat errors: one AppError subclass carrying errcode/errmsg, a Chinese message and a verdict.

The verdict (``outcome``) is what the outbox dispatcher needs to decide what to do next:

- ``retryable``: nothing was delivered and trying again later may work (rate limits, quota,
  system busy, token trouble, connection refused before the request went out);
- ``permanent``: WeChat refused this particular request and repeating it will not help
  (bad login code, no subscription credit, invalid openid/template, 48-hour window closed…);
- ``unknown``: the request went out but no answer came back (read timeout, connection dropped):
  WeChat may or may not have delivered it, so a blind retry may send a duplicate.

Nothing here imports wechatpy (client.py is the only module that does).
"""
from __future__ import annotations

import enum
import time
from dataclasses import dataclass

from ..errors import AppError


class Outcome(str, enum.Enum):
    RETRYABLE = "retryable"
    PERMANENT = "permanent"
    UNKNOWN = "unknown"


# errcodes that mean "the access token is wrong": refresh it (capped) and retry once (trap 3).
TOKEN_ERRCODES = frozenset({40001, 40014, 42001})

UNAVAILABLE_MESSAGE = "微信服务暂时无法连接，请稍后再试"


@dataclass(frozen=True)
class _Known:
    code: str
    message: str
    outcome: Outcome
    status: int
    retry_after: int | None = None


_R, _P = Outcome.RETRYABLE, Outcome.PERMANENT
_CONFIG_MESSAGE = "微信接口配置有误，请联系管理员检查 AppID、AppSecret 与 IP 白名单"

# Known errcodes → our stable code, Chinese message, verdict and HTTP status.
KNOWN_ERRCODES: dict[int, _Known] = {
    -1: _Known("wechat_busy", "微信系统繁忙，请稍后再试", _R, 503, 5),
    40001: _Known("wechat_token_invalid", "微信接口凭证已失效，请稍后再试", _R, 503, 60),
    40014: _Known("wechat_token_invalid", "微信接口凭证已失效，请稍后再试", _R, 503, 60),
    42001: _Known("wechat_token_invalid", "微信接口凭证已过期，请稍后再试", _R, 503, 60),
    # Configuration problems: the operator can fix them, after which the message may go out.
    40013: _Known("wechat_config_invalid", _CONFIG_MESSAGE, _R, 503, 300),
    40125: _Known("wechat_config_invalid", _CONFIG_MESSAGE, _R, 503, 300),
    41004: _Known("wechat_config_invalid", _CONFIG_MESSAGE, _R, 503, 300),
    40164: _Known("wechat_config_invalid", _CONFIG_MESSAGE, _R, 503, 300),
    48001: _Known("wechat_api_unauthorized", "该微信接口未获授权，请联系管理员", _P, 503),
    # Login / user.
    40029: _Known("wechat_code_invalid", "登录凭证无效，请重新登录", _P, 400),
    40163: _Known("wechat_code_invalid", "登录凭证已被使用，请重新登录", _P, 400),
    40226: _Known("wechat_user_risky", "您的微信账号存在安全风险，暂时无法使用本服务", _P, 403),
    40003: _Known("wechat_openid_invalid", "微信用户身份无效", _P, 400),
    # Messages.
    40037: _Known("wechat_template_invalid", "消息模板不存在或已停用", _P, 400),
    47003: _Known("wechat_template_data_invalid", "消息内容不符合模板要求", _P, 400),
    41030: _Known("wechat_page_invalid", "消息跳转的小程序页面不存在", _P, 400),
    43004: _Known("wechat_not_following", "用户未关注公众号，无法发送消息", _P, 409),
    43101: _Known("wechat_not_subscribed", "用户未订阅该消息或订阅次数已用完", _P, 409),
    45015: _Known("wechat_reply_window_closed", "用户超过 48 小时未互动，无法发送客服消息", _P, 409),
    45047: _Known("wechat_reply_limit", "客服消息条数已达上限，需等待用户再次互动", _P, 409),
    44002: _Known("wechat_bad_request", "发送给微信的数据有误", _P, 400),
    47001: _Known("wechat_bad_request", "发送给微信的数据有误", _P, 400),
    40058: _Known("wechat_bad_request", "发送给微信的数据有误", _P, 400),
    87014: _Known("wechat_content_risky", "内容含有违法违规信息，请修改后再提交", _P, 422),
    93000: _Known("wechat_robot_key_invalid", "企业微信机器人地址无效，请联系管理员", _P, 503),
    # Limits.
    45011: _Known("wechat_rate_limited", "微信接口调用太频繁，请一分钟后再试", _R, 429, 60),
    45009: _Known("wechat_quota_exhausted", "今日微信接口调用次数已用完，请明天再试", _R, 429),
}


def seconds_until_beijing_midnight(now: float | None = None) -> int:
    """WeChat daily quotas reset at 00:00 China Standard Time (UTC+8, no DST)."""
    now = time.time() if now is None else now
    local = now + 8 * 3600
    return int(86400 - (local % 86400)) + 1


def errcode_details(errcode: int | None) -> list[dict] | None:
    """WeChat's errcode in the one error shape (details is a list of {field, message, …})."""
    if errcode is None:
        return None
    return [{"field": "wechat", "message": f"微信返回错误码 {errcode}", "errcode": errcode}]


class WechatError(AppError):
    """A WeChat call failed. ``errcode``/``errmsg`` are WeChat's own (None for transport errors)."""

    status = 502
    code = "wechat_error"
    message = "微信服务返回错误，请稍后再试"

    def __init__(self, message: str | None = None, *, code: str | None = None,
                 status: int | None = None, errcode: int | None = None,
                 errmsg: str | None = None, outcome: Outcome = Outcome.RETRYABLE,
                 retry_after: int | None = None, api: str | None = None) -> None:
        super().__init__(message, code=code, status=status, details=errcode_details(errcode))
        self.errcode = errcode
        self.errmsg = errmsg
        self.outcome = Outcome(outcome)
        self.retry_after = retry_after
        self.api = api

    @property
    def retryable(self) -> bool:
        return self.outcome is Outcome.RETRYABLE

    @property
    def permanent(self) -> bool:
        return self.outcome is Outcome.PERMANENT

    @property
    def outcome_unknown(self) -> bool:
        return self.outcome is Outcome.UNKNOWN

    def __repr__(self) -> str:
        return (f"WechatError(code={self.code!r}, errcode={self.errcode!r}, "
                f"outcome={self.outcome.value!r}, api={self.api!r})")

    @classmethod
    def from_errcode(cls, errcode: int, errmsg: str | None = None, *, api: str | None = None,
                     messages: dict[int, str] | None = None) -> "WechatError":
        """Map a WeChat errcode; ``messages`` overrides the Chinese text for this call site."""
        known = KNOWN_ERRCODES.get(errcode)
        message = (messages or {}).get(errcode)
        if known is None:
            # Unknown errcode: WeChat answered, so nothing was delivered; a bounded retry is safe.
            return cls(message or f"微信服务返回错误（错误码 {errcode}），请稍后再试",
                       errcode=errcode, errmsg=errmsg, outcome=Outcome.RETRYABLE, api=api)
        retry_after = known.retry_after
        if errcode == 45009 and retry_after is None:
            retry_after = seconds_until_beijing_midnight()
        return cls(message or known.message, code=known.code, status=known.status,
                   errcode=errcode, errmsg=errmsg, outcome=known.outcome,
                   retry_after=retry_after, api=api)

    @classmethod
    def unavailable(cls, *, sent: bool, api: str | None = None,
                    detail: str | None = None) -> "WechatError":
        """A timeout or connection failure. ``sent``: the request may have reached WeChat."""
        return cls(UNAVAILABLE_MESSAGE, code="wechat_unavailable",
                   status=504 if sent else 503, errmsg=detail,
                   outcome=Outcome.UNKNOWN if sent else Outcome.RETRYABLE,
                   retry_after=30, api=api)

    @classmethod
    def http_status(cls, status: int, *, api: str | None = None) -> "WechatError":
        return cls(UNAVAILABLE_MESSAGE, code="wechat_unavailable", status=503,
                   errmsg=f"HTTP {status}", outcome=Outcome.RETRYABLE, retry_after=30, api=api)

    @classmethod
    def token_refresh_capped(cls, cap: int, retry_after: int, *,
                             api: str | None = None) -> "WechatError":
        """Too many access-token refreshes this minute: stop instead of looping (trap 3)."""
        return cls(
            f"微信接口凭证（access_token）反复失效，一分钟内已刷新 {cap} 次，已暂停刷新。"
            "请检查 AppID/AppSecret 配置，或确认没有其他程序在使用同一 AppSecret 获取凭证",
            code="wechat_token_invalid", status=503, outcome=Outcome.RETRYABLE,
            retry_after=max(1, retry_after), api=api)

    @classmethod
    def not_configured(cls, app_name: str, *, appid_set: bool = False,
                       sandbox: bool = False) -> "WechatError":
        """No usable credentials for this app: the message names the setting to fix."""
        label = "小程序" if app_name == "mp" else "公众号"
        prefix = "WECHAT_MP" if app_name == "mp" else "WECHAT_OA"
        if appid_set:
            message = (f"已设置微信{label} AppID（{prefix}_APPID），但未设置 AppSecret"
                       f"（{prefix}_SECRET），无法调用微信接口，请补上后重启")
        elif sandbox:
            message = (f"沙箱模式未设置本地模拟微信服务地址 WECHAT_API_BASE，无法调用微信{label}"
                       "接口（make run 会自动启动模拟服务）")
        else:
            message = f"未配置微信{label}（{prefix}_APPID / {prefix}_SECRET），无法调用微信接口"
        return cls(message, code="wechat_not_configured", status=503,
                   outcome=Outcome.RETRYABLE, retry_after=300, api=None)

    @classmethod
    def decrypt_failed(cls) -> "WechatError":
        return cls("微信数据解密失败，请重新授权", code="wechat_decrypt_failed", status=400,
                   outcome=Outcome.PERMANENT)
