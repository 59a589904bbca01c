"""The Idempotency-Key mechanism (app/idempotency.py): on a tiny create endpoint of its own, and on
the real "propose a suggestion" endpoint — a replayed key gives the first answer and creates
nothing; the same key with a different body is refused; concurrent requests with one key make
one row; a failed request frees its key; abandoned claims are taken over safely; old records are
purged by the scheduler."""
from __future__ import annotations

import json
import threading
from datetime import timedelta

import pytest
from flask import Blueprint, request
from sqlalchemy import func, select, update

from app import create_app, idempotency
from app.auth.current import open_session
from app.auth.models import SessionKind
from app.auth.permissions import authorize
from app.db import get_session, utcnow
from app.errors import ValidationFailed
from app.idempotency import IdempotencyRecord, idempotent, request_fingerprint
from app.org import factories as f
from app.org.models import HostType, Person, PlatformKind, WechatApp, WechatIdentity
from app.suggestions.models import Suggestion
from app.wechat.fake_apis import openid_for
from scheduler.jobs import JOBS, run_job

from ..helpers import bearer, committed_session

TOY_PATH = "/api/toy/notes"


class Toy:
    """Switches the toy view obeys (set by a test, reset after it)."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.gate: threading.Event | None = None  # the view waits here before any SQL
        self.entered = threading.Event()
        self.before_sql = None  # called before the view touches the database


@pytest.fixture(scope="session")
def toy(app, config):
    """A second app on the same database with one extra create endpoint: POST /api/toy/notes
    creates a Person named after the body (any row will do) the way real views do — one commit,
    then the answer. Kept out of app.api.OPERATIONS so the published OpenAPI stays clean."""
    toy_app = create_app(config)
    switches = Toy()
    bp = Blueprint("toy", __name__, url_prefix="/api/toy")

    @idempotent
    def create_note():
        body = request.get_json()
        switches.entered.set()
        if switches.gate is not None:
            switches.gate.wait(30)
        if switches.before_sql is not None:
            switches.before_sql()
        session = get_session()
        person = Person(name=body["name"])
        session.add(person)
        session.flush()
        if body.get("fail"):
            raise ValidationFailed("名称不合适", code="bad_name")
        session.commit()
        return {"id": person.id, "name": person.name}, 201

    def view():
        authorize("login")
        return create_note()

    bp.add_url_rule("/notes", "notes", view, methods=["POST"])
    toy_app.register_blueprint(bp)
    toy_app.switches = switches
    yield toy_app
    toy_app.extensions["db"].engine.dispose()


@pytest.fixture
def toy_world(app, toy):
    toy.switches.reset()
    with committed_session(app) as s:
        people = [f.create_person(s, name=n) for n in ("甲居民", "乙居民")]
        s.flush()
        tokens = [open_session(s, p, SessionKind.mp, timedelta(hours=1))[0] for p in people]
    yield {"tokens": tokens, "people": [p.id for p in people]}
    toy.switches.reset()


def headers(world, key="k-1", who=0):
    h = bearer(world["tokens"][who])
    if key is not None:
        h["Idempotency-Key"] = key
    return h


def named(app, name) -> int:
    with committed_session(app) as s:
        return s.scalar(select(func.count()).select_from(Person).where(Person.name == name))


def records(app) -> list[tuple]:
    with committed_session(app) as s:
        return [tuple(r) for r in s.execute(
            select(IdempotencyRecord.person_id, IdempotencyRecord.key,
                   IdempotencyRecord.status_code).order_by(IdempotencyRecord.id))]


# --- replay, mismatch, failure ----------------------------------------------------------------------

def test_replay_returns_the_first_answer_and_creates_nothing(app, toy, toy_world):
    c = toy.test_client()
    first = c.post(TOY_PATH, json={"name": "便签一"}, headers=headers(toy_world))
    assert first.status_code == 201
    again = c.post(TOY_PATH, json={"name": "便签一"}, headers=headers(toy_world))
    assert again.status_code == 201
    assert again.get_json() == first.get_json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert named(app, "便签一") == 1
    assert records(app) == [(toy_world["people"][0], "k-1", 201)]


def test_the_same_body_written_differently_is_the_same_request(app, toy, toy_world):
    c = toy.test_client()
    h = {**headers(toy_world), "Content-Type": "application/json"}
    first = c.post(TOY_PATH, data='{"name": "便签二", "tag": 1}', headers=h)
    again = c.post(TOY_PATH, data='{"tag":1,"name":"\\u4fbf\\u7b7e\\u4e8c"}', headers=h)
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert named(app, "便签二") == 1


def test_same_key_with_a_different_body_is_422(app, toy, toy_world):
    c = toy.test_client()
    assert c.post(TOY_PATH, json={"name": "便签三"}, headers=headers(toy_world)).status_code == 201
    r = c.post(TOY_PATH, json={"name": "别的便签"}, headers=headers(toy_world))
    assert r.status_code == 422
    assert r.json["error"] == "idempotency_key_reused" and r.json["message"]
    assert named(app, "别的便签") == 0 and named(app, "便签三") == 1


def test_without_a_key_every_request_creates(app, toy, toy_world):
    c = toy.test_client()
    for _ in range(2):
        assert c.post(TOY_PATH, json={"name": "无键"},
                      headers=headers(toy_world, key=None)).status_code == 201
    assert named(app, "无键") == 2 and records(app) == []


def test_keys_are_per_person(app, toy, toy_world):
    c = toy.test_client()
    a = c.post(TOY_PATH, json={"name": "同键"}, headers=headers(toy_world, who=0))
    b = c.post(TOY_PATH, json={"name": "同键"}, headers=headers(toy_world, who=1))
    assert (a.status_code, b.status_code) == (201, 201)
    assert "Idempotent-Replayed" not in b.headers and a.json["id"] != b.json["id"]
    assert named(app, "同键") == 2


def test_a_failed_request_keeps_nothing_and_frees_its_key(app, toy, toy_world):
    c = toy.test_client()
    r = c.post(TOY_PATH, json={"name": "失败", "fail": True}, headers=headers(toy_world))
    assert r.status_code == 422 and r.json["error"] == "bad_name"
    assert named(app, "失败") == 0  # the flushed row was rolled back
    assert records(app) == []       # and the claim released
    r = c.post(TOY_PATH, json={"name": "失败"}, headers=headers(toy_world))
    assert r.status_code == 201 and "Idempotent-Replayed" not in r.headers
    assert named(app, "失败") == 1


def test_a_failure_while_storing_the_answer_keeps_nothing_and_frees_the_key(
        app, toy, toy_world, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("database went away")

    monkeypatch.setattr(idempotency, "store_answer", broken)
    r = toy.test_client().post(TOY_PATH, json={"name": "存储失败"}, headers=headers(toy_world))
    assert r.status_code == 500 and r.json["error"] == "internal_error"
    assert named(app, "存储失败") == 0 and records(app) == []
    monkeypatch.undo()
    r = toy.test_client().post(TOY_PATH, json={"name": "存储失败"}, headers=headers(toy_world))
    assert r.status_code == 201 and named(app, "存储失败") == 1


def test_malformed_key_is_400_before_anything_happens(app, toy, toy_world):
    r = toy.test_client().post(TOY_PATH, json={"name": "坏键"},
                               headers=headers(toy_world, key="bad key"))
    assert r.status_code == 400 and r.json["error"] == "invalid_idempotency_key"
    assert named(app, "坏键") == 0 and records(app) == []


# --- in progress, concurrency, abandoned claims ---------------------------------------------------

def _claim(app, world, body, *, age, who=0, key="k-1", status=idempotency.IN_PROGRESS):
    fingerprint = request_fingerprint("POST", TOY_PATH, [], json.dumps(body).encode())
    with committed_session(app) as s:
        s.add(IdempotencyRecord(person_id=world["people"][who], key=key,
                                endpoint=f"POST {TOY_PATH}", request_hash=fingerprint,
                                status_code=status, response_body=None,
                                created_at=utcnow() - age))


def test_a_request_still_running_gives_409_request_in_progress(app, toy, toy_world, monkeypatch):
    monkeypatch.setattr(idempotency, "WAIT_SECONDS", 0.2)
    _claim(app, toy_world, {"name": "进行中"}, age=timedelta(seconds=1))
    r = toy.test_client().post(TOY_PATH, json={"name": "进行中"}, headers=headers(toy_world))
    assert r.status_code == 409
    assert r.json["error"] == "request_in_progress" and r.json["message"]
    assert named(app, "进行中") == 0


def test_a_retry_waits_for_the_first_request_and_gets_its_answer(app, toy, toy_world,
                                                                 monkeypatch):
    """Deterministic: the first request is held inside its view until the retry has seen the
    claim in progress (its first poll), then let go; the retry then replays its answer."""
    polling = threading.Event()
    real_sleep = idempotency.time.sleep

    class Clock:
        monotonic = staticmethod(idempotency.time.monotonic)

        @staticmethod
        def sleep(seconds):
            polling.set()
            real_sleep(seconds)

    monkeypatch.setattr(idempotency, "time", Clock)
    toy.switches.gate = threading.Event()
    out = {}

    def send(name):
        out[name] = toy.test_client().post(TOY_PATH, json={"name": "等待"},
                                           headers=headers(toy_world))

    first = threading.Thread(target=send, args=("first",))
    first.start()
    assert toy.switches.entered.wait(10)  # the first request owns the claim
    retry = threading.Thread(target=send, args=("retry",))
    retry.start()
    assert polling.wait(10)  # the retry found the claim in progress
    toy.switches.gate.set()
    first.join(30)
    retry.join(30)
    assert out["first"].status_code == 201
    assert out["retry"].status_code == 201
    assert out["retry"].headers["Idempotent-Replayed"] == "true"
    assert out["retry"].get_json() == out["first"].get_json()
    assert named(app, "等待") == 1


def test_concurrent_requests_with_one_key_make_one_row(app, toy, toy_world):
    n = 20
    barrier = threading.Barrier(n)
    results = [None] * n

    def send(i):
        c = toy.test_client()
        barrier.wait()
        r = c.post(TOY_PATH, json={"name": "并发"}, headers=headers(toy_world))
        results[i] = (r.status_code, r.get_json())

    threads = [threading.Thread(target=send, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert all(r is not None for r in results)
    ok = [body for code, body in results if code == 201]
    assert ok and all(body == ok[0] for body in ok)
    assert all(code == 409 and body["error"] == "request_in_progress"
               for code, body in results if code != 201)
    assert named(app, "并发") == 1
    assert records(app) == [(toy_world["people"][0], "k-1", 201)]


def test_an_abandoned_claim_is_taken_over(app, toy, toy_world):
    _claim(app, toy_world, {"name": "接手"}, age=idempotency.STALE_AFTER + timedelta(seconds=5))
    r = toy.test_client().post(TOY_PATH, json={"name": "接手"}, headers=headers(toy_world))
    assert r.status_code == 201 and "Idempotent-Replayed" not in r.headers
    assert named(app, "接手") == 1
    assert records(app) == [(toy_world["people"][0], "k-1", 201)]


def test_a_request_whose_claim_was_taken_over_keeps_nothing(app, toy, toy_world):
    """If a slow request lost its claim to another worker, its final write (conditional on still
    owning the claim) fails and everything it did is rolled back: never two rows."""
    person_id = toy_world["people"][0]

    def taken_over():
        with committed_session(app) as s:
            s.execute(update(IdempotencyRecord)
                      .where(IdempotencyRecord.person_id == person_id)
                      .values(created_at=utcnow() + timedelta(seconds=1)))

    toy.switches.before_sql = taken_over
    r = toy.test_client().post(TOY_PATH, json={"name": "被接手"}, headers=headers(toy_world))
    assert r.status_code == 409 and r.json["error"] == "request_in_progress"
    assert named(app, "被接手") == 0
    assert records(app) == [(person_id, "k-1", idempotency.IN_PROGRESS)]


# --- housekeeping ---------------------------------------------------------------------------------

def test_scheduler_purges_records_older_than_24_hours(app, toy_world):
    _claim(app, toy_world, {"name": "旧"}, key="old", age=timedelta(hours=25), status=201)
    _claim(app, toy_world, {"name": "旧"}, key="stuck", age=timedelta(hours=30))
    _claim(app, toy_world, {"name": "新"}, key="recent", age=timedelta(hours=23), status=201)
    spec = next(j for j in JOBS if j.id == "purge_idempotency_records")
    assert run_job(app, spec) == 2
    assert [r[1] for r in records(app)] == ["recent"]


# --- the real create endpoint: proposing a suggestion ----------------------------------------------

@pytest.fixture
def resident(app, fake_wechat):
    with committed_session(app) as s:
        town = f.create_region_chain(s, code="6200", names=("幂等市", "幂等县", "幂等镇"))[-1]
        room = f.create_platform(s, kind=PlatformKind.room, host_type=HostType.town, region=town)
        person = f.create_person(s, name="钱居民")
        s.flush()
        s.add(WechatIdentity(person_id=person.id, app=WechatApp.mp,
                             openid=openid_for(f"idem{person.id}")))
        token = open_session(s, person, SessionKind.mp, timedelta(hours=1))[0]
        return {"token": token, "platform": room.id}


SUGGESTION = {"title": "路口缺少红绿灯", "description": "上下学时间车多，孩子过马路很危险。",
              "category": "livelihood"}


def suggestions(app) -> int:
    with committed_session(app) as s:
        return s.scalar(select(func.count()).select_from(Suggestion))


def test_replayed_key_on_propose_makes_one_suggestion(app, client, resident):
    url = f"/api/platforms/{resident['platform']}/suggestions"
    h = {**bearer(resident["token"]), "Idempotency-Key": "sug-1"}
    first = client.post(url, json=SUGGESTION, headers=h)
    assert first.status_code == 201, first.json
    again = client.post(url, json=SUGGESTION, headers=h)
    assert again.status_code == 201
    assert again.get_json() == first.get_json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert suggestions(app) == 1

    other = client.post(url, json={**SUGGESTION, "title": "另一个建议标题"}, headers=h)
    assert other.status_code == 422 and other.json["error"] == "idempotency_key_reused"
    assert suggestions(app) == 1


def test_concurrent_proposals_with_one_key_make_one_suggestion(app, resident):
    url = f"/api/platforms/{resident['platform']}/suggestions"
    h = {**bearer(resident["token"]), "Idempotency-Key": "sug-2"}
    n = 10
    barrier = threading.Barrier(n)
    codes = [None] * n

    def send(i):
        c = app.test_client()
        barrier.wait()
        codes[i] = c.post(url, json=SUGGESTION, headers=h).status_code

    threads = [threading.Thread(target=send, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert 201 in codes and set(codes) <= {201, 409}, codes
    assert suggestions(app) == 1
