"""The Official Account message layer (app/wechat/oa_messages.py) against captured WeChat data.

VECTOR_* are the captured messages of wechatpy's own test suite (tests/test_crypto.py in the
wechatpy repository): token, EncodingAESKey, app id, timestamp, nonce and signatures as WeChat
produced them. The encryption format is the same for every WeChat product that uses it.
"""
from __future__ import annotations

import hashlib
import xml.etree.ElementTree as ET

import pytest
import wechatpy.crypto
from wechatpy.crypto import WeChatCrypto

from app.wechat.oa_messages import (
    MAX_BODY_BYTES, OaCrypto, OaCryptoConfigError, OaMessageError, OaSignatureError,
    check_signature, parse, safe_xml_text, text_reply,
)

VECTOR_TOKEN = "123456"
VECTOR_AES_KEY = "kWxPEV2UEDyxWpmPdKC3F4dgPDmOvfKX1HGnEUDS1aR"
VECTOR_APPID = "wx49f0ab532d5d035a"
VECTOR_TIMESTAMP = "1411525903"
VECTOR_NONCE = "461056294"
VECTOR_MSG_SIGNATURE = "74d92dfeb87ba7c714f89d98870ae5eb62dff26d"
VECTOR_BODY = """<xml><ToUserName><![CDATA[wx49f0ab532d5d035a]]></ToUserName>
<Encrypt><![CDATA[RgqEoJj5A4EMYlLvWO1F86ioRjZfaex/gePD0gOXTxpsq5Yj4GNglrBb8I2BAJVODGajiFnXBu7mCPatfjsu6IHCrsTyeDXzF6Bv283dGymzxh6ydJRvZsryDyZbLTE7rhnus50qGPMfp2wASFlzEgMW9z1ef/RD8XzaFYgm7iTdaXpXaG4+BiYyolBug/gYNx410cvkKR2/nPwBiT+P4hIiOAQqGp/TywZBtDh1yCF2KOd0gpiMZ5jSw3e29mTvmUHzkVQiMS6td7vXUaWOMZnYZlF3So2SjHnwh4jYFxdgpkHHqIrH/54SNdshoQgWYEvccTKe7FS709/5t6NMxuGhcUGAPOQipvWTT4dShyqio7mlsl5noTrb++x6En749zCpQVhDpbV6GDnTbcX2e8K9QaNWHp91eBdCRxthuL0=]]></Encrypt>
<AgentID><![CDATA[1]]></AgentID>
</xml>"""  # noqa: E501
# A captured reply encryption: this plaintext, with the 16 random bytes "1234567890123456",
# encrypts to exactly VECTOR_ENCRYPTED (signature included).
VECTOR_REPLY = """<xml>
<MsgType><![CDATA[text]]></MsgType>
<Content><![CDATA[test]]></Content>
<FromUserName><![CDATA[wx49f0ab532d5d035a]]></FromUserName>
<ToUserName><![CDATA[messense]]></ToUserName>
<AgentID>1</AgentID>
<CreateTime>1411525903</CreateTime>
</xml>"""
VECTOR_ENCRYPTED = """<xml>
<Encrypt><![CDATA[9s4gMv99m88kKTh/H8IdkOiMg6bisoy3ypwy9H4hvSPe9nsGaqyw5hhSjdYbcrKk+j3nba4HMOTzHrluLBYqxgNcBqGsL8GqxlhZgURnAtObvesEl5nZ+uBE8bviY0LWke8Zy9V/QYKxNV2FqllNXcfmstttyIkMKCCmVbCFM2JTF5wY0nFhHZSjPUL2Q1qvSUCUld+/WIXrx0oyKQmpB6o8NRrrNrsDf03oxI1p9FxUgMnwKKZeOA/uu+2IEvEBtb7muXsVbwbgX05UPPJvFurDXafG0RQyPR+mf1nDnAtQmmNOuiR5MIkdQ39xn1vWwi1O5oazPoQJz0nTYjxxEE8kv3kFxtAGVRe3ypD3WeK2XeFYFMNMpatF9XiKzHo3]]></Encrypt>
<MsgSignature><![CDATA[407518b7649e86ef23978113f92d27afa9296533]]></MsgSignature>
<TimeStamp>1411525903</TimeStamp>
<Nonce><![CDATA[461056294]]></Nonce>
</xml>"""  # noqa: E501

