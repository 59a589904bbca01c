"""The local fake WeChat server, spoken to over real HTTP (no client code involved)."""
from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import requests

from app.wechat.fake import FakeWechat, openid_for, phone_for_code, unionid_for

ROOT = Path(__file__).resolve().parents[2]
APPID = "wx_test_app"
SUBSCRIBE = "/cgi-bin/message/subscribe/send"


@pytest.fixture
def fake(fake_wechat):
    return fake_wechat


@pytest.fixture
def http():
    with requests.Session() as s:
        yield s


def login(http, fake, code, appid=APPID):
    return http.get(f"{fake.base_url}/sns/jscode2session", params={
        "appid": appid, "secret": "s", "js_code": code, "grant_type": "authorization_code"},
        timeout=5).json()


def token(http, fake, appid=APPID):
    answer = http.get(f"{fake.base_url}/cgi-bin/token", params={
        "grant_type": "client_credential", "appid": appid, "secret": "s"}, timeout=5).json()
    return answer["access_token"]


def subscribe(http, fake, access_token, **overrides):
    body = {"touser": openid_for("alice", APPID), "template_id": "tpl",
            "data": {"thing1": {"value": "会议通知"}}}
    body.update(overrides)
    return http.post(f"{fake.base_url}{SUBSCRIBE}", params={"access_token": access_token},
                     json=body, timeout=5).json()


# --- login codes -------------------------------------------------------------------------------

def test_user_code_logs_in_as_the_named_user(http, fake):
    first = login(http, fake, "user-alice-1")
    again = login(http, fake, "user-alice-2")
    assert first["openid"] == again["openid"] == openid_for("alice", APPID)
    assert first["unionid"] == unionid_for("alice") == "u_alice"
    assert first["session_key"] != again["session_key"]
    other_app = login(http, fake, "user-alice-3", appid="wx_other")
    assert other_app["openid"] != first["openid"] and other_app["unionid"] == "u_alice"


def test_code_is_single_use(http, fake):
    assert "openid" in login(http, fake, "user-bob-1")
    reused = login(http, fake, "user-bob-1")
    assert reused["errcode"] == 40029 and reused["errmsg"].startswith("invalid code")


@pytest.mark.parametrize("code", ["", "has space", "x" * 129, "invalid-1", "中文"])
def test_malformed_codes_are_40029(http, fake, code):
    assert login(http, fake, code)["errcode"] == 40029


def test_risky_and_nounion_and_anonymous_codes(http, fake):
    assert login(http, fake, "risky-carol-1")["errcode"] == 40226
    no_union = login(http, fake, "user-dave-nounion")
    assert no_union["openid"] == openid_for("dave", APPID) and "unionid" not in no_union
    anon = login(http, fake, "0a1B2c3D")
    assert anon["openid"].startswith("o_anon_") and "unionid" not in anon


def test_wrong_grant_type_and_missing_secret(http, fake):
    bad = http.get(f"{fake.base_url}/sns/jscode2session", params={
        "appid": APPID, "secret": "", "js_code": "user-x-1",
        "grant_type": "authorization_code"}, timeout=5).json()
    assert bad["errcode"] == 41004
    fake.register_app(APPID, "right")
    wrong = http.get(f"{fake.base_url}/cgi-bin/token", params={
        "grant_type": "client_credential", "appid": APPID, "secret": "wrong"}, timeout=5).json()
    assert wrong["errcode"] == 40125
    assert fake.token_fetches(APPID) == 0


# --- tokens ------------------------------------------------------------------------------------

def test_apis_check_the_access_token(http, fake):
    assert subscribe(http, fake, "")["errcode"] == 41001
    assert subscribe(http, fake, "made-up")["errcode"] == 40001
    good = token(http, fake)
    assert subscribe(http, fake, good)["errcode"] == 0
    fake.expire_tokens()
    assert subscribe(http, fake, good)["errcode"] == 40001
    assert fake.token_fetches(APPID) == 1


def test_old_token_stays_valid_for_five_minutes_after_a_new_fetch(http):
    now = [1_700_000_000.0]
    with FakeWechat(clock=lambda: now[0]) as fake:
        old = token(http, fake)
        new = token(http, fake)
        assert subscribe(http, fake, old)["errcode"] == 0
        now[0] += 301
        assert subscribe(http, fake, old)["errcode"] == 40001
        assert subscribe(http, fake, new)["errcode"] == 0
        now[0] += 7200
        assert subscribe(http, fake, new)["errcode"] == 40001


