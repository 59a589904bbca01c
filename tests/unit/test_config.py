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
