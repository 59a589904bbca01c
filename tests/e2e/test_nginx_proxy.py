"""The Nginx in front of gunicorn (deploy/nginx.conf, docker-compose.yml; docs/deploy.md):
compose publishes only Nginx, the web service trusts exactly one proxy, the body limit is the
app's, and — run for real when an `nginx` binary is installed — Nginx buffers a request before
the app sees any of it, refuses oversized bodies itself and overwrites X-Forwarded-For."""
from __future__ import annotations

import json
import re
import shutil
import socket
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests
import yaml

from app.config import ROOT
from bench.harness import free_port

CONF = ROOT / "deploy" / "nginx.conf"


def _directive(name: str) -> list[str]:
    return re.findall(r"^\s*" + name + r"\s+([^;{]+);", CONF.read_text(), re.M)


def test_compose_publishes_only_nginx_and_web_trusts_one_proxy():
    services = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]
    published = {name for name, s in services.items() if s.get("ports")}
    assert published == {"nginx"}
    assert "./deploy/nginx.conf:/etc/nginx/nginx.conf:ro" in services["nginx"]["volumes"]
    assert services["web"]["environment"]["TRUSTED_PROXIES"] == "1"
    assert _directive("server") == ["web:5000"]


def test_body_limit_buffering_and_forwarding_match_the_app(app):
    assert _directive("client_max_body_size") == [f"{app.config['MAX_CONTENT_LENGTH'] >> 20}m"]
    assert _directive("proxy_request_buffering") == ["on"]
    assert _directive("proxy_buffering") == ["on"]
    # One trusted proxy: it must overwrite, not append to, the client's X-Forwarded-For.
    assert "X-Forwarded-For $remote_addr" in _directive("proxy_set_header")
    assert _directive("client_header_timeout") and _directive("client_body_timeout")


class _Upstream(BaseHTTPRequestHandler):
    seen: list[dict] = []

    def _answer(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        self.seen.append({"headers": dict(self.headers), "body": len(body)})
        out = json.dumps({"ok": True}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)

    do_GET = do_POST = _answer

    def log_message(self, *args):
        pass


@pytest.fixture
def nginx(tmp_path):
    binary = shutil.which("nginx") or next(
        (p for p in ("/usr/sbin/nginx", "/usr/local/sbin/nginx") if shutil.os.path.exists(p)),
        None)
    if not binary:
        pytest.skip("nginx is not installed")
    _Upstream.seen = []
    upstream = ThreadingHTTPServer(("127.0.0.1", 0), _Upstream)
    threading.Thread(target=upstream.serve_forever, daemon=True).start()
    port = free_port()
    conf = CONF.read_text()
    conf = conf.replace("server web:5000;", f"server 127.0.0.1:{upstream.server_port};")
    conf = conf.replace("listen 80 default_server;", f"listen 127.0.0.1:{port} default_server;")
    conf = conf.replace("pid /tmp/nginx.pid;", f"pid {tmp_path}/nginx.pid;")
    temps = "".join(f"    {name}_temp_path {tmp_path}/{name};\n"
                    for name in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    conf = conf.replace("http {\n", "http {\n" + temps, 1)
    (tmp_path / "nginx.conf").write_text(conf)
    check = subprocess.run([binary, "-t", "-p", str(tmp_path), "-c", str(tmp_path / "nginx.conf"),
                            "-e", "stderr"], capture_output=True, text=True)
    assert check.returncode == 0, check.stderr
    proc = subprocess.Popen([binary, "-p", str(tmp_path), "-c", str(tmp_path / "nginx.conf"),
                             "-e", "stderr", "-g", "daemon off;"], stderr=subprocess.PIPE)
    deadline = time.monotonic() + 10
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            assert time.monotonic() < deadline and proc.poll() is None, proc.stderr.read()
            time.sleep(0.1)
    try:
        yield port
    finally:
        proc.terminate()
        proc.wait(10)
        upstream.shutdown()
        upstream.server_close()


def test_nginx_buffers_limits_and_overwrites_forwarded_for(nginx):
    base = f"http://127.0.0.1:{nginx}"
    r = requests.get(f"{base}/healthz", headers={"X-Forwarded-For": "6.6.6.6"}, timeout=5)
    assert r.status_code == 200
    headers = _Upstream.seen[-1]["headers"]
    assert headers["X-Forwarded-For"] == "127.0.0.1"  # the client's claim is dropped
    assert headers["X-Forwarded-Proto"] == "http"

    # A body over the app's limit is refused by Nginx; the app never sees it.
    before = len(_Upstream.seen)
    r = requests.post(f"{base}/api/uploads", data=b"x" * (11 * 1024 * 1024), timeout=10)
    assert r.status_code == 413 and len(_Upstream.seen) == before

    # A slow request reaches the app only once it is complete.
    with socket.create_connection(("127.0.0.1", nginx), timeout=5) as s:
        s.sendall(b"POST /api/x HTTP/1.1\r\nHost: t\r\nContent-Length: 100\r\n\r\n" + b"a" * 50)
        time.sleep(0.8)
        assert len(_Upstream.seen) == before  # still buffering at Nginx
        s.sendall(b"a" * 50)
        assert s.recv(200).startswith(b"HTTP/1.1 200")
    assert _Upstream.seen[-1]["body"] == 100
