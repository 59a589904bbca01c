"""The Official Account server (公众号服务器配置): ``/wechat/oa``.

GET  — WeChat's URL verification: ``signature`` (sha1 of token, timestamp, nonce) → ``echostr``
       as plain text (plain in safe mode too: that is how WeChat verifies an Official Account).
POST — one message or event, in plain mode (``signature``) or AES safe mode (``encrypt_type=aes``
       and ``msg_signature``, which also covers the Encrypt element; the reply is encrypted).

Refused before anything is processed: bodies over 64 KiB (413); a DTD or entity declaration,
also inside the decrypted payload, and unreadable XML (400); a wrong signature (403); a
timestamp further than WECHAT_OA_TIMESTAMP_WINDOW from our clock (403, a replay). With
WECHAT_OA_AES_KEY set, plain requests (no ``encrypt_type=aes``) are refused (403): the key means
safe mode is wanted. Without it, a compatible-mode request (both the plain elements and Encrypt)
is read from its plain elements under the plain ``signature``. Production without
WECHAT_OA_TOKEN: the webhook is off (404). Refusals are logged at WARNING with a reason code and
never the message content.

Every accepted message goes through ``handle_inbound``, also the entry point of the sandbox chat
page (``handle_inbound(app, Inbound(openid=…, kind="text", content="参加"))`` → the reply text
or None), so both take exactly the same path:

1. De-duplication in Redis (``SET NX``, ten minutes): the key is the MsgId, or for events (which
   have none, WECHAT.md trap 4) FromUserName + CreateTime + Event + EventKey. The value is the state of the
   message: ``pending`` while it is answered, ``replied`` with the text once answered in time
   (WeChat retries when it got no answer within 5 s; a retry gets the same reply again, and the
   person sees it once, on the delivery WeChat is waiting for), ``async`` when the answer goes
   out as a customer-service message (a retry gets ``success``: nothing). The conversation runs
   once per message. If Redis is down the message is processed anyway and this is logged: one
   possible duplicate is better than a lost RSVP, and the RSVP services are idempotent.
2. ``bots.conversation.answer`` runs in a bounded worker pool with its own app context and
   database session (committed after the answer; rolled back with an apology on error). The
   request waits up to WECHAT_OA_REPLY_DEADLINE seconds: in time → a passive text reply.
3. Too slow → ``success`` at once; when the worker finishes, the reply goes out as a
   customer-service message: through the outbox (kind ``chat_reply``) when the reply names the
   bound person, else directly with ``oa.send_text`` (best effort, errors logged).
"""
from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor, wait
from typing import Any

import redis
from flask import Blueprint, Flask, Response, current_app, request

from app.chat import services as chat
from app.errors import AppError, NotFound, ServiceUnavailable
from app.wechat.errors import WechatError
from app.wechat.oa_messages import (
    MAX_BODY_BYTES, OaCrypto, OaCryptoConfigError, OaMessageError, OaSignatureError,
    check_signature, parse, text_reply,
)
from bots import conversation
from bots.conversation import Inbound, Reply

log = logging.getLogger(__name__)

bp = Blueprint("oa_webhook", __name__)

SUCCESS = "success"  # WeChat's "nothing to send"
DEDUPE_TTL_SECONDS = 600  # WeChat's three tries span about 15 s
POOL_WORKERS = 8
APOLOGY = "抱歉，系统暂时无法处理您的消息，请稍后再试。"
LATE_REPLY_TITLE = "消息回复"
_READ_CHUNK = 16 * 1024


def _now() -> float:
    """Our clock for the timestamp window (a function, so a test can set it)."""
    return time.time()


def _refused(status: int, code: str, message: str, reason: str | None = None) -> AppError:
    log.warning("oa webhook request refused", extra={"fields": {
        "reason": reason or code, "status": status}})
    return AppError(message, code=code, status=status)


# --- de-duplication -----------------------------------------------------------------------------

def dedupe_id(appid: str, inbound: Inbound) -> str:
    """A short stable id of one message: MsgId, or for events sender + CreateTime + event and
    its key (a retry repeats all four; two menu taps in the same second differ in the key)."""
    if inbound.msg_id:
        ident = f"{appid}|msg|{inbound.msg_id}"
    else:
        ident = (f"{appid}|evt|{inbound.openid}|{inbound.create_time}|{inbound.event}|"
                 f"{inbound.event_key}")
    return hashlib.sha256(ident.encode("utf-8")).hexdigest()[:40]


