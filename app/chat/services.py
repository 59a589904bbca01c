"""The Official Account chat: inbound bookkeeping (the 48-hour window, follow state) and binding a
chat account (an OA openid) to a person — by the one-time code shown in the mini-program
(`绑定 123456`) or by the unionid WeChat tells us. Services never commit: the caller commits once.

Binding decisions (docs/chatbot.md, docs/auth.md):
- one live code per person: a new one replaces the old one; only its keyed hash is stored
  (app/crypto.py lookup key), unique among the stored codes;
- two kinds in the one table: the person's own code (6 random digits, CODE_TTL, from their
  mini-program, for the Official Account only) and a staff link code issued for a named person
  (LINK_DIGITS random digits, LINK_TTL; usable in the mini-program — `POST /api/auth/link` —
  and in the Official Account) by CPPCC staff within their reach, by the convenor for the people
  invited to their meeting, or by the operator CLI (app/chat/links.py);
- a right code attaches the WeChat identity and is marked used (kept until RETAIN after its
  expiry), so it works once and later answers "already used"; issue and use are audited;
- a WeChat identity already attached to someone else is refused, and the code stays good;
- a person already bound to another OA openid is moved to the new one, and told so;
- wrong, expired or used codes count against the sender (OA openid or mini-program person):
  WRONG_LIMIT per WRONG_WINDOW (Redis; when Redis is down the limit fails open — the code space
  and the short life still bound it).
"""
from __future__ import annotations

import functools
import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

import redis
from sqlalchemy import bindparam, delete, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ..audit.services import record
from ..crypto import get_cipher
from ..db import utcnow
from ..errors import AppError, Conflict, RateLimited, ValidationFailed
from ..org.models import Person, WechatApp, WechatIdentity
from .models import ChatAccount, ChatBindingCode

log = logging.getLogger(__name__)

CODE_TTL = timedelta(minutes=10)
# A staff link code is handed over in person, read out on the phone or printed on the
# invitation: a day is enough to use it the same or the next day, short enough that a lost
# note is not a standing key; a new one can be issued at any time (it replaces the old one).
LINK_TTL = timedelta(hours=24)
# Ten digits (10^10): a live link code lasts 144 times longer than a chat code and may bind a
# reviewer or staff account, so guessing one must stay hopeless even with many live codes.
LINK_DIGITS = 10
# Used and expired codes stay this long, so they answer "used" / "expired", not "wrong".
RETAIN = timedelta(days=7)
WRONG_LIMIT = 5
WRONG_WINDOW = 15 * 60
USER_INFO_TIMEOUT = 2.0
OPENID_MAX = 64
# chat_accounts.last_inbound_at is written at most this often per openid (record_inbound).
INBOUND_REFRESH = 5 * 60
# What WeChat's user/info said about an openid, cached (unionid_of): a unionid never changes for
# an openid; "none" (an account without Open Platform binding) is asked again after a while.
UNIONID_TTL = 24 * 3600
NO_UNIONID_TTL = 10 * 60
_NO_UNIONID = "-"


# --- inbound bookkeeping ----------------------------------------------------------------------

_RECORDED = "chat_inbound_recorded"  # session.info: the openids whose inbound it wrote


def _inbound_key(openid: str) -> str:
    return f"chat:inbound:{openid}"


def record_inbound(session: Session, openid: str, *, followed: bool | None = None,
                   now: datetime | None = None) -> None:
    """Upsert the chat account in one statement (UNIQUE openid decides between concurrent
    messages): the last inbound opens the 48-hour customer-service window; follow / unfollow set
    `followed`.

    Throttled: a plain message (followed None) writes nothing when this openid's inbound was
    written less than INBOUND_REFRESH ago — a Redis marker set by ``inbound_committed`` once the
    write is committed. The stored time is then at most INBOUND_REFRESH older than the last
    message, so the 48-hour window read from it may close that much early, never late. Follow /
    unfollow always write; without Redis every message writes."""
    if followed is None and _marked(_inbound_key(openid)):
        return
    now = now or utcnow()
    session.execute(_upsert(session.get_bind().dialect.name, followed is not None), {
        "openid": openid, "followed": True if followed is None else followed,
        "last_inbound_at": now, "created_at": now})
    session.info.setdefault(_RECORDED, set()).add(openid)


