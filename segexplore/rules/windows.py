"""Time as both engines read a rule: exact nanoseconds of literals and durations, the bounds
of a time window, anniversaries, the ``within`` of ``not followed by``.

Rule literals and windows are exact Python integers of nanoseconds, compared against the
range pandas holds (1677-09-21 .. 2262-04-11) instead of being squeezed into it, so a
far date or a huge duration means what it says in pandas and in SQL alike.
"""

from __future__ import annotations

import calendar
from datetime import date, datetime

import pandas as pd

from segexplore.errors import RuleEvaluationError
from segexplore.rules.events import LastWindow, Window
from segexplore.rules.nodes import Duration
from segexplore.rules.text import shorten

__all__ = ["NS_MIN", "NS_MAX", "NS_PER", "time_ns", "in_time_range", "shift_back_ns", "duration_offset",
           "window_bounds", "anniversary_codes", "follow_up"]


#: The nanosecond range pandas holds (1677-09-21 .. 2262-04-11). Rule literals and time
#: windows are exact Python integers of nanoseconds, compared against this range instead of
#: being squeezed into it (numpy would silently wrap 2300-01-01 round to 1715).
NS_MIN = pd.Timestamp.min.value
NS_MAX = pd.Timestamp.max.value
#: Nanoseconds in an hour, a day and a week (months are calendar months).
NS_PER = {"hours": 3_600 * 10**9, "days": 86_400 * 10**9, "weeks": 604_800 * 10**9}
_FAR_PAST = -(2**80)  # earlier than any time pandas or a SQL engine holds
_EPOCH = datetime(1970, 1, 1)


def time_ns(value: date | datetime | pd.Timestamp) -> int:
    """Exact nanoseconds since 1970-01-01 of a naive date or time, for any year 1..9999.

    Examples
    --------
    >>> time_ns(date(1970, 1, 2))
    86400000000000
    >>> time_ns(date(2300, 1, 1)) > NS_MAX
    True
    """
    nanosecond = value.nanosecond if isinstance(value, pd.Timestamp) else 0
    if isinstance(value, pd.Timestamp):
        value = value.to_pydatetime(warn=False)
    if not isinstance(value, datetime):
        value = datetime(value.year, value.month, value.day)
    delta = value.replace(tzinfo=None) - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 10**9 + delta.microseconds * 1_000 \
        + nanosecond


def in_time_range(ns: int) -> bool:
    """Whether ``ns`` (from :func:`time_ns`) is a time pandas can hold."""
    return NS_MIN <= ns <= NS_MAX


def shift_back_ns(as_of: pd.Timestamp, duration: Duration) -> int:
    """Exact nanoseconds of ``as_of - duration`` (months are calendar months).

    Never overflows: a duration reaching before year 1 gives a time earlier than any
    representable one, so ``within last 1000000000 days`` covers all time and ``more than
    1000000 months ago`` matches nothing.
    """
    if duration.unit != "months":
        return as_of.value - duration.amount * NS_PER[duration.unit]
    months = as_of.year * 12 + as_of.month - 1 - duration.amount
    year, month = divmod(months, 12)
    if year < 1:
        return _FAR_PAST
    day = min(as_of.day, calendar.monthrange(year, month + 1)[1])  # Jan 31 - 1 month: Dec 31
    shifted = datetime(year, month + 1, day, as_of.hour, as_of.minute, as_of.second,
                       as_of.microsecond)
    return time_ns(shifted) + as_of.nanosecond


def duration_offset(duration: Duration) -> pd.DateOffset | pd.Timedelta:
    """The calendar length of a duration (months are calendar months)."""
    if duration.unit == "months":
        return pd.DateOffset(months=duration.amount)
    return pd.Timedelta(**{duration.unit: duration.amount})


def _stamp(ns: int) -> pd.Timestamp:
    return pd.Timestamp(ns, unit="ns")


def window_bounds(window: Window | None, as_of: pd.Timestamp) -> tuple[pd.Timestamp | None,
                                                                          pd.Timestamp]:
    """``(start, end)`` of a window, keeping events with ``start < t <= end``, capped at as_of.

    A start before every representable time is ``None`` (all time): ``last 1000000000
    days`` and ``between 1500-01-01 and ...`` keep every event up to the end.
    """
    if window is None:
        return None, as_of
    if isinstance(window, LastWindow):
        start_ns = shift_back_ns(as_of, window.duration)
        return (_stamp(start_ns) if start_ns >= NS_MIN else None), as_of
    start_ns = time_ns(window.start) - 1
    end_ns = time_ns(window.end)
    if not isinstance(window.end, datetime):
        end_ns += NS_PER["days"] - 1  # the whole end day
    end_ns = min(end_ns, as_of.value)
    if start_ns >= end_ns or end_ns < NS_MIN:  # empty, or over before any representable time
        return as_of, as_of
    return (_stamp(start_ns) if start_ns >= NS_MIN else None), _stamp(end_ns)


def anniversary_codes(as_of: pd.Timestamp, days: int) -> list[int]:
    """``month * 100 + day`` of each day from as_of to as_of + days (Feb 29 -> Feb 28)."""
    days = min(days, 366)  # a year and a day already cover every date, Feb 29 included
    dates = pd.date_range(as_of.normalize(), periods=days + 1, freq="D")
    codes = set((dates.month * 100 + dates.day).tolist())
    for day in dates:
        if day.month == 2 and day.day == 28 and not day.is_leap_year:
            codes.add(229)  # born on Feb 29: celebrated on Feb 28 in common years
    return sorted(codes)


def follow_up(within: Duration, as_of: pd.Timestamp, text: str = "") -> pd.Timedelta | None:
    """The ``within`` of ``not followed by`` as a Timedelta, or None when it reaches before
    every representable time (then no first event is old enough and nobody matches)."""
    if shift_back_ns(as_of, within) < NS_MIN:
        return None
    try:
        return pd.Timedelta(within.amount * NS_PER[within.unit], unit="ns")
    except (OverflowError, ValueError):
        raise RuleEvaluationError(
            f"In rule {shorten(text)!r}: `not followed by ... within {within}` is too long "
            "(at most about 292 years, 106,751 days)") from None
