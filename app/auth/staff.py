"""The staff console: password login with lockout, staff accounts (docs/auth.md).

A failed login changes state too (the failure counter, the lock, the audit entry): the route
commits before it answers with the error. Services never commit."""
from __future__ import annotations

import math
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from ..audit.services import record
from ..crypto import get_cipher
from ..db import insert_ignoring_duplicate, utcnow
from ..errors import AppError, Conflict, Forbidden, Unauthorized, ValidationFailed
from ..org.models import (
    Person,
)
from .current import open_session
from .models import LoginSession, SessionKind, StaffAccount, StaffLoginShadow
from .services import DISABLED_MESSAGE

# --- the staff console -------------------------------------------------------------------------

USERNAME_RE = re.compile(r"^[a-z0-9][a-z0-9_.@-]{2,63}$")
_dummy_hash: str | None = None


class InvalidCredentials(Unauthorized):
    code = "invalid_credentials"
    message = "用户名或密码错误"


class AccountLocked(AppError):
    status = 423
    code = "account_locked"
    message = "账号已临时锁定，请稍后再试"

    def __init__(self, minutes: int) -> None:
        super().__init__(f"账号已临时锁定，请 {minutes} 分钟后再试")
        self.minutes = minutes


def normalise_username(username: str) -> str:
    return (username or "").strip().lower()


def minutes_left(locked_until: datetime, now: datetime) -> int:
    """Whole minutes (rounded up, at least 1) until the lock ends."""
    return max(1, math.ceil((locked_until - now).total_seconds() / 60))


def is_locked(account: StaffAccount, now: datetime) -> bool:
    return account.locked_until is not None and account.locked_until > now


def check_password_policy(password: str, username: str = "") -> None:
    """Console passwords: at least 10 characters, letters and digits, not the username."""
    if len(password) < 10:
        raise ValidationFailed("密码至少 10 位", code="weak_password")
    if not re.search(r"[A-Za-z]", password) or not re.search(r"\d", password):
        raise ValidationFailed("密码需同时包含字母和数字", code="weak_password")
    if username and normalise_username(username) in password.lower():
        raise ValidationFailed("密码不能包含用户名", code="weak_password")


def _burn_password_check(password: str) -> None:
    """Same work as a real check, so an unknown username is not answered faster."""
    global _dummy_hash
    if _dummy_hash is None:
        _dummy_hash = generate_password_hash(secrets.token_urlsafe(16))
    check_password_hash(_dummy_hash, password)


@dataclass
class StaffLoginResult:
    token: str
    login: LoginSession
    person: Person
    account: StaffAccount


def _shadow_failure(session: Session, name: str, password: str, max_attempts: int,
                    lock_minutes: int, now: datetime) -> None:
    """An unknown username behaves like an account: after `max_attempts` failures it answers
    423 "locked" for `lock_minutes` too, so the lock message does not tell which usernames
    exist (docs/auth.md). Counted in the database like an account's own failures — never in
    Redis, whose outage would make the two answers differ. The same work too: a password check
    while an account would check one, none while it would answer "locked" at once (timing)."""
    key = get_cipher().lookup_hash(f"staff-username:{name}")
    insert_ignoring_duplicate(session, StaffLoginShadow.__table__,
                              {"name_hash": key, "failed_attempts": 0, "updated_at": now},
                              ["name_hash"])
    shadow = session.scalar(select(StaffLoginShadow).where(StaffLoginShadow.name_hash == key)
                            .with_for_update())
    if is_locked(shadow, now):
        raise AccountLocked(minutes_left(shadow.locked_until, now))
    _burn_password_check(password)
    shadow.failed_attempts = (shadow.failed_attempts or 0) + 1
    shadow.updated_at = now
    if shadow.failed_attempts >= max_attempts:
        shadow.locked_until = now + timedelta(minutes=lock_minutes)
        shadow.failed_attempts = 0
        raise AccountLocked(lock_minutes)


