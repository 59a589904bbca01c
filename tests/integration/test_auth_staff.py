"""Staff console login: cookie, CSRF, same answer for unknown user and wrong password, lockout
and unlock after the window, audit without passwords, and the CLI that creates accounts."""
from __future__ import annotations

import json
from datetime import timedelta

import pytest
import time_machine
from sqlalchemy import select

from app.audit.models import AuditEntry
from app.auth import ratelimit
from app.auth.current import open_session
from app.auth.models import LoginSession, SessionKind, StaffAccount
from app.auth.staff import create_staff_account
from app.db import utcnow
from app.org import factories as f
from app.org.models import Person, Role

from ..helpers import committed_session as db
from ..helpers import production_config

PASSWORD = "Correct-horse-42"


@pytest.fixture
def staff(app):
    """A county staff member with a console account; returns the person id."""
    with db(app) as s:
        city = f.create_region(s, code="C", name="连云港市", kind="city")
        county = f.create_region(s, code="C1", name="东海县", kind="county", parent=city)
        person = f.create_person(s, name="周工作", home_region=county)
        f.assign_role(s, person, Role.staff, region=county)
        create_staff_account(s, person=person, username="zhou", password=PASSWORD)
        return person.id


def staff_login(client, username="zhou", password=PASSWORD, **kw):
    return client.post("/api/auth/staff/login", json={"username": username, "password": password},
                       **kw)


def cookie_header(response):
    found = [h for h in response.headers.getlist("Set-Cookie") if h.startswith("staff_session=")]
    assert len(found) == 1, response.headers.getlist("Set-Cookie")
    return found[0]


def audit_actions(app):
    with db(app) as s:
        return [e.action for e in s.scalars(select(AuditEntry).order_by(AuditEntry.id))]


def test_login_sets_an_httponly_lax_cookie_and_returns_the_csrf_token(client, app, staff):
    r = staff_login(client)
    assert r.status_code == 200, r.json
    header = cookie_header(r)
    assert "HttpOnly" in header and "SameSite=Lax" in header and "Path=/" in header
    assert "Secure" not in header  # testing/sandbox: plain http on the developer's machine
    token = header.split(";")[0].split("=", 1)[1]
    assert token not in r.get_data(as_text=True)
    assert r.json["person"] == {"id": staff, "name": "周工作", "roles": ["staff", "resident"]}
    assert len(r.json["csrf_token"]) >= 24
    me = client.get("/api/me")  # the test client sends the cookie back
    assert me.status_code == 200 and me.json["id"] == staff
    assert me.json["session"]["kind"] == "staff"
    with db(app) as s:
        account = s.scalar(select(StaffAccount))
        assert account.last_login_at is not None and account.failed_attempts == 0
        login = s.scalar(select(LoginSession))
        assert login.kind is SessionKind.staff
        ttl = app.config["APP"].staff_session_ttl_hours
        assert abs((login.expires_at - utcnow()) - timedelta(hours=ttl)) < timedelta(minutes=1)
    assert "auth.staff_login" in audit_actions(app)


def test_cookie_is_secure_outside_testing_and_sandbox(client, app, staff, monkeypatch):
    monkeypatch.setitem(app.config, "APP", production_config(app.config["APP"]))
    assert "Secure" in cookie_header(staff_login(client))


def test_username_is_case_insensitive(client, staff):
    assert staff_login(client, username="  ZHOU ").status_code == 200


def test_unknown_user_and_wrong_password_get_the_same_answer(client, app, staff):
    wrong = staff_login(client, password="nope-nope-1")
    unknown = staff_login(client, username="nobody", password="nope-nope-1")
    assert wrong.status_code == unknown.status_code == 401
    strip = lambda body: {k: v for k, v in body.items() if k != "request_id"}  # noqa: E731
    assert strip(wrong.json) == strip(unknown.json) == {
        "error": "invalid_credentials", "message": "用户名或密码错误"}
    assert not [h for h in wrong.headers.getlist("Set-Cookie") if "staff_session=" in h]
    assert audit_actions(app).count("auth.staff_login_failed") == 2


