"""Photo uploads over HTTP: type by content (a disguised file is refused), size limits, storage
under a random key, safe serving (nosniff, inline, safe name, no path traversal), and attaching
only one's own, unused uploads (at most nine) to a suggestion."""
from __future__ import annotations

import io

import pytest
from sqlalchemy import func, select

from app.suggestions import uploads
from app.suggestions.models import Attachment, Suggestion, SuggestionState

from ..helpers import committed_session
from ..unit.test_uploads_sniff import make_jpeg, make_png, make_webp
from .test_suggestions_create import as_, build_world, propose


@pytest.fixture
def world(app, fake_wechat):
    return build_world(app)


def upload(client, world, data: bytes, who="resident", name="photo.jpg",
           ctype="image/jpeg"):
    return client.post("/api/uploads", headers=as_(world, who),
                       data={"file": (io.BytesIO(data), name, ctype)},
                       content_type="multipart/form-data")


def attachments(app) -> list[Attachment]:
    with committed_session(app) as s:
        return list(s.scalars(select(Attachment).order_by(Attachment.id)))


@pytest.mark.parametrize("data,ctype,ext", [
    (make_jpeg(640, 480), "image/jpeg", "jpg"),
    (make_png(3, 2), "image/png", "png"),
    (make_webp(5, 7), "image/webp", "webp"),
])
def test_upload_and_serve_safely(client, app, world, data, ctype, ext):
    # The client's name and content type are ignored: the bytes decide.
    r = upload(client, world, data, name="whatever.txt", ctype="text/html")
    assert r.status_code == 201, r.json
    assert r.json["content_type"] == ctype and r.json["size_bytes"] == len(data)
    row, = attachments(app)
    assert row.uploaded_by_id == world["people"]["resident"] and row.suggestion_id is None
    assert uploads.KEY_RE.fullmatch(row.storage_key)
    assert r.json["url"] == f"/api/uploads/{row.storage_key}"

    got = client.get(r.json["url"])
    assert got.status_code == 200
    assert got.data == data
    assert got.headers["Content-Type"] == ctype
    assert got.headers["X-Content-Type-Options"] == "nosniff"
    assert got.headers["Content-Disposition"] == f'inline; filename="photo-{row.id}.{ext}"'
    assert "sandbox" in got.headers["Content-Security-Policy"]


def test_the_file_lands_in_the_configured_directory_under_its_key(client, app, world):
    r = upload(client, world, make_png())
    row, = attachments(app)
    folder = app.config["APP"].upload_dir
    assert folder and not folder.startswith(str(uploads.INSTANCE_DIR))
    with app.app_context():
        path = uploads.path_for(row.storage_key)
    assert str(path).startswith(str(__import__("pathlib").Path(folder).resolve()))
    assert path.read_bytes() == make_png()
    assert r.status_code == 201


@pytest.mark.parametrize("data", [
    b"<html><script>alert(document.cookie)</script></html>",
    b"GIF89a\x01\x00\x01\x00\x00\x00\x00;",
    b"\xff\xd8\xff\xe0 not really a jpeg <script>",
    b"<svg xmlns='http://www.w3.org/2000/svg' onload='alert(1)'/>",
])
def test_disguised_files_are_refused(client, app, world, data):
    r = upload(client, world, data, name="photo.jpg", ctype="image/jpeg")
    assert r.status_code == 422 and r.json["error"] in ("upload_invalid",)
    assert "JPG" in r.json["message"]
    assert attachments(app) == []


def test_just_over_five_megabytes_is_refused(client, app, world):
    data = make_png() + b"\x00" * (uploads.MAX_UPLOAD_BYTES + 1 - len(make_png()))
    r = upload(client, world, data)
    assert r.status_code == 413 and r.json["error"] == "upload_too_large"
    assert "5 MB" in r.json["message"]
    assert attachments(app) == []


def test_a_much_larger_request_is_cut_before_parsing(client, app, world):
    r = upload(client, world, make_png() + b"\x00" * (7 * 1024 * 1024))
    assert r.status_code == 413
    assert attachments(app) == []


def test_exactly_five_megabytes_is_fine(client, app, world):
    data = make_png() + b"\x00" * (uploads.MAX_UPLOAD_BYTES - len(make_png()))
    assert upload(client, world, data).status_code == 201


def test_upload_needs_login_and_a_file(client, app, world):
    r = client.post("/api/uploads", data={"file": (io.BytesIO(make_png()), "a.png")},
                    content_type="multipart/form-data")
    assert r.status_code == 401
    r = client.post("/api/uploads", headers=as_(world, "resident"), data={"other": "x"},
                    content_type="multipart/form-data")
    assert r.status_code == 422 and r.json["error"] == "upload_missing"


@pytest.mark.parametrize("path", [
    "/api/uploads/..%2F..%2Fapp%2Fconfig.py",
    "/api/uploads/%2e%2e%2f%2e%2e%2fetc%2fpasswd",
    "/api/uploads/" + "." * 40,
    "/api/uploads/..",
    "/api/uploads/" + "A" * 43,     # a well-formed key nobody uploaded
])
def test_bad_or_unknown_keys_are_404(client, app, world, path):
    upload(client, world, make_png())
    r = client.get(path)
    assert r.status_code == 404


