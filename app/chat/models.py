"""Chat state of the Official Account (公众号).

- ``chat_accounts``: one row per Official Account openid that ever wrote to us or followed us.
  ``last_inbound_at`` opens WeChat's 48-hour customer-service window (WECHAT.md "Platform rules");
  the OA channel of the outbox reads it. Which *person* an openid belongs to is not stored here:
  that is ``wechat_identities`` (app = oa), the same table the mini-program login uses.
- ``chat_binding_codes``: the one-time code a person sees in the mini-program and sends to the
  Official Account as ``绑定 123456``. One live code per person; only a keyed hash is stored.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from ..db import Base, utcnow


class ChatAccount(Base):
    __tablename__ = "chat_accounts"
    id: Mapped[int] = mapped_column(primary_key=True)
    openid: Mapped[str] = mapped_column(String(64), unique=True)
    followed: Mapped[bool] = mapped_column(Boolean, default=True)
    # The last message or event from this user: customer-service messages may be sent for 48 h.
    last_inbound_at: Mapped[datetime | None] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ChatBindingCode(Base):
    __tablename__ = "chat_binding_codes"
    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"),
                                           unique=True)
    # HMAC of the 6-digit code (app/crypto.py lookup key): unique among live codes.
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    expires_at: Mapped[datetime] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
