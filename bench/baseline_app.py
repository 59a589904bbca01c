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
