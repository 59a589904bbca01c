"""`python -m scheduler`: the scheduler process (one active; others stand by)."""
from __future__ import annotations

import contextlib
import fcntl
import logging
import time

from apscheduler.schedulers.blocking import BlockingScheduler
from sqlalchemy import text

from app import create_app
from app.config import INSTANCE_DIR

from .jobs import add_jobs

log = logging.getLogger("scheduler")
LOCK_KEY = 0x5953484C  # "YSHL": the advisory-lock id of the active scheduler


@contextlib.contextmanager
def leadership(app, poll_seconds: float = 15.0):
    """Block until this process is the active scheduler; hold the lock while inside."""
    engine = app.extensions["db"].engine
    if engine.dialect.name == "postgresql":
        conn = engine.connect()
        # Detached: closing it ends the database session, which releases the advisory lock
        # (a pooled connection would keep the lock after close).
        conn.detach()
        try:
            while not conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": LOCK_KEY}).scalar():
                log.info("standing by: another scheduler is active")
                conn.commit()
                time.sleep(poll_seconds)
            conn.commit()
            yield
        finally:
            conn.close()
    else:
        INSTANCE_DIR.mkdir(exist_ok=True)
        with open(INSTANCE_DIR / "scheduler.lock", "w") as fh:
            while True:
                try:
                    fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    log.info("standing by: another scheduler is active")
                    time.sleep(poll_seconds)
            yield


def main() -> None:
    app = create_app()
    with leadership(app):
        scheduler = BlockingScheduler(timezone="Asia/Shanghai")
        add_jobs(scheduler, app)
        log.info("scheduler active", extra={"fields": {"jobs": [j.id for j in scheduler.get_jobs()]}})
        scheduler.start()


if __name__ == "__main__":
    main()
