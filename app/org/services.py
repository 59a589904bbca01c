"""Organisation use cases: the public region and platform views, six-musts updates (D3), member
links (D29) and the D28 convenor resolver. Staff reports live in app/org/reports.py.

Services take a Session and plain values, never commit, and record an audit entry for every
change. List queries load what they need in a fixed number of statements (no N+1).
"""
from __future__ import annotations

import base64
import binascii
import json
import math
from dataclasses import dataclass
from datetime import date, datetime
from typing import Iterable, Sequence

from sqlalchemy import and_, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, aliased

from ..audit.services import record, snapshot
from ..crypto import mask_name
from ..db import utcnow
from ..errors import NotFound, ValidationFailed
from ..workdays import CHINA_TZ
from . import factories
from .models import (
    Body, BodyKind, Enterprise, HostType, Person, Platform, PlatformCheck, PlatformKind,
    PlatformMember, Region, Role, RoleAssignment, Sector, SixMust,
)
from .rules import (
    HOST_TYPE_LABELS, PLATFORM_KIND_LABELS, CheckInfo, ConvenorExpectation, ConvenorSource,
    ConvenorStatus, SixMustsStatus, check_convenor, expected_convenor, six_musts_required,
    six_musts_status,
)

# Dates of checks are local dates; China has one time zone and no daylight saving.
EARTH_RADIUS_KM = 6371.0088
KM_PER_DEGREE_LAT = 111.32


def today_local() -> date:
    return utcnow().astimezone(CHINA_TZ).date()  # utcnow: the demo story's clock honours it


# --- regions -----------------------------------------------------------------------------------

def list_regions(session: Session, parent_id: int | None = None, depth: int = 1) -> list[dict]:
    """The children of `parent_id` (the top-level regions without it), `depth` levels deep.
    Public: names and kinds only. One statement per level."""
    if parent_id is not None and session.get(Region, parent_id) is None:
        raise NotFound("该区域不存在", code="region_not_found")
    columns = (Region.id, Region.name, Region.kind, Region.level, Region.parent_id)
    level_rows = session.execute(
        select(*columns).where(Region.parent_id.is_(None) if parent_id is None
                               else Region.parent_id == parent_id).order_by(Region.code, Region.id)
    ).all()
    top = [_region_node(r) for r in level_rows]
    frontier = {n["id"]: n for n in top}
    for _ in range(depth - 1):
        if not frontier:
            break
        rows = session.execute(
            select(*columns).where(Region.parent_id.in_(list(frontier)))
            .order_by(Region.code, Region.id)
        ).all()
        for node in frontier.values():
            node["children"] = []
        nxt = {}
        for r in rows:
            node = _region_node(r)
            frontier[r.parent_id]["children"].append(node)
            nxt[node["id"]] = node
        frontier = nxt
    return top


def _region_node(row) -> dict:
    return {"id": row.id, "name": row.name, "kind": row.kind.value, "level": row.level.value,
            "children": None}


# --- the public platform list ------------------------------------------------------------------

def haversine_km(lat1: float, lng1: float, lat2: float, lng2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lng2 - lng1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(a)))


def encode_cursor(data: dict) -> str:
    raw = json.dumps(data, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, *, nearby: bool) -> dict:
    """The keyset position of a page: {"id"} for the plain list, {"d", "id"} for nearby."""
    try:
        data = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        ok = isinstance(data, dict) and isinstance(data.get("id"), int)
        if nearby:
            ok = ok and isinstance(data.get("d"), (int, float))
    except (ValueError, binascii.Error, UnicodeDecodeError):
        ok = False
    if not ok:
        raise ValidationFailed("cursor：分页标记无效，请从第一页重新查询", code="invalid_cursor",
                               details=[{"field": "cursor", "message": "分页标记无效"}])
    return data


@dataclass(frozen=True)
class NearPoint:
    lat: float
    lng: float
    radius_km: float


_HostEnterprise = aliased(Enterprise)
_HostSector = aliased(Sector)


def _platform_rows_query():
    """Platforms with their region and host names: one statement however many rows."""
    return (
        select(Platform, Region.name.label("region_name"),
               _HostEnterprise.name.label("enterprise_name"),
               _HostSector.name.label("sector_name"))
        .join(Region, Region.id == Platform.region_id)
        .outerjoin(_HostEnterprise, _HostEnterprise.id == Platform.enterprise_id)
        .outerjoin(_HostSector, _HostSector.id == Platform.sector_id)
        .where(Platform.is_active.is_(True))
    )


