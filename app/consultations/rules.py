"""Pure rules of the consultation stage, each citing its D-id. No database here."""
from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone

from ..org.models import HostType, RegionLevel, Role
from ..workdays import CHINA_TZ


# --- D9 / D10: who takes part ---------------------------------------------------------------------

class InviteGroup(str, enum.Enum):
    member = "member"            # 政协委员
    resident = "resident"        # 群众代表（含 D10：党代表、人大代表、老党员、知名人士、乡贤）
    stakeholder = "stakeholder"  # 利益相关方
    official = "official"        # 党政领导
    department = "department"    # 职能部门（承办部门）代表


GROUP_LABELS = {
    InviteGroup.member: "政协委员", InviteGroup.resident: "群众代表",
    InviteGroup.stakeholder: "利益相关方", InviteGroup.official: "党政领导",
    InviteGroup.department: "职能部门",
}

# D9: groups that name an office the platform registers. Only someone who holds it (an active
# role of that kind) is invited, counted or checked in as one: CPPCC members (the roster, D29).
# Residents, stakeholders, Party/government leaders and department heads are not registered as
# such (a department's handler account is not its head), so those groups are the convenor's
# judgement; the mini-program invites them by mobile number.
GROUP_ROLES = {InviteGroup.member: Role.member}
_INSTEAD = {InviteGroup.member: "群众代表或利益相关方"}


def group_mismatch_message(name: str, group: InviteGroup) -> str:
    """Why `name` cannot be in `group` (D9), and what they can be instead."""
    return (f"{name}未登记为{GROUP_LABELS[group]}，不能作为“{GROUP_LABELS[group]}”邀请或登记；"
            f"可作为{_INSTEAD[group]}")


# Groups that may send someone in their place (RSVP "substitute"): officials and departments.
SUBSTITUTABLE = frozenset({InviteGroup.official, InviteGroup.department})

# D9: members, residents and the parties concerned must all be there.
REQUIRED_GROUPS = (
    (InviteGroup.member, "尚未邀请政协委员"),
    (InviteGroup.resident, "尚未邀请群众代表"),
    (InviteGroup.stakeholder, "尚未邀请利益相关方（D9：议题的利益相关方必须参加）"),
)


def composition_warnings(groups: set[InviteGroup] | frozenset[InviteGroup]) -> list[str]:
    """D9: what the invitation list lacks, in Chinese, for the convenor before sending. A
    warning, not a refusal: the convenor may still send (a member may be added later)."""
    return [message for group, message in REQUIRED_GROUPS if group not in groups]


# --- D15: the pre-consultation briefing -----------------------------------------------------------

BRIEFING_HOUR = 9  # sent at 09:00 China time on its day


def briefing_due_at(starts_at: datetime, days_before: int) -> datetime:
    """D15: when the briefing goes out — `days_before` calendar days before the meeting's day,
    at 09:00 China time (UTC returned). Never later than the meeting itself: with 0 days, or a
    meeting before 09:00, it is due at once."""
    if days_before < 0:
        raise ValueError("days_before must be ≥ 0")
    local_day: date = starts_at.astimezone(CHINA_TZ).date() - timedelta(days=days_before)
    due = datetime.combine(local_day, time(BRIEFING_HOUR), CHINA_TZ).astimezone(timezone.utc)
    return min(due, starts_at.astimezone(timezone.utc))


# --- D17 / D18: the opinion list and where it goes -------------------------------------------------

class OpinionScope(str, enum.Enum):
    local = "local"    # 本级可以解决
    county = "county"  # 需要县（区）解决
    city = "city"      # 需要市级解决


SCOPE_LABELS = {OpinionScope.local: "本级可解决", OpinionScope.county: "需县（区）解决",
                OpinionScope.city: "需市级解决"}


class RouteTarget(str, enum.Enum):
    """A receiving body, relative to the platform."""

    town_party_committee = "town_party_committee"      # 乡镇（街道、园区）党（工）委
    special_committee = "special_committee"            # 政协相关专委会
    county_cppcc_party_group = "county_cppcc_party_group"
    county_party_committee = "county_party_committee"
    county_government = "county_government"
    city_cppcc_party_group = "city_cppcc_party_group"
    city_party_committee = "city_party_committee"
    city_government = "city_government"


TARGET_LABELS = {
    RouteTarget.town_party_committee: "乡镇（街道、园区）党（工）委",
    RouteTarget.special_committee: "政协相关专委会",
    RouteTarget.county_cppcc_party_group: "县（区）政协党组",
    RouteTarget.county_party_committee: "县（区）委",
    RouteTarget.county_government: "县（区）政府",
    RouteTarget.city_cppcc_party_group: "市政协党组",
    RouteTarget.city_party_committee: "市委",
    RouteTarget.city_government: "市政府",
}


