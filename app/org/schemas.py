"""Request and response models of the organisation API (they also make the OpenAPI document)."""
from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, ConfigDict, Field, StrictBool, field_validator

from .models import HostType, PlatformKind

# --- requests ----------------------------------------------------------------------------------


class _Query(BaseModel):
    # Unknown query parameters (cache busters from the mini-program) are ignored.
    model_config = ConfigDict(extra="ignore")


class RegionQuery(_Query):
    parent_id: int | None = Field(None, ge=1, description="上级区域编号；不填则返回最上级区域")
    depth: int = Field(1, ge=1, le=4, description="向下展开的层数（1–4）")


class PlatformListQuery(_Query):
    region_id: int | None = Field(None, ge=1, description="区域编号（含其下所有区域）")
    kind: PlatformKind | None = Field(None, description="平台类型")
    host_type: HostType | None = Field(None, description="承载单位类型")
    near: str | None = Field(None, max_length=64,
                             description="附近查询的中心点：纬度,经度（如 34.6,119.2）")
    radius_km: float = Field(5.0, gt=0, le=50, description="附近查询半径（公里，最大 50）")
    limit: int = Field(20, ge=1, le=100, description="每页条数（1–100）")
    cursor: str | None = Field(None, max_length=200, description="上一页返回的 next_cursor")

    @field_validator("near")
    @classmethod
    def _check_near(cls, value: str | None) -> str | None:
        if value is None or value == "":
            return None
        parts = value.split(",")
        try:
            lat, lng = (float(x) for x in parts)
        except ValueError:
            raise ValueError("应为“纬度,经度”，如 34.6,119.2") from None
        if not (-90 <= lat <= 90 and -180 <= lng <= 180):
            raise ValueError("经纬度超出范围")
        return f"{lat},{lng}"

    def near_point(self) -> tuple[float, float] | None:
        if not self.near:
            return None
        lat, lng = (float(x) for x in self.near.split(","))
        return lat, lng


class ReportQuery(_Query):
    region_id: int | None = Field(None, ge=1,
                                  description="区域编号（须在您的管辖范围内）；不填则为全部管辖范围")


class CheckUpdate(BaseModel):
    """D3: one of the six musts."""

    model_config = ConfigDict(extra="forbid")
    is_met: StrictBool = Field(description="是否达标")
    evidence: str | None = Field(None, max_length=2000,
                                 description="佐证材料说明（如制度文件名称、照片存档位置）")
    checked_on: dt.date | None = Field(None, description="检查日期（YYYY-MM-DD，默认今天）")


# --- responses ---------------------------------------------------------------------------------


class RegionNode(BaseModel):
    id: int
    name: str
    kind: str
    level: str
    children: list["RegionNode"] | None = Field(None, description="下级区域（未展开时为空）")


RegionNode.model_rebuild()


class RegionList(BaseModel):
    items: list[RegionNode]


class PlatformSummary(BaseModel):
    id: int
    name: str
    secondary_name: str | None
    kind: PlatformKind
    kind_label: str
    host_type: HostType
    host_label: str
    host_name: str
    region_id: int
    region_name: str
    venue_address: str | None
    latitude: float | None
    longitude: float | None
    distance_km: float | None = Field(None, description="与查询中心点的距离（仅附近查询）")


class PlatformPage(BaseModel):
    items: list[PlatformSummary]
    next_cursor: str | None = Field(None, description="下一页的分页标记；为空表示没有更多")


class MustItem(BaseModel):
    must: str
    label: str
    status: str = Field(description="met 已达标 / claimed 缺佐证 / stale 需复核 / missing 未达标")
    status_label: str
    checked_on: dt.date | None


class MustItemStaff(MustItem):
    evidence: str | None


class SixMustsPublic(BaseModel):
    required: bool = Field(description="本平台是否须做到“六有”（委员协商联系点不要求）")
    is_compliant: bool
    missing: list[str] = Field(description="尚未达标的项目（中文）")
    items: list[MustItem]


class SixMustsStaff(SixMustsPublic):
    items: list[MustItemStaff]


class ConvenorPublic(BaseModel):
    role: str
    name: str = Field(description="脱敏后的姓名，如 张**")


class PlatformDetail(PlatformSummary):
    region_names: list[str] = Field(description="从市到所属区域的名称")
    six_musts: SixMustsPublic
    member_count: int = Field(description="联系本平台的政协委员人数")
    convenor: ConvenorPublic | None


class CheckResult(BaseModel):
    platform_id: int
    must: str
    six_musts: SixMustsStaff


class MemberLinkResult(BaseModel):
    platform_id: int
    person_id: int
    linked: bool
    member_count: int
    warning: str | None = None


# --- reports -----------------------------------------------------------------------------------


class PlatformRef(BaseModel):
    id: int
    name: str
    kind: PlatformKind
    kind_label: str
    region_id: int
    region_name: str


class CoverageFiguresOut(BaseModel):
    units: int = Field(description="应覆盖的单位数")
    covered: int = Field(description="已有平台服务的单位数")
    ratio: float = Field(description="覆盖率（0–1）")
    towns: int
    towns_with_room: int


class RegionCoverage(CoverageFiguresOut):
    region_id: int
    name: str
    kind: str
    level: str


class UnitOut(BaseModel):
    unit_type: str = Field(description="region / enterprise / sector")
    id: int
    kind: str
    kind_label: str
    name: str
    is_room_eligible: bool
    region_id: int


class UnitServedOut(UnitOut):
    served_by: list[PlatformKind]
    served_by_labels: list[str]


class CoverageReportOut(BaseModel):
    scope_region_id: int | None
    total: CoverageFiguresOut
    regions: list[RegionCoverage] = Field(description="各县区、乡镇（街道、园区）的覆盖情况")
    uncovered: list[UnitOut] = Field(description="没有任何平台服务的单位")
    towns_without_room: list[UnitOut] = Field(description="尚未建成协商议事室的乡镇（街道、园区）")
    eligible_without_room: list[UnitServedOut] = Field(
        description="具备条件但只由联系点、流动或联合议事室服务的单位（提示）")


class MemberLinksReportOut(BaseModel):
    scope_region_id: int | None
    total_platforms: int
    without_member: int
    platforms: list[PlatformRef]


class SixMustsItem(PlatformRef):
    six_musts: SixMustsStaff
    uses_unified_name: bool
    suggested_name: str | None


class SixMustsReportOut(BaseModel):
    scope_region_id: int | None
    today: dt.date
    total_platforms: int
    compliant: int
    platforms: list[SixMustsItem]


class PersonRef(BaseModel):
    person_id: int
    name: str


class ConvenorMismatch(PlatformRef):
    status: str
    status_label: str
    expected_sources: list[str]
    expected_label: str
    expected: list[PersonRef]
    convenor: PersonRef | None


class ConvenorsReportOut(BaseModel):
    scope_region_id: int | None
    total_platforms: int
    mismatches: list[ConvenorMismatch]
