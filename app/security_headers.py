"""Security headers on every response (docs/deploy.md, 安全响应头).

- `X-Content-Type-Options: nosniff`, `X-Frame-Options: DENY`, `Referrer-Policy: no-referrer`.
- `Content-Security-Policy`: `default-src 'none'; frame-ancestors 'none'` for everything that is
  not HTML (JSON, files). The two HTML pages (/api/docs, /sandbox/chat) get a policy that allows
  only their own inline `<script>` / `<style>` blocks, by a fresh per-response nonce
  (`csp_nonce()` in templates), and fetches to this origin. A view's own policy (uploaded files)
  is kept, with `frame-ancestors 'none'` added.
- `Strict-Transport-Security` only when the request came over HTTPS (`request.is_secure`, which
  honours `X-Forwarded-Proto` only behind `TRUSTED_PROXIES`).
- `Cache-Control: no-store` on answers that carry a session token or CSRF token, a one-time
  code (link code, chat binding code, check-in code: `"code"`), or set a cookie.
"""
from __future__ import annotations

import re
import secrets

from flask import Flask, g, request

HSTS = "max-age=31536000"
JSON_POLICY = "default-src 'none'; frame-ancestors 'none'"
_TOKEN_KEY = re.compile(rb'"(?:token|csrf_token|code)"\s*:')


def csp_nonce() -> str:
    """This response's nonce for inline <script> and <style> blocks."""
    nonce = g.get("csp_nonce")
    if nonce is None:
        nonce = g.csp_nonce = secrets.token_urlsafe(18)
    return nonce


def _html_policy(nonce: str) -> str:
    return (f"default-src 'none'; script-src 'nonce-{nonce}'; style-src 'nonce-{nonce}'; "
            "connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'self'; "
            "frame-ancestors 'none'")


def _carries_token(response) -> bool:
    if "Set-Cookie" in response.headers:
        return True
    if not response.is_json or response.direct_passthrough or response.is_streamed:
        return False
    return bool(_TOKEN_KEY.search(response.get_data()))


def install_security_headers(app: Flask) -> None:
    app.jinja_env.globals["csp_nonce"] = csp_nonce

    @app.after_request
    def _security_headers(response):
        headers = response.headers
        headers["X-Content-Type-Options"] = "nosniff"
        headers["X-Frame-Options"] = "DENY"
        headers["Referrer-Policy"] = "no-referrer"
        own = headers.get("Content-Security-Policy")
        if own:
            if "frame-ancestors" not in own:
                headers["Content-Security-Policy"] = f"{own}; frame-ancestors 'none'"
        elif response.mimetype == "text/html":
            headers["Content-Security-Policy"] = _html_policy(csp_nonce())
        else:
            headers["Content-Security-Policy"] = JSON_POLICY
        if request.is_secure:
            headers["Strict-Transport-Security"] = HSTS
        if _carries_token(response):
            headers["Cache-Control"] = "no-store"
        return response
