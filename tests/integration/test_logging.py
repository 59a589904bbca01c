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
