"""Pure rules of the notification outbox: backoff, WeChat answers → outcomes, channel order."""
from __future__ import annotations

import random

import pytest

from app.notify.channels import (
    CHANNEL_ORDER, ChannelSet, Delivery, Outcome, Result, SandboxChannel, notice_text,
    outcome_from_wechat_error,
)
from app.notify.dispatcher import DispatchPolicy, backoff_delay
from app.notify.models import NOTICE_KINDS, AttemptOutcome
from app.notify.services import DEDUPE_MAX, dedupe_key
from app.wechat.errors import WechatError


# --- backoff -------------------------------------------------------------------------------------

def test_backoff_grows_exponentially_until_the_cap_whatever_the_jitter():
    policy = DispatchPolicy(base_delay=10, max_delay=300, jitter=0.49)
    for seed in range(50):
        rng = random.Random(seed)
        delays = [backoff_delay(n, policy, rng) for n in range(1, 7)]
        # 10, 20, 40, 80, 160 (each shortened by < 49 %): strictly growing.
        assert all(b > a for a, b in zip(delays[:5], delays[1:5])), delays
        assert all(d <= 300 for d in delays)
        assert delays[0] >= 10 * 0.51 and delays[5] >= 300 * 0.51


def test_backoff_without_jitter_is_exact_and_capped():
    policy = DispatchPolicy(base_delay=30, max_delay=3600, jitter=0)
    assert [backoff_delay(n, policy) for n in (1, 2, 3, 4)] == [30, 60, 120, 240]
    assert backoff_delay(500, policy) == 3600  # huge attempt counts do not overflow


def test_jitter_spreads_dispatchers_that_failed_together():
    policy = DispatchPolicy(base_delay=60, max_delay=3600, jitter=0.2)
    rng = random.Random(3)
    delays = {round(backoff_delay(3, policy, rng), 3) for _ in range(20)}
    assert len(delays) > 10
    assert all(240 * 0.8 <= d <= 240 for d in delays)


@pytest.mark.parametrize("kwargs", [
    {"jitter": 0.5}, {"jitter": -0.1}, {"max_attempts": 0}, {"base_delay": 0},
    {"base_delay": 100, "max_delay": 50},
])
def test_policy_refuses_nonsense(kwargs):
    with pytest.raises(ValueError):
        DispatchPolicy(**kwargs)


# --- WeChat answers → what the dispatcher does ----------------------------------------------------

@pytest.mark.parametrize("errcode, result", [
    (43101, Result.skip),    # no subscription credit: next channel
    (45015, Result.skip),    # 48-hour window closed
    (43004, Result.skip),    # not following the Official Account
    (40037, Result.failed),  # template gone: this channel refuses for good
    (47003, Result.failed),
    (45011, Result.retry),   # per-minute limit
    (45009, Result.retry),   # daily quota
    (-1, Result.retry),      # system busy
    (40001, Result.retry),   # token trouble after the client's single refresh: no loop here
    (99999, Result.retry),   # unknown errcode: WeChat answered, nothing was delivered
])
def test_wechat_errcodes_map_to_outcomes(errcode, result):
    outcome = outcome_from_wechat_error(WechatError.from_errcode(errcode, "msg"))
    assert outcome.result is result
    assert outcome.errcode == errcode
    assert str(errcode) in outcome.detail


def test_rate_limit_carries_its_retry_floor():
    assert outcome_from_wechat_error(WechatError.from_errcode(45011)).retry_after == 60
    daily = outcome_from_wechat_error(WechatError.from_errcode(45009))
    assert 0 < daily.retry_after <= 86401


def test_timeout_after_the_request_went_out_is_unknown_not_retry():
    sent = outcome_from_wechat_error(WechatError.unavailable(sent=True, detail="ReadTimeout"))
    assert sent.result is Result.unknown
    assert sent.attempt_outcome is AttemptOutcome.unknown
    not_sent = outcome_from_wechat_error(WechatError.unavailable(sent=False))
    assert not_sent.result is Result.retry


def test_outcome_detail_is_truncated_for_storage():
    outcome = Outcome.failed("x" * 2000)
    assert len(outcome.short_detail) == 500


# --- channel order ---------------------------------------------------------------------------------

class _Named:
    def __init__(self, name):
        self.name = name

    def prepare(self, row, session):
        return Outcome.skip("n/a")

    def send(self, delivery):
        return Outcome.sent()


