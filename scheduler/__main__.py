"""`python -m scheduler`: the scheduler process (one active; others stand by).

Leadership is a session-level PostgreSQL advisory lock held by one dedicated connection. A
database restart (or pg_terminate_backend) ends that session and silently releases the lock, so
the active scheduler checks that its session still holds the lock before every job — inside the
very transaction the job then runs in, on that same connection, so a job's work commits only
while the lock is held — and every `check_seconds` while idle. When it no longer leads it stops
its jobs and goes back to standing by. A standby survives database errors (a restart, a
terminated session) and keeps waiting. On the embedded SQLite default a file lock plays the part.
"""
from __future__ import annotations

import contextlib
import fcntl
import logging
import signal
import sys
import threading
import time
from typing import Iterator

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from app import create_app
from app.config import INSTANCE_DIR

from .jobs import JobSpec, LeadershipLost, add_jobs

log = logging.getLogger("scheduler")
LOCK_KEY = 0x5953484C  # "YSHL": the advisory-lock id of the active scheduler
# Does this very session still hold the lock? (A one-bigint advisory lock shows in pg_locks as
# classid = high 32 bits, objid = low 32 bits, objsubid = 1.)
_HELD = text("SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND granted "
             "AND pid = pg_backend_pid() AND classid = 0 AND objid::bigint = :k "
             "AND objsubid = 1)")


class Leadership:
    """Held leadership. `conn` is the detached connection whose session holds the advisory lock
    (None under the file lock, which cannot be lost while the process lives)."""

    def __init__(self, db, conn=None) -> None:
        self.db = db
        self.conn = conn
        self.lost = threading.Event()
        self._use = threading.Lock()  # one user of the lock connection at a time

    def _held(self, conn) -> bool:
        try:
            held = bool(conn.execute(_HELD, {"k": LOCK_KEY}).scalar())
        except SQLAlchemyError:
            # The session is gone (a reconnect would be a new session without the lock).
            log.warning("leadership check failed: the lock session is gone", exc_info=True)
            held = False
        if not held:
            self.lost.set()
        return held

    def still_leading(self) -> bool:
        """Idle check. If a job is using the connection, that job checks for itself."""
        if self.conn is None or self.lost.is_set():
            return not self.lost.is_set()
        if not self._use.acquire(blocking=False):
            return True
        try:
            held = self._held(self.conn)
            with contextlib.suppress(SQLAlchemyError):
                self.conn.rollback()
            return held
        finally:
            self._use.release()

    @contextlib.contextmanager
    def job_session(self) -> Iterator[Session]:
        """A job's transaction, committed on success. On PostgreSQL it runs on the lock
        connection after checking the lock in the same transaction: the job's work cannot commit
        once the session holding the lock has ended. Raises LeadershipLost if it has."""
        if self.conn is None:
            with self.db.session_scope() as session:
                yield session
            return
        with self._use:
            if self.lost.is_set():
                raise LeadershipLost()
            session = Session(bind=self.conn, expire_on_commit=False)
            try:
                if not self._held(session.connection()):
                    raise LeadershipLost()
                yield session
                session.commit()
            except BaseException:
                with contextlib.suppress(SQLAlchemyError):
                    session.rollback()
                raise
            finally:
                with contextlib.suppress(SQLAlchemyError):
                    session.close()


def _close_quietly(conn) -> None:
    if conn is not None:
        with contextlib.suppress(Exception):
            conn.close()


def _acquire_advisory_lock(engine, poll_seconds: float):
    """Block until a new session holds the advisory lock; return its detached connection.
    Database errors (a restart, a terminated session) are logged and the wait goes on."""
    while True:
        conn = None
        try:
            conn = engine.connect()
            # Detached: closing it ends the database session, which releases the advisory lock
            # (a pooled connection would keep the lock after close).
            conn.detach()
            while True:
                got = conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": LOCK_KEY}).scalar()
                conn.commit()
                if got:
                    return conn
                log.info("standing by: another scheduler is active")
                time.sleep(poll_seconds)
        except SQLAlchemyError as exc:
            log.warning("standing by: database unavailable (%s); retrying in %.0f s",
                        type(exc).__name__, poll_seconds)
            _close_quietly(conn)
            time.sleep(poll_seconds)


@contextlib.contextmanager
def leadership(app, poll_seconds: float = 15.0) -> Iterator[Leadership]:
    """Block until this process is the active scheduler; hold the lock while inside."""
    db = app.extensions["db"]
    if db.engine.dialect.name == "postgresql":
        conn = _acquire_advisory_lock(db.engine, poll_seconds)
        try:
            yield Leadership(db, conn)
        finally:
            _close_quietly(conn)
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
            yield Leadership(db)


def lead(app, lead_: Leadership, jobs: list[JobSpec] | None, check_seconds: float) -> None:
    """Run the jobs while this process leads; return once it no longer does."""
    # One job at a time: they share the lock connection.
    scheduler = BackgroundScheduler(timezone="Asia/Shanghai",
                                    executors={"default": ThreadPoolExecutor(1)})
    add_jobs(scheduler, app, jobs, leadership=lead_)
    scheduler.start()
    log.info("scheduler active", extra={"fields": {"jobs": [j.id for j in scheduler.get_jobs()]}})
    try:
        while not lead_.lost.wait(check_seconds):
            lead_.still_leading()
        log.error("leadership lost (the database session holding the lock ended): "
                  "jobs stopped, standing by again")
    finally:
        scheduler.shutdown(wait=False)


def main(jobs: list[JobSpec] | None = None, poll_seconds: float = 15.0,
         check_seconds: float = 5.0) -> None:
    app = create_app()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    while True:
        with leadership(app, poll_seconds) as lead_:
            lead(app, lead_, jobs, check_seconds)
        # A standby that kept polling takes over first; this one stands by behind it.
        time.sleep(2 * poll_seconds)


if __name__ == "__main__":
    main()
