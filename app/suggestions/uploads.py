"""Photos for suggestions: upload, store, serve.

- The type is decided by the file's own bytes (JPEG, PNG, WebP only) — never by the file name or
  the client's Content-Type — and the header must parse to sane dimensions (read here, without
  decoding the image: no image library, no decoder attack surface).
- At most MAX_UPLOAD_BYTES per file; the request itself is capped before it is parsed.
- Files live in the upload directory (setting ``upload_dir`` / env UPLOAD_DIR, default
  instance/uploads) under a random key; the key is the only name that ever reaches the file
  system, and it is checked against KEY_RE first (no path traversal).
- Served with the stored content type, ``X-Content-Type-Options: nosniff``, an inline
  disposition with a safe file name, and a CSP that forbids any active content.
- An upload belongs to nobody's suggestion until the uploader attaches it (services.py).
"""
from __future__ import annotations

import contextlib
import hashlib
import os
import re
import secrets
import struct
import tempfile
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import IO

from flask import current_app
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from ..audit.services import record
from ..config import INSTANCE_DIR
from ..db import utcnow
from ..errors import AppError, NotFound, ValidationFailed
from ..org.models import Person
from .models import Attachment, Suggestion, SuggestionState

MAX_UPLOAD_BYTES = 5 * 1024 * 1024
# Multipart overhead (boundaries, headers) on top of the file itself.
MAX_REQUEST_BYTES = MAX_UPLOAD_BYTES + 64 * 1024
MAX_SIDE = 16384
MAX_PIXELS = 100_000_000
MIN_SIDE = 1

KEY_RE = re.compile(r"^[A-Za-z0-9_-]{32,64}$")
EXTENSIONS = {"image/jpeg": "jpg", "image/png": "png", "image/webp": "webp"}  # = PHOTO_TYPES
# Documents (D20: a work plan or a result as a PDF), served as a download, never inline.
PDF = "application/pdf"
DOCUMENT_EXTENSIONS = {PDF: "pdf"}
SERVED_TYPES = {**EXTENSIONS, **DOCUMENT_EXTENSIONS}
# A PDF ends with %%EOF; writers may append a line end or some padding after it.
PDF_EOF_WINDOW = 1024


class UploadRejected(ValidationFailed):
    status = 422
    code = "upload_invalid"
    message = "只能上传 JPG、PNG 或 WebP 格式的图片"


class UploadTooLarge(AppError):
    status = 413
    code = "upload_too_large"
    message = "图片不能超过 5 MB"


@dataclass(frozen=True)
class ImageInfo:
    content_type: str
    width: int
    height: int


# --- sniffing ------------------------------------------------------------------------------------

def _png(data: bytes) -> ImageInfo | None:
    # Signature, then the IHDR chunk first: length 13, type "IHDR", width, height (big-endian).
    if len(data) < 33 or data[12:16] != b"IHDR" or struct.unpack(">I", data[8:12])[0] != 13:
        return None
    width, height = struct.unpack(">II", data[16:24])
    return ImageInfo("image/png", width, height)


# JPEG start-of-frame markers (baseline, progressive, lossless…); not DHT (C4), JPG (C8), DAC (CC).
_SOF = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}


def _jpeg(data: bytes) -> ImageInfo | None:
    i = 2
    n = len(data)
    while i + 4 <= n:
        if data[i] != 0xFF:
            return None
        marker = data[i + 1]
        if marker == 0xFF:  # fill byte
            i += 1
            continue
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:  # no length
            i += 2
            continue
        if marker in (0xD9, 0xDA):  # end of image / start of scan before any frame header
            return None
        (length,) = struct.unpack(">H", data[i + 2:i + 4])
        if length < 2:
            return None
        if marker in _SOF:
            if i + 9 > n:
                return None
            height, width = struct.unpack(">HH", data[i + 5:i + 9])
            return ImageInfo("image/jpeg", width, height)
        i += 2 + length
    return None


