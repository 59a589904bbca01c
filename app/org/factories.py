"""Small builders for organisation rows: THE way to make regions, units, bodies, platforms,
people and role assignments (demo data, spreadsheet imports, the lead's services, tests).

They add and flush (so ids are known) but never commit and write no audit entry: the caller
decides what the change means and records it (app.audit.services.record).

Conventions the rest of the code relies on (D5, D8, D18, D28):
- a town's CPPCC work committee is `Body(kind=cppcc_work_committee, region=<the town>)`, parent
  the county CPPCC; its head is the director who convenes the town room;
- a village's / community's Party organisation is `Body(kind=party_org, region=<the village>)`;
  an enterprise's is `Body(kind=party_org, enterprise=<it>, region=<its region>)`; head = 书记;
- a town's Party (working) committee is `Body(kind=party_committee, region=<the town>)`;
- a sector room's reviewer is `Sector.special_committee`; its convenor is `Sector.convenor`;
- a platform's convenor is `Platform.convenor` *and* a `convenor` role scoped to the platform
  (use `set_convenor`).
"""
from __future__ import annotations

from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..crypto import PersonalDataCipher, get_cipher, normalise_phone
from ..errors import ValidationFailed
from .models import (
    LEVEL_OF_KIND, PARENT_LEVEL, UNIFIED_NAME, Body, BodyKind, DutyGroup, Enterprise, HostType,
    MemberLevel, Person, Platform, PlatformCheck, PlatformKind, PlatformMember, PlatformServedUnit,
    Region, RegionKind, RegionLevel, Role, RoleAssignment, Sector, SixMust,
)

# D4: rooms carry the unified name; the other kinds keep the brand with their own noun, so a
# unit's room and its mobile room do not collide on (region, name).
PLATFORM_NAME_SUFFIX = {
    PlatformKind.room: UNIFIED_NAME,
    PlatformKind.contact_point: "“有事好商量”委员协商联系点",
    PlatformKind.mobile: "“有事好商量”流动协商议事室",
    PlatformKind.joint: "“有事好商量”联合协商议事室",
}

# Which region kinds may host which platform host type (D2).
_HOST_REGION_KINDS = {
    HostType.town: {RegionKind.township, RegionKind.subdistrict, RegionKind.park},
    HostType.village: {RegionKind.village},
    HostType.community: {RegionKind.community},
}


def _invalid(code: str, message: str) -> ValidationFailed:
    return ValidationFailed(message, code=code)


def platform_name(kind: PlatformKind, unit_name: str) -> str:
    """D4: e.g. 新坝村“有事好商量”协商议事室."""
    return f"{unit_name}{PLATFORM_NAME_SUFFIX[kind]}"


def phone_lookup_hash(phone: str, cipher: PersonalDataCipher | None = None) -> str:
    """The keyed hash a person is found by; raises ValidationFailed on a malformed number."""
    try:
        normalised = normalise_phone(phone)
    except ValueError as exc:
        raise _invalid("invalid_phone", str(exc)) from None
    return (cipher or get_cipher()).lookup_hash(normalised)


def find_person_by_phone(session: Session, phone: str,
                         cipher: PersonalDataCipher | None = None) -> Person | None:
    digest = phone_lookup_hash(phone, cipher)
    return session.scalar(select(Person).where(Person.phone_hash == digest))


# --- regions and units ---------------------------------------------------------------------

def create_region(session: Session, *, code: str, name: str, kind: RegionKind | str,
                  parent: Region | None = None, is_room_eligible: bool = True) -> Region:
    """A region below `parent` (none for the city). Sets `level` from the kind and the
    materialised `path` ("/1/4/17/") once the id is known."""
    kind = RegionKind(kind)
    level = LEVEL_OF_KIND[kind]
    if level is RegionLevel.city:
        if parent is not None:
            raise _invalid("invalid_region_parent", "市级区域不能有上级区域")
    elif parent is None or parent.level is not PARENT_LEVEL[level]:
        raise _invalid("invalid_region_parent", "上级区域的层级不正确")
    region = Region(code=code, name=name, kind=kind, level=level, parent=parent,
                    is_room_eligible=is_room_eligible)
    session.add(region)
    session.flush()
    region.path = (parent.path if parent is not None else "/") + f"{region.id}/"
    session.flush()
    return region


def create_region_chain(session: Session, *, code: str, names: tuple[str, ...]
                        ) -> list[Region]:
    """City → county → town (→ village): one region per name, each below the previous.
    Codes follow the administrative pattern: `code` for the city, then code[:2] + "01",
    + "001", + "001". Kinds: city, county, township, village."""
    kinds = (RegionKind.city, RegionKind.county, RegionKind.township, RegionKind.village)
    if not 1 <= len(names) <= len(kinds):
        raise ValueError("names: city, county[, town[, village]]")
    codes = [code, code[:2] + "01"]
    codes += [codes[-1] + "001", codes[-1] + "001001"]
    chain: list[Region] = []
    for name, kind, region_code in zip(names, kinds, codes):
        chain.append(create_region(session, code=region_code, name=name, kind=kind,
                                   parent=chain[-1] if chain else None))
    return chain