def test_every_notice_kind_has_a_channel_order():
    assert set(CHANNEL_ORDER) == set(NOTICE_KINDS)


def test_order_keeps_only_registered_channels_in_table_order():
    channels = ChannelSet([_Named("oa_template"), _Named("mp_subscribe")])
    assert channels.order_for("meeting_notice") == ("mp_subscribe", "oa_template")
    assert channels.order_for("staff_alert") == ()
    assert ChannelSet([]).order_for("meeting_notice") == ()


def test_unknown_kind_uses_the_default_order():
    channels = ChannelSet([_Named("a"), _Named("b")], order={"x": ("b",)}, default=("a", "b"))
    assert channels.order_for("x") == ("b",)
    assert channels.order_for("y") == ("a", "b")


def test_channel_names_are_unique_and_inbox_is_reserved():
    with pytest.raises(ValueError):
        ChannelSet([_Named("a"), _Named("a")])
    with pytest.raises(ValueError):
        ChannelSet([_Named("inbox")])


# --- dedupe keys and message text ------------------------------------------------------------------

def test_dedupe_key_is_kind_subject_extra_and_recipient():
    assert dedupe_key("reminder", "feedback:7", 42, "2025-03-01") == \
        "reminder:feedback:7:2025-03-01:p42"
    assert dedupe_key("reminder", "feedback:7", 42) != dedupe_key("reminder", "feedback:7", 43)


def test_long_dedupe_keys_are_hashed_to_fit_and_stay_distinct():
    a = dedupe_key("meeting_notice", "m" * 300, 1)
    b = dedupe_key("meeting_notice", "m" * 299 + "n", 1)
    assert len(a) <= DEDUPE_MAX and len(b) <= DEDUPE_MAX
    assert a != b


def test_notice_text_for_the_official_account_carries_a_whole_mini_program_link():
    """Issue 10 item 20: WeChat opens the page from a customer-service text's <a> with
    data-miniprogram-appid / -path (WECHAT.md); a cut text keeps the link whole."""
    text = notice_text("会议通知", "请准时参加" * 300, "/pages/meeting/meeting?id=1&x=2", "wx123")
    link = ('<a href="https://mp.weixin.qq.com/" data-miniprogram-appid="wx123" '
            'data-miniprogram-path="pages/meeting/meeting?id=1&amp;x=2">在小程序中查看详情</a>')
    assert text.endswith("…\n" + link) and len(text) == 600
    assert notice_text("会议通知", "短", "/pages/x", "wx123") == f"【会议通知】\n短\n{link}".replace(
        "pages/meeting/meeting?id=1&amp;x=2", "pages/x")


def test_notice_text_is_bounded_and_mentions_the_mini_program_link():
    text = notice_text("会议通知", "请准时参加" * 300, "pages/meeting/detail?id=1")
    assert text.startswith("【会议通知】") and len(text) == 600 and text.endswith("…")
    assert "小程序" in notice_text("会议通知", "短", "pages/x")
    assert "小程序" not in notice_text("会议通知", "短", None)


# --- sandbox channel without a database ------------------------------------------------------------

def _delivery():
    return Delivery(outbox_id=1, recipient_id=2, kind="reminder", title="提醒", body="内容",
                    link=None, payload=None, target="o_test", extra={"text": "【提醒】\n内容"})


class _StubOA:
    configured = True

    def __init__(self, error=None):
        self.sent = []
        self.error = error

    def send_text(self, openid, text):
        self.sent.append((openid, text))
        if self.error:
            raise self.error


class _StubWechat:
    def __init__(self, oa):
        self.oa = oa


def test_sandbox_without_a_client_only_records():
    outcome = SandboxChannel(None).send(_delivery())
    assert outcome.result is Result.sent and "仅记录" in outcome.detail


def test_sandbox_sends_a_customer_service_text_through_the_client():
    oa = _StubOA()
    outcome = SandboxChannel(_StubWechat(oa)).send(_delivery())
    assert outcome.result is Result.sent
    assert oa.sent == [("o_test", "【提醒】\n内容")]


def test_sandbox_maps_client_errors():
    closed = SandboxChannel(_StubWechat(_StubOA(WechatError.from_errcode(45015))))
    assert closed.send(_delivery()).result is Result.skip
    timeout = SandboxChannel(_StubWechat(_StubOA(WechatError.unavailable(sent=True))))
    assert timeout.send(_delivery()).result is Result.unknown
