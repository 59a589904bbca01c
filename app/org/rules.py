"""The organisation's rules from the seed, as pure functions (no database, no Flask).

Each function cites the rule it enforces (DOMAIN.md). Services load rows and hand plain values
here; the unit tests in tests/unit/test_org_rules.py exercise every rule without a database.
"""
from __future__ import annotations

import calendar
import enum
import re
from dataclasses import dataclass, field
from datetime import date
from typing import Iterable

from .models import SIX_MUST_LABELS, UNIFIED_NAME, HostType, PlatformKind, SixMust

# --- D28: who should convene a platform ------------------------------------------------------


class ConvenorSource(str, enum.Enum):
    """Where the expected convenor of a platform is recorded."""

    # Body(kind=cppcc_work_committee, region=town).head_id — 政协工作委员会主任
    work_committee_director = "work_committee_director"
    # Body(kind=party_committee, region=town).head_id — 乡镇（街道、园区）党（工）委负责人
    town_party_committee_head = "town_party_committee_head"
    # Body(kind=party_org, region=village/community, no enterprise).head_id — 村（社区）党组织负责人
    party_org_head = "party_org_head"
    # Body(kind=party_org, enterprise=the host).head_id — 企事业单位党组织书记
    enterprise_party_secretary = "enterprise_party_secretary"
    # Sector.convenor_id — 界别召集人
    sector_convenor = "sector_convenor"


CONVENOR_SOURCE_LABELS = {
    ConvenorSource.work_committee_director: "政协工作委员会主任",
    ConvenorSource.town_party_committee_head: "乡镇（街道、园区）党（工）委负责人",
    ConvenorSource.party_org_head: "村（社区）党组织负责人",
    ConvenorSource.enterprise_party_secretary: "企事业单位党组织书记",
    ConvenorSource.sector_convenor: "界别召集人",
}


@dataclass(frozen=True)
class ConvenorExpectation:
    """Who should convene: any person recorded at one of `sources` (in order of preference)."""

    sources: tuple[ConvenorSource, ...]

    @property
    def label(self) -> str:
        return "或".join(CONVENOR_SOURCE_LABELS[s] for s in self.sources)


# D28, §四(一): a room's convenor is fixed by its host unit.
_ROOM_CONVENOR = {
    HostType.town: (ConvenorSource.work_committee_director,),
    HostType.village: (ConvenorSource.party_org_head,),
    HostType.community: (ConvenorSource.party_org_head,),
    HostType.enterprise: (ConvenorSource.enterprise_party_secretary,),
    HostType.sector: (ConvenorSource.sector_convenor,),
}
# D28: contact points, mobile and joint rooms — "原则上由相关党组织负责人或界别召集人担任".
# For a town-level host the relevant Party organisation is the town's Party (working) committee;
# the work committee director (normally its deputy secretary, D5) is accepted as well.
_LIGHT_CONVENOR = {
    HostType.town: (ConvenorSource.town_party_committee_head,
                    ConvenorSource.work_committee_director),
    HostType.village: (ConvenorSource.party_org_head,),
    HostType.community: (ConvenorSource.party_org_head,),
    HostType.enterprise: (ConvenorSource.enterprise_party_secretary,),
    HostType.sector: (ConvenorSource.sector_convenor,),
}


def expected_convenor(host_type: HostType, platform_kind: PlatformKind) -> ConvenorExpectation:
    """D28: what kind of person should convene a platform of this host and kind."""
    table = _ROOM_CONVENOR if platform_kind is PlatformKind.room else _LIGHT_CONVENOR
    return ConvenorExpectation(table[HostType(host_type)])


class ConvenorStatus(str, enum.Enum):
    ok = "ok"
    missing = "missing"                    # the platform has no convenor
    mismatch = "mismatch"                  # the convenor is not the expected person
    expected_unknown = "expected_unknown"  # nobody is recorded where the convenor should come from


CONVENOR_STATUS_LABELS = {
    ConvenorStatus.ok: "召集人符合规定",
    ConvenorStatus.missing: "未确定召集人",
    ConvenorStatus.mismatch: "召集人不是规定人选",
    ConvenorStatus.expected_unknown: "未登记应任召集人（请完善组织信息）",
}


def check_convenor(expected_person_ids: Iterable[int], convenor_id: int | None
                   ) -> ConvenorStatus:
    """D28: compare a platform's convenor with the person(s) expected from its host unit."""
    expected = set(expected_person_ids)
    if convenor_id is None:
        return ConvenorStatus.missing
    if not expected:
        return ConvenorStatus.expected_unknown
    return ConvenorStatus.ok if convenor_id in expected else ConvenorStatus.mismatch


