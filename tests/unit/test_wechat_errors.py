"""WeChat error mapping, transport classification, URL rewriting and user-data decryption (pure)."""
from __future__ import annotations

import calendar

import pytest
import requests
from urllib3.exceptions import MaxRetryError, NewConnectionError, ProtocolError

from app.errors import AppError
from app.wechat.client import WechatTransport, _was_sent, decrypt_user_data
from app.wechat.errors import (KNOWN_ERRCODES, Outcome, WechatError,
                               seconds_until_beijing_midnight)

# WeChat's published mini-program user-data decryption sample (开放数据校验与解密 demo).
SAMPLE_APPID = "wx4f4bc4dec97d474b"
SAMPLE_SESSION_KEY = "tiihtNczf5v6AKRyjwEUhQ=="
SAMPLE_IV = "r7BXXKkLb8qrSNn05n0qiA=="
SAMPLE_ENCRYPTED = (
    "CiyLU1Aw2KjvrjMdj8YKliAjtP4gsMZMQmRzooG2xrDcvSnxIMXFufNstNGTyaGS9uT5geRa0W4oTOb1WT7fJlAC"
    "+oNPdbB+3hVbJSRgv+4lGOETKUQz6OYStslQ142dNCuabNPGBzlooOmB231qMM85d2/fV6ChevvXvQP8Hkue1poO"
    "FtnEtpyxVLW1zAo6/1Xx1COxFvrc2d7UL/lmHInNlxuacJXwu0fjpXfz/YqYzBIBzD6WUfTIF9GRHpOn/Hz7saL8"
    "xz+W//FRAUid1OksQaQx4CMs8LOddcQhULW4ucetDf96JcR3g0gfRK4PC7E/r7Z6xNrXd2UIeorGj5Ef7b1pJAYB"
    "6Y5anaHqZ9J6nKEBvB4DnNLIVWSgARns/8wR2SiRS7MNACwTyrGvt9ts8p12PKFdlqYTopNHR1Vf7XjfhQlVsAJd"
    "NiKdYmYVoKlaRv85IfVunYzO0IKXsyl7JCUjCpoG20f0a04COwfneQAGGwd5oa+T8yO5hzuyDb/XcxxmK01EpqOy"
    "uxINew=="
)


# --- errcode mapping ---------------------------------------------------------------------------

@pytest.mark.parametrize("errcode, code, outcome, status", [
    (40029, "wechat_code_invalid", Outcome.PERMANENT, 400),
    (40163, "wechat_code_invalid", Outcome.PERMANENT, 400),
    (40001, "wechat_token_invalid", Outcome.RETRYABLE, 503),
    (42001, "wechat_token_invalid", Outcome.RETRYABLE, 503),
    (43101, "wechat_not_subscribed", Outcome.PERMANENT, 409),
    (45009, "wechat_quota_exhausted", Outcome.RETRYABLE, 429),
    (45011, "wechat_rate_limited", Outcome.RETRYABLE, 429),
    (40226, "wechat_user_risky", Outcome.PERMANENT, 403),
    (45015, "wechat_reply_window_closed", Outcome.PERMANENT, 409),
    (-1, "wechat_busy", Outcome.RETRYABLE, 503),
])
def test_known_errcodes_map_to_stable_codes(errcode, code, outcome, status):
    err = WechatError.from_errcode(errcode, "raw errmsg", api="x/y")
    assert isinstance(err, AppError)
    assert (err.code, err.outcome, err.status, err.errcode) == (code, outcome, status, errcode)
    assert err.errmsg == "raw errmsg" and err.api == "x/y"
    # The one error shape: details is a list of {field, message, …} (issue 10 item 16).
    assert err.to_dict() == {"error": code, "message": err.message, "details": [
        {"field": "wechat", "message": f"微信返回错误码 {errcode}", "errcode": errcode}]}


def test_messages_are_chinese_and_specific():
    assert WechatError.from_errcode(40029).message == "登录凭证无效，请重新登录"
    assert "订阅" in WechatError.from_errcode(43101).message
    assert "今日" in WechatError.from_errcode(45009).message
    assert "一分钟" in WechatError.from_errcode(45011).message
    assert "风险" in WechatError.from_errcode(40226).message
    for known in KNOWN_ERRCODES.values():
        assert any("\u4e00" <= ch <= "\u9fff" for ch in known.message), known


def test_call_site_can_override_the_message():
    err = WechatError.from_errcode(40029, messages={40029: "手机号授权已失效，请重新授权"})
    assert err.message == "手机号授权已失效，请重新授权" and err.code == "wechat_code_invalid"


