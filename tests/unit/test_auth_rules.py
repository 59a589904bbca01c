"""Pure rules of login: WeChat error mapping, lockout arithmetic, password policy, rate limit
windows, reach of region paths. No database."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import fakeredis
import pytest
import redis

from app.auth import ratelimit
from app.auth.current import hash_token
from app.auth.models import StaffAccount
from app.auth.permissions import ACTIONS, Reach
from app.auth.services import login_error, phone_error
from app.auth.staff import (
    AccountLocked, check_password_policy, is_locked, minutes_left, normalise_username,
)
from app.errors import RateLimited, ValidationFailed
from app.org.models import Role
from app.wechat.errors import WechatError

T0 = datetime(2025, 3, 1, 8, 0, tzinfo=timezone.utc)


# --- WeChat errors -----------------------------------------------------------------------------

@pytest.mark.parametrize("errcode, status, code", [
    (40029, 401, "wx_code_invalid"),       # bad or used code: call wx.login() again
    (40163, 401, "wx_code_invalid"),
    (40226, 403, "wechat_user_risky"),     # WeChat's own verdict, passed on
    (-1, 503, "wechat_unavailable"),       # busy
    (40001, 503, "wechat_unavailable"),    # token trouble is ours, not the user's
    (40013, 503, "wechat_unavailable"),    # misconfiguration
    (45011, 429, "wechat_rate_limited"),
    (99999, 503, "wechat_unavailable"),    # unknown errcode
])
def test_login_error_mapping(errcode, status, code):
    err = login_error(WechatError.from_errcode(errcode, "x"))
    assert (err.status, err.code) == (status, code)


def test_login_error_keeps_wechats_chinese_message_for_a_bad_code():
    err = login_error(WechatError.from_errcode(40029, "invalid code"))
    assert err.message == "登录凭证无效，请重新登录"


@pytest.mark.parametrize("sent", [True, False])
def test_transport_failures_are_503(sent):
    err = login_error(WechatError.unavailable(sent=sent))
    assert err.status == 503 and err.message == "微信服务暂时不可用，请稍后再试"


def test_phone_code_errors_are_400_not_401():
    err = phone_error(WechatError.from_errcode(40029, "x", messages={40029: "手机号授权已失效"}))
    assert (err.status, err.code, err.message) == (400, "phone_code_invalid", "手机号授权已失效")
    assert phone_error(WechatError.from_errcode(-1)).status == 503


# --- lockout and passwords ---------------------------------------------------------------------

@pytest.mark.parametrize("left, minutes", [
    (timedelta(minutes=15), 15),
    (timedelta(minutes=14, seconds=1), 15),   # rounded up: never "0 分钟"
    (timedelta(seconds=1), 1),
    (timedelta(minutes=1), 1),
    (timedelta(minutes=1, seconds=1), 2),
])
def test_minutes_left_rounds_up(left, minutes):
    assert minutes_left(T0 + left, T0) == minutes


def test_is_locked_until_the_instant_the_lock_ends():
    account = StaffAccount(locked_until=T0 + timedelta(minutes=15))
    assert is_locked(account, T0)
    assert is_locked(account, T0 + timedelta(minutes=14, seconds=59))
    assert not is_locked(account, T0 + timedelta(minutes=15))
    assert not is_locked(StaffAccount(locked_until=None), T0)


def test_locked_message_names_the_minutes():
    err = AccountLocked(7)
    assert err.status == 423 and err.message == "账号已临时锁定，请 7 分钟后再试"


@pytest.mark.parametrize("password, message", [
    ("Short1", "密码至少 10 位"),
    ("onlyletterslong", "密码需同时包含字母和数字"),
    ("1234567890123", "密码需同时包含字母和数字"),
    ("xzhou12345678", "密码不能包含用户名"),
])
def test_weak_passwords_are_refused(password, message):
    with pytest.raises(ValidationFailed) as err:
        check_password_policy(password, "Zhou")
    assert err.value.message == message and err.value.code == "weak_password"


def test_a_good_password_passes():
    check_password_policy("Correct-horse-42", "zhou")


def test_usernames_are_trimmed_and_lowercased():
    assert normalise_username("  ZhangSan ") == "zhangsan"
    assert normalise_username(None) == ""


def test_tokens_are_stored_as_sha256():
    assert hash_token("abc") == (
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")


# --- rate limit --------------------------------------------------------------------------------

def test_fixed_window_counts_per_subject_and_resets_next_window():
    r = fakeredis.FakeRedis()
    limit = ratelimit.Limit("t", 2, 60)
    now = 60 * 16_667 + 20.0  # 20 s into a window
    ratelimit.check(r, limit, "1.2.3.4", now)
    ratelimit.check(r, limit, "1.2.3.4", now + 1)
    with pytest.raises(RateLimited) as err:
        ratelimit.check(r, limit, "1.2.3.4", now + 2)
    assert err.value.status == 429 and "秒后再试" in err.value.message
    ratelimit.check(r, limit, "5.6.7.8", now + 2)      # another address has its own count
    ratelimit.check(r, limit, "1.2.3.4", now + 40)     # next window
    assert r.ttl(ratelimit.window_key(limit, "1.2.3.4", now)) <= 61


def test_rate_limit_fails_open_when_redis_is_down():
    class Down:
        def pipeline(self):
            raise redis.ConnectionError("down")

    limit = ratelimit.Limit("t", 1, 60)
    for _ in range(3):
        ratelimit.check(Down(), limit, "1.2.3.4", 0.0)


# --- reach -------------------------------------------------------------------------------------

def test_reach_covers_a_region_and_everything_below_it_only():
    r = Reach(("/1/4/",), frozenset())
    assert r.covers_path("/1/4/")
    assert r.covers_path("/1/4/17/99/")
    assert not r.covers_path("/1/40/")      # a sibling whose id starts with the same digit
    assert not r.covers_path("/1/")
    assert not r.covers_path(None)


def test_people_and_reports_are_for_staff_and_admin_only():
    for action in ("people.view", "org.reports.view"):
        assert ACTIONS[action] == {Role.staff, Role.admin}
    assert Role.resident not in set().union(*ACTIONS.values())
