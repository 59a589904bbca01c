"""Spreadsheet imports of platforms and people (`flask import-platforms|import-people FILE.xlsx`).

Columns, allowed values and the error report are documented for staff in docs/imports.md.
Each row is all-or-nothing (a savepoint per row); good rows are imported, bad rows reported with
their Excel row number and a Chinese reason. Re-importing a file changes nothing: platforms are
matched by (region, name) and updated from non-empty cells; people by phone number; a role in
the same scope is not assigned twice. The functions never commit; the caller does.
"""
from __future__ import annotations

import re
from datetime import date
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..audit.services import record, snapshot
from ..crypto import PersonalDataCipher, get_cipher, mask_name
from ..db import utcnow
from . import factories as f
from .import_sheet import Column, ImportReport, RowInvalid, run_rows
from .models import (
    ROLE_LABELS, SIX_MUST_LABELS, Body, BodyKind, DutyGroup, Enterprise, HostType, MemberLevel,
    Person, Platform, PlatformCheck, PlatformKind, PlatformMember, PlatformServedUnit, Region,
    RegionLevel, Role, RoleAssignment, Sector,
)

PLATFORM_KINDS = {
    "协商议事室": PlatformKind.room,
    "委员协商联系点": PlatformKind.contact_point,
    "流动协商议事室": PlatformKind.mobile,
    "联合协商议事室": PlatformKind.joint,
}
HOST_TYPES = {
    "乡镇（街道、园区）": HostType.town, "乡镇": HostType.town, "街道": HostType.town,
    "园区": HostType.town, "村": HostType.village, "行政村": HostType.village,
    "社区": HostType.community, "企事业单位": HostType.enterprise, "企业": HostType.enterprise,
    "事业单位": HostType.enterprise, "界别": HostType.sector,
}
ROLES = {label: role for role, label in ROLE_LABELS.items() if role is not Role.admin}
ROLES["委员"] = Role.member
MEMBER_LEVELS = {
    "全国": MemberLevel.national, "省": MemberLevel.provincial, "市": MemberLevel.city,
    "县": MemberLevel.county, "区": MemberLevel.county, "县（区）": MemberLevel.county,
    "县区": MemberLevel.county,
}
SCOPE_TYPES = {"区域": "region", "机构": "body", "平台": "platform"}
# Which scopes each role may have (permissions are role × jurisdiction).
ALLOWED_SCOPES = {
    Role.resident: {"region"}, Role.member: {"region"}, Role.convenor: {"platform"},
    Role.liaison: {"body", "platform"}, Role.reviewer: {"body"}, Role.dept_handler: {"body"},
    Role.staff: {"region"},
}
SCOPE_LABELS = {"region": "区域", "body": "机构", "platform": "平台"}

PLATFORM_COLUMNS = [
    Column("平台名称", "name", max_len=128),
    Column("平台类型", "kind", "choice", required=True, choices=PLATFORM_KINDS),
    Column("承载单位类型", "host_type", "choice", required=True, choices=HOST_TYPES),
    Column("所属区域编码", "region_code", "code", required=True, max_len=32),
    Column("企事业单位名称", "enterprise", max_len=128, aliases=("企业名称",)),
    Column("界别", "sector", max_len=64),
    Column("原有名称", "secondary_name", max_len=128),
    Column("地址", "address", max_len=255),
    Column("纬度", "latitude", "number"),
    Column("经度", "longitude", "number"),
    Column("召集人姓名", "convenor_name", max_len=64),
    Column("召集人手机号", "convenor_phone", "phone"),
    Column("服务单位编码", "served", "list", max_len=1000),
    *[Column(label, f"must:{must.value}", max_len=500) for must, label in SIX_MUST_LABELS.items()],
    Column("核查日期", "checked_on", "date"),
]
PEOPLE_COLUMNS = [
    Column("姓名", "name", required=True, max_len=64),
    Column("手机号", "phone", "phone", required=True),
    Column("所属区域编码", "home_code", "code", max_len=32),
    Column("角色", "role", "choice", choices=ROLES),
    Column("角色范围类型", "scope_type", "choice", choices=SCOPE_TYPES),
    Column("角色范围", "scope", "code", max_len=128),
    Column("界别", "sector", max_len=64),
    Column("委员层级", "level", "choice", choices=MEMBER_LEVELS),
    Column("履职小组", "duty_group", max_len=64),
    Column("关联平台", "platforms", "list", max_len=1000),
]
_MUST_VALUE = re.compile(r"^(是|否|有|无)\s*(?:[:：]\s*(.*))?$", re.S)
# Rough bounds of China: catches swapped or mistyped coordinates.
_LAT, _LON = (3.0, 54.0), (73.0, 136.0)
_TZ = ZoneInfo("Asia/Shanghai")


def _today() -> date:
    return utcnow().astimezone(_TZ).date()