def test_lockout_after_n_failures_and_unlock_after_the_window(client, app, staff):
    config = app.config["APP"]
    n, minutes = config.staff_lockout_attempts, config.staff_lockout_minutes
    start = utcnow()
    with time_machine.travel(start, tick=False) as clock:
        for _ in range(n - 1):
            assert staff_login(client, password="wrong-pass-1").status_code == 401
        locked = staff_login(client, password="wrong-pass-1")
        assert locked.status_code == 423
        assert locked.json["error"] == "account_locked"
        assert locked.json["message"] == f"账号已临时锁定，请 {minutes} 分钟后再试"
        # Even the right password is refused while locked, with the time left.
        clock.shift(timedelta(minutes=minutes - 2, seconds=30))
        still = staff_login(client)
        assert still.status_code == 423
        assert still.json["message"] == "账号已临时锁定，请 2 分钟后再试"
        clock.shift(timedelta(minutes=2))
        ok = staff_login(client)
        assert ok.status_code == 200, ok.json
    with db(app) as s:
        account = s.scalar(select(StaffAccount))
        assert account.failed_attempts == 0 and account.locked_until is None
    actions = audit_actions(app)
    assert actions.count("auth.staff_login_failed") == n
    assert actions.count("auth.staff_locked") == 1
    assert actions.count("auth.staff_login_refused") == 1
    assert actions[-1] == "auth.staff_login"


def test_an_unknown_username_locks_like_a_real_one(client, app, staff):
    """The 423 must not tell which usernames exist: an unknown name answers exactly like an
    account being guessed — 401 × (n-1), then the same lock message for the same time."""
    n = app.config["APP"].staff_lockout_attempts

    def strip(resp):
        return resp.status_code, {k: v for k, v in resp.json.items() if k != "request_id"}

    real = [strip(staff_login(client, password="wrong-pass-1")) for _ in range(n + 1)]
    ghost = [strip(staff_login(client, username="nobody_here", password="wrong-pass-1"))
             for _ in range(n + 1)]
    assert ghost == real
    assert [code for code, _ in ghost] == [401] * (n - 1) + [423, 423]


def test_an_unknown_username_does_the_same_password_work_as_a_real_one(client, app, staff,
                                                                        monkeypatch):
    """Timing must not tell which usernames exist either: a real account that is locked answers
    without checking the password, so a locked unknown name must not burn a hash check (it took
    ~0.1 s against ~0.01 s on the production shape). Counted, not timed: every password hash
    check of each attempt, for a real and an unknown name, must match attempt by attempt."""
    from app.auth import staff as staff_module

    n = app.config["APP"].staff_lockout_attempts
    checks = []
    real_check = staff_module.check_password_hash

    def counting(*args, **kwargs):
        checks.append(1)
        return real_check(*args, **kwargs)

    monkeypatch.setattr(staff_module, "check_password_hash", counting)

    def work_per_attempt(username):
        work = []
        for _ in range(n + 2):
            checks.clear()
            code = staff_login(client, username=username, password="wrong-pass-1").status_code
            work.append((code, len(checks)))
        return work

    real, ghost = work_per_attempt("zhou"), work_per_attempt("nobody_here")
    assert [code for code, _ in real] == [401] * (n - 1) + [423] * 3
    assert ghost == real


@pytest.mark.parametrize("outage", ["whole", "from_the_third_attempt"])
def test_unknown_and_real_usernames_answer_alike_whatever_redis_does(
        client, app, staff, monkeypatch, outage):
    """docs/auth.md: the lock must not reveal which usernames exist — with Redis down too, or
    going down midway (the per-IP rate limit fails open; the answers stay the same)."""
    import redis

    from bench.harness import free_port

    n = app.config["APP"].staff_lockout_attempts
    working = app.extensions["redis"]
    dead = redis.Redis(host="127.0.0.1", port=free_port(), socket_connect_timeout=0.2,
                       socket_timeout=0.2)

    def attempts(username):
        answers = []
        for i in range(n + 1):
            down = outage == "whole" or i >= 2
            monkeypatch.setitem(app.extensions, "redis", dead if down else working)
            r = staff_login(client, username=username, password="wrong-pass-1")
            answers.append((r.status_code, {k: v for k, v in r.json.items() if k != "request_id"}))
        return answers

    real, ghost = attempts("zhou"), attempts("nobody_here")
    assert ghost == real
    assert [code for code, _ in ghost] == [401] * (n - 1) + [423, 423]