def host_name(platform: Platform, region_name: str, enterprise_name: str | None,
               sector_name: str | None) -> str:
    if platform.host_type is HostType.enterprise:
        return enterprise_name or ""
    if platform.host_type is HostType.sector:
        return f"{region_name}政协{sector_name or ''}"
    return region_name


def _summary(row, distance_km: float | None = None) -> dict:
    p: Platform = row[0]
    return {
        "id": p.id, "name": p.name, "secondary_name": p.secondary_name,
        "kind": p.kind.value, "kind_label": PLATFORM_KIND_LABELS[p.kind],
        "host_type": p.host_type.value, "host_label": HOST_TYPE_LABELS[p.host_type],
        "host_name": host_name(p, row.region_name, row.enterprise_name, row.sector_name),
        "region_id": p.region_id, "region_name": row.region_name,
        "venue_address": p.venue_address, "latitude": p.latitude, "longitude": p.longitude,
        "distance_km": None if distance_km is None else round(distance_km, 3),
    }


def list_platforms(session: Session, *, region_id: int | None = None,
                   kind: PlatformKind | None = None, host_type: HostType | None = None,
                   near: NearPoint | None = None, limit: int = 20, cursor: str | None = None
                   ) -> tuple[list[dict], str | None]:
    """Active platforms, public fields only; returns (items, next_cursor).

    The region filter includes every region below it (Region.path). Without `near` the list is
    in id order with an id keyset; with `near` it holds the platforms within the radius sorted
    by distance (haversine over a bounding-box-prefiltered query), keyset (distance, id)."""
    position = decode_cursor(cursor, nearby=near is not None) if cursor else None
    stmt = _platform_rows_query()
    if region_id is not None:
        path = session.scalar(select(Region.path).where(Region.id == region_id))
        if path is None:
            raise NotFound("该区域不存在", code="region_not_found")
        stmt = stmt.where(Region.path.startswith(path, autoescape=True))
    if kind is not None:
        stmt = stmt.where(Platform.kind == kind)
    if host_type is not None:
        stmt = stmt.where(Platform.host_type == host_type)

    if near is None:
        if position is not None:
            stmt = stmt.where(Platform.id > position["id"])
        rows = session.execute(stmt.order_by(Platform.id).limit(limit + 1)).all()
        page = rows[:limit]
        nxt = encode_cursor({"id": page[-1][0].id}) if len(rows) > limit else None
        return [_summary(r) for r in page], nxt

    dlat = near.radius_km / KM_PER_DEGREE_LAT
    dlng = near.radius_km / (KM_PER_DEGREE_LAT * max(math.cos(math.radians(near.lat)), 0.01))
    stmt = stmt.where(Platform.latitude.between(near.lat - dlat, near.lat + dlat),
                      Platform.longitude.between(near.lng - dlng, near.lng + dlng))
    found = []
    for row in session.execute(stmt).all():
        p = row[0]
        # Rounded so the cursor (which carries the rounded value) compares exactly.
        d = round(haversine_km(near.lat, near.lng, p.latitude, p.longitude), 6)
        if d <= near.radius_km:
            found.append((d, p.id, row))
    found.sort(key=lambda t: (t[0], t[1]))
    if position is not None:
        key = (float(position["d"]), position["id"])
        found = [t for t in found if (t[0], t[1]) > key]
    page = found[:limit]
    nxt = (encode_cursor({"d": page[-1][0], "id": page[-1][1]})
           if len(found) > limit else None)
    return [_summary(row, d) for d, _, row in page], nxt


# --- the public platform detail ----------------------------------------------------------------

def load_six_musts(session: Session, platform_id: int, today: date | None = None
                   ) -> SixMustsStatus:
    checks = session.scalars(select(PlatformCheck).where(PlatformCheck.platform_id == platform_id))
    return six_musts_status([_check_info(c) for c in checks], today or today_local())


def _check_info(c: PlatformCheck) -> CheckInfo:
    return CheckInfo(must=c.must, is_met=c.is_met, evidence=c.evidence, checked_on=c.checked_on)


def six_musts_dict(status: SixMustsStatus, *, with_evidence: bool, required: bool = True
                   ) -> dict:
    items = []
    for r in status.results:
        item = {"must": r.must.value, "label": r.label, "status": r.status.value,
                "status_label": r.status_label, "checked_on": r.checked_on}
        if with_evidence:
            item["evidence"] = r.evidence
        items.append(item)
    return {"required": required, "is_compliant": status.is_compliant,
            "missing": status.missing_labels, "items": items}


