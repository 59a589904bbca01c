"""The WeChat gateways (app/wechat/client.py) against the local fake server over real HTTP."""
from __future__ import annotations

import socket

import pytest
import requests

from app.config import Config
from app.wechat import get_wechat
from app.wechat.client import Wechat, make_http_session
from app.wechat.errors import Outcome, WechatError
from app.wechat.fake import openid_for
from tests.conftest import TEST_REDIS_URL

SUBSCRIBE = "/cgi-bin/message/subscribe/send"
TEMPLATE = "/cgi-bin/message/template/send"
CUSTOM = "/cgi-bin/message/custom/send"
MP, OA = "wx_sandbox_mp", "wx_sandbox_oa"


@pytest.fixture
def redis_client():
    if TEST_REDIS_URL:
        import redis

        client = redis.Redis.from_url(TEST_REDIS_URL)
    else:
        import fakeredis

        client = fakeredis.FakeRedis()
    _clear_wechat_keys(client)
    yield client
    _clear_wechat_keys(client)
    client.close()


def _clear_wechat_keys(client) -> None:
    keys = list(client.scan_iter("wechat:*"))
    if keys:
        client.delete(*keys)


def make_wechat(fake, redis_client, **overrides) -> Wechat:
    config = Config(wechat_api_base=fake.base_url, **overrides)
    return Wechat(config, redis_client)


@pytest.fixture
def wechat(fake_wechat, redis_client):
    w = make_wechat(fake_wechat, redis_client, wechat_timeout_seconds=2.0)
    yield w
    w.close()


# --- the calls ---------------------------------------------------------------------------------

def test_code2session_uses_no_access_token(wechat, fake_wechat):
    session = wechat.mp.code2session("user-alice-1")
    assert session.openid == openid_for("alice", MP) and session.unionid == "u_alice"
    assert session.session_key
    assert wechat.mp.code2session("user-bob-nounion").unionid is None
    assert fake_wechat.token_fetches() == 0
    sent = fake_wechat.calls("/sns/jscode2session")[0]
    assert sent.params["appid"] == MP and sent.params["grant_type"] == "authorization_code"


def test_reused_code_maps_to_relogin_message(wechat):
    wechat.mp.code2session("user-alice-1")
    with pytest.raises(WechatError) as info:
        wechat.mp.code2session("user-alice-1")
    err = info.value
    assert (err.code, err.errcode, err.status) == ("wechat_code_invalid", 40029, 400)
    assert err.message == "登录凭证无效，请重新登录" and err.permanent


def test_high_risk_user(wechat):
    with pytest.raises(WechatError) as info:
        wechat.mp.code2session("risky-mallory-1")
    assert info.value.code == "wechat_user_risky" and info.value.errcode == 40226


def test_phone_number_and_single_use(wechat, fake_wechat):
    assert wechat.mp.phone_number("phone-13700001111") == "13700001111"
    with pytest.raises(WechatError) as info:
        wechat.mp.phone_number("phone-13700001111")
    assert info.value.errcode == 40029 and "手机号" in info.value.message
    assert fake_wechat.calls("/wxa/business/getuserphonenumber")[0].body == {
        "code": "phone-13700001111"}


def test_msg_sec_check_verdicts_and_long_text(wechat, fake_wechat):
    openid = openid_for("alice", MP)
    assert wechat.mp.msg_sec_check(openid, "建议增加社区养老服务") == "pass"
    assert wechat.mp.msg_sec_check(openid, "待审测试词", scene=3) == "review"
    assert wechat.mp.msg_sec_check(openid, "违禁测试词") == "risky"
    earlier = len(fake_wechat.calls("/wxa/msg_sec_check"))
    long_text = "好" * 2550 + "违禁测试词"
    assert wechat.mp.msg_sec_check(openid, long_text) == "risky"
    pieces = [c.body for c in fake_wechat.calls("/wxa/msg_sec_check")[earlier:]]
    assert [len(p["content"]) for p in pieces] == [2500, 55]
    assert all(p["version"] == 2 and p["scene"] == 2 and p["openid"] == openid for p in pieces)
    with pytest.raises(ValueError):
        wechat.mp.msg_sec_check(openid, "x", scene=7)