def _region(session: Session, code: str, header: str = "所属区域编码") -> Region:
    region = session.scalar(select(Region).where(Region.code == code))
    if region is None:
        raise RowInvalid(f"「{header}」{code} 不存在，请核对区域编码")
    return region


def _county_path(region: Region) -> str | None:
    parts = region.path.strip("/").split("/")
    return "/" + "/".join(parts[:2]) + "/" if len(parts) >= 2 else None


def _registered(session: Session, model, region: Region, name: str, notes: list[str],
                label: str, create):
    """Find a unit of `region` by name, registering it (with a note in the report) if new."""
    row = session.scalar(select(model).where(model.region_id == region.id, model.name == name))
    if row is None:
        row = create(session, name=name, region=region)
        record(session, actor_id=None, action=f"import.{model.__tablename__}.create",
               object_type=model.__tablename__, object_id=row.id, after=snapshot(row))
        notes.append(f"新登记{label}「{name}」（{region.name}）")
    return row


def _unique_by_name(session: Session, model, name: str, label: str):
    rows = session.scalars(select(model).where(model.name == name).limit(2)).all()
    if not rows:
        raise RowInvalid(f"{label}「{name}」不存在，请核对名称")
    if len(rows) > 1:
        raise RowInvalid(f"{label}名称「{name}」不唯一，请联系管理员处理")
    return rows[0]


def _find_or_create_person(session: Session, *, name: str | None, phone: str,
                           home: Region | None, cipher: PersonalDataCipher,
                           name_header: str) -> tuple[Person, bool]:
    person = f.find_person_by_phone(session, phone, cipher)
    if person is None:
        if not name:
            raise RowInvalid(f"该手机号尚未登记，请同时填写「{name_header}」")
        person = f.create_person(session, name=name, phone=phone, home_region=home, cipher=cipher)
        record(session, actor_id=None, action="import.person.create", object_type="person",
               object_id=person.id, after=snapshot(person, ["id", "name", "home_region_id"]))
        return person, True
    if name and person.name != name:
        raise RowInvalid(f"该手机号已登记为「{mask_name(person.name)}」，与本行姓名不一致，未导入")
    return person, False


# --- platforms -----------------------------------------------------------------------------

def _platform_row(session: Session, v: dict, notes: list[str],
                  cipher: PersonalDataCipher) -> tuple[tuple, str]:
    region = _region(session, v["region_code"])
    kind, host = v["kind"], v["host_type"]
    enterprise = sector = None
    if host is HostType.enterprise:
        if not v["enterprise"]:
            raise RowInvalid("承载单位为企事业单位时，「企事业单位名称」不能为空")
        enterprise = _registered(session, Enterprise, region, v["enterprise"], notes,
                                 "企事业单位", f.create_enterprise)
    elif v["enterprise"]:
        raise RowInvalid("只有承载单位为企事业单位时才能填写「企事业单位名称」")
    if host is HostType.sector:
        if not v["sector"]:
            raise RowInvalid("承载单位为界别时，「界别」不能为空")
        sector = _registered(session, Sector, region, v["sector"], notes, "界别", f.create_sector)
    elif v["sector"]:
        raise RowInvalid("只有承载单位为界别时才能填写「界别」")
    if kind is PlatformKind.room and v["name"] and "有事好商量" not in v["name"]:
        raise RowInvalid("协商议事室须使用统一名称“有事好商量”协商议事室（D4），"
                         "原有名称请填在「原有名称」列")
    for key, bounds, label in (("latitude", _LAT, "纬度"), ("longitude", _LON, "经度")):
        if v[key] is not None and not bounds[0] <= v[key] <= bounds[1]:
            raise RowInvalid(f"「{label}」超出我国范围，请检查经纬度是否填反")
    unit = (enterprise.name if enterprise else
            f"{region.name}政协{sector.name}" if sector else region.name)
    name = v["name"] or f.platform_name(kind, unit)
    platform = session.scalar(select(Platform).where(Platform.region_id == region.id,
                                                     Platform.name == name))
    created = platform is None
    if created:
        platform = f.create_platform(session, kind=kind, host_type=host, region=region,
                                     enterprise=enterprise, sector=sector, name=name)
        before = None
    else:
        if (platform.kind, platform.host_type, platform.enterprise_id, platform.sector_id) != (
                kind, host, enterprise and enterprise.id, sector and sector.id):
            raise RowInvalid(f"已有同名平台「{name}」，但平台类型或承载单位不同；"
                             "如需更改请联系管理员")
        before = snapshot(platform)
    changed = False
    for attr, key in (("secondary_name", "secondary_name"), ("venue_address", "address"),
                      ("latitude", "latitude"), ("longitude", "longitude")):
        if v[key] is not None and getattr(platform, attr) != v[key]:
            setattr(platform, attr, v[key])
            changed = True
    if v["convenor_phone"]:
        convenor, _ = _find_or_create_person(session, name=v["convenor_name"],
                                             phone=v["convenor_phone"], home=region,
                                             cipher=cipher, name_header="召集人姓名")
        if platform.convenor_id != convenor.id:
            f.set_convenor(session, platform, convenor)  # D28 is reported, not enforced here
            changed = True
    elif v["convenor_name"]:
        raise RowInvalid("填写「召集人姓名」时必须同时填写「召集人手机号」")
    changed |= _served_units(session, platform, region, v["served"] or [])
    changed |= _checks(session, platform, v)
    session.flush()
    if created or changed:
        record(session, actor_id=None,
               action="import.platform.create" if created else "import.platform.update",
               object_type="platform", object_id=platform.id, before=before,
               after=snapshot(platform))
    return (region.id, name), "created" if created else "updated" if changed else "unchanged"