def test_unknown_errcode_is_retryable_and_names_the_code():
    err = WechatError.from_errcode(61234, "something new")
    assert err.code == "wechat_error" and err.outcome is Outcome.RETRYABLE
    assert "61234" in err.message


def test_retry_after_hints():
    assert WechatError.from_errcode(45011).retry_after == 60
    quota = WechatError.from_errcode(45009).retry_after
    assert 0 < quota <= 86401
    assert WechatError.from_errcode(43101).retry_after is None


def test_daily_quota_resets_at_beijing_midnight():
    # 2024-05-01 15:30 UTC = 23:30 Beijing: 30 minutes to go.
    now = calendar.timegm((2024, 5, 1, 15, 30, 0))
    assert seconds_until_beijing_midnight(now) == 30 * 60 + 1
    # 2024-05-01 16:00 UTC = 00:00 Beijing: a whole day.
    assert seconds_until_beijing_midnight(calendar.timegm((2024, 5, 1, 16, 0, 0))) == 86401


def test_unavailable_outcome_depends_on_whether_the_request_went_out():
    before = WechatError.unavailable(sent=False)
    after = WechatError.unavailable(sent=True)
    assert before.retryable and not before.outcome_unknown
    assert after.outcome_unknown and not after.retryable and not after.permanent
    assert before.code == after.code == "wechat_unavailable"
    assert before.message.startswith("微信服务暂时无法连接")


# --- transport ---------------------------------------------------------------------------------

def test_connection_refused_was_not_sent_read_timeout_may_have_been():
    refused = requests.ConnectionError(MaxRetryError(None, "/x", NewConnectionError(None, "no")))
    dropped = requests.ConnectionError(ProtocolError("Connection aborted."))
    assert _was_sent(requests.ConnectTimeout()) is False
    assert _was_sent(refused) is False
    assert _was_sent(requests.ReadTimeout()) is True
    assert _was_sent(dropped) is True


def test_rewrite_only_wechat_hosts():
    t = WechatTransport("http://127.0.0.1:9999/", timeout=1)
    assert t.rewrite("https://api.weixin.qq.com/cgi-bin/token?a=1") == (
        "http://127.0.0.1:9999/cgi-bin/token?a=1", "https://api.weixin.qq.com")
    assert t.rewrite("https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=k") == (
        "http://127.0.0.1:9999/cgi-bin/webhook/send?key=k", "https://qyapi.weixin.qq.com")
    # A look-alike host is not WeChat.
    assert t.rewrite("https://api.weixin.qq.com.example.com/x") == (
        "https://api.weixin.qq.com.example.com/x", None)
    assert t.rewrite("https://example.com/cgi-bin/token") == ("https://example.com/cgi-bin/token", None)


def test_no_rewrite_without_api_base():
    t = WechatTransport("", timeout=1)
    assert t.rewrite("https://api.weixin.qq.com/cgi-bin/token") == (
        "https://api.weixin.qq.com/cgi-bin/token", None)


# --- user-data decryption ----------------------------------------------------------------------

def test_decrypts_wechats_published_sample():
    data = decrypt_user_data(SAMPLE_SESSION_KEY, SAMPLE_ENCRYPTED, SAMPLE_IV, SAMPLE_APPID)
    assert data["openId"] == "oGZUI0egBJY1zhBYw2KhdUfwVJJE"
    assert data["unionId"] == "ocMvos6NjeKLIBqg5Mr9QjxrP1FA"
    assert data["watermark"] == {"timestamp": 1477314187, "appid": SAMPLE_APPID}


@pytest.mark.parametrize("session_key, encrypted, iv, appid", [
    ("AAAAAAAAAAAAAAAAAAAAAA==", SAMPLE_ENCRYPTED, SAMPLE_IV, SAMPLE_APPID),   # wrong key
    (SAMPLE_SESSION_KEY, SAMPLE_ENCRYPTED, SAMPLE_IV, "wx_other_app"),       # wrong app
    (SAMPLE_SESSION_KEY, SAMPLE_ENCRYPTED, "AAAAAAAAAAAAAAAAAAAAAA==", SAMPLE_APPID),  # wrong iv
    (SAMPLE_SESSION_KEY, "not base64!", SAMPLE_IV, SAMPLE_APPID),
    (SAMPLE_SESSION_KEY, "", SAMPLE_IV, SAMPLE_APPID),
])
def test_bad_decryption_inputs_become_our_error(session_key, encrypted, iv, appid):
    with pytest.raises(WechatError) as info:
        decrypt_user_data(session_key, encrypted, iv, appid)
    assert info.value.code == "wechat_decrypt_failed"
    assert info.value.permanent and info.value.message == "微信数据解密失败，请重新授权"
