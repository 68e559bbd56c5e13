"""Reference evaluation of rules with numpy/pandas: a rule -> a boolean mask over contacts.

Semantics shared with the SQL compiler (:mod:`segexplore.rules.engines.sql`), tested to agree:

- A condition on a missing value is false, whatever the operator (``city != "Lyon"`` does
  not match a contact without a city; ``not (city = "Lyon")`` does, and ``city is
  missing`` selects them explicitly).
- Text matches (``contains``, ``starts with``, ``ends with``) and ``has`` ignore case.
- ``before D`` is before D's midnight; ``after D`` (a date) is from the day after D on.
- Time windows keep events with ``start < t <= end``; ``last 30 days`` ends at ``as_of``;
  ``between D1 and D2`` covers both whole days; events after ``as_of`` never count.
- ``count`` and ``sum`` of nothing are 0; ``avg``, ``min``, ``max`` of nothing are missing.

Categorical columns are evaluated on their categories then looked up by code, which is
what makes a five-condition count over a million contacts take a few milliseconds.
"""

from __future__ import annotations

import calendar
import math
import re
from collections.abc import Callable, Mapping
from datetime import date, datetime
from functools import cached_property
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from segexplore.errors import RuleEvaluationError, closest_name
from segexplore.model import hooks
from segexplore.model.columns import EVENT_TYPES, MULTI_VALUE_SEPARATOR
from segexplore.model.roles import value_kind
from segexplore.rules import nodes as R
from segexplore.rules.events import EventAggregate, LastPerformed, LastWindow, NotFollowedBy, Window
from segexplore.rules.parser import parse
from segexplore.rules.text import format_name

if TYPE_CHECKING:
    from segexplore.model.base import ContactBase

__all__ = ["Evaluator", "duration_offset", "window_bounds", "anniversary_codes",
           "top_percent_threshold", "time_ns", "shift_back_ns", "in_time_range",
           "check_condition", "shorten"]

_FEW = 4  # up to this many matching categories, compare codes instead of a look-up

#: The nanosecond range pandas holds (1677-09-21 .. 2262-04-11). Rule literals and time
#: windows are exact Python integers of nanoseconds, compared against this range instead of
#: being squeezed into it (numpy would silently wrap 2300-01-01 round to 1715).
NS_MIN, NS_MAX = pd.Timestamp.min.value, pd.Timestamp.max.value
_NS_PER = {"hours": 3_600 * 10**9, "days": 86_400 * 10**9, "weeks": 604_800 * 10**9}
_FAR_PAST = -(2**80)  # earlier than any time pandas or a SQL engine holds
_EPOCH = datetime(1970, 1, 1)
_TEXT_LIMIT = 200  # rule texts quoted in messages are cut to about this length