class RouteAction(str, enum.Enum):
    review = "review"    # decides whether to forward (政协党组审核)
    receive = "receive"  # receives the list to act on


@dataclass(frozen=True)
class RouteStep:
    stage: int           # a stage opens when every step of the previous one is done
    action: RouteAction
    target: RouteTarget


_LOCAL_RECEIVER = {
    # D18: town-level room → the same-level Party (working) committee; village / community /
    # enterprise room → the town-level Party (working) committee (the same body, seen from
    # below); sector room → the CPPCC special committee concerned.
    HostType.town: RouteTarget.town_party_committee,
    HostType.village: RouteTarget.town_party_committee,
    HostType.community: RouteTarget.town_party_committee,
    HostType.enterprise: RouteTarget.town_party_committee,
    HostType.sector: RouteTarget.special_committee,
}

_ESCALATION = {
    # D18: matters the county must solve → county CPPCC party group reviews → county Party
    # committee and government; the same one level up for the city.
    OpinionScope.county: (RouteTarget.county_cppcc_party_group,
                          (RouteTarget.county_party_committee, RouteTarget.county_government)),
    OpinionScope.city: (RouteTarget.city_cppcc_party_group,
                        (RouteTarget.city_party_committee, RouteTarget.city_government)),
}


def opinion_route(host_type: HostType | str, scope: OpinionScope | str) -> tuple[RouteStep, ...]:
    """D18: where an opinion of `scope` raised on a platform hosted by `host_type` goes."""
    host_type, scope = HostType(host_type), OpinionScope(scope)
    if scope is OpinionScope.local:
        return (RouteStep(1, RouteAction.receive, _LOCAL_RECEIVER[host_type]),)
    reviewer, receivers = _ESCALATION[scope]
    return (RouteStep(1, RouteAction.review, reviewer),
            *(RouteStep(2, RouteAction.receive, r) for r in receivers))


# D18 escalates up the platform's own regions: "需县级层面解决的，由县区政协党组审核后报县区委、
# 政府；需市级层面解决的，由市政协党组审核…". The level each scope escalates to, and how high a
# platform may sit for that level to be above it (or be its own).
_ESCALATION_LEVEL = {OpinionScope.county: RegionLevel.county, OpinionScope.city: RegionLevel.city}
_LEVEL_RANK = {RegionLevel.village: 0, RegionLevel.town: 1, RegionLevel.county: 2,
               RegionLevel.city: 3}


def routable_scopes(platform_level: RegionLevel | str) -> tuple[OpinionScope, ...]:
    """D18: the scopes an item raised on a platform whose region is at `platform_level` can have.

    Every platform's own receiver takes local items. County and city items go to the party group
    of the platform's own county or city, so the platform must sit at or below that level. Every
    platform sits below the city; all but one kind sit within a county. The exception is a
    sector room of the city CPPCC (D29: city members are placed in their sector's room), whose
    region is the city: there is no county whose party group could review a "county" item, so
    such an item has no route and is refused when the list is written (scope_refusal)."""
    rank = _LEVEL_RANK[RegionLevel(platform_level)]
    return tuple(s for s in OpinionScope
                 if s is OpinionScope.local or rank <= _LEVEL_RANK[_ESCALATION_LEVEL[s]])


def scope_refusal(platform_level: RegionLevel | str, scope: OpinionScope | str) -> str | None:
    """D18: why an item of `scope` cannot be raised on a platform at `platform_level` (Chinese,
    for the convenor), or None when it can."""
    scope = OpinionScope(scope)
    if scope in routable_scopes(platform_level):
        return None
    allowed = "或".join(f"“{SCOPE_LABELS[s]}”" for s in routable_scopes(platform_level))
    return (f"本平台属于市级，没有对应的县（区）党委、政府，不能选择“{SCOPE_LABELS[scope]}”"
            f"（D18），请改选{allowed}")


def list_routes(host_type: HostType | str, scopes: set[OpinionScope]
                ) -> dict[OpinionScope, tuple[RouteStep, ...]]:
    """The whole list: the platform's own receiver always gets it (D18, first three lines);
    county- and city-scope items additionally go up their chains."""
    out = {OpinionScope.local: opinion_route(host_type, OpinionScope.local)}
    for scope in (OpinionScope.county, OpinionScope.city):
        if scope in scopes:
            out[scope] = opinion_route(host_type, scope)
    return out


# --- D25: how often ---------------------------------------------------------------------------------

MIN_CONSULTATIONS_PER_YEAR = 2


def below_minimum(held_this_year: int) -> bool:
    """D25: every platform holds at least two consultations per calendar year."""
    return held_this_year < MIN_CONSULTATIONS_PER_YEAR