def test_send_subscribe_posts_state_and_lang(wechat, fake_wechat):
    msgid = wechat.mp.send_subscribe(openid_for("alice", MP), "TPL1",
                                     {"thing1": "协商会议通知", "time2": {"value": "2024-05-01"}},
                                     page="pages/meeting/detail?id=3",
                                     miniprogram_state="developer")
    call = fake_wechat.calls(SUBSCRIBE, ok=True)[0]
    assert isinstance(msgid, int) and call.response["msgid"] == msgid
    assert call.body == {"touser": openid_for("alice", MP), "template_id": "TPL1",
                         "data": {"thing1": {"value": "协商会议通知"},
                                  "time2": {"value": "2024-05-01"}},
                         "lang": "zh_CN", "page": "pages/meeting/detail?id=3",
                         "miniprogram_state": "developer"}
    assert call.appid == MP
    with pytest.raises(ValueError):
        wechat.mp.send_subscribe("o", "T", {}, miniprogram_state="production")


def test_official_account_template_and_text(wechat, fake_wechat):
    openid = openid_for("bob", OA)
    msgid = wechat.oa.send_template(openid, "OATPL", {"first": "您有新的会议"},
                                    url="https://example.org/m/1",
                                    mini_program={"appid": MP, "pagepath": "pages/index"})
    wechat.oa.send_text(openid, "您好，已收到您的回复")
    template = fake_wechat.calls(TEMPLATE, ok=True)[0]
    assert template.response["msgid"] == msgid and template.appid == OA
    assert template.body["miniprogram"] == {"appid": MP, "pagepath": "pages/index"}
    assert template.body["data"] == {"first": {"value": "您有新的会议"}}
    text = fake_wechat.calls(CUSTOM, ok=True)[0]
    assert text.body == {"touser": openid, "msgtype": "text",
                         "text": {"content": "您好，已收到您的回复"}}
    # Each app fetched its own token.
    assert fake_wechat.token_fetches(OA) == 1 and fake_wechat.token_fetches(MP) == 0


def test_robot_send_and_truncation(wechat, fake_wechat):
    wechat.robot_send("KEY1", "今日待办：3 条")
    wechat.robot_send("KEY1", "长" * 1000)  # 3000 bytes: cut to the 2048-byte limit
    wechat.robot_send("KEY1", "**标题**", msgtype="markdown")
    calls = fake_wechat.calls("/cgi-bin/webhook/send")
    assert [c.errcode for c in calls] == [0, 0, 0]
    assert calls[0].params["key"] == "KEY1" and calls[0].host == "https://qyapi.weixin.qq.com"
    cut = calls[1].body["text"]["content"]
    assert len(cut.encode()) <= 2048 and cut.endswith("…")
    with pytest.raises(WechatError) as info:
        wechat.robot_send("invalid-key", "x")
    assert info.value.code == "wechat_robot_key_invalid" and info.value.permanent


# --- error mapping through the client ----------------------------------------------------------

@pytest.mark.parametrize("errcode, code, outcome", [
    (43101, "wechat_not_subscribed", Outcome.PERMANENT),
    (45009, "wechat_quota_exhausted", Outcome.RETRYABLE),
    (45011, "wechat_rate_limited", Outcome.RETRYABLE),
    (40003, "wechat_openid_invalid", Outcome.PERMANENT),
])
def test_send_errors_are_mapped(wechat, fake_wechat, errcode, code, outcome):
    fake_wechat.fail(SUBSCRIBE, errcode)
    with pytest.raises(WechatError) as info:
        wechat.mp.send_subscribe(openid_for("alice", MP), "T", {"thing1": "x"})
    err = info.value
    assert (err.errcode, err.code, err.outcome) == (errcode, code, outcome)
    assert len(fake_wechat.calls(SUBSCRIBE)) == 1  # no retry for these
    # The switch was "once": the next send goes through.
    assert wechat.mp.send_subscribe(openid_for("alice", MP), "T", {"thing1": "x"})


