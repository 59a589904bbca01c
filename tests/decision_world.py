"""Helpers for the per-item decision and assignment tests (D19–D23): the HTTP calls a reviewer
makes, on top of consult_world and followup_world."""
from __future__ import annotations

from sqlalchemy import select

from app.consultations.models import OpinionRouting

from .consult_world import as_
from .helpers import committed_session


def routings(app, list_id: int) -> dict:
    """(scope, body key) → (routing id, state) for the list, with body keys from the world."""
    with committed_session(app) as s:
        rows = s.scalars(select(OpinionRouting).where(OpinionRouting.list_id == list_id)
                         .order_by(OpinionRouting.id)).all()
        return {(r.scope.value, r.body_id): (r.id, r.state.value, r.stage) for r in rows}


def routing_id(app, w, list_id: int, scope: str, body_key: str) -> int:
    return routings(app, list_id)[(scope, w["bodies"][body_key])][0]


def forward(client, app, w, list_id: int, scope: str) -> None:
    """The party group of `scope` forwards the list (D18 stage 1), opening its receivers."""
    rid = routing_id(app, w, list_id, scope, f"{scope}_pg")
    r = client.post(f"/api/opinion-routings/{rid}/decision", json={"forward": True},
                    headers=as_(w, f"rev_{scope}_pg"))
    assert r.status_code == 200, r.json


def decide(client, w, who: str, item_id: int, outcome: str, explanation: str | None = None):
    data = {"outcome": outcome}
    if explanation is not None:
        data["explanation"] = explanation
    return client.post(f"/api/opinion-items/{item_id}/decision", json=data, headers=as_(w, who))


def assign(client, w, who: str, item_id: int, lead: str, co: tuple[str, ...] = (),
           workdays: int = 5):
    return client.post(f"/api/opinion-items/{item_id}/assignment", headers=as_(w, who), json={
        "lead_body_id": w["bodies"][lead], "co_body_ids": [w["bodies"][k] for k in co],
        "workdays": workdays})