def shorten(text: str, limit: int = _TEXT_LIMIT) -> str:
    """``text``, cut in the middle when longer than ``limit`` (for error messages).

    Examples
    --------
    >>> shorten("a and " * 100 + "b", limit=30)
    'a and a and a and a ... a and b'
    """
    if len(text) <= limit:
        return text
    head, tail = text[:limit * 2 // 3], text[-(limit // 3):]
    head = head.rsplit(" ", 1)[0] if " " in head else head  # cut between words
    tail = tail.split(" ", 1)[-1]
    return f"{head} ... {tail}"


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


def shift_back_ns(as_of: pd.Timestamp, duration: R.Duration) -> int:
    """Exact nanoseconds of ``as_of - duration`` (months are calendar months).

    Never overflows: a duration reaching before year 1 gives a time earlier than any
    representable one, so ``within last 1000000000 days`` covers all time and ``more than
    1000000 months ago`` matches nothing.
    """
    if duration.unit != "months":
        return as_of.value - duration.amount * _NS_PER[duration.unit]
    months = as_of.year * 12 + as_of.month - 1 - duration.amount
    year, month = divmod(months, 12)
    if year < 1:
        return _FAR_PAST
    day = min(as_of.day, calendar.monthrange(year, month + 1)[1])  # Jan 31 - 1 month: Dec 31
    shifted = datetime(year, month + 1, day, as_of.hour, as_of.minute, as_of.second,
                       as_of.microsecond)
    return time_ns(shifted) + as_of.nanosecond


def duration_offset(duration: R.Duration) -> pd.DateOffset | pd.Timedelta:
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
        end_ns += _NS_PER["days"] - 1  # the whole end day
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


def top_percent_threshold(values: np.ndarray, percent: float) -> float | None:
    """The smallest value in the top ``percent`` of non-missing values (ties included)."""
    finite = values[~np.isnan(values)]
    if len(finite) == 0:
        return None
    k = max(1, math.ceil(len(finite) * percent / 100))
    return float(np.partition(finite, len(finite) - k)[len(finite) - k])


@hooks.implements("evaluator")
class Evaluator:
    """Evaluates rules on one contact base as of one date, caching event aggregates.

    Parameters
    ----------
    base : ContactBase
    segments : mapping, optional
        Saved segments (name -> Segment or Rule) that ``segment("name")`` refers to.
    """

    def __init__(self, base: ContactBase, segments: Mapping[str, Any] | None = None) -> None:
        self.base = base
        self.as_of = base.as_of
        self.segments = segments if segments is not None else base.segments
        self._aggregates: dict[Any, np.ndarray] = {}
        self._segment_masks: dict[str, np.ndarray] = {}
        self._columns: dict[str, Column] = {}
        self._columns_of: pd.DataFrame | None = None
        self._text = ""

    # --- entry points -------------------------------------------------------------------
    def mask(self, rule: R.Rule | str, *, text: str | None = None) -> pd.Series:
        """Boolean Series over the contacts (same index), True for members."""
        if isinstance(rule, str):
            text, rule = rule, parse(rule)
        values = self.array(rule, text=text)
        return pd.Series(values, index=self.base.contacts.index, name="member")

    def array(self, rule: R.Rule, *, text: str | None = None) -> np.ndarray:
        """Boolean numpy array over the contacts, True for members."""
        with _depth_guard():
            self._text = text if text is not None else str(rule)
            self._segment_masks = {}  # saved segments may have been redefined since
            return self._eval(rule, ())

    def check(self, rule: R.Rule | str, *, text: str | None = None) -> None:
        """Raise the :class:`RuleEvaluationError` evaluating ``rule`` would raise, if any.

        Unknown fields, event types, properties and segments, type mismatches, segment
        cycles: the same checks, in the same order and with the same messages as
        :meth:`mask`, without computing anything. The SQL compiler calls it, so a rule
        fails the same way in DuckDB (or a warehouse) as in pandas.
        """
        if isinstance(rule, str):
            text, rule = rule, parse(rule)
        with _depth_guard():
            self._text = text if text is not None else str(rule)
            self._check(rule, ())

    # --- fields -------------------------------------------------------------------------
    def _column_view(self, name: str) -> Column:
        contacts = self.base.contacts
        if self._columns_of is not contacts:  # the analyst replaced the contacts table
            self._columns, self._columns_of = {}, contacts
        view = self._columns.get(name)
        if view is None:
            view = self._columns[name] = Column(self.column(name))
        return view

    def column(self, name: str) -> pd.Series:
        contacts = self.base.contacts
        if name in contacts.columns:
            return contacts[name]
        from segexplore.features.registry import FEATURES

        if name in FEATURES:
            return self.base.features[name]
        known = list(contacts.columns) + list(FEATURES)
        raise self._unknown("field", name, known)

    def _unknown(self, what: str, name: str, known) -> RuleEvaluationError:
        guess = closest_name(name, known)
        hint = f"; did you mean {guess!r}?" if guess else ""
        where = self._position(name)
        return RuleEvaluationError(
            f"In rule {shorten(self._text)!r}: unknown {what} {name!r}{where}{hint}")

    def _position(self, name: str) -> str:
        return _position(name, self._text)

    # --- recursion ----------------------------------------------------------------------
    def _eval(self, rule: R.Rule, stack: tuple[str, ...]) -> np.ndarray:
        if isinstance(rule, R.And):
            result = self._eval(rule.children[0], stack)
            for child in rule.children[1:]:
                result = result & self._eval(child, stack)
            return result
        if isinstance(rule, R.Or):
            result = self._eval(rule.children[0], stack)
            for child in rule.children[1:]:
                result = result | self._eval(child, stack)
            return result
        if isinstance(rule, R.Not):
            return ~self._eval(rule.child, stack)
        if isinstance(rule, R.SegmentRef):
            return self._segment(rule.name, stack)
        if isinstance(rule, R.EventCondition):
            return self._event_condition(rule)
        if isinstance(rule, R.Condition):
            return condition_mask(rule, self._column_view(rule.field), self.as_of, self._text)
        raise RuleEvaluationError(f"cannot evaluate {type(rule).__name__} ({rule})")

    def _check(self, rule: R.Rule, stack: tuple[str, ...]) -> None:
        # Mirrors _eval: same walk, same order, so the first error is the same one.
        if isinstance(rule, (R.And, R.Or, R.Not)):
            for child in rule.children:
                self._check(child, stack)
        elif isinstance(rule, R.SegmentRef):
            self._check(self._saved_rule(rule.name, stack), (*stack, rule.name))
        elif isinstance(rule, R.EventCondition):
            self._event_condition(rule, check_only=True)
        elif isinstance(rule, R.Condition):
            check_condition(rule, self._column_view(rule.field).kind, self._text)
        else:
            raise RuleEvaluationError(f"cannot evaluate {type(rule).__name__} ({rule})")

    def _saved_rule(self, name: str, stack: tuple[str, ...]) -> R.Rule:
        if name in stack:
            cycle = " -> ".join((*stack, name))
            raise RuleEvaluationError(f"segments refer to each other in a cycle: {cycle}")
        if name not in self.segments:
            raise self._unknown("segment", name, list(self.segments))
        saved = self.segments[name]
        return saved if isinstance(saved, R.Rule) else saved.effective_rule

    def _segment(self, name: str, stack: tuple[str, ...]) -> np.ndarray:
        if name in self._segment_masks and name not in stack:
            return self._segment_masks[name]
        rule = self._saved_rule(name, stack)
        values = self._eval(rule, (*stack, name))
        self._segment_masks[name] = values
        return values

    # --- events -------------------------------------------------------------------------
    def _activity(self):
        return self.base.activity

    def _event_type(self, event_type: str) -> str:
        activity = self._activity()
        if event_type in activity.event_types or event_type in EVENT_TYPES:
            return event_type
        raise self._unknown("event type", event_type, list(activity.event_types) + list(EVENT_TYPES))

    def _property(self, event_type: str, name: str) -> pd.Series:
        activity = self._activity()
        names = activity.property_names(event_type)
        if name not in names:
            raise self._unknown(f"property of {event_type} events", name, names)
        return activity.property(event_type, name)

    def _where_mask(self, spec_type: str, where: R.Rule | None, *,
                    check_only: bool = False) -> np.ndarray | None:
        if where is None:
            return None
        activity = self._activity()
        if activity.n_events(spec_type) == 0:
            return np.zeros(0, dtype=bool)
        if check_only:
            for node in where.walk():
                if isinstance(node, R.Condition):
                    check_condition(node, value_kind(self._property(spec_type, node.field).dtype),
                                    self._text)
            return None
        return _logical(where, lambda node: condition_mask(
            node, self._property(spec_type, node.field), self.as_of, self._text))

    def _numeric_property(self, rule: EventAggregate) -> None:
        """sum/avg/min/max of a text, date or unknown property: a clear rule error."""
        activity = self._activity()
        if not activity.n_events(rule.event_type):
            return  # no such event at all: nothing to aggregate, every value is missing
        kind = value_kind(self._property(rule.event_type, rule.property).dtype)
        if kind not in ("number", "bool"):
            raise RuleEvaluationError(
                f"In rule {shorten(self._text)!r}: {rule.func}({format_target(rule)}): "
                f"{rule.property} of {rule.event_type} events holds {_DESCRIBED[kind]}; "
                "sum, avg, min and max need numbers (count(...) counts events of any kind)")

    def _event_condition(self, rule: R.EventCondition, *,
                         check_only: bool = False) -> np.ndarray | None:
        activity = self._activity()
        if isinstance(rule, EventAggregate):
            key = ("aggregate", rule.func, rule.event_type, rule.property, rule.where,
                   rule.window, self.as_of)
            values = None if check_only else self._aggregates.get(key)
            if values is None:
                event_type = self._event_type(rule.event_type)
                where = self._where_mask(event_type, rule.where, check_only=check_only)
                if rule.func != "count":
                    self._numeric_property(rule)
                if check_only:
                    return None
                start, end = window_bounds(rule.window, self.as_of)
                if rule.func == "count":
                    values = activity.count(event_type, start=start, end=end, where=where)
                else:
                    func = "mean" if rule.func == "avg" else rule.func
                    values = activity.aggregate(event_type, rule.property, func, start=start,
                                                end=end, where=where)
                self._aggregates[key] = values
            return _compare_array(values, rule.op, rule.value)
        if isinstance(rule, NotFollowedBy):
            key = ("nfb", rule, self.as_of)
            values = None if check_only else self._aggregates.get(key)
            if values is None:
                if rule.within.unit == "months":
                    raise RuleEvaluationError(
                        f"In rule {shorten(self._text)!r}: `not followed by ... within` takes "
                        "hours, days or weeks, not months")
                first = self._event_type(rule.first.event_type)
                then = self._event_type(rule.then.event_type)
                first_where = self._where_mask(first, rule.first.where, check_only=check_only)
                then_where = self._where_mask(then, rule.then.where, check_only=check_only)
                within = follow_up(rule.within, self.as_of, self._text)
                if check_only:
                    return None
                if within is None:  # no first event can be that old: nobody matches
                    values = np.zeros(len(self.base.contacts), dtype=bool)
                else:
                    start, end = window_bounds(rule.window, self.as_of)
                    values = activity.not_followed_by(
                        first, then, within, start=start, end=end, first_where=first_where,
                        then_where=then_where, as_of=self.as_of)
                self._aggregates[key] = values
            return values
        if isinstance(rule, LastPerformed):
            key = ("last", rule.event, self.as_of)
            last = None if check_only else self._aggregates.get(key)
            if last is None:
                event_type = self._event_type(rule.event.event_type)
                where = self._where_mask(event_type, rule.event.where, check_only=check_only)
                if check_only:
                    return None
                last = activity.last(event_type, end=self.as_of, where=where)
                self._aggregates[key] = last
            bound = shift_back_ns(self.as_of, rule.duration)
            if rule.relation == "more than ago":
                return _compare_array(last, "<", bound)
            return _compare_array(last, ">", bound)
        raise RuleEvaluationError(f"cannot evaluate {type(rule).__name__} ({rule})")


def format_target(rule: EventAggregate) -> str:
    """``purchase.amount`` as written in the rule."""
    target = format_name(rule.event_type)
    return target + ("." + format_name(rule.property) if rule.property else "")


def follow_up(within: R.Duration, as_of: pd.Timestamp, text: str = "") -> pd.Timedelta | None:
    """The ``within`` of ``not followed by`` as a Timedelta, or None when it reaches before
    every representable time (then no first event is old enough and nobody matches)."""
    if shift_back_ns(as_of, within) < NS_MIN:
        return None
    try:
        return pd.Timedelta(within.amount * _NS_PER[within.unit], unit="ns")
    except (OverflowError, ValueError):
        raise RuleEvaluationError(
            f"In rule {shorten(text)!r}: `not followed by ... within {within}` is too long "
            "(at most about 292 years, 106,751 days)") from None


class _depth_guard:
    """Turn a RecursionError (a rule built in Python nested thousands of levels deep) into
    a RuleEvaluationError; rules parsed from text are limited to 100 levels already."""

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind, error, traceback) -> bool:
        if kind is not None and issubclass(kind, RecursionError):
            raise RuleEvaluationError(
                "the rule is nested too deeply to evaluate (and/or/not inside each other "
                "thousands of levels deep); flatten it, e.g. And(*conditions)") from None
        return False