def _served_units(session: Session, platform: Platform, region: Region, codes: list[str]) -> bool:
    """D2: the units a joint/mobile room or contact point also serves (added, never removed)."""
    if codes and platform.kind is PlatformKind.room:
        raise RowInvalid("协商议事室不填写「服务单位编码」；服务多个单位请用联合协商议事室")
    county = _county_path(region)
    changed = False
    for code in codes:
        unit = _region(session, code, "服务单位编码")
        if unit.level not in (RegionLevel.town, RegionLevel.village) or unit.id == region.id:
            raise RowInvalid(f"「服务单位编码」{code} 应为本平台以外的乡镇或村（社区）")
        if county and not unit.path.startswith(county):
            raise RowInvalid(f"「服务单位编码」{code} 不在本平台所在县区")
        exists = session.scalar(select(PlatformServedUnit.id).where(
            PlatformServedUnit.platform_id == platform.id, PlatformServedUnit.region_id == unit.id))
        if exists is None:
            f.add_served_unit(session, platform, region=unit)
            changed = True
    return changed


def _checks(session: Session, platform: Platform, v: dict) -> bool:
    """D3: the six musts, one cell each: 是 / 否, optionally 是：说明 / 否：说明."""
    changed = False
    for must, label in SIX_MUST_LABELS.items():
        text = v[f"must:{must.value}"]
        if text is None:
            continue
        m = _MUST_VALUE.match(text)
        if m is None:
            raise RowInvalid(f"「{label}」应填“是”或“否”，可在冒号后写说明，如“否：门牌未更换”")
        is_met, evidence = m.group(1) in ("是", "有"), (m.group(2) or "").strip() or None
        check = session.scalar(select(PlatformCheck).where(
            PlatformCheck.platform_id == platform.id, PlatformCheck.must == must))
        same = check is not None and (check.is_met, check.evidence) == (is_met, evidence)
        if same and (v["checked_on"] is None or check.checked_on == v["checked_on"]):
            continue
        f.set_check(session, platform, must, is_met=is_met, evidence=evidence,
                    checked_on=v["checked_on"] or _today())
        changed = True
    return changed


# --- people --------------------------------------------------------------------------------

_MEMBER_ONLY = (("sector", "界别"), ("level", "委员层级"), ("duty_group", "履职小组"),
                ("platforms", "关联平台"))


def _scope(session: Session, v: dict, role: Role, home: Region | None) -> dict:
    scope_type = v["scope_type"]
    if scope_type is None and role is Role.resident and not v["scope"]:
        if home is None:
            raise RowInvalid("角色为“群众”时请填写「所属区域编码」或角色范围")
        return {"region": home}
    if scope_type is None or not v["scope"]:
        raise RowInvalid("请同时填写「角色范围类型」（区域/机构/平台）和「角色范围」")
    if scope_type not in ALLOWED_SCOPES[role]:
        allowed = "或".join(SCOPE_LABELS[s] for s in sorted(ALLOWED_SCOPES[role]))
        raise RowInvalid(f"角色“{ROLE_LABELS[role]}”的范围应为{allowed}")
    if scope_type == "region":
        return {"region": _region(session, v["scope"], "角色范围")}
    if scope_type == "body":
        body = _unique_by_name(session, Body, v["scope"], "机构")
        if role is Role.dept_handler and body.kind is not BodyKind.department:
            raise RowInvalid("“承办部门经办人”的角色范围应为政府部门")
        return {"body": body}
    return {"platform": _unique_by_name(session, Platform, v["scope"], "平台")}