def staff_login(session: Session, *, username: str, password: str, ttl: timedelta,
                max_attempts: int, lock_minutes: int, ip: str | None = None,
                now: datetime | None = None, refused_password: str | None = None
                ) -> StaffLoginResult:
    """POST /api/auth/staff/login. Same answer for an unknown user and a wrong password — and,
    after `max_attempts` failures in a row, the same 423 lock for `lock_minutes` (a real lock
    on the account; a shadow one in the database for an unknown name). Raises after changing state —
    the caller commits in both cases. Passwords never reach audit or logs. `refused_password`
    (outside sandbox: the demo city's public password) is right but still opens nothing."""
    now = now or utcnow()
    name = normalise_username(username)
    where = {"ip": ip} if ip else {}
    account = session.scalar(select(StaffAccount).where(StaffAccount.username == name)
                             .with_for_update())
    if account is None:
        record(session, actor_id=None, action="auth.staff_login_failed",
               object_type="staff_account", object_id=None,
               after={"reason": "unknown_user", **where})
        _shadow_failure(session, name, password, max_attempts, lock_minutes, now)
        raise InvalidCredentials()
    if is_locked(account, now):
        record(session, actor_id=None, action="auth.staff_login_refused",
               object_type="staff_account", object_id=account.id,
               after={"reason": "locked", **where})
        raise AccountLocked(minutes_left(account.locked_until, now))
    if not check_password_hash(account.password_hash, password):
        account.failed_attempts = (account.failed_attempts or 0) + 1
        record(session, actor_id=None, action="auth.staff_login_failed",
               object_type="staff_account", object_id=account.id,
               after={"reason": "wrong_password", "failed_attempts": account.failed_attempts,
                      **where})
        if account.failed_attempts >= max_attempts:
            account.locked_until = now + timedelta(minutes=lock_minutes)
            account.failed_attempts = 0
            record(session, actor_id=None, action="auth.staff_locked",
                   object_type="staff_account", object_id=account.id,
                   after={"locked_until": account.locked_until.isoformat(), **where})
            raise AccountLocked(lock_minutes)
        raise InvalidCredentials()
    person = session.get(Person, account.person_id)
    if person is None or not person.is_active:
        record(session, actor_id=None, action="auth.staff_login_refused",
               object_type="staff_account", object_id=account.id,
               after={"reason": "person_inactive", **where})
        raise Forbidden(DISABLED_MESSAGE, code="account_disabled")
    if refused_password is not None and secrets.compare_digest(password.encode(),
                                                               refused_password.encode()):
        record(session, actor_id=None, action="auth.staff_login_refused",
               object_type="staff_account", object_id=account.id,
               after={"reason": "demo_password", **where})
        raise Forbidden("该账号仍在使用公开的演示密码，正式环境中不能登录；请管理员用 "
                        "flask set-staff-password 重设密码", code="demo_password")
    account.failed_attempts = 0
    account.locked_until = None
    account.last_login_at = now
    token, login = open_session(session, person, SessionKind.staff, ttl)
    session.flush()
    record(session, actor_id=person.id, action="auth.staff_login", object_type="staff_account",
           object_id=account.id, after={"session_id": login.id, **where})
    return StaffLoginResult(token, login, person, account)


def create_staff_account(session: Session, *, person: Person, username: str, password: str,
                         actor_id: int | None = None) -> StaffAccount:
    """A console login for `person` (one per person)."""
    name = normalise_username(username)
    if not USERNAME_RE.match(name):
        raise ValidationFailed("用户名应为 3–64 位小写字母、数字或 _ . @ -",
                               code="invalid_username")
    check_password_policy(password, name)
    if session.scalar(select(StaffAccount.id).where(StaffAccount.username == name)):
        raise Conflict("该用户名已被使用", code="username_taken")
    if session.scalar(select(StaffAccount.id).where(StaffAccount.person_id == person.id)):
        raise Conflict("该人员已有控制台账号", code="staff_account_exists")
    account = StaffAccount(person_id=person.id, username=name,
                           password_hash=generate_password_hash(password), failed_attempts=0)
    session.add(account)
    session.flush()
    record(session, actor_id=actor_id, action="staff_account.created",
           object_type="staff_account", object_id=account.id,
           after={"username": name, "person_id": person.id})
    return account


def set_staff_password(session: Session, account: StaffAccount, password: str, *,
                       actor_id: int | None = None) -> None:
    """New password; clears the lock and revokes the account's open console sessions."""
    check_password_policy(password, account.username)
    account.password_hash = generate_password_hash(password)
    account.failed_attempts = 0
    account.locked_until = None
    now = utcnow()
    session.execute(update(LoginSession).where(
        LoginSession.person_id == account.person_id, LoginSession.kind == SessionKind.staff,
        LoginSession.revoked_at.is_(None)).values(revoked_at=now))
    record(session, actor_id=actor_id, action="staff_account.password_set",
           object_type="staff_account", object_id=account.id)


def unlock_staff_account(session: Session, account: StaffAccount, *,
                         actor_id: int | None = None) -> None:
    account.failed_attempts = 0
    account.locked_until = None
    record(session, actor_id=actor_id, action="staff_account.unlocked",
           object_type="staff_account", object_id=account.id)
