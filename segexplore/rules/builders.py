"""Python builders of segment rules, ibis style: ``field("city") == "Lyon"``.

This module owns :func:`field` (a :class:`Field` whose comparisons and methods return
condition nodes), :func:`segment`, and :func:`count` / :func:`aggregate` (an
:class:`EventMeasure` that becomes an :class:`~segexplore.rules.events.EventAggregate` once
compared with a number). The nodes themselves live in :mod:`segexplore.rules.nodes` and
:mod:`segexplore.rules.events`.

Examples
--------
>>> rule = (field("city") == "Lyon") & (count("purchase", last="30 days") >= 3)
>>> rule
Rule('city = "Lyon" and count(purchase, last 30 days) >= 3')
>>> field("age").between(18, 30)
Rule('age between 18 and 30')
"""

from __future__ import annotations

from datetime import date
from typing import Any

from segexplore.errors import RuleBuildError
from segexplore.rules.events import DateRangeWindow, EventAggregate, LastWindow, Window
from segexplore.rules.nodes import (
    Anniversary,
    Between,
    Compare,
    DateCompare,
    Duration,
    Has,
    InList,
    IsMissing,
    ListRef,
    MoreThanAgo,
    Rule,
    SegmentRef,
    TextMatch,
    TopPercent,
    WithinLast,
    _duration,
    _name,
)
from segexplore.rules.parser import parse
from segexplore.rules.text import Scalar, parse_iso_temporal

__all__ = ["Field", "EventMeasure", "field", "segment", "in_list", "count", "aggregate"]


# -- builders (ibis style) -----------------------------------------------------------------

class Field:
    """A contact field in Python-built rules: ``field("city") == "Lyon"`` is a :class:`Compare`."""

    __slots__ = ("name",)
    __hash__ = None  # type: ignore[assignment]  # == builds a rule, so not hashable

    def __init__(self, name: str) -> None:
        object.__setattr__(self, "name", _name(name))

    def __setattr__(self, key: str, value: object) -> None:
        raise AttributeError("Field is immutable")

    def __repr__(self) -> str:
        return f"field({self.name!r})"

    def __eq__(self, value: object) -> Compare:  # type: ignore[override]
        return Compare(self.name, "=", value)

    def __ne__(self, value: object) -> Compare:  # type: ignore[override]
        return Compare(self.name, "!=", value)

    def __lt__(self, value: Scalar) -> Compare:
        return Compare(self.name, "<", value)

    def __le__(self, value: Scalar) -> Compare:
        return Compare(self.name, "<=", value)

    def __gt__(self, value: Scalar) -> Compare:
        return Compare(self.name, ">", value)

    def __ge__(self, value: Scalar) -> Compare:
        return Compare(self.name, ">=", value)

    def isin(self, *values: Scalar) -> InList:
        return InList(self.name, _varargs(values))

    def notin(self, *values: Scalar) -> InList:
        return InList(self.name, _varargs(values), negated=True)

    def between(self, low: Any, high: Any) -> Between:
        return Between(self.name, _maybe_date(low), _maybe_date(high))

    def contains(self, text: str) -> TextMatch:
        return TextMatch(self.name, "contains", text)

    def startswith(self, text: str) -> TextMatch:
        return TextMatch(self.name, "starts with", text)

    def endswith(self, text: str) -> TextMatch:
        return TextMatch(self.name, "ends with", text)

    def is_missing(self) -> IsMissing:
        return IsMissing(self.name)

    def is_not_missing(self) -> IsMissing:
        return IsMissing(self.name, negated=True)

    def before(self, day: date | str) -> DateCompare:
        return DateCompare(self.name, "before", _maybe_date(day))

    def after(self, day: date | str) -> DateCompare:
        return DateCompare(self.name, "after", _maybe_date(day))

    def within_last(self, duration: Duration | str) -> WithinLast:
        return WithinLast(self.name, _duration(duration))

    def more_than_ago(self, duration: Duration | str) -> MoreThanAgo:
        return MoreThanAgo(self.name, _duration(duration))

    def anniversary_within(self, days: int) -> Anniversary:
        return Anniversary(self.name, days)

    def has(self, value: str) -> Has:
        return Has(self.name, "any", (value,))

    def has_any(self, *values: str) -> Has:
        return Has(self.name, "any", _varargs(values))

    def has_all(self, *values: str) -> Has:
        return Has(self.name, "all", _varargs(values))

    def has_none(self, *values: str) -> Has:
        return Has(self.name, "none", _varargs(values))

    def in_top(self, percent: float) -> TopPercent:
        return TopPercent(self.name, percent)


