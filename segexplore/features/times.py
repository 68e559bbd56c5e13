"""Timestamps as the activity index compares them (naive UTC nanoseconds), and the time
window ``(as_of - duration, as_of]`` every count and sum is taken over."""

from __future__ import annotations

import numpy as np
import pandas as pd

from segexplore.errors import ParameterError

__all__ = ["TimeLike", "NAT_NS", "MAX_NS", "to_naive_ns", "to_ns", "window"]


TimeLike = pd.Timestamp | str | np.datetime64 | None
#: NaT as int64 nanoseconds, and the latest time they hold.
NAT_NS = np.iinfo(np.int64).min
MAX_NS = np.iinfo(np.int64).max


def to_naive_ns(values: pd.Series | pd.Index | np.ndarray) -> np.ndarray:
    """Return datetimes as int64 nanoseconds (NaT -> int64 min), tz-aware ones as UTC.

    Dates outside the nanosecond range (before 1677 or after 2262, e.g. a birth date typed
    as year 1066) become NaT instead of raising.
    """
    values = pd.Series(values) if not isinstance(values, pd.Series) else values
    if not pd.api.types.is_datetime64_any_dtype(values.dtype):
        values = pd.to_datetime(values)
    if getattr(values.dtype, "tz", None) is not None:
        values = values.dt.tz_convert("UTC").dt.tz_localize(None)
    try:
        stamps = values.dt.as_unit("ns").to_numpy()  # checked conversion, fast path
    except pd.errors.OutOfBoundsDatetime:
        stamps = values.to_numpy()
        lowest = np.datetime64(pd.Timestamp.min.ceil("us"))
        highest = np.datetime64(pd.Timestamp.max.floor("us"))
        out_of_range = (stamps < lowest) | (stamps > highest)
        stamps = np.where(out_of_range, np.datetime64("NaT"), stamps).astype("datetime64[ns]")
    return stamps.view(np.int64)


def to_ns(value: TimeLike) -> int | None:
    """Return a timestamp as int64 nanoseconds (naive UTC), or None when ``value`` is None."""
    if value is None:
        return None
    stamp = pd.Timestamp(value)
    if stamp is pd.NaT:
        raise ParameterError("a window bound cannot be NaT; use None for an open bound")
    if stamp.tzinfo is not None:
        stamp = stamp.tz_convert("UTC").tz_localize(None)
    return int(stamp.as_unit("ns").value)


def window(as_of: TimeLike, duration: pd.Timedelta | str | float) -> tuple[pd.Timestamp, pd.Timestamp]:
    """Return ``(start, end)`` of the window of length ``duration`` ending at ``as_of``.

    Parameters
    ----------
    as_of
        End of the window (inclusive).
    duration
        A Timedelta, a string such as ``"30D"`` or ``"24h"``, or a number of days.

    Returns
    -------
    tuple of Timestamp
        ``(as_of - duration, as_of)``; the methods of :class:`ActivityTable` keep events
        with ``start < t <= end``.
    """
    end = pd.Timestamp(as_of)
    if isinstance(duration, (int, float, np.integer, np.floating)):
        duration = pd.Timedelta(days=float(duration))
    return end - pd.Timedelta(duration), end