def _logical(rule: R.Rule, leaf: Callable[[R.Rule], np.ndarray]) -> np.ndarray:
    """Evaluate and/or/not over leaves (used for event where-filters)."""
    if isinstance(rule, R.And):
        out = _logical(rule.children[0], leaf)
        for child in rule.children[1:]:
            out = out & _logical(child, leaf)
        return out
    if isinstance(rule, R.Or):
        out = _logical(rule.children[0], leaf)
        for child in rule.children[1:]:
            out = out | _logical(child, leaf)
        return out
    if isinstance(rule, R.Not):
        return ~_logical(rule.child, leaf)
    return leaf(rule)


# --- leaf conditions on one Series -------------------------------------------------------

_OPS: dict[str, Callable[[Any, Any], Any]] = {
    "=": np.equal, "!=": np.not_equal, "<": np.less, "<=": np.less_equal,
    ">": np.greater, ">=": np.greater_equal,
}


_DESCRIBED = {"datetime": "a date", "number": "a number", "bool": "true or false",
              "text": "text", "category": "text"}


def _position(name: str, text: str) -> str:
    """`` at position N``: where ``name`` first appears in the rule text, if it does."""
    if not name:
        return ""
    match = re.search(rf"(?<![\w`]){re.escape(name)}(?![\w`])|`{re.escape(name)}`", text)
    return f" at position {match.start()}" if match else ""


