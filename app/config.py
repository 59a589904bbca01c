"""Settings from the environment, with an embedded default that runs on a bare machine.

Every setting has the usual name (DATABASE_URL, REDIS_URL, PORT, SECRET_KEY, WECHAT_*). Without
any WeChat credential (CREDENTIALS below) the product runs in *sandbox mode* against the local
fake WeChat server; a single credential means a real deployment and production rules.
"""
from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field, fields, replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
INSTANCE_DIR = ROOT / "instance"

# Development-only secrets: used on the embedded default, refused in production (see check()).
DEV_SECRET = "dev-only-secret-change-me"
# Sandbox only (public): the Official Account server token the local chat page signs with.
SANDBOX_OA_TOKEN = "sandbox-oa-token"


_ENV_NAMES = {"data_key": "DATA_ENCRYPTION_KEY", "lookup_key": "DATA_LOOKUP_KEY"}

# Every setting that is a credential of a real WeChat / WeCom account (issue 10 item 24). Any one
# of them set means a real deployment: production rules (no development SECRET_KEY, no
# /sandbox/*, no demo data). The WeCom robot key counts: it posts into a real staff group.
CREDENTIALS = ("wechat_mp_appid", "wechat_mp_secret", "wechat_oa_appid", "wechat_oa_secret",
               "wechat_oa_token", "wechat_oa_aes_key", "wecom_robot_key")

log = logging.getLogger(__name__)


def _env_name(setting: str) -> str:
    return _ENV_NAMES.get(setting, setting.upper())


class ConfigError(RuntimeError):
    """A setting is missing or wrong; raised at start-up, never later."""


def _env_number(name: str, default, cast, what: str):
    raw = os.environ.get(name)
    if raw in (None, ""):
        return default
    try:
        return cast(raw)
    except ValueError as exc:
        raise ConfigError(f"{name} must be {what}, got {raw!r}") from exc


def _env_int(name: str, default: int) -> int:
    return _env_number(name, default, int, "an integer")


def _env_float(name: str, default: float) -> float:
    return _env_number(name, default, float, "a number of seconds")


