"""Sandbox sign-in (sandbox mode only, issue 10 item 18): act as a demo person — by the key
`make run` prints (app/org/demo_people.py) or by person id — with the same kind of session a
real login gives. The routes are app/auth/sandbox_routes.py; they answer 404 outside sandbox
mode. Never commits."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.orm import Session

from ..audit.services import record
from ..errors import Forbidden, NotFound
from ..org.demo_people import find_demo_person
from ..org.models import Person
from .current import open_session
from .models import LoginSession, SessionKind
from .services import DISABLED_MESSAGE


@dataclass
class SandboxLogin:
    token: str
    login: LoginSession
    person: Person


def sandbox_person(session: Session, *, key: str | None = None,
                   person_id: int | None = None) -> Person:
    """The demo person named by `key` (banner) or the person with `person_id`."""
    person = None
    if key is not None:
        found = find_demo_person(session, key)
        if found is None:
            raise NotFound("没有这个演示人员，请看 make run 启动时列出的 key",
                           code="demo_person_not_found")
        person = session.get(Person, found.person_id)
    elif person_id is not None:
        person = session.get(Person, person_id)
    if person is None:
        raise NotFound("找不到这位人员", code="person_not_found")
    if not person.is_active:
        raise Forbidden(DISABLED_MESSAGE, code="account_disabled")
    return person


def sandbox_login(session: Session, person: Person, *, console: bool,
                  ttl: timedelta) -> SandboxLogin:
    """A mini-program session (bearer token) or, with `console`, a console session (cookie +
    CSRF token) for `person`; audited like a real login, marked as a sandbox one."""
    kind = SessionKind.staff if console else SessionKind.mp
    token, login = open_session(session, person, kind, ttl)
    session.flush()
    record(session, actor_id=person.id, action="auth.login", object_type="login_session",
           object_id=login.id, after={"kind": kind.value, "sandbox": True})
    return SandboxLogin(token, login, person)
