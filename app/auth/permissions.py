"""One permission check for every endpoint: role × jurisdiction.

- `authorize(action)` (run by app.api.endpoint before the view): the caller must be logged in
  and, unless the action is "login", hold at least one role that the action allows → else 403.
- `reach(person, action)`: where those roles apply. A role scoped to a region covers it and
  everything below it; one scoped to a body covers the body's region; one scoped to a platform
  covers that platform only.
- Loaders `get_*_or_404` answer 404 (never 403) for objects outside the caller's reach, so the
  existence of other counties' people or platforms is not revealed (no IDOR).
"""
from __future__ import annotations

from dataclasses import dataclass

from flask import has_request_context
from sqlalchemy import ColumnElement, false, or_, select
from sqlalchemy.orm import Session, selectinload

from ..errors import Forbidden, NotFound
from ..org.models import Body, Person, Platform, Region, Role, RoleAssignment
from .current import request_cache, require_person

# The permission matrix: action → roles that may perform it (within their reach).
ACTIONS: dict[str, frozenset[Role]] = {
    "org.reports.view": frozenset({Role.staff, Role.admin}),
    "people.view": frozenset({Role.staff, Role.admin}),
    # Issue a link code that attaches a WeChat to a named person (app/chat/links.py; the
    # convenor's way, for people invited to their meeting, is checked there).
    "person.link": frozenset({Role.staff, Role.admin}),
    "platform.manage": frozenset({Role.staff, Role.admin, Role.convenor, Role.liaison}),
    "platform.members.view": frozenset({Role.staff, Role.admin, Role.convenor, Role.liaison}),
    "audit.view": frozenset({Role.admin, Role.staff}),
    # Topics (D8): the platform's convenor or CPPCC staff draft and submit; reviewers act for
    # their body on the steps of the chain.
    "topic.manage": frozenset({Role.convenor, Role.staff, Role.admin}),
    "topic.review": frozenset({Role.reviewer}),
    # D7 公开征集: CPPCC staff within their reach, or a convenor for their own platform.
    "campaign.manage": frozenset({Role.staff, Role.admin, Role.convenor}),
    # D7 点题 on behalf of a Party committee / government: staff within reach (the body's own
    # reviewers may too — checked per body in app/suggestions/services.py).
    "suggestion.assign": frozenset({Role.staff, Role.admin}),
    "content.moderate": frozenset({Role.convenor, Role.staff, Role.admin}),  # held content
    # D20–D21: department handlers act on their departments' tasks (checked per task).
    "handling.act": frozenset({Role.dept_handler}),
    # D24: CPPCC staff flag key items, name supervising members and watch overdue items.
    "followup.supervise": frozenset({Role.staff, Role.admin}),
}


@dataclass(frozen=True)
class Grant:
    role: Role
    region_path: str | None  # region- or body-scoped
    platform_id: int | None  # platform-scoped


@dataclass(frozen=True)
class Reach:
    region_paths: tuple[str, ...]
    platform_ids: frozenset[int]

    def covers_path(self, path: str | None) -> bool:
        return bool(path) and any(path.startswith(p) for p in self.region_paths)

    def covers_platform(self, platform: Platform, region_path: str) -> bool:
        return platform.id in self.platform_ids or self.covers_path(region_path)

    def region_clause(self, path_column) -> ColumnElement[bool]:
        """SQL: path_column lies within this reach (for list queries)."""
        if not self.region_paths:
            return false()
        return or_(*(path_column.startswith(p, autoescape=True) for p in self.region_paths))

    def platform_clause(self, platform_id_column, region_path_column) -> ColumnElement[bool]:
        clauses = [self.region_clause(region_path_column)]
        if self.platform_ids:
            clauses.append(platform_id_column.in_(sorted(self.platform_ids)))
        return or_(*clauses)


def grants_of(session: Session, person: Person) -> list[Grant]:
    """The person's active role assignments, resolved to region paths (cached per request)."""
    cache = request_cache().setdefault("grants", {}) if has_request_context() else {}
    if person.id in cache:
        return cache[person.id]
    rows = session.scalars(
        select(RoleAssignment)
        .where(RoleAssignment.person_id == person.id, RoleAssignment.is_active.is_(True))
        .options(selectinload(RoleAssignment.region),
                 selectinload(RoleAssignment.body).selectinload(Body.region))
    ).all()
    grants = []
    for ra in rows:
        if ra.region is not None:
            grants.append(Grant(ra.role, ra.region.path, None))
        elif ra.body is not None:
            grants.append(Grant(ra.role, ra.body.region.path, None))
        elif ra.platform_id is not None:
            grants.append(Grant(ra.role, None, ra.platform_id))
    cache[person.id] = grants
    return grants