# --- D2: full coverage -------------------------------------------------------------------------


class UnitKind(str, enum.Enum):
    town = "town"              # 乡镇 / 街道 / 园区
    village = "village"        # 行政村
    community = "community"    # 社区
    enterprise = "enterprise"  # 企事业单位
    sector = "sector"          # 政协界别


UNIT_KIND_LABELS = {
    UnitKind.town: "乡镇（街道、园区）",
    UnitKind.village: "行政村",
    UnitKind.community: "社区",
    UnitKind.enterprise: "企事业单位",
    UnitKind.sector: "政协界别",
}

# A unit is identified by (table, id): ("region", 17), ("enterprise", 3), ("sector", 2).
UnitKey = tuple[str, int]


@dataclass(frozen=True)
class Unit:
    key: UnitKey
    kind: UnitKind
    name: str
    is_room_eligible: bool
    # Region ids from the city down to the unit's own region (for per-county/town figures).
    ancestors: tuple[int, ...] = ()


@dataclass(frozen=True)
class PlatformCover:
    """An active platform: its host unit and the further units it serves (PlatformServedUnit)."""

    id: int
    kind: PlatformKind
    host: UnitKey
    served: tuple[UnitKey, ...] = ()


@dataclass
class CoverageFigures:
    units: int = 0
    covered: int = 0
    towns: int = 0
    towns_with_room: int = 0

    @property
    def ratio(self) -> float:
        return round(self.covered / self.units, 4) if self.units else 1.0


@dataclass
class CoverageReport:
    uncovered: list[Unit] = field(default_factory=list)
    # D2: "every town-level unit must have a room" — a contact point or a room elsewhere is
    # not enough.
    towns_without_room: list[Unit] = field(default_factory=list)
    # Eligible units (D2: "具备条件的…都要建成协商议事室") that are served only by a lighter
    # platform or by another unit's room: a note, not a gap.
    eligible_without_room: list[tuple[Unit, tuple[PlatformKind, ...]]] = field(
        default_factory=list)
    total: CoverageFigures = field(default_factory=CoverageFigures)
    by_region: dict[int, CoverageFigures] = field(default_factory=dict)


def coverage(units: Iterable[Unit], platforms: Iterable[PlatformCover]) -> CoverageReport:
    """D2 (全覆盖): which units no platform serves, which town-level units lack a room, which
    eligible units have no room of their own, and the covered share per region."""
    own_room: set[UnitKey] = set()
    served_by: dict[UnitKey, set[PlatformKind]] = {}
    for p in platforms:
        kind = PlatformKind(p.kind)
        if kind is PlatformKind.room:
            own_room.add(p.host)
        for key in (p.host, *p.served):
            served_by.setdefault(key, set()).add(kind)

    report = CoverageReport()
    for unit in units:
        kinds = served_by.get(unit.key, set())
        covered = bool(kinds)
        is_town = unit.kind is UnitKind.town
        has_room = unit.key in own_room
        if not covered:
            report.uncovered.append(unit)
        if is_town and not has_room:
            report.towns_without_room.append(unit)
        elif unit.is_room_eligible and covered and not has_room:
            ordered = tuple(k for k in PlatformKind if k in kinds)
            report.eligible_without_room.append((unit, ordered))
        for figures in [report.total, *(report.by_region.setdefault(r, CoverageFigures())
                                        for r in unit.ancestors)]:
            figures.units += 1
            figures.covered += covered
            if is_town:
                figures.towns += 1
                figures.towns_with_room += has_room
    return report


# --- D29: every platform has at least one linked member ---------------------------------------


def platforms_without_member(platform_ids: Iterable[int],
                             links: Iterable[tuple[int, int]]) -> list[int]:
    """D29: the platforms (in the given order) that no (platform_id, person_id) link names."""
    linked = {platform_id for platform_id, _ in links}
    return [pid for pid in platform_ids if pid not in linked]


# --- D3: the six musts (六有) ------------------------------------------------------------------

# A check older than this many months is stale and must be re-confirmed. Twelve months follows
# the yearly cycle the seed works in: at least two consultations per calendar year (D25) and the
# annual assessment of platform work (D31), so each must is re-confirmed once a year.
SIX_MUSTS_STALE_MONTHS = 12


class MustStatus(str, enum.Enum):
    met = "met"            # met, with evidence and a recent date
    claimed = "claimed"    # marked as met without evidence
    stale = "stale"        # met with evidence, but not checked within SIX_MUSTS_STALE_MONTHS
    missing = "missing"    # not met, or never checked