def _type_error(field: str, kind: str, value: Any, text: str) -> RuleEvaluationError:
    return RuleEvaluationError(
        f"In rule {shorten(text)!r}: type mismatch: {field} holds {_DESCRIBED[kind]}, "
        f"but is compared with {value!r}{_position(field, text)}")


def _coerce(value: Any, kind: str, field: str, text: str) -> Any:
    """The literal as the column's type, or a clear type-mismatch error.

    Dates and times become exact integer nanoseconds (:func:`time_ns`), which
    :func:`_compare_array` compares without wrapping dates beyond 1677-2262.
    """
    if kind == "datetime":
        if isinstance(value, (date, datetime)):
            return time_ns(value)
        raise _type_error(field, kind, value, text)
    if kind in ("number", "bool"):
        if isinstance(value, (bool, int, float)) and not isinstance(value, (date, datetime)):
            return value
        raise _type_error(field, kind, value, text)
    if isinstance(value, str):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)  # postal_code = 75001 means the text "75001"
    raise _type_error(field, kind, value, text)


def check_condition(node: R.Rule, kind: str, text: str = "") -> None:
    """Raise the type-mismatch error :func:`condition_mask` would raise for ``node`` on a
    field of ``kind`` (see :func:`~segexplore.model.roles.value_kind`); the one type check
    of both engines."""
    name = getattr(node, "field", "")
    if isinstance(node, R.Compare):
        _coerce(node.value, kind, name, text)
    elif isinstance(node, R.InList):
        for value in node.values:
            _coerce(value, kind, name, text)
    elif isinstance(node, R.Between):
        _coerce(node.low, kind, name, text)
        _coerce(node.high, kind, name, text)
    elif isinstance(node, R.DateCompare):
        if kind != "datetime":
            raise _type_error(name, kind, node.value, text)
    elif isinstance(node, R.TextMatch):
        if kind not in ("category", "text"):
            raise _type_error(name, kind, node.value, text)
    elif isinstance(node, R.Has):
        if kind not in ("category", "text"):
            raise _type_error(name, kind, node.values[0], text)
    elif isinstance(node, (R.WithinLast, R.MoreThanAgo)):
        if kind != "datetime":
            raise _type_error(name, kind, str(node.duration), text)
    elif isinstance(node, R.Anniversary):
        if kind != "datetime":
            raise _type_error(name, kind, f"{node.days} days", text)
    elif isinstance(node, R.TopPercent):
        if kind not in ("number", "bool"):
            raise _type_error(name, kind, f"top {node.percent}%", text)
    elif not isinstance(node, R.IsMissing):
        raise RuleEvaluationError(f"cannot evaluate {type(node).__name__} ({node})")


