"""Sandbox sign-in (sandbox mode only; 404 otherwise): anyone may act as anyone here, which is
the point of a demo and exactly why production never serves it (app/config.py: any WeChat
credential means production).

    GET  /sandbox/demo-people   one demo person per role, as `make run` prints them
    POST /sandbox/login         {"key": "convenor"} or {"person_id": 12}, optional "console": true
                                → {"token", "expires_at", "is_new", "person"} like
                                  /api/auth/wx-login; with "console": true the console's
                                  staff_session cookie and {"csrf_token", …} like
                                  /api/auth/staff/login
"""
from __future__ import annotations

from datetime import timedelta

from flask import Blueprint, abort, current_app, jsonify, request

from ..db import get_session
from ..errors import ValidationFailed
from ..org.demo_people import demo_people
from . import sandbox
from .routes import brief, set_staff_cookie
from .schemas import LoginResponse, StaffLoginResponse

bp = Blueprint("sandbox_login", __name__, url_prefix="/sandbox")


@bp.before_request
def _sandbox_only():
    if not current_app.config["APP"].sandbox:
        abort(404)


@bp.get("/demo-people")
def people():
    return jsonify({"people": [{"key": d.key, "role": d.label, "id": d.person_id, "name": d.name,
                                "where": d.where, "does": d.does, "login_as": d.login_as,
                                "console": d.console}
                               for d in demo_people(get_session())]})


def _int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


@bp.post("/login")
def login():
    body = request.get_json(silent=True)
    if not isinstance(body, dict) or set(body) - {"key", "person_id", "console"}:
        raise ValidationFailed("请求格式不正确：{\"key\": …} 或 {\"person_id\": …}，可加 "
                               "\"console\": true", code="invalid_body")
    key, person_id, console = body.get("key"), body.get("person_id"), body.get("console", False)
    if not isinstance(console, bool):
        raise ValidationFailed("console 须为 true 或 false", code="invalid_body")
    if (key is None) == (person_id is None) or (key is not None and not (
            isinstance(key, str) and 0 < len(key) <= 40)) or (
            person_id is not None and not _int(person_id)):
        raise ValidationFailed("请给出演示人员的 key 或人员 id（二选一）", code="person_required")
    config = current_app.config["APP"]
    session = get_session()
    person = sandbox.sandbox_person(session, key=key, person_id=person_id)
    hours = config.staff_session_ttl_hours if console else config.session_ttl_hours
    result = sandbox.sandbox_login(session, person, console=console, ttl=timedelta(hours=hours))
    who = brief(session, person)
    session.commit()
    if not console:
        return jsonify(LoginResponse(token=result.token, expires_at=result.login.expires_at,
                                     is_new=False, person=who).model_dump(mode="json"))
    response = jsonify(StaffLoginResponse(csrf_token=result.login.csrf_token,
                                          expires_at=result.login.expires_at,
                                          person=who).model_dump(mode="json"))
    set_staff_cookie(response, result.token)
    return response
