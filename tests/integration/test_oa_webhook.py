"""The Official Account server /wechat/oa (bots/webhook.py) through Flask's test client.

The conversation (bots.conversation.answer) is replaced by small recording functions: these tests
are about the webhook, not the wording of the replies.
"""
from __future__ import annotations

import hashlib
import io
import threading
import time
import xml.etree.ElementTree as ET

import pytest
from sqlalchemy import func, select
from wechatpy.crypto import WeChatCrypto

import bots.conversation
from app import create_app
from app.notify.models import OutboxMessage
from app.org.models import Person
from bots import webhook
from bots.conversation import Inbound, Reply

from ..helpers import committed_session, production_config
from ..unit.test_oa_messages import (
    BOMB, VECTOR_AES_KEY, VECTOR_APPID, VECTOR_BODY, VECTOR_MSG_SIGNATURE, VECTOR_NONCE,
    VECTOR_TIMESTAMP, VECTOR_TOKEN,
)

URL = "/wechat/oa"
CUSTOM_SEND = "/cgi-bin/message/custom/send"


def _sha1(*parts: str) -> str:
    return hashlib.sha1("".join(sorted(parts)).encode()).hexdigest()


def signed(token: str, timestamp: int | None = None, nonce: str = "20240501") -> dict:
    ts = str(int(time.time()) if timestamp is None else timestamp)
    return {"signature": _sha1(token, ts, nonce), "timestamp": ts, "nonce": nonce}


def text_xml(content="参加", openid="o_alice", msg_id=6000000000000000001, create_time=None):
    create_time = create_time or int(time.time())
    return (f"<xml><ToUserName><![CDATA[gh_cppcc]]></ToUserName>"
            f"<FromUserName><![CDATA[{openid}]]></FromUserName>"
            f"<CreateTime>{create_time}</CreateTime><MsgType><![CDATA[text]]></MsgType>"
            f"<Content><![CDATA[{content}]]></Content><MsgId>{msg_id}</MsgId></xml>")


def event_xml(openid="o_alice", create_time=1700000000, event="subscribe", key=None):
    key_element = f"<EventKey>{key}</EventKey>" if key is not None else ""
    return (f"<xml><ToUserName>gh_cppcc</ToUserName><FromUserName>{openid}</FromUserName>"
            f"<CreateTime>{create_time}</CreateTime><MsgType>event</MsgType>"
            f"<Event>{event}</Event>{key_element}</xml>")


class Conversation:
    """Stands in for bots.conversation.answer: records every call, answers as told."""

    def __init__(self, reply=lambda inbound: Reply(f"收到：{inbound.content}"), delay=0.0):
        self.calls: list[Inbound] = []
        self.reply = reply
        self.delay = delay
        self.lock = threading.Lock()

    def __call__(self, session, inbound):
        with self.lock:
            self.calls.append(inbound)
        if self.delay:
            time.sleep(self.delay)
        return self.reply(inbound)


@pytest.fixture
def talk(monkeypatch):
    conversation = Conversation()
    monkeypatch.setattr(bots.conversation, "answer", conversation)
    return conversation


@pytest.fixture
def token(app):
    return app.config["APP"].oa_webhook_token


def post(client, body, params):
    return client.post(URL, query_string=params, data=body if isinstance(body, bytes)
                       else body.encode("utf-8"), content_type="text/xml")


def reply_of(response) -> ET.Element:
    assert response.status_code == 200, response.get_data(as_text=True)
    return ET.fromstring(response.get_data(as_text=True))


def outbox_count(app) -> int:
    with app.extensions["db"].session_scope() as s:
        return s.scalar(select(func.count()).select_from(OutboxMessage))


# --- GET verification ---------------------------------------------------------------------------

def test_get_verification_echoes_echostr(client, token):
    params = dict(signed(token), echostr="1234567890123456789")
    response = client.get(URL, query_string=params)
    assert response.status_code == 200
    assert response.mimetype == "text/plain"
    assert response.get_data(as_text=True) == "1234567890123456789"


@pytest.mark.parametrize("params", [
    {"nonce": "other"}, {"signature": "0" * 40}, {"signature": ""}, {"timestamp": "1"}])
def test_get_verification_with_a_bad_signature_is_refused(client, token, params):
    query = dict(signed(token), echostr="hello")
    query.update(params)
    response = client.get(URL, query_string=query)
    assert response.status_code == 403
    assert "hello" not in response.get_data(as_text=True)


