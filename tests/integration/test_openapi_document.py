"""/api/openapi.json tells the truth (issue 10 item 16): a valid OpenAPI 3.0.3 document, every
success status a view answers with is documented, every file download is an operation with its
media type, and `details` has one shape. The behaviour itself is fuzzed in test_api_fuzz.py."""
from __future__ import annotations

import jsonschema_rs
import schemathesis


def _walk(node, path=""):
    if isinstance(node, dict):
        yield path, node
        for key, value in node.items():
            yield from _walk(value, f"{path}/{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _walk(value, f"{path}/{i}")


def _document(client) -> dict:
    r = client.get("/api/openapi.json")
    assert r.status_code == 200
    return r.json


def test_the_document_is_valid_openapi_3_0_3(client):
    doc = _document(client)
    assert doc["openapi"] == "3.0.3"
    schemathesis.openapi.from_dict(doc).validate()  # the official 3.0 meta-schema
    # JSON Schema 2020-12 spellings that 3.0 clients and fuzzers misread (the meta-schema does
    # not look inside every nested schema).
    for where, node in _walk(doc):
        for bound in ("exclusiveMinimum", "exclusiveMaximum"):
            assert isinstance(node.get(bound, False), bool), f"{where}: numeric {bound}"
        assert node.get("type") != "null" and not isinstance(node.get("type"), list), where
        assert "const" not in node and "prefixItems" not in node, where
        assert not isinstance(node.get("examples"), list) or where.endswith("/properties"), where


def test_radius_km_keeps_its_bound_in_3_0_spelling(client):
    doc = _document(client)
    params = doc["paths"]["/api/platforms"]["get"]["parameters"]
    radius = next(p for p in params if p["name"] == "radius_km")["schema"]
    assert radius["minimum"] == 0 and radius["exclusiveMinimum"] is True
    assert "nullable" not in radius  # a query parameter is absent, never null


def test_optional_fields_are_nullable_not_null_branches(client):
    doc = _document(client)
    schemas = doc["components"]["schemas"]
    declined = schemas["SuggestionOut"]["properties"]["decline_reason"]
    assert declined.get("nullable") is True and declined.get("type") == "string"


def test_repeated_creates_document_their_200(client):
    paths = _document(client)["paths"]
    for path in ("/api/suggestions/{suggestion_id}/vote", "/api/comments/{comment_id}/report",
                 "/api/platforms/{platform_id}/members/{person_id}"):
        responses = paths[path]["post"]["responses"]
        assert {"200", "201"} <= set(responses), path
        assert responses["200"]["content"] == responses["201"]["content"], path


def test_downloads_and_uploads_are_documented_operations(client):
    paths = _document(client)["paths"]
    media = {
        "/api/consultations/{consultation_id}/opinions.docx":
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "/api/consultations/{consultation_id}/opinions.xlsx":
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "/api/reports/member-ledger.xlsx":
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "/api/consultations/{consultation_id}/calendar.ics": "text/calendar",
    }
    for path, media_type in media.items():
        assert list(paths[path]["get"]["responses"]["200"]["content"]) == [media_type], path
    assert set(paths["/api/uploads/{key}"]["get"]["responses"]["200"]["content"]) == {
        "image/jpeg", "image/png", "image/webp", "application/pdf"}
    for path in ("/api/uploads", "/api/document-uploads"):
        upload = paths[path]["post"]["requestBody"]["content"]["multipart/form-data"]
        assert upload["schema"]["properties"]["file"] == {"type": "string", "format": "binary"}


def test_every_error_matches_the_error_schema(client):
    """A 422 of our own (not pydantic's) and a validation 422 both fit the documented shape."""
    doc = _document(client)
    error = doc["components"]["schemas"]["Error"]
    validator = jsonschema_rs.Draft4Validator(error)
    assert error["properties"]["details"]["items"]["required"] == ["field", "message"]
    r = client.get("/api/platforms?radius_km=0")
    assert r.status_code == 422
    validator.validate(r.json)


def test_a_wechat_error_fits_the_error_schema(client, fake_wechat):
    """WeChat's errcode used to come back as `details: {"errcode": …}` (an object)."""
    validator = jsonschema_rs.Draft4Validator(
        _document(client)["components"]["schemas"]["Error"])
    fake_wechat.fail("/sns/jscode2session", 40226)
    r = client.post("/api/auth/wx-login", json={"code": "user-ivy"})
    assert r.status_code == 403 and r.json["error"] == "wechat_user_risky", r.json
    validator.validate(r.json)
    assert r.json["details"][0]["errcode"] == 40226


def test_the_idempotency_key_header_is_documented_where_it_is_honoured(client):
    paths = _document(client)["paths"]
    honoured = {(m.upper(), p) for p, ms in paths.items() for m, op in ms.items()
                if any(x["name"] == "Idempotency-Key" and x["in"] == "header"
                       for x in op.get("parameters", []))}
    assert {("POST", "/api/suggestions/{suggestion_id}/vote"), ("POST", "/api/uploads"),
            ("POST", "/api/platforms/{platform_id}/suggestions"),
            ("POST", "/api/topics/{topic_id}/consultations")} <= honoured
    assert ("GET", "/api/suggestions") not in honoured
    header = next(x for x in paths["/api/uploads"]["post"]["parameters"]
                  if x["name"] == "Idempotency-Key")
    assert header["required"] is False and header["schema"]["maxLength"] == 64
