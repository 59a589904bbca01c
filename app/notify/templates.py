"""Message templates per notice kind: which WeChat template carries a notice and how its fields
are filled (docs/wechat.md "消息模板").

WECHAT_TEMPLATES names a JSON file; per notice kind an optional ``mp`` (mini-program subscribe
message) and ``oa`` (Official Account template message) entry::

    {"meeting_notice": {
        "mp": {"template_id": "AbC…", "long_term": false,
               "fields": {"thing1": "topic", "time2": "starts_at", "thing3": "place"}},
        "oa": {"template_id": "XyZ…", "fields": {"thing1": "title", "time2": "starts_at"}}}}

A field key's WeChat type is its letter prefix (``thing1`` → thing); the value names the source:
``title``, ``body``, ``kind_label`` or a key of the outbox row's ``payload``. ``fit`` makes every
value obey WeChat's rule for its type, so a long meeting title never makes WeChat refuse the
whole message (47003). The file is checked at start-up: a mistake is a ConfigError naming it.

Sandbox mode without a file uses SANDBOX_TEMPLATES, so the real channels run against the fake.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, Mapping

from ..config import Config, ConfigError
from ..workdays import CHINA_TZ
from .models import NOTICE_KINDS

# WeChat's rule per field type (subscribe messages; the new-style Official Account templates use
# the same types): the longest value in characters. time/date are formatted, amount is a number.
FIELD_LIMITS: dict[str, int] = {
    "thing": 20,             # 20 characters of any kind
    "name": 10,              # 10 Chinese characters (20 letters)
    "phrase": 5,             # 5 Chinese characters
    "character_string": 32,  # letters, digits, symbols
    "number": 32,            # digits, may have a decimal point
    "letter": 32,            # letters only
    "symbol": 5,             # symbols only
    "phone_number": 17,      # digits and symbols
    "car_number": 8,         # licence plate
    "amount": 11,            # a currency symbol, up to 10 digits, 2 decimals; may end with 元
    "time": 24,
    "date": 24,
}
# Types whose character set has no room for "…": they are cut short instead.
_HARD_CUT = frozenset({"phrase", "character_string", "number", "letter", "symbol",
                       "phone_number", "car_number", "amount"})
FIELD_TYPES = tuple(FIELD_LIMITS)
KEY_RE = re.compile(r"^(%s)(\d{1,2})$" % "|".join(sorted(FIELD_TYPES, key=len, reverse=True)))
SOURCE_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,39}$")
BUILTIN_SOURCES = ("title", "body", "kind_label")
TEMPLATE_ID_MAX = 64
EMPTY = "-"
ELLIPSIS = "…"


# --- fitting values -------------------------------------------------------------------------------

def field_type(key: str) -> str:
    match = KEY_RE.match(key)
    if not match:
        raise ValueError(f"not a WeChat template field key: {key!r}")
    return match.group(1)


def _as_datetime(value: Any) -> datetime | date | None:
    if isinstance(value, (datetime, date)):
        return value
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value.strip())
        except ValueError:
            try:
                return date.fromisoformat(value.strip())
            except ValueError:
                return None
    return None


def _beijing(value: datetime | date, with_time: bool) -> str:
    if isinstance(value, datetime):
        if value.tzinfo is not None:  # naive values are taken as Beijing time already
            value = value.astimezone(CHINA_TZ)
        day = f"{value.year}年{value.month}月{value.day}日"
        return f"{day} {value:%H:%M}" if with_time else day
    return f"{value.year}年{value.month}月{value.day}日"


def _cut(text: str, limit: int, hard: bool) -> str:
    if len(text) <= limit:
        return text
    return text[:limit] if hard else text[:limit - 1] + ELLIPSIS


def fit(type_: str, value: Any) -> str:
    """``value`` made acceptable to WeChat as a field of type ``type_`` ("-" when empty)."""
    if type_ not in FIELD_LIMITS:
        raise ValueError(f"unknown WeChat field type {type_!r}")
    if value is None or (isinstance(value, str) and not value.strip()):
        return EMPTY
    if type_ in ("time", "date"):
        moment = _as_datetime(value)
        if moment is not None:
            return _beijing(moment, with_time=type_ == "time")
    if type_ == "amount" and not isinstance(value, bool):
        try:
            return _cut(f"{Decimal(str(value)):.2f}元", FIELD_LIMITS["amount"], True)
        except InvalidOperation:
            pass
    text = " ".join(str(value).split())  # newlines and runs of spaces: one space
    if type_ in ("number", "phone_number"):
        text = text.replace(" ", "")
    return _cut(text, FIELD_LIMITS[type_], type_ in _HARD_CUT) or EMPTY


# --- the configuration ----------------------------------------------------------------------------

@dataclass(frozen=True)
class Template:
    template_id: str
    fields: tuple[tuple[str, str], ...]  # (WeChat key, source)
    long_term: bool = False

    def data(self, *, kind: str, title: str, body: str,
             payload: Mapping[str, Any] | None) -> dict[str, str]:
        """The template's ``data``: every field fitted to its type."""
        builtin = {"title": title, "body": body, "kind_label": NOTICE_KINDS.get(kind, "通知")}
        payload = payload or {}
        return {key: fit(field_type(key), builtin[src] if src in builtin else payload.get(src))
                for key, src in self.fields}