def test_webhook_is_off_in_production_without_a_token(client, app, config, monkeypatch):
    monkeypatch.setitem(app.config, "APP", production_config(config))
    assert client.get(URL, query_string=dict(signed("sandbox-oa-token"),
                                             echostr="x")).status_code == 404
    assert post(client, text_xml(), signed("sandbox-oa-token")).status_code == 404


# --- plain mode ---------------------------------------------------------------------------------

def test_plain_text_message_gets_a_passive_reply(client, token, talk):
    response = post(client, text_xml("我要参加", create_time=1700000123), signed(token))
    root = reply_of(response)
    assert root.findtext("MsgType") == "text"
    assert root.findtext("Content") == "收到：我要参加"
    assert root.findtext("ToUserName") == "o_alice"
    assert root.findtext("FromUserName") == "gh_cppcc"
    assert talk.calls == [Inbound(openid="o_alice", kind="text", content="我要参加",
                                  msg_id=6000000000000000001, create_time=1700000123)]


def test_nothing_to_say_answers_success(client, token, talk):
    talk.reply = lambda inbound: None
    response = post(client, text_xml(), signed(token))
    assert (response.status_code, response.get_data(as_text=True)) == (200, "success")
    assert len(talk.calls) == 1


def test_other_kinds_go_to_the_conversation_too(client, token, talk):
    body = ("<xml><ToUserName>gh_cppcc</ToUserName><FromUserName>o_alice</FromUserName>"
            "<CreateTime>1700000000</CreateTime><MsgType>voice</MsgType>"
            "<MediaId>m1</MediaId><Format>amr</Format><MsgId>77</MsgId></xml>")
    reply_of(post(client, body, signed(token)))
    assert [(c.kind, c.msg_id) for c in talk.calls] == [("voice", 77)]


@pytest.mark.parametrize("change", [
    {"signature": "0" * 40}, {"nonce": "tampered"}, {"signature": ""},
    {"signature": None}, {"timestamp": None}])
def test_bad_signature_is_refused_and_nothing_processed(client, token, talk, change):
    params = signed(token)
    params.update(change)
    params = {k: v for k, v in params.items() if v is not None}
    response = post(client, text_xml(), params)
    assert response.status_code == 403
    assert response.get_json()["error"] == "oa_bad_signature"
    assert talk.calls == []


@pytest.mark.parametrize("offset", [-400, 400, -10_000])
def test_stale_or_future_timestamp_is_refused(client, token, talk, offset):
    response = post(client, text_xml(), signed(token, int(time.time()) + offset))
    assert response.status_code == 403
    assert response.get_json()["error"] == "oa_stale_message"
    assert talk.calls == []


def test_timestamp_inside_the_window_is_accepted(client, token, talk):
    reply_of(post(client, text_xml(), signed(token, int(time.time()) - 250)))
    assert len(talk.calls) == 1


def test_oversized_body_is_refused(client, token, talk):
    body = text_xml("长" * 22_000)
    assert len(body.encode()) > 64 * 1024
    response = post(client, body, signed(token))
    assert response.status_code == 413
    assert talk.calls == []


def test_oversized_body_without_content_length_is_refused(client, token, talk):
    body = text_xml("长" * 22_000).encode()
    response = client.post(URL, query_string=signed(token), input_stream=io.BytesIO(body),
                           content_type="text/xml",
                           environ_overrides={"wsgi.input_terminated": True})
    assert response.status_code == 413
    assert talk.calls == []


@pytest.mark.parametrize("body", [
    BOMB,
    text_xml().replace("<xml>", '<!doctype xml [<!entity x "y">]><xml>'),
    text_xml().replace("<xml>", '<!DOCTYPE xml SYSTEM "http://example.invalid/x.dtd"><xml>'),
])
def test_dtd_and_entity_bodies_are_refused(client, token, talk, body, caplog):
    response = post(client, body, signed(token))
    assert response.status_code == 400
    assert response.get_json()["error"] == "oa_bad_message"
    assert talk.calls == []
    # Refused by the pre-parse check (not only because a parser choked on it).
    assert [r.fields["reason"] for r in caplog.records if r.name == "bots.webhook"] == [
        "dtd_refused"]