def allowed_roles(action: str) -> frozenset[Role]:
    try:
        return ACTIONS[action]
    except KeyError:
        raise LookupError(f"unknown permission action {action!r}") from None


def reach(session: Session, person: Person, action: str) -> Reach:
    roles = allowed_roles(action)
    paths, platforms = [], set()
    for grant in grants_of(session, person):
        if grant.role not in roles:
            continue
        if grant.region_path:
            paths.append(grant.region_path)
        if grant.platform_id is not None:
            platforms.add(grant.platform_id)
    # Drop paths already covered by a shorter one.
    paths.sort(key=len)
    kept: list[str] = []
    for p in paths:
        if not any(p.startswith(k) for k in kept):
            kept.append(p)
    return Reach(tuple(kept), frozenset(platforms))


def has_any_role(session: Session, person: Person, action: str) -> bool:
    roles = allowed_roles(action)
    return any(grant.role in roles for grant in grants_of(session, person))


def authorize(action: str) -> Person:
    """Entry check of every protected endpoint: 401 without login, 403 without a fitting role."""
    from ..db import get_session

    person = require_person()
    if action != "login":
        if not has_any_role(get_session(), person, action):
            raise Forbidden()
    return person


# --- loaders: 404 outside the caller's reach -------------------------------------------------

def _region_path(session: Session, region_id: int | None) -> str | None:
    if region_id is None:
        return None
    return session.scalar(select(Region.path).where(Region.id == region_id))


def get_region_or_404(session: Session, region_id: int, person: Person, action: str) -> Region:
    region = session.get(Region, region_id)
    if region is None or not reach(session, person, action).covers_path(region.path):
        raise NotFound("该区域不存在或不在您的管辖范围内", code="region_not_found")
    return region


def get_platform_or_404(session: Session, platform_id: int, person: Person | None = None,
                        action: str | None = None) -> Platform:
    """Without an action: any active platform (public view). With one: within reach."""
    platform = session.get(Platform, platform_id)
    if platform is None or (action is None and not platform.is_active):
        raise NotFound("该平台不存在", code="platform_not_found")
    if action is not None:
        assert person is not None
        if not reach(session, person, action).covers_platform(
                platform, _region_path(session, platform.region_id) or ""):
            raise NotFound("该平台不存在", code="platform_not_found")
    return platform


def person_in_reach_clause(r: Reach) -> ColumnElement[bool]:
    """SQL: a person lives in, or holds a role within, the reach."""
    if not r.region_paths and not r.platform_ids:
        return false()
    home = select(Region.id).where(r.region_clause(Region.path))
    # Only active assignments count: a role someone no longer holds does not keep them
    # visible to that area's staff.
    active = RoleAssignment.is_active.is_(True)
    role_regions = (
        select(RoleAssignment.person_id)
        .join(Region, Region.id == RoleAssignment.region_id)
        .where(active, r.region_clause(Region.path))
    )
    role_bodies = (
        select(RoleAssignment.person_id)
        .join(Body, Body.id == RoleAssignment.body_id)
        .join(Region, Region.id == Body.region_id)
        .where(active, r.region_clause(Region.path))
    )
    role_platforms = (
        select(RoleAssignment.person_id)
        .join(Platform, Platform.id == RoleAssignment.platform_id)
        .join(Region, Region.id == Platform.region_id)
        .where(active, r.platform_clause(Platform.id, Region.path))
    )
    return or_(
        Person.home_region_id.in_(home) if r.region_paths else false(),
        Person.id.in_(role_regions) if r.region_paths else false(),
        Person.id.in_(role_bodies) if r.region_paths else false(),
        Person.id.in_(role_platforms),
    )


def get_person_or_404(session: Session, person_id: int, viewer: Person, action: str) -> Person:
    r = reach(session, viewer, action)
    person = session.scalar(
        select(Person).where(Person.id == person_id, person_in_reach_clause(r))
    )
    if person is None:
        raise NotFound("该人员不存在或不在您的管辖范围内", code="person_not_found")
    return person
