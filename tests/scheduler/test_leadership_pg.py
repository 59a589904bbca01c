"""Two real scheduler processes on PostgreSQL: their database sessions are terminated the way a
PostgreSQL restart terminates them (pg_terminate_backend), and at no moment do both run jobs.
The standby survives losing its own session and keeps waiting; the leader that lost its lock
stops running jobs (and stands by) before the standby takes over."""
from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from bench.harness import stop
from scheduler.__main__ import LOCK_KEY

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
LAUNCH = ("from scheduler.__main__ import main; from tests.scheduler.probe_jobs import JOBS; "
          "main(jobs=JOBS, poll_seconds=0.2, check_seconds=0.2)")
HOLDER = text("SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted "
              "AND classid = 0 AND objid::bigint = :k AND objsubid = 1")


def _start(database_url: str, log: Path) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("WECHAT_", "REDIS_"))}
    env.update(DATABASE_URL=database_url, LOG_LEVEL="INFO", PYTHONPATH=str(ROOT))
    with open(log, "wb") as out:
        return subprocess.Popen([sys.executable, "-c", LAUNCH], cwd=ROOT, env=env,
                                stdout=out, stderr=subprocess.STDOUT)


def _runs(conn) -> list[tuple[int, object, object]]:
    return list(conn.execute(text("SELECT pid, started, ended FROM scheduler_probe "
                                  "ORDER BY started")))


def _wait_for(predicate, seconds: float, what: str):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
def pg_only(config):
    if not config.database_url.startswith("postgresql"):
        pytest.skip("needs PostgreSQL (TEST_DATABASE_URL)")
    engine = create_engine(config.database_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text("CREATE TABLE IF NOT EXISTS scheduler_probe "
                          "(pid int, started timestamptz, ended timestamptz)"))
        conn.execute(text("TRUNCATE scheduler_probe"))
    yield engine
    with engine.connect() as conn:
        conn.execute(text("DROP TABLE IF EXISTS scheduler_probe"))
    engine.dispose()


def test_terminated_sessions_never_give_two_active_schedulers(pg_only, config, tmp_path):
    engine = pg_only
    logs = {"a": tmp_path / "a.log", "b": tmp_path / "b.log"}
    started: dict[str, subprocess.Popen] = {}
    try:
        started = {name: _start(config.database_url, log) for name, log in logs.items()}
        with engine.connect() as conn:
            first = _wait_for(lambda: _runs(conn), 30, "the first scheduler's jobs")[0][0]
            # A is the one that leads, B the one standing by.
            if started["a"].pid != first:
                logs = {"a": logs["b"], "b": logs["a"]}
            procs = {"a": next(p for p in started.values() if p.pid == first),
                     "b": next(p for p in started.values() if p.pid != first)}
            _wait_for(lambda: "standing by" in logs["b"].read_text(), 30, "the standby")
            holder = conn.execute(HOLDER, {"k": LOCK_KEY}).scalar()
            assert holder is not None

            # The standby's own session dies (and every other one but the leader's lock session).
            conn.execute(text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                              "WHERE datname = current_database() AND pid <> pg_backend_pid() "
                              "AND pid <> :holder"), {"holder": holder})
            time.sleep(1.5)
            assert procs["b"].poll() is None, logs["b"].read_text()[-3000:]
            assert {pid for pid, *_ in _runs(conn)} == {procs["a"].pid}  # still only A runs jobs

            # Now the leader's lock session dies: B takes over, A stops running jobs.
            conn.execute(text("SELECT pg_terminate_backend(:p)"), {"p": holder})
            _wait_for(lambda: any(pid == procs["b"].pid for pid, *_ in _runs(conn)), 20,
                      "the standby to take over")
            time.sleep(1.5)
            runs = _runs(conn)
            assert procs["a"].poll() is None, logs["a"].read_text()[-3000:]  # A stands by
            assert procs["b"].poll() is None, logs["b"].read_text()[-3000:]
            a_runs = [r for r in runs if r[0] == procs["a"].pid]
            b_runs = [r for r in runs if r[0] == procs["b"].pid]
            assert a_runs and b_runs
            # At no moment did both run a job: every job A finished ended before B's first began,
            # and A ran nothing after B took over.
            assert max(end for _, _, end in a_runs) < min(start for _, start, _ in b_runs)
            assert "leadership lost" in logs["a"].read_text()
    except AssertionError as exc:
        tails = {k: v.read_text()[-4000:] for k, v in logs.items() if v.exists()}
        raise AssertionError(f"{exc}\n{tails}") from None
    finally:
        for proc in started.values():
            stop(proc)
