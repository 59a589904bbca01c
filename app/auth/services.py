"""Login use cases: mini-program login, phone binding (with the merge of a pre-imported person),
logout, the staff console login with lockout, staff accounts, and the views of a person.

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
import math
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Table, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload
from werkzeug.security import check_password_hash, generate_password_hash

from ..audit.services import record
from ..crypto import PersonalDataCipher, mask_phone, normalise_phone
from ..db import Base, utcnow
from ..errors import AppError, Conflict, Forbidden, NotFound, ServiceUnavailable, Unauthorized, \
    ValidationFailed
from ..org.models import (
    ROLE_LABELS, Person, Platform, PlatformMember, Region, Role, RoleAssignment,
    WechatApp, WechatIdentity,
)
from ..wechat.errors import WechatError
from .current import open_session
from .models import LoginSession, SessionKind, StaffAccount
from .permissions import (
    Reach, get_person_or_404, get_region_or_404, person_in_reach_clause, reach,
)

log = logging.getLogger(__name__)

NEW_USER_NAME = "微信用户"
PEOPLE_VIEW = "people.view"
WECHAT_DOWN_MESSAGE = "微信服务暂时不可用，请稍后再试"
DISABLED_MESSAGE = "您的账号已停用，如有疑问请联系工作人员"
RELATION_LABELS = {"convenor": "召集人", "member": "联系委员"}

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


def _wechat_identities(session: Session, person_id: int) -> list[WechatIdentity]:
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
                 actor_id: int | None) -> Person:
    """Fold `source` (typically the person created at first WeChat login) into `target` (the
    person staff imported with the same verified phone). The source is kept as an inactive,
    anonymous record so audit history still resolves; everything else moves to the target.

    Refused (409) when both have a WeChat identity of the same app, or known unionids that
    differ: that would hand one WeChat user's account to another."""
    if not target.is_active:
        raise Forbidden("该手机号对应的账号已停用，请联系工作人员", code="account_disabled")
    src_ids, tgt_ids = _wechat_identities(session, source.id), _wechat_identities(session, target.id)
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
           after={"person_id": target.id, "reason": "phone_match", "moved": moved,
                  "kept_with_old_record": kept})
    log.info("people merged", extra={"fields": {"source": source.id, "target": target.id}})
    return target


# --- the staff console -------------------------------------------------------------------------

USERNAME_RE = re.compile(r"^[a-z0-9][a-z0-9_.@-]{2,63}$")
_dummy_hash: str | None = None


class InvalidCredentials(Unauthorized):
    code = "invalid_credentials"
    message = "用户名或密码错误"


class AccountLocked(AppError):
    status = 423
    code = "account_locked"
    message = "账号已临时锁定，请稍后再试"

    def __init__(self, minutes: int) -> None:
        super().__init__(f"账号已临时锁定，请 {minutes} 分钟后再试")
        self.minutes = minutes


def normalise_username(username: str) -> str:
    return (username or "").strip().lower()


def minutes_left(locked_until: datetime, now: datetime) -> int:
    """Whole minutes (rounded up, at least 1) until the lock ends."""
    return max(1, math.ceil((locked_until - now).total_seconds() / 60))


def is_locked(account: StaffAccount, now: datetime) -> bool:
    return account.locked_until is not None and account.locked_until > now


def check_password_policy(password: str, username: str = "") -> None:
    """Console passwords: at least 10 characters, letters and digits, not the username."""
    if len(password) < 10:
        raise ValidationFailed("密码至少 10 位", code="weak_password")
    if not re.search(r"[A-Za-z]", password) or not re.search(r"\d", password):
        raise ValidationFailed("密码需同时包含字母和数字", code="weak_password")
    if username and normalise_username(username) in password.lower():
        raise ValidationFailed("密码不能包含用户名", code="weak_password")


def _burn_password_check(password: str) -> None:
    """Same work as a real check, so an unknown username is not answered faster."""
    global _dummy_hash
    if _dummy_hash is None:
        _dummy_hash = generate_password_hash(secrets.token_urlsafe(16))
    check_password_hash(_dummy_hash, password)


@dataclass
class StaffLoginResult:
    token: str
    login: LoginSession
    person: Person
    account: StaffAccount


