"""Login use cases: mini-program login, phone binding (with the merge of a pre-imported person)
and logout. The staff console is in staff.py, the views of a person in people.py.

Services take a session and plain values (the WeChat gateway and the cipher are passed in, so
tests can hand in fakes) and never commit. A failed staff login changes state too (the failure
counter, the lock, the audit entry): the route commits before it answers with the error.

Decisions (docs/auth.md):
- A new WeChat user becomes a Person named "微信用户" with no home region and no role row: every
  logged-in, active person is a resident (群众) implicitly; /api/me shows that role as `implicit`.
  They choose a home region (PATCH /api/me) when they need one.
- The mini-program session_key is stored encrypted on the WechatIdentity and never returned.
- Binding a phone that staff already imported for another person merges this login into that
  person (so an imported CPPCC member gets their roles on first login), unless both already have
  a WeChat identity of the same app or their unionids differ (then: conflict, staff resolve it).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import Table, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ..audit.services import record
from ..crypto import PersonalDataCipher, mask_phone, normalise_phone
from ..db import Base, utcnow
from ..errors import (
    AppError,
    Conflict,
    Forbidden,
    ServiceUnavailable,
    Unauthorized,
    ValidationFailed,
)
from ..org.models import (
    Person,
    Role,
    RoleAssignment,
    WechatApp,
    WechatIdentity,
)
from ..wechat.errors import WechatError
from .current import open_session
from .models import LoginSession, SessionKind, StaffAccount

log = logging.getLogger(__name__)

NEW_USER_NAME = "微信用户"
WECHAT_DOWN_MESSAGE = "微信服务暂时不可用，请稍后再试"
DISABLED_MESSAGE = "您的账号已停用，如有疑问请联系工作人员"

# Tables whose person references are history and must not move in a merge.
_MERGE_KEEP_TABLES = {"audit_entries"}


# --- WeChat errors as the mini-program should see them -------------------------------------------

def login_error(exc: WechatError) -> AppError:
    """code2session failures: a bad/used code is 401 (call wx.login again); WeChat trouble is 503."""
    if exc.code == "wechat_code_invalid":
        return Unauthorized(exc.message, code="wx_code_invalid")
    return _passthrough_or_down(exc)


def _passthrough_or_down(exc: WechatError) -> AppError:
    if exc.permanent and exc.status < 500:
        return exc  # e.g. 40226 high-risk user (403), with WeChat's Chinese message
    if exc.status == 429:
        return exc  # 45011/45009: WeChat's own limit, with when to try again
    return ServiceUnavailable(WECHAT_DOWN_MESSAGE, code="wechat_unavailable")


def phone_error(exc: WechatError) -> AppError:
    """getuserphonenumber failures: a stale code is 400 (not 401: the login is still fine)."""
    if exc.code == "wechat_code_invalid":
        return ValidationFailed(exc.message, code="phone_code_invalid", status=400)
    return _passthrough_or_down(exc)


# --- mini-program login ------------------------------------------------------------------------

@dataclass
class LoginResult:
    token: str
    login: LoginSession
    person: Person
    is_new: bool


def _mp_identity(session: Session, openid: str) -> WechatIdentity | None:
    return session.scalar(select(WechatIdentity).where(
        WechatIdentity.app == WechatApp.mp, WechatIdentity.openid == openid))


def _attach_identity(session: Session, openid: str, unionid: str | None
                     ) -> tuple[WechatIdentity, bool]:
    """Create the mp identity: on the person who already has this unionid (e.g. bound through the
    Official Account), else on a new person. Returns (identity, person_is_new)."""
    person = None
    if unionid:
        sibling = session.scalar(select(WechatIdentity).where(WechatIdentity.unionid == unionid)
                                 .order_by(WechatIdentity.id).limit(1))
        if sibling is not None:
            person = session.get(Person, sibling.person_id)
    is_new = person is None
    try:
        with session.begin_nested():
            if person is None:
                person = Person(name=NEW_USER_NAME)
                session.add(person)
                session.flush()
                record(session, actor_id=person.id, action="person.registered",
                       object_type="person", object_id=person.id, after={"via": "wechat_mp"})
            identity = WechatIdentity(person_id=person.id, app=WechatApp.mp, openid=openid,
                                      unionid=unionid)
            session.add(identity)
            session.flush()
            record(session, actor_id=person.id, action="wechat.identity_linked",
                   object_type="person", object_id=person.id,
                   after={"app": "mp", "by_unionid": not is_new})
    except IntegrityError:
        # A parallel login of the same user created it first (UNIQUE app+openid): use theirs.
        identity = _mp_identity(session, openid)
        if identity is None:
            raise
        return identity, False
    return identity, is_new


def login_with_wechat(session: Session, *, js_code: str, mp, cipher: PersonalDataCipher,
                      ttl: timedelta) -> LoginResult:
    """POST /api/auth/wx-login: code2session → find or create the person → a bearer session."""
    try:
        answer = mp.code2session(js_code)
    except WechatError as exc:
        raise login_error(exc) from exc
    identity = _mp_identity(session, answer.openid)
    is_new = False
    if identity is None:
        identity, is_new = _attach_identity(session, answer.openid, answer.unionid)
    elif answer.unionid and identity.unionid != answer.unionid:
        identity.unionid = answer.unionid
    # Kept (encrypted) for decrypting user data later; never sent to the client (WECHAT.md).
    identity.session_key_enc = cipher.encrypt(answer.session_key)
    person = session.get(Person, identity.person_id)
    if person is None or not person.is_active:
        raise Forbidden(DISABLED_MESSAGE, code="account_disabled")
    token, login = open_session(session, person, SessionKind.mp, ttl)
    session.flush()
    record(session, actor_id=person.id, action="auth.login", object_type="login_session",
           object_id=login.id, after={"kind": "mp", "new_person": is_new})
    return LoginResult(token, login, person, is_new)


def logout(session: Session, login: LoginSession) -> None:
    if login.revoked_at is None:
        login.revoked_at = utcnow()
        record(session, actor_id=login.person_id, action="auth.logout",
               object_type="login_session", object_id=login.id,
               after={"kind": login.kind.value})


# --- phone binding and merging -----------------------------------------------------------------

@dataclass
class PhoneBindResult:
    person: Person
    phone: str
    merged_from: int | None = None


def bind_phone(session: Session, person: Person, *, phone_code: str, mp,
               cipher: PersonalDataCipher) -> PhoneBindResult:
    """POST /api/auth/phone: WeChat's verified number → encrypted + lookup hash on the person;
    a number staff already imported for someone else merges this login into that person."""
    try:
        raw = mp.phone_number(phone_code)
    except WechatError as exc:
        raise phone_error(exc) from exc
    try:
        phone = normalise_phone(raw)
    except ValueError:
        raise ValidationFailed("暂不支持该手机号（仅支持中国大陆手机号）",
                               code="phone_unsupported") from None
    phone_hash = cipher.lookup_hash(phone)
    owner = session.scalar(select(Person).where(Person.phone_hash == phone_hash))
    if owner is not None and owner.id != person.id:
        _refuse_privileged_target(session, owner)
        target = merge_people(session, source=person, target=owner, actor_id=person.id)
        return PhoneBindResult(target, phone, merged_from=person.id)
    had_phone = person.phone_hash is not None
    try:
        with session.begin_nested():
            person.phone_enc = cipher.encrypt(phone)
            person.phone_hash = phone_hash
            session.flush()
    except IntegrityError:
        # Someone bound the same number at the same moment (UNIQUE phone_hash).
        raise Conflict("该手机号正在被其他账号绑定，请稍后重试", code="phone_in_use") from None
    record(session, actor_id=person.id, action="person.phone_bound", object_type="person",
           object_id=person.id, after={"phone": mask_phone(phone), "replaced": had_phone})
    return PhoneBindResult(person, phone)


# Roles that act for an institution or see personal data: a phone number alone (numbers are
# recycled in China, SIMs get swapped) must never hand them to whoever logs in with it.
PRIVILEGED_ROLES = (Role.reviewer, Role.dept_handler, Role.staff, Role.admin)


def is_privileged(session: Session, person: Person, *, any_role: bool = False) -> bool:
    """The person holds an active privileged role (with `any_role`: any role but resident, which
    every person holds anyway) or has a console account."""
    roles = select(RoleAssignment.id).where(
        RoleAssignment.person_id == person.id, RoleAssignment.is_active.is_(True))
    roles = roles.where(RoleAssignment.role != Role.resident) if any_role else \
        roles.where(RoleAssignment.role.in_(PRIVILEGED_ROLES))
    return (session.scalar(roles.limit(1)) is not None
            or session.scalar(select(StaffAccount.id).where(
                StaffAccount.person_id == person.id)) is not None)


def _refuse_privileged_target(session: Session, owner: Person) -> None:
    """Self-service phone binding never merges into a person who holds a privileged role or a
    console account: 409 privileged_account; staff issue that person a link code instead
    (app/chat/links.py issue_link_code, docs/auth.md)."""
    if is_privileged(session, owner):
        # Logged, not audited: the request's transaction is rolled back with the error.
        log.warning("phone bind into a privileged person refused",
                    extra={"fields": {"target": owner.id}})
        raise Conflict("该手机号属于工作人员或审核人员账号，不能自动绑定，请联系政协工作人员核实",
                       code="privileged_account")


def wechat_identities_of(session: Session, person_id: int) -> list[WechatIdentity]:
    return list(session.scalars(select(WechatIdentity).where(
        WechatIdentity.person_id == person_id)))


def _person_reference_columns():
    """Every (table, column) with a foreign key to people.id, from the complete metadata."""
    people = Base.metadata.tables["people"]
    for table in Base.metadata.sorted_tables:
        if table.name in _MERGE_KEEP_TABLES:
            continue
        for column in table.columns:
            if any(fk.column is people.c.id for fk in column.foreign_keys):
                yield table, column


def _repoint(session: Session, table: Table, column, source_id: int, target_id: int
             ) -> tuple[int, int]:
    """Move references from source to target. Rows that would duplicate one of the target's
    (a unique constraint, e.g. one vote per person) stay with the retired record.
    Returns (moved, kept)."""
    try:
        with session.begin_nested():
            result = session.execute(update(table).where(column == source_id)
                                     .values({column.name: target_id}))
            return result.rowcount or 0, 0
    except IntegrityError:
        pass
    pk = list(table.primary_key.columns)
    moved = kept = 0
    for row in session.execute(select(*pk).where(column == source_id)).all():
        try:
            with session.begin_nested():
                session.execute(update(table).where(*(c == v for c, v in zip(pk, row)))
                                .values({column.name: target_id}))
            moved += 1
        except IntegrityError:
            kept += 1
    return moved, kept


def merge_people(session: Session, *, source: Person, target: Person,
                 actor_id: int | None, reason: str = "phone_match") -> Person:
    """Fold `source` (typically the person created at first WeChat login) into `target` (the
    person staff imported with the same verified phone). The source is kept as an inactive,
    anonymous record so audit history still resolves; everything else moves to the target.

    Refused (409) when both have a WeChat identity of the same app, or known unionids that
    differ: that would hand one WeChat user's account to another."""
    if not target.is_active:
        raise Forbidden("该手机号对应的账号已停用，请联系工作人员", code="account_disabled")
    src_ids, tgt_ids = wechat_identities_of(session, source.id), wechat_identities_of(session, target.id)
    same_app = {i.app for i in src_ids} & {i.app for i in tgt_ids}
    src_union = {i.unionid for i in src_ids if i.unionid}
    tgt_union = {i.unionid for i in tgt_ids if i.unionid}
    if same_app or (src_union and tgt_union and not (src_union & tgt_union)):
        raise Conflict("该手机号已绑定其他微信账号，如需更换请联系工作人员",
                       code="phone_bound_to_other_wechat")
    session.flush()
    moved: dict[str, int] = {}
    kept: dict[str, int] = {}
    for table, column in _person_reference_columns():
        n_moved, n_kept = _repoint(session, table, column, source.id, target.id)
        if n_moved:
            moved[f"{table.name}.{column.name}"] = n_moved
        if n_kept:
            kept[f"{table.name}.{column.name}"] = n_kept
    # Bulk updates bypass the identity map: reload what the session holds.
    session.expire_all()
    target = session.get(Person, target.id)
    source = session.get(Person, source.id)
    if target.home_region_id is None and source.home_region_id is not None:
        target.home_region_id = source.home_region_id
    if target.name == NEW_USER_NAME and source.name != NEW_USER_NAME:
        target.name = source.name
    source.is_active = False
    source.phone_enc = None
    source.phone_hash = None
    source.name = NEW_USER_NAME
    session.flush()
    record(session, actor_id=actor_id, action="person.merged", object_type="person",
           object_id=target.id, before={"person_id": source.id},
           after={"person_id": target.id, "reason": reason, "moved": moved,
                  "kept_with_old_record": kept})
    log.info("people merged", extra={"fields": {"source": source.id, "target": target.id}})
    return target
