def test_healthz(client):
    r = client.get("/healthz")
    assert r.status_code == 200 and r.json == {"status": "ok"}


def test_readyz_checks_database(client, config):
    r = client.get("/readyz")
    assert r.status_code == 200
    assert r.json["checks"]["database"] == "ok"
    # With REDIS_URL set (CI: TEST_REDIS_URL) Redis is checked too; without it there is none.
    assert r.json["checks"].get("redis") == ("ok" if config.redis_url else None)


def test_readyz_reports_redis_down(config):
    from app import create_app

    app = create_app(config.with_(redis_url="redis://127.0.0.1:1/0"))  # nothing listens there
    r = app.test_client().get("/readyz", headers={"X-Request-ID": "ready-1"})
    assert r.status_code == 503
    assert r.json["checks"]["database"] == "ok"
    assert r.json["checks"]["redis"].startswith("error: ")
    assert (r.json["error"], r.json["message"], r.json["request_id"]) == (
        "not_ready", "服务尚未就绪", "ready-1")
    app.extensions["db"].engine.dispose()


def test_readyz_reports_database_down(app, client, monkeypatch):
    engine = app.extensions["db"].engine

    def broken(*a, **k):
        raise ConnectionError("down")

    monkeypatch.setattr(engine, "connect", broken)
    r = client.get("/readyz")
    assert r.status_code == 503
    assert r.json["error"] == "not_ready"
    assert r.json["checks"]["database"].startswith("error")


def test_unknown_path_uses_error_shape(client):
    r = client.get("/no/such/thing", headers={"X-Request-ID": "abc-123"})
    assert r.status_code == 404
    assert r.json["error"] == "not_found"
    assert r.json["request_id"] == "abc-123"
    assert r.headers["X-Request-ID"] == "abc-123"


def test_malicious_request_id_is_replaced(client):
    r = client.get("/healthz", headers={"X-Request-ID": "<script>alert(1)</script>" * 5})
    rid = r.headers["X-Request-ID"]
    assert "<" not in rid and len(rid) == 32
