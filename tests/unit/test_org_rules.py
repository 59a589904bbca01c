"""The organisation's rules (app/org/rules.py), without a database: D2, D3, D4, D28, D29."""
from datetime import date

import pytest

from app.org.models import SIX_MUST_LABELS, HostType, PlatformKind, SixMust
from app.org.rules import (
    SIX_MUSTS_STALE_MONTHS, CheckInfo, ConvenorSource, ConvenorStatus, MustStatus, PlatformCover,
    Unit, UnitKind, add_months, check_convenor, coverage, expected_convenor, must_status,
    platforms_without_member, six_musts_required, six_musts_status, suggested_room_name,
    uses_unified_name,
)

S = ConvenorSource
K = PlatformKind
H = HostType

# --- D28 ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("host, kind, sources", [
    # Rooms: fixed by host unit (§四(一)).
    (H.town, K.room, (S.work_committee_director,)),
    (H.village, K.room, (S.party_org_head,)),
    (H.community, K.room, (S.party_org_head,)),
    (H.enterprise, K.room, (S.enterprise_party_secretary,)),
    (H.sector, K.room, (S.sector_convenor,)),
    # Contact points, mobile and joint rooms: the relevant Party organisation head or sector
    # convenor.
    (H.town, K.contact_point, (S.town_party_committee_head, S.work_committee_director)),
    (H.town, K.mobile, (S.town_party_committee_head, S.work_committee_director)),
    (H.village, K.contact_point, (S.party_org_head,)),
    (H.community, K.joint, (S.party_org_head,)),
    (H.enterprise, K.mobile, (S.enterprise_party_secretary,)),
    (H.sector, K.contact_point, (S.sector_convenor,)),
    (H.sector, K.joint, (S.sector_convenor,)),
])
def test_d28_expected_convenor(host, kind, sources):
    assert expected_convenor(host, kind).sources == sources


def test_d28_expected_convenor_accepts_plain_strings_and_labels_in_chinese():
    e = expected_convenor("town", K.room)
    assert e.sources == (S.work_committee_director,)
    assert e.label == "政协工作委员会主任"
    assert "或" in expected_convenor(H.town, K.mobile).label


@pytest.mark.parametrize("expected, convenor, status", [
    ({1, 2}, 1, ConvenorStatus.ok),
    ({1}, 3, ConvenorStatus.mismatch),
    ({1}, None, ConvenorStatus.missing),
    (set(), None, ConvenorStatus.missing),
    (set(), 5, ConvenorStatus.expected_unknown),
])
def test_d28_check_convenor(expected, convenor, status):
    assert check_convenor(expected, convenor) is status


# --- D2 ----------------------------------------------------------------------------------------

TOWN_A = Unit(("region", 10), UnitKind.town, "甲镇", True, (1, 2, 10))
TOWN_B = Unit(("region", 11), UnitKind.town, "乙街道", True, (1, 2, 11))
VIL_ROOM = Unit(("region", 20), UnitKind.village, "有室村", True, (1, 2, 10, 20))
VIL_ELIG_LIGHT = Unit(("region", 21), UnitKind.community, "条件社区", True, (1, 2, 10, 21))
VIL_SMALL = Unit(("region", 22), UnitKind.village, "小村", False, (1, 2, 10, 22))
VIL_NONE = Unit(("region", 23), UnitKind.village, "空白村", False, (1, 2, 11, 23))
ENT = Unit(("enterprise", 5), UnitKind.enterprise, "某公司", True, (1, 2, 11))
SECTOR = Unit(("sector", 7), UnitKind.sector, "教育界", True, (1, 2))
UNITS = [TOWN_A, TOWN_B, VIL_ROOM, VIL_ELIG_LIGHT, VIL_SMALL, VIL_NONE, ENT, SECTOR]
PLATFORMS = [
    PlatformCover(100, K.room, ("region", 10)),                       # town A's room
    PlatformCover(101, K.room, ("region", 20)),                       # village's own room
    PlatformCover(102, K.joint, ("region", 10), (("region", 21), ("region", 22))),
    PlatformCover(103, K.contact_point, ("region", 11)),              # town B: no room
    PlatformCover(104, K.room, ("sector", 7)),
]


def test_d2_units_with_no_platform_are_gaps():
    report = coverage(UNITS, PLATFORMS)
    assert [u.key for u in report.uncovered] == [("region", 23), ("enterprise", 5)]


def test_d2_every_town_level_unit_needs_its_own_room():
    report = coverage(UNITS, PLATFORMS)
    # Town B has only a contact point; covered, but still lacking a room.
    assert [u.name for u in report.towns_without_room] == ["乙街道"]
    assert TOWN_B not in report.uncovered


def test_d2_a_town_served_by_a_neighbouring_room_still_lacks_its_own():
    p = PlatformCover(1, K.joint, ("region", 10), (("region", 11),))
    report = coverage([TOWN_A, TOWN_B], [PlatformCover(0, K.room, ("region", 10)), p])
    assert [u.key for u in report.towns_without_room] == [("region", 11)]
    assert report.uncovered == []


def test_d2_eligible_units_served_only_by_a_lighter_platform_are_noted():
    report = coverage(UNITS, PLATFORMS)
    noted = {u.key: kinds for u, kinds in report.eligible_without_room}
    # The eligible community is served by the joint room; the ineligible village is not noted.
    assert noted == {("region", 21): (K.joint,)}


