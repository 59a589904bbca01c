"""Personal data at rest (PIPL): phone numbers encrypted with a key kept outside the database, plus a
keyed hash (HMAC-SHA256) so a number can be looked up without decrypting every row."""
from __future__ import annotations

import base64
import hashlib
import hmac
import re

from cryptography.fernet import Fernet, InvalidToken
from flask import current_app

from .config import Config

PHONE_RE = re.compile(r"^1[3-9]\d{9}$")


def normalise_phone(raw: str) -> str:
    """Mainland mobile numbers: strip spaces, dashes and a +86/86 prefix."""
    digits = re.sub(r"[\s\-()]", "", raw or "")
    if digits.startswith("+86"):
        digits = digits[3:]
    elif digits.startswith("86") and len(digits) == 13:
        digits = digits[2:]
    if not PHONE_RE.match(digits):
        raise ValueError("手机号格式不正确")
    return digits


def _derived(secret: str, purpose: str) -> bytes:
    return hashlib.sha256(f"{purpose}:{secret}".encode()).digest()


class PersonalDataCipher:
    def __init__(self, config: Config) -> None:
        # In sandbox mode without explicit keys, derive them from SECRET_KEY (config.check()
        # refuses this in production).
        data_key = config.data_key or base64.urlsafe_b64encode(
            _derived(config.secret_key, "data")).decode()
        self._fernet = Fernet(data_key.encode())
        self._lookup = (config.lookup_key.encode() if config.lookup_key
                        else _derived(config.secret_key, "lookup"))

    def encrypt(self, text: str) -> bytes:
        return self._fernet.encrypt(text.encode())

    def decrypt(self, blob: bytes) -> str:
        try:
            return self._fernet.decrypt(blob).decode()
        except InvalidToken as exc:
            raise ValueError("cannot decrypt: wrong DATA_ENCRYPTION_KEY?") from exc

    def lookup_hash(self, text: str) -> str:
        return hmac.new(self._lookup, text.encode(), hashlib.sha256).hexdigest()


def get_cipher() -> PersonalDataCipher:
    return current_app.extensions["cipher"]


def mask_phone(phone: str) -> str:
    return phone[:3] + "****" + phone[-4:] if len(phone) >= 7 else "****"


def mask_name(name: str) -> str:
    """张三丰 → 张**; public views never show a resident's full name."""
    name = (name or "").strip()
    if not name:
        return "匿名"
    return name[0] + "*" * max(1, len(name) - 1)


# Mainland mobile numbers as people type them (plain, +86/86, in 3-4-4 groups with spaces or
# hyphens; in ASCII, full-width or Chinese numerals — 一三八…, 幺 for 1 as numbers are read out)
# and 18-digit resident ID numbers, wherever they stand in free text.
_DIGIT = "0-9０-９〇零一二三四五六七八九幺两"
_MOBILE_IN_TEXT = re.compile(
    rf"(?<![\d{_DIGIT}])(?:\+?(?:86|８６)[\s-]?)?[1１一幺][3-9３-９三四五六七八九][{_DIGIT}][\s-]?"
    rf"[{_DIGIT}]{{4}}[\s-]?[{_DIGIT}]{{4}}(?![\d{_DIGIT}])")
_ID_CARD_IN_TEXT = re.compile(r"(?<!\d)\d{17}[\dXx](?!\d)")


def mask_numbers(text: str) -> str:
    """Free text for the public: phone and ID-card numbers blanked (***). The one rule for
    every public text — the trail, and every answer of a no-login endpoint (app/api.py)."""
    return _ID_CARD_IN_TEXT.sub("***", _MOBILE_IN_TEXT.sub("***", text))


# Keys whose values are addresses or opaque tokens, not text (an upload key may hold digits).
_NOT_TEXT = ("url", "cursor")


def mask_public(value):
    """`mask_numbers` applied to every string of a JSON-ready value (dicts, lists)."""
    if isinstance(value, str):
        return mask_numbers(value)
    if isinstance(value, list):
        return [mask_public(v) for v in value]
    if isinstance(value, dict):
        return {k: v if isinstance(k, str) and k.endswith(_NOT_TEXT) else mask_public(v)
                for k, v in value.items()}
    return value