@pytest.mark.parametrize("body", [
    "", "success", "<xml>", "<xml><FromUserName>o_a</FromUserName></xml>",
    "<html><body>hi</body></html>", b"\x00\x01\x02garbage", "<xml><MsgType>text</MsgType></xml>"])
def test_garbled_xml_is_refused_without_a_server_error(client, token, talk, body):
    response = post(client, body, signed(token))
    assert response.status_code == 400
    assert talk.calls == []


# --- duplicates ---------------------------------------------------------------------------------

def test_same_message_three_times_runs_once_and_replies_alike(client, app, token, talk,
                                                              fake_wechat):
    body = text_xml("参加", create_time=1700000200)
    responses = [post(client, body, signed(token, nonce=f"n{i}")) for i in range(3)]
    contents = [reply_of(r).findtext("Content") for r in responses]
    assert contents == ["收到：参加"] * 3
    assert len(talk.calls) == 1
    assert fake_wechat.calls() == [] and outbox_count(app) == 0
    # Another message (another MsgId) is answered on its own.
    reply_of(post(client, text_xml("请假", msg_id=6000000000000000002), signed(token)))
    assert [c.content for c in talk.calls] == ["参加", "请假"]


def test_duplicate_of_a_message_answered_with_nothing_is_success(client, token, talk):
    talk.reply = lambda inbound: None
    for _ in range(2):
        response = post(client, text_xml(), signed(token))
        assert response.get_data(as_text=True) == "success"
    assert len(talk.calls) == 1


def test_events_are_deduplicated_on_sender_and_create_time(client, token, talk):
    for body in (event_xml(), event_xml(), event_xml(),
                 event_xml(create_time=1700000001),       # another moment
                 event_xml(openid="o_bob"),               # another person
                 event_xml(event="unsubscribe")):         # another event at the same second
        assert post(client, body, signed(token)).status_code == 200
    assert [(c.openid, c.create_time, c.event) for c in talk.calls] == [
        ("o_alice", 1700000000, "subscribe"), ("o_alice", 1700000001, "subscribe"),
        ("o_bob", 1700000000, "subscribe"), ("o_alice", 1700000000, "unsubscribe")]
    assert all(c.msg_id == 0 and c.kind == "event" for c in talk.calls)


def test_two_menu_taps_in_one_second_are_two_events(client, token, talk):
    for key in ("MY_MEETINGS", "MY_MEETINGS", "HELP", "HELP"):
        assert post(client, event_xml(event="CLICK", key=key), signed(token)).status_code == 200
    assert [(c.event, c.event_key) for c in talk.calls] == [
        ("click", "MY_MEETINGS"), ("click", "HELP")]


