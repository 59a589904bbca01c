"""Webhook benchmark: Official Account messages through gunicorn at a fixed rate, with WeChat's
duplicate deliveries mixed in.

    make bench-webhook            (or: .venv/bin/python -m bench.webhook_bench)

wrk (bench/lua/webhook.lua) paces BENCH_CONNECTIONS connections so that together they send
BENCH_RATE messages per second for BENCH_SECONDS: text from residents bound to the Official
Account and invited to the demo meeting ("我的会议", "参加", "简报", "帮助") and from unbound
followers ("帮助"); BENCH_DUPLICATES of the deliveries repeat a recent message with its MsgId
(WeChat's retries). Baseline in the same run: a bare Flask endpoint under the same gunicorn
settings that checks the signature, parses the XML and answers "success" — no de-duplication, no
conversation, no database. wrk measures from send to answer on each connection.

Integrity afterwards: at most one RSVP change per invitation however often "参加" arrived.
Needs PostgreSQL and Redis as bench/notify_bench.py, and wrk (installed with apt-get when
missing). Results: bench/results/webhook-<date>.md, .json, and webhook-latest.md.
"""
from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import time
from datetime import datetime, timezone

import redis
from sqlalchemy import create_engine, func, insert, select, text

from bench.harness import (RESULTS, ROOT, ensure_wrk, free_port, log, machine, migrate,
                           scratch_database, start_gunicorn, stop)

LUA = ROOT / "bench" / "lua" / "webhook.lua"
RATE = float(os.environ.get("BENCH_RATE", "300"))
SECONDS = float(os.environ.get("BENCH_SECONDS", "20"))
DUPLICATES = float(os.environ.get("BENCH_DUPLICATES", "0.2"))
WORKERS = int(os.environ.get("BENCH_WORKERS", "3"))
THREADS = int(os.environ.get("BENCH_THREADS", "4"))
BOUND = int(os.environ.get("BENCH_BOUND", "2000"))
CONNECTIONS = int(os.environ.get("BENCH_CONNECTIONS", "30"))
TOKEN = "sandbox-oa-token"
TARGETS = {"p99_ms": 100.0, "rate": 300.0}


def signed_query() -> str:
    """A plain-mode signature over (token, timestamp, nonce): it does not cover the body, so one
    query string serves the whole run (well inside the 300-second timestamp window)."""
    timestamp, nonce = str(int(time.time())), "bench"
    signature = hashlib.sha1("".join(sorted([TOKEN, timestamp, nonce])).encode()).hexdigest()
    return f"signature={signature}&timestamp={timestamp}&nonce={nonce}&openid=x"


def prepare(database_url: str) -> int:
    """Demo city, and BOUND residents with an Official Account openid invited to its meeting."""
    from app import create_app
    from app.consultations.models import Consultation, Invitation
    from app.db import utcnow
    from app.org.demo import seed_demo
    from app.org.models import Person, Role, RoleAssignment, WechatApp, WechatIdentity

    app = create_app()
    with app.app_context(), app.extensions["db"].session_scope() as s:
        seed_demo(s)
        c = s.scalars(select(Consultation).order_by(Consultation.id)).first()
        convenor = s.scalar(select(RoleAssignment.person_id).where(
            RoleAssignment.role == Role.convenor, RoleAssignment.platform_id == c.platform_id))
        first = s.scalar(select(func.coalesce(func.max(Person.id), 0))) + 1
        ids = list(range(first, first + BOUND))
        now = utcnow()
        s.execute(insert(Person), [{"id": i, "name": f"居民{i}", "is_active": True,
                                    "created_at": now, "updated_at": now} for i in ids])
        s.execute(insert(WechatIdentity), [
            {"person_id": i, "app": WechatApp.oa, "openid": f"o_bench_oa_{i}",
             "created_at": now, "updated_at": now} for i in ids])
        s.execute(insert(Invitation), [
            {"consultation_id": c.id, "person_id": i, "group": "resident",
             "invited_at": now, "invited_by_id": convenor} for i in ids])
        s.execute(text("SELECT setval(pg_get_serial_sequence('people', 'id'), "
                       "(SELECT max(id) FROM people))"))
    app.extensions["db"].engine.dispose()
    return first


def drive(wrk_bin: str, port: int, first_id: int, seconds: float) -> dict:
    """wrk, paced: CONNECTIONS connections each sending every CONNECTIONS/RATE seconds."""
    env = {**os.environ, "BENCH_QUERY": signed_query(), "BENCH_FIRST_ID": str(first_id),
           "BENCH_BOUND": str(BOUND), "BENCH_DUPLICATES": str(DUPLICATES),
           "BENCH_INTERVAL_MS": str(int(1000 * CONNECTIONS / RATE))}
    out = subprocess.run(
        [wrk_bin, "-t2", f"-c{CONNECTIONS}", f"-d{int(seconds)}s", "--timeout", "10s", "-s",
         str(LUA), f"http://127.0.0.1:{port}"], env=env, capture_output=True, text=True,
        timeout=seconds + 60)
    line = next((ln for ln in out.stdout.splitlines() if ln.startswith("BENCH_JSON ")), None)
    if line is None:
        raise RuntimeError(f"wrk gave no result: {out.stdout}\n{out.stderr}")
    raw = json.loads(line[len("BENCH_JSON "):])
    secs = raw["duration_us"] / 1e6
    return {"messages": raw["requests"], "seconds": round(secs, 1),
            "rate": round(raw["requests"] / secs, 1),
            "p50_ms": round(raw["p50_us"] / 1000, 1), "p90_ms": round(raw["p90_us"] / 1000, 1),
            "p99_ms": round(raw["p99_us"] / 1000, 1), "max_ms": round(raw["max_us"] / 1000, 1),
            "errors": raw["non_2xx"] + raw["connect_errors"] + raw["read_errors"]
            + raw["write_errors"] + raw["timeouts"]}


