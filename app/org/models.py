"""The organisation: regions, units, bodies, platforms, people and their roles (D1–D5, D28, D29)."""
from __future__ import annotations

import enum
from datetime import date, datetime

from sqlalchemy import (
    Boolean, CheckConstraint, Date, Enum, Float, ForeignKey, LargeBinary, String, Text,
    UniqueConstraint, event,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..db import Base, TimestampMixin, utcnow


def enum_column(enum_cls: type[enum.Enum], **kw):
    # Stored as the value string (portable, readable in SQL); length covers every value.
    return Enum(enum_cls, native_enum=False, length=32, values_callable=lambda e: [m.value for m in e],
                validate_strings=True, **kw)


class RegionKind(str, enum.Enum):
    city = "city"
    county = "county"          # 县
    district = "district"      # 区
    township = "township"      # 乡镇
    subdistrict = "subdistrict"  # 街道
    park = "park"              # 园区
    village = "village"        # 行政村
    community = "community"    # 社区


class RegionLevel(str, enum.Enum):
    city = "city"
    county = "county"
    town = "town"
    village = "village"


LEVEL_OF_KIND = {
    RegionKind.city: RegionLevel.city,
    RegionKind.county: RegionLevel.county,
    RegionKind.district: RegionLevel.county,
    RegionKind.township: RegionLevel.town,
    RegionKind.subdistrict: RegionLevel.town,
    RegionKind.park: RegionLevel.town,
    RegionKind.village: RegionLevel.village,
    RegionKind.community: RegionLevel.village,
}
PARENT_LEVEL = {
    RegionLevel.county: RegionLevel.city,
    RegionLevel.town: RegionLevel.county,
    RegionLevel.village: RegionLevel.town,
}


class Region(Base):
    """City → county/district → town-level unit → village/community.

    `path` is the chain of ids from the city down ("/1/4/17/"), so a region and everything below
    it is `path LIKE '/1/4/%'` — how jurisdiction is checked.
    """

    __tablename__ = "regions"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(64))
    kind: Mapped[RegionKind] = mapped_column(enum_column(RegionKind))
    level: Mapped[RegionLevel] = mapped_column(enum_column(RegionLevel))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("regions.id"), index=True)
    path: Mapped[str] = mapped_column(String(255), default="", index=True)
    # D2: eligible villages/communities have a full room; the others a lighter platform.
    is_room_eligible: Mapped[bool] = mapped_column(Boolean, default=True)

    parent: Mapped["Region | None"] = relationship(remote_side="Region.id")


class Enterprise(Base):
    """An enterprise or institution, attached to a town-level unit or a county (D2)."""

    __tablename__ = "enterprises"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(128))
    region_id: Mapped[int] = mapped_column(ForeignKey("regions.id"), index=True)
    is_room_eligible: Mapped[bool] = mapped_column(Boolean, default=True)
    __table_args__ = (UniqueConstraint("region_id", "name"),)

    region: Mapped[Region] = relationship()


class Sector(Base):
    """A CPPCC sector (界别) of the city or a county CPPCC."""

    __tablename__ = "sectors"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64))
    region_id: Mapped[int] = mapped_column(ForeignKey("regions.id"), index=True)
    is_room_eligible: Mapped[bool] = mapped_column(Boolean, default=True)
    # D28: the sector's convenor convenes the sector room.
    convenor_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    # D8/D18: the special committee that pre-reviews topics and receives results.
    special_committee_id: Mapped[int | None] = mapped_column(ForeignKey("bodies.id"))
    __table_args__ = (UniqueConstraint("region_id", "name"),)

    region: Mapped[Region] = relationship()


class DutyGroup(Base):
    """A county CPPCC's duty group of members (履职小组, D29)."""

    __tablename__ = "duty_groups"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64))
    region_id: Mapped[int] = mapped_column(ForeignKey("regions.id"), index=True)
    __table_args__ = (UniqueConstraint("region_id", "name"),)


class BodyKind(str, enum.Enum):
    party_committee = "party_committee"            # 市委/县委/乡镇党委/街道(园区)党工委
    party_org = "party_org"                        # 村/社区/企业党组织
    government = "government"                      # 市/县/乡镇人民政府
    department = "department"                      # 政府部门（承办部门）
    cppcc = "cppcc"                                # 市/县区政协
    cppcc_party_group = "cppcc_party_group"        # 政协党组
    cppcc_special_committee = "cppcc_special_committee"  # 专委会
    cppcc_work_committee = "cppcc_work_committee"  # 乡镇政协工作委员会 (D5)


class Body(Base):
    """An organisation that acts: approves, receives lists, handles opinions."""

    __tablename__ = "bodies"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(128))
    kind: Mapped[BodyKind] = mapped_column(enum_column(BodyKind))
    region_id: Mapped[int] = mapped_column(ForeignKey("regions.id"), index=True)
    # Party organisation of an enterprise.
    enterprise_id: Mapped[int | None] = mapped_column(ForeignKey("enterprises.id"))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("bodies.id"))
    # D28: the head (书记 / 主任) — who should convene the platform of the unit.
    head_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    __table_args__ = (UniqueConstraint("region_id", "kind", "name"),)

    region: Mapped[Region] = relationship()


