def test_healthz(client):
    r = client.get("/healthz")
    assert r.status_code == 200 and r.json == {"status": "ok"}


def test_readyz_checks_database(client):
    r = client.get("/readyz")
    assert r.status_code == 200
    assert r.json["checks"]["database"] == "ok"


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
