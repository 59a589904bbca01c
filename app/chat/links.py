"""Staff link codes (docs/auth.md): who may issue one for a named person, issuing it (audited), the
text that goes with it, and the mini-program's way in (`POST /api/auth/link`). The code itself is a
binding code of the one table and service in app/chat/services.py (`issue_code(staff_link=True)`,
the same keyed hash, single use and wrong-try limit); `绑定 <code>` by chat goes through its
`bind_by_code`. Services never commit: the caller commits once."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..audit.services import record
from ..db import utcnow
from ..errors import Conflict, Forbidden, NotFound
from ..org.models import Person, WechatIdentity
from .services import LINK_DIGITS, _code_person, _live_row, _refused, _used, issue_code

LINK_ACTION = "person.link"


def normalise_code(text: str) -> str | None:
    """The digits of a typed or scanned code (spaces, dashes, full-width digits allowed):
    6 (a chat code) or LINK_DIGITS (a link code) digits, else None."""
    import unicodedata

    digits = "".join(ch for ch in unicodedata.normalize("NFKC", text or "")
                     if not (ch.isspace() or ch in "-_.,，、"))
    if digits.isascii() and digits.isdigit() and len(digits) in (6, LINK_DIGITS):
        return digits
    return None


def may_issue_link(session: Session, actor: Person, person: Person, *,
                   consultation_id: int | None = None) -> None:
    """Who may issue a link code for `person` (else AppError; nothing written):
    - CPPCC staff or admins reaching the person (404 person_not_found otherwise, as for the
      people API), and reaching every role the person holds (403 link_out_of_reach: county staff
      cannot hand themselves a city reviewer's account); only an admin links an admin;
    - the convenor (or anyone managing the meeting) for a person invited to that meeting who
      holds no role and no console account (403 link_needs_staff otherwise: members can bind by
      phone, the rest are linked by staff) and has no WeChat yet (409 person_has_wechat: a code
      would move their binding to whoever sends it)."""
    from ..auth.permissions import get_person_or_404, grants_of, has_any_role, reach
    from ..auth.services import is_privileged

    if has_any_role(session, actor, LINK_ACTION):
        if consultation_id is None or _in_reach(session, actor, person):
            get_person_or_404(session, person.id, actor, LINK_ACTION)
            r = reach(session, actor, LINK_ACTION)
            actor_admin = any(g.role.value == "admin" for g in grants_of(session, actor))
            for grant in grants_of(session, person):
                path = grant.region_path or _platform_path(session, grant.platform_id)
                if not (r.covers_path(path) or grant.platform_id in r.platform_ids) or (
                        grant.role.value == "admin" and not actor_admin):
                    raise Forbidden("该人员担任的职务超出您的管辖范围，请由上级政协工作人员为其生成绑定码",
                                    code="link_out_of_reach")
            _active(person)
            return
    if consultation_id is None:
        raise Forbidden()
    from ..consultations.models import Invitation
    from ..consultations.services import managed_consultation

    managed_consultation(session, consultation_id, actor)
    invited = session.scalar(select(Invitation.id).where(
        Invitation.consultation_id == consultation_id, Invitation.person_id == person.id))
    if invited is None:
        raise NotFound("该人员不在本次会议的邀请名单中", code="invitation_not_found")
    if is_privileged(session, person, any_role=True):
        raise Forbidden("该人员担任职务（如委员、审核人、工作人员），请由政协工作人员为其生成绑定码",
                        code="link_needs_staff")
    if session.scalar(select(WechatIdentity.id).where(
            WechatIdentity.person_id == person.id).limit(1)) is not None:
        raise Conflict("该人员已经绑定了微信，可以直接在公众号或小程序里答复，不需要绑定码",
                       code="person_has_wechat")
    _active(person)


def _in_reach(session: Session, actor: Person, person: Person) -> bool:
    from ..auth.permissions import person_in_reach_clause, reach

    return session.scalar(select(Person.id).where(
        Person.id == person.id, person_in_reach_clause(reach(session, actor, LINK_ACTION)))) \
        is not None


def _platform_path(session: Session, platform_id: int | None) -> str | None:
    from ..org.models import Platform, Region

    if platform_id is None:
        return None
    return session.scalar(select(Region.path).join(Platform, Platform.region_id == Region.id)
                          .where(Platform.id == platform_id))


def _active(person: Person) -> None:
    if not person.is_active:
        raise Conflict("该人员的账号已停用", code="account_disabled")


def issue_link_code(session: Session, person: Person, *, actor: Person | None, via: str,
                    consultation_id: int | None = None, now: datetime | None = None
                    ) -> tuple[str, datetime]:
    """A staff link code for `person`, issued by `actor` (None: the operator CLI, which
    checks nothing — it runs on the server). Audited; the code itself never is."""
    if actor is not None:
        may_issue_link(session, actor, person, consultation_id=consultation_id)
    else:
        _active(person)
    code, expires_at = issue_code(session, person, now, staff_link=True, issued_by=actor)
    record(session, actor_id=actor.id if actor is not None else None,
           action="chat.link_code_issued", object_type="person", object_id=person.id,
           after={"via": via, "expires_at": expires_at.isoformat(),
                  **({"consultation_id": consultation_id} if consultation_id else {})})
    return code, expires_at


def link_instruction(code: str, expires_at: datetime) -> str:
    from ..workdays import CHINA_TZ

    until = expires_at.astimezone(CHINA_TZ)
    spaced = f"{code[:3]} {code[3:6]} {code[6:]}" if len(code) == LINK_DIGITS else code
    return (f"绑定码：{spaced}（{until.month}月{until.day}日 {until:%H:%M} 前有效，只能用一次）。"
            f"打开“有事好商量”小程序，进入“我的 → 使用绑定码”输入或扫码；"
            f"或在“有事好商量”公众号里发送：绑定 {code}")


@dataclass(frozen=True)
class Linked:
    person: Person
    merged: bool = False   # the mini-program user's own record was folded into the person


def link_mini_program(session: Session, current: Person, code: str,
                      now: datetime | None = None) -> Linked:
    """`POST /api/auth/link`: the logged-in mini-program user (`current`, typically the
    record made at first login) becomes the person the staff link code names — the login,
    its WeChat identity and whatever the user did so far move to that person (merge_people).

    Refused clearly, the code staying good: the user is already someone else (a role, a console
    account or another verified phone: 409 wechat_bound_to_other), or the person already has a
    WeChat of the same kind (409 person_has_wechat). Only staff link codes work here: a chat
    code is for the Official Account (422 binding_code_wrong, counted)."""
    from ..auth.services import is_privileged, merge_people, wechat_identities_of

    now = now or utcnow()
    key = f"mp-person-{current.id}"
    row, live = _live_row(session, key, code, now)
    if row is not None and not row.staff_link:
        row, live = None, False  # not a link code: answered as a wrong one
    if not live:
        if row is not None and row.used_at is not None and row.person_id == current.id:
            return Linked(current)
        raise _refused(key, row, now, for_mp=True)
    person = _code_person(session, row)
    if person.id == current.id:
        _used(session, row, person, "mp", now)
        return Linked(person)
    if is_privileged(session, current, any_role=True) or (
            current.phone_hash is not None and current.phone_hash != person.phone_hash):
        raise Conflict("这个微信已经是另一位人员的账号，不能再关联到其他人员。"
                       "如有疑问请联系政协工作人员", code="wechat_bound_to_other")
    mine, theirs = wechat_identities_of(session, current.id), wechat_identities_of(session, person.id)
    unions = {i.unionid for i in mine if i.unionid}, {i.unionid for i in theirs if i.unionid}
    if ({i.app for i in mine} & {i.app for i in theirs}) or (
            all(unions) and not (unions[0] & unions[1])):
        raise Conflict("该人员已经关联了另一个微信，如需更换请联系政协工作人员",
                       code="person_has_wechat")
    _used(session, row, person, "mp", now)
    target = merge_people(session, source=current, target=person, actor_id=person.id,
                          reason="link_code")
    return Linked(target, merged=True)
