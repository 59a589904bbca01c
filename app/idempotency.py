"""Idempotent create requests: a client sends an `Idempotency-Key` header; a retry with the same
key (a phone on a bad network) gets the first answer again instead of creating a second row."""
from __future__ import annotations

import functools
import hashlib
import json
import logging
import re
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Callable

from flask import Response, current_app, jsonify, request
from pydantic import BaseModel
from sqlalchemy import (
    JSON, ForeignKey, Integer, String, UniqueConstraint, and_, delete, select, update,
)
from sqlalchemy.orm import Mapped, Session, mapped_column

from .db import Base, insert_ignoring_duplicate, utcnow
from .errors import AppError, Conflict

log = logging.getLogger(__name__)


class IdempotencyRecord(Base):
    """The first answer to a create request carrying an `Idempotency-Key`, per person and key."""

    __tablename__ = "idempotency_records"
    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"))
    key: Mapped[str] = mapped_column(String(64))
    endpoint: Mapped[str] = mapped_column(String(128))
    request_hash: Mapped[str] = mapped_column(String(64))
    status_code: Mapped[int] = mapped_column(Integer)
    response_body: Mapped[dict | list | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    __table_args__ = (UniqueConstraint("person_id", "key"),)


# --- the mechanism ------------------------------------------------------------------------------
#
# Contract (docs/api.md "Idempotency-Key"):
# - A create endpoint decorated with `@idempotent` (under `@endpoint`) accepts an optional
#   `Idempotency-Key` header: 1–64 characters of [A-Za-z0-9_-], else 400 invalid_idempotency_key.
# - Keys belong to the logged-in person: (person_id, key) is UNIQUE in the database.
# - The first request with a key *claims* it (a placeholder row, status_code 0, committed in its
#   own short transaction), runs the view, and stores the answer (status + JSON body) in the SAME
#   transaction as the rows the view created. So either both the created rows and the stored
#   answer exist, or neither does: a retry can never create a second row.
# - A retry with the same key and the same request gets the stored answer (same status, same
#   JSON body, header `Idempotent-Replayed: true`) and creates nothing.
# - The same key with a different request (method, path, query or body) → 422
#   idempotency_key_reused.
# - A retry while the first request is still running waits up to WAIT_SECONDS for its answer,
#   then gets 409 request_in_progress (the client retries later with the same key).
# - Only successful (2xx) answers are stored. When the view raises (a domain error such as 422
#   or 429, or a crash) everything it did is rolled back and the claim is released, so the same
#   key may be retried — nothing was created the first time. (A view that *returns* a non-2xx
#   status keeps what it committed; the claim is released all the same.)
# - A claim left behind by a crashed worker is taken over after STALE_AFTER; the final write is
#   conditional on still owning the claim (created_at is the owner's token), so even then no
#   second row can be committed.
# - Records are kept KEEP_FOR (24 h) and then purged by the scheduler
#   (purge_idempotency_records); a key reused after that is a new request.

KEY_HEADER = "Idempotency-Key"
REPLAY_HEADER = "Idempotent-Replayed"
_KEY_OK = re.compile(r"[A-Za-z0-9_-]{1,64}")
# status_code of a claim whose request is still running.
IN_PROGRESS = 0
KEEP_FOR = timedelta(hours=24)
# How long a retry waits for the first request's answer before 409 request_in_progress.
WAIT_SECONDS = 5.0
POLL_SECONDS = 0.05
# A claim older than this belongs to a worker that died (far above any request's duration).
STALE_AFTER = timedelta(minutes=2)

_records = IdempotencyRecord.__table__


class InvalidIdempotencyKey(AppError):
    status = 400
    code = "invalid_idempotency_key"
    message = "请求标识（Idempotency-Key）格式不正确，应为 1–64 位字母、数字、下划线或连字符"


class IdempotencyKeyReused(AppError):
    status = 422
    code = "idempotency_key_reused"
    message = "该请求标识已用于另一项不同的提交，请刷新后重新提交"


class RequestInProgress(Conflict):
    code = "request_in_progress"
    message = "相同的请求正在处理中，请稍后再试"


def parse_key(raw: str | None) -> str | None:
    """The header's key, None when absent; InvalidIdempotencyKey when malformed."""
    if raw is None:
        return None
    if not _KEY_OK.fullmatch(raw):
        raise InvalidIdempotencyKey()
    return raw


def request_fingerprint(method: str, path: str, query: list[tuple[str, str]],
                        body: bytes) -> str:
    """SHA-256 of what makes two requests "the same": method, path, sorted query, body.
    JSON bodies are canonicalised (key order and spacing do not matter)."""
    try:
        parsed = json.loads(body) if body.strip() else None
        canonical = json.dumps(parsed, sort_keys=True, ensure_ascii=False,
                               separators=(",", ":")).encode()
    except (ValueError, UnicodeDecodeError):
        canonical = body
    h = hashlib.sha256()
    for part in (method.upper().encode(), path.encode(),
                 json.dumps(sorted(query), ensure_ascii=False).encode(), canonical):
        h.update(len(part).to_bytes(8, "big"))
        h.update(part)
    return h.hexdigest()


def _current_fingerprint() -> str:
    if request.mimetype in ("multipart/form-data", "application/x-www-form-urlencoded"):
        # Reading the raw stream would empty request.form/files: hash the parsed parts instead.
        # Sorted by text: a part name or value may parse to None (odd bytes in the header),
        # and None does not compare with a string.
        parts: list = sorted(request.form.items(multi=True),
                             key=lambda kv: (str(kv[0]), str(kv[1])))
        for name, storage in sorted(request.files.items(multi=True), key=lambda kv: str(kv[0])):
            content = storage.stream.read()
            storage.stream.seek(0)
            parts.append((name, storage.filename or "", hashlib.sha256(content).hexdigest()))
        body = json.dumps(parts, ensure_ascii=False).encode()
    else:
        body = request.get_data(cache=True)
    return request_fingerprint(request.method, request.path,
                               list(request.args.items(multi=True)), body)


@dataclass(frozen=True)
class StoredAnswer:
    status_code: int
    body: Any

    def response(self) -> Response:
        resp = jsonify(self.body) if self.body is not None else Response(b"")
        resp.status_code = self.status_code
        resp.headers[REPLAY_HEADER] = "true"
        return resp


@dataclass(frozen=True)
class Claim:
    person_id: int
    key: str
    claimed_at: datetime

    def where(self):
        return and_(_records.c.person_id == self.person_id, _records.c.key == self.key,
                    _records.c.status_code == IN_PROGRESS,
                    _records.c.created_at == self.claimed_at)


def _insert_claim(session: Session, values: dict) -> bool:
    """True when this request claimed the key (UNIQUE person_id, key)."""
    return insert_ignoring_duplicate(session, _records, values, ["person_id", "key"])


def _load(session: Session, person_id: int, key: str):
    return session.execute(
        select(_records.c.endpoint, _records.c.request_hash, _records.c.status_code,
               _records.c.response_body, _records.c.created_at)
        .where(_records.c.person_id == person_id, _records.c.key == key)).first()


def claim_or_replay(session: Session, *, person_id: int, key: str, endpoint: str,
                    request_hash: str) -> Claim | StoredAnswer:
    """Claim the key for this request (committed at once, in its own short transaction), or
    return the stored answer of the first request with this key. Raises IdempotencyKeyReused
    for a different request, RequestInProgress when the first one is still running after
    WAIT_SECONDS. Commits: call it before the view does any work."""
    deadline = time.monotonic() + WAIT_SECONDS
    while True:
        now = utcnow()
        if _insert_claim(session, {
                "person_id": person_id, "key": key, "endpoint": endpoint,
                "request_hash": request_hash, "status_code": IN_PROGRESS,
                "response_body": None, "created_at": now}):
            session.commit()
            return Claim(person_id, key, now)
        row = _load(session, person_id, key)
        session.commit()  # release locks (SQLite: the write lock) between polls
        if row is None:
            continue  # purged or released between the two statements: claim again
        if row.request_hash != request_hash or row.endpoint != endpoint:
            raise IdempotencyKeyReused()
        if row.status_code != IN_PROGRESS:
            return StoredAnswer(row.status_code, row.response_body)
        if row.created_at < now - STALE_AFTER:
            # The first worker died mid-request (nothing of it was committed: its answer and
            # its rows commit together). Take the claim over; only one taker can win.
            taken = session.execute(
                update(_records).where(Claim(person_id, key, row.created_at).where())
                .values(created_at=now)).rowcount
            session.commit()
            if taken == 1:
                log.warning("stale idempotency claim taken over", extra={"fields": {
                    "person_id": person_id, "endpoint": endpoint}})
                return Claim(person_id, key, now)
            continue
        if time.monotonic() >= deadline:
            raise RequestInProgress()
        time.sleep(POLL_SECONDS)


def store_answer(session: Session, claim: Claim, status_code: int, body: Any) -> bool:
    """Record the answer in the caller's transaction (the one holding the created rows).
    False when the claim is no longer ours (taken over): the caller must roll back."""
    return session.execute(update(_records).where(claim.where()).values(
        status_code=status_code, response_body=body)).rowcount == 1


def first_answer_in_transaction(session: Session, *, person_id: int, key: str,
                                endpoint: str) -> dict | None:
    """For work keyed by something other than an HTTP header (a chat message's MsgId): claim
    ``key`` inside the caller's transaction, so the claim and the work commit or roll back
    together. None: claimed, go ahead (then record_in_transaction); otherwise the body stored
    by the first time ({} while that one is still uncommitted elsewhere: never twice)."""
    if insert_ignoring_duplicate(session, _records, {
            "person_id": person_id, "key": key, "endpoint": endpoint, "request_hash": "",
            "status_code": IN_PROGRESS, "response_body": None, "created_at": utcnow()},
            ["person_id", "key"]):
        return None
    row = _load(session, person_id, key)
    return (row.response_body if row is not None else None) or {}


def record_in_transaction(session: Session, *, person_id: int, key: str, status_code: int,
                          body: Any) -> None:
    session.execute(update(_records).where(_records.c.person_id == person_id,
                                           _records.c.key == key)
                    .values(status_code=status_code, response_body=body))


def release_claim(session: Session, claim: Claim) -> None:
    """Forget a claim whose request failed, so the same key can be retried."""
    session.execute(delete(_records).where(claim.where()))


def purge_idempotency_records(session: Session, now: datetime | None = None) -> int:
    """Scheduler job: remove records (and abandoned claims) older than KEEP_FOR (24 h)."""
    cutoff = (now or utcnow()) - KEEP_FOR
    result = session.execute(delete(_records).where(_records.c.created_at < cutoff))
    return result.rowcount or 0


def _default_status() -> int:
    """The endpoint's declared success status (app.api.endpoint(status=…)) for bare returns."""
    from .api import OPERATIONS

    rule = request.url_rule.rule if request.url_rule is not None else None
    method = request.method.lower()
    for op in OPERATIONS:
        if op.rule == rule and op.method == method:
            return op.status
    return 200


def _as_answer(result: Any) -> tuple[Response | None, int, Any]:
    """(original Response or None, status, JSON-safe body) of a view's return value."""
    status = None
    if isinstance(result, tuple):
        result, status = result
    if isinstance(result, Response):
        return result, result.status_code, result.get_json(silent=True)
    if status is None:
        status = _default_status()
    if isinstance(result, BaseModel):
        body = result.model_dump(mode="json")
    else:
        body = json.loads(current_app.json.dumps(result))
    return None, status, body


def idempotent(view: Callable) -> Callable:
    """Make a create endpoint honour the `Idempotency-Key` header. Place it UNDER @endpoint:

        @endpoint(bp, "/platforms/<int:platform_id>/suggestions", methods=("POST",), ...)
        @idempotent
        def propose(platform_id, body): ...; session.commit(); return Out(...), 201

    The view is written as usual (it calls get_session().commit() once). With a key, that commit
    is deferred to a flush and the decorator commits once afterwards, together with the stored
    answer — so the created rows and the answer are atomic. Without the header, or for an
    anonymous caller, the view runs unchanged.
    """

    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        key = parse_key(request.headers.get(KEY_HEADER))
        if key is None:
            return view(*args, **kwargs)
        from .auth.current import current_person
        from .db import get_session

        person = current_person()
        if person is None:
            return view(*args, **kwargs)
        session = get_session()
        person_id = person.id
        endpoint = f"{request.method} {request.path}"[:128]
        fingerprint = _current_fingerprint()
        session.commit()  # end the authentication reads: claiming commits on its own
        got = claim_or_replay(session, person_id=person_id, key=key, endpoint=endpoint,
                              request_hash=fingerprint)
        if isinstance(got, StoredAnswer):
            return got.response()
        claim = got

        commit_requested = []

        def deferred_commit() -> None:
            session.flush()
            commit_requested.append(True)

        session.commit = deferred_commit  # type: ignore[method-assign]
        try:
            result = view(*args, **kwargs)
        except BaseException:
            del session.commit
            session.rollback()
            _release_quietly(session, claim)
            raise
        del session.commit

        if not commit_requested:
            session.rollback()  # the view chose not to keep anything
        try:
            original, status, body = _as_answer(result)
            if 200 <= status < 300:
                owned = store_answer(session, claim, status, body)
            else:
                release_claim(session, claim)
                owned = True
            if owned:
                session.commit()  # the created rows and the stored answer, at once
        except BaseException:
            session.rollback()
            _release_quietly(session, claim)
            raise
        if not owned:
            # Our claim was taken over (we were too slow): keep nothing of ours.
            session.rollback()
            row = _load(session, person_id, key)
            session.commit()
            if row is not None and row.status_code != IN_PROGRESS \
                    and row.request_hash == fingerprint:
                return StoredAnswer(row.status_code, row.response_body).response()
            raise RequestInProgress()
        if original is not None:
            return original
        resp = jsonify(body)
        resp.status_code = status
        return resp

    wrapper.honours_idempotency_key = True  # type: ignore[attr-defined]  (OpenAPI header)
    return wrapper


def _release_quietly(session: Session, claim: Claim) -> None:
    try:
        release_claim(session, claim)
        session.commit()
    except Exception:  # the claim then goes stale and is taken over on the next retry
        session.rollback()
        log.exception("could not release idempotency claim")