BOMB = """<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>
<xml><ToUserName>gh_1</ToUserName><FromUserName>o_alice</FromUserName>
<CreateTime>1700000000</CreateTime><MsgType>text</MsgType><Content>&lol3;</Content>
<MsgId>1</MsgId></xml>"""


def _sha1(*parts: str) -> str:
    return hashlib.sha1("".join(sorted(parts)).encode()).hexdigest()


def _crypto() -> OaCrypto:
    return OaCrypto(VECTOR_TOKEN, VECTOR_AES_KEY, VECTOR_APPID)


def test_captured_message_decrypts_and_parses():
    inner = _crypto().decrypt(VECTOR_BODY, VECTOR_MSG_SIGNATURE, VECTOR_TIMESTAMP, VECTOR_NONCE)
    message = parse(inner)
    assert (message.openid, message.target) == ("messense", VECTOR_APPID)
    assert (message.kind, message.content) == ("text", "test")
    assert message.msg_id == 4363689963896700987
    assert message.create_time == 1411525903 and message.event == ""


@pytest.mark.parametrize("change", ["signature", "nonce", "timestamp", "ciphertext"])
def test_captured_message_with_anything_changed_is_refused(change):
    signature, nonce, timestamp, body = (VECTOR_MSG_SIGNATURE, VECTOR_NONCE, VECTOR_TIMESTAMP,
                                         VECTOR_BODY)
    if change == "signature":
        signature = signature[:-1] + "0"
    elif change == "nonce":
        nonce = "461056295"
    elif change == "timestamp":
        timestamp = "1411525904"
    else:
        body = body.replace("RgqE", "RgqF")
    with pytest.raises(OaSignatureError):
        _crypto().decrypt(body, signature, timestamp, nonce)


def test_captured_message_for_another_app_is_refused():
    other = OaCrypto(VECTOR_TOKEN, VECTOR_AES_KEY, "wx_other_app")
    with pytest.raises(OaSignatureError):
        other.decrypt(VECTOR_BODY, VECTOR_MSG_SIGNATURE, VECTOR_TIMESTAMP, VECTOR_NONCE)


def test_reply_encryption_matches_the_captured_output(monkeypatch):
    monkeypatch.setattr(wechatpy.crypto.PrpCrypto, "get_random_string",
                        lambda self: "1234567890123456")
    assert _crypto().encrypt(VECTOR_REPLY, VECTOR_NONCE, VECTOR_TIMESTAMP) == VECTOR_ENCRYPTED


def test_encrypted_reply_round_trips_with_a_valid_signature():
    encrypted = _crypto().encrypt(VECTOR_REPLY, "987654", "1700000000")
    root = ET.fromstring(encrypted)
    signature = root.findtext("MsgSignature")
    assert signature == _sha1(VECTOR_TOKEN, "1700000000", "987654", root.findtext("Encrypt"))
    plain = WeChatCrypto(VECTOR_TOKEN, VECTOR_AES_KEY, VECTOR_APPID).decrypt_message(
        encrypted, signature, "1700000000", "987654")
    assert plain == VECTOR_REPLY


def test_invalid_aes_key_is_a_configuration_error():
    with pytest.raises(OaCryptoConfigError):
        OaCrypto(VECTOR_TOKEN, "!" * 43, VECTOR_APPID)


def test_plain_signature():
    signature = _sha1("tok", "1700000000", "42")
    assert check_signature("tok", signature, "1700000000", "42")
    assert not check_signature("tok", signature, "1700000000", "43")
    assert not check_signature("other", signature, "1700000000", "42")
    assert not check_signature("tok", "", "1700000000", "42")
    assert not check_signature("", _sha1("", "1700000000", "42"), "1700000000", "42")


@pytest.mark.parametrize("body", [
    BOMB,
    BOMB.replace("DOCTYPE", "doctype"),
    '<!ENTITY x SYSTEM "file:///etc/passwd"><xml/>',
    "<xml><!DOCTYPE x></xml>",
    "<! DOCTYPE x><xml/>",
])
def test_dtd_and_entities_are_refused_before_parsing(body):
    with pytest.raises(OaMessageError) as err:
        parse(body)
    assert err.value.reason == "dtd_refused"


