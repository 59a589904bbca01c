"""The scheduler: declared jobs, each in its own transaction; one active instance at a time."""
from __future__ import annotations

import threading
import time
from datetime import timedelta

from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy import func, select

from app.auth.current import open_session
from app.auth.models import LoginSession, SessionKind
from app.db import utcnow
from app.org.models import Person
from scheduler import __main__ as sched_main
from scheduler.jobs import JOBS, JobSpec, add_jobs, run_job


def test_job_list_has_stable_unique_ids_and_coalesces(app):
    ids = [j.id for j in JOBS]
    assert len(ids) == len(set(ids))
    sched = BackgroundScheduler(timezone="Asia/Shanghai")
    add_jobs(sched, app)
    jobs = {j.id: j for j in sched.get_jobs()}
    assert set(jobs) == set(ids)
    for job in jobs.values():
        assert job.coalesce is True and job.max_instances == 1
        assert job.misfire_grace_time >= 60


def test_purge_job_removes_only_old_sessions(app, session):
    person = Person(name="王五")
    session.add(person)
    session.flush()
    _, old = open_session(session, person, SessionKind.mp, timedelta(hours=1))
    old.expires_at = utcnow() - timedelta(days=31)
    _, recent = open_session(session, person, SessionKind.mp, timedelta(hours=1))
    recent.expires_at = utcnow() - timedelta(days=2)
    _, live = open_session(session, person, SessionKind.mp, timedelta(hours=1))
    session.commit()

    spec = next(j for j in JOBS if j.id == "purge_expired_sessions")
    assert run_job(app, spec) == 1
    session.expire_all()
    left = set(session.scalars(select(LoginSession.id)))
    assert left == {recent.id, live.id}


def test_failed_job_rolls_back(app, session):
    def boom(s):
        s.add(Person(name="不应保存"))
        s.flush()
        raise RuntimeError("fail")

    try:
        run_job(app, JobSpec(id="boom", func=boom, trigger="interval"))
    except RuntimeError:
        pass
    assert session.scalar(select(func.count()).select_from(Person)) == 0


def test_second_scheduler_stands_by_until_first_leaves(app, tmp_path, monkeypatch):
    monkeypatch.setattr(sched_main, "INSTANCE_DIR", tmp_path)
    order: list[str] = []
    first_in = threading.Event()
    release = threading.Event()

    def first():
        with sched_main.leadership(app, poll_seconds=0.05):
            order.append("first")
            first_in.set()
            release.wait(5)
        order.append("first-out")

    def second():
        first_in.wait(5)
        with sched_main.leadership(app, poll_seconds=0.05):
            order.append("second")

    t1, t2 = threading.Thread(target=first), threading.Thread(target=second)
    t1.start()
    t2.start()
    time.sleep(0.3)
    assert order == ["first"]  # the second one is standing by
    release.set()
    t1.join(5)
    t2.join(5)
    assert order == ["first", "first-out", "second"]
