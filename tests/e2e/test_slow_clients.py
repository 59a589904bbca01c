"""Slow clients do not take the web service down (issue 10, item 22; docs/deploy.md).

The committed gunicorn.conf.py, started for real on a free loopback port with two workers (fewer
than the three sync workers that fell over, to start fast): six connections trickle their request
headers one byte at a time for several seconds, and meanwhile /healthz keeps answering every
time. gunicorn's control socket
stays off."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import requests

from app.config import ROOT
from bench.harness import free_port, stop

pytestmark = pytest.mark.slow

SLOW_CLIENTS = 6
TRICKLE_SECONDS = 5.0


def _trickle(port: int, stop: threading.Event, opened: list) -> None:
    """Open a connection and send a request's headers one byte every 0.25 s, never finishing."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        opened.append(s)
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
        while not stop.wait(0.25):
            try:
                s.sendall(b"a")
            except OSError:
                return


@pytest.fixture
def gunicorn(tmp_path):
    port = free_port()
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("WECHAT_", "DATABASE_URL", "REDIS_URL", "TEST_",
                                "GUNICORN_", "WEB_CONCURRENCY"))}
    env.update(DATABASE_URL=f"sqlite:///{tmp_path / 'web.db'}", LOG_LEVEL="WARNING",
               WEB_CONCURRENCY="2", HOME=str(tmp_path), XDG_RUNTIME_DIR=str(tmp_path))
    binary = Path(sys.executable).with_name("gunicorn")
    proc = subprocess.Popen([str(binary), "-c", "gunicorn.conf.py", "-b", f"127.0.0.1:{port}",
                             "app.wsgi:app"], cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                            stderr=open(tmp_path / "gunicorn.log", "wb"))
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    try:
        while True:
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail("gunicorn did not come up:\n"
                            + (tmp_path / "gunicorn.log").read_text()[-3000:])
            try:
                if requests.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except requests.RequestException:
                time.sleep(0.2)
        yield port, base, tmp_path
    finally:
        stop(proc)


def test_healthz_keeps_answering_while_clients_trickle_headers(gunicorn):
    port, base, home = gunicorn
    stop, opened = threading.Event(), []
    threads = [threading.Thread(target=_trickle, args=(port, stop, opened), daemon=True)
               for _ in range(SLOW_CLIENTS)]
    for t in threads:
        t.start()
    try:
        time.sleep(1.0)  # every slow connection is open and has started its headers
        assert len(opened) == SLOW_CLIENTS
        answers = []
        end = time.monotonic() + TRICKLE_SECONDS
        while time.monotonic() < end:
            try:
                answers.append(requests.get(f"{base}/healthz", timeout=2).status_code)
            except requests.RequestException as exc:
                answers.append(type(exc).__name__)
            time.sleep(0.25)
    finally:
        stop.set()
        for t in threads:
            t.join(5)
    assert len(answers) >= 10
    assert answers == [200] * len(answers)
    # The control socket is off: gunicorn would create it under $XDG_RUNTIME_DIR or $HOME.
    assert not list(home.rglob("gunicorn.ctl"))