def test_stable_token_is_reused_unless_forced(http, fake):
    url = f"{fake.base_url}/cgi-bin/stable_token"
    body = {"grant_type": "client_credential", "appid": APPID, "secret": "s"}
    a = http.post(url, json=body, timeout=5).json()["access_token"]
    b = http.post(url, json=body, timeout=5).json()["access_token"]
    c = http.post(url, json={**body, "force_refresh": True}, timeout=5).json()["access_token"]
    assert a == b != c
    assert subscribe(http, fake, c)["errcode"] == 0


# --- phone, content security, messages, robot --------------------------------------------------

def test_phone_codes(http, fake):
    t = token(http, fake)
    url = f"{fake.base_url}/wxa/business/getuserphonenumber"
    answer = http.post(url, params={"access_token": t}, json={"code": "phone-13912345678"},
                       timeout=5).json()
    assert answer["phone_info"]["purePhoneNumber"] == "13912345678"
    assert answer["phone_info"]["countryCode"] == "86"
    again = http.post(url, params={"access_token": t}, json={"code": "phone-13912345678"},
                      timeout=5).json()
    assert again["errcode"] == 40029
    derived = phone_for_code("abc")
    assert derived == phone_for_code("abc") and len(derived) == 11 and derived.startswith("139")


def test_msg_sec_check_words(http, fake):
    t = token(http, fake)
    url = f"{fake.base_url}/wxa/msg_sec_check"

    def check(content, **extra):
        body = {"version": 2, "openid": openid_for("alice", APPID), "scene": 2,
                "content": content, **extra}
        return http.post(url, params={"access_token": t}, json=body, timeout=5).json()

    assert check("建议增设公交线路")["result"]["suggest"] == "pass"
    assert check("含有违禁测试词的内容")["result"]["suggest"] == "risky"
    assert check("含有待审测试词的内容")["result"]["suggest"] == "review"
    fake.set_words(risky=["炸弹"], review=[])
    assert check("炸弹")["result"]["suggest"] == "risky"
    assert check("含有待审测试词的内容")["result"]["suggest"] == "pass"
    assert check("长" * 2501)["errcode"] == 47001
    assert check("x", version=1)["errcode"] == 47001
    assert check("x", scene=9)["errcode"] == 47001


def test_subscribe_validation(http, fake):
    t = token(http, fake)
    assert subscribe(http, fake, t, touser="")["errcode"] == 40003
    assert subscribe(http, fake, t, template_id="")["errcode"] == 40037
    assert subscribe(http, fake, t, data={"thing1": {"value": "长" * 21}})["errcode"] == 47003
    assert subscribe(http, fake, t, data={"thing1": "not wrapped"})["errcode"] == 47003
    assert subscribe(http, fake, t, miniprogram_state="prod")["errcode"] == 47003
    ok = subscribe(http, fake, t, miniprogram_state="developer")
    assert ok["errcode"] == 0 and isinstance(ok["msgid"], int)
    assert [c.errcode for c in fake.calls(SUBSCRIBE)] == [40003, 40037, 47003, 47003, 47003, 0]
    assert len(fake.calls(SUBSCRIBE, ok=True)) == 1


def test_robot_limits(http):
    now = [1_700_000_000.0]
    with FakeWechat(clock=lambda: now[0]) as fake:
        url = f"{fake.base_url}/cgi-bin/webhook/send"

        def send(key, content, msgtype="text"):
            return http.post(url, params={"key": key}, json={
                "msgtype": msgtype, msgtype: {"content": content}}, timeout=5).json()

        assert send("", "hi")["errcode"] == 93000
        assert send("k", "长" * 683)["errcode"] == 40058  # 2049 bytes
        assert [send("k", f"第{i}条")["errcode"] for i in range(21)] == [0] * 20 + [45009]
        assert send("k2", "其他机器人不受影响")["errcode"] == 0
        now[0] += 60
        assert send("k", "下一分钟")["errcode"] == 0


# --- fault switches, records, reset ------------------------------------------------------------

