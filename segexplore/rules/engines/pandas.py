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

import math
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from functools import cached_property
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from segexplore.errors import RuleEvaluationError
from segexplore.model import hooks
from segexplore.model.columns import MULTI_VALUE_SEPARATOR
from segexplore.model.roles import value_kind
from segexplore.rules import nodes as R
from segexplore.rules.check import BaseSchema, check_condition, check_rule, coerce, unknown_name
from segexplore.rules.events import EventAggregate, LastPerformed, NotFollowedBy
from segexplore.rules.parser import parse
from segexplore.rules.walk import RuleWalk, depth_guard, field_table, known_fields
from segexplore.rules.windows import (
    NS_MAX,
    NS_MIN,
    NS_PER,
    anniversary_codes,
    follow_up,
    in_time_range,
    shift_back_ns,
    window_bounds,
)

if TYPE_CHECKING:
    from segexplore.model.base import ContactBase

__all__ = ["Evaluator", "Column", "condition_mask", "top_percent_threshold"]

_FEW = 4  # up to this many matching categories, compare codes instead of a look-up

def top_percent_threshold(values: np.ndarray, percent: float) -> float | None:
    """The smallest value in the top ``percent`` of non-missing values (ties included)."""
    finite = values[~np.isnan(values)]
    if len(finite) == 0:
        return None
    k = max(1, math.ceil(len(finite) * percent / 100))
    return float(np.partition(finite, len(finite) - k)[len(finite) - k])


class _Masks(RuleWalk[np.ndarray]):
    """And/or/not as NumPy ``& | ~`` over boolean arrays, children visited one at a time."""

    def all_of(self, children: Sequence[R.Rule], stack: tuple[str, ...]) -> np.ndarray:
        result = self.visit(children[0], stack)
        for child in children[1:]:
            result = result & self.visit(child, stack)
        return result

    def any_of(self, children: Sequence[R.Rule], stack: tuple[str, ...]) -> np.ndarray:
        result = self.visit(children[0], stack)
        for child in children[1:]:
            result = result | self.visit(child, stack)
        return result

    def negate(self, child: R.Rule, stack: tuple[str, ...]) -> np.ndarray:
        return ~self.visit(child, stack)


class _WhereMask(_Masks):
    """An event where-filter over the events of one type (a condition per event property)."""

    def __init__(self, leaf: Callable[[R.Condition], np.ndarray]) -> None:
        super().__init__()
        self.leaf = leaf

    def condition(self, rule: R.Condition) -> np.ndarray:
        return self.leaf(rule)