@functools.cache
def _upsert(dialect_name: str, set_followed: bool):
    """INSERT … ON CONFLICT (openid) DO UPDATE of chat_accounts, built once per dialect."""
    table = ChatAccount.__table__
    stmt = (postgresql if dialect_name == "postgresql" else sqlite).insert(table)
    columns = ["last_inbound_at"] + (["followed"] if set_followed else [])
    return stmt.on_conflict_do_update(index_elements=[table.c.openid],
                                      set_={c: stmt.excluded[c] for c in columns})


def inbound_committed(session: Session) -> None:
    """Right after the caller committed the transaction that called record_inbound: the
    inbounds it wrote are fresh for INBOUND_REFRESH. A caller that never calls this (or rolled
    back) only loses the throttle: every message writes."""
    openids = session.info.pop(_RECORDED, None)
    if not openids:
        return
    try:
        pipe = _redis().pipeline(transaction=False)
        for openid in openids:
            pipe.set(_inbound_key(openid), "1", ex=INBOUND_REFRESH)
        pipe.execute()
    except redis.RedisError:
        pass  # the next message writes again


def _marked(key: str) -> bool:
    try:
        return bool(_redis().exists(key))
    except redis.RedisError:
        return False


# --- who is writing -----------------------------------------------------------------------------

def oa_identity(session: Session, openid: str) -> WechatIdentity | None:
    return session.scalar(select(WechatIdentity).where(WechatIdentity.app == WechatApp.oa,
                                                       WechatIdentity.openid == openid))


_PERSON_BY_OA_OPENID = select(Person).join(
    WechatIdentity, WechatIdentity.person_id == Person.id).where(
    WechatIdentity.app == WechatApp.oa, WechatIdentity.openid == bindparam("openid")).limit(1)


def person_for_openid(session: Session, openid: str) -> Person | None:
    """The person bound to this Official Account openid (one statement)."""
    return session.scalar(_PERSON_BY_OA_OPENID, {"openid": openid})


def _link(session: Session, person: Person, openid: str, unionid: str | None, via: str
          ) -> tuple[WechatIdentity | None, bool]:
    """Bind `openid` to `person`, moving the person's earlier OA binding if any. Returns
    (identity, moved) — identity None when the openid got bound to someone at the same moment."""
    old = session.scalars(select(WechatIdentity).where(
        WechatIdentity.person_id == person.id, WechatIdentity.app == WechatApp.oa,
        WechatIdentity.openid != openid)).all()
    try:
        with session.begin_nested():
            for row in old:
                session.delete(row)
            identity = WechatIdentity(person_id=person.id, app=WechatApp.oa, openid=openid,
                                      unionid=unionid)
            session.add(identity)
            session.flush()
    except IntegrityError:  # UNIQUE (app, openid): a parallel binding of this openid won
        return None, False
    record(session, actor_id=person.id, action="chat.bind", object_type="person",
           object_id=person.id, after={"via": via, "identity_id": identity.id,
                                       "moved": bool(old)})
    forget_unionid(openid)
    return identity, bool(old)


# --- binding by unionid -------------------------------------------------------------------------

def _unionid_key(openid: str) -> str:
    return f"chat:unionid:{openid}"


def unionid_of(openid: str) -> str | None:
    """Ask WeChat (cgi-bin/user/info) for the follower's unionid; None on any failure — an
    unconfigured account, a timeout, no Open Platform binding: the user is simply unknown.

    WeChat's answer is kept in Redis, so an unbound follower does not cost a WeChat call per
    message: a unionid for UNIONID_TTL (it never changes; whether a mini-program identity has it
    is looked up in the database on every message), "no unionid" for NO_UNIONID_TTL. Dropped
    when the openid gets bound. A failure is not kept: the next message asks again."""
    key = _unionid_key(openid)
    try:
        cached = _redis().get(key)
    except redis.RedisError:
        cached = None
    if cached is not None:
        cached = cached.decode() if isinstance(cached, bytes) else str(cached)
        return None if cached == _NO_UNIONID else cached
    try:
        from ..wechat import get_wechat

        info = get_wechat().oa.user_info(openid, timeout=USER_INFO_TIMEOUT)
    except Exception as exc:  # noqa: BLE001 - whatever went wrong, the user is unknown
        log.info("oa user_info unavailable", extra={"fields": {"error": type(exc).__name__}})
        return None
    unionid = info.get("unionid") if isinstance(info, dict) else None
    if not (isinstance(unionid, str) and 0 < len(unionid) <= 64):
        unionid = None
    try:
        _redis().set(key, unionid or _NO_UNIONID,
                     ex=UNIONID_TTL if unionid else NO_UNIONID_TTL)
    except redis.RedisError:
        pass
    return unionid