def _varargs(values: tuple[Any, ...]) -> tuple[Any, ...]:
    if len(values) == 1 and isinstance(values[0], (list, tuple, set, frozenset)):
        return tuple(values[0])
    return values


def _maybe_date(value: Any) -> Any:
    return parse_iso_temporal(value) if isinstance(value, str) else value


class EventMeasure:
    """``count("purchase", last="30 days")`` before its comparison; ``>= 3`` makes the rule."""

    __slots__ = ("_args",)
    __hash__ = None  # type: ignore[assignment]

    def __init__(self, func: str, event_type: str, prop: str | None, where: Any,
                 window: Window | None) -> None:
        where = parse(where) if isinstance(where, str) else where
        object.__setattr__(self, "_args", (func, event_type, prop, where, window))
        self._compare("=", 0)  # validate now rather than at the comparison

    def _compare(self, op: str, value: Any) -> EventAggregate:
        return EventAggregate(*self._args, op=op, value=value)  # type: ignore[arg-type]

    def __repr__(self) -> str:
        text = str(self._compare("=", 0)).removesuffix(" = 0")
        return f"<{text}: compare it to a number, e.g. >= 1, to make a rule>"

    def __eq__(self, value: object) -> EventAggregate:  # type: ignore[override]
        return self._compare("=", value)

    def __ne__(self, value: object) -> EventAggregate:  # type: ignore[override]
        return self._compare("!=", value)

    def __lt__(self, value: float) -> EventAggregate:
        return self._compare("<", value)

    def __le__(self, value: float) -> EventAggregate:
        return self._compare("<=", value)

    def __gt__(self, value: float) -> EventAggregate:
        return self._compare(">", value)

    def __ge__(self, value: float) -> EventAggregate:
        return self._compare(">=", value)


def field(name: str) -> Field:
    """Start a condition on a contact field: ``field("age").between(18, 30)``."""
    return Field(name)


def segment(name: str) -> SegmentRef:
    """Refer to a saved segment: ``segment("Clients groupe A")``."""
    return SegmentRef(name)


def in_list(name: str) -> ListRef:
    """Refer to a list (a static segment): ``in_list("VIP salon")``."""
    return ListRef(name)


def _builder_window(last: Duration | str | None,
                    between: tuple[Any, Any] | None) -> Window | None:
    if last is not None and between is not None:
        raise RuleBuildError("give either last= or between=, not both")
    if between is not None:
        return DateRangeWindow(*(_maybe_date(d) for d in between))
    return None if last is None else LastWindow(_duration(last))


def count(event_type: str, *, where: Rule | str | None = None,
          last: Duration | str | None = None,
          between: tuple[Any, Any] | None = None) -> EventMeasure:
    """Number of events, to compare with a number.

    ``count("purchase", where=field("brand") == "Nike", last="30 days") >= 2``; ``between``
    takes two dates (or ISO strings) instead of ``last``; neither means all time.
    """
    return EventMeasure("count", event_type, None, where, _builder_window(last, between))


def aggregate(func: str, event_property: str, *, where: Rule | str | None = None,
              last: Duration | str | None = None,
              between: tuple[Any, Any] | None = None) -> EventMeasure:
    """Sum, avg, min or max of an event property, to compare with a number.

    ``aggregate("sum", "purchase.items", last="180 days") >= 6``.
    """
    event_type, dot, prop = event_property.partition(".")
    if not dot:
        raise RuleBuildError(f"expected 'event_type.property', got {event_property!r}")
    return EventMeasure(func, event_type, prop, where, _builder_window(last, between))