def test_success_resets_the_failure_counter(client, app, staff):
    n = app.config["APP"].staff_lockout_attempts
    for _ in range(n - 1):
        staff_login(client, password="wrong-pass-1")
    assert staff_login(client).status_code == 200
    codes = [staff_login(client, password="wrong-pass-1").status_code for _ in range(n - 1)]
    assert codes == [401] * (n - 1)


def test_no_password_in_the_audit_trail(client, app, staff):
    staff_login(client, password="Secret-typed-wrong-9")
    staff_login(client, username="nobody", password="Other-secret-7")
    staff_login(client)
    with db(app) as s:
        dump = json.dumps([(e.action, e.before, e.after) for e in s.scalars(select(AuditEntry))],
                          ensure_ascii=False)
    for secret in ("Secret-typed-wrong-9", "Other-secret-7", PASSWORD, "password_hash"):
        assert secret not in dump


def test_disabled_person_cannot_log_in_to_the_console(client, app, staff):
    with db(app) as s:
        s.get(Person, staff).is_active = False
    r = staff_login(client)
    assert r.status_code == 403 and r.json["error"] == "account_disabled"


def test_staff_login_is_rate_limited_per_address(client, staff, monkeypatch, frozen_limits):
    monkeypatch.setattr(ratelimit, "STAFF_LOGIN", ratelimit.Limit("staff-login", 2, 60))
    codes = [staff_login(client, username=f"guess{i}").status_code for i in range(4)]
    assert codes == [401, 401, 429, 429]


# --- CSRF --------------------------------------------------------------------------------------

def test_cookie_posts_need_the_csrf_token(client, app, staff):
    csrf = staff_login(client).json["csrf_token"]
    assert client.get("/api/me").status_code == 200  # reads need none
    missing = client.patch("/api/me", json={"name": "周"})
    assert missing.status_code == 403 and missing.json["error"] == "csrf_failed"
    wrong = client.post("/api/auth/staff/logout", headers={"X-CSRF-Token": "x" * 32})
    assert wrong.status_code == 403 and wrong.json["error"] == "csrf_failed"
    ok = client.patch("/api/me", json={"name": "周"}, headers={"X-CSRF-Token": csrf})
    assert ok.status_code == 200 and ok.json["name"] == "周"
    out = client.post("/api/auth/staff/logout", headers={"X-CSRF-Token": csrf})
    assert out.status_code == 200
    cleared = cookie_header(out)
    assert "Max-Age=0" in cleared or "Expires=Thu, 01 Jan 1970" in cleared
    assert client.get("/api/me").status_code == 401
    with db(app) as s:
        assert s.scalar(select(LoginSession)).revoked_at is not None


def test_a_non_ascii_csrf_header_is_refused_not_a_crash(client, staff):
    assert staff_login(client).status_code == 200
    r = client.patch("/api/me", json={"name": "周"}, headers={"X-CSRF-Token": "é" * 32})
    assert r.status_code == 403 and r.json["error"] == "csrf_failed"


def test_csrf_token_of_one_session_does_not_fit_another(client, app, staff):
    first = staff_login(client).json["csrf_token"]
    other = app.test_client()
    assert staff_login(other).status_code == 200
    r = other.patch("/api/me", json={"name": "周"}, headers={"X-CSRF-Token": first})
    assert r.status_code == 403


