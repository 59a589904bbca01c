"""Views of a person: /api/me, and the people staff may see within their reach."""
from __future__ import annotations

import logging

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from ..audit.services import record
from ..crypto import PersonalDataCipher, mask_phone, normalise_phone
from ..db import contains_literally
from ..errors import NotFound
from ..org.models import (
    ROLE_LABELS,
    Person,
    Platform,
    PlatformMember,
    Region,
    Role,
    RoleAssignment,
    WechatApp,
)
from .models import LoginSession, StaffAccount
from .permissions import (
    Reach,
    get_person_or_404,
    get_region_or_404,
    person_in_reach_clause,
    reach,
)
from .services import wechat_identities_of

log = logging.getLogger(__name__)

PEOPLE_VIEW = "people.view"
RELATION_LABELS = {"convenor": "召集人", "member": "联系委员"}


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
            conditions.append(contains_literally(Person.name, q))
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
    apps = {i.app for i in wechat_identities_of(session, person.id)}
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


