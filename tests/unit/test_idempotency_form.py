"""The Idempotency-Key fingerprint of a multipart request never fails on odd part names (the
fuzz run found a 500 on POST /api/document-uploads: a part whose name parsed to None)."""
from __future__ import annotations

from flask import Flask, request
from werkzeug.datastructures import MultiDict

from app.idempotency import _current_fingerprint


def test_a_part_without_a_usable_name_is_fingerprinted_not_a_500():
    app = Flask(__name__)
    with app.test_request_context("/api/uploads", method="POST",
                                  content_type="multipart/form-data; boundary=x", data=b""):
        request.form = MultiDict([(None, "a"), ("k", "b"), ("k", None)])
        request.files = MultiDict()
        first = _current_fingerprint()
        request.form = MultiDict([("k", None), ("k", "b"), (None, "a")])
        assert _current_fingerprint() == first
