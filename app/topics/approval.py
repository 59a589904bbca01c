"""D8: the approval chain of a topic, derived from the host unit of its platform.

- town-level room: the same-level Party (working) committee approves, then the county CPPCC files;
- village / community / enterprise room: its own Party organisation vets, the town-level Party
  (working) committee approves, then the county CPPCC files;
- sector room: the CPPCC special committee pre-reviews together with the departments concerned,
  then the CPPCC party group approves.
The chain depends on the host unit, not on the platform kind (D1): a village's contact point
follows the village chain.

`approval_chain` is the pure rule; `resolve_chain` finds the bodies in the database.
"""
from __future__ import annotations

import enum
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..errors import AppError
from ..org.models import Body, BodyKind, HostType, Platform, Region, RegionLevel, Sector
from .models import StepKind


class Reviewer(str, enum.Enum):
    """Which body acts on a step, relative to the platform."""

    own_party_org = "own_party_org"                  # 村/社区/企业党组织
    town_party_committee = "town_party_committee"    # 乡镇（街道、园区）党（工）委
    county_cppcc = "county_cppcc"                    # 县区政协
    special_committee = "special_committee"          # 政协专委会
    cppcc_party_group = "cppcc_party_group"          # 政协党组


@dataclass(frozen=True)
class StepSpec:
    kind: StepKind
    reviewer: Reviewer


_TOWN = (StepSpec(StepKind.approve, Reviewer.town_party_committee),
         StepSpec(StepKind.file, Reviewer.county_cppcc))
_GRASSROOTS = (StepSpec(StepKind.vet, Reviewer.own_party_org),
               StepSpec(StepKind.approve, Reviewer.town_party_committee),
               StepSpec(StepKind.file, Reviewer.county_cppcc))
_SECTOR = (StepSpec(StepKind.pre_review, Reviewer.special_committee),
           StepSpec(StepKind.approve, Reviewer.cppcc_party_group))

CHAINS: dict[HostType, tuple[StepSpec, ...]] = {
    HostType.town: _TOWN,
    HostType.village: _GRASSROOTS,
    HostType.community: _GRASSROOTS,
    HostType.enterprise: _GRASSROOTS,
    HostType.sector: _SECTOR,
}


def approval_chain(host_type: HostType) -> tuple[StepSpec, ...]:
    """D8: the ordered steps for a platform hosted by `host_type`."""
    return CHAINS[HostType(host_type)]


class ChainIncomplete(AppError):
    status = 409
    code = "approval_chain_incomplete"


@dataclass(frozen=True)
class ResolvedStep:
    seq: int
    kind: StepKind
    body: Body


def ancestor_at(session: Session, region: Region, level: RegionLevel) -> Region | None:
    """`region` itself or its ancestor at `level` (None when there is none)."""
    while region is not None and region.level is not level:
        region = session.get(Region, region.parent_id) if region.parent_id else None
    return region


def body_at(session: Session, kind: BodyKind, region: Region | None, **extra) -> Body | None:
    """The registered body of `kind` in `region` (the first one, by id), or None."""
    if region is None:
        return None
    query = select(Body).where(Body.kind == kind, Body.region_id == region.id)
    for name, value in extra.items():
        query = query.where(getattr(Body, name) == value)
    return session.scalars(query.order_by(Body.id)).first()


def reviewer_body(session: Session, platform: Platform, reviewer: Reviewer) -> Body | None:
    """The body acting as `reviewer` for a platform (D8; D18 reuses the same resolution)."""
    region = session.get(Region, platform.region_id)
    if reviewer is Reviewer.own_party_org:
        if platform.host_type is HostType.enterprise:
            return session.scalars(select(Body).where(
                Body.kind == BodyKind.party_org, Body.enterprise_id == platform.enterprise_id
            ).order_by(Body.id)).first()
        return body_at(session, BodyKind.party_org, region, enterprise_id=None)
    if reviewer is Reviewer.town_party_committee:
        town = ancestor_at(session, region, RegionLevel.town)
        if town is None and platform.host_type is HostType.enterprise:
            # An enterprise attached directly to a county: its county Party committee stands
            # in for the town-level one (the chain must still have an approving Party body).
            town = ancestor_at(session, region, RegionLevel.county)
        return body_at(session, BodyKind.party_committee, town)
    if reviewer is Reviewer.county_cppcc:
        return body_at(session, BodyKind.cppcc, ancestor_at(session, region, RegionLevel.county))
    sector = session.get(Sector, platform.sector_id) if platform.sector_id else None
    if reviewer is Reviewer.special_committee:
        return session.get(Body, sector.special_committee_id) if (
            sector and sector.special_committee_id) else None
    if reviewer is Reviewer.cppcc_party_group:
        return body_at(session, BodyKind.cppcc_party_group,
                     session.get(Region, sector.region_id) if sector else None)
    raise AssertionError(reviewer)


REVIEWER_LABELS = {
    Reviewer.own_party_org: "本级党组织", Reviewer.town_party_committee: "乡镇（街道、园区）党（工）委",
    Reviewer.county_cppcc: "县区政协", Reviewer.special_committee: "政协专委会",
    Reviewer.cppcc_party_group: "政协党组",
}


def resolve_chain(session: Session, platform: Platform) -> list[ResolvedStep]:
    """The D8 chain of `platform` with its bodies; refuses when a body is not registered, so a
    topic never waits on nobody."""
    steps, missing = [], []
    for seq, spec in enumerate(approval_chain(platform.host_type), start=1):
        body = reviewer_body(session, platform, spec.reviewer)
        if body is None:
            missing.append(REVIEWER_LABELS[spec.reviewer])
        else:
            steps.append(ResolvedStep(seq, spec.kind, body))
    if missing:
        raise ChainIncomplete(
            f"该平台的审核机构尚未登记（{'、'.join(missing)}），请联系政协工作人员完善组织信息"
        )
    return steps