def forget_unionid(openid: str) -> None:
    """Drop the cached user/info answer of `openid` (it just got bound)."""
    try:
        _redis().delete(_unionid_key(openid))
    except redis.RedisError:
        pass


def bind_by_unionid(session: Session, openid: str) -> Person | None:
    """The person whose mini-program identity has this follower's unionid, now bound; or None."""
    unionid = unionid_of(openid)
    if unionid is None:
        return None
    mp = session.scalar(select(WechatIdentity).where(
        WechatIdentity.app == WechatApp.mp, WechatIdentity.unionid == unionid)
        .order_by(WechatIdentity.updated_at.desc(), WechatIdentity.id.desc()).limit(1))
    if mp is None:
        return None
    person = session.get(Person, mp.person_id)
    if person is None or not person.is_active:
        return None
    identity, _ = _link(session, person, openid, unionid, "unionid")
    if identity is None:
        return person_for_openid(session, openid)
    return person


# --- binding codes ------------------------------------------------------------------------------

def _code_hash(code: str) -> str:
    return get_cipher().lookup_hash(f"chat-binding:{code}")


def issue_code(session: Session, person: Person, now: datetime | None = None, *,
               staff_link: bool = False, issued_by: Person | None = None
               ) -> tuple[str, datetime]:
    """A new code for `person`, replacing their earlier one. Returns (code, expires_at).
    The person's own chat code: 6 digits, CODE_TTL. A staff link code (staff_link; use
    issue_link_code, which checks who may and audits): LINK_DIGITS digits, LINK_TTL."""
    now = now or utcnow()
    digits, ttl = (LINK_DIGITS, LINK_TTL) if staff_link else (6, CODE_TTL)
    expires_at = now + ttl
    session.execute(delete(ChatBindingCode).where(ChatBindingCode.expires_at <= now - RETAIN))
    for _ in range(10):
        code = f"{secrets.randbelow(10 ** digits):0{digits}d}"
        try:
            with session.begin_nested():
                session.execute(delete(ChatBindingCode).where(
                    ChatBindingCode.person_id == person.id))
                session.add(ChatBindingCode(
                    person_id=person.id, code_hash=_code_hash(code), expires_at=expires_at,
                    created_at=now, staff_link=staff_link,
                    issued_by_id=issued_by.id if issued_by is not None else None))
                session.flush()
            return code, expires_at
        except IntegrityError:  # someone else's stored code, or a parallel request: try again
            continue
    raise Conflict("绑定码生成失败，请稍后再试", code="binding_code_busy")


def _wrong_key(openid: str) -> str:
    return f"chat:bind-wrong:{openid}"


def _redis():
    from ..redis_client import get_redis

    return get_redis()


def _wrong_count(openid: str) -> int:
    try:
        return int(_redis().get(_wrong_key(openid)) or 0)
    except redis.RedisError:
        log.warning("binding attempt limit unavailable (Redis): failing open")
        return 0


def _count_wrong(openid: str) -> int:
    try:
        pipe = _redis().pipeline()
        pipe.incr(_wrong_key(openid))
        pipe.expire(_wrong_key(openid), WRONG_WINDOW)
        count, _ = pipe.execute()
        return int(count)
    except redis.RedisError:
        log.warning("binding attempt limit unavailable (Redis): failing open")
        return 0


class TooManyAttempts(RateLimited):
    code = "binding_attempts"
    message = f"绑定码输错次数太多，请 {WRONG_WINDOW // 60} 分钟后再试"


@dataclass(frozen=True)
class Bound:
    person: Person
    moved: bool = False          # the person's earlier OA binding was moved here
    already: bool = False        # this openid was bound to this person before


class CodeUsed(Conflict):
    code = "binding_code_used"
    message = "这个绑定码已经用过了，每个绑定码只能用一次。如需重新绑定，请重新获取绑定码"


def _refused(key: str, row: ChatBindingCode | None, now: datetime, *, for_mp: bool) -> AppError:
    """The answer to a wrong, expired or used code (each counted against `key`)."""
    left = WRONG_LIMIT - _count_wrong(key)
    if row is not None and row.used_at is not None:
        return CodeUsed()
    if row is not None:
        where = ("请联系政协工作人员或会议召集人重新获取" if row.staff_link
                 else "请在小程序“我的 → 绑定公众号”中重新获取")
        message, code_name = f"绑定码已过期，{where}", "binding_code_expired"
    else:
        message = "绑定码不正确，请核对后重新" + ("输入" if for_mp else "发送")
        code_name = "binding_code_wrong"
    if 0 < left < WRONG_LIMIT:
        message += f"（还可以再试 {left} 次）"
    elif left <= 0:
        message += f"。输错次数太多，请 {WRONG_WINDOW // 60} 分钟后再试"
    return ValidationFailed(message, code=code_name)