MUST_STATUS_LABELS = {
    MustStatus.met: "已达标",
    MustStatus.claimed: "已申报但缺少佐证材料",
    MustStatus.stale: f"超过{SIX_MUSTS_STALE_MONTHS}个月未复核",
    MustStatus.missing: "未达标",
}


@dataclass(frozen=True)
class CheckInfo:
    must: SixMust
    is_met: bool
    evidence: str | None = None
    checked_on: date | None = None


@dataclass(frozen=True)
class MustResult:
    must: SixMust
    status: MustStatus
    checked_on: date | None
    evidence: str | None

    @property
    def label(self) -> str:
        return SIX_MUST_LABELS[self.must]

    @property
    def status_label(self) -> str:
        return MUST_STATUS_LABELS[self.status]


@dataclass(frozen=True)
class SixMustsStatus:
    results: tuple[MustResult, ...]

    @property
    def is_compliant(self) -> bool:
        return all(r.status is MustStatus.met for r in self.results)

    @property
    def not_met(self) -> list[MustResult]:
        return [r for r in self.results if r.status is not MustStatus.met]

    @property
    def missing_labels(self) -> list[str]:
        """What is still to do, in Chinese: "有制度（未达标）"."""
        return [f"{r.label}（{r.status_label}）" for r in self.not_met]


def add_months(day: date, months: int) -> date:
    """The same day `months` later (clamped to the month's end: 31 Jan + 1 → 28/29 Feb)."""
    year, month0 = divmod(day.year * 12 + day.month - 1 + months, 12)
    last = calendar.monthrange(year, month0 + 1)[1]
    return date(year, month0 + 1, min(day.day, last))


def must_status(check: CheckInfo | None, today: date,
                stale_months: int = SIX_MUSTS_STALE_MONTHS) -> MustStatus:
    """D3: the status of one must (compliance is tracked with evidence)."""
    if check is None or not check.is_met:
        return MustStatus.missing
    if not (check.evidence or "").strip():
        return MustStatus.claimed
    # Undated evidence cannot show it is current: it needs a re-check like an old one.
    if check.checked_on is None or add_months(check.checked_on, stale_months) < today:
        return MustStatus.stale
    return MustStatus.met


def six_musts_status(checks: Iterable[CheckInfo], today: date,
                     stale_months: int = SIX_MUSTS_STALE_MONTHS) -> SixMustsStatus:
    """D3: status of each of the six musts (in the fixed order), overall compliance, gaps."""
    by_must = {SixMust(c.must): c for c in checks}
    results = []
    for must in SixMust:
        check = by_must.get(must)
        results.append(MustResult(
            must=must, status=must_status(check, today, stale_months),
            checked_on=check.checked_on if check else None,
            evidence=check.evidence if check else None,
        ))
    return SixMustsStatus(tuple(results))


def six_musts_required(kind: PlatformKind) -> bool:
    """D3 (§三(一) "协商议事室要做到六有"): the six musts bind rooms; a member contact point is a
    lighter arrangement where a room is not possible, so it is not held to them. Mobile and joint
    rooms are rooms (流动/联合协商议事室) and are."""
    return PlatformKind(kind) is not PlatformKind.contact_point


# --- D4: the unified name ----------------------------------------------------------------------

# Any quotation marks around 有事好商量 are accepted (“” "" 「」 ‘’ ''), as is surrounding space.
_QUOTES = re.compile(r"[\s\"'“”‘’「」『』]")
_UNIFIED_CORE = _QUOTES.sub("", UNIFIED_NAME)  # 有事好商量协商议事室


def uses_unified_name(kind: PlatformKind, name: str) -> bool:
    """D4: a room's name contains “有事好商量”协商议事室 (an old local brand goes in
    secondary_name). Lighter platforms are not held to it."""
    if PlatformKind(kind) is not PlatformKind.room:
        return True
    return _UNIFIED_CORE in _QUOTES.sub("", name or "")


def suggested_room_name(host_name: str) -> str:
    """D4: the unified name for a room of this host, e.g. 海州街道“有事好商量”协商议事室."""
    return f"{(host_name or '').strip()}{UNIFIED_NAME}"


# --- labels shown to users -------------------------------------------------------------------

PLATFORM_KIND_LABELS = {  # D1
    PlatformKind.room: "协商议事室",
    PlatformKind.contact_point: "委员协商联系点",
    PlatformKind.mobile: "流动协商议事室",
    PlatformKind.joint: "联合协商议事室",
}
HOST_TYPE_LABELS = {  # D2
    HostType.town: "乡镇（街道、园区）",
    HostType.village: "行政村",
    HostType.community: "社区",
    HostType.enterprise: "企事业单位",
    HostType.sector: "政协界别",
}