@dataclass(frozen=True)
class TemplateSet:
    """The templates of this deployment: ``mp[kind]`` and ``oa[kind]``."""

    mp: dict[str, Template] = field(default_factory=dict)
    oa: dict[str, Template] = field(default_factory=dict)

    def mp_template(self, template_id: str) -> Template | None:
        return next((t for t in self.mp.values() if t.template_id == template_id), None)

    def kinds_of(self, template_id: str) -> list[str]:
        return [k for k, t in self.mp.items() if t.template_id == template_id]


def _entry(kind: str, app: str, raw: Any) -> Template:
    where = f"WECHAT_TEMPLATES: {kind}.{app}"
    if not isinstance(raw, dict):
        raise ConfigError(f"{where} must be an object")
    allowed = {"template_id", "fields"} | ({"long_term"} if app == "mp" else set())
    extra = sorted(set(raw) - allowed)
    if extra:
        raise ConfigError(f"{where}: unknown setting(s) {extra}; allowed: {sorted(allowed)}")
    template_id = raw.get("template_id")
    if not isinstance(template_id, str) or not template_id.strip() \
            or len(template_id) > TEMPLATE_ID_MAX or template_id != template_id.strip():
        raise ConfigError(f"{where}.template_id must be the template id "
                          f"(1..{TEMPLATE_ID_MAX} characters, no spaces around)")
    long_term = raw.get("long_term", False)
    if not isinstance(long_term, bool):
        raise ConfigError(f"{where}.long_term must be true or false")
    fields_ = raw.get("fields")
    if not isinstance(fields_, dict) or not fields_:
        raise ConfigError(f"{where}.fields must be a non-empty object "
                          '(e.g. {"thing1": "title", "time2": "starts_at"})')
    for key, source in fields_.items():
        if not KEY_RE.match(key):
            raise ConfigError(f"{where}.fields: bad key {key!r}; a key is a WeChat field type "
                              f"({', '.join(FIELD_TYPES)}) followed by its number, e.g. thing1")
        if not isinstance(source, str) or not SOURCE_RE.match(source):
            raise ConfigError(f"{where}.fields.{key}: the source must be "
                              f"{', '.join(BUILTIN_SOURCES)} or a payload key, got {source!r}")
    return Template(template_id, tuple(fields_.items()), long_term)


def parse_templates(raw: Any) -> TemplateSet:
    """Check and build a TemplateSet from the decoded JSON (ConfigError on any mistake)."""
    if not isinstance(raw, dict):
        raise ConfigError("WECHAT_TEMPLATES must hold a JSON object keyed by notice kind")
    result = TemplateSet()
    for kind, apps in raw.items():
        if kind not in NOTICE_KINDS:
            raise ConfigError(f"WECHAT_TEMPLATES: unknown notice kind {kind!r}; known: "
                              f"{', '.join(NOTICE_KINDS)}")
        if not isinstance(apps, dict) or not apps or set(apps) - {"mp", "oa"}:
            raise ConfigError(f"WECHAT_TEMPLATES: {kind} must be an object with \"mp\" "
                              "and/or \"oa\"")
        for app in ("mp", "oa"):
            if app in apps:
                getattr(result, app)[kind] = _entry(kind, app, apps[app])
    for template in result.mp.values():
        same = {t.long_term for t in result.mp.values() if t.template_id == template.template_id}
        if len(same) > 1:
            raise ConfigError(f"WECHAT_TEMPLATES: mini-program template {template.template_id} "
                              "is long_term for some kinds and not for others")
    return result


def _sandbox_templates() -> TemplateSet:
    meeting = {"thing1": "topic", "time2": "starts_at", "thing3": "place", "thing4": "title"}
    notice = {"thing1": "kind_label", "thing2": "title", "thing3": "body"}
    raw: dict[str, dict] = {}
    for kind in NOTICE_KINDS:
        if kind in ("staff_alert", "chat_reply"):  # WeCom robot / customer-service only
            continue
        fields_ = meeting if kind in ("meeting_notice", "briefing") else notice
        raw[kind] = {"mp": {"template_id": f"sandbox_{kind}", "fields": fields_},
                     "oa": {"template_id": f"sandbox_oa_{kind}", "fields": fields_}}
    return parse_templates(raw)


SANDBOX_TEMPLATES = _sandbox_templates()


def load_templates(config: Config) -> TemplateSet:
    """The deployment's templates: the WECHAT_TEMPLATES file, the built-in sandbox set in
    sandbox mode without one, else none (notices then go by customer-service message, robot or
    the inbox only)."""
    if not config.wechat_templates:
        return SANDBOX_TEMPLATES if config.sandbox else TemplateSet()
    path = Path(config.wechat_templates)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"WECHAT_TEMPLATES: cannot read {path}: {exc.strerror}") from exc
    try:
        raw = json.loads(text)
    except ValueError as exc:
        raise ConfigError(f"WECHAT_TEMPLATES: {path} is not valid JSON: {exc}") from exc
    return parse_templates(raw)


def get_templates(app: Any) -> TemplateSet:
    """The app's templates (loaded and checked once, when the notify blueprint registers)."""
    found = app.extensions.get("notify_templates")
    if found is None:
        found = app.extensions["notify_templates"] = load_templates(app.config["APP"])
    return found
