"""Binding the Official Account to my account, from the mini-program (thin: app/chat/services.py).

- `POST /api/me/chat-binding-code`: a new one-time code (replaces the earlier one);
- `GET /api/me/chat-binding`: bound or not;
- `DELETE /api/me/chat-binding`: unbind (the chat then asks to bind again)."""
from __future__ import annotations

from flask import Blueprint

from ..api import endpoint
from ..auth import ratelimit
from ..auth.current import require_person
from ..db import get_session
from ..redis_client import get_redis
from . import services
from .schemas import BindingCodeOut, BindingOut

bp = Blueprint("chat", __name__, url_prefix="/api")
TAG = "公众号"
CODE_LIMIT = ratelimit.Limit("chat-binding-code", 10, 600)


def _binding(session, person) -> BindingOut:
    identity = services.binding_of(session, person)
    return BindingOut(bound=identity is not None,
                      bound_at=identity.created_at if identity is not None else None)


@endpoint(bp, "/me/chat-binding-code", methods=("POST",), summary="获取公众号绑定码",
          tags=[TAG], response=BindingCodeOut, status=201, auth="login")
def binding_code():
    """6 位数字，10 分钟内有效，只能用一次；再次获取时原来的绑定码作废。在“有事好商量”公众号里
    发送“绑定 123456”即可把公众号和本账号绑定，会议通知和办理结果会发到公众号。"""
    session = get_session()
    person = require_person()
    ratelimit.check(get_redis(), CODE_LIMIT, f"p{person.id}")
    code, expires_at = services.issue_code(session, person)
    session.commit()
    minutes = int(services.CODE_TTL.total_seconds() // 60)
    return BindingCodeOut(code=code, expires_at=expires_at,
                          instruction=f"在公众号里发送：绑定 {code}（{minutes}分钟内有效）"), 201


@endpoint(bp, "/me/chat-binding", summary="公众号绑定状态", tags=[TAG], response=BindingOut,
          auth="login")
def binding():
    return _binding(get_session(), require_person())


@endpoint(bp, "/me/chat-binding", methods=("DELETE",), summary="解除公众号绑定", tags=[TAG],
          response=BindingOut, auth="login")
def unbind():
    """解除后公众号不再代您办理事项，通知只发到小程序；需要时可以重新绑定。重复解除不会出错。"""
    session = get_session()
    person = require_person()
    services.unbind(session, person)
    session.commit()
    return _binding(session, person)