def platform_detail(session: Session, platform_id: int) -> dict:
    """An active platform for the public: no personal data (the convenor as role + masked name,
    members only as a count, never a phone)."""
    row = session.execute(_platform_rows_query().where(Platform.id == platform_id)).first()
    if row is None:
        raise NotFound("该平台不存在", code="platform_not_found")
    p: Platform = row[0]
    detail = _summary(row)
    region_path = session.scalar(select(Region.path).where(Region.id == p.region_id)) or ""
    ids = [int(x) for x in region_path.strip("/").split("/") if x]
    names = dict(session.execute(select(Region.id, Region.name).where(Region.id.in_(ids))).all())
    detail["region_names"] = [names[i] for i in ids if i in names]
    detail["six_musts"] = six_musts_dict(load_six_musts(session, p.id), with_evidence=False,
                                         required=six_musts_required(p.kind))
    detail["member_count"] = member_count(session, p.id)
    convenor = None
    if p.convenor_id is not None:
        name = session.scalar(select(Person.name).where(Person.id == p.convenor_id))
        convenor = {"role": "召集人", "name": mask_name(name or "")}
    detail["convenor"] = convenor
    return detail


def member_count(session: Session, platform_id: int) -> int:
    return session.scalar(select(func.count()).select_from(PlatformMember)
                          .where(PlatformMember.platform_id == platform_id)) or 0


# --- D3: updating one of the six musts ---------------------------------------------------------

_CHECK_FIELDS = ["platform_id", "must", "is_met", "evidence", "checked_on", "checked_by_id"]


def update_platform_check(session: Session, *, actor: Person, platform: Platform, must: SixMust,
                          is_met: bool, evidence: str | None, checked_on: date | None
                          ) -> PlatformCheck:
    """D3: record whether one must is met, with its evidence and the check date (default today),
    and audit the change (before/after). The caller has checked the actor's reach."""
    today = today_local()
    checked_on = checked_on or today
    if checked_on > today:
        raise ValidationFailed("checked_on：检查日期不能晚于今天", code="check_date_in_future",
                               details=[{"field": "checked_on", "message": "检查日期不能晚于今天"}])
    evidence = (evidence or "").strip() or None
    existing = session.scalar(select(PlatformCheck).where(
        PlatformCheck.platform_id == platform.id, PlatformCheck.must == must))
    before = snapshot(existing, _CHECK_FIELDS) if existing is not None else None
    try:
        with session.begin_nested():
            check = factories.set_check(session, platform, must, is_met=is_met, evidence=evidence,
                                        checked_on=checked_on, checked_by=actor)
    except IntegrityError:
        # A concurrent first write of the same must won the unique (platform, must): update it.
        check = factories.set_check(session, platform, must, is_met=is_met, evidence=evidence,
                                    checked_on=checked_on, checked_by=actor)
    record(session, actor_id=actor.id, action="platform.check.update", object_type="platform",
           object_id=platform.id, before=before, after=snapshot(check, _CHECK_FIELDS))
    return check


# --- D29: linking members to platforms ---------------------------------------------------------

def _member_or_404(session: Session, person_id: int, platform: Platform, platform_path: str,
                   *, any_level: bool) -> Person:
    """An active person holding an active CPPCC member role. Unless `any_level`, the role's
    scope must lie on the platform's line of regions (D29): a member of the city or of the
    platform's own county links to a village room there; a member of another county does not.
    Anyone else is "not found", so the endpoint does not reveal which other people exist or
    where they serve."""
    scope_region = func.coalesce(RoleAssignment.region_id, Body.region_id)
    rows = session.execute(
        select(Person, Region.path)
        .join(RoleAssignment, and_(RoleAssignment.person_id == Person.id,
                                   RoleAssignment.role == Role.member,
                                   RoleAssignment.is_active.is_(True)))
        .outerjoin(Body, Body.id == RoleAssignment.body_id)
        .join(Region, Region.id == scope_region)
        .where(Person.id == person_id, Person.is_active.is_(True))).all()
    for person, member_path in rows:
        if any_level or (platform_path and (platform_path.startswith(member_path)
                                            or member_path.startswith(platform_path))):
            return person
    raise NotFound("该政协委员不存在", code="member_not_found")


def link_platform_member(session: Session, *, actor: Person, platform: Platform, person_id: int
                         ) -> tuple[bool, int]:
    """D29: link a CPPCC member to a platform. Returns (newly_linked, member_count);
    linking twice changes nothing and writes no audit entry.

    A convenor or liaison links members serving on the platform's line of regions (the city,
    its county, …); members of any level come "through the city/county CPPCC" (D29): CPPCC
    staff whose reach covers the platform may link any active member."""
    from ..auth.permissions import reach

    platform_path = session.scalar(select(Region.path).where(Region.id == platform.region_id))
    via_cppcc = reach(session, actor, "people.view").covers_platform(platform,
                                                                     platform_path or "")
    person = _member_or_404(session, person_id, platform, platform_path or "",
                            any_level=via_cppcc)
    exists = session.scalar(select(PlatformMember.id).where(
        PlatformMember.platform_id == platform.id, PlatformMember.person_id == person.id))
    created = exists is None
    if created:
        try:
            with session.begin_nested():
                factories.link_member(session, platform, person)
        except IntegrityError:
            created = False  # linked concurrently by someone else
    if created:
        record(session, actor_id=actor.id, action="platform.member.link", object_type="platform",
               object_id=platform.id, before=None, after={"person_id": person.id})
    return created, member_count(session, platform.id)


