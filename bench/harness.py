"""Pieces every benchmark here uses: a scratch PostgreSQL database, free ports, gunicorn and wrk
on 127.0.0.1, the machine's description for the report."""
from __future__ import annotations

import contextlib
import os
import platform
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Iterator

import requests
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"


def log(msg: str) -> None:
    print(f"[bench] {msg}", flush=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def ensure_wrk() -> str:
    path = shutil.which("wrk")
    if path:
        return path
    log("installing wrk")
    subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], check=False,
                   stdout=subprocess.DEVNULL)
    if not shutil.which("wrk"):
        subprocess.run(["apt-get", "update", "-qq"], check=True, stdout=subprocess.DEVNULL)
        subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], check=True,
                       stdout=subprocess.DEVNULL)
    return shutil.which("wrk")


def machine(**extra) -> dict:
    cpu = "unknown"
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    pg = subprocess.run(["psql", "--version"], capture_output=True, text=True).stdout.strip()
    return {"cores": os.cpu_count(), "cpu": cpu, "memory_gib": round(mem, 1),
            "python": platform.python_version(), "os": platform.platform(), "postgresql": pg,
            **extra}


@contextlib.contextmanager
def scratch_database(prefix: str) -> Iterator[str]:
    """A new PostgreSQL database on BENCH_DATABASE_URL's server (a user allowed to create
    databases), dropped afterwards; yields its URL."""
    admin_url = os.environ.get("BENCH_DATABASE_URL",
                               "postgresql://postgres@127.0.0.1:5432/postgres")
    admin_url = make_url(admin_url.replace("postgresql://", "postgresql+psycopg://", 1))
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield admin_url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def migrate(database_url: str) -> None:
    env = {**os.environ, "DATABASE_URL": database_url}
    subprocess.run([sys.executable, "-m", "alembic", "upgrade", "head"], cwd=ROOT, env=env,
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def start_gunicorn(target: str, env: dict, port: int, workers: int,
                   worker_class: str = "sync", threads: int = 1) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "gunicorn", target, "-w", str(workers), "-b",
           f"127.0.0.1:{port}", "--worker-class", worker_class, "--threads", str(threads),
           "--timeout", "60", "--log-level", "warning", "--keep-alive", "5"]
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"gunicorn {target} exited: {proc.stderr.read()}")
        try:
            requests.get(f"http://127.0.0.1:{port}/healthz", timeout=1)
            return proc
        except requests.RequestException:
            time.sleep(0.3)
    proc.kill()
    raise RuntimeError(f"gunicorn {target} did not start")


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)


def percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


def invite_to_demo_meeting(count: int, wechat_app: str, openid_prefix: str) -> dict:
    """The demo city (app/org/demo.py), then ``count`` residents with a ``wechat_app`` ("mp" or
    "oa") openid ``<openid_prefix><person id>``, invited to the demo meeting. Uses the app's
    settings from the environment (DATABASE_URL…). Returns the meeting, its convenor, the new
    people's ids and how many demo invitees the meeting already had."""
    from sqlalchemy import func, insert, select

    from app import create_app
    from app.consultations.models import Consultation, Invitation
    from app.db import utcnow
    from app.org.demo import seed_demo
    from app.org.models import Person, Role, RoleAssignment, WechatApp, WechatIdentity

    app = create_app()
    with app.app_context(), app.extensions["db"].session_scope() as s:
        seed_demo(s)
        c = s.scalars(select(Consultation).order_by(Consultation.id)).first()
        convenor = s.scalar(select(RoleAssignment.person_id).where(
            RoleAssignment.role == Role.convenor, RoleAssignment.platform_id == c.platform_id))
        others = s.scalar(select(func.count()).select_from(Invitation).where(
            Invitation.consultation_id == c.id))
        first = s.scalar(select(func.coalesce(func.max(Person.id), 0))) + 1
        ids = list(range(first, first + count))
        now = utcnow()
        s.execute(insert(Person), [{"id": i, "name": f"居民{i}", "is_active": True,
                                    "created_at": now, "updated_at": now} for i in ids])
        s.execute(insert(WechatIdentity), [
            {"person_id": i, "app": WechatApp(wechat_app), "openid": f"{openid_prefix}{i}",
             "created_at": now, "updated_at": now} for i in ids])
        s.execute(insert(Invitation), [
            {"consultation_id": c.id, "person_id": i, "group": "resident",
             "invited_at": now, "invited_by_id": convenor} for i in ids])
        # Ids were given explicitly: move the sequence past them.
        s.execute(text("SELECT setval(pg_get_serial_sequence('people', 'id'), "
                       "(SELECT max(id) FROM people))"))
    app.extensions["db"].engine.dispose()
    return {"consultation_id": c.id, "convenor_id": convenor, "people": ids,
            "other_invitees": others}