def staff_login(session: Session, *, username: str, password: str, ttl: timedelta,
                max_attempts: int, lock_minutes: int, ip: str | None = None,
                now: datetime | None = None) -> StaffLoginResult:
    """POST /api/auth/staff/login. Same answer for an unknown user and a wrong password; the
    account locks for `lock_minutes` after `max_attempts` failures in a row. Raises after
    changing state — the caller commits in both cases. Passwords never reach audit or logs."""
    now = now or utcnow()
    name = normalise_username(username)
    where = {"ip": ip} if ip else {}
    account = session.scalar(select(StaffAccount).where(StaffAccount.username == name)
                             .with_for_update())
    if account is None:
        _burn_password_check(password)
        record(session, actor_id=None, action="auth.staff_login_failed",
               object_type="staff_account", object_id=None,
               after={"reason": "unknown_user", **where})
        raise InvalidCredentials()
    if is_locked(account, now):
        record(session, actor_id=None, action="auth.staff_login_refused",
               object_type="staff_account", object_id=account.id,
               after={"reason": "locked", **where})
        raise AccountLocked(minutes_left(account.locked_until, now))
    if not check_password_hash(account.password_hash, password):
        account.failed_attempts = (account.failed_attempts or 0) + 1
        record(session, actor_id=None, action="auth.staff_login_failed",
               object_type="staff_account", object_id=account.id,
               after={"reason": "wrong_password", "failed_attempts": account.failed_attempts,
                      **where})
        if account.failed_attempts >= max_attempts:
            account.locked_until = now + timedelta(minutes=lock_minutes)
            account.failed_attempts = 0
            record(session, actor_id=None, action="auth.staff_locked",
                   object_type="staff_account", object_id=account.id,
                   after={"locked_until": account.locked_until.isoformat(), **where})
            raise AccountLocked(lock_minutes)
        raise InvalidCredentials()
    person = session.get(Person, account.person_id)
    if person is None or not person.is_active:
        record(session, actor_id=None, action="auth.staff_login_refused",
               object_type="staff_account", object_id=account.id,
               after={"reason": "person_inactive", **where})
        raise Forbidden(DISABLED_MESSAGE, code="account_disabled")
    account.failed_attempts = 0
    account.locked_until = None
    account.last_login_at = now
    token, login = open_session(session, person, SessionKind.staff, ttl)
    session.flush()
    record(session, actor_id=person.id, action="auth.staff_login", object_type="staff_account",
           object_id=account.id, after={"session_id": login.id, **where})
    return StaffLoginResult(token, login, person, account)


def create_staff_account(session: Session, *, person: Person, username: str, password: str,
                         actor_id: int | None = None) -> StaffAccount:
    """A console login for `person` (one per person)."""
    name = normalise_username(username)
    if not USERNAME_RE.match(name):
        raise ValidationFailed("用户名应为 3–64 位小写字母、数字或 _ . @ -",
                               code="invalid_username")
    check_password_policy(password, name)
    if session.scalar(select(StaffAccount.id).where(StaffAccount.username == name)):
        raise Conflict("该用户名已被使用", code="username_taken")
    if session.scalar(select(StaffAccount.id).where(StaffAccount.person_id == person.id)):
        raise Conflict("该人员已有控制台账号", code="staff_account_exists")
    account = StaffAccount(person_id=person.id, username=name,
                           password_hash=generate_password_hash(password), failed_attempts=0)
    session.add(account)
    session.flush()
    record(session, actor_id=actor_id, action="staff_account.created",
           object_type="staff_account", object_id=account.id,
           after={"username": name, "person_id": person.id})
    return account


def set_staff_password(session: Session, account: StaffAccount, password: str, *,
                       actor_id: int | None = None) -> None:
    """New password; clears the lock and revokes the account's open console sessions."""
    check_password_policy(password, account.username)
    account.password_hash = generate_password_hash(password)
    account.failed_attempts = 0
    account.locked_until = None
    now = utcnow()
    session.execute(update(LoginSession).where(
        LoginSession.person_id == account.person_id, LoginSession.kind == SessionKind.staff,
        LoginSession.revoked_at.is_(None)).values(revoked_at=now))
    record(session, actor_id=actor_id, action="staff_account.password_set",
           object_type="staff_account", object_id=account.id)


