"""Image type and size from the file's own bytes (JPEG, PNG, WebP only). Pure, no database.

The builders below write structurally real files (a PNG with CRCs and a zlib IDAT; JPEG
segments; the three WebP chunk kinds) so the sniffing is tested against the formats, not
against itself."""
from __future__ import annotations

import struct
import zlib

import pytest

from app.suggestions.uploads import KEY_RE, UploadRejected, sniff_image


def _chunk(kind: bytes, data: bytes) -> bytes:
    return (struct.pack(">I", len(data)) + kind + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))


def make_png(width: int = 3, height: int = 2) -> bytes:
    # Pixel rows only for small images (a header is all the sniffing reads).
    raw = (b"".join(b"\x00" + b"\x80\x40\x20" * width for _ in range(height))
           if width * height <= 10_000 else b"\x00")
    return (b"\x89PNG\r\n\x1a\n"
            + _chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + _chunk(b"IDAT", zlib.compress(raw)) + _chunk(b"IEND", b""))


def _segment(marker: int, payload: bytes) -> bytes:
    return bytes([0xFF, marker]) + struct.pack(">H", len(payload) + 2) + payload


def make_jpeg(width: int = 4, height: int = 3, sof: int = 0xC0, exif: bool = True) -> bytes:
    parts = [b"\xff\xd8",
             _segment(0xE0, b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00")]
    if exif:
        parts.append(_segment(0xE1, b"Exif\x00\x00" + b"\x00" * 40))
    parts += [
        _segment(0xDB, b"\x00" + bytes(range(1, 65))),                       # DQT
        _segment(0xC4, b"\x00" + b"\x01" + b"\x00" * 15 + b"\x00"),          # DHT (before SOF)
        _segment(sof, struct.pack(">BHHB", 8, height, width, 1) + b"\x01\x11\x00"),
        _segment(0xDA, b"\x01\x01\x00\x00\x3f\x00"), b"\x12\x34\x56", b"\xff\xd9",
    ]
    return b"".join(parts)


def _riff(chunk: bytes, payload: bytes) -> bytes:
    body = b"WEBP" + chunk + struct.pack("<I", len(payload)) + payload
    if len(payload) % 2:
        body += b"\x00"
    return b"RIFF" + struct.pack("<I", len(body)) + body


def make_webp(width: int = 5, height: int = 7, kind: str = "VP8L") -> bytes:
    if kind == "VP8L":
        bits = (width - 1) | ((height - 1) << 14)
        return _riff(b"VP8L", b"\x2f" + bits.to_bytes(4, "little") + b"\x00" * 8)
    if kind == "VP8 ":
        return _riff(b"VP8 ", b"\x10\x02\x00" + b"\x9d\x01\x2a"
                     + struct.pack("<HH", width, height) + b"\x00" * 10)
    return _riff(b"VP8X", b"\x00\x00\x00\x00" + (width - 1).to_bytes(3, "little")
                 + (height - 1).to_bytes(3, "little"))


@pytest.mark.parametrize("data,ctype,size", [
    (make_png(3, 2), "image/png", (3, 2)),
    (make_jpeg(640, 480), "image/jpeg", (640, 480)),
    (make_jpeg(10, 20, sof=0xC2), "image/jpeg", (10, 20)),  # progressive
    (make_jpeg(10, 20, exif=False), "image/jpeg", (10, 20)),
    (make_webp(5, 7, "VP8L"), "image/webp", (5, 7)),
    (make_webp(300, 200, "VP8 "), "image/webp", (300, 200)),
    (make_webp(4000, 3000, "VP8X"), "image/webp", (4000, 3000)),
])
def test_real_formats_are_recognised_with_their_size(data, ctype, size):
    info = sniff_image(data)
    assert info.content_type == ctype
    assert (info.width, info.height) == size


@pytest.mark.parametrize("data", [
    b"<html><script>alert(1)</script></html>",          # HTML named photo.jpg
    b"<?xml version='1.0'?><svg xmlns='http://www.w3.org/2000/svg'/>",
    b"GIF89a\x01\x00\x01\x00\x00\x00\x00;",
    b"BM" + b"\x00" * 60,                                # BMP
    b"%PDF-1.4\n",
    b"\xff\xd8\xff",                                     # JPEG magic only
    b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"<html>" * 10,  # JPEG magic, then garbage
    make_jpeg()[:30],                                    # cut before the frame header
    make_png()[:20],                                     # cut inside IHDR
    b"RIFF\x10\x00\x00\x00WEBPVP8L",                     # truncated WebP
    b"RIFF\x24\x00\x00\x00WAVEfmt " + b"\x00" * 28,      # RIFF but not WebP
    b"",
])
def test_anything_else_is_refused(data):
    with pytest.raises(UploadRejected):
        sniff_image(data)


@pytest.mark.parametrize("data", [make_png(0, 5), make_png(20000, 10), make_jpeg(0, 10),
                                  make_png(12000, 12000)])
def test_absurd_dimensions_are_refused(data):
    with pytest.raises(UploadRejected) as err:
        sniff_image(data)
    assert err.value.code == "upload_bad_dimensions"


@pytest.mark.parametrize("key,ok", [
    ("A" * 43, True), ("abc_DEF-123" * 4, True), ("../../etc/passwd", False),
    ("..%2f..%2fetc", False), ("a" * 31, False), ("a" * 65, False), ("a/b" + "c" * 40, False),
    ("a" * 42 + ".", False), ("a" * 42 + "\n", False),
])
def test_storage_keys_are_random_tokens_only(key, ok):
    assert bool(KEY_RE.fullmatch(key)) is ok
