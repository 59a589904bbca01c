import pytest

from app.config import Config, ConfigError


def test_embedded_default_is_sandbox_on_sqlite(monkeypatch):
    for name in ("DATABASE_URL", "REDIS_URL", "WECHAT_MP_APPID", "PORT"):
        monkeypatch.delenv(name, raising=False)
    cfg = Config.from_env()
    assert cfg.sandbox is True
    assert cfg.is_sqlite and cfg.redis_url == "" and cfg.port == 5000


def test_production_refuses_missing_secrets(monkeypatch):
    monkeypatch.setenv("WECHAT_MP_APPID", "wx123")
    monkeypatch.delenv("SECRET_KEY", raising=False)
    with pytest.raises(ConfigError) as err:
        Config.from_env()
    text = str(err.value)
    for name in ("SECRET_KEY", "DATA_ENCRYPTION_KEY", "DATA_LOOKUP_KEY", "WECHAT_MP_SECRET"):
        assert name in text


@pytest.fixture
def production_env(monkeypatch):
    monkeypatch.setenv("WECHAT_MP_APPID", "wx123")
    monkeypatch.setenv("WECHAT_MP_SECRET", "s")
    monkeypatch.setenv("SECRET_KEY", "k" * 40)
    monkeypatch.setenv("DATA_ENCRYPTION_KEY", "x")
    monkeypatch.setenv("DATA_LOOKUP_KEY", "y")
    monkeypatch.setenv("REDIS_URL", "redis://redis:6379/0")
    monkeypatch.setenv("DATABASE_URL", "postgresql://app@db/yshsl")
    return monkeypatch


def test_production_with_all_secrets(production_env):
    assert Config.from_env().sandbox is False


def test_production_refuses_the_in_process_redis(production_env):
    production_env.delenv("REDIS_URL")
    with pytest.raises(ConfigError, match="REDIS_URL"):
        Config.from_env()


def test_production_refuses_sqlite(production_env):
    production_env.delenv("DATABASE_URL")
    with pytest.raises(ConfigError, match="DATABASE_URL"):
        Config.from_env()
    production_env.setenv("DATABASE_URL", "sqlite:////var/lib/yshsl.db")
    with pytest.raises(ConfigError, match="PostgreSQL"):
        Config.from_env()


def test_bad_port_and_aes_key(monkeypatch):
    monkeypatch.setenv("PORT", "abc")
    with pytest.raises(ConfigError):
        Config.from_env()
    monkeypatch.setenv("PORT", "8000")
    monkeypatch.setenv("WECHAT_OA_AES_KEY", "short")
    with pytest.raises(ConfigError):
        Config.from_env()


def test_unknown_override_refused():
    with pytest.raises(ConfigError):
        Config.from_env(no_such_setting=1)


def test_wechat_timeout_accepts_fractions_and_refuses_nonsense(monkeypatch):
    monkeypatch.setenv("WECHAT_TIMEOUT_SECONDS", "2.5")
    assert Config.from_env().wechat_timeout_seconds == 2.5
    for bad in ("abc", "0", "-1", "600"):
        monkeypatch.setenv("WECHAT_TIMEOUT_SECONDS", bad)
        with pytest.raises(ConfigError, match="WECHAT_TIMEOUT_SECONDS"):
            Config.from_env()


def test_trusted_proxies_is_a_count(monkeypatch):
    monkeypatch.setenv("TRUSTED_PROXIES", "1")
    assert Config.from_env().trusted_proxies == 1
    monkeypatch.setenv("TRUSTED_PROXIES", "-1")
    with pytest.raises(ConfigError, match="TRUSTED_PROXIES"):
        Config.from_env()


