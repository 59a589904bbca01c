"""The sandbox chat page (sandbox mode only): chat with the Official Account bot as any seeded
person and watch their notices arrive — the product's demo.

    GET  /sandbox/chat                 the page
    GET  /sandbox/chat/people?q=       seeded people to pick from (name, roles)
    POST /sandbox/chat/send            {"person_id": 12, "text": "参加"} or {"guest": "…", "text": …}
                                       or {"person_id": 12, "event": "click", "event_key": "HELP"}
    GET  /sandbox/chat/feed?person_id= the person's notices: the in-app inbox and what reached
                                       their WeChat at the local fake (subscribe, template and
                                       customer-service messages)

A message goes through exactly the webhook's pipeline (bots.webhook.handle_inbound: dedupe, the
5-second window, the conversation). A picked person is bound to a sandbox Official Account
openid on first use; a "guest" is an unbound new follower (to try ``绑定 123456``).
Outside sandbox mode every route answers 404: the page lets anyone act as anyone.
"""
from __future__ import annotations

import re
import time

import requests
from flask import Blueprint, abort, current_app, jsonify, render_template, request
from app.chat import sandbox
from app.db import get_session
from app.errors import ValidationFailed
from app.notify.services import list_inbox

from .conversation import Inbound

bp = Blueprint("sandbox_chat", __name__, url_prefix="/sandbox/chat",
               template_folder="templates")

TEXT_MAX = 600
GUEST = re.compile(r"^[A-Za-z0-9_-]{6,40}$")
# Where notices reach a person's WeChat at the fake, and how the page labels them.
WECHAT_PATHS = {
    "/cgi-bin/message/subscribe/send": "小程序订阅消息",
    "/cgi-bin/message/template/send": "公众号模板消息",
    "/cgi-bin/message/custom/send": "公众号客服消息",
}


@bp.before_request
def _sandbox_only():
    if not current_app.config["APP"].sandbox:
        abort(404)


@bp.get("")
def page():
    return render_template("sandbox_chat.html")


@bp.get("/people")
def people():
    q = (request.args.get("q") or "").strip()[:32]
    return jsonify({"people": sandbox.people_to_pick(get_session(), q)})


@bp.post("/send")
def send():
    from .webhook import handle_inbound

    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise ValidationFailed("请求格式不正确", code="invalid_body")
    text = body.get("text")
    event, event_key = body.get("event"), body.get("event_key")
    if text is not None and (not isinstance(text, str) or not text.strip()
                             or len(text) > TEXT_MAX):
        raise ValidationFailed(f"消息须为 1–{TEXT_MAX} 个字", code="invalid_text")
    if text is None and event not in ("subscribe", "unsubscribe", "click"):
        raise ValidationFailed("请输入消息", code="invalid_text")
    if event_key is not None and (not isinstance(event_key, str) or len(event_key) > 64):
        raise ValidationFailed("菜单键不正确", code="invalid_event_key")

    guest, person_id = body.get("guest"), body.get("person_id")
    if isinstance(guest, str) and GUEST.match(guest):
        openid = f"o_sandbox_guest_{guest}"
    elif isinstance(person_id, int) and not isinstance(person_id, bool) and person_id > 0:
        session = get_session()
        openid = sandbox.chat_openid(session, person_id)
        session.commit()
    else:
        raise ValidationFailed("请先选择一个人", code="person_required")

    now = int(time.time())
    if text is not None:
        # A fresh MsgId per message, as WeChat does (time-based, unique within this process).
        inbound = Inbound(openid=openid, kind="text", content=text,
                          msg_id=time.time_ns() // 1000, create_time=now)
    else:
        inbound = Inbound(openid=openid, kind="event", event=event, event_key=event_key or "",
                          create_time=now)
    # End this request's read transaction first: the bot answers in its own session (on SQLite
    # an open transaction here would hold up its writes until the reply deadline).
    get_session().rollback()
    reply = handle_inbound(current_app._get_current_object(), inbound)
    return jsonify({"openid": openid, "reply": reply})


@bp.get("/feed")
def feed():
    session = get_session()
    person_id = request.args.get("person_id", type=int) or 0
    sandbox.person_or_404(session, person_id)
    items, _ = list_inbox(session, person_id, limit=30)
    return jsonify({
        "inbox": [{"id": i.id, "kind": i.kind, "title": i.title, "body": i.body,
                   "at": i.created_at.isoformat()} for i in items],
        "wechat": _wechat_deliveries(sandbox.wechat_addresses(session, person_id)),
    })


def _wechat_deliveries(openids: set[str]) -> list[dict]:
    """Successful sends to these openids as the fake WeChat recorded them (newest first)."""
    base = current_app.config["APP"].wechat_api_base.rstrip("/")
    if not base:
        return []
    out = []
    for path, label in WECHAT_PATHS.items():
        try:
            calls = requests.get(f"{base}/__fake__/calls", params={"path": path},
                                 timeout=2).json().get("calls", [])
        except (requests.RequestException, ValueError):
            continue
        for call in calls:
            body = call.get("body") or {}
            if call.get("errcode") != 0 or body.get("touser") not in openids:
                continue
            out.append({"channel": label, "at": call.get("at"), "text": _readable(body)})
    return sorted(out, key=lambda d: d["at"] or 0, reverse=True)[:30]


def _readable(body: dict) -> str:
    if isinstance(body.get("text"), dict):
        return str(body["text"].get("content", ""))
    data = body.get("data") or {}
    parts = [str(v.get("value", "")) for v in data.values() if isinstance(v, dict)]
    return "；".join(p for p in parts if p)
