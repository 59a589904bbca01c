"""Security headers on every response (issue 10, item 27; docs/deploy.md): nosniff, DENY framing,
a Content-Security-Policy with frame-ancestors 'none' (default-src 'none' for everything but the
two HTML pages, whose inline script and style carry the per-response nonce), a Referrer-Policy,
HSTS only over HTTPS (behind trusted proxies too), and no-store on answers carrying a token."""
from __future__ import annotations

import re

import pytest

from app import create_app
from app.auth.staff import create_staff_account
from app.org import factories as f
from app.org.models import Role

from ..helpers import committed_session as db

HTML_PAGES = {"/api/docs", "/sandbox/chat"}


def _sample_path(rule) -> str:
    values = {arg: (1 if type(conv).__name__ in ("BoundedIntConverter", "IntegerConverter")
                    else "x") for arg, conv in rule._converters.items()}
    return rule.build(values, append_unknown=False)[1]


def _every_route(app):
    for rule in app.url_map.iter_rules():
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            yield method, _sample_path(rule)


def _check_common(r, where: str) -> str:
    assert r.headers.get("X-Content-Type-Options") == "nosniff", where
    assert r.headers.get("X-Frame-Options") == "DENY", where
    assert r.headers.get("Referrer-Policy") == "no-referrer", where
    csp = r.headers.get("Content-Security-Policy", "")
    assert "frame-ancestors 'none'" in csp, (where, csp)
    assert "Strict-Transport-Security" not in r.headers, where  # plain HTTP
    return csp


def test_every_route_carries_the_security_headers(app, client):
    seen = 0
    for method, path in _every_route(app):
        r = client.open(path, method=method, json={} if method != "GET" else None)
        where = f"{method} {path} → {r.status_code}"
        csp = _check_common(r, where)
        if r.mimetype == "text/html":
            assert path in HTML_PAGES, where
        else:
            assert re.match(r"default-src 'none'(;|$)", csp), (where, csp)
        seen += 1
    assert seen > 50  # the walk really covered the API
    # Not-found and method-not-allowed answers too.
    _check_common(client.get("/no/such/page"), "404")
    _check_common(client.delete("/healthz"), "405")


@pytest.mark.parametrize("path", sorted(HTML_PAGES))
def test_html_pages_run_under_their_policy(client, path):
    r = client.get(path)
    assert r.status_code == 200 and r.mimetype == "text/html"
    csp = _check_common(r, path)
    directives = dict(d.strip().split(" ", 1) for d in csp.split(";") if d.strip())
    assert directives["default-src"] == "'none'"
    nonce = re.search(r"'nonce-([A-Za-z0-9+/=_-]{16,})'", directives.get("style-src", ""))
    assert nonce, csp
    html = r.get_data(as_text=True)
    # Every inline script and style block carries this response's nonce (or the browser
    # would refuse it); no inline style= or on…= attributes, which no nonce can allow.
    for tag in re.findall(r"<(?:script|style)\b[^>]*>", html):
        assert f'nonce="{nonce.group(1)}"' in tag, tag
    if "<script" in html:
        assert f"'nonce-{nonce.group(1)}'" in directives["script-src"]
        assert directives.get("connect-src") == "'self'"  # the page fetches its own API
    assert not re.search(r"<[^>]+\s(style|on[a-z]+)\s*=", html)
    assert "<link" not in html and "src=" not in html  # nothing loaded from elsewhere
    assert client.get(path).headers["Content-Security-Policy"] != csp  # a fresh nonce each time


def test_hsts_only_over_https_including_behind_a_trusted_proxy(app, config, client):
    r = client.get("/healthz", base_url="https://localhost")
    assert r.headers["Strict-Transport-Security"].startswith("max-age=")
    assert "Strict-Transport-Security" not in client.get("/healthz").headers
    # Without trusted proxies a client cannot claim HTTPS; behind one, the proxy can.
    spoofed = client.get("/healthz", headers={"X-Forwarded-Proto": "https"})
    assert "Strict-Transport-Security" not in spoofed.headers
    proxied = create_app(config.with_(trusted_proxies=1)).test_client()
    r = proxied.get("/healthz", headers={"X-Forwarded-Proto": "https",
                                         "X-Forwarded-For": "203.0.113.9"})
    assert r.headers["Strict-Transport-Security"].startswith("max-age=")


def test_answers_carrying_a_token_are_not_stored(app, client, fake_wechat):
    r = client.post("/api/auth/wx-login", json={"code": "user-alice"})
    assert r.status_code == 200 and r.json["token"]
    assert r.headers["Cache-Control"] == "no-store"
    with db(app) as s:
        region = f.create_region(s, code="C", name="连云港市", kind="city")
        person = f.create_person(s, name="周工作", home_region=region)
        f.assign_role(s, person, Role.staff, region=region)
        create_staff_account(s, person=person, username="zhou", password="Correct-horse-42")
    r = client.post("/api/auth/staff/login",
                    json={"username": "zhou", "password": "Correct-horse-42"})
    assert r.status_code == 200 and r.json["csrf_token"]
    assert r.headers["Cache-Control"] == "no-store"
    # An ordinary public answer is left to its own caching rules.
    assert "no-store" not in client.get("/healthz").headers.get("Cache-Control", "")