@dataclass(frozen=True)
class Config:
    database_url: str = f"sqlite:///{INSTANCE_DIR / 'yshsl.db'}"
    # Empty: use the in-process Redis stand-in (embedded default only).
    redis_url: str = ""
    port: int = 5000
    secret_key: str = DEV_SECRET
    # Key for encrypting phone numbers at rest (Fernet, urlsafe base64 of 32 bytes) and the
    # key of the lookup hash. Kept outside the database (PIPL).
    data_key: str = ""
    lookup_key: str = ""

    # WeChat mini-program and Official Account. All empty → sandbox mode.
    wechat_mp_appid: str = ""
    wechat_mp_secret: str = ""
    wechat_oa_appid: str = ""
    wechat_oa_secret: str = ""
    wechat_oa_token: str = ""
    wechat_oa_aes_key: str = ""
    # Redirect every WeChat call here (the local fake). Unset in production.
    wechat_api_base: str = ""
    wechat_timeout_seconds: float = 5.0
    # Access-token refreshes allowed per app per minute before we stop and report (WECHAT.md trap 3).
    wechat_token_refresh_cap: int = 3
    # Official Account webhook (/wechat/oa): messages whose timestamp is further than this many
    # seconds from our clock are refused (replays); answers slower than the deadline (seconds,
    # below WeChat's 5-second wait) go out afterwards as customer-service messages.
    wechat_oa_timestamp_window: int = 300
    wechat_oa_reply_deadline: float = 4.0
    # Message templates per notice kind (a JSON file, docs/wechat.md); empty: none in production,
    # built-in sandbox templates in sandbox mode.
    wechat_templates: str = ""
    # miniprogram_state of subscribe messages: formal (released), trial or developer.
    wechat_mp_state: str = "formal"
    # WeCom (企业微信) group robot key of the CPPCC staff group (a secret; empty: no robot).
    wecom_robot_key: str = ""

    session_ttl_hours: int = 24 * 7
    staff_session_ttl_hours: int = 12
    staff_lockout_attempts: int = 5
    staff_lockout_minutes: int = 15

    # Public list pages are cached in Redis this many seconds (0: off). Short, so counts lag a
    # few seconds at most while hot lists cost one Redis read.
    list_cache_seconds: int = 3
    # Number of reverse proxies in front of the web service (for the client address and scheme).
    trusted_proxies: int = 0
    # Votes (cast or withdrawn) one person may send per minute (Redis; fails open).
    vote_rate_limit_per_minute: int = 30
    # A visible comment is held for moderation once this many people have reported it.
    comment_report_threshold: int = 3
    # Item 6 response rate: a handling department responds when it submits its work plan within
    # this many Chinese working days of the assignment (app/evaluation/reports.py).
    followup_response_workdays: int = 5
    # Uploaded photos (empty: instance/uploads) and the local content word list (empty: the
    # bundled app/suggestions/wordlist.txt).
    upload_dir: str = ""
    content_wordlist: str = ""

    log_level: str = "INFO"
    testing: bool = False
    # Demo and sandbox helpers (make run).
    sandbox: bool = field(default=False)

    @classmethod
    def from_env(cls, **overrides) -> "Config":
        env = os.environ
        values = dict(
            database_url=env.get("DATABASE_URL") or cls.database_url,
            redis_url=env.get("REDIS_URL", ""),
            port=_env_int("PORT", 5000),
            secret_key=env.get("SECRET_KEY") or DEV_SECRET,
            data_key=env.get("DATA_ENCRYPTION_KEY", ""),
            lookup_key=env.get("DATA_LOOKUP_KEY", ""),
            wechat_mp_appid=env.get("WECHAT_MP_APPID", ""),
            wechat_mp_secret=env.get("WECHAT_MP_SECRET", ""),
            wechat_oa_appid=env.get("WECHAT_OA_APPID", ""),
            wechat_oa_secret=env.get("WECHAT_OA_SECRET", ""),
            wechat_oa_token=env.get("WECHAT_OA_TOKEN", ""),
            wechat_oa_aes_key=env.get("WECHAT_OA_AES_KEY", ""),
            wechat_api_base=env.get("WECHAT_API_BASE", ""),
            wechat_token_refresh_cap=_env_int("WECHAT_TOKEN_REFRESH_CAP", 3),
            wechat_timeout_seconds=_env_float("WECHAT_TIMEOUT_SECONDS", 5.0),
            wechat_oa_timestamp_window=_env_int("WECHAT_OA_TIMESTAMP_WINDOW", 300),
            wechat_oa_reply_deadline=_env_float("WECHAT_OA_REPLY_DEADLINE", 4.0),
            wechat_templates=env.get("WECHAT_TEMPLATES", ""),
            wechat_mp_state=env.get("WECHAT_MP_STATE", "formal"),
            wecom_robot_key=env.get("WECOM_ROBOT_KEY", ""),
            session_ttl_hours=_env_int("SESSION_TTL_HOURS", 24 * 7),
            staff_session_ttl_hours=_env_int("STAFF_SESSION_TTL_HOURS", 12),
            staff_lockout_attempts=_env_int("STAFF_LOCKOUT_ATTEMPTS", 5),
            staff_lockout_minutes=_env_int("STAFF_LOCKOUT_MINUTES", 15),
            trusted_proxies=_env_int("TRUSTED_PROXIES", 0),
            vote_rate_limit_per_minute=_env_int("VOTE_RATE_LIMIT_PER_MINUTE", 30),
            list_cache_seconds=_env_int("LIST_CACHE_SECONDS", 3),
            comment_report_threshold=_env_int("COMMENT_REPORT_THRESHOLD", 3),
            followup_response_workdays=_env_int("FOLLOWUP_RESPONSE_WORKDAYS", 5),
            upload_dir=env.get("UPLOAD_DIR", ""),
            content_wordlist=env.get("CONTENT_WORDLIST_FILE", ""),
            log_level=env.get("LOG_LEVEL", "INFO"),
        )
        values.update(overrides)
        values["sandbox"] = not any(values.get(name) for name in CREDENTIALS)
        known = {f.name for f in fields(cls)}
        unknown = set(values) - known
        if unknown:
            raise ConfigError(f"unknown settings: {sorted(unknown)}")
        return cls(**values).check()

    def with_(self, **changes) -> "Config":
        return replace(self, **changes).check()

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    def credentials_set(self) -> list[str]:
        """The environment names of the WeChat credentials that are set (empty in sandbox)."""
        return [_env_name(name) for name in CREDENTIALS if getattr(self, name)]

    def incomplete_wechat(self) -> list[str]:
        """WeChat settings that only work together, with one half missing: each entry names
        what is set and what is missing (issue 10 item 25). Refused in production, warned
        about in sandbox."""
        problems = []
        pairs = (("wechat_mp_appid", "wechat_mp_secret", "小程序"),
                 ("wechat_oa_appid", "wechat_oa_secret", "公众号"))
        for appid, secret, label in pairs:
            have_id, have_secret = bool(getattr(self, appid)), bool(getattr(self, secret))
            if have_id != have_secret:
                present, missing = (appid, secret) if have_id else (secret, appid)
                problems.append(f"{_env_name(present)} is set but {_env_name(missing)} is not "
                                f"({label}的 AppID 和 AppSecret 须同时设置)")
        if self.wechat_oa_aes_key and not self.wechat_oa_token:
            problems.append("WECHAT_OA_AES_KEY is set but WECHAT_OA_TOKEN is not "
                            "(公众号消息加解密密钥须与服务器令牌同时设置)")
        return problems

    def warnings(self) -> list[str]:
        """What is wrong but tolerated in sandbox mode (printed by `make run`, logged)."""
        return self.incomplete_wechat() if self.sandbox else []

    def check(self) -> "Config":
        """Refuse unsafe or inconsistent settings at start-up."""
        if not self.sandbox:
            why = ", ".join(self.credentials_set()) or "sandbox off"
            missing = [
                name
                for name in ("secret_key", "data_key", "lookup_key", "wechat_mp_appid",
                             "wechat_mp_secret")
                if not getattr(self, name) or getattr(self, name) == DEV_SECRET
            ]
            if missing:
                raise ConfigError(
                    f"production mode (WeChat credentials set: {why}) requires: "
                    + ", ".join(_env_name(m) for m in missing)
                )
            # The embedded stand-ins are per process: an in-process Redis would give every
            # gunicorn worker its own rate limits, token lock and caches, and SQLite its own
            # writer lock. Production runs on the real servers (docs/deploy.md).
            if not self.redis_url:
                raise ConfigError(f"production mode (WeChat credentials set: {why}) requires "
                                  "REDIS_URL (redis://host:6379/0)")
            if self.is_sqlite:
                raise ConfigError(f"production mode (WeChat credentials set: {why}) requires "
                                  "DATABASE_URL pointing at PostgreSQL (postgresql://user@host/db)")
            incomplete = self.incomplete_wechat()
            if incomplete:
                raise ConfigError("incomplete WeChat settings: " + "; ".join(incomplete))
        else:
            for problem in self.warnings():
                log.warning("配置不完整 / incomplete WeChat settings (sandbox mode keeps running, "
                            "production would refuse to start): %s", problem)
        if not 0 < self.wechat_timeout_seconds <= 60:
            raise ConfigError("WECHAT_TIMEOUT_SECONDS must be between 0 and 60 seconds")
        if self.trusted_proxies < 0:
            raise ConfigError("TRUSTED_PROXIES must be 0 or the number of proxies in front")
        if not 0 < self.followup_response_workdays <= 60:
            raise ConfigError("FOLLOWUP_RESPONSE_WORKDAYS must be between 1 and 60 working days")
        oa = [self.wechat_oa_appid, self.wechat_oa_token]
        if any(oa) and not all(oa):
            raise ConfigError("WECHAT_OA_APPID and WECHAT_OA_TOKEN go together")
        if self.wechat_oa_aes_key and len(self.wechat_oa_aes_key) != 43:
            raise ConfigError("WECHAT_OA_AES_KEY must be the 43-character EncodingAESKey")
        if not 10 <= self.wechat_oa_timestamp_window <= 86400:
            raise ConfigError("WECHAT_OA_TIMESTAMP_WINDOW must be 10..86400 seconds")
        if not 0 < self.wechat_oa_reply_deadline < 5:
            raise ConfigError("WECHAT_OA_REPLY_DEADLINE must be above 0 and below 5 seconds "
                              "(WeChat waits 5 seconds for an answer)")
        if self.wechat_mp_state not in ("formal", "trial", "developer"):
            raise ConfigError("WECHAT_MP_STATE must be formal, trial or developer")
        return self

    @property
    def oa_webhook_token(self) -> str:
        """The Official Account's server token; a fixed, public one in sandbox mode (the local
        chat page signs with it). Empty in production without WECHAT_OA_TOKEN: webhook off."""
        if self.wechat_oa_token:
            return self.wechat_oa_token
        return SANDBOX_OA_TOKEN if self.sandbox else ""

    @property
    def oa_webhook_appid(self) -> str:
        if self.wechat_oa_appid:
            return self.wechat_oa_appid
        return "wx_sandbox_oa" if self.sandbox else ""

