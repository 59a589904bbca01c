"""Staff reports on the organisation, limited to the caller's reach (org.reports.view):
coverage (D2), platforms without a linked member (D29), six musts and unified names (D3, D4),
convenors (D28). Each report loads its rows in a fixed number of statements.
"""
from __future__ import annotations

from collections import defaultdict
from datetime import date

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from ..auth.permissions import Reach, get_region_or_404, reach
from .models import (
    Enterprise, HostType, Person, Platform, PlatformCheck, PlatformMember,
    PlatformServedUnit, Region, RegionKind, RegionLevel, Sector,
)
from .rules import (
    CONVENOR_STATUS_LABELS, PLATFORM_KIND_LABELS, UNIT_KIND_LABELS, CheckInfo, ConvenorStatus,
    CoverageFigures, PlatformCover, Unit, UnitKind, coverage, platforms_without_member,
    six_musts_required, six_musts_status, suggested_room_name, uses_unified_name,
)
from .services import (
    host_name, people_names, resolve_convenors, six_musts_dict, today_local,
)

ACTION = "org.reports.view"

_UNIT_KIND_OF_REGION = {
    RegionKind.township: UnitKind.town, RegionKind.subdistrict: UnitKind.town,
    RegionKind.park: UnitKind.town, RegionKind.village: UnitKind.village,
    RegionKind.community: UnitKind.community,
}


def report_scope(session: Session, person: Person, region_id: int | None) -> Reach:
    """The regions a report covers: the given region (404 outside the caller's reach) or, without
    one, the caller's whole reach. Platform-scoped grants do not widen a report."""
    if region_id is not None:
        region = get_region_or_404(session, region_id, person, ACTION)
        return Reach((region.path,), frozenset())
    return Reach(reach(session, person, ACTION).region_paths, frozenset())


def ancestor_ids(path: str) -> tuple[int, ...]:
    return tuple(int(x) for x in (path or "").strip("/").split("/") if x)


def platforms_in_scope(session: Session, scope: Reach):
    """Active platforms whose region lies in scope, with the region name (one statement)."""
    return session.execute(
        select(Platform, Region.name.label("region_name"),
               Enterprise.name.label("enterprise_name"), Sector.name.label("sector_name"))
        .join(Region, Region.id == Platform.region_id)
        .outerjoin(Enterprise, Enterprise.id == Platform.enterprise_id)
        .outerjoin(Sector, Sector.id == Platform.sector_id)
        .where(Platform.is_active.is_(True), scope.region_clause(Region.path))
        .order_by(Region.path, Platform.id)
    ).all()


def platform_ref(p: Platform, region_name: str) -> dict:
    return {"id": p.id, "name": p.name, "kind": p.kind.value,
            "kind_label": PLATFORM_KIND_LABELS[p.kind], "region_id": p.region_id,
            "region_name": region_name}


# --- D2 ----------------------------------------------------------------------------------------

def coverage_report(session: Session, person: Person, region_id: int | None = None) -> dict:
    """D2 (全覆盖): units no platform serves, town-level units without a room, eligible units
    without a room of their own, and covered/total per county and town."""
    scope = report_scope(session, person, region_id)
    units: list[Unit] = []
    unit_region: dict[tuple[str, int], int] = {}

    for r in session.execute(
            select(Region.id, Region.name, Region.kind, Region.path, Region.is_room_eligible)
            .where(Region.level.in_([RegionLevel.town, RegionLevel.village]),
                   scope.region_clause(Region.path))):
        key = ("region", r.id)
        units.append(Unit(key, _UNIT_KIND_OF_REGION[r.kind], r.name, r.is_room_eligible,
                          ancestor_ids(r.path)))
        unit_region[key] = r.id
    for model, kind in ((Enterprise, UnitKind.enterprise), (Sector, UnitKind.sector)):
        for r in session.execute(
                select(model.id, model.name, model.is_room_eligible, model.region_id, Region.path)
                .join(Region, Region.id == model.region_id)
                .where(scope.region_clause(Region.path))):
            key = (kind.value, r.id)
            units.append(Unit(key, kind, r.name, r.is_room_eligible, ancestor_ids(r.path)))
            unit_region[key] = r.region_id

    # Platforms that host a unit in scope, or serve one (a joint room next door counts).
    in_scope_regions = select(Region.id).where(scope.region_clause(Region.path))
    in_scope_enterprises = (select(Enterprise.id).join(Region, Region.id == Enterprise.region_id)
                            .where(scope.region_clause(Region.path)))
    serving = select(PlatformServedUnit.platform_id).where(or_(
        PlatformServedUnit.region_id.in_(in_scope_regions),
        PlatformServedUnit.enterprise_id.in_(in_scope_enterprises)))
    platforms = session.execute(
        select(Platform.id, Platform.kind, Platform.host_type, Platform.region_id,
               Platform.enterprise_id, Platform.sector_id)
        .join(Region, Region.id == Platform.region_id)
        .where(Platform.is_active.is_(True),
               or_(scope.region_clause(Region.path), Platform.id.in_(serving)))
    ).all()
    served: dict[int, list] = defaultdict(list)
    for s in session.execute(
            select(PlatformServedUnit.platform_id, PlatformServedUnit.region_id,
                   PlatformServedUnit.enterprise_id)
            .where(PlatformServedUnit.platform_id.in_(
                select(Platform.id).join(Region, Region.id == Platform.region_id).where(
                    Platform.is_active.is_(True),
                    or_(scope.region_clause(Region.path), Platform.id.in_(serving)))))):
        served[s.platform_id].append(("region", s.region_id) if s.region_id is not None
                                     else ("enterprise", s.enterprise_id))
    covers = [PlatformCover(p.id, p.kind, _host_key(p), tuple(served[p.id])) for p in platforms]

    result = coverage(units, covers)
    groups = session.execute(
        select(Region.id, Region.name, Region.kind, Region.level, Region.path)
        .where(Region.level.in_([RegionLevel.county, RegionLevel.town]),
               scope.region_clause(Region.path))
        .order_by(Region.path)
    ).all()

    def unit_dict(u: Unit) -> dict:
        return {"unit_type": u.key[0], "id": u.key[1], "kind": u.kind.value,
                "kind_label": UNIT_KIND_LABELS[u.kind], "name": u.name,
                "is_room_eligible": u.is_room_eligible, "region_id": unit_region[u.key]}

    return {
        "scope_region_id": region_id,
        "total": _figures(result.total),
        "regions": [{"region_id": g.id, "name": g.name, "kind": g.kind.value,
                     "level": g.level.value,
                     **_figures(result.by_region.get(g.id, CoverageFigures()))}
                    for g in groups],
        "uncovered": [unit_dict(u) for u in result.uncovered],
        "towns_without_room": [unit_dict(u) for u in result.towns_without_room],
        "eligible_without_room": [
            {**unit_dict(u), "served_by": [k.value for k in kinds],
             "served_by_labels": [PLATFORM_KIND_LABELS[k] for k in kinds]}
            for u, kinds in result.eligible_without_room],
    }