def test_bearer_requests_need_no_csrf_token(client, app, staff):
    with db(app) as s:
        token, _ = open_session(s, s.get(Person, staff), SessionKind.mp, timedelta(hours=1))
    r = client.patch("/api/me", json={"name": "周"}, headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 200


def test_expired_staff_session_is_401(client, app, staff):
    assert staff_login(client).status_code == 200
    ttl = app.config["APP"].staff_session_ttl_hours
    with time_machine.travel(utcnow() + timedelta(hours=ttl, minutes=1)):
        assert client.get("/api/me").status_code == 401


# --- CLI ---------------------------------------------------------------------------------------

@pytest.fixture
def cli(app):
    from app.auth.cli import register

    if "create-staff" not in app.cli.commands:
        register(app)
    return app.test_cli_runner()


def test_cli_creates_a_staff_account_with_a_role(cli, app, client):
    with db(app) as s:
        f.create_region(s, code="320700", name="连云港市", kind="city")
    result = cli.invoke(args=["create-staff", "Admin", "--name", "系统管理员", "--role", "admin",
                              "--region-code", "320700", "--password-stdin"],
                        input="Very-strong-pass-1\n")
    assert result.exit_code == 0, result.output
    assert "已开通控制台账号 admin" in result.output
    assert "Very-strong-pass-1" not in result.output
    r = staff_login(client, username="admin", password="Very-strong-pass-1")
    assert r.status_code == 200 and r.json["person"]["roles"] == ["admin", "resident"]


def test_cli_refuses_a_weak_password_and_a_taken_username(cli, app, staff):
    weak = cli.invoke(args=["create-staff", "lisi", "--name", "李", "--password-stdin"],
                      input="short1\n")
    assert weak.exit_code != 0 and "密码至少 10 位" in weak.output
    taken = cli.invoke(args=["create-staff", "zhou", "--name", "周二", "--password-stdin"],
                       input="Another-pass-12\n")
    assert taken.exit_code != 0 and "该用户名已被使用" in taken.output
    with db(app) as s:
        assert s.scalar(select(Person).where(Person.name.in_(["李", "周二"]))) is None


def test_cli_password_reset_unlocks_and_ends_open_sessions(cli, app, client, staff):
    assert staff_login(client).status_code == 200
    with db(app) as s:
        s.scalar(select(StaffAccount)).locked_until = utcnow() + timedelta(minutes=10)
    result = cli.invoke(args=["set-staff-password", "zhou", "--password-stdin"],
                        input="Brand-new-pass-77\n")
    assert result.exit_code == 0, result.output
    assert client.get("/api/me").status_code == 401  # the old console session was revoked
    assert staff_login(client, password=PASSWORD).status_code == 401
    assert staff_login(client, password="Brand-new-pass-77").status_code == 200


def test_cli_unlock(cli, app, client, staff):
    with db(app) as s:
        s.scalar(select(StaffAccount)).locked_until = utcnow() + timedelta(minutes=10)
    assert staff_login(client).status_code == 423
    result = cli.invoke(args=["unlock-staff", "zhou"])
    assert result.exit_code == 0 and "已解除 zhou 的锁定" in result.output
    assert staff_login(client).status_code == 200
    missing = cli.invoke(args=["unlock-staff", "ghost"])
    assert missing.exit_code != 0 and "不存在" in missing.output


def test_stale_unknown_username_counters_are_purged(client, app, staff):
    from app.auth.models import StaffLoginShadow
    from scheduler.jobs import JOBS, run_job

    staff_login(client, username="nobody_here", password="wrong-pass-1")
    spec = next(j for j in JOBS if j.id == "purge_stale_login_shadows")
    assert run_job(app, spec) == 0  # tried just now: kept
    with time_machine.travel(utcnow() + timedelta(days=31), tick=False):
        assert run_job(app, spec) == 1
    with db(app) as s:
        assert s.scalar(select(StaffLoginShadow)) is None


def test_the_public_demo_password_opens_no_console_outside_sandbox(cli, app, client, monkeypatch):
    """Issue 10 item 24 (any credential means production rules): a database seeded in sandbox and
    later run with real credentials keeps its demo accounts; their public password (printed by
    `make run`) must not open the console there. Resetting the password through the CLI does."""
    from app.org.demo_data import DEMO_PASSWORD

    with db(app) as s:
        county = f.create_region(s, code="C", name="连云港市", kind="city")
        person = f.create_person(s, name="演示工作人员", home_region=county)
        f.assign_role(s, person, Role.staff, region=county)
        create_staff_account(s, person=person, username="demo_staff", password=DEMO_PASSWORD)
    assert staff_login(client, "demo_staff", DEMO_PASSWORD).status_code == 200  # sandbox: fine

    monkeypatch.setitem(app.config, "APP", production_config(app.config["APP"]))
    refused = staff_login(client, "demo_staff", DEMO_PASSWORD)
    assert refused.status_code == 403, refused.json
    assert refused.json["error"] == "demo_password" and "演示密码" in refused.json["message"]
    assert "staff_session=" not in " ".join(refused.headers.getlist("Set-Cookie"))
    assert audit_actions(app)[-1] == "auth.staff_login_refused"

    result = cli.invoke(args=["set-staff-password", "demo_staff", "--password-stdin"],
                        input=PASSWORD + "\n")
    assert result.exit_code == 0, result.output
    assert staff_login(client, "demo_staff", PASSWORD).status_code == 200
