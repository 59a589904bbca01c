"""The bare baseline for the vote benchmark: a minimal Flask app doing the same single vote insert
with raw SQL and no auth, on the same gunicorn settings, driver and database as the product."""
from __future__ import annotations

import os

from flask import Flask, jsonify, request
from sqlalchemy import create_engine, text

app = Flask(__name__)
_engine = create_engine(os.environ["DATABASE_URL"], pool_size=5, max_overflow=10)
_PEOPLE = [int(x) for x in open(os.environ["BENCH_PERSON_IDS"]).read().split()]
_INSERT = text("INSERT INTO votes (suggestion_id, person_id, created_at) VALUES (:s, :p, now())"
               " ON CONFLICT (suggestion_id, person_id) DO NOTHING")


@app.post("/vote")
def vote():
    body = request.get_json()
    with _engine.begin() as conn:
        conn.execute(_INSERT, {"s": int(body["suggestion_id"]),
                               "p": _PEOPLE[int(body["person_index"]) - 1]})
    return jsonify({"ok": True})


# --- the webhook baseline (bench/webhook_bench.py) ------------------------------------------------

_OA_TOKEN = "sandbox-oa-token"


@app.post("/wechat/oa")
def wechat_oa():
    """Signature check, XML parse, "success": what any webhook does before its own work."""
    import hashlib
    import xml.etree.ElementTree as ET

    args = request.args
    parts = sorted([_OA_TOKEN, args.get("timestamp", ""), args.get("nonce", "")])
    if hashlib.sha1("".join(parts).encode()).hexdigest() != args.get("signature"):
        return "forbidden", 403
    root = ET.fromstring(request.get_data())
    if root.findtext("MsgType") is None:
        return "bad request", 400
    return "success"