def create_enterprise(session: Session, *, name: str, region: Region,
                      is_room_eligible: bool = True) -> Enterprise:
    """D2: an enterprise or institution is attached to a town-level unit or a county."""
    if region.level not in (RegionLevel.town, RegionLevel.county):
        raise _invalid("invalid_enterprise_region", "企事业单位只能隶属于县区或乡镇（街道、园区）")
    enterprise = Enterprise(name=name, region=region, is_room_eligible=is_room_eligible)
    session.add(enterprise)
    session.flush()
    return enterprise


def create_body(session: Session, *, name: str, kind: BodyKind | str, region: Region,
                head: Person | None = None, parent: Body | None = None,
                enterprise: Enterprise | None = None) -> Body:
    body = Body(name=name, kind=BodyKind(kind), region=region,
                parent_id=parent.id if parent else None,
                head_id=head.id if head else None,
                enterprise_id=enterprise.id if enterprise else None)
    session.add(body)
    session.flush()
    return body


def create_sector(session: Session, *, name: str, region: Region, convenor: Person | None = None,
                  special_committee: Body | None = None, is_room_eligible: bool = True) -> Sector:
    """A sector of the city or a county CPPCC (the region is that CPPCC's region)."""
    if region.level not in (RegionLevel.city, RegionLevel.county):
        raise _invalid("invalid_sector_region", "界别只能属于市或县区政协")
    sector = Sector(name=name, region=region, convenor_id=convenor.id if convenor else None,
                    special_committee_id=special_committee.id if special_committee else None,
                    is_room_eligible=is_room_eligible)
    session.add(sector)
    session.flush()
    return sector


def create_duty_group(session: Session, *, name: str, region: Region) -> DutyGroup:
    """D29: county CPPCCs divide their members into duty groups."""
    if region.level not in (RegionLevel.city, RegionLevel.county):
        raise _invalid("invalid_duty_group_region", "履职小组只能属于市或县区政协")
    group = DutyGroup(name=name, region_id=region.id)
    session.add(group)
    session.flush()
    return group


# --- people and roles ----------------------------------------------------------------------

def create_person(session: Session, *, name: str, phone: str | None = None,
                  home_region: Region | None = None,
                  cipher: PersonalDataCipher | None = None) -> Person:
    """A person; the phone (if any) is normalised, encrypted and hashed (PIPL). Needs an app
    context unless a cipher is given."""
    person = Person(name=name, home_region=home_region)
    if phone:
        try:
            normalised = normalise_phone(phone)
        except ValueError as exc:
            raise _invalid("invalid_phone", str(exc)) from None
        cipher = cipher or get_cipher()
        person.phone_enc = cipher.encrypt(normalised)
        person.phone_hash = cipher.lookup_hash(normalised)
    session.add(person)
    session.flush()
    return person


def scope_key_of(*, region: Region | None = None, body: Body | None = None,
                 platform: Platform | None = None) -> str:
    scopes = [(n, o) for n, o in (("region", region), ("body", body), ("platform", platform))
              if o is not None]
    if len(scopes) != 1:
        raise _invalid("invalid_role_scope", "角色必须且只能有一个范围（区域、机构或平台）")
    name, obj = scopes[0]
    return f"{name}:{obj.id}"


def assign_role(session: Session, person: Person, role: Role | str, *,
                region: Region | None = None, body: Body | None = None,
                platform: Platform | None = None, sector: Sector | None = None,
                member_level: MemberLevel | str | None = None,
                duty_group: DutyGroup | None = None) -> RoleAssignment:
    """Give `person` a role within exactly one scope (a region and everything below it, a body,
    or a platform). Idempotent: the same role in the same scope returns the existing row,
    re-activated, with the member details (D29: sector, level, duty group) that were given."""
    role = Role(role)
    for obj in (region, body, platform, person):
        if obj is not None and obj.id is None:
            session.flush()
    key = scope_key_of(region=region, body=body, platform=platform)
    assignment = session.scalar(select(RoleAssignment).where(
        RoleAssignment.person_id == person.id, RoleAssignment.role == role,
        RoleAssignment.scope_key == key))
    if assignment is None:
        assignment = RoleAssignment(
            person_id=person.id, role=role, scope_key=key,
            region_id=region.id if region else None, body_id=body.id if body else None,
            platform_id=platform.id if platform else None)
        session.add(assignment)
    assignment.is_active = True
    if sector is not None:
        assignment.sector_id = sector.id
    if member_level is not None:
        assignment.member_level = MemberLevel(member_level)
    if duty_group is not None:
        assignment.duty_group_id = duty_group.id
    session.flush()
    return assignment


# --- platforms -----------------------------------------------------------------------------

