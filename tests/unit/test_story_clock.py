"""db.story_clock: the demo story's services stamp the story's time (issue 11 item 9), only
inside the block."""
from __future__ import annotations

from datetime import date, datetime, timezone

import pytest

from app.db import story_clock, utcnow
from app.org.services import today_local
from app.workdays import CHINA_TZ


def test_utcnow_and_today_local_follow_the_story_clock_inside_the_block_only():
    at = datetime(2026, 9, 28, 23, 30, tzinfo=timezone.utc)  # 29 September in China
    with story_clock(at):
        assert utcnow() == at and utcnow().tzinfo is not None
        assert today_local() == date(2026, 9, 29)
        with story_clock(datetime(2026, 1, 2, 9, tzinfo=CHINA_TZ)):
            assert today_local() == date(2026, 1, 2)
        assert utcnow() == at
    assert abs((utcnow() - datetime.now(timezone.utc)).total_seconds()) < 5
    assert today_local() == datetime.now(CHINA_TZ).date()


def test_story_clock_resets_on_error_and_refuses_a_naive_time():
    with pytest.raises(RuntimeError):
        with story_clock(datetime(2020, 1, 1, tzinfo=timezone.utc)):
            raise RuntimeError
    assert utcnow().year >= 2026
    with pytest.raises(ValueError):
        with story_clock(datetime(2020, 1, 1)):
            pass
