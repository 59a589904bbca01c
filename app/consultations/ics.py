"""The meeting as an iCalendar file (RFC 5545), so phones can put it in the calendar. One UID
per consultation; SEQUENCE is the meeting's version, so a change replaces the entry and a
cancellation removes it (METHOD:CANCEL, STATUS:CANCELLED)."""
from __future__ import annotations

from datetime import datetime, timezone

PRODID = "-//yshsl//有事好商量//ZH"


def _escape(text: str) -> str:
    return (text.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,")
            .replace("\r\n", "\\n").replace("\n", "\\n").replace("\r", "\\n"))


def _fold(line: str) -> str:
    """Lines longer than 75 octets are folded (CRLF + space), never inside a UTF-8 character."""
    out, current = [], b""
    for ch in line:
        enc = ch.encode("utf-8")
        limit = 75 if not out else 74  # continuation lines start with a space
        if len(current) + len(enc) > limit:
            out.append(current.decode("utf-8"))
            current = b""
        current += enc
    out.append(current.decode("utf-8"))
    return "\r\n ".join(out)


def _utc(dt: datetime) -> str:
    return dt.astimezone(timezone.utc).strftime("%Y%m%dT%H%M%SZ")


def meeting_ics(*, uid: str, sequence: int, starts_at: datetime, ends_at: datetime,
                summary: str, location: str, description: str, url: str | None = None,
                cancelled: bool = False, stamp: datetime | None = None) -> str:
    stamp = stamp or datetime.now(timezone.utc)
    lines = [
        "BEGIN:VCALENDAR", "VERSION:2.0", f"PRODID:{PRODID}", "CALSCALE:GREGORIAN",
        f"METHOD:{'CANCEL' if cancelled else 'PUBLISH'}",
        "BEGIN:VEVENT",
        f"UID:{uid}", f"SEQUENCE:{sequence}", f"DTSTAMP:{_utc(stamp)}",
        f"DTSTART:{_utc(starts_at)}", f"DTEND:{_utc(ends_at)}",
        f"SUMMARY:{_escape(summary)}", f"LOCATION:{_escape(location)}",
        f"DESCRIPTION:{_escape(description)}",
        f"STATUS:{'CANCELLED' if cancelled else 'CONFIRMED'}",
    ]
    if url:
        lines.append(f"URL:{url}")
    if not cancelled:
        lines += ["BEGIN:VALARM", "ACTION:DISPLAY", "DESCRIPTION:协商会议提醒", "TRIGGER:-PT1H",
                  "END:VALARM"]
    lines += ["END:VEVENT", "END:VCALENDAR"]
    return "\r\n".join(_fold(line) for line in lines) + "\r\n"