def _person_row(session: Session, v: dict, notes: list[str],
                cipher: PersonalDataCipher) -> tuple[tuple, str]:
    role = v["role"]
    if role is not Role.member:
        for key, header in _MEMBER_ONLY:
            if v[key]:
                raise RowInvalid(f"只有角色为“政协委员”时才能填写「{header}」")
    if role is None and (v["scope_type"] or v["scope"]):
        raise RowInvalid("填写角色范围时必须填写「角色」")
    home = _region(session, v["home_code"]) if v["home_code"] else None
    person, created = _find_or_create_person(session, name=v["name"], phone=v["phone"],
                                             home=home, cipher=cipher, name_header="姓名")
    changed = False
    if not created and home is not None and person.home_region_id != home.id:
        before = snapshot(person, ["id", "name", "home_region_id"])
        person.home_region = home
        session.flush()
        record(session, actor_id=None, action="import.person.update", object_type="person",
               object_id=person.id, before=before,
               after=snapshot(person, ["id", "name", "home_region_id"]))
        changed = True
    if role is None:
        return (v["phone"], None, None), "created" if created else (
            "updated" if changed else "unchanged")
    scope = _scope(session, v, role, home)
    key = f.scope_key_of(**scope)
    existing = session.scalar(select(RoleAssignment).where(
        RoleAssignment.person_id == person.id, RoleAssignment.role == role,
        RoleAssignment.scope_key == key))
    before = snapshot(existing) if existing is not None else None
    links_added = False
    if role is Role.convenor:
        platform = scope["platform"]
        if platform.convenor_id == person.id and existing is not None and existing.is_active:
            assignment = existing
        else:
            assignment = f.set_convenor(session, platform, person)  # D28
    elif role is Role.member:
        assignment, links_added = _member(session, v, person, scope["region"], notes)
    else:
        assignment = f.assign_role(session, person, role, **scope)
    after = snapshot(assignment)
    if before != after:
        record(session, actor_id=None, action="import.role.assign", object_type="role_assignment",
               object_id=assignment.id, before=before, after=after)
    role_new = existing is None
    outcome = ("created" if created or role_new else
               "updated" if changed or before != after or links_added else "unchanged")
    return (v["phone"], role, key), outcome


def _member(session: Session, v: dict, person: Person, region: Region,
            notes: list[str]) -> tuple[RoleAssignment, bool]:
    """D29: a member belongs to the city or a county CPPCC, to a sector, optionally to a duty
    group, and to the platforms they are linked to."""
    if region.level not in (RegionLevel.city, RegionLevel.county):
        raise RowInvalid("政协委员的角色范围应为市或县区的区域编码（所属政协）")
    if not v["sector"]:
        raise RowInvalid("政协委员必须填写「界别」（每位委员都属于一个界别）")
    sector = _registered(session, Sector, region, v["sector"], notes, "界别", f.create_sector)
    group = None
    if v["duty_group"]:
        group = _registered(session, DutyGroup, region, v["duty_group"], notes, "履职小组",
                            f.create_duty_group)
    level = v["level"] or (MemberLevel.city if region.level is RegionLevel.city
                           else MemberLevel.county)
    assignment = f.assign_role(session, person, Role.member, region=region, sector=sector,
                               member_level=level, duty_group=group)
    added = False
    for name in v["platforms"] or []:
        platform = _unique_by_name(session, Platform, name, "关联平台")
        if session.scalar(select(PlatformMember.id).where(
                PlatformMember.platform_id == platform.id,
                PlatformMember.person_id == person.id)) is None:
            f.link_member(session, platform, person)
            record(session, actor_id=None, action="import.platform_member.link",
                   object_type="platform", object_id=platform.id,
                   after={"person_id": person.id})
            added = True
    return assignment, added


# --- entry points --------------------------------------------------------------------------

def _run(session: Session, path: str | Path, kind: str, columns: list[Column], handler,
         label: str, progress: bool | None, cipher: PersonalDataCipher | None) -> ImportReport:
    cipher = cipher or get_cipher()
    report = ImportReport(kind=kind, file=str(path))
    run_rows(session, path, columns, lambda s, v, notes: handler(s, v, notes, cipher), report,
             progress=progress, label=label)
    record(session, actor_id=None, action=f"import.{kind}", object_type="import",
           object_id=Path(path).name[:64], after=report.as_dict())
    return report


def import_platforms(session: Session, path: str | Path, *, progress: bool | None = False,
                     cipher: PersonalDataCipher | None = None) -> ImportReport:
    """Import platforms from an .xlsx (docs/imports.md). Raises FileRejected for a file that
    cannot be read at all; row problems are in the report. Never commits."""
    return _run(session, path, "platforms", PLATFORM_COLUMNS, _platform_row, "导入平台",
                progress, cipher)


def import_people(session: Session, path: str | Path, *, progress: bool | None = False,
                  cipher: PersonalDataCipher | None = None) -> ImportReport:
    """Import people and their roles from an .xlsx (docs/imports.md). Never commits."""
    return _run(session, path, "people", PEOPLE_COLUMNS, _person_row, "导入人员", progress,
                cipher)
