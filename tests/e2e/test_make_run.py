"""`make run` end to end: the one-process product on the embedded default (SQLite, no Redis
server, local fake WeChat, demo data) serves health, the OpenAPI document, the demo city, and a
login through the fake WeChat."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import re
import sys
import threading
import time

import pytest
import requests

from app.config import ROOT

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def product(tmp_path_factory):
    port = _free_port()
    db = tmp_path_factory.mktemp("run") / "run.db"
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("WECHAT_", "DATABASE_URL", "REDIS_URL", "TEST_"))}
    env.update(PORT=str(port), DATABASE_URL=f"sqlite:///{db}", LOG_LEVEL="WARNING")
    proc = subprocess.Popen([sys.executable, "-m", "app.runner"], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    # What make run prints, read as it comes (a full pipe would stall the process).
    proc.lines = []
    threading.Thread(target=lambda: proc.lines.extend(iter(proc.stdout.readline, "")),
                     daemon=True).start()
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            time.sleep(0.5)
            pytest.fail(f"make run exited early:\n{''.join(proc.lines)}")
        try:
            if requests.get(f"{base}/healthz", timeout=1).status_code == 200:
                break
        except requests.RequestException:
            time.sleep(0.3)
    else:
        proc.kill()
        pytest.fail(f"make run did not come up:\n{''.join(proc.lines)}")
    yield base, proc
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(15)
    except subprocess.TimeoutExpired:
        proc.kill()
        pytest.fail("make run did not stop on SIGTERM")


def test_health_ready_and_openapi(product):
    base, _ = product
    assert requests.get(f"{base}/healthz", timeout=5).json() == {"status": "ok"}
    ready = requests.get(f"{base}/readyz", timeout=5)
    assert ready.status_code == 200 and ready.json()["checks"] == {"database": "ok"}
    doc = requests.get(f"{base}/api/openapi.json", timeout=5).json()
    assert doc["openapi"].startswith("3.")
    for path in ("/api/platforms", "/api/platforms/{platform_id}", "/api/auth/wx-login",
                 "/api/me", "/api/reports/coverage", "/api/people/{person_id}"):
        assert path in doc["paths"], path
    page = requests.get(f"{base}/api/docs", timeout=5)
    assert page.status_code == 200 and "协商议事平台" in page.text


def test_demo_city_is_served_without_personal_data(product):
    base, _ = product
    r = requests.get(f"{base}/api/platforms", params={"limit": 50}, timeout=5).json()
    assert len(r["items"]) == 50 and r["next_cursor"]
    kinds = {p["kind"] for p in r["items"]}
    assert "room" in kinds
    assert "phone" not in str(r) and "openid" not in str(r)


def test_login_through_the_sandbox_fake_wechat(product):
    base, _ = product
    r = requests.post(f"{base}/api/auth/wx-login", json={"code": "user-e2e-1"}, timeout=10)
    assert r.status_code == 200, r.text
    token = r.json()["token"]
    me = requests.get(f"{base}/api/me", headers={"Authorization": f"Bearer {token}"}, timeout=5)
    assert me.status_code == 200
    assert "session_key" not in me.text
    # A resident cannot read staff reports.
    rep = requests.get(f"{base}/api/reports/coverage",
                       headers={"Authorization": f"Bearer {token}"}, timeout=5)
    assert rep.status_code == 403 and rep.json()["error"] == "forbidden"


def test_demo_staff_login_and_report(product):
    base, _ = product
    s = requests.Session()
    r = s.post(f"{base}/api/auth/staff/login",
               json={"username": "city_staff", "password": "demo2024pass"}, timeout=5)
    assert r.status_code == 200, r.text
    cov = s.get(f"{base}/api/reports/coverage", timeout=10)
    assert cov.status_code == 200
    assert "岗埠村" in cov.text  # a planted D2 gap in the demo city


def test_sandbox_chat_demo_as_the_demo_convenor(product):
    """The chat demo page of `make run`: the demo convenor asks who is coming by chat."""
    base, _ = product
    assert "公众号聊天演示" in requests.get(f"{base}/sandbox/chat", timeout=5).text
    people = requests.get(f"{base}/sandbox/chat/people", timeout=5).json()["people"]
    # The demo meeting is on the 新浦街道 room (app/org/demo_activity.py).
    convenor = next(p for p in people if "召集人" in p["roles"]
                    and any("新浦街道" in name for name in p["platforms"]))
    r = requests.post(f"{base}/sandbox/chat/send", json={"person_id": convenor["id"],
                                                         "text": "出席情况"}, timeout=10)
    assert r.status_code == 200, r.text
    assert "出席情况" in r.json()["reply"], r.json()
    feed = requests.get(f"{base}/sandbox/chat/feed", params={"person_id": convenor["id"]},
                        timeout=10)
    assert feed.status_code == 200 and set(feed.json()) == {"inbox", "wechat"}


# --- issue 10 item 18: from the banner alone, act as each role -----------------------------------

ROLES = ("群众", "政协委员", "召集人", "审核人（党委）", "审核人（政协）", "承办部门经办人",
         "县区政协工作人员", "市政协工作人员")
PERSON_LINE = re.compile(r"^  (?P<label>\S+)：(?P<name>[^（]+)（(?P<where>[^）]*)）"
                         r"key=(?P<key>\w+) 登录名 login_as=(?P<login_as>\w+)"
                         r"(?: · 控制台 console (?P<user>\w+) / (?P<password>\S+))? — ")


def _banner(proc) -> tuple[str, dict[str, dict]]:
    """The sign-in URL and the demo people, parsed from what make run printed."""
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        text = "".join(proc.lines)
        people = {m["label"]: m.groupdict() for m in
                  (PERSON_LINE.match(line) for line in text.splitlines()) if m}
        login = re.search(r"POST (\S+/sandbox/login)", text)
        if login and len(people) >= len(ROLES):
            return login.group(1), people
        time.sleep(0.3)
    pytest.fail(f"no demo people in make run's banner:\n{''.join(proc.lines)}")


def test_from_the_banner_alone_a_newcomer_acts_as_every_role(product):
    """Each role signs in the way the banner says — the mini-program login code, the sandbox
    sign-in, a console account — and does one thing that role is there for."""
    base, proc = product
    login_url, people = _banner(proc)
    assert set(ROLES) <= set(people), people

    def sign_in(label: str) -> dict:
        r = requests.post(login_url, json={"key": people[label]["key"]}, timeout=10)
        assert r.status_code == 200, r.text
        assert r.json()["person"]["name"] == people[label]["name"].strip()
        return {"Authorization": f"Bearer {r.json()['token']}"}

    # 召集人: their room (from /api/me), a topic drafted and sent into its D8 chain.
    convenor = sign_in("召集人")
    me = requests.get(f"{base}/api/me", headers=convenor, timeout=10).json()
    room = next(p for p in me["platforms"] if p["relation"] == "convenor")
    assert room["name"] in people["召集人"]["where"]
    topic = requests.post(f"{base}/api/platforms/{room['id']}/topics", headers=convenor, timeout=10,
                          json={"title": "小区充电桩安装", "description": "电动车充电难，楼道飞线充电有隐患。",
                                "category": "livelihood", "source": "proposed"})
    assert topic.status_code == 201, topic.text
    submitted = requests.post(f"{base}/api/topics/{topic.json()['id']}/submit", headers=convenor,
                              timeout=10)
    assert submitted.status_code == 200, submitted.text

    # 审核人（党委）then 审核人（政协）: each finds the step in their reviews and approves it.
    for label in ("审核人（党委）", "审核人（政协）"):
        reviewer = sign_in(label)
        todo = requests.get(f"{base}/api/me/reviews", headers=reviewer, timeout=10).json()["items"]
        step = next(i for i in todo if i["topic_id"] == topic.json()["id"])
        r = requests.post(f"{base}/api/topics/{step['topic_id']}/steps/{step['step_id']}/approve",
                          headers=reviewer, json={}, timeout=10)
        assert r.status_code == 200, r.text
    assert r.json()["state"] == "approved", r.json()

    # 群众: the mini-program's own login (the fake WeChat's code for login_as), a suggestion.
    r = requests.post(f"{base}/api/auth/wx-login", timeout=10,
                      json={"code": f"user-{people['群众']['login_as']}-e2e"})
    assert r.status_code == 200 and r.json()["person"]["name"] == people["群众"]["name"].strip()
    resident = {"Authorization": f"Bearer {r.json()['token']}"}
    sug = requests.post(f"{base}/api/platforms/{room['id']}/suggestions", headers=resident,
                        timeout=10, json={"title": "楼道照明不足", "description": "晚上楼道太暗。",
                                          "category": "livelihood"})
    assert sug.status_code == 201 and sug.json()["source"] == "proposed", sug.text

    # 政协委员: 荐题 — published at once (an official role: the local word list decides).
    member = sign_in("政协委员")
    rec = requests.post(f"{base}/api/platforms/{room['id']}/suggestions", headers=member,
                        timeout=10, json={"title": "增设社区老年助餐点", "as_member": True,
                                          "description": "独居老人吃饭难。", "category": "livelihood"})
    assert rec.status_code == 201, rec.text
    assert rec.json()["source"] == "recommended" and rec.json()["state"] == "open"

    # 承办部门经办人: answers the demo meeting's invitation, sending a colleague (D9).
    handler = sign_in("承办部门经办人")
    meetings = requests.get(f"{base}/api/me/consultations", headers=handler, timeout=10).json()
    meeting = meetings["items"][0]
    rsvp = requests.put(f"{base}/api/consultations/{meeting['id']}/rsvp", headers=handler,
                        timeout=10, json={"answer": "substitute", "substitute_name": "李科长",
                                          "substitute_title": "城建科科长"})
    assert rsvp.status_code == 200, rsvp.text

    # 县区政协工作人员: the console account the banner names; 点题 for the town's Party committee.
    county = requests.Session()
    who = people["县区政协工作人员"]
    r = county.post(f"{base}/api/auth/staff/login", timeout=10,
                    json={"username": who["user"], "password": who["password"]})
    assert r.status_code == 200, r.text
    party_body = submitted.json()["steps"][0]["body_id"]
    assigned = county.post(f"{base}/api/platforms/{room['id']}/suggestions", timeout=10,
                           headers={"X-CSRF-Token": r.json()["csrf_token"]},
                           json={"title": "背街小巷环境整治", "description": "请协商整治方案。",
                                 "category": "difficulty", "assigned_by_body_id": party_body})
    assert assigned.status_code == 201, assigned.text
    assert assigned.json()["source"] == "assigned" and assigned.json()["state"] == "open"

    # 市政协工作人员: the sandbox console sign-in; the city's coverage report.
    city = requests.Session()
    r = city.post(login_url, json={"key": people["市政协工作人员"]["key"], "console": True},
                  timeout=10)
    assert r.status_code == 200 and "csrf_token" in r.json()
    cov = city.get(f"{base}/api/reports/coverage", timeout=20)
    assert cov.status_code == 200 and "岗埠村" in cov.text