def create_platform(session: Session, *, kind: PlatformKind | str, host_type: HostType | str,
                    region: Region | None = None, enterprise: Enterprise | None = None,
                    sector: Sector | None = None, name: str | None = None,
                    secondary_name: str | None = None, venue_address: str | None = None,
                    latitude: float | None = None, longitude: float | None = None,
                    convenor: Person | None = None) -> Platform:
    """A platform (D1) of a host unit (D2). `region` is the town/village/community itself; for
    an enterprise or a sector it defaults to the enterprise's region / the sector's CPPCC region.
    The name defaults to the unified name (D4); an older local brand goes in `secondary_name`."""
    kind, host_type = PlatformKind(kind), HostType(host_type)
    if host_type is HostType.enterprise:
        if enterprise is None:
            raise _invalid("invalid_platform_host", "企事业单位平台必须指明企事业单位")
        region = region or enterprise.region
        unit_name = enterprise.name
    elif host_type is HostType.sector:
        if sector is None:
            raise _invalid("invalid_platform_host", "界别平台必须指明界别")
        region = region or sector.region
        unit_name = f"{region.name}政协{sector.name}"
    else:
        if region is None or region.kind not in _HOST_REGION_KINDS[host_type]:
            raise _invalid("invalid_platform_host", "承载单位类型与所属区域不一致")
        unit_name = region.name
    if host_type is not HostType.enterprise and enterprise is not None:
        raise _invalid("invalid_platform_host", "只有企事业单位平台才能指明企事业单位")
    if host_type is not HostType.sector and sector is not None:
        raise _invalid("invalid_platform_host", "只有界别平台才能指明界别")
    if host_type is HostType.enterprise and region.id != enterprise.region_id:
        raise _invalid("invalid_platform_host", "平台所属区域与企事业单位所在区域不一致")
    if host_type is HostType.sector and region.id != sector.region_id:
        raise _invalid("invalid_platform_host", "平台所属区域与界别所属政协不一致")
    platform = Platform(kind=kind, host_type=host_type, region=region, enterprise=enterprise,
                        sector=sector, name=name or platform_name(kind, unit_name),
                        secondary_name=secondary_name, venue_address=venue_address,
                        latitude=latitude, longitude=longitude)
    session.add(platform)
    session.flush()
    if convenor is not None:
        set_convenor(session, platform, convenor)
    return platform


def set_convenor(session: Session, platform: Platform, person: Person) -> RoleAssignment:
    """D28: make `person` the platform's convenor (the column and a platform-scoped role); the
    previous convenor's role on this platform is deactivated."""
    previous = platform.convenor_id
    if previous is not None and previous != person.id:
        old = session.scalar(select(RoleAssignment).where(
            RoleAssignment.person_id == previous, RoleAssignment.role == Role.convenor,
            RoleAssignment.scope_key == f"platform:{platform.id}"))
        if old is not None:
            old.is_active = False
    platform.convenor_id = person.id
    return assign_role(session, person, Role.convenor, platform=platform)


def add_served_unit(session: Session, platform: Platform, *, region: Region | None = None,
                    enterprise: Enterprise | None = None) -> PlatformServedUnit:
    """D2 coverage: a joint, mobile or contact-point platform also serves this unit (idempotent)."""
    if (region is None) == (enterprise is None):
        raise _invalid("invalid_served_unit", "服务单位必须是一个区域或一个企事业单位")
    if platform.kind is PlatformKind.room:
        raise _invalid("invalid_served_unit", "只有联系点、流动或联合议事室可以服务其他单位")
    row = session.scalar(select(PlatformServedUnit).where(
        PlatformServedUnit.platform_id == platform.id,
        PlatformServedUnit.region_id == (region.id if region else None),
        PlatformServedUnit.enterprise_id == (enterprise.id if enterprise else None)))
    if row is None:
        row = PlatformServedUnit(platform_id=platform.id, region_id=region.id if region else None,
                                 enterprise_id=enterprise.id if enterprise else None)
        session.add(row)
        session.flush()
    return row


def set_check(session: Session, platform: Platform, must: SixMust | str, *, is_met: bool,
              evidence: str | None = None, checked_on: date | None = None,
              checked_by: Person | None = None) -> PlatformCheck:
    """D3: record one of the six musts of a platform (creates or updates the row)."""
    must = SixMust(must)
    check = session.scalar(select(PlatformCheck).where(
        PlatformCheck.platform_id == platform.id, PlatformCheck.must == must))
    if check is None:
        check = PlatformCheck(platform_id=platform.id, must=must)
        session.add(check)
    check.is_met = is_met
    check.evidence = evidence
    check.checked_on = checked_on
    check.checked_by_id = checked_by.id if checked_by else None
    session.flush()
    return check


def link_member(session: Session, platform: Platform, person: Person) -> PlatformMember:
    """D29: link a CPPCC member to a platform (idempotent)."""
    row = session.scalar(select(PlatformMember).where(
        PlatformMember.platform_id == platform.id, PlatformMember.person_id == person.id))
    if row is None:
        row = PlatformMember(platform_id=platform.id, person_id=person.id)
        session.add(row)
        session.flush()
    return row
