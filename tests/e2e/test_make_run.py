"""`make run` end to end: the one-process product on the embedded default (SQLite, no Redis
server, local fake WeChat, demo data) serves health, the OpenAPI document, the demo city, and a
login through the fake WeChat."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
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
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"make run exited early:\n{proc.stdout.read()}")
        try:
            if requests.get(f"{base}/healthz", timeout=1).status_code == 200:
                break
        except requests.RequestException:
            time.sleep(0.3)
    else:
        proc.kill()
        pytest.fail(f"make run did not come up:\n{proc.stdout.read()}")
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
