"""Reference evaluation of rules with numpy/pandas: a rule -> a boolean mask over contacts.

Semantics shared with the SQL compiler (:mod:`segexplore.core.sql`), tested to agree:

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

import math
import re
from collections.abc import Callable, Mapping
from datetime import date, datetime
from functools import cached_property
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ..errors import RuleEvaluationError, closest_name
from . import rules as R
from .columns import EVENT_TYPES, MULTI_VALUE_SEPARATOR
from .schema import value_kind

if TYPE_CHECKING:
    from .base import ContactBase

__all__ = ["Evaluator", "duration_offset", "window_bounds", "anniversary_codes",
           "top_percent_threshold"]

_FEW = 4  # up to this many matching categories, compare codes instead of a look-up


def duration_offset(duration: R.Duration) -> pd.DateOffset | pd.Timedelta:
    """The calendar length of a duration (months are calendar months)."""
    if duration.unit == "months":
        return pd.DateOffset(months=duration.amount)
    return pd.Timedelta(**{duration.unit: duration.amount})


def window_bounds(window: R.Window | None, as_of: pd.Timestamp) -> tuple[pd.Timestamp | None,
                                                                          pd.Timestamp]:
    """``(start, end)`` of a window, keeping events with ``start < t <= end``, capped at as_of."""
    if window is None:
        return None, as_of
    if isinstance(window, R.LastWindow):
        return as_of - duration_offset(window.duration), as_of
    start = pd.Timestamp(window.start)
    end = pd.Timestamp(window.end)
    if not isinstance(window.end, datetime):
        end = end + pd.Timedelta(days=1) - pd.Timedelta(1, "ns")  # the whole end day
    return start - pd.Timedelta(1, "ns"), min(end, as_of)


def anniversary_codes(as_of: pd.Timestamp, days: int) -> list[int]:
    """``month * 100 + day`` of each day from as_of to as_of + days (Feb 29 -> Feb 28)."""
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

    # --- entry point --------------------------------------------------------------------
    def mask(self, rule: R.Rule | str, *, text: str | None = None) -> pd.Series:
        """Boolean Series over the contacts (same index), True for members."""
        if isinstance(rule, str):
            text, rule = rule, R.parse(rule)
        self._text = text if text is not None else str(rule)
        self._segment_masks = {}  # saved segments may have been redefined since
        values = self._eval(rule, ())
        return pd.Series(values, index=self.base.contacts.index, name="member")

    def array(self, rule: R.Rule, *, text: str | None = None) -> np.ndarray:
        self._text = text if text is not None else str(rule)
        self._segment_masks = {}
        return self._eval(rule, ())

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
        from .features import FEATURES

        if name in FEATURES:
            return self.base.features[name]
        known = list(contacts.columns) + list(FEATURES)
        raise self._unknown("field", name, known)

    def _unknown(self, what: str, name: str, known) -> RuleEvaluationError:
        guess = closest_name(name, known)
        hint = f"; did you mean {guess!r}?" if guess else ""
        where = self._position(name)
        return RuleEvaluationError(
            f"In rule {self._text!r}: unknown {what} {name!r}{where}{hint}")

    def _position(self, name: str) -> str:
        match = re.search(rf"(?<![\w`]){re.escape(name)}(?![\w`])|`{re.escape(name)}`", self._text)
        return f" at position {match.start()}" if match else ""

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

    def _segment(self, name: str, stack: tuple[str, ...]) -> np.ndarray:
        if name in stack:
            cycle = " -> ".join((*stack, name))
            raise RuleEvaluationError(f"segments refer to each other in a cycle: {cycle}")
        if name in self._segment_masks:
            return self._segment_masks[name]
        if name not in self.segments:
            raise self._unknown("segment", name, list(self.segments))
        saved = self.segments[name]
        rule = saved if isinstance(saved, R.Rule) else saved.effective_rule
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

    def _where_mask(self, spec_type: str, where: R.Rule | None) -> np.ndarray | None:
        if where is None:
            return None
        activity = self._activity()
        if activity.n_events(spec_type) == 0:
            return np.zeros(0, dtype=bool)
        names = activity.property_names(spec_type)

        def prop(name: str) -> pd.Series:
            if name not in names:
                raise self._unknown(f"property of {spec_type} events", name, names)
            return activity.property(spec_type, name)

        return _logical(where, lambda node: condition_mask(node, prop(node.field), self.as_of,
                                                          self._text))

    def _event_condition(self, rule: R.EventCondition) -> np.ndarray:
        activity = self._activity()
        if isinstance(rule, R.EventAggregate):
            key = ("aggregate", rule.func, rule.event_type, rule.property, rule.where,
                   rule.window, self.as_of)
            values = self._aggregates.get(key)
            if values is None:
                event_type = self._event_type(rule.event_type)
                start, end = window_bounds(rule.window, self.as_of)
                where = self._where_mask(event_type, rule.where)
                if rule.func == "count":
                    values = activity.count(event_type, start=start, end=end, where=where)
                else:
                    if activity.n_events(event_type) and \
                            rule.property not in activity.property_names(event_type):
                        raise self._unknown(f"property of {event_type} events", rule.property,
                                            activity.property_names(event_type))
                    func = "mean" if rule.func == "avg" else rule.func
                    values = activity.aggregate(event_type, rule.property, func, start=start,
                                                end=end, where=where)
                self._aggregates[key] = values
            return _compare_array(values, rule.op, rule.value)
        if isinstance(rule, R.NotFollowedBy):
            key = ("nfb", rule, self.as_of)
            values = self._aggregates.get(key)
            if values is None:
                if rule.within.unit == "months":
                    raise RuleEvaluationError(
                        f"In rule {self._text!r}: `not followed by ... within` takes hours, "
                        "days or weeks, not months")
                first = self._event_type(rule.first.event_type)
                then = self._event_type(rule.then.event_type)
                start, end = window_bounds(rule.window, self.as_of)
                values = activity.not_followed_by(
                    first, then, duration_offset(rule.within), start=start, end=end,
                    first_where=self._where_mask(first, rule.first.where),
                    then_where=self._where_mask(then, rule.then.where), as_of=self.as_of)
                self._aggregates[key] = values
            return values
        if isinstance(rule, R.LastPerformed):
            key = ("last", rule.event, self.as_of)
            last = self._aggregates.get(key)
            if last is None:
                event_type = self._event_type(rule.event.event_type)
                last = activity.last(event_type, end=self.as_of,
                                     where=self._where_mask(event_type, rule.event.where))
                self._aggregates[key] = last
            bound = np.datetime64(self.as_of - duration_offset(rule.duration), "ns")
            if rule.relation == "more than ago":
                return ~np.isnat(last) & (last < bound)
            return ~np.isnat(last) & (last > bound)
        raise RuleEvaluationError(f"cannot evaluate {type(rule).__name__} ({rule})")


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


def _type_error(field: str, kind: str, value: Any, text: str) -> RuleEvaluationError:
    described = {"datetime": "a date", "number": "a number", "bool": "true or false",
                 "text": "text", "category": "text"}[kind]
    return RuleEvaluationError(
        f"In rule {text!r}: type mismatch: {field} holds {described}, "
        f"but is compared with {value!r}")


def _coerce(value: Any, kind: str, field: str, text: str) -> Any:
    """The literal as the column's type, or a clear type-mismatch error."""
    if kind == "datetime":
        if isinstance(value, (date, datetime)):
            return np.datetime64(pd.Timestamp(value), "ns")
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
        if kind != "datetime":
            raise _type_error(name, kind, node.value, text)
        value = _coerce(node.value, kind, name, text)
        if node.op == "before":
            return _compare_array(column.values, "<", value)
        if isinstance(node.value, datetime):
            return _compare_array(column.values, ">", value)
        # "after" a date means from the next day on, whatever the time of day.
        return _compare_array(column.values, ">=", value + np.timedelta64(1, "D"))
    if isinstance(node, R.InList):
        values = [_coerce(v, kind, name, text) for v in node.values]
        if kind == "category":
            found = _codes_equal(column, values)
        elif kind == "text":
            wanted = set(values)
            found = _on_text(column, lambda s: s.isin(wanted).to_numpy())
        else:
            array = column.values
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
                array, "<", high + np.timedelta64(1, "D"))
        return _compare_array(array, ">=", low) & _compare_array(array, "<=", high)
    if isinstance(node, R.TextMatch):
        if kind not in ("category", "text"):
            raise _type_error(name, kind, node.value, text)
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
        if kind not in ("category", "text"):
            raise _type_error(name, kind, node.values[0], text)
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
        if kind != "datetime":
            raise _type_error(name, kind, str(node.duration), text)
        bound = np.datetime64(as_of - duration_offset(node.duration), "ns")
        if isinstance(node, R.WithinLast):
            return _compare_array(column.values, ">", bound) & _compare_array(
                column.values, "<=", np.datetime64(as_of, "ns"))
        return _compare_array(column.values, "<", bound)
    if isinstance(node, R.Anniversary):
        if kind != "datetime":
            raise _type_error(name, kind, f"{node.days} days", text)
        when = pd.DatetimeIndex(column.values)
        codes = (when.month * 100 + when.day).to_numpy(dtype=float, na_value=np.nan)
        return np.isin(codes, anniversary_codes(as_of, node.days))
    if isinstance(node, R.TopPercent):
        if kind not in ("number", "bool"):
            raise _type_error(name, kind, f"top {node.percent}%", text)
        threshold = top_percent_threshold(column.values, node.percent)
        if threshold is None:
            return np.zeros(len(column.values), dtype=bool)
        return _compare_array(column.values, ">=", threshold)
    raise RuleEvaluationError(f"cannot evaluate {type(node).__name__} ({node})")


def _present(array: np.ndarray) -> np.ndarray:
    return ~np.isnat(array) if array.dtype.kind == "M" else ~np.isnan(array)


def _compare_array(array: np.ndarray, op: str, value: Any) -> np.ndarray:
    with np.errstate(invalid="ignore"):
        result = _OPS[op](array, value)
    return np.asarray(result, dtype=bool) & _present(array)