class _Seen:
    """The Redis record of one message (see the module doc). Redis errors never stop a message."""

    def __init__(self, client: redis.Redis, message_id: str) -> None:
        self.client = client
        self.key = f"wechat:oa:inbound:{message_id}"

    def claim(self) -> dict | None:
        """None when this delivery is the first (ours to answer), else the earlier state."""
        try:
            if self.client.set(self.key, json.dumps({"state": "pending"}), nx=True,
                               ex=DEDUPE_TTL_SECONDS):
                return None
            raw = self.client.get(self.key)
        except redis.RedisError as exc:
            log.warning("oa webhook: Redis unavailable, message processed without "
                        "de-duplication", extra={"fields": {"error": type(exc).__name__}})
            return None
        try:
            state = json.loads(raw) if raw is not None else None
        except ValueError:
            state = None
        return state if isinstance(state, dict) else {"state": "pending"}

    def record(self, state: str, text: str | None = None) -> None:
        value: dict[str, Any] = {"state": state}
        if text is not None:
            value["text"] = text
        try:
            self.client.set(self.key, json.dumps(value, ensure_ascii=False),
                            ex=DEDUPE_TTL_SECONDS)
        except redis.RedisError as exc:
            log.warning("oa webhook: could not record the message state",
                        extra={"fields": {"state": state, "error": type(exc).__name__}})

    def release(self) -> None:
        """Forget the claim (the message was not processed): WeChat's retry will be."""
        try:
            self.client.delete(self.key)
        except redis.RedisError:
            pass


# --- answering ----------------------------------------------------------------------------------