def test_fault_once_n_times_and_always(http, fake):
    t = token(http, fake)
    fake.fail(SUBSCRIBE, 43101)
    assert [subscribe(http, fake, t)["errcode"] for _ in range(2)] == [43101, 0]
    fake.fail(SUBSCRIBE, 45011, times=2)
    assert [subscribe(http, fake, t)["errcode"] for _ in range(3)] == [45011, 45011, 0]
    fake.fail(SUBSCRIBE, 45009, times=None)
    assert [subscribe(http, fake, t)["errcode"] for _ in range(3)] == [45009] * 3
    fake.clear_faults()
    assert subscribe(http, fake, t)["errcode"] == 0


def test_fault_for_every_path_and_percentage(http, fake):
    t = token(http, fake)
    fake.fail("*", -1)
    assert login(http, fake, "user-eve-1")["errcode"] == -1
    fake.fail_percent(SUBSCRIBE, 50, errcode=45011)
    codes = [subscribe(http, fake, t)["errcode"] for _ in range(60)]
    failures = codes.count(45011)
    assert set(codes) == {0, 45011}
    assert 15 <= failures <= 45


def test_records_and_reset(http, fake):
    t = token(http, fake)
    subscribe(http, fake, t)
    call = fake.calls(SUBSCRIBE)[0]
    assert call.method == "POST" and call.params["access_token"] == t
    assert call.body["touser"] == openid_for("alice", APPID) and call.appid == APPID
    assert call.host is None  # called directly, not through the rewriting adapter
    login(http, fake, "user-frank-1")
    fake.fail(SUBSCRIBE, 43101, times=None)
    fake.reset()
    assert fake.calls() == [] and fake.token_fetches() == 0
    assert "openid" in login(http, fake, "user-frank-1")  # used codes forgotten
    assert subscribe(http, fake, t)["errcode"] == 40001  # tokens forgotten, faults cleared
    assert subscribe(http, fake, token(http, fake))["errcode"] == 0


def test_concurrent_use_of_one_code_succeeds_once(http, fake):
    results: list[dict] = []
    barrier = threading.Barrier(8)

    def worker():
        with requests.Session() as s:
            barrier.wait(timeout=10)
            results.append(login(s, fake, "user-grace-1"))

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(timeout=20)
    assert len(results) == 8
    assert sum(1 for r in results if "openid" in r) == 1
    assert sum(1 for r in results if r.get("errcode") == 40029) == 7
    assert len(fake.calls("/sns/jscode2session")) == 8


def test_unknown_path_and_wrong_method(http, fake):
    assert http.get(f"{fake.base_url}/cgi-bin/nothing", timeout=5).status_code == 404
    answer = http.get(f"{fake.base_url}{SUBSCRIBE}", timeout=5).json()
    assert answer["errcode"] == 43002


def test_http_control_api(http, fake):
    ctl = f"{fake.base_url}/__fake__"
    http.post(f"{ctl}/fault", json={"path": "/sns/jscode2session", "errcode": 45011,
                                    "times": 1}, timeout=5)
    assert login(http, fake, "user-heidi-1")["errcode"] == 45011
    listed = http.get(f"{ctl}/calls", params={"path": "/sns/jscode2session"}, timeout=5).json()
    assert [c["errcode"] for c in listed["calls"]] == [45011]
    http.post(f"{ctl}/words", json={"risky": ["坏词"]}, timeout=5)
    assert fake.risky_words == ["坏词"]
    user = http.get(f"{ctl}/users", params={"name": "ivan", "appid": APPID}, timeout=5).json()
    assert user == {"openid": openid_for("ivan", APPID), "unionid": "u_ivan"}
    http.post(f"{ctl}/reset", timeout=5)
    assert fake.calls() == []


def test_standalone_server_starts_and_answers(http, tmp_path):
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-m", "app.wechat.fake", "--port", str(port)],
                            cwd=ROOT, stdout=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        banner = proc.stdout.readline()
        assert f"http://127.0.0.1:{port}" in banner and "WECHAT_API_BASE" in banner
        answer = http.get(f"http://127.0.0.1:{port}/sns/jscode2session", params={
            "appid": APPID, "secret": "s", "js_code": "user-judy-1",
            "grant_type": "authorization_code"}, timeout=5).json()
        assert answer["openid"] == openid_for("judy", APPID)
    finally:
        proc.terminate()
        proc.wait(timeout=10)