def test_a_file_on_disk_without_a_row_is_not_served(client, app, world):
    key = "B" * 43
    with app.app_context():
        uploads.path_for(key).write_bytes(make_png())
    assert client.get(f"/api/uploads/{key}").status_code == 404


def test_attach_own_uploads_to_a_suggestion(client, app, world):
    ids = [upload(client, world, make_png(i + 1, 1)).json["id"] for i in range(3)]
    r = propose(client, world, attachment_ids=ids)
    assert r.status_code == 201, r.json
    assert [a["id"] for a in r.json["attachments"]] == ids
    assert all(a["url"].startswith("/api/uploads/") for a in r.json["attachments"])
    assert {a.suggestion_id for a in attachments(app)} == {r.json["id"]}
    # Photos of a public suggestion are served.
    assert client.get(r.json["attachments"][0]["url"]).status_code == 200


def test_another_persons_upload_cannot_be_attached(client, app, world):
    theirs = upload(client, world, make_png(), who="resident2").json["id"]
    mine = upload(client, world, make_png()).json["id"]
    r = propose(client, world, attachment_ids=[mine, theirs])
    assert r.status_code == 422 and r.json["error"] == "attachment_unavailable"
    assert all(a.suggestion_id is None for a in attachments(app))
    with committed_session(app) as s:
        assert s.scalar(select(func.count()).select_from(Suggestion)) == 0


def test_an_upload_is_attached_once_only(client, app, world):
    pid = upload(client, world, make_png()).json["id"]
    assert propose(client, world, attachment_ids=[pid]).status_code == 201
    r = propose(client, world, title="另一条不同的建议", attachment_ids=[pid])
    assert r.status_code == 422 and r.json["error"] == "attachment_unavailable"
    r = propose(client, world, attachment_ids=[9999])
    assert r.status_code == 422 and r.json["error"] == "attachment_unavailable"


def test_at_most_nine_photos(client, app, world):
    ids = [upload(client, world, make_png(i + 1, 1)).json["id"] for i in range(10)]
    r = propose(client, world, attachment_ids=ids)
    assert r.status_code == 422
    assert propose(client, world, attachment_ids=ids[:9]).status_code == 201


def test_photos_of_a_rejected_suggestion_are_no_longer_served(client, app, world):
    pid = upload(client, world, make_png()).json["id"]
    r = propose(client, world, attachment_ids=[pid])
    url = r.json["attachments"][0]["url"]
    with committed_session(app) as s:
        s.get(Suggestion, r.json["id"]).state = SuggestionState.rejected
    assert client.get(url).status_code == 404


def test_too_many_unused_uploads(client, app, world, monkeypatch):
    from app.suggestions import routes

    monkeypatch.setattr(routes, "MAX_PENDING_UPLOADS", 2)
    assert upload(client, world, make_png()).status_code == 201
    assert upload(client, world, make_png()).status_code == 201
    r = upload(client, world, make_png())
    assert r.status_code == 429 and r.json["error"] == "too_many_uploads"
    assert upload(client, world, make_png(), who="resident2").status_code == 201


def test_orphan_uploads_are_purged_after_a_day_attached_ones_never(client, app, world):
    """The nightly job: an upload never used for a suggestion within 24 h goes (row and file);
    a used one stays, a fresh one stays, and a file with no row at all (crash before commit)
    goes too."""
    import os
    import time
    from datetime import timedelta

    from scheduler.jobs import JOBS, run_job

    used, stale, fresh = (upload(client, world, make_png(2 + i, 2)).json["id"] for i in range(3))
    assert propose(client, world, attachment_ids=[used]).status_code == 201
    with committed_session(app) as s:
        for row in s.scalars(select(Attachment).where(Attachment.id.in_([used, stale]))):
            row.created_at = row.created_at - timedelta(hours=25)
    with app.app_context():
        folder = uploads.upload_dir()
        paths = {a.id: uploads.path_for(a.storage_key) for a in attachments(app)}
    crash_leftover = folder / ("x" * 43)
    crash_leftover.write_bytes(make_png())
    two_days_ago = time.time() - 2 * 86400
    os.utime(crash_leftover, (two_days_ago, two_days_ago))

    spec = next(j for j in JOBS if j.id == "purge_orphan_uploads")
    assert run_job(app, spec) == {"rows": 1, "stray_files": 1}
    assert {a.id for a in attachments(app)} == {used, fresh}
    assert paths[used].exists() and paths[fresh].exists()
    assert not paths[stale].exists() and not crash_leftover.exists()
    assert run_job(app, spec) == {"rows": 0, "stray_files": 0}  # nothing left to do


def test_a_conditional_request_gets_304_as_documented(client, app, world):
    """The photo is served with an ETag; asking again with it answers 304, which the OpenAPI
    document lists (issue 10 item 16)."""
    r = upload(client, world, make_png(3, 2))
    got = client.get(r.json["url"])
    again = client.get(r.json["url"], headers={"If-None-Match": got.headers["ETag"]})
    assert again.status_code == 304 and again.data == b""
    responses = client.get("/api/openapi.json").json["paths"]["/api/uploads/{key}"]["get"][
        "responses"]
    assert "304" in responses and "content" not in responses["304"]