class _Job:
    """One answer being computed; the lock settles "in time" against "too late" exactly once."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.finished = threading.Event()
        self.reply: Reply | None = None
        self.abandoned = False


class Pipeline:
    """The worker pool of one app (``app.extensions["oa_webhook"]``)."""

    def __init__(self, app: Flask) -> None:
        self.app = app
        self.pool = ThreadPoolExecutor(POOL_WORKERS, thread_name_prefix="oa-answer")
        self._futures: set = set()
        self._lock = threading.Lock()

    def submit(self, fn, *args) -> None:
        future = self.pool.submit(fn, *args)
        with self._lock:
            self._futures.add(future)
        future.add_done_callback(self._forget)

    def _forget(self, future) -> None:
        with self._lock:
            self._futures.discard(future)

    def wait_idle(self, timeout: float = 30.0) -> bool:
        """Wait until every answer (late deliveries included) is done; False on timeout."""
        with self._lock:
            pending = set(self._futures)
        return not wait(pending, timeout=timeout).not_done

    def shutdown(self) -> None:
        self.pool.shutdown(wait=True)


_pipeline_lock = threading.Lock()


def pipeline(app: Flask) -> Pipeline:
    with _pipeline_lock:
        found = app.extensions.get("oa_webhook")
        if found is None:
            found = app.extensions["oa_webhook"] = Pipeline(app)
        return found


def _answer(app: Flask, inbound: Inbound) -> Reply | None:
    """The conversation in its own session: committed after the answer, rolled back on error."""
    with app.app_context():
        session = app.extensions["db"].new_session()
        try:
            reply = conversation.answer(session, inbound)
            session.commit()
            chat.inbound_committed(session)
            return reply
        except Exception:
            session.rollback()
            log.exception("chat answer failed", extra={"fields": {"kind": inbound.kind}})
            return Reply(APOLOGY)
        finally:
            session.close()


def _deliver_late(app: Flask, inbound: Inbound, reply: Reply | None, seen: _Seen,
                  message_id: str) -> None:
    """A reply that missed the 5-second window, as a customer-service message."""
    try:
        if reply is None or not reply.text:
            return
        with app.app_context():
            if reply.person_id is not None:
                from app.notify.services import enqueue_notice

                with app.extensions["db"].session_scope() as session:
                    enqueue_notice(session, kind="chat_reply", recipient_id=reply.person_id,
                                   title=LATE_REPLY_TITLE, body=reply.text,
                                   dedupe_key=f"chat_reply:{message_id}")
            else:
                app.extensions["wechat"].oa.send_text(inbound.openid, reply.text)
    except WechatError as exc:
        log.warning("late chat reply not sent", extra={"fields": {
            "errcode": exc.errcode, "code": exc.code}})
    except Exception:
        log.exception("late chat reply failed")
    finally:
        seen.record("async")


def _work(app: Flask, inbound: Inbound, job: _Job, seen: _Seen, message_id: str) -> None:
    reply = _answer(app, inbound)
    with job.lock:
        job.reply = reply
        late = job.abandoned
        job.finished.set()
    if late:
        _deliver_late(app, inbound, reply, seen, message_id)


def handle_inbound(app: Flask, inbound: Inbound) -> str | None:
    """One inbound message through the whole pipeline (de-duplication, the answer in the worker
    pool, the deadline, the late customer-service message). Returns the reply text to give
    now, or None: nothing to say, a duplicate whose answer is pending or went out already as a
    customer-service message, or an answer that will follow as one."""
    config = app.config["APP"]
    message_id = dedupe_id(config.oa_webhook_appid, inbound)
    seen = _Seen(app.extensions["redis"], message_id)
    earlier = seen.claim()
    if earlier is not None:
        log.info("oa webhook: duplicate delivery", extra={"fields": {
            "state": earlier.get("state")}})
        if earlier.get("state") == "replied":
            return earlier.get("text") or None
        return None
    job = _Job()
    try:
        pipeline(app).submit(_work, app, inbound, job, seen, message_id)
    except Exception:
        seen.release()
        raise
    job.finished.wait(config.wechat_oa_reply_deadline)
    with job.lock:
        if not job.finished.is_set():
            job.abandoned = True
    if job.abandoned:
        seen.record("async")
        return None
    text = job.reply.text if job.reply is not None else ""
    seen.record("replied", text)
    return text or None


# --- HTTP ---------------------------------------------------------------------------------------

def _config():
    config = current_app.config["APP"]
    if not config.oa_webhook_token:
        raise NotFound()
    return config


def _read_body() -> bytes:
    length = request.content_length
    if length is not None and length > MAX_BODY_BYTES:
        raise _refused(413, "payload_too_large", "提交的内容过大")
    chunks, size = [], 0
    while size <= MAX_BODY_BYTES:
        chunk = request.stream.read(_READ_CHUNK)
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    if size > MAX_BODY_BYTES:
        raise _refused(413, "payload_too_large", "提交的内容过大")
    return b"".join(chunks)


def _check_fresh(timestamp: str, window: int) -> None:
    try:
        sent_at = int(timestamp)
    except ValueError:
        raise _refused(403, "oa_bad_timestamp", "消息时间无效") from None
    if abs(_now() - sent_at) > window:
        raise _refused(403, "oa_stale_message", "消息已过期")


def _bad_message(exc: OaMessageError) -> AppError:
    if exc.reason == "too_large":
        return _refused(413, "payload_too_large", "提交的内容过大")
    return _refused(400, "oa_bad_message", "消息格式有误", reason=exc.reason)


@bp.get("/wechat/oa")
def verify():
    config = _config()
    args = request.args
    if not check_signature(config.oa_webhook_token, args.get("signature", ""),
                           args.get("timestamp", ""), args.get("nonce", "")):
        raise _refused(403, "oa_bad_signature", "签名无效")
    return Response(args.get("echostr", ""), mimetype="text/plain")


@bp.post("/wechat/oa")
def receive():
    config = _config()
    body = _read_body()
    args = request.args
    timestamp, nonce = args.get("timestamp", ""), args.get("nonce", "")
    crypto = None
    try:
        if config.wechat_oa_aes_key:
            if args.get("encrypt_type", "").lower() != "aes":
                raise _refused(403, "oa_plain_refused", "消息须加密")
            try:
                crypto = OaCrypto(config.oa_webhook_token, config.wechat_oa_aes_key,
                                  config.oa_webhook_appid)
            except OaCryptoConfigError:
                log.error("WECHAT_OA_AES_KEY is not a valid EncodingAESKey")
                raise ServiceUnavailable() from None
            xml: bytes | str = crypto.decrypt(body, args.get("msg_signature", ""),
                                              timestamp, nonce)
        else:
            if not check_signature(config.oa_webhook_token, args.get("signature", ""),
                                   timestamp, nonce):
                raise OaSignatureError()
            xml = body
        _check_fresh(timestamp, config.wechat_oa_timestamp_window)
        message = parse(xml)
    except OaSignatureError:
        raise _refused(403, "oa_bad_signature", "签名无效") from None
    except OaMessageError as exc:
        raise _bad_message(exc) from None
    text = handle_inbound(current_app._get_current_object(), Inbound(
        openid=message.openid, kind=message.kind, content=message.content,
        event=message.event, event_key=message.event_key, msg_id=message.msg_id,
        create_time=message.create_time))
    if not text:
        return Response(SUCCESS, mimetype="text/plain")
    reply = text_reply(message, text)
    if crypto is not None:
        reply = crypto.encrypt(reply, nonce, timestamp)
    return Response(reply, mimetype="application/xml")