def _values_array(series: pd.Series, kind: str) -> np.ndarray:
    if kind == "datetime":
        return series.to_numpy(dtype="datetime64[ns]")
    return series.to_numpy(dtype=float, na_value=np.nan)


class Column:
    """One field prepared for repeated evaluation: codes, categories, numpy values.

    The evaluator keeps one per contact field, so a dashboard that re-evaluates a rule
    after every click pays the pandas-to-numpy conversions once.
    """

    def __init__(self, series: pd.Series) -> None:
        self.series = series
        self.kind = value_kind(series.dtype)

    @cached_property
    def codes(self) -> np.ndarray:
        return self.series.cat.codes.to_numpy()

    @cached_property
    def categories(self) -> pd.Series:
        return pd.Series(self.series.cat.categories.astype("object"))

    @cached_property
    def code_of(self) -> dict[Any, int]:
        return {value: code for code, value in enumerate(self.categories)}

    @cached_property
    def values(self) -> np.ndarray:
        return _values_array(self.series, self.kind)

    @cached_property
    def missing(self) -> np.ndarray:
        return self.series.isna().to_numpy()


def _codes_in(codes: np.ndarray, hits: np.ndarray, n_categories: int) -> np.ndarray:
    """Membership of each code in ``hits`` (code -1, missing, is never a member)."""
    # Comparing small integer codes is ~10x faster than a table look-up (which widens
    # every code to an index): use it when few categories match, or few do not.
    if len(hits) == 1:
        return codes == hits[0]
    if len(hits) <= _FEW:
        result = codes == hits[0]
        for code in hits[1:]:
            result |= codes == code
        return result
    misses = np.setdiff1d(np.arange(n_categories), hits)
    if len(misses) <= _FEW:
        result = codes >= 0
        for code in misses:
            result &= codes != code
        return result
    lookup = np.zeros(n_categories + 1, dtype=bool)
    lookup[hits] = True  # the extra last slot stays False for code -1
    return lookup[codes]


