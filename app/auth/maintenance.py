"""Housekeeping of login sessions (run by the scheduler)."""
from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, or_
from sqlalchemy.orm import Session

from ..db import utcnow
from .models import LoginSession, StaffLoginShadow

# Expired or revoked sessions are kept a while for investigations, then removed.
KEEP_FOR = timedelta(days=30)


def purge_expired_sessions(session: Session, now: datetime | None = None) -> int:
    cutoff = (now or utcnow()) - KEEP_FOR
    result = session.execute(
        delete(LoginSession).where(
            or_(LoginSession.expires_at < cutoff, LoginSession.revoked_at < cutoff)
        )
    )
    return result.rowcount or 0


def purge_stale_login_shadows(session: Session, now: datetime | None = None) -> int:
    """Forget unknown console usernames not tried for KEEP_FOR and not locked (docs/auth.md)."""
    now = now or utcnow()
    result = session.execute(
        delete(StaffLoginShadow).where(
            StaffLoginShadow.updated_at < now - KEEP_FOR,
            or_(StaffLoginShadow.locked_until.is_(None), StaffLoginShadow.locked_until < now),
        )
    )
    return result.rowcount or 0
