"""Who is calling: a mini-program bearer token or a staff console cookie → a Person.

Tokens are opaque random strings; only their SHA-256 is stored (LoginSession.token_hash).
A cookie-authenticated request that changes state must carry the session's CSRF token in the
`X-CSRF-Token` header; bearer tokens are not ambient credentials and need none.
"""
from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import timedelta

from flask import request
from sqlalchemy import select

from ..db import get_session, utcnow
from ..errors import Forbidden, Unauthorized
from ..org.models import Person
from .models import LoginSession, SessionKind

STAFF_COOKIE = "staff_session"
CSRF_HEADER = "X-CSRF-Token"
_SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def open_session(session, person: Person, kind: SessionKind, ttl: timedelta
                 ) -> tuple[str, LoginSession]:
    """Create a login session; returns the raw token (shown once) and the row."""
    token = secrets.token_urlsafe(32)
    row = LoginSession(
        token_hash=hash_token(token), person_id=person.id, kind=kind,
        csrf_token=secrets.token_urlsafe(24) if kind is SessionKind.staff else None,
        expires_at=utcnow() + ttl,
    )
    session.add(row)
    return token, row


def request_cache() -> dict:
    """A memo for this request only. Kept in the WSGI environ rather than `g`: `g` belongs to
    the app context, which a test (or a CLI command) may keep open across several requests."""
    return request.environ.setdefault("yshsl.auth_cache", {})


def _presented_token() -> tuple[str | None, SessionKind | None]:
    header = request.headers.get("Authorization", "")
    if header[:7].lower() == "bearer ":
        return header[7:].strip() or None, SessionKind.mp
    cookie = request.cookies.get(STAFF_COOKIE)
    if cookie:
        return cookie, SessionKind.staff
    return None, None


def current_login() -> LoginSession | None:
    """The valid login session of this request, or None (cached per request)."""
    cache = request_cache()
    if "login_session" in cache:
        return cache["login_session"]
    token, kind = _presented_token()
    login = None
    if token and len(token) <= 128:
        # The person comes in the same statement (one round trip per authenticated request)
        # and is kept for current_person (the session's identity map holds it only weakly).
        found = get_session().execute(
            select(LoginSession, Person).join(Person, Person.id == LoginSession.person_id)
            .where(LoginSession.token_hash == hash_token(token))
        ).first()
        row = found[0] if found is not None else None
        cache["login_person"] = found[1] if found is not None else None
        if (row is not None and row.kind is kind and row.revoked_at is None
                and row.expires_at > utcnow()):
            login = row
    cache["login_session"] = login
    return login


def current_person() -> Person | None:
    cache = request_cache()
    if "current_person" in cache:
        return cache["current_person"]
    login = current_login()
    person = None
    if login is not None:
        person = cache.get("login_person") or get_session().get(Person, login.person_id)
        if person is not None and not person.is_active:
            person = None
    cache["current_person"] = person
    return person


def require_person() -> Person:
    person = current_person()
    if person is None:
        raise Unauthorized()
    login = current_login()
    if login.kind is SessionKind.staff and request.method not in _SAFE_METHODS:
        # Bytes: compare_digest refuses non-ASCII str (a crafted header would be a 500).
        sent = request.headers.get(CSRF_HEADER, "").encode("utf-8", "surrogateescape")
        if not (login.csrf_token and hmac.compare_digest(sent, login.csrf_token.encode())):
            raise Forbidden("页面已过期，请刷新后重试", code="csrf_failed")
    return person