def test_transient_40001_refreshes_once_and_succeeds(wechat, fake_wechat):
    wechat.oa.send_text(openid_for("bob", OA), "第一条")
    fake_wechat.fail(CUSTOM, 40001)
    wechat.oa.send_text(openid_for("bob", OA), "第二条")
    assert fake_wechat.token_fetches(OA) == 2
    assert [c.errcode for c in fake_wechat.calls(CUSTOM)] == [0, 40001, 0]
    second, third = fake_wechat.calls(CUSTOM)[1:]
    assert second.params["access_token"] != third.params["access_token"]


def test_expired_tokens_at_wechat_are_replaced(wechat, fake_wechat):
    wechat.mp.send_subscribe(openid_for("alice", MP), "T", {"thing1": "x"})
    fake_wechat.expire_tokens()
    wechat.mp.send_subscribe(openid_for("alice", MP), "T", {"thing1": "y"})
    assert fake_wechat.token_fetches(MP) == 2
    assert len(fake_wechat.calls(SUBSCRIBE, ok=True)) == 2


# --- adapter and timeouts ----------------------------------------------------------------------

def test_adapter_rewrites_wechat_hosts_and_leaves_others(fake_wechat):
    with make_http_session(fake_wechat.base_url, timeout=2) as session:
        via_public_url = session.get("https://api.weixin.qq.com/sns/jscode2session", params={
            "appid": MP, "secret": "s", "js_code": "user-alice-1",
            "grant_type": "authorization_code"}).json()
        direct = session.get(f"{fake_wechat.base_url}/sns/jscode2session", params={
            "appid": MP, "secret": "s", "js_code": "user-alice-2",
            "grant_type": "authorization_code"}).json()
    assert via_public_url["openid"] == direct["openid"] == openid_for("alice", MP)
    hosts = [c.host for c in fake_wechat.calls("/sns/jscode2session")]
    assert hosts == ["https://api.weixin.qq.com", None]


def test_adapter_sets_a_default_timeout(fake_wechat):
    fake_wechat.hang("/cgi-bin/token", seconds=10)
    with make_http_session(fake_wechat.base_url, timeout=0.3) as session:
        with pytest.raises(requests.ReadTimeout):
            session.get("https://api.weixin.qq.com/cgi-bin/token")  # no timeout= given


def test_hung_send_fails_with_our_error_and_unknown_outcome(fake_wechat, redis_client):
    wechat = make_wechat(fake_wechat, redis_client, wechat_timeout_seconds=0.3)
    fake_wechat.hang(SUBSCRIBE, seconds=10)  # without a timeout this would succeed after 10 s
    with pytest.raises(WechatError) as info:
        wechat.mp.send_subscribe(openid_for("alice", MP), "T", {"thing1": "x"})
    err = info.value
    assert err.code == "wechat_unavailable" and err.message.startswith("微信服务暂时无法连接")
    assert err.outcome is Outcome.UNKNOWN and err.errcode is None
    assert len(fake_wechat.calls(SUBSCRIBE)) == 1  # it did go out: outcome unknown


def test_hung_token_fetch_fails_with_our_error_and_nothing_sent(fake_wechat, redis_client):
    wechat = make_wechat(fake_wechat, redis_client, wechat_timeout_seconds=0.3)
    fake_wechat.hang("/cgi-bin/token", seconds=10)
    with pytest.raises(WechatError) as info:
        wechat.oa.send_text(openid_for("bob", OA), "x")
    assert info.value.code == "wechat_unavailable"
    assert fake_wechat.calls(CUSTOM) == []
    assert len(fake_wechat.calls("/cgi-bin/token")) == 1


def test_hung_login_fails_with_our_error(fake_wechat, redis_client):
    wechat = make_wechat(fake_wechat, redis_client, wechat_timeout_seconds=0.3)
    fake_wechat.hang("/sns/jscode2session", seconds=10)
    with pytest.raises(WechatError) as info:
        wechat.mp.code2session("user-alice-1")
    assert info.value.code == "wechat_unavailable" and info.value.status == 504


