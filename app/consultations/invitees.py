"""Who to invite (D9, D10, D29): suggestions for the convenor, and people invited by mobile
number. Services never commit."""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..audit.services import record
from ..errors import ValidationFailed
from ..org.models import Person, Platform
from .models import Invitation
from .rules import GROUP_ROLES, InviteGroup, group_mismatch_message
from .services import GroupMismatch, ensure_invitable, invite, managed_consultation


@dataclass(frozen=True)
class Invitee:
    """One line of an invitation request: a registered person, or a name and a mobile number."""

    group: InviteGroup
    person_id: int | None = None
    phone: str | None = None
    name: str | None = None


def invite_people(session: Session, *, actor: Person, consultation_id: int,
                  invitees: list[Invitee]) -> list[Invitation]:
    """Invite by person or by mobile number (found, or registered for the first time)."""
    c = managed_consultation(session, consultation_id, actor)
    ensure_invitable(c)  # before anyone is registered by phone: nothing stored when refused
    region_id = session.get(Platform, c.platform_id).region_id

    def person_id(i: Invitee) -> int:
        if i.person_id is not None:
            return i.person_id
        # D9: an unknown number is on no roster: it cannot be a member.
        office = InviteGroup(i.group) in GROUP_ROLES
        found = person_by_phone(session, actor=actor, name=i.name or "", phone=i.phone or "",
                                home_region_id=region_id, create=not office)
        if found is None:
            raise GroupMismatch(group_mismatch_message(
                " ".join((i.name or "").split()) or "该手机号的人员", InviteGroup(i.group)))
        return found.id

    pairs = [(person_id(i), i.group) for i in invitees]
    return invite(session, actor=actor, consultation_id=consultation_id, invitees=pairs)


def person_by_phone(session: Session, *, actor: Person, name: str, phone: str,
                    home_region_id: int | None, create: bool = True) -> Person | None:
    """The person with this mobile number, or a new record (name + encrypted phone) that the
    resident's WeChat login merges into when they bind the same number (app/auth/services.py).
    How a village convenor invites a neighbour who has never used the mini-program. With
    ``create=False``, None when nobody has the number."""
    from ..crypto import get_cipher, normalise_phone
    from ..org import factories

    try:
        number = normalise_phone(phone)
    except ValueError:
        raise ValidationFailed("手机号格式不正确（仅支持中国大陆手机号）", code="invalid_phone") from None
    found = session.scalar(select(Person).where(
        Person.phone_hash == get_cipher().lookup_hash(number)))
    if found is not None or not create:
        return found
    name = " ".join((name or "").split())
    if not name:
        raise ValidationFailed("请填写被邀请人的姓名", code="name_required")
    from ..org.models import Region
    person = factories.create_person(
        session, name=name[:40], phone=number,
        home_region=session.get(Region, home_region_id) if home_region_id else None)
    record(session, actor_id=actor.id, action="person.create_for_invitation",
           object_type="person", object_id=person.id, after={"name": person.name})
    return person



@dataclass
class Suggested:
    person_id: int
    name: str
    reason: str


def suggested_members(session: Session, *, actor: Person, consultation_id: int
                      ) -> list[Suggested]:
    """CPPCC members to invite first (D29): the platform's linked members, then the other
    members of their duty groups. Already invited people are left out."""
    from ..org.models import PlatformMember, Role, RoleAssignment

    c = managed_consultation(session, consultation_id, actor)
    invited = set(session.scalars(select(Invitation.person_id).where(
        Invitation.consultation_id == c.id)))
    members = select(RoleAssignment.person_id).where(  # D9: only serving members
        RoleAssignment.role == Role.member, RoleAssignment.is_active.is_(True))
    linked = session.execute(
        select(Person.id, Person.name).join(PlatformMember, PlatformMember.person_id == Person.id)
        .where(PlatformMember.platform_id == c.platform_id, Person.is_active.is_(True),
               Person.id.in_(members))
        .order_by(Person.id)).all()
    groups = set(session.scalars(select(RoleAssignment.duty_group_id).where(
        RoleAssignment.person_id.in_([pid for pid, _ in linked]),
        RoleAssignment.role == Role.member, RoleAssignment.is_active.is_(True),
        RoleAssignment.duty_group_id.is_not(None)))) if linked else set()
    same_group = session.execute(
        select(Person.id, Person.name).join(RoleAssignment, RoleAssignment.person_id == Person.id)
        .where(RoleAssignment.duty_group_id.in_(groups), RoleAssignment.role == Role.member,
               RoleAssignment.is_active.is_(True), Person.is_active.is_(True))
        .order_by(Person.id)).all() if groups else []
    out: dict[int, Suggested] = {}
    for pid, name in linked:
        out.setdefault(pid, Suggested(pid, name, "本平台联系的委员"))
    for pid, name in same_group:
        out.setdefault(pid, Suggested(pid, name, "同一履职小组的委员"))
    return [s for pid, s in out.items() if pid not in invited]


def suggested_residents(session: Session, *, actor: Person, consultation_id: int
                        ) -> list[Suggested]:
    """Residents who care about the topic (D10 representatives are often among them): who
    proposed, supported or followed the suggestions taken up into it, or follow the topic. Names
    masked: the convenor invites them by id and need not learn more. Invited people left out."""
    from ..crypto import mask_name
    from ..suggestions.models import Follow, Suggestion, Vote

    c = managed_consultation(session, consultation_id, actor)
    invited = set(session.scalars(select(Invitation.person_id).where(
        Invitation.consultation_id == c.id)))
    taken = select(Suggestion.id).where(Suggestion.topic_id == c.topic_id)
    sources = [
        ("提出了相关建议", select(Suggestion.proposer_id).where(Suggestion.topic_id == c.topic_id)),
        ("支持了相关建议", select(Vote.person_id).where(Vote.suggestion_id.in_(taken))),
        ("关注了本议题", select(Follow.person_id).where(
            (Follow.topic_id == c.topic_id) | Follow.suggestion_id.in_(taken))),
    ]
    out: dict[int, Suggested] = {}
    for reason, ids in sources:
        for pid, name in session.execute(select(Person.id, Person.name).where(
                Person.id.in_(ids), Person.is_active.is_(True)).order_by(Person.id)):
            if pid not in invited:
                out.setdefault(pid, Suggested(pid, mask_name(name), reason))
    return list(out.values())