class PlatformKind(str, enum.Enum):
    """D1."""

    room = "room"                    # 协商议事室
    contact_point = "contact_point"  # 委员协商联系点
    mobile = "mobile"                # 流动协商议事室
    joint = "joint"                  # 联合协商议事室


class HostType(str, enum.Enum):
    """D2: where a platform sits; decides its approval chain (D8), routing (D18), convenor (D28)."""

    town = "town"
    village = "village"
    community = "community"
    enterprise = "enterprise"
    sector = "sector"


UNIFIED_NAME = "“有事好商量”协商议事室"  # D4


class Platform(TimestampMixin, Base):
    __tablename__ = "platforms"
    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[PlatformKind] = mapped_column(enum_column(PlatformKind))
    host_type: Mapped[HostType] = mapped_column(enum_column(HostType))
    # The region the platform belongs to: the town/village/community itself, the enterprise's
    # region, or the sector's CPPCC region. Always set, so jurisdiction is one check.
    region_id: Mapped[int] = mapped_column(ForeignKey("regions.id"), index=True)
    enterprise_id: Mapped[int | None] = mapped_column(ForeignKey("enterprises.id"), index=True)
    sector_id: Mapped[int | None] = mapped_column(ForeignKey("sectors.id"), index=True)
    # D4: unified name, with an older local brand kept as a secondary name.
    name: Mapped[str] = mapped_column(String(128))
    secondary_name: Mapped[str | None] = mapped_column(String(128))
    venue_address: Mapped[str | None] = mapped_column(String(255))
    latitude: Mapped[float | None] = mapped_column(Float)
    longitude: Mapped[float | None] = mapped_column(Float)
    convenor_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    __table_args__ = (
        CheckConstraint(
            "(host_type = 'enterprise') = (enterprise_id IS NOT NULL)", name="enterprise_host"
        ),
        CheckConstraint("(host_type = 'sector') = (sector_id IS NOT NULL)", name="sector_host"),
        UniqueConstraint("region_id", "name"),
    )

    region: Mapped[Region] = relationship()
    enterprise: Mapped[Enterprise | None] = relationship()
    sector: Mapped[Sector | None] = relationship()
    convenor: Mapped["Person | None"] = relationship(foreign_keys=[convenor_id])
    checks: Mapped[list["PlatformCheck"]] = relationship(
        back_populates="platform", cascade="all, delete-orphan"
    )


class PlatformServedUnit(Base):
    """Units a joint, mobile or contact-point platform serves besides its host (D2 coverage)."""

    __tablename__ = "platform_served_units"
    id: Mapped[int] = mapped_column(primary_key=True)
    platform_id: Mapped[int] = mapped_column(ForeignKey("platforms.id", ondelete="CASCADE"),
                                             index=True)
    region_id: Mapped[int | None] = mapped_column(ForeignKey("regions.id"))
    enterprise_id: Mapped[int | None] = mapped_column(ForeignKey("enterprises.id"))
    __table_args__ = (
        CheckConstraint("(region_id IS NULL) <> (enterprise_id IS NULL)", name="one_unit"),
        UniqueConstraint("platform_id", "region_id", "enterprise_id"),
    )


class SixMust(str, enum.Enum):
    """D3: 六有."""

    organisation = "organisation"  # 有组织
    rules = "rules"                # 有制度
    venue = "venue"                # 有场所
    signage = "signage"            # 有标识
    activities = "activities"      # 有活动
    results = "results"            # 有成效


SIX_MUST_LABELS = {
    SixMust.organisation: "有组织",
    SixMust.rules: "有制度",
    SixMust.venue: "有场所",
    SixMust.signage: "有标识",
    SixMust.activities: "有活动",
    SixMust.results: "有成效",
}


class PlatformCheck(Base):
    """One of the six musts of one platform, with its evidence and the date it was checked (D3)."""

    __tablename__ = "platform_checks"
    id: Mapped[int] = mapped_column(primary_key=True)
    platform_id: Mapped[int] = mapped_column(ForeignKey("platforms.id", ondelete="CASCADE"))
    must: Mapped[SixMust] = mapped_column(enum_column(SixMust))
    is_met: Mapped[bool] = mapped_column(Boolean, default=False)
    evidence: Mapped[str | None] = mapped_column(Text)
    checked_on: Mapped[date | None] = mapped_column(Date)
    checked_by_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    __table_args__ = (UniqueConstraint("platform_id", "must"),)

    platform: Mapped[Platform] = relationship(back_populates="checks")


class PlatformMember(Base):
    """A CPPCC member linked to a platform (D5, D29)."""

    __tablename__ = "platform_members"
    id: Mapped[int] = mapped_column(primary_key=True)
    platform_id: Mapped[int] = mapped_column(ForeignKey("platforms.id", ondelete="CASCADE"))
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"), index=True)
    linked_at: Mapped[datetime] = mapped_column(default=utcnow)
    __table_args__ = (UniqueConstraint("platform_id", "person_id"),)


