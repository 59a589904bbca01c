"""Fault test of the outbox (issue: "the chatbot and real WeChat delivery", must show):

the fake WeChat fails about 30 % of sends and stalls on some past the client's timeout, three
dispatcher *processes* (``python -m app.notify``) share the queue and one of them is killed with
SIGKILL mid-run → afterwards every notice is delivered exactly once, or is marked failed / unknown
with its reason — never sent twice, never left behind.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import func, select

from app.notify.models import DeliveryAttempt, InboxItem, OutboxMessage, OutboxState
from app.notify.services import fan_out
from app.org.models import Person, WechatApp, WechatIdentity
from app.wechat.fake import Fault
from tests.helpers import committed_session

ROOT = Path(__file__).resolve().parents[2]
SEND_PATHS = ("/cgi-bin/message/subscribe/send", "/cgi-bin/message/template/send",
              "/cgi-bin/message/custom/send")
NOTICES = 150
FINAL = (OutboxState.sent, OutboxState.failed, OutboxState.unknown)


def _people(app, n: int) -> dict[str, int]:
    """n people, half of them with mini-program and Official Account openids; returns
    openid → person id for every address a send to them can carry."""
    targets: dict[str, int] = {}
    with committed_session(app) as s:
        people = [Person(name=f"居民{i}") for i in range(n)]
        s.add_all(people)
        s.flush()
        for i, p in enumerate(people):
            targets[f"osandbox_person_{p.id}"] = p.id
            if i % 2:
                for wa in (WechatApp.mp, WechatApp.oa):
                    openid = f"o_fault_{wa.value}_{p.id}"
                    s.add(WechatIdentity(person_id=p.id, app=wa, openid=openid))
                    targets[openid] = p.id
        ids = [p.id for p in people]
        fan_out(s, kind="meeting_notice", subject="consultation:fault-test", recipient_ids=ids,
                title="会议通知", body="请于11月30日14:30到新浦街道议事室参加协商会议。",
                link="pages/meeting/detail?id=1", payload={"consultation_id": 1})
    return targets


def _dispatcher(config, name: str) -> subprocess.Popen:
    env = {**os.environ,
           "DATABASE_URL": config.database_url, "REDIS_URL": config.redis_url,
           "WECHAT_API_BASE": config.wechat_api_base, "WECHAT_MP_APPID": "",
           "WECHAT_TIMEOUT_SECONDS": "0.4", "SECRET_KEY": config.secret_key,
           "LOG_LEVEL": "ERROR", "DEMO_DATA": "0"}
    cmd = [sys.executable, "-m", "app.notify", "--worker-id", name, "--threads", "2",
           "--interval", "0.1", "--batch-size", "5", "--base-delay", "0.2", "--max-delay", "0.5",
           "--max-attempts", "2", "--lease-seconds", "3"]
    return subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)


def _states(app) -> Counter:
    with committed_session(app) as s:
        return Counter(dict(s.execute(select(OutboxMessage.state, func.count())
                                      .group_by(OutboxMessage.state)).all()))


def _wait(predicate, timeout: float, procs) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        for p in procs:
            if p.poll() not in (None, -signal.SIGKILL):
                pytest.fail(f"dispatcher exited: {p.stderr.read()[-2000:]}")
        time.sleep(0.2)
    return False


def test_faults_and_a_killed_dispatcher_leave_each_notice_sent_once_or_settled(
        app, config, fake_wechat):
    targets = _people(app, NOTICES)
    for path in SEND_PATHS:
        fake_wechat.fail_percent(path, 30, errcode=-1)  # system busy: retryable
        # Stall past the client's 0.4 s timeout, then answer (and count the message as
        # delivered): the dispatcher cannot know — the row must end "unknown", not resent.
        fake_wechat._add(Fault(path, hang=1.0, remaining=None, percent=4))

    procs = [_dispatcher(config, f"fault-{n}") for n in range(3)]
    try:
        # Kill the first dispatcher once the run is well under way.
        assert _wait(lambda: sum(_states(app)[s] for s in FINAL) >= NOTICES // 5, 60, procs), \
            "dispatchers made no progress"
        procs[0].send_signal(signal.SIGKILL)
        procs[0].wait(10)
        assert _wait(lambda: sum(_states(app)[s] for s in FINAL) == NOTICES, 120, procs[1:]), \
            f"rows left behind: {_states(app)}"
    finally:
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in procs:
            try:
                p.wait(15)
            except subprocess.TimeoutExpired:
                p.kill()

    delivered: Counter[int] = Counter()
    for path in SEND_PATHS:
        for call in fake_wechat.calls(path, ok=True):
            delivered[targets[call.body["touser"]]] += 1

    with committed_session(app) as s:
        rows = s.scalars(select(OutboxMessage)).all()
        inbox = Counter(s.scalars(select(InboxItem.person_id)))
        workers = {w for w in s.scalars(select(DeliveryAttempt.worker)) if w}
        timeouts = s.scalar(select(func.count()).select_from(DeliveryAttempt).where(
            DeliveryAttempt.response.like("%Timeout%")))
    assert len(rows) == NOTICES
    assert any(w.startswith("fault-0") for w in workers), "the killed dispatcher never worked"
    assert timeouts, "no send timed out: the stall fault did not fire"
    for row in rows:
        assert inbox[row.recipient_id] == 1, "every notice has exactly one inbox copy"
        sends = delivered[row.recipient_id]
        if row.state is OutboxState.sent and row.channel != "inbox":
            assert sends == 1, f"row {row.id} sent via {row.channel}: {sends} deliveries"
        elif row.state is OutboxState.sent:
            assert sends == 0
        elif row.state is OutboxState.unknown:
            assert sends <= 1 and row.last_error, row
        else:
            assert row.state is OutboxState.failed and row.last_error and sends == 0, row
    states = Counter(r.state for r in rows)
    assert states[OutboxState.sent] > NOTICES // 2
    assert states[OutboxState.failed], "with two attempts some rows must give up (30 % failures)"