def _live_row(session: Session, key: str, code: str, now: datetime
              ) -> tuple[ChatBindingCode | None, bool]:
    """(the stored row of `code`, whether it can be used now); TooManyAttempts first."""
    if _wrong_count(key) >= WRONG_LIMIT:
        raise TooManyAttempts()
    row = session.scalar(select(ChatBindingCode).where(
        ChatBindingCode.code_hash == _code_hash(code)))
    return row, row is not None and row.used_at is None and row.expires_at > now


def _code_person(session: Session, row: ChatBindingCode) -> Person:
    person = session.get(Person, row.person_id)
    if person is None or not person.is_active:
        raise ValidationFailed("该账号已停用，如有疑问请联系工作人员", code="account_disabled")
    return person


def _used(session: Session, row: ChatBindingCode, person: Person, app: str, now: datetime
          ) -> None:
    """Claim the code: one conditional UPDATE, so of two uses at the same moment exactly one
    wins (the other waits for its commit, then matches nothing: CodeUsed). A staff link code's
    use is audited (who issued it, which app)."""
    claimed = session.execute(
        update(ChatBindingCode).where(ChatBindingCode.id == row.id,
                                      ChatBindingCode.used_at.is_(None))
        .values(used_at=now).execution_options(synchronize_session=False)).rowcount
    if claimed != 1:
        raise CodeUsed()
    session.refresh(row)
    if row.staff_link:
        record(session, actor_id=person.id, action="chat.link_code_used", object_type="person",
               object_id=person.id, after={"app": app, "issued_by": row.issued_by_id})


def bind_by_code(session: Session, openid: str, code: str, now: datetime | None = None) -> Bound:
    """`绑定 123456` (or a staff link code) from `openid`. AppError (Chinese message) for a
    wrong, expired or used code, too many wrong attempts, or an openid bound to someone else."""
    now = now or utcnow()
    row, live = _live_row(session, openid, code, now)
    current = oa_identity(session, openid)
    if not live:
        if current is not None and (row is None or (
                row.used_at is not None and row.person_id == current.person_id)):
            _count_wrong(openid)  # counted for bound openids too
            return Bound(session.get(Person, current.person_id), already=True)
        raise _refused(openid, row, now, for_mp=False)
    person = _code_person(session, row)
    if current is not None and current.person_id != person.id:
        raise Conflict("这个微信已经绑定了另一个账号。如需改绑，请先在原账号的小程序"
                       "“我的 → 绑定公众号”中解除绑定", code="openid_bound_to_other")
    _used(session, row, person, "oa", now)
    if current is not None:
        return Bound(person, already=True)
    identity, moved = _link(session, person, openid, None, "code")
    if identity is None:
        raise Conflict("这个微信刚刚绑定了账号，请发送“帮助”查看", code="openid_bound_to_other")
    return Bound(person, moved=moved)


# --- the person's side (mini-program API) ---------------------------------------------------------

def binding_of(session: Session, person: Person) -> WechatIdentity | None:
    return session.scalar(select(WechatIdentity).where(
        WechatIdentity.person_id == person.id, WechatIdentity.app == WechatApp.oa)
        .order_by(WechatIdentity.id.desc()).limit(1))


def unbind(session: Session, person: Person) -> bool:
    """Remove the person's Official Account binding(s) and any live code. True when one existed."""
    rows = session.scalars(select(WechatIdentity).where(
        WechatIdentity.person_id == person.id, WechatIdentity.app == WechatApp.oa)).all()
    session.execute(delete(ChatBindingCode).where(ChatBindingCode.person_id == person.id))
    for row in rows:
        session.delete(row)
    session.flush()
    if rows:
        record(session, actor_id=person.id, action="chat.unbind", object_type="person",
               object_id=person.id, before={"identity_ids": [r.id for r in rows]})
    return bool(rows)


def valid_openid(openid: object) -> bool:
    return isinstance(openid, str) and 0 < len(openid) <= OPENID_MAX and openid.isprintable()
