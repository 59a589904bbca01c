"""Chinese working days, for step time limits and reminders (DESIGN.md: "Deadlines count Chinese
working days (statutory holidays and make-up workdays)"; D8 step limits).

A working day is Monday–Friday unless it is a statutory holiday, plus the weekend days the State
Council turns into make-up workdays (调休上班). The data comes from the ``chinesecalendar`` package,
which covers only the years already published (:func:`calendar_known_from` –
:func:`calendar_known_until`). Outside them the module falls back to Monday–Friday: such dates are
*estimated* (:func:`is_estimated`, :attr:`Deadline.estimated`) and callers should show
:data:`ESTIMATE_NOTICE`. Upgrading the package when the next year's arrangement is published
(usually in November) turns estimates into exact answers.

Counting rule: the start day is not counted, as for periods in PRC law (民法典 第二百零一条: 开始的
当日不计入，自下一日开始计算). ``add_workdays(start, n)`` is the n-th working day *after* start,
so a step that starts on a Friday with a 1-day limit is due on the next working day, and a step
that starts on a holiday is counted from the first working day after it. ``n = 0`` returns
``start`` itself. ``workdays_between(a, b)`` counts the working days ``d`` with ``a < d <= b``,
so ``workdays_between(s, add_workdays(s, n)) == n``; it is negative when ``b`` is before ``a``
(e.g. ``workdays_between(due_on, today)`` is how many working days a step is overdue).

All functions take plain ``datetime.date`` values in China local time (Asia/Shanghai); a
``datetime`` is refused rather than silently cut to its (possibly UTC) date. Everything is O(1)
or O(log n) after a one-off table of the published years (~8,000 days) is built on first use.
"""
from __future__ import annotations

import bisect
import threading
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone

# China local time (no daylight saving): every "day" a person in the product means is this one.
CHINA_TZ = timezone(timedelta(hours=8), "Asia/Shanghai")

ESTIMATE_NOTICE = "节假日安排尚未公布，按周一至周五估算"

_table_lock = threading.Lock()
_table: tuple[date, date, list[int]] | None = None


def _load() -> tuple[date, date, list[int]]:
    """(first known day, last known day, cumulative[i] = working days in [first, first + i])."""
    global _table
    if _table is not None:
        return _table
    with _table_lock:
        if _table is None:
            import chinese_calendar
            from chinese_calendar import constants

            years = [d.year for d in constants.holidays] + [d.year for d in constants.workdays]
            first, last = date(min(years), 1, 1), date(max(years), 12, 31)
            cumulative, total, day = [], 0, first
            while day <= last:
                total += chinese_calendar.is_workday(day)
                cumulative.append(total)
                day += timedelta(days=1)
            _table = (first, last, cumulative)
    return _table


def calendar_known_from() -> date:
    """First day covered by the published holiday data."""
    return _load()[0]


def calendar_known_until() -> date:
    """Last day covered by the published holiday data (31 December of the last published year)."""
    return _load()[1]


def _check_date(d: object, name: str = "date") -> date:
    if isinstance(d, datetime) or not isinstance(d, date):
        raise TypeError(f"{name} must be a datetime.date in China local time, "
                        f"not {type(d).__name__}")
    return d


def is_estimated(d: date) -> bool:
    """True when ``d`` lies outside the published holiday data (Monday–Friday is assumed)."""
    _check_date(d)
    first, last, _ = _load()
    return not first <= d <= last


def _weekdays_upto(ordinal: int) -> int:
    """Mondays–Fridays in ordinals [1, ordinal] (ordinal 1, 0001-01-01, is a Monday)."""
    weeks, rest = divmod(ordinal, 7)
    return 5 * weeks + min(rest, 5)


def _first_ordinal_with_weekdays(target: int) -> int:
    """Smallest ordinal o with _weekdays_upto(o) >= target (target >= 1): a Monday–Friday."""
    weeks, rest = divmod(target, 5)
    return 7 * weeks - 2 if rest == 0 else 7 * weeks + rest


def _count_upto(d: date) -> int:
    """Working days from 0001-01-01 up to and including ``d`` (exact where the data is known)."""
    first, last, cumulative = _load()
    o = d.toordinal()
    if d < first:
        return _weekdays_upto(o)
    before = _weekdays_upto(first.toordinal() - 1)
    if d <= last:
        return before + cumulative[o - first.toordinal()]
    return before + cumulative[-1] + _weekdays_upto(o) - _weekdays_upto(last.toordinal())


def is_workday(d: date) -> bool:
    """Whether ``d`` is a Chinese working day (Monday–Friday estimate outside the known years)."""
    _check_date(d)
    first, last, cumulative = _load()
    if first <= d <= last:
        i = d.toordinal() - first.toordinal()
        return cumulative[i] - (cumulative[i - 1] if i else 0) == 1
    return d.weekday() < 5


def _check_days(n: object) -> int:
    if isinstance(n, bool) or not isinstance(n, int):
        raise TypeError(f"the number of working days must be an int, not {type(n).__name__}")
    if n < 0:
        raise ValueError(f"the number of working days must not be negative (got {n})")
    return n


def add_workdays(start: date, n: int) -> date:
    """The n-th working day after ``start`` (``start`` itself not counted; ``n = 0`` → start).

    Raises TypeError for a datetime or a non-int ``n``, ValueError for a negative ``n`` or a
    result past ``date.max``.
    """
    _check_date(start, "start")
    n = _check_days(n)
    if n == 0:
        return start
    first, last, cumulative = _load()
    target = _count_upto(start) + n  # the answer is the first day whose count reaches target
    before = _weekdays_upto(first.toordinal() - 1)
    try:
        if target <= before:
            return date.fromordinal(_first_ordinal_with_weekdays(target))
        if target <= before + cumulative[-1]:
            return first + timedelta(days=bisect.bisect_left(cumulative, target - before))
        rest = target - before - cumulative[-1] + _weekdays_upto(last.toordinal())
        return date.fromordinal(_first_ordinal_with_weekdays(rest))
    except (ValueError, OverflowError):
        raise ValueError(f"{n} working days after {start} is beyond the calendar") from None


def workdays_between(a: date, b: date) -> int:
    """Working days ``d`` with ``a < d <= b``; negative (−count of ``b < d <= a``) if b < a."""
    _check_date(a, "a")
    _check_date(b, "b")
    return _count_upto(b) - _count_upto(a)


@dataclass(frozen=True)
class Deadline:
    """A due date and whether it relies on the Monday–Friday estimate (show ESTIMATE_NOTICE)."""

    due: date
    estimated: bool

    @property
    def notice(self) -> str | None:
        return ESTIMATE_NOTICE if self.estimated else None


def deadline(start: date, n: int) -> Deadline:
    """:func:`add_workdays` plus whether any day counted (``start < d <= due``) was estimated."""
    due = add_workdays(start, n)
    first, last, _ = _load()
    estimated = due > start and (due > last or start + timedelta(days=1) < first)
    return Deadline(due, estimated)
