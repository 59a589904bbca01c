"""Write audit entries. Services call `record(...)` in the same transaction as the change."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import g, has_request_context
from sqlalchemy import select
from sqlalchemy.orm import Session

from ..errors import Forbidden
from ..org.models import Person
from .models import AuditEntry

# Fields never copied into the trail (secrets and personal data at rest).
_REDACT = {"phone_enc", "phone_hash", "password_hash", "session_key_enc", "token_hash",
           "csrf_token"}


def snapshot(obj: Any, fields: list[str] | None = None) -> dict:
    """A JSON-safe dict of an ORM object's columns (or the given fields), secrets removed."""
    names = fields or [c.key for c in obj.__table__.columns]
    out = {}
    for name in names:
        if name in _REDACT:
            continue
        value = getattr(obj, name)
        if hasattr(value, "value"):  # enums
            value = value.value
        elif hasattr(value, "isoformat"):
            value = value.isoformat()
        elif isinstance(value, bytes):
            continue
        out[name] = value
    return out


def record(session: Session, *, actor_id: int | None, action: str, object_type: str,
           object_id: Any = None, before: dict | None = None, after: dict | None = None
           ) -> AuditEntry:
    entry = AuditEntry(
        actor_id=actor_id, action=action, object_type=object_type,
        object_id=None if object_id is None else str(object_id),
        before=before, after=after,
        request_id=g.get("request_id") if has_request_context() else None,
    )
    session.add(entry)
    return entry


def require_city_wide(session: Session, person: Person) -> None:
    """The trail spans every county (people, platforms, accounts): readers need a reach over
    the whole city — administrators and city-level CPPCC staff (403 for county staff)."""
    from ..auth.permissions import reach

    # A city-level path is "/<id>/"; a reach holding one covers every county.
    if not any(p.count("/") == 2 for p in reach(session, person, "audit.view").region_paths):
        raise Forbidden("审计日志只对管理员和市级政协工作人员开放", code="audit_city_only")


def list_entries(session: Session, *, limit: int, before_id: int | None = None,
                 since: datetime | None = None, until: datetime | None = None,
                 **equal: Any) -> list:
    """Newest first, keyset by id: (entry, actor name) rows, one more than `limit` when there
    are more. `equal`: action / object_type / object_id / actor_id filters (None = any)."""
    stmt = (select(AuditEntry, Person.name).outerjoin(Person, Person.id == AuditEntry.actor_id)
            .order_by(AuditEntry.id.desc()).limit(limit + 1))
    for name, value in equal.items():
        if value is not None:
            stmt = stmt.where(getattr(AuditEntry, name) == value)
    if since is not None:
        stmt = stmt.where(AuditEntry.at >= since)
    if until is not None:
        stmt = stmt.where(AuditEntry.at < until)
    if before_id is not None:
        stmt = stmt.where(AuditEntry.id < before_id)
    return session.execute(stmt).all()
