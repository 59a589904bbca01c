"""The WeChat module: the only place wechatpy is imported (see client.py).

Use ``get_wechat()`` inside an app context: ``get_wechat().mp.code2session(code)``,
``get_wechat().oa.send_template(...)``, ``get_wechat().robot_send(key, text)``.
Errors are ``app.wechat.errors.WechatError`` (an AppError) with ``.outcome``.
"""
from __future__ import annotations

import logging

log = logging.getLogger(__name__)


def init_wechat(app) -> None:
    """Attach the WeChat gateways to the app as ``app.extensions["wechat"]``."""
    from .client import Wechat

    config = app.config["APP"]
    wechat = Wechat(config, app.extensions["redis"])
    if config.sandbox and not config.wechat_api_base:
        log.warning("sandbox mode without WECHAT_API_BASE: WeChat calls will fail until the "
                    "local fake is started (python -m app.wechat.fake) and WECHAT_API_BASE set")
    app.extensions["wechat"] = wechat


def get_wechat():
    """The current app's ``Wechat`` (app/wechat/client.py)."""
    from flask import current_app

    return current_app.extensions["wechat"]