def unlink_platform_member(session: Session, *, actor: Person, platform: Platform, person_id: int
                           ) -> int:
    """D29: remove a member's link to a platform; returns the members still linked (the
    reports flag a platform left with none)."""
    link = session.scalar(select(PlatformMember).where(
        PlatformMember.platform_id == platform.id, PlatformMember.person_id == person_id))
    if link is None:
        raise NotFound("该委员未联系此平台", code="member_link_not_found")
    session.delete(link)
    session.flush()
    record(session, actor_id=actor.id, action="platform.member.unlink", object_type="platform",
           object_id=platform.id, before={"person_id": person_id}, after=None)
    return member_count(session, platform.id)


# --- D28: the convenor resolver ----------------------------------------------------------------

@dataclass(frozen=True)
class ConvenorFinding:
    platform_id: int
    expectation: ConvenorExpectation
    expected_ids: tuple[int, ...]
    convenor_id: int | None
    status: ConvenorStatus


_TOWN_SOURCE_KINDS = {
    ConvenorSource.work_committee_director: BodyKind.cppcc_work_committee,
    ConvenorSource.town_party_committee_head: BodyKind.party_committee,
    ConvenorSource.party_org_head: BodyKind.party_org,
}


def resolve_convenors(session: Session, platforms: Sequence[Platform]) -> list[ConvenorFinding]:
    """D28: for each platform, the person(s) who should convene it — heads of the bodies named by
    `expected_convenor` (Body.head_id) or the sector's convenor (Sector.convenor_id) — compared
    with Platform.convenor_id. Two statements however many platforms."""
    region_ids = {p.region_id for p in platforms
                  if p.host_type in (HostType.town, HostType.village, HostType.community)}
    enterprise_ids = {p.enterprise_id for p in platforms if p.enterprise_id is not None}
    sector_ids = {p.sector_id for p in platforms if p.sector_id is not None}

    heads: dict[tuple, set[int]] = {}
    conditions = []
    if region_ids:
        conditions.append(and_(Body.region_id.in_(sorted(region_ids)),
                               Body.enterprise_id.is_(None),
                               Body.kind.in_(list(_TOWN_SOURCE_KINDS.values()))))
    if enterprise_ids:
        conditions.append(and_(Body.enterprise_id.in_(sorted(enterprise_ids)),
                               Body.kind == BodyKind.party_org))
    if conditions:
        rows = session.execute(select(Body.kind, Body.region_id, Body.enterprise_id, Body.head_id)
                               .where(or_(*conditions), Body.head_id.is_not(None)))
        for kind, region_id, enterprise_id, head_id in rows:
            key = ("enterprise", enterprise_id) if enterprise_id else (kind, region_id)
            heads.setdefault(key, set()).add(head_id)
    sector_convenors: dict[int, int | None] = {}
    if sector_ids:
        sector_convenors = dict(session.execute(
            select(Sector.id, Sector.convenor_id).where(Sector.id.in_(sorted(sector_ids)))).all())

    findings = []
    for p in platforms:
        expectation = expected_convenor(p.host_type, p.kind)
        expected: list[int] = []
        for source in expectation.sources:
            if source is ConvenorSource.sector_convenor:
                found = {sector_convenors.get(p.sector_id)} - {None}
            elif source is ConvenorSource.enterprise_party_secretary:
                found = heads.get(("enterprise", p.enterprise_id), set())
            else:
                found = heads.get((_TOWN_SOURCE_KINDS[source], p.region_id), set())
            expected.extend(sorted(i for i in found if i not in expected))
        findings.append(ConvenorFinding(
            platform_id=p.id, expectation=expectation, expected_ids=tuple(expected),
            convenor_id=p.convenor_id, status=check_convenor(expected, p.convenor_id)))
    return findings


def people_names(session: Session, ids: Iterable[int]) -> dict[int, str]:
    wanted = sorted(set(ids))
    if not wanted:
        return {}
    return dict(session.execute(select(Person.id, Person.name).where(Person.id.in_(wanted))).all())