def _webp(data: bytes) -> ImageInfo | None:
    if len(data) < 30:
        return None
    (riff_size,) = struct.unpack("<I", data[4:8])
    if riff_size + 8 > len(data) + 1 or riff_size < 22:
        # The RIFF size must match the file (an odd payload may omit its pad byte).
        return None
    chunk = data[12:16]
    if chunk == b"VP8X":
        width = 1 + int.from_bytes(data[24:27], "little")
        height = 1 + int.from_bytes(data[27:30], "little")
        return ImageInfo("image/webp", width, height)
    if chunk == b"VP8L":
        if data[20] != 0x2F:
            return None
        bits = int.from_bytes(data[21:25], "little")
        return ImageInfo("image/webp", (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1)
    if chunk == b"VP8 ":
        # Frame tag (3 bytes), start code 9d 01 2a, then 14-bit width and height.
        if data[23:26] != b"\x9d\x01\x2a":
            return None
        width, height = struct.unpack("<HH", data[26:30])
        return ImageInfo("image/webp", width & 0x3FFF, height & 0x3FFF)
    return None


def sniff_image(data: bytes) -> ImageInfo:
    """The image type and size from the file's own bytes; UploadRejected for anything else."""
    info = None
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        info = _png(data)
    elif data.startswith(b"\xff\xd8\xff"):
        info = _jpeg(data)
    elif data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        info = _webp(data)
    if info is None:
        raise UploadRejected()
    if not (MIN_SIDE <= info.width <= MAX_SIDE and MIN_SIDE <= info.height <= MAX_SIDE
            and info.width * info.height <= MAX_PIXELS):
        raise UploadRejected("图片尺寸不正确（每边最多 16384 像素）", code="upload_bad_dimensions")
    return info


def sniff_document(data: bytes) -> ImageInfo:
    """A PDF by its own bytes: "%PDF-" at the very start and "%%EOF" within the last
    PDF_EOF_WINDOW bytes (a renamed program, HTML page or truncated file has not both).
    UploadRejected (document_invalid) otherwise; UploadTooLarge over MAX_UPLOAD_BYTES."""
    if len(data) > MAX_UPLOAD_BYTES:
        raise UploadTooLarge("文件不能超过 5 MB")
    if not (data.startswith(b"%PDF-") and b"%%EOF" in data[-PDF_EOF_WINDOW:]
            and len(data) > len(b"%PDF-%%EOF")):
        raise UploadRejected("只能上传 PDF 文件", code="document_invalid")
    return ImageInfo(PDF, 0, 0)


# --- storage -------------------------------------------------------------------------------------

def upload_dir() -> Path:
    configured = current_app.config["APP"].upload_dir
    return Path(configured) if configured else INSTANCE_DIR / "uploads"


def path_for(key: str) -> Path:
    """The file of a key. Only keys of our own shape get near the file system."""
    if not KEY_RE.fullmatch(key or ""):
        raise NotFound("图片不存在", code="upload_not_found")
    base = upload_dir().resolve()
    path = (base / key).resolve()
    if path.parent != base:  # belt and braces: the regex already rules this out
        raise NotFound("图片不存在", code="upload_not_found")
    return path


def read_limited(stream: IO[bytes], limit: int = MAX_UPLOAD_BYTES) -> bytes:
    """Read at most `limit` bytes; UploadTooLarge when there is more."""
    data = stream.read(limit + 1)
    if len(data) > limit:
        raise UploadTooLarge()
    if not data:
        raise UploadRejected("请选择要上传的图片", code="upload_empty")
    return data


def _write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".upload-")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.chmod(tmp, 0o640)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def store_upload(session: Session, *, person: Person, data: bytes,
                 document: bool = False) -> Attachment:
    """Check the bytes (an image, or with `document` a PDF) and store them; returns the new,
    not yet attached Attachment row. The caller commits; if that fails it should call
    `discard_file(row.storage_key)`."""
    if len(data) > MAX_UPLOAD_BYTES:
        raise UploadTooLarge()
    info = sniff_document(data) if document else sniff_image(data)
    key = secrets.token_urlsafe(32)
    _write(path_for(key), data)
    row = Attachment(suggestion_id=None, uploaded_by_id=person.id, storage_key=key,
                     content_type=info.content_type, size_bytes=len(data),
                     sha256=hashlib.sha256(data).hexdigest(), width=info.width or None,
                     height=info.height or None)
    session.add(row)
    session.flush()
    record(session, actor_id=person.id, action="upload.create", object_type="attachment",
           object_id=row.id, after={"content_type": row.content_type, "size_bytes": len(data),
                                    "width": info.width, "height": info.height})
    return row


def discard_file(key: str) -> None:
    """Remove a stored file whose row was never committed."""
    with contextlib.suppress(OSError, NotFound):
        path_for(key).unlink()


ORPHAN_AFTER = timedelta(hours=24)


def purge_orphan_uploads(session: Session, now: datetime | None = None) -> dict:
    """Scheduler job: photos uploaded but never attached to a suggestion within a day (the
    resident gave up), and files left on disk without a row (a crash between writing the file
    and committing), are deleted. An upload attached meanwhile is never touched: the DELETE
    itself requires it to be unused (no suggestion, no research record)."""
    cutoff = (now or utcnow()) - ORPHAN_AFTER
    keys = session.execute(
        delete(Attachment)
        .where(Attachment.unused(), Attachment.created_at < cutoff)
        .returning(Attachment.storage_key)).scalars().all()
    session.flush()
    for key in keys:
        discard_file(key)
    stray = 0
    base = upload_dir()
    if base.is_dir():
        old = [p.name for p in base.iterdir()
               if KEY_RE.fullmatch(p.name) and p.is_file()
               and datetime.fromtimestamp(p.stat().st_mtime, timezone.utc) < cutoff]
        for start in range(0, len(old), 500):
            batch = old[start:start + 500]
            known = set(session.scalars(select(Attachment.storage_key)
                                        .where(Attachment.storage_key.in_(batch))))
            for name in batch:
                if name not in known:
                    discard_file(name)
                    stray += 1
    return {"rows": len(keys), "stray_files": stray}


def servable(session: Session, key: str) -> tuple[Attachment, Path]:
    """The attachment and its file for GET /api/uploads/<key>; 404 for a bad key, an unknown
    one, a missing file, or a photo of a suggestion that moderation rejected."""
    path = path_for(key)
    found = session.execute(
        select(Attachment, Suggestion.state)
        .outerjoin(Suggestion, Suggestion.id == Attachment.suggestion_id)
        .where(Attachment.storage_key == key)).first()
    if found is None:
        raise NotFound("图片不存在", code="upload_not_found")
    row, state = found
    if row.content_type not in SERVED_TYPES or state is SuggestionState.rejected:
        raise NotFound("图片不存在", code="upload_not_found")
    if not path.is_file():
        raise NotFound("图片不存在", code="upload_not_found")
    return row, path


def public_url(key: str) -> str:
    return f"/api/uploads/{key}"


def safe_filename(row: Attachment) -> str:
    if row.content_type in DOCUMENT_EXTENSIONS:
        return f"document-{row.id}.{DOCUMENT_EXTENSIONS[row.content_type]}"
    return f"photo-{row.id}.{EXTENSIONS[row.content_type]}"


def is_document(row: Attachment) -> bool:
    """Served as a download (Content-Disposition: attachment), never shown inline."""
    return row.content_type in DOCUMENT_EXTENSIONS
