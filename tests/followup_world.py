"""Follow-through test world: consult_world's city plus routed opinion lists.

    w = consult_world.build(app)
    routed = followup_world.routed_list(app, w, room="village",
                                        items=[("修缮村口道路", "local"), ("增开公交线路", "county")])
    routed["consultation_id"], routed["list_id"], routed["item_ids"]  # item ids in seq order

The consultation is made `held` directly (the meeting day is tested elsewhere); the list is
saved and routed through the real services, so routings (D18) and item tracks (D19) are exactly
what production writes. Deciding bodies, by room: town/village/community/enterprise local items →
w["bodies"]["town_pc"]; sector room local → "special"; county items → county_pg reviews (stage 1)
then county_pc and county_gov receive (stage 2); city items likewise with city_*.
The department handler is w["people"]["handler"] of w["bodies"]["housing"].
"""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from app.consultations import opinions
from app.consultations.models import Consultation, ConsultationState, OpinionList, PlaceKind
from app.consultations.rules import InviteGroup, OpinionScope
from app.db import utcnow
from app.org.models import Person

from .helpers import committed_session


def held_consultation(app, w: dict, room: str) -> int:
    with committed_session(app) as s:
        start = utcnow() - timedelta(hours=3)
        c = Consultation(topic_id=w["topics"][room], platform_id=w["rooms"][room],
                         state=ConsultationState.held, starts_at=start, held_at=start,
                         ends_at=start + timedelta(hours=2), place_kind=PlaceKind.mobile,
                         place="村委会广场", agenda=[], briefing_days_before=3, version=1,
                         created_by_id=w["people"][f"conv_{room}"])
        s.add(c)
        s.flush()
        return c.id


def routed_list(app, w: dict, *, room: str = "village",
                items: list[tuple[str, str]] | None = None) -> dict:
    """A held consultation on the room's topic with its opinion list saved and routed."""
    items = items or [("村口道路坑洼，建议年内修缮", "local"),
                      ("建议增开通往县城的公交线路", "county")]
    cid = held_consultation(app, w, room)
    with committed_session(app) as s:
        convenor = s.get(Person, w["people"][f"conv_{room}"])
        opinions.save_opinion_list(
            s, actor=convenor, consultation_id=cid,
            items=[(text, InviteGroup.resident, OpinionScope(scope), None)
                   for text, scope in items])
        s.flush()
        opinions.route_opinion_list(s, actor=convenor, consultation_id=cid)
        s.flush()
        lst = s.scalar(select(OpinionList).where(OpinionList.consultation_id == cid))
        return {"consultation_id": cid, "list_id": lst.id,
                "item_ids": [i.id for i in lst.items]}