def test_connection_refused_is_retryable(redis_client):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    wechat = Wechat(Config(wechat_api_base=f"http://127.0.0.1:{port}",
                           wechat_timeout_seconds=1.0), redis_client)
    with pytest.raises(WechatError) as info:
        wechat.mp.code2session("user-alice-1")
    assert info.value.code == "wechat_unavailable"
    assert info.value.outcome is Outcome.RETRYABLE and info.value.status == 503


# --- configuration and the app -----------------------------------------------------------------

def test_sandbox_without_api_base_is_not_configured_and_calls_nothing(redis_client):
    wechat = Wechat(Config(), redis_client)
    assert wechat.mp.appid is None and not wechat.mp.configured
    with pytest.raises(WechatError) as info:
        wechat.oa.send_text("o_x", "hi")
    assert info.value.code == "wechat_not_configured" and "公众号" in info.value.message


def test_an_appid_without_its_secret_names_the_missing_secret(fake_wechat, redis_client):
    """Issue 10 item 25: WECHAT_OA_APPID without WECHAT_OA_SECRET — sends and unionid look-ups
    say which setting is missing, not WECHAT_API_BASE; and nothing reaches WeChat."""
    for sandbox in (True, False):
        wechat = make_wechat(fake_wechat, redis_client, sandbox=sandbox,
                             wechat_oa_appid="wxoa1234567890")
        for call in (lambda: wechat.oa.send_text("o_x", "hi"),
                     lambda: wechat.oa.user_info("o_x")):
            with pytest.raises(WechatError) as info:
                call()
            assert info.value.code == "wechat_not_configured"
            assert "WECHAT_OA_SECRET" in info.value.message
            assert "WECHAT_API_BASE" not in info.value.message
        wechat.close()
    assert fake_wechat.calls() == []
    # Production without any Official Account: both settings are named.
    prod = Wechat(Config(sandbox=False), redis_client)
    with pytest.raises(WechatError) as info:
        prod.oa.send_text("o_x", "hi")
    assert "WECHAT_OA_APPID" in info.value.message and "WECHAT_API_BASE" not in info.value.message


def test_real_credentials_are_used_when_configured(fake_wechat, redis_client):
    fake_wechat.register_app("wx1234567890abcdef", "real-secret")
    wechat = make_wechat(fake_wechat, redis_client, wechat_mp_appid="wx1234567890abcdef",
                         wechat_mp_secret="real-secret")
    assert wechat.mp.code2session("user-alice-1").openid == openid_for(
        "alice", "wx1234567890abcdef")
    assert wechat.oa.appid == OA  # no OA configured: sandbox placeholder against the fake
    wrong = make_wechat(fake_wechat, redis_client, wechat_mp_appid="wx1234567890abcdef",
                        wechat_mp_secret="wrong")
    with pytest.raises(WechatError) as info:
        wrong.mp.code2session("user-alice-2")
    assert info.value.code == "wechat_config_invalid" and info.value.errcode == 40125


def test_app_exposes_the_gateway(app, fake_wechat):
    with app.app_context():
        wechat = get_wechat()
        assert wechat is app.extensions["wechat"]
        assert wechat.api_base == fake_wechat.base_url
        assert (wechat.mp.appid, wechat.oa.appid) == (MP, OA)
        assert wechat.mp.code2session("user-zoe-1").openid == openid_for("zoe", MP)


def test_slow_answer_beyond_the_timeout_is_an_unknown_outcome(fake_wechat, redis_client):
    wechat = make_wechat(fake_wechat, redis_client, wechat_timeout_seconds=0.3)
    wechat.mp.access_token()
    fake_wechat.delay(SUBSCRIBE, 1.0, times=1)
    with pytest.raises(WechatError) as info:
        wechat.mp.send_subscribe(openid_for("alice", MP), "T", {"thing1": "x"})
    assert info.value.outcome is Outcome.UNKNOWN
    # The delay was a one-off: the next send is answered in time.
    assert wechat.mp.send_subscribe(openid_for("alice", MP), "T", {"thing1": "y"})
