"""Housekeeping of login sessions (run by the scheduler)."""
from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, or_
from sqlalchemy.orm import Session

from ..db import utcnow
from .models import LoginSession

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
