"""The meeting's .ics file follows RFC 5545: CRLF lines, folding at 75 octets without splitting
a Chinese character, escaped text, UTC times, SEQUENCE for changes, CANCEL for cancellations."""
from datetime import datetime, timedelta, timezone

from app.consultations.ics import meeting_ics

START = datetime(2026, 12, 10, 6, 30, tzinfo=timezone.utc)


def make(**kw):
    base = dict(uid="consultation-7@yshsl", sequence=2, starts_at=START,
                ends_at=START + timedelta(hours=2), summary="协商会议：老旧小区加装电梯",
                location="前进村文化广场, 东侧", description="议程：通报；发言\n形成意见",
                stamp=datetime(2026, 11, 27, tzinfo=timezone.utc))
    base.update(kw)
    return meeting_ics(**base)


def unfold(text: str) -> list[str]:
    return text.replace("\r\n ", "").split("\r\n")


def test_structure_times_and_escaping():
    text = make()
    assert text.endswith("\r\n") and "\n" not in text.replace("\r\n", "")
    lines = unfold(text)
    assert lines[0] == "BEGIN:VCALENDAR" and "END:VCALENDAR" in lines
    assert "DTSTART:20261210T063000Z" in lines and "DTEND:20261210T083000Z" in lines
    assert "SEQUENCE:2" in lines and "METHOD:PUBLISH" in lines and "STATUS:CONFIRMED" in lines
    assert "LOCATION:前进村文化广场\\, 东侧" in lines
    assert "DESCRIPTION:议程：通报\\；发言\\n形成意见".replace("\\；", "；") in lines
    assert "BEGIN:VALARM" in lines


def test_long_lines_fold_at_75_octets_on_character_boundaries():
    text = make(description="居民代表发言" * 40)
    for physical in text.split("\r\n"):
        assert len(physical.encode("utf-8")) <= 75
        physical.encode("utf-8").decode("utf-8")  # never a split character
    assert "DESCRIPTION:" + "居民代表发言" * 40 in unfold(text)


def test_cancellation():
    lines = unfold(make(cancelled=True, sequence=3))
    assert "METHOD:CANCEL" in lines and "STATUS:CANCELLED" in lines and "SEQUENCE:3" in lines
    assert "BEGIN:VALARM" not in lines
