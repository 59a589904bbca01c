"""D9, D15, D18, D25: the pure rules of the consultation stage."""
from datetime import datetime, timezone

import pytest

from app.consultations.rules import (
    InviteGroup as G, OpinionScope as S, RouteAction as Act, RouteTarget as T,
    below_minimum, briefing_due_at, composition_warnings, list_routes, opinion_route,
    routable_scopes, scope_refusal,
)
from app.org.models import HostType as H, RegionLevel as L


# --- D18 -------------------------------------------------------------------------------------------

@pytest.mark.parametrize("host, receiver", [
    (H.town, T.town_party_committee),        # town-level room → same-level Party (working) committee
    (H.village, T.town_party_committee),     # village room → town-level Party (working) committee
    (H.community, T.town_party_committee),   # community room → likewise
    (H.enterprise, T.town_party_committee),  # enterprise room → likewise
    (H.sector, T.special_committee),         # sector room → the CPPCC special committee
])
def test_local_items_go_to_the_platforms_own_receiver(host, receiver):
    assert [(s.stage, s.action, s.target) for s in opinion_route(host, S.local)] == [
        (1, Act.receive, receiver)]


@pytest.mark.parametrize("host", list(H))
def test_county_items_are_reviewed_by_the_county_party_group_then_received(host):
    # D18: county CPPCC party group reviews → county Party committee and government.
    assert [(s.stage, s.action, s.target) for s in opinion_route(host, S.county)] == [
        (1, Act.review, T.county_cppcc_party_group),
        (2, Act.receive, T.county_party_committee),
        (2, Act.receive, T.county_government)]


@pytest.mark.parametrize("host", list(H))
def test_city_items_are_reviewed_by_the_city_party_group_then_received(host):
    assert [(s.stage, s.action, s.target) for s in opinion_route(host, "city")] == [
        (1, Act.review, T.city_cppcc_party_group),
        (2, Act.receive, T.city_party_committee),
        (2, Act.receive, T.city_government)]


def test_the_whole_list_always_reaches_the_local_receiver_and_escalates_only_what_needs_it():
    assert set(list_routes(H.village, {S.local})) == {S.local}
    routes = list_routes(H.sector, {S.local, S.city})
    assert set(routes) == {S.local, S.city}
    assert routes[S.local][0].target is T.special_committee
    assert set(list_routes("town", {S.county})) == {S.local, S.county}


def test_unknown_host_or_scope_is_refused():
    with pytest.raises(ValueError):
        opinion_route("county", S.local)
    with pytest.raises(ValueError):
        opinion_route(H.town, "province")


@pytest.mark.parametrize("level, scopes", [
    (L.village, (S.local, S.county, S.city)),  # village / community / enterprise room
    (L.town, (S.local, S.county, S.city)),     # town room, enterprise attached to a town
    (L.county, (S.local, S.county, S.city)),   # county sector room, enterprise of a county
    (L.city, (S.local, S.city)),               # the city CPPCC's sector room: no county above
])
def test_escalation_goes_up_the_platforms_own_regions(level, scopes):
    # D18: "需县级层面解决的，由县区政协党组审核后报县区委、政府" — the county of the platform. A
    # room at city level has no county whose party group could review the item, so the item
    # cannot be routed and is refused when the list is written, with the reason.
    assert routable_scopes(level) == scopes
    for scope in S:
        assert (scope_refusal(level, scope) is None) == (scope in scopes)
    reason = scope_refusal("city", "county")
    assert "县（区）" in reason and "本级可解决" in reason and "需市级解决" in reason


# --- D9 --------------------------------------------------------------------------------------------

def test_composition_warns_for_each_missing_required_group():
    assert composition_warnings({G.member, G.resident, G.stakeholder}) == []
    assert composition_warnings({G.member, G.resident, G.stakeholder, G.official}) == []
    missing = composition_warnings({G.official, G.department})
    assert len(missing) == 3
    assert "政协委员" in missing[0] and "群众代表" in missing[1] and "利益相关方" in missing[2]
    assert composition_warnings({G.member, G.stakeholder}) == ["尚未邀请群众代表"]


# --- D15 -------------------------------------------------------------------------------------------

def test_briefing_is_due_at_nine_china_time_n_days_before():
    starts = datetime(2026, 12, 10, 6, 30, tzinfo=timezone.utc)  # 14:30 in China
    assert briefing_due_at(starts, 3) == datetime(2026, 12, 7, 1, 0, tzinfo=timezone.utc)
    # The China day, not the UTC day: 00:30 UTC on the 10th is already 08:30 on the 10th.
    early = datetime(2026, 12, 10, 0, 30, tzinfo=timezone.utc)
    assert briefing_due_at(early, 1) == datetime(2026, 12, 9, 1, 0, tzinfo=timezone.utc)
    # Never after the meeting: same-day briefing for a 08:30 meeting is due at its start.
    assert briefing_due_at(early, 0) == early
    with pytest.raises(ValueError):
        briefing_due_at(starts, -1)


# --- D25 -------------------------------------------------------------------------------------------

def test_two_consultations_a_year_minimum():
    assert below_minimum(0) and below_minimum(1)
    assert not below_minimum(2) and not below_minimum(5)