def integrity(database_url: str) -> dict:
    """Every "参加" is the same answer, so an invitation changes at most once however often the
    message is delivered: at most one RSVP audit record per invitation."""
    engine = create_engine(database_url)
    with engine.connect() as conn:
        rsvps, worst = conn.execute(text(
            "SELECT count(*), coalesce(max(n), 0) FROM (SELECT object_id, count(*) AS n"
            " FROM audit_entries WHERE action = 'consultation.rsvp' GROUP BY object_id) t")).one()
        replies = conn.scalar(text("SELECT count(*) FROM outbox WHERE kind = 'chat_reply'"))
    engine.dispose()
    return {"invitations_answered": rsvps, "most_rsvp_records_per_invitation": worst,
            "late_replies_queued": replies, "ok": worst <= 1}


def write_report(r: dict) -> None:
    day = r["started_at"][:10]
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"webhook-{day}.json").write_text(json.dumps(r, ensure_ascii=False, indent=2))
    m, p, b, i = r["machine"], r["runs"]["product"], r["runs"]["baseline"], r["integrity"]
    lines = [
        f"# Official Account webhook benchmark — {r['started_at']}", "",
        f"Machine: {m['cores']} cores ({m['cpu']}), {m['memory_gib']} GiB, Python {m['python']},"
        f" {m['postgresql']}. gunicorn {WORKERS} workers × {THREADS} threads (gthread),"
        f" PostgreSQL and Redis on 127.0.0.1; wrk (2 threads, {CONNECTIONS} paced connections)"
        " on the same cores.",
        f"Load: {RATE:g} messages/s for {SECONDS:g} s, {int(DUPLICATES * 100)} % duplicate"
        f" deliveries, {BOUND} bound residents invited to the demo meeting, 15 % unbound"
        " followers.", "",
        "| run | messages | achieved msg/s | p50 ms | p90 ms | p99 ms | max ms | errors |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, run in (("baseline (bare Flask: signature + XML + success)", b),
                      ("product /wechat/oa", p)):
        lines.append(f"| {name} | {run['messages']} | {run['rate']} | {run['p50_ms']} |"
                     f" {run['p90_ms']} | {run['p99_ms']} | {run['max_ms']} | {run['errors']} |")
    lines += ["", f"Integrity: {i['invitations_answered']} invitations answered by chat, at most"
              f" {i['most_rsvp_records_per_invitation']} RSVP record per invitation;"
              f" {i['late_replies_queued']} answers missed the reply deadline and were queued"
              " as customer-service messages.", "", "## Verdicts", ""]
    lines += [f"- {v}" for v in r["verdicts"]]
    text_ = "\n".join(lines) + "\n"
    (RESULTS / f"webhook-{day}.md").write_text(text_)
    (RESULTS / "webhook-latest.md").write_text(text_)
    print(text_)


def verdicts(r: dict) -> list[str]:
    p = r["runs"]["product"]
    ok_rate = p["rate"] >= TARGETS["rate"] * 0.95
    ok_p99 = p["p99_ms"] <= TARGETS["p99_ms"]
    return [
        f"{'MET' if ok_p99 and ok_rate else 'MISSED'}: p99 {p['p99_ms']} ms at"
        f" {p['rate']} msg/s (target p99 ≤ 100 ms at 300 msg/s).",
        f"{'MET' if not p['errors'] else 'MISSED'}: {p['errors']} errors or non-2xx answers.",
        f"{'MET' if r['integrity']['ok'] else 'MISSED'}: duplicates produced no second RSVP.",
    ]


def main() -> None:
    redis_url = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/14")
    redis.Redis.from_url(redis_url).flushdb()
    wrk_bin = ensure_wrk()
    result = {"started_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
              "machine": machine(gunicorn_workers=WORKERS, threads=THREADS, rate=RATE),
              "runs": {}}
    procs = []
    try:
        with scratch_database("yshsl_bench_webhook") as database_url:
            env = {**os.environ, "DATABASE_URL": database_url, "REDIS_URL": redis_url,
                   "WECHAT_MP_APPID": "", "LOG_LEVEL": "WARNING", "DEMO_DATA": "0",
                   "WECHAT_API_BASE": "http://127.0.0.1:9"}  # nothing may call out
            os.environ.update(DATABASE_URL=database_url, REDIS_URL=redis_url,
                              LOG_LEVEL="WARNING")
            sys.path.insert(0, str(ROOT))
            log("preparing: migrations, demo city, bound residents")
            migrate(database_url)
            first_id = prepare(database_url)

            port = free_port()
            log("baseline: bare webhook")
            procs.append(start_gunicorn("bench.baseline_app:app", {
                **env, "BENCH_PERSON_IDS": os.devnull}, port, WORKERS, "gthread", THREADS))
            result["runs"]["baseline"] = drive(wrk_bin, port, first_id, SECONDS)
            stop(procs.pop())

            port = free_port()
            log("product: /wechat/oa")
            procs.append(start_gunicorn("app.wsgi:app", env, port, WORKERS, "gthread",
                                        THREADS))
            drive(wrk_bin, port, first_id, 3)  # warm-up
            result["runs"]["product"] = drive(wrk_bin, port, first_id, SECONDS)
            stop(procs.pop())
            result["integrity"] = integrity(database_url)
    finally:
        for p in procs:
            stop(p)
    result["verdicts"] = verdicts(result)
    write_report(result)


if __name__ == "__main__":
    main()