def _on_categories(column: Column, test: Callable[[pd.Series], Any]) -> np.ndarray:
    """Evaluate ``test`` on the categories, then map it to every contact by code."""
    on_categories = np.asarray(test(column.categories), dtype=bool)
    hits = np.flatnonzero(on_categories)
    if len(hits) == 0:
        return np.zeros(len(column.codes), dtype=bool)
    return _codes_in(column.codes, hits, len(on_categories))


def _on_text(column: Column, test: Callable[[pd.Series], Any]) -> np.ndarray:
    if column.kind == "category":
        return _on_categories(column, test)
    series = column.series
    present = ~column.missing
    result = test(series.astype("object").where(present, ""))  # no NaN inside comparisons
    if isinstance(result, pd.Series):
        return result.fillna(False).to_numpy(dtype=bool) & present
    return np.asarray(result, dtype=bool) & present


def _codes_equal(column: Column, values: list[Any]) -> np.ndarray:
    """Fast path: a categorical equal to one of a few literal values."""
    hits = np.array(sorted({column.code_of[v] for v in values if v in column.code_of}),
                    dtype=np.int64)
    if len(hits) == 0:
        return np.zeros(len(column.codes), dtype=bool)
    return _codes_in(column.codes, hits, len(column.categories))


def condition_mask(node: R.Rule, column: Column | pd.Series, as_of: pd.Timestamp,
                   text: str = "") -> np.ndarray:
    """Evaluate one attribute condition on one field (a contact field or event property)."""
    if isinstance(column, pd.Series):
        column = Column(column)
    kind = column.kind
    name = getattr(node, "field", "")
    check_condition(node, kind, text)  # below, every literal fits the field's type
    if isinstance(node, R.IsMissing):
        return ~column.missing if node.negated else column.missing
    if isinstance(node, R.Compare):
        value = _coerce(node.value, kind, name, text)
        if kind == "category" and node.op in ("=", "!="):
            equal = _codes_equal(column, [value])
            return equal if node.op == "=" else (~equal & ~column.missing)
        if kind in ("category", "text"):
            op = _OPS[node.op]
            return _on_text(column, lambda s: op(s.to_numpy(), value))
        return _compare_array(column.values, node.op, value)
    if isinstance(node, R.DateCompare):
        value = _coerce(node.value, kind, name, text)
        if node.op == "before":
            return _compare_array(column.values, "<", value)
        if isinstance(node.value, datetime):
            return _compare_array(column.values, ">", value)
        # "after" a date means from the next day on, whatever the time of day.
        return _compare_array(column.values, ">=", value + _NS_PER["days"])
    if isinstance(node, R.InList):
        values = [_coerce(v, kind, name, text) for v in node.values]
        if kind == "category":
            found = _codes_equal(column, values)
        elif kind == "text":
            wanted = set(values)
            found = _on_text(column, lambda s: s.isin(wanted).to_numpy())
        else:
            array = column.values
            if kind == "datetime":  # a time pandas cannot hold equals no value
                values = [np.datetime64(v, "ns") for v in values if in_time_range(v)]
            found = np.isin(array, np.array(values, dtype=array.dtype)) & _present(array)
        return (~found & ~column.missing) if node.negated else found
    if isinstance(node, R.Between):
        low = _coerce(node.low, kind, name, text)
        high = _coerce(node.high, kind, name, text)
        if kind in ("category", "text"):
            return _on_text(column, lambda s: ((s >= low) & (s <= high)).to_numpy())
        array = column.values
        if kind == "datetime" and not isinstance(node.high, datetime):
            # A date covers its whole day: before the next midnight.
            return _compare_array(array, ">=", low) & _compare_array(
                array, "<", high + _NS_PER["days"])
        return _compare_array(array, ">=", low) & _compare_array(array, "<=", high)
    if isinstance(node, R.TextMatch):
        needle = node.value.lower()
        method = {"contains": "contains", "starts with": "startswith",
                  "ends with": "endswith"}[node.op]

        def match(s: pd.Series) -> np.ndarray:
            lowered = s.astype("string").str.lower()
            if method == "contains":
                return lowered.str.contains(needle, regex=False).fillna(False).to_numpy(bool)
            return getattr(lowered.str, method)(needle).fillna(False).to_numpy(bool)
        return _on_text(column, match)
    if isinstance(node, R.Has):
        wanted = {v.lower() for v in node.values}

        def has(s: pd.Series) -> np.ndarray:
            tags = [set(x.lower().split(MULTI_VALUE_SEPARATOR)) if isinstance(x, str) and x
                    else set() for x in s]
            if node.mode == "any":
                return np.array([bool(t & wanted) for t in tags], dtype=bool)
            if node.mode == "all":
                return np.array([wanted <= t for t in tags], dtype=bool)
            return np.array([not (t & wanted) for t in tags], dtype=bool)
        return _on_text(column, has)
    if isinstance(node, (R.WithinLast, R.MoreThanAgo)):
        bound = shift_back_ns(as_of, node.duration)
        if isinstance(node, R.WithinLast):
            return _compare_array(column.values, ">", bound) & _compare_array(
                column.values, "<=", as_of.value)
        return _compare_array(column.values, "<", bound)
    if isinstance(node, R.Anniversary):
        when = pd.DatetimeIndex(column.values)
        codes = (when.month * 100 + when.day).to_numpy(dtype=float, na_value=np.nan)
        return np.isin(codes, anniversary_codes(as_of, node.days))
    if isinstance(node, R.TopPercent):
        threshold = top_percent_threshold(column.values, node.percent)
        if threshold is None:
            return np.zeros(len(column.values), dtype=bool)
        return _compare_array(column.values, ">=", threshold)
    raise RuleEvaluationError(f"cannot evaluate {type(node).__name__} ({node})")