def test_bomb_inside_an_encrypted_payload_is_refused():
    crypto = _crypto()
    encrypted = crypto.encrypt(BOMB, "1", "1700000000")
    root = ET.fromstring(encrypted)
    with pytest.raises(OaMessageError) as err:
        crypto.decrypt(encrypted, root.findtext("MsgSignature"), "1700000000", "1")
    assert err.value.reason == "dtd_refused"


def test_utf16_body_cannot_hide_a_dtd():
    with pytest.raises(OaMessageError):
        parse(BOMB.replace('version="1.0"', 'version="1.0" encoding="UTF-16"').encode("utf-16"))


def test_size_limit():
    filler = "好" * ((MAX_BODY_BYTES - 200) // 3)
    ok = (f"<xml><FromUserName>o_a</FromUserName><CreateTime>1</CreateTime>"
          f"<MsgType>text</MsgType><Content>{filler}</Content><MsgId>7</MsgId></xml>")
    assert len(ok.encode()) <= MAX_BODY_BYTES
    assert parse(ok).content == filler
    with pytest.raises(OaMessageError) as err:
        safe_xml_text(b" " * (MAX_BODY_BYTES + 1))
    assert err.value.reason == "too_large"


@pytest.mark.parametrize("body", [
    "", "not xml", "<xml>", "<xml></xml>", "<other><MsgType>text</MsgType></other>",
    "<xml><MsgType>text</MsgType><CreateTime>1</CreateTime></xml>",  # no sender
    "<xml><FromUserName>o_a</FromUserName><MsgType>text</MsgType></xml>",  # no time
    "<xml><FromUserName>o_a</FromUserName><CreateTime>yesterday</CreateTime>"
    "<MsgType>text</MsgType></xml>",
    "<xml><FromUserName>o_a</FromUserName><CreateTime>1</CreateTime><MsgType>text</MsgType>"
    "<MsgId>-5</MsgId></xml>",
    "<xml><FromUserName><a>1</a></FromUserName><CreateTime>1</CreateTime>"
    "<MsgType>text</MsgType></xml>",
    f"<xml><FromUserName>{'o' * 65}</FromUserName><CreateTime>1</CreateTime>"
    "<MsgType>text</MsgType></xml>",
    b"<xml>\xff\xfe</xml>",
])
def test_garbled_messages_are_refused(body):
    with pytest.raises(OaMessageError):
        parse(body)


def test_events_and_other_kinds():
    follow = parse("<xml><ToUserName>gh_1</ToUserName><FromUserName>o_a</FromUserName>"
                   "<CreateTime>1700000000</CreateTime><MsgType>event</MsgType>"
                   "<Event>subscribe</Event><EventKey>qrscene_123</EventKey></xml>")
    assert (follow.kind, follow.event, follow.event_key, follow.msg_id) == (
        "event", "subscribe", "123", 0)
    click = parse("<xml><FromUserName>o_a</FromUserName><CreateTime>1</CreateTime>"
                  "<MsgType>event</MsgType><Event>CLICK</Event><EventKey>MY_MEETINGS</EventKey>"
                  "</xml>")
    assert (click.event, click.event_key) == ("click", "MY_MEETINGS")
    image = parse("<xml><FromUserName>o_a</FromUserName><CreateTime>1</CreateTime>"
                  "<MsgType>image</MsgType><PicUrl>http://x/y.jpg</PicUrl><MsgId>9</MsgId></xml>")
    assert (image.kind, image.content, image.msg_id) == ("image", "", 9)


def test_text_reply_keeps_any_text_intact():
    message = parse("<xml><ToUserName>gh_1</ToUserName><FromUserName>o_a</FromUserName>"
                    "<CreateTime>1</CreateTime><MsgType>text</MsgType><Content>x</Content>"
                    "<MsgId>1</MsgId></xml>")
    tricky = "已收到「]]><MsgType>news</MsgType><![CDATA[」& <b>"
    root = ET.fromstring(text_reply(message, tricky))
    assert root.findtext("Content") == tricky
    assert (root.findtext("MsgType"), root.findtext("ToUserName"),
            root.findtext("FromUserName")) == ("text", "o_a", "gh_1")