def test_followup_response_workdays_default_and_bounds(monkeypatch):
    """Item 6: the response rate's N working days (app/evaluation/reports.py)."""
    monkeypatch.delenv("FOLLOWUP_RESPONSE_WORKDAYS", raising=False)
    assert Config.from_env().followup_response_workdays == 5
    monkeypatch.setenv("FOLLOWUP_RESPONSE_WORKDAYS", "3")
    assert Config.from_env().followup_response_workdays == 3
    for bad in ("0", "-2", "61"):
        monkeypatch.setenv("FOLLOWUP_RESPONSE_WORKDAYS", bad)
        with pytest.raises(ConfigError, match="FOLLOWUP_RESPONSE_WORKDAYS"):
            Config.from_env()


# --- issue 10 item 24: sandbox only without any WeChat credential ------------------------------

CREDENTIALS = ("WECHAT_MP_APPID", "WECHAT_MP_SECRET", "WECHAT_OA_APPID", "WECHAT_OA_SECRET",
               "WECHAT_OA_TOKEN", "WECHAT_OA_AES_KEY", "WECOM_ROBOT_KEY")


@pytest.fixture
def bare_env(monkeypatch):
    """No WeChat credential, no secret: the embedded default."""
    for name in CREDENTIALS + ("SECRET_KEY", "DATA_ENCRYPTION_KEY", "DATA_LOOKUP_KEY",
                               "REDIS_URL", "DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


@pytest.mark.parametrize("name,value", [
    ("WECHAT_MP_SECRET", "mp-secret"), ("WECHAT_OA_APPID", "wxoa"),
    ("WECHAT_OA_SECRET", "oa-secret"), ("WECHAT_OA_TOKEN", "oa-token"),
    ("WECHAT_OA_AES_KEY", "a" * 43), ("WECOM_ROBOT_KEY", "robot-key")])
def test_any_wechat_credential_means_production_rules(bare_env, name, value):
    """One real credential alone (the Official Account's, the WeCom robot's) is a deployment:
    production rules — the development SECRET_KEY is refused, so is the missing mini-program."""
    bare_env.setenv(name, value)
    with pytest.raises(ConfigError) as err:
        Config.from_env()
    text = str(err.value)
    assert name in text  # says which credential switched production on
    for needed in ("SECRET_KEY", "DATA_ENCRYPTION_KEY", "WECHAT_MP_APPID"):
        assert needed in text.split("requires:")[1], text


def test_official_account_credentials_with_every_secret_run_in_production(production_env):
    production_env.delenv("WECHAT_MP_APPID")
    production_env.setenv("WECHAT_OA_APPID", "wxoa")
    production_env.setenv("WECHAT_OA_SECRET", "oa-secret")
    production_env.setenv("WECHAT_OA_TOKEN", "oa-token")
    with pytest.raises(ConfigError, match="WECHAT_MP_APPID"):
        Config.from_env()
    production_env.setenv("WECHAT_MP_APPID", "wx123")
    assert Config.from_env().sandbox is False


# --- issue 10 item 25: incomplete WeChat settings are caught at start-up ------------------------

@pytest.mark.parametrize("present,missing", [
    ({"WECHAT_OA_APPID": "wxoa", "WECHAT_OA_TOKEN": "t"}, "WECHAT_OA_SECRET"),
    ({"WECHAT_OA_SECRET": "s"}, "WECHAT_OA_APPID"),
    ({"WECHAT_OA_AES_KEY": "a" * 43}, "WECHAT_OA_TOKEN")])
def test_production_refuses_an_incomplete_official_account(production_env, present, missing):
    for name, value in present.items():
        production_env.setenv(name, value)
    with pytest.raises(ConfigError, match=missing):
        Config.from_env()


def test_sandbox_warns_loudly_about_an_incomplete_official_account(caplog):
    """Sandbox (tests, a developer's machine) keeps running, but says what is missing."""
    import logging

    config = Config(sandbox=True, wechat_oa_appid="wxoa", wechat_oa_token="t")
    with caplog.at_level(logging.WARNING, logger="app.config"):
        config.check()
    assert any("WECHAT_OA_SECRET" in w for w in config.warnings())
    assert "WECHAT_OA_SECRET" in caplog.text
    assert Config(sandbox=True).warnings() == []