class Person(TimestampMixin, Base):
    """Anyone who uses the product. The phone number is encrypted at rest (PIPL) with a keyed
    hash for look-up; see app/crypto.py."""

    __tablename__ = "people"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64))
    phone_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    phone_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    # Where the person lives or works: decides which staff can see them.
    home_region_id: Mapped[int | None] = mapped_column(ForeignKey("regions.id"), index=True)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)

    home_region: Mapped[Region | None] = relationship()
    roles: Mapped[list["RoleAssignment"]] = relationship(
        back_populates="person", foreign_keys="RoleAssignment.person_id"
    )


class WechatApp(str, enum.Enum):
    mp = "mp"  # mini-program (小程序)
    oa = "oa"  # Official Account (公众号)


class WechatIdentity(TimestampMixin, Base):
    """A person's openid in one WeChat app; unionid links the apps of one WeChat user."""

    __tablename__ = "wechat_identities"
    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"), index=True)
    app: Mapped[WechatApp] = mapped_column(enum_column(WechatApp))
    openid: Mapped[str] = mapped_column(String(64))
    unionid: Mapped[str | None] = mapped_column(String(64), index=True)
    # The mini-program session_key, encrypted; it never leaves the server.
    session_key_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    __table_args__ = (UniqueConstraint("app", "openid"),)


class Role(str, enum.Enum):
    resident = "resident"          # 群众
    member = "member"              # 政协委员
    convenor = "convenor"          # 召集人
    liaison = "liaison"            # 联络员
    reviewer = "reviewer"          # 代表机构审核（党委、政协党组、专委会…）
    dept_handler = "dept_handler"  # 承办部门经办人
    staff = "staff"                # 政协工作人员
    admin = "admin"                # 系统管理员


ROLE_LABELS = {
    Role.resident: "群众",
    Role.member: "政协委员",
    Role.convenor: "召集人",
    Role.liaison: "联络员",
    Role.reviewer: "审核人",
    Role.dept_handler: "承办部门经办人",
    Role.staff: "政协工作人员",
    Role.admin: "系统管理员",
}


class MemberLevel(str, enum.Enum):
    """D29: national and provincial members living locally join by invitation."""

    national = "national"
    provincial = "provincial"
    city = "city"
    county = "county"


def _scope_key(ctx) -> str:
    params = ctx.get_current_parameters()
    for name in ("region_id", "body_id", "platform_id"):
        if params.get(name) is not None:
            return f"{name[:-3]}:{params[name]}"
    return "none"


class RoleAssignment(TimestampMixin, Base):
    """A role held within a scope: a region (and everything below it), a body, or a platform."""

    __tablename__ = "role_assignments"
    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"), index=True)
    role: Mapped[Role] = mapped_column(enum_column(Role))
    region_id: Mapped[int | None] = mapped_column(ForeignKey("regions.id"), index=True)
    body_id: Mapped[int | None] = mapped_column(ForeignKey("bodies.id"), index=True)
    platform_id: Mapped[int | None] = mapped_column(ForeignKey("platforms.id"), index=True)
    # Member details (D29).
    sector_id: Mapped[int | None] = mapped_column(ForeignKey("sectors.id"))
    member_level: Mapped[MemberLevel | None] = mapped_column(enum_column(MemberLevel))
    duty_group_id: Mapped[int | None] = mapped_column(ForeignKey("duty_groups.id"))
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    # "region:12" / "body:3" / "platform:7": one row per person, role and scope (NULLs would make
    # a plain unique constraint over the three id columns useless).
    scope_key: Mapped[str] = mapped_column(String(40), default=_scope_key)
    __table_args__ = (
        CheckConstraint(
            "(CASE WHEN region_id IS NULL THEN 0 ELSE 1 END)"
            " + (CASE WHEN body_id IS NULL THEN 0 ELSE 1 END)"
            " + (CASE WHEN platform_id IS NULL THEN 0 ELSE 1 END) = 1",
            name="one_scope",
        ),
        UniqueConstraint("person_id", "role", "scope_key"),
    )

    person: Mapped[Person] = relationship(back_populates="roles", foreign_keys=[person_id])
    region: Mapped[Region | None] = relationship()
    body: Mapped[Body | None] = relationship()
    platform: Mapped[Platform | None] = relationship()
    sector: Mapped[Sector | None] = relationship()
    duty_group: Mapped[DutyGroup | None] = relationship()


@event.listens_for(RoleAssignment, "before_update")
def _refresh_scope_key(mapper, connection, target: RoleAssignment) -> None:
    # An UPDATE's parameters hold only the changed columns, so a column `onupdate` built from
    # them reset the key to "none" on any unrelated change (e.g. deactivating the assignment).
    for name in ("region_id", "body_id", "platform_id"):
        if getattr(target, name) is not None:
            target.scope_key = f"{name[:-3]}:{getattr(target, name)}"
            return
    target.scope_key = "none"
