"""Chinese working days for step time limits (DESIGN.md; D8 step limits use add_workdays).

Known cases are from the State Council notices (国务院办公厅关于2025年部分节假日安排的通知):
Spring Festival 2025 off 1月28日–2月4日, make-up workdays 1月26日 (Sunday) and 2月8日 (Saturday);
National Day + Mid-Autumn 2025 off 10月1日–8日, make-up 9月28日 (Sunday) and 10月11日 (Saturday).
"""
from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from app.workdays import (
    ESTIMATE_NOTICE, add_workdays, calendar_known_from, calendar_known_until, deadline,
    is_estimated, is_workday, workdays_between,
)


def _days(start: date, end: date):
    d = start
    while d <= end:
        yield d
        d += timedelta(days=1)


# --- is_workday on real 2025 cases -----------------------------------------------------------

def test_spring_festival_2025_holidays_are_not_workdays_even_on_weekdays():
    for d in _days(date(2025, 1, 28), date(2025, 2, 4)):
        assert not is_workday(d), d
    assert date(2025, 1, 28).weekday() == 1  # a Tuesday: a statutory holiday on a weekday


def test_make_up_weekend_days_are_workdays():
    for d in (date(2025, 1, 26), date(2025, 2, 8), date(2025, 9, 28), date(2025, 10, 11)):
        assert d.weekday() >= 5, d  # they really are weekend days
        assert is_workday(d), d


def test_national_day_2025_and_ordinary_days():
    for d in _days(date(2025, 10, 1), date(2025, 10, 8)):
        assert not is_workday(d), d
    assert is_workday(date(2025, 10, 9))           # Thursday after the holiday
    assert is_workday(date(2025, 3, 12))           # an ordinary Wednesday
    assert not is_workday(date(2025, 3, 15))       # an ordinary Saturday
    assert not is_workday(date(2025, 3, 16))       # an ordinary Sunday


def test_october_2025_has_18_working_days():
    # 9, 10, 11 (make-up Saturday), then three full weeks: 13–17, 20–24, 27–31.
    assert workdays_between(date(2025, 9, 30), date(2025, 10, 31)) == 18


# --- add_workdays ---------------------------------------------------------------------------

def test_the_start_day_is_not_counted():
    # Friday + 1 working day = the next Monday; Monday + 1 = Tuesday.
    assert add_workdays(date(2025, 3, 7), 1) == date(2025, 3, 10)
    assert add_workdays(date(2025, 3, 10), 1) == date(2025, 3, 11)
    assert add_workdays(date(2025, 3, 10), 5) == date(2025, 3, 17)


def test_counting_across_the_spring_festival_uses_the_make_up_days():
    friday = date(2025, 1, 24)
    assert add_workdays(friday, 1) == date(2025, 1, 26)   # the make-up Sunday
    assert add_workdays(friday, 2) == date(2025, 1, 27)
    assert add_workdays(friday, 3) == date(2025, 2, 5)    # skips 1月28日–2月4日
    assert add_workdays(date(2025, 2, 5), 3) == date(2025, 2, 8)  # the make-up Saturday
    assert add_workdays(date(2025, 2, 5), 4) == date(2025, 2, 10)


def test_counting_across_national_day_2025():
    assert add_workdays(date(2025, 9, 30), 1) == date(2025, 10, 9)
    assert add_workdays(date(2025, 9, 30), 3) == date(2025, 10, 11)  # make-up Saturday
    assert add_workdays(date(2025, 9, 30), 4) == date(2025, 10, 13)


def test_a_step_started_on_a_holiday_counts_from_the_first_working_day_after_it():
    assert add_workdays(date(2025, 10, 1), 1) == date(2025, 10, 9)
    assert add_workdays(date(2025, 10, 4), 1) == date(2025, 10, 9)   # Saturday inside the holiday


def test_zero_days_is_the_start_itself_even_on_a_holiday():
    assert add_workdays(date(2025, 10, 3), 0) == date(2025, 10, 3)
    assert add_workdays(date(2025, 3, 12), 0) == date(2025, 3, 12)


@pytest.mark.parametrize("bad", [-1, -30])
def test_negative_days_are_refused(bad):
    with pytest.raises(ValueError):
        add_workdays(date(2025, 3, 12), bad)
    with pytest.raises(ValueError):
        deadline(date(2025, 3, 12), bad)