def _present(array: np.ndarray) -> np.ndarray:
    return ~np.isnat(array) if array.dtype.kind == "M" else ~np.isnan(array)


#: For a time outside pandas' range, the operators that every present value satisfies.
_ALWAYS_IF_LATER = frozenset({"<", "<=", "!="})  # the literal is after 2262
_ALWAYS_IF_EARLIER = frozenset({">", ">=", "!="})  # the literal is before 1677


def _compare_array(array: np.ndarray, op: str, value: Any) -> np.ndarray:
    """``array op value``, False where the array is missing.

    On a datetime array, ``value`` is exact integer nanoseconds (:func:`time_ns`); one
    beyond the range pandas holds compares as it would on a calendar: every present date
    is before 2300-01-01 and after 1500-01-01, and equal to neither.
    """
    present = _present(array)
    if array.dtype.kind == "M" and isinstance(value, int):
        if value > NS_MAX:
            return present.copy() if op in _ALWAYS_IF_LATER else np.zeros(len(array), bool)
        if value < NS_MIN:
            return present.copy() if op in _ALWAYS_IF_EARLIER else np.zeros(len(array), bool)
        value = np.datetime64(value, "ns")
    with np.errstate(invalid="ignore"):
        result = _OPS[op](array, value)
    return np.asarray(result, dtype=bool) & present