def test_concurrent_deliveries_run_the_conversation_once(app, token, talk):
    talk.delay = 0.3
    body, results = text_xml(create_time=1700000300), []
    barrier = threading.Barrier(4)

    def deliver(i):
        local = app.test_client()
        barrier.wait(timeout=10)
        results.append(post(local, body, signed(token, nonce=f"c{i}")).get_data(as_text=True))

    threads = [threading.Thread(target=deliver, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert len(talk.calls) == 1
    replies = [r for r in results if r != "success"]
    assert len(results) == 4 and len(replies) == 1
    assert ET.fromstring(replies[0]).findtext("Content") == "收到：参加"


def test_without_redis_messages_are_still_answered(config, talk, token):
    down = create_app(config.with_(redis_url="redis://127.0.0.1:1/0"))  # nothing listens there
    try:
        root = reply_of(post(down.test_client(), text_xml("参加"), signed(token)))
        assert root.findtext("Content") == "收到：参加"
        assert len(talk.calls) == 1
    finally:
        webhook.pipeline(down).shutdown()
        down.extensions["db"].engine.dispose()


# --- failures in the conversation ---------------------------------------------------------------

def test_failing_conversation_is_rolled_back_and_apologises(client, app, token, talk):
    def broken(inbound):
        raise RuntimeError("boom")

    def write_then_fail(session, inbound):
        session.add(Person(name="不应保存"))
        session.flush()
        return broken(inbound)

    bots.conversation.answer = write_then_fail  # monkeypatched by `talk`, restored after
    root = reply_of(post(client, text_xml(), signed(token)))
    assert root.findtext("Content") == webhook.APOLOGY
    with app.extensions["db"].session_scope() as s:
        assert s.scalar(select(func.count()).select_from(Person)) == 0


# --- AES safe mode with the captured vector ----------------------------------------------------

@pytest.fixture
def safe_mode(app, monkeypatch):
    """The server configured with the captured vector's token, key and app id."""
    monkeypatch.setitem(app.config, "APP", app.config["APP"].with_(
        wechat_oa_token=VECTOR_TOKEN, wechat_oa_appid=VECTOR_APPID,
        wechat_oa_aes_key=VECTOR_AES_KEY))


def vector_params(**changes) -> dict:
    params = {"encrypt_type": "aes", "msg_signature": VECTOR_MSG_SIGNATURE,
              "timestamp": VECTOR_TIMESTAMP, "nonce": VECTOR_NONCE,
              "signature": _sha1(VECTOR_TOKEN, VECTOR_TIMESTAMP, VECTOR_NONCE)}
    params.update(changes)
    return params


@pytest.fixture
def capture_clock(monkeypatch):
    """Our clock set to 30 seconds after the vector was captured (2014)."""
    monkeypatch.setattr(webhook, "_now", lambda: int(VECTOR_TIMESTAMP) + 30)


def test_captured_encrypted_message_is_decrypted_answered_and_reply_encrypted(
        client, safe_mode, capture_clock, talk):
    response = post(client, VECTOR_BODY, vector_params())
    assert response.status_code == 200
    outer = ET.fromstring(response.get_data(as_text=True))
    encrypt, signature = outer.findtext("Encrypt"), outer.findtext("MsgSignature")
    timestamp, nonce = outer.findtext("TimeStamp"), outer.findtext("Nonce")
    assert outer.find("Content") is None  # nothing readable outside the ciphertext
    assert signature == _sha1(VECTOR_TOKEN, timestamp, nonce, encrypt)
    inner = WeChatCrypto(VECTOR_TOKEN, VECTOR_AES_KEY, VECTOR_APPID).decrypt_message(
        response.get_data(as_text=True), signature, timestamp, nonce)
    reply = ET.fromstring(inner)
    assert reply.findtext("Content") == "收到：test"
    assert (reply.findtext("ToUserName"), reply.findtext("FromUserName")) == (
        "messense", VECTOR_APPID)
    assert talk.calls == [Inbound(openid="messense", kind="text", content="test",
                                  msg_id=4363689963896700987, create_time=1411525903)]


def test_captured_message_is_refused_as_a_replay_at_todays_date(client, safe_mode, talk):
    response = post(client, VECTOR_BODY, vector_params())
    assert response.status_code == 403
    assert response.get_json()["error"] == "oa_stale_message"
    assert talk.calls == []


@pytest.mark.parametrize("change", [
    {"msg_signature": "0" * 40}, {"nonce": "461056295"}, {"msg_signature": None}])
def test_captured_message_with_a_bad_msg_signature_is_refused(client, safe_mode, capture_clock,
                                                              talk, change):
    params = {k: v for k, v in vector_params(**change).items() if v is not None}
    response = post(client, VECTOR_BODY, params)
    assert response.status_code == 403
    assert talk.calls == []


def test_plain_request_is_refused_when_the_server_has_an_aes_key(client, safe_mode, talk):
    response = post(client, text_xml(), signed(VECTOR_TOKEN))
    assert response.status_code == 403
    assert response.get_json()["error"] == "oa_plain_refused"
    assert talk.calls == []


def _encrypted(xml: str, timestamp: str, nonce: str = "555") -> tuple[str, dict]:
    body = WeChatCrypto(VECTOR_TOKEN, VECTOR_AES_KEY, VECTOR_APPID).encrypt_message(
        xml, nonce, timestamp)
    signature = ET.fromstring(body).findtext("MsgSignature")
    return body, vector_params(msg_signature=signature, timestamp=timestamp, nonce=nonce)


def test_bomb_inside_the_encrypted_payload_is_refused(client, safe_mode, talk):
    body, params = _encrypted(BOMB, str(int(time.time())))
    response = post(client, body, params)
    assert response.status_code == 400
    assert talk.calls == []


def test_encrypted_message_is_deduplicated_like_a_plain_one(client, safe_mode, talk):
    now = str(int(time.time()))
    for nonce in ("1", "2", "3"):
        body, params = _encrypted(text_xml("参加", create_time=int(now)), now, nonce)
        assert post(client, body, params).status_code == 200
    assert len(talk.calls) == 1


def test_compatible_mode_without_a_key_reads_the_plain_elements(client, token, talk):
    body = text_xml("兼容").replace("</xml>", "<Encrypt><![CDATA[abc]]></Encrypt></xml>")
    params = dict(signed(token), encrypt_type="aes", msg_signature="0" * 40)
    root = reply_of(post(client, body, params))
    assert root.findtext("Content") == "收到：兼容"


# --- slow answers -------------------------------------------------------------------------------

@pytest.fixture
def slow_app(app, config):
    """An app whose reply deadline is 0.2 s (the session app keeps the default)."""
    slow = create_app(config.with_(wechat_oa_reply_deadline=0.2))
    yield slow
    webhook.pipeline(slow).shutdown()
    slow.extensions["db"].engine.dispose()


def test_slow_answer_for_an_unbound_user_goes_out_as_a_customer_service_message(
        slow_app, token, fake_wechat, talk):
    talk.delay, talk.reply = 1.0, (lambda inbound: Reply("您的回复已记录"))
    client, body = slow_app.test_client(), text_xml("参加")
    started = time.monotonic()
    first = post(client, body, signed(token))
    assert time.monotonic() - started < 0.8
    assert first.get_data(as_text=True) == "success"
    # WeChat's retry while the answer is still being worked out.
    assert post(client, body, signed(token, nonce="retry")).get_data(as_text=True) == "success"
    assert webhook.pipeline(slow_app).wait_idle(10)
    sent = fake_wechat.calls(CUSTOM_SEND)
    assert len(sent) == 1
    assert sent[0].body["touser"] == "o_alice"
    assert sent[0].body["text"]["content"] == "您的回复已记录"
    # A last retry after the answer went out: still nothing more.
    assert post(client, body, signed(token, nonce="again")).get_data(as_text=True) == "success"
    assert webhook.pipeline(slow_app).wait_idle(10)
    assert len(talk.calls) == 1 and len(fake_wechat.calls(CUSTOM_SEND)) == 1


def test_slow_answer_for_a_bound_person_goes_through_the_outbox(slow_app, token, fake_wechat,
                                                                talk):
    with committed_session(slow_app) as s:
        person = Person(name="张委员")
        s.add(person)
        s.flush()
        person_id = person.id
    talk.delay, talk.reply = 1.0, (lambda inbound: Reply("已为您登记参会", person_id=person_id))
    client, body = slow_app.test_client(), text_xml("参加")
    assert post(client, body, signed(token)).get_data(as_text=True) == "success"
    assert post(client, body, signed(token, nonce="r")).get_data(as_text=True) == "success"
    assert webhook.pipeline(slow_app).wait_idle(10)
    with slow_app.extensions["db"].session_scope() as s:
        rows = s.scalars(select(OutboxMessage)).all()
        assert [(r.kind, r.recipient_id, r.title, r.body) for r in rows] == [
            ("chat_reply", person_id, "消息回复", "已为您登记参会")]
    assert fake_wechat.calls(CUSTOM_SEND) == []
    assert len(talk.calls) == 1


def test_failed_late_customer_service_message_is_logged_not_raised(slow_app, token, fake_wechat,
                                                                   talk, caplog):
    talk.delay = 0.6
    fake_wechat.fail(CUSTOM_SEND, 45015)
    client = slow_app.test_client()
    assert post(client, text_xml(), signed(token)).get_data(as_text=True) == "success"
    assert webhook.pipeline(slow_app).wait_idle(10)
    assert len(fake_wechat.calls(CUSTOM_SEND)) == 1
    assert any(r.getMessage() == "late chat reply not sent" for r in caplog.records)
    # The message stays answered: a retry does not run the conversation again.
    assert post(client, text_xml(), signed(token, nonce="r")).get_data(as_text=True) == "success"
    assert len(talk.calls) == 1


# --- the sandbox chat page's entry point --------------------------------------------------------

def test_handle_inbound_takes_the_same_path(app, talk):
    inbound = Inbound(openid="o_sandbox", kind="text", content="帮助", msg_id=42,
                      create_time=1700000000)
    assert webhook.handle_inbound(app, inbound) == "收到：帮助"
    assert webhook.handle_inbound(app, inbound) == "收到：帮助"
    assert len(talk.calls) == 1