@hooks.implements("evaluator")
class Evaluator(_Masks):
    """Evaluates rules on one contact base as of one date, caching event aggregates.

    The walk over the rule is :class:`~segexplore.rules.walk.RuleWalk`'s (and/or/not as
    NumPy ``& | ~``); this class says what a condition, an event condition and a saved
    segment give. A rule is first checked by :func:`~segexplore.rules.check.check_rule`
    (the checker every engine runs), so evaluating it needs no checks of its own.

    Parameters
    ----------
    base : ContactBase
    segments : mapping, optional
        Saved segments (name -> Segment or Rule) that ``segment("name")`` refers to.
    """

    def __init__(self, base: ContactBase, segments: Mapping[str, Any] | None = None) -> None:
        super().__init__(segments if segments is not None else base.segments)
        self.base = base
        self.as_of = base.as_of
        #: What the rule is checked against (the base's columns, features, events).
        self.schema = BaseSchema(base, self.segments, self.as_of)
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
        with depth_guard():
            self._text = text if text is not None else str(rule)
            self._segment_masks = {}  # saved segments may have been redefined since
            check_rule(rule, self.schema, text=self._text)
            return self.visit(rule)

    def check(self, rule: R.Rule | str, *, text: str | None = None) -> None:
        """Raise the :class:`RuleEvaluationError` evaluating ``rule`` would raise, if any.

        Unknown fields, event types, properties and segments, type mismatches, segment
        cycles, without computing anything: :func:`~segexplore.rules.check.check_rule` on
        this base's schema, which :meth:`mask` runs first and the SQL compiler runs too.
        """
        check_rule(rule, self.schema, text=text)

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
        """The values of the field ``name``: a contact column or a behaviour feature."""
        contacts = self.base.contacts
        table = field_table(name, contacts.columns)
        if table == "contacts":
            return contacts[name]
        if table == "features":
            return self.base.features[name]
        raise self.unknown("field", name, known_fields(contacts.columns))

    def unknown(self, what: str, name: str, known: Sequence[str]) -> RuleEvaluationError:
        return unknown_name(what, name, known, self._text)

    # --- the walk: what each node gives ---------------------------------------------------
    def condition(self, rule: R.Condition) -> np.ndarray:
        return condition_mask(rule, self._column_view(rule.field), self.as_of, self._text)

    def event(self, rule: R.EventCondition) -> np.ndarray:
        return self._event_condition(rule)

    def saved(self, name: str, stack: tuple[str, ...]) -> np.ndarray:
        if name in self._segment_masks and name not in stack:
            return self._segment_masks[name]
        values = super().saved(name, stack)
        self._segment_masks[name] = values
        return values

    # --- events -------------------------------------------------------------------------
    def _activity(self):
        return self.base.activity

    def _where_mask(self, event_type: str, where: R.Rule | None) -> np.ndarray | None:
        if where is None:
            return None
        activity = self._activity()
        if activity.n_events(event_type) == 0:
            return np.zeros(0, dtype=bool)
        return _WhereMask(lambda node: condition_mask(
            node, activity.property(event_type, node.field), self.as_of, self._text)).visit(where)

    def _event_condition(self, rule: R.EventCondition) -> np.ndarray:
        activity = self._activity()
        if isinstance(rule, EventAggregate):
            key = ("aggregate", rule.func, rule.event_type, rule.property, rule.where,
                   rule.window, self.as_of)
            values = self._aggregates.get(key)
            if values is None:
                event_type = rule.event_type
                where = self._where_mask(event_type, rule.where)
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
            values = self._aggregates.get(key)
            if values is None:
                first, then = rule.first.event_type, rule.then.event_type
                first_where = self._where_mask(first, rule.first.where)
                then_where = self._where_mask(then, rule.then.where)
                within = follow_up(rule.within, self.as_of, self._text)
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
            last = self._aggregates.get(key)
            if last is None:
                event_type = rule.event.event_type
                where = self._where_mask(event_type, rule.event.where)
                last = activity.last(event_type, end=self.as_of, where=where)
                self._aggregates[key] = last
            bound = shift_back_ns(self.as_of, rule.duration)
            if rule.relation == "more than ago":
                return _compare_array(last, "<", bound)
            return _compare_array(last, ">", bound)
        raise RuleEvaluationError(f"cannot evaluate {type(rule).__name__} ({rule})")


# --- leaf conditions on one Series -------------------------------------------------------

_OPS: dict[str, Callable[[Any, Any], Any]] = {
    "=": np.equal, "!=": np.not_equal, "<": np.less, "<=": np.less_equal,
    ">": np.greater, ">=": np.greater_equal,
}


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
        value = coerce(node.value, kind, name, text)
        if kind == "category" and node.op in ("=", "!="):
            equal = _codes_equal(column, [value])
            return equal if node.op == "=" else (~equal & ~column.missing)
        if kind in ("category", "text"):
            op = _OPS[node.op]
            return _on_text(column, lambda s: op(s.to_numpy(), value))
        return _compare_array(column.values, node.op, value)
    if isinstance(node, R.DateCompare):
        value = coerce(node.value, kind, name, text)
        if node.op == "before":
            return _compare_array(column.values, "<", value)
        if isinstance(node.value, datetime):
            return _compare_array(column.values, ">", value)
        # "after" a date means from the next day on, whatever the time of day.
        return _compare_array(column.values, ">=", value + NS_PER["days"])
    if isinstance(node, R.InList):
        values = [coerce(v, kind, name, text) for v in node.values]
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
        low = coerce(node.low, kind, name, text)
        high = coerce(node.high, kind, name, text)
        if kind in ("category", "text"):
            return _on_text(column, lambda s: ((s >= low) & (s <= high)).to_numpy())
        array = column.values
        if kind == "datetime" and not isinstance(node.high, datetime):
            # A date covers its whole day: before the next midnight.
            return _compare_array(array, ">=", low) & _compare_array(
                array, "<", high + NS_PER["days"])
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
