"""The WeChat module: the only place wechatpy is imported (see client.py)."""
from __future__ import annotations


def init_wechat(app) -> None:
    """Attach the WeChat clients to the app (filled in by app/wechat/client.py)."""
    app.extensions.setdefault("wechat", None)