def test_d2_coverage_ratio_per_region_and_total():
    report = coverage(UNITS, PLATFORMS)
    assert (report.total.units, report.total.covered) == (8, 6)
    assert report.total.ratio == round(6 / 8, 4)
    a = report.by_region[10]  # town A, its 3 villages
    assert (a.units, a.covered, a.towns, a.towns_with_room) == (4, 4, 1, 1)
    assert a.ratio == 1.0
    b = report.by_region[11]  # town B, one uncovered village, one uncovered enterprise
    assert (b.units, b.covered, b.towns, b.towns_with_room) == (3, 1, 1, 0)
    county = report.by_region[2]
    assert (county.units, county.covered, county.towns, county.towns_with_room) == (8, 6, 2, 1)


def test_d2_no_units_means_nothing_to_cover():
    report = coverage([], PLATFORMS)
    assert report.total.units == 0 and report.total.ratio == 1.0 and report.uncovered == []


# --- D29 ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("ids, links, expected", [
    ([1, 2, 3], [(1, 9), (3, 9), (3, 8)], [2]),
    ([1, 2], [], [1, 2]),
    ([3, 1, 2], [(5, 1)], [3, 1, 2]),    # a link to another platform does not count
    ([1], [(1, 4)], []),
])
def test_d29_platforms_without_member(ids, links, expected):
    assert platforms_without_member(ids, links) == expected


# --- D3 ----------------------------------------------------------------------------------------

TODAY = date(2025, 6, 15)


@pytest.mark.parametrize("check, status", [
    (None, MustStatus.missing),
    (CheckInfo(SixMust.rules, False, "制度上墙", date(2025, 6, 1)), MustStatus.missing),
    (CheckInfo(SixMust.rules, True, None, date(2025, 6, 1)), MustStatus.claimed),
    (CheckInfo(SixMust.rules, True, "   ", date(2025, 6, 1)), MustStatus.claimed),
    (CheckInfo(SixMust.rules, True, "制度上墙", date(2025, 6, 1)), MustStatus.met),
    # Exactly N months ago is still current; one day more is stale.
    (CheckInfo(SixMust.rules, True, "制度上墙", add_months(TODAY, -SIX_MUSTS_STALE_MONTHS)),
     MustStatus.met),
    (CheckInfo(SixMust.rules, True, "制度上墙", date(2024, 6, 14)), MustStatus.stale),
    (CheckInfo(SixMust.rules, True, "制度上墙", None), MustStatus.stale),
])
def test_d3_must_status(check, status):
    assert must_status(check, TODAY) is status


def test_d3_stale_threshold_is_twelve_months_and_configurable():
    assert SIX_MUSTS_STALE_MONTHS == 12
    c = CheckInfo(SixMust.venue, True, "场所照片", date(2025, 1, 10))
    assert must_status(c, TODAY) is MustStatus.met
    assert must_status(c, TODAY, stale_months=3) is MustStatus.stale


def test_d3_six_musts_overall_status_with_chinese_gaps():
    checks = [CheckInfo(m, True, "材料", date(2025, 5, 1)) for m in SixMust
              if m not in (SixMust.signage, SixMust.results)]
    checks.append(CheckInfo(SixMust.results, True, "", date(2025, 5, 1)))
    status = six_musts_status(checks, TODAY)
    assert [r.must for r in status.results] == list(SixMust)
    assert not status.is_compliant
    assert [r.must for r in status.not_met] == [SixMust.signage, SixMust.results]
    assert status.missing_labels == ["有标识（未达标）", "有成效（已申报但缺少佐证材料）"]


def test_d3_all_six_met_is_compliant():
    checks = [CheckInfo(m, True, "材料", date(2025, 5, 1)) for m in SixMust]
    status = six_musts_status(checks, TODAY)
    assert status.is_compliant and status.missing_labels == []
    assert [r.label for r in status.results] == [SIX_MUST_LABELS[m] for m in SixMust]


def test_d3_no_checks_at_all_means_six_missing():
    status = six_musts_status([], TODAY)
    assert {r.status for r in status.results} == {MustStatus.missing}
    assert len(status.missing_labels) == 6


@pytest.mark.parametrize("kind, required", [
    (K.room, True), (K.mobile, True), (K.joint, True), (K.contact_point, False)])
def test_d3_six_musts_bind_rooms_not_contact_points(kind, required):
    assert six_musts_required(kind) is required


@pytest.mark.parametrize("day, months, expected", [
    (date(2024, 1, 31), 1, date(2024, 2, 29)),
    (date(2023, 1, 31), 1, date(2023, 2, 28)),
    (date(2024, 2, 29), 12, date(2025, 2, 28)),
    (date(2025, 6, 15), -12, date(2024, 6, 15)),
    (date(2025, 12, 1), 1, date(2026, 1, 1)),
])
def test_add_months(day, months, expected):
    assert add_months(day, months) == expected


# --- D4 ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("kind, name, ok", [
    (K.room, "新坝村“有事好商量”协商议事室", True),
    (K.room, '新坝村"有事好商量"协商议事室', True),
    (K.room, "新坝村「有事好商量」协商议事室", True),
    (K.room, "新坝村有事好商量协商议事室", True),
    (K.room, "新坝村协商议事室", False),
    (K.room, "新坝村“有事好商量”议事厅", False),
    (K.room, "", False),
    (K.contact_point, "新坝村委员联系点", True),   # only rooms carry the unified name
])
def test_d4_unified_name(kind, name, ok):
    assert uses_unified_name(kind, name) is ok


def test_d4_suggested_name_uses_the_unified_name():
    name = suggested_room_name(" 新坝村 ")
    assert name == "新坝村“有事好商量”协商议事室"
    assert uses_unified_name(K.room, name)
