"""Idempotent create requests: a client sends an `Idempotency-Key` header; a retry with the same
key (a phone on a bad network) gets the first answer again instead of creating a second row."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from .db import Base, utcnow


class IdempotencyRecord(Base):
    """The first answer to a create request carrying an `Idempotency-Key`, per person and key."""

    __tablename__ = "idempotency_records"
    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"))
    key: Mapped[str] = mapped_column(String(64))
    endpoint: Mapped[str] = mapped_column(String(128))
    request_hash: Mapped[str] = mapped_column(String(64))
    status_code: Mapped[int] = mapped_column(Integer)
    response_body: Mapped[dict | list | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    __table_args__ = (UniqueConstraint("person_id", "key"),)
