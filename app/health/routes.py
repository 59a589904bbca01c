"""Liveness and readiness."""
from __future__ import annotations

from flask import Blueprint, current_app, g, jsonify
from sqlalchemy import text

from ..db import get_db

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz():
    """The process is up (no dependencies checked)."""
    return jsonify({"status": "ok"})


@bp.get("/readyz")
def readyz():
    """Ready to serve: the database answers and, where configured, Redis answers."""
    checks: dict[str, str] = {}
    try:
        with get_db().engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        checks["database"] = "ok"
    except Exception as exc:  # noqa: BLE001 - any failure means not ready
        checks["database"] = f"error: {type(exc).__name__}"
    if current_app.config["APP"].redis_url:
        try:
            current_app.extensions["redis"].ping()
            checks["redis"] = "ok"
        except Exception as exc:  # noqa: BLE001
            checks["redis"] = f"error: {type(exc).__name__}"
    ready = all(v == "ok" for v in checks.values())
    body = {"status": "ok" if ready else "unavailable", "checks": checks}
    if not ready:
        body.update(error="not_ready", message="服务尚未就绪", request_id=g.get("request_id"))
    return jsonify(body), 200 if ready else 503
