"""What the sandbox chat page (bots/sandbox.py, sandbox mode only) reads and writes: the demo
people to pick from, the Official Account openid a picked person chats under, and where that
person's notices reached WeChat. None of these commit."""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..db import contains_literally
from ..errors import NotFound
from ..org.models import (ROLE_LABELS, Person, Platform, RoleAssignment, WechatApp,
                          WechatIdentity)

PICK_MAX = 60


def sandbox_openid(person_id: int) -> str:
    return f"o_sandbox_chat_{person_id}"


def people_to_pick(session: Session, q: str = "") -> list[dict]:
    """Active people, those with roles first (convenors, members, staff make the interesting
    demos), each with their role labels and the platforms they run (where the meetings are)."""
    stmt = select(Person).where(Person.is_active.is_(True))
    if q:
        stmt = stmt.where(contains_literally(Person.name, q))
    found = list(session.scalars(stmt.order_by(Person.id).limit(200)))
    roles: dict[int, set[str]] = {}
    places: dict[int, set[str]] = {}
    if found:
        for pid, role, platform in session.execute(
                select(RoleAssignment.person_id, RoleAssignment.role, Platform.name)
                .outerjoin(Platform, Platform.id == RoleAssignment.platform_id)
                .where(RoleAssignment.person_id.in_([p.id for p in found]),
                       RoleAssignment.is_active.is_(True))):
            roles.setdefault(pid, set()).add(ROLE_LABELS[role])
            if platform:
                places.setdefault(pid, set()).add(platform)
    found.sort(key=lambda p: (not roles.get(p.id), p.id))
    return [{"id": p.id, "name": p.name, "roles": sorted(roles.get(p.id, ())),
             "platforms": sorted(places.get(p.id, ()))} for p in found[:PICK_MAX]]


def person_or_404(session: Session, person_id: int) -> Person:
    person = session.get(Person, person_id)
    if person is None:
        raise NotFound("找不到这位人员", code="person_not_found")
    return person


def chat_openid(session: Session, person_id: int) -> str:
    """The person's Official Account openid, binding a sandbox one on first use."""
    person_or_404(session, person_id)
    openid = session.scalar(select(WechatIdentity.openid).where(
        WechatIdentity.person_id == person_id, WechatIdentity.app == WechatApp.oa)
        .order_by(WechatIdentity.id).limit(1))
    if openid is None:
        openid = sandbox_openid(person_id)
        session.add(WechatIdentity(person_id=person_id, app=WechatApp.oa, openid=openid))
        session.flush()
    return openid


def wechat_addresses(session: Session, person_id: int) -> set[str]:
    """Every openid a send to this person can carry (the sandbox channel's included)."""
    openids = set(session.scalars(select(WechatIdentity.openid).where(
        WechatIdentity.person_id == person_id)))
    openids.add(f"osandbox_person_{person_id}")
    return openids