def unlock_staff_account(session: Session, account: StaffAccount, *,
                         actor_id: int | None = None) -> None:
    account.failed_attempts = 0
    account.locked_until = None
    record(session, actor_id=actor_id, action="staff_account.unlocked",
           object_type="staff_account", object_id=account.id)


# --- views of a person -------------------------------------------------------------------------

def masked_phone_of(person: Person, cipher: PersonalDataCipher) -> str | None:
    if not person.phone_enc:
        return None
    try:
        return mask_phone(cipher.decrypt(person.phone_enc))
    except ValueError:
        log.warning("phone not decryptable", extra={"fields": {"person_id": person.id}})
        return "****"


def region_ref(session: Session, region_id: int | None) -> dict | None:
    if region_id is None:
        return None
    region = session.get(Region, region_id)
    return None if region is None else {"id": region.id, "name": region.name}


def role_views(session: Session, person: Person) -> list[dict]:
    """The person's active roles with their scope names; the implicit resident role last."""
    rows = session.scalars(
        select(RoleAssignment)
        .where(RoleAssignment.person_id == person.id, RoleAssignment.is_active.is_(True))
        .options(selectinload(RoleAssignment.region), selectinload(RoleAssignment.body),
                 selectinload(RoleAssignment.platform))
        .order_by(RoleAssignment.id)
    ).all()
    views = []
    for ra in rows:
        view = {"role": ra.role.value, "label": ROLE_LABELS[ra.role], "implicit": False,
                "scope_type": None, "scope_id": None, "scope_name": None}
        for kind in ("region", "body", "platform"):
            obj = getattr(ra, kind)
            if obj is not None:
                view.update(scope_type=kind, scope_id=obj.id, scope_name=obj.name)
                break
        views.append(view)
    if not any(v["role"] == Role.resident.value for v in views):
        home = region_ref(session, person.home_region_id)
        views.append({"role": Role.resident.value, "label": ROLE_LABELS[Role.resident],
                      "implicit": True, "scope_type": "region" if home else None,
                      "scope_id": home["id"] if home else None,
                      "scope_name": home["name"] if home else None})
    return views


def role_codes(session: Session, person: Person) -> list[str]:
    seen: list[str] = []
    for view in role_views(session, person):
        if view["role"] not in seen:
            seen.append(view["role"])
    return seen


def platform_links(session: Session, person: Person) -> list[dict]:
    """Active platforms the person convenes (D28) or is linked to as a member (D29)."""
    convened = session.scalars(
        select(Platform).where(Platform.is_active.is_(True), Platform.id.in_(
            select(RoleAssignment.platform_id).where(
                RoleAssignment.person_id == person.id, RoleAssignment.role == Role.convenor,
                RoleAssignment.is_active.is_(True), RoleAssignment.platform_id.is_not(None))
        ) | (Platform.convenor_id == person.id)).order_by(Platform.id)
    ).all()
    linked = session.scalars(
        select(Platform).join(PlatformMember, PlatformMember.platform_id == Platform.id)
        .where(PlatformMember.person_id == person.id, Platform.is_active.is_(True))
        .order_by(Platform.id)
    ).all()
    links = [{"id": p.id, "name": p.name, "relation": "convenor",
              "relation_label": RELATION_LABELS["convenor"]} for p in convened]
    links += [{"id": p.id, "name": p.name, "relation": "member",
               "relation_label": RELATION_LABELS["member"]} for p in linked]
    return links


def describe_me(session: Session, person: Person, login: LoginSession,
                cipher: PersonalDataCipher) -> dict:
    return {
        "id": person.id, "name": person.name,
        "phone_masked": masked_phone_of(person, cipher),
        "home_region": region_ref(session, person.home_region_id),
        "roles": role_views(session, person),
        "platforms": platform_links(session, person),
        "session": {"kind": login.kind.value, "expires_at": login.expires_at},
    }


