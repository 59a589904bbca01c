"""Logs never carry WeChat secrets: at LOG_LEVEL=DEBUG the HTTP libraries would print every
request line, and WeChat's token URL holds the AppSecret (the access_token rides in every other
URL)."""
from __future__ import annotations

import logging

import requests

from app.logs import configure_logging


def test_debug_logging_does_not_print_wechat_urls(fake_wechat, caplog):
    root = logging.getLogger()
    before = root.level
    try:
        configure_logging("DEBUG")
        with caplog.at_level(logging.DEBUG):
            requests.get(f"{fake_wechat.base_url}/cgi-bin/token",
                         params={"grant_type": "client_credential", "appid": "wxlog",
                                 "secret": "TOP-SECRET-VALUE"}, timeout=5)
            logging.getLogger("app.probe").debug("app debug lines still appear")
        text = "\n".join(r.getMessage() for r in caplog.records)
        assert "app debug lines still appear" in text  # DEBUG really is on
        assert "TOP-SECRET-VALUE" not in text
        assert not logging.getLogger("urllib3.connectionpool").isEnabledFor(logging.DEBUG)
    finally:
        root.setLevel(before)


def _logged_text(records) -> str:
    """Everything the JSON formatter would write for these records (message, fields, traceback)."""
    from app.logs import JsonFormatter

    formatter = JsonFormatter()
    return "\n".join(formatter.format(r) for r in records)


def test_database_errors_log_no_sql_parameters(config, caplog):
    """Issue 10 #14: an IntegrityError's log line carried SQLAlchemy's `[parameters: …]` — the
    phone hash and ciphertext of the person being written."""
    from flask import Blueprint

    from app import create_app
    from app.db import Base, get_session
    from app.org import factories as f

    app = create_app(config)
    Base.metadata.create_all(app.extensions["db"].engine)
    bp = Blueprint("duplicate_probe", __name__)

    @bp.post("/probe/duplicate-phone")
    def probe():
        session = get_session()
        f.create_person(session, name="甲", phone="13912345678")
        f.create_person(session, name="乙", phone="13912345678")  # UNIQUE phone_hash
        return {"ok": True}

    app.register_blueprint(bp)
    with app.app_context():
        from app.crypto import get_cipher

        phone_hash = get_cipher().lookup_hash("13912345678")
    with caplog.at_level(logging.INFO):
        resp = app.test_client().post("/probe/duplicate-phone")
    assert resp.status_code == 500
    text = _logged_text(caplog.records)
    assert "IntegrityError" in text  # the error itself is still logged
    assert phone_hash not in text
    assert "[parameters:" not in text
    app.extensions["db"].engine.dispose()


def test_access_log_redacts_upload_keys(app, client, caplog):
    """Issue 10 #14: the key in /api/uploads/<key> is the secret part of a photo URL; the
    access log records the route with the key blanked, ids elsewhere stay."""
    key = "Zq3xL0-secret-upload-key_AbCdEf123456"
    with caplog.at_level(logging.INFO, logger="app.access"):
        client.get(f"/api/uploads/{key}")
        client.get("/api/suggestions/12345")
    lines = [r for r in caplog.records if r.name == "app.access"]
    text = _logged_text(lines)
    assert key not in text
    paths = [r.fields["path"] for r in lines]
    assert paths == ["/api/uploads/***", "/api/suggestions/12345"]
