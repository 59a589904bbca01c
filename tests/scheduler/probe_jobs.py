"""A job list for the leadership tests' real scheduler processes: one job, every 0.3 s, that
records in the `scheduler_probe` table which process ran it and when (database clock)."""
from __future__ import annotations

import os
import time

from sqlalchemy import text

from scheduler.jobs import JobSpec


def probe(session) -> None:
    started = session.scalar(text("SELECT clock_timestamp()"))
    time.sleep(0.2)  # a job takes time: a second scheduler must not run meanwhile
    session.execute(text("INSERT INTO scheduler_probe (pid, started, ended) "
                         "VALUES (:pid, :started, clock_timestamp())"),
                    {"pid": os.getpid(), "started": started})


JOBS = [JobSpec(id="probe", func=probe, trigger="interval", trigger_args={"seconds": 0.3},
                misfire_grace_minutes=1)]
