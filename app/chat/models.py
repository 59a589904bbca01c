"""Chat state of the Official Account (公众号).

- ``chat_accounts``: one row per Official Account openid that ever wrote to us or followed us.
  ``last_inbound_at`` opens WeChat's 48-hour customer-service window (WECHAT.md "Platform rules");
  the OA channel of the outbox reads it. Which *person* an openid belongs to is not stored here:
  that is ``wechat_identities`` (app = oa), the same table the mini-program login uses.
- ``chat_binding_codes``: one-time codes that attach a WeChat identity to a person. Two kinds,
  one table, one service (app/chat/services.py): the code a person sees in their own
  mini-program and sends to the Official Account as ``绑定 123456`` (``issued_by_id`` NULL), and
  the link code CPPCC staff (or a convenor, for the people invited to their meeting) issue for a
  named person who cannot bind by phone or has no mini-program (``issued_by_id`` = the issuer;
  the CLI leaves it NULL but marks ``staff_link``). One live code per person; only a keyed hash
  is stored; a used code keeps its row (``used_at``) until it is purged a while after expiry,
  so it answers "already used" rather than "wrong".
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, String, false
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
    # A link code issued for the person by someone else (staff, convenor, the operator CLI).
    staff_link: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    issued_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("people.id", ondelete="SET NULL"))
    used_at: Mapped[datetime | None] = mapped_column()