@pytest.mark.parametrize("bad", [1.5, "3", None, True])
def test_non_integer_days_are_refused(bad):
    with pytest.raises(TypeError):
        add_workdays(date(2025, 3, 12), bad)


def test_datetimes_are_refused_so_a_utc_timestamp_is_never_cut_to_the_wrong_day():
    moment = datetime(2025, 3, 11, 20, 0, tzinfo=UTC)  # already 12 March in Beijing
    for call in (lambda: is_workday(moment), lambda: add_workdays(moment, 1),
                 lambda: workdays_between(moment, date(2025, 3, 20)), lambda: is_estimated(moment)):
        with pytest.raises(TypeError):
            call()


def test_add_and_between_are_inverse_over_two_years():
    start = date(2025, 1, 1)
    for offset in range(0, 730, 3):
        s = start + timedelta(days=offset)
        for n in (1, 2, 5, 10, 15, 22):
            due = add_workdays(s, n)
            assert due > s
            assert is_workday(due), (s, n, due)
            assert workdays_between(s, due) == n
            # Every day strictly between start and due that is a workday was counted: n - 1 of them.
            assert sum(is_workday(d) for d in _days(s + timedelta(days=1),
                                                     due - timedelta(days=1))) == n - 1


def test_large_n():
    start = date(2025, 1, 1)
    due = add_workdays(start, 100_000)
    assert is_workday(due) and workdays_between(start, due) == 100_000
    # Roughly 250 working days a year.
    assert 380 < (due - start).days / 365.25 < 420
    with pytest.raises(ValueError):
        add_workdays(start, 10**9)  # past date.max


# --- workdays_between ------------------------------------------------------------------------

def test_workdays_between_counts_after_a_up_to_and_including_b():
    assert workdays_between(date(2025, 3, 10), date(2025, 3, 10)) == 0
    assert workdays_between(date(2025, 3, 10), date(2025, 3, 14)) == 4       # Tue–Fri
    assert workdays_between(date(2025, 1, 27), date(2025, 2, 7)) == 3        # 5, 6, 7 Feb
    assert workdays_between(date(2025, 3, 14), date(2025, 3, 10)) == -4      # overdue direction


# --- beyond the published data ----------------------------------------------------------------

def test_the_known_range_covers_whole_years_up_to_the_pinned_data():
    until = calendar_known_until()
    assert (until.month, until.day) == (12, 31)
    assert until >= date(2026, 12, 31)  # chinesecalendar 1.11.0 has the 2026 arrangement
    assert calendar_known_from() <= date(2025, 1, 1)
    assert not is_estimated(date(2025, 10, 1))
    assert not is_estimated(until)
    assert is_estimated(until + timedelta(days=1))


def test_beyond_the_data_monday_to_friday_is_assumed_and_flagged():
    next_year = calendar_known_until().year + 1
    days = list(_days(date(next_year, 1, 1), date(next_year, 12, 31)))
    assert all(is_estimated(d) for d in days)
    assert [is_workday(d) for d in days] == [d.weekday() < 5 for d in days]
    # Counting runs on smoothly from the known calendar into the estimate.
    last = calendar_known_until()
    due = add_workdays(last - timedelta(days=10), 20)
    assert due > last and due.weekday() < 5
    assert workdays_between(last, due) == sum(d.weekday() < 5 for d in _days(
        last + timedelta(days=1), due))


def test_deadline_flags_estimates_and_offers_the_chinese_notice():
    exact = deadline(date(2025, 9, 30), 3)
    assert exact.due == date(2025, 10, 11)
    assert exact.estimated is False and exact.notice is None

    last = calendar_known_until()
    crossing = deadline(last - timedelta(days=2), 10)
    assert crossing.due == add_workdays(last - timedelta(days=2), 10)
    assert crossing.estimated is True
    assert crossing.notice == ESTIMATE_NOTICE == "节假日安排尚未公布，按周一至周五估算"

    inside = deadline(last - timedelta(days=40), 2)
    assert inside.due <= last and inside.estimated is False
    assert deadline(last + timedelta(days=30), 0).estimated is False  # nothing was counted
