"""Official Account (公众号) server messages: the thin layer over wechatpy's signature check,
message parser, reply builder and AES "safe mode" crypto. bots/webhook.py uses this module and
never imports wechatpy itself.

Everything that reads XML here first passes ``safe_xml_text``: at most ``MAX_BODY_BYTES``, strict
UTF-8 without NUL characters (so no UTF-16/32 document can hide a declaration from the check), and
no ``<!DOCTYPE``/``<!ENTITY`` anywhere — WeChat never sends them, and refusing them before any
parser runs rules out entity expansion ("billion laughs") and external entities. The decrypted
payload of a safe-mode message is checked the same way before it is parsed.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from wechatpy import create_reply, parse_message
from wechatpy.crypto import WeChatCrypto
from wechatpy.exceptions import InvalidAppIdException, InvalidSignatureException
from wechatpy.utils import check_signature as _wechatpy_check_signature

MAX_BODY_BYTES = 64 * 1024
MAX_OPENID_CHARS = 64  # chat_accounts.openid; real openids have 28 characters
_FORBIDDEN = re.compile(r"<!\s*(?:DOCTYPE|ENTITY)", re.IGNORECASE)


class OaMessageError(ValueError):
    """The XML is refused or unreadable (→ 400). ``reason`` is a short code for the log."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class OaSignatureError(Exception):
    """The signature does not match, or the message was encrypted for another app (→ 403)."""


def check_signature(token: str, signature: str, timestamp: str, nonce: str) -> bool:
    """The plain-mode ``signature``: sha1 of the sorted token, timestamp and nonce."""
    if not (token and signature and timestamp and nonce):
        return False
    try:
        _wechatpy_check_signature(token, signature, timestamp, nonce)
    except InvalidSignatureException:
        return False
    return True


def safe_xml_text(raw: bytes | str) -> str:
    """The body as text, or OaMessageError when it is too large, not UTF-8 or has a DTD."""
    if isinstance(raw, str):
        raw = raw.encode("utf-8")
    if len(raw) > MAX_BODY_BYTES:
        raise OaMessageError("too_large")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise OaMessageError("not_utf8") from None
    if "\x00" in text:
        raise OaMessageError("nul_character")
    if _FORBIDDEN.search(text):
        raise OaMessageError("dtd_refused")
    return text


@dataclass(frozen=True)
class OaMessage:
    """One inbound message or event, in plain Python values."""

    openid: str         # FromUserName
    target: str         # ToUserName (our account)
    kind: str           # MsgType, lower case
    content: str        # Content of text messages, else ""
    event: str          # Event, lower case ("" for messages); a QR-code follow is "subscribe"
    event_key: str      # EventKey; the scene for QR-code follows and scans (no "qrscene_")
    msg_id: int         # MsgId; 0 for events
    create_time: int    # CreateTime (seconds)
    raw: Any = field(default=None, repr=False, compare=False)  # wechatpy's object, for replies


def _text(data: dict, name: str) -> str:
    value = data.get(name)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise OaMessageError(f"bad_{name.lower()}")
    return value


def _int(data: dict, name: str, required: bool) -> int:
    value = data.get(name)
    if value is None and not required:
        return 0
    try:
        number = int(str(value).strip())
    except ValueError:
        raise OaMessageError(f"bad_{name.lower()}") from None
    if not 0 <= number < 2 ** 63:
        raise OaMessageError(f"bad_{name.lower()}")
    return number


def parse(xml: bytes | str) -> OaMessage:
    """Parse an inbound message (after ``safe_xml_text``); OaMessageError when unreadable."""
    text = safe_xml_text(xml)
    try:
        message = parse_message(text)
        data = message._data  # the element values, as wechatpy read them
    except Exception:  # expat errors, no <xml> root, no MsgType…: all mean unreadable input
        raise OaMessageError("unreadable") from None
    if not isinstance(data, dict):
        raise OaMessageError("unreadable")
    openid = _text(data, "FromUserName")
    if not openid or len(openid) > MAX_OPENID_CHARS:
        raise OaMessageError("bad_fromusername")
    event = _text(data, "Event").lower()
    if event.startswith("subscribe_scan"):  # wechatpy's names for a follow through a QR code
        event = "subscribe"
    return OaMessage(
        openid=openid, target=_text(data, "ToUserName"), kind=_text(data, "MsgType").lower(),
        content=_text(data, "Content"), event=event, event_key=_text(data, "EventKey"),
        msg_id=_int(data, "MsgId", required=False),
        create_time=_int(data, "CreateTime", required=True), raw=message)


def _cdata_safe(text: str) -> str:
    # "]]>" would end the CDATA section early (and let echoed user text inject elements):
    # split it across two sections, which reads back as the same text.
    return text.replace("]]>", "]]]]><![CDATA[>")


def text_reply(message: OaMessage, text: str) -> str:
    """The passive reply XML (a text message back to the sender)."""
    return create_reply(_cdata_safe(text), message.raw, render=True)


class OaCryptoConfigError(ValueError):
    """WECHAT_OA_AES_KEY is not a valid EncodingAESKey."""


class OaCrypto:
    """AES safe mode (安全模式): decrypt inbound bodies, encrypt passive replies."""

    def __init__(self, token: str, encoding_aes_key: str, appid: str) -> None:
        try:
            self._crypto = WeChatCrypto(token, encoding_aes_key, appid)
        except Exception as exc:  # bad base64 or length (wechatpy asserts 32 bytes)
            raise OaCryptoConfigError("invalid EncodingAESKey") from exc

    def decrypt(self, body: bytes | str, msg_signature: str, timestamp: str,
                nonce: str) -> str:
        """The inner XML of ``<xml><Encrypt>…</Encrypt></xml>``, itself checked with
        ``safe_xml_text``. The signature covers token, timestamp, nonce and the Encrypt text."""
        text = safe_xml_text(body)
        if not (msg_signature and timestamp and nonce):
            raise OaSignatureError()
        try:
            inner = self._crypto.decrypt_message(text, msg_signature, timestamp, nonce)
        except (InvalidSignatureException, InvalidAppIdException):
            raise OaSignatureError() from None
        except Exception:  # no Encrypt element, bad base64, padding or length: unreadable
            raise OaMessageError("undecryptable") from None
        return safe_xml_text(inner)

    def encrypt(self, xml: str, nonce: str, timestamp: str) -> str:
        """The encrypted reply: ``<xml><Encrypt/><MsgSignature/><TimeStamp/><Nonce/></xml>``."""
        return self._crypto.encrypt_message(xml, nonce, timestamp)