def _host_key(p) -> tuple[str, int]:
    if p.host_type is HostType.enterprise:
        return ("enterprise", p.enterprise_id)
    if p.host_type is HostType.sector:
        return ("sector", p.sector_id)
    return ("region", p.region_id)


def _figures(f: CoverageFigures) -> dict:
    return {"units": f.units, "covered": f.covered, "ratio": f.ratio, "towns": f.towns,
            "towns_with_room": f.towns_with_room}


# --- D29 ---------------------------------------------------------------------------------------

def member_links_report(session: Session, person: Person, region_id: int | None = None) -> dict:
    """D29: active platforms in scope that no CPPCC member is linked to."""
    scope = report_scope(session, person, region_id)
    rows = platforms_in_scope(session, scope)
    links = session.execute(
        select(PlatformMember.platform_id, PlatformMember.person_id)
        .join(Platform, Platform.id == PlatformMember.platform_id)
        .join(Region, Region.id == Platform.region_id)
        .where(Platform.is_active.is_(True), scope.region_clause(Region.path))
    ).all()
    missing = set(platforms_without_member([r[0].id for r in rows], links))
    return {
        "scope_region_id": region_id,
        "total_platforms": len(rows),
        "without_member": len(missing),
        "platforms": [platform_ref(r[0], r.region_name) for r in rows if r[0].id in missing],
    }


# --- D3 / D4 -----------------------------------------------------------------------------------

def six_musts_report(session: Session, person: Person, region_id: int | None = None,
                     today: date | None = None) -> dict:
    """D3: rooms in scope that do not meet all six musts (what is missing, claimed without
    evidence or stale), and D4: rooms not using the unified name."""
    scope = report_scope(session, person, region_id)
    today = today or today_local()
    rows = [r for r in platforms_in_scope(session, scope) if six_musts_required(r[0].kind)]
    checks: dict[int, list[CheckInfo]] = defaultdict(list)
    for c in session.scalars(
            select(PlatformCheck).join(Platform, Platform.id == PlatformCheck.platform_id)
            .join(Region, Region.id == Platform.region_id)
            .where(Platform.is_active.is_(True), scope.region_clause(Region.path))):
        checks[c.platform_id].append(CheckInfo(c.must, c.is_met, c.evidence, c.checked_on))
    items, compliant = [], 0
    for r in rows:
        p: Platform = r[0]
        status = six_musts_status(checks[p.id], today)
        named = uses_unified_name(p.kind, p.name)
        compliant += status.is_compliant
        if status.is_compliant and named:
            continue
        items.append({
            **platform_ref(p, r.region_name),
            "six_musts": six_musts_dict(status, with_evidence=True),
            "uses_unified_name": named,
            "suggested_name": None if named else suggested_room_name(
                host_name(p, r.region_name, r.enterprise_name, r.sector_name)),
        })
    return {"scope_region_id": region_id, "today": today, "total_platforms": len(rows),
            "compliant": compliant, "platforms": items}


# --- D28 ---------------------------------------------------------------------------------------

def convenors_report(session: Session, person: Person, region_id: int | None = None) -> dict:
    """D28: platforms whose convenor is missing, is not the expected person, or whose expected
    person is not recorded (so it cannot be checked)."""
    scope = report_scope(session, person, region_id)
    rows = platforms_in_scope(session, scope)
    by_id = {r[0].id: r for r in rows}
    findings = [f for f in resolve_convenors(session, [r[0] for r in rows])
                if f.status is not ConvenorStatus.ok]
    names = people_names(session, [i for f in findings
                                   for i in (*f.expected_ids, f.convenor_id) if i is not None])

    def who(pid: int) -> dict:
        return {"person_id": pid, "name": names.get(pid, "")}

    return {
        "scope_region_id": region_id,
        "total_platforms": len(rows),
        "mismatches": [{
            **platform_ref(by_id[f.platform_id][0], by_id[f.platform_id].region_name),
            "status": f.status.value,
            "status_label": CONVENOR_STATUS_LABELS[f.status],
            "expected_sources": [s.value for s in f.expectation.sources],
            "expected_label": f.expectation.label,
            "expected": [who(i) for i in f.expected_ids],
            "convenor": who(f.convenor_id) if f.convenor_id is not None else None,
        } for f in findings],
    }
