"""Write audit entries. Services call `record(...)` in the same transaction as the change."""
from __future__ import annotations

from typing import Any

from flask import g, has_request_context
from sqlalchemy.orm import Session

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
