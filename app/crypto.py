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
