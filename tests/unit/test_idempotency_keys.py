"""The pure parts of the Idempotency-Key mechanism: which keys are accepted, and which requests
count as "the same request"."""
from __future__ import annotations

import pytest

from app.idempotency import InvalidIdempotencyKey, parse_key, request_fingerprint


@pytest.mark.parametrize("key", ["a", "A-b_9", "0" * 64, "7c9e6679-7425-40de-944b-e07fc1f90ae7"])
def test_accepted_keys(key):
    assert parse_key(key) == key


def test_no_header_means_no_key():
    assert parse_key(None) is None


@pytest.mark.parametrize("key", ["", "x" * 65, "a b", "a/b", "键", "a\n", "a.b", "a+b=="])
def test_refused_keys(key):
    with pytest.raises(InvalidIdempotencyKey) as err:
        parse_key(key)
    assert err.value.status == 400 and err.value.code == "invalid_idempotency_key"
    assert "Idempotency-Key" in err.value.message


def fp(method="POST", path="/api/x", query=(), body=b'{"a": 1, "b": [1, 2]}'):
    return request_fingerprint(method, path, list(query), body)


def test_json_key_order_and_spacing_do_not_matter():
    assert fp() == fp(body=b'{"b":[1,2],"a":1}')
    assert fp(body='{"t": "停车"}'.encode()) == fp(body=b'{"t":"\\u505c\\u8f66"}')


@pytest.mark.parametrize("other", [
    {"body": b'{"a": 2, "b": [1, 2]}'},
    {"body": b'{"a": 1, "b": [2, 1]}'},
    {"path": "/api/y"},
    {"method": "PUT"},
    {"query": [("q", "1")]},
    {"body": b""},
])
def test_a_different_request_has_a_different_fingerprint(other):
    assert fp(**other) != fp()


def test_query_order_does_not_matter_and_parts_cannot_run_together():
    assert fp(query=[("a", "1"), ("b", "2")]) == fp(query=[("b", "2"), ("a", "1")])
    # Length-prefixed parts: moving text from the path into the body is a different request.
    assert request_fingerprint("POST", "/api/ab", [], b"c") != \
        request_fingerprint("POST", "/api/a", [], b"bc")


def test_non_json_bodies_are_compared_as_bytes():
    assert fp(body=b"not json") == fp(body=b"not json")
    assert fp(body=b"not json") != fp(body=b"not  json")
