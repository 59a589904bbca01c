"""The document upload type (D20 progress and completion): a PDF is recognised by its own bytes
— the %PDF- header and a %%EOF marker near the end — never by its name or Content-Type."""
from __future__ import annotations

import pytest

from app.suggestions.uploads import MAX_UPLOAD_BYTES, UploadRejected, sniff_document


def make_pdf(pages: int = 1) -> bytes:
    body = b"1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n" * pages
    return b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n" + body + b"trailer << /Root 1 0 R >>\n%%EOF\n"


def test_a_pdf_is_recognised():
    assert sniff_document(make_pdf()).content_type == "application/pdf"
    # Some writers append a few bytes (a newline, NULs) after the final %%EOF.
    assert sniff_document(make_pdf() + b"\r\n\x00\x00").content_type == "application/pdf"


@pytest.mark.parametrize("data", [
    b"MZ\x90\x00\x03\x00\x00\x00" + b"\x00" * 200,            # a Windows .exe named x.pdf
    b"<html><script>alert(1)</script></html>%%EOF",          # HTML named x.pdf
    b"  %PDF-1.4\n%%EOF",                                     # header not at the start
    b"%PDF-1.4\nno end marker at all" + b"x" * 2000,          # truncated PDF
    b"%PDF-1.4\n%%EOF" + b"<html>" * 400,                     # marker far from the end
    b"%PDF-",
    b"",
])
def test_anything_else_is_refused(data):
    with pytest.raises(UploadRejected) as err:
        sniff_document(data)
    assert err.value.code == "document_invalid"


def test_a_document_over_the_limit_is_refused():
    from app.suggestions.uploads import UploadTooLarge

    with pytest.raises(UploadTooLarge):
        sniff_document(make_pdf() + b"%" * MAX_UPLOAD_BYTES)
