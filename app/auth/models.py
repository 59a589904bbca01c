"""Login sessions and staff accounts."""
from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from ..db import Base, TimestampMixin, utcnow
from ..org.models import enum_column


class SessionKind(str, enum.Enum):
    mp = "mp"        # mini-program bearer token
    staff = "staff"  # console cookie


class LoginSession(Base):
    """Our own opaque session token. Only its SHA-256 is stored; the token is shown once."""

    __tablename__ = "login_sessions"
    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"), index=True)
    kind: Mapped[SessionKind] = mapped_column(enum_column(SessionKind))
    csrf_token: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column()
    revoked_at: Mapped[datetime | None] = mapped_column()


class StaffAccount(TimestampMixin, Base):
    """Console login for CPPCC staff and administrators; locked after repeated failures."""

    __tablename__ = "staff_accounts"
    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"), unique=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    failed_attempts: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column()
    last_login_at: Mapped[datetime | None] = mapped_column()


class StaffLoginShadow(Base):
    """The failure counter and lock of a console username that has no account, kept in the
    database like an account's own, so the lock never tells which usernames exist, whatever
    Redis does (docs/auth.md). Keyed by an HMAC of the name (the lookup key), never the name."""

    __tablename__ = "staff_login_shadows"
    name_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    failed_attempts: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column()
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
