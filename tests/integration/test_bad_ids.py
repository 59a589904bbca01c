"""Ids and numbers too big for the database's 32-bit INTEGER columns: a clear 404 / 422 / 400
with a Chinese message and a stable code, never a 500 — in the path, the query string and the
JSON body — and nothing stored is touched."""
from __future__ import annotations

import re
from datetime import timedelta

import pytest
from flask import Blueprint
from sqlalchemy import func, select

from app import create_app
from app.api import MAX_INT, BoundedIntConverter
from app.auth.current import open_session
from app.auth.models import SessionKind
from app.db import get_session
from app.org import factories as f
from app.org.models import HostType, Person, PlatformKind

from ..helpers import bearer, committed_session

HUGE = [MAX_INT + 1, 2**63, 10**30]


@pytest.fixture
def resident(app):
    with committed_session(app) as s:
        town = f.create_region_chain(s, code="7100", names=("边界市", "边界县", "边界镇"))[-1]
        room = f.create_platform(s, kind=PlatformKind.room, host_type=HostType.town, region=town)
        person = f.create_person(s, name="钱居民")
        s.flush()
        token, _ = open_session(s, person, SessionKind.mp, timedelta(hours=1))
        return {"token": token, "platform": room.id}


@pytest.mark.parametrize("value", HUGE)
@pytest.mark.parametrize("method, path", [
    ("GET", "/api/suggestions/{}"), ("GET", "/api/platforms/{}"),
    ("POST", "/api/suggestions/{}/vote"), ("GET", "/api/suggestions/{}/comments")])
def test_huge_path_id_is_404(client, resident, method, path, value):
    resp = client.open(path.format(value), method=method, headers=bearer(resident["token"]),
                       json={} if method == "POST" else None)
    assert resp.status_code == 404
    assert resp.get_json()["error"] == "not_found"


def test_largest_int_id_still_reaches_the_view(client, resident):
    # The bound is not off by one: MAX_INT itself matches the route and the view answers (its
    # own message), one more does not match at all (the router's generic message).
    resp = client.get(f"/api/suggestions/{MAX_INT}", headers=bearer(resident["token"]))
    assert (resp.status_code, resp.get_json()["message"]) == (404, "该建议不存在")
    resp = client.get(f"/api/suggestions/{MAX_INT + 1}", headers=bearer(resident["token"]))
    assert (resp.status_code, resp.get_json()["message"]) == (404, "内容不存在或您无权查看")


@pytest.mark.parametrize("value", HUGE)
@pytest.mark.parametrize("path, field", [("/api/suggestions?platform_id={}", "platform_id"),
                                         ("/api/platforms?region_id={}", "region_id"),
                                         ("/api/suggestions?region_id={}", "region_id")])
def test_huge_query_id_is_422(client, resident, path, field, value):
    resp = client.get(path.format(value), headers=bearer(resident["token"]))
    assert resp.status_code == 422, resp.get_json()
    body = resp.get_json()
    assert body["error"] == "validation_failed"
    assert body["details"][0]["field"] == field
    assert "数值过大" in body["message"]


def test_huge_ids_in_a_body_are_422_and_nothing_is_stored(client, resident, app):
    payload = {"title": "小区路灯不亮", "description": "晚上很黑", "category": "livelihood",
               "attachment_ids": [1, 2**40]}
    resp = client.post(f"/api/platforms/{resident['platform']}/suggestions", json=payload,
                       headers=bearer(resident["token"]))
    assert resp.status_code == 422, resp.get_json()
    assert resp.get_json()["details"][0]["field"] == "attachment_ids.1"
    resp = client.post(f"/api/platforms/{resident['platform']}/suggestions",
                       json={**payload, "attachment_ids": [], "campaign_id": 2**63},
                       headers=bearer(resident["token"]))
    assert resp.status_code == 422
    assert resp.get_json()["details"][0]["field"] == "campaign_id"
    with committed_session(app) as s:
        from app.suggestions.models import Suggestion
        assert s.scalar(select(func.count()).select_from(Suggestion)) == 0


def test_database_overflow_that_slips_through_is_a_400_not_a_500(config):
    """The safety net: a view that hands the database an out-of-range number (SQLite raises
    OverflowError, PostgreSQL a DataError) answers 400 value_out_of_range."""
    app = create_app(config)
    bp = Blueprint("overflow_probe", __name__)

    @bp.get("/probe/<path:raw>")
    def probe(raw: str):
        get_session().execute(select(Person).where(Person.id == int(raw))).all()
        return {"ok": True}

    app.register_blueprint(bp)
    resp = app.test_client().get(f"/probe/{2**70}")
    assert resp.status_code == 400
    body = resp.get_json()
    assert body == {"error": "value_out_of_range", "message": "提交的数值超出允许范围",
                    "request_id": body["request_id"]}
    assert body["request_id"]
    app.extensions["db"].engine.dispose()


def _int_routes(app):
    """Every (method, rule) the app serves whose path takes an int id."""
    for rule in app.url_map.iter_rules():
        if any(isinstance(c, BoundedIntConverter) for c in rule._converters.values()):
            for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
                yield method, rule


def _fill(rule, args):
    return re.sub(r"<(?:\w+:)?(\w+)>", lambda m: str(args[m.group(1)]), rule.rule)


@pytest.mark.parametrize("value", [MAX_INT + 1, 4294967296, 99999999999, 10**30])
def test_every_route_answers_404_for_a_huge_id_never_405(app, client, resident, value):
    # Issue 10 #12: a rule whose int converter refused the value made werkzeug report the
    # *other* rules' methods at that path (405 without Allow) instead of "no such resource".
    wrong = []
    for method, rule in _int_routes(app):
        path = _fill(rule, {name: (value if isinstance(conv, BoundedIntConverter) else "x")
                            for name, conv in rule._converters.items()})
        resp = client.open(path, method=method, headers=bearer(resident["token"]),
                           json={} if method in ("POST", "PUT", "PATCH") else None)
        if resp.status_code != 404:
            wrong.append((method, path, resp.status_code))
    assert wrong == []


def test_every_405_names_the_allowed_methods(app, client, resident):
    # Every 405 carries Allow (RFC 9110 §15.5.6), e.g. PUT on a read-only suggestion.
    resp = client.put("/api/suggestions/1", json={}, headers=bearer(resident["token"]))
    assert resp.status_code == 405
    assert resp.get_json()["error"] == "method_not_allowed"
    assert {m.strip() for m in resp.headers["Allow"].split(",")} >= {"GET"}
    paths = {}
    for rule in app.url_map.iter_rules():
        path = _fill(rule, {n: 1 for n in rule._converters})
        paths.setdefault(path, set()).update(rule.methods)
    for path, methods in paths.items():
        missing = [m for m in ("GET", "POST", "PUT", "PATCH", "DELETE") if m not in methods]
        if not missing:
            continue
        resp = client.open(path, method=missing[0], json={})
        assert resp.status_code == 405, (missing[0], path, resp.status_code)
        allowed = {m.strip() for m in resp.headers.get("Allow", "").split(",") if m.strip()}
        assert allowed >= methods - {"HEAD", "OPTIONS"}, (path, resp.headers.get("Allow"))