def update_me(session: Session, person: Person, *, name: str | None = None,
              home_region_id: int | None = None) -> Person:
    """PATCH /api/me: the display name and the home region a resident chooses."""
    before = {"name": person.name, "home_region_id": person.home_region_id}
    if home_region_id is not None:
        if session.get(Region, home_region_id) is None:
            raise NotFound("所选区域不存在", code="region_not_found")
        person.home_region_id = home_region_id
    if name is not None:
        person.name = name
    after = {"name": person.name, "home_region_id": person.home_region_id}
    if after != before:
        record(session, actor_id=person.id, action="person.profile_updated",
               object_type="person", object_id=person.id, before=before, after=after)
    return person


def looks_like_phone(text: str) -> bool:
    try:
        normalise_phone(text)
        return True
    except ValueError:
        return False


def list_people(session: Session, viewer: Person, *, cipher: PersonalDataCipher,
                region_id: int | None = None, q: str | None = None, page: int = 1,
                per_page: int = 20) -> tuple[list[dict], int]:
    """GET /api/people: people within the viewer's reach (home region or a role there),
    optionally within one region of that reach (404 outside it), by name or exact phone.
    A phone search is access to personal data: audited."""
    r = reach(session, viewer, PEOPLE_VIEW)
    conditions = [person_in_reach_clause(r)]
    if region_id is not None:
        region = get_region_or_404(session, region_id, viewer, PEOPLE_VIEW)
        conditions.append(person_in_reach_clause(Reach((region.path,), frozenset())))
    searched_phone = None
    q = (q or "").strip()
    if q:
        if looks_like_phone(q):
            searched_phone = normalise_phone(q)
            conditions.append(Person.phone_hash == cipher.lookup_hash(searched_phone))
        else:
            conditions.append(Person.name.contains(q, autoescape=True))
    total = session.scalar(select(func.count()).select_from(Person).where(*conditions)) or 0
    people = session.scalars(select(Person).where(*conditions).order_by(Person.id)
                             .offset((page - 1) * per_page).limit(per_page)).all()
    roles: dict[int, list[str]] = {p.id: [] for p in people}
    if people:
        for person_id, role in session.execute(
                select(RoleAssignment.person_id, RoleAssignment.role)
                .where(RoleAssignment.person_id.in_(list(roles)),
                       RoleAssignment.is_active.is_(True))
                .order_by(RoleAssignment.id)):
            if role.value not in roles[person_id]:
                roles[person_id].append(role.value)
    if searched_phone is not None:
        record(session, actor_id=viewer.id, action="people.searched_by_phone",
               object_type="person", object_id=None,
               after={"phone": mask_phone(searched_phone), "found": total})
    rows = [{"id": p.id, "name": p.name, "phone_masked": masked_phone_of(p, cipher),
             "is_active": p.is_active, "home_region": region_ref(session, p.home_region_id),
             "roles": roles[p.id]} for p in people]
    return rows, total


def view_person(session: Session, viewer: Person, person_id: int,
                cipher: PersonalDataCipher) -> dict:
    """GET /api/people/<id>: 404 outside the viewer's reach; every view is audited (PIPL)."""
    person = get_person_or_404(session, person_id, viewer, PEOPLE_VIEW)
    record(session, actor_id=viewer.id, action="person.viewed", object_type="person",
           object_id=person.id)
    return person_detail(session, person, cipher)


def person_detail(session: Session, person: Person, cipher: PersonalDataCipher) -> dict:
    apps = {i.app for i in _wechat_identities(session, person.id)}
    return {
        "id": person.id, "name": person.name,
        "phone_masked": masked_phone_of(person, cipher),
        "is_active": person.is_active,
        "home_region": region_ref(session, person.home_region_id),
        "roles": role_views(session, person),
        "platforms": platform_links(session, person),
        "wechat": {"mp": WechatApp.mp in apps, "oa": WechatApp.oa in apps},
        "has_staff_account": session.scalar(
            select(StaffAccount.id).where(StaffAccount.person_id == person.id)) is not None,
    }


__all__ = [
    "AccountLocked", "InvalidCredentials", "LoginResult", "PhoneBindResult", "StaffLoginResult",
    "bind_phone", "check_password_policy", "create_staff_account", "describe_me",
    "is_locked", "login_error", "login_with_wechat", "logout", "merge_people", "minutes_left",
    "normalise_username", "person_detail", "phone_error", "platform_links", "role_codes",
    "role_views", "set_staff_password", "staff_login", "unlock_staff_account", "update_me",
    "list_people", "view_person",
]
