"""Event conditions: rules on what a contact did (aggregates of events, sequences, recency).

:class:`EventAggregate` (``count(purchase, last 30 days) >= 2``), :class:`NotFollowedBy`
(``performed(add_to_cart not followed by purchase within 24 hours)``) and
:class:`LastPerformed` (``last(purchase) more than 90 days ago``), with their
:class:`EventSpec` (an event type and its where-filter) and time :class:`Window`.
"""

from __future__ import annotations

import builtins
from datetime import date, datetime
from typing import Any, ClassVar, Literal

from segexplore.errors import ParameterTypeError, RuleBuildError
from segexplore.rules.nodes import (
    And,
    Between,
    Compare,
    DateCompare,
    Duration,
    EventCondition,
    Has,
    InList,
    IsMissing,
    MoreThanAgo,
    Not,
    Or,
    Rule,
    TextMatch,
    WithinLast,
    _choice,
    _duration,
    _encode,
    _name,
    _node,
    _number,
    _set,
    _temporal,
)
from segexplore.rules.text import (
    AGGREGATE_FUNCS,
    COMPARE_OPS,
    RELATIONS,
    CompareOp,
    format_literal,
    format_name,
)

__all__ = ["Window", "LastWindow", "DateRangeWindow", "EventSpec", "EventAggregate",
           "NotFollowedBy", "LastPerformed"]


class Window:
    """Time window of an event condition: :class:`LastWindow` or :class:`DateRangeWindow`.

    ``None`` in its place means all time.
    """

    __slots__ = ()


@_node
class LastWindow(Window):
    """Events in the ``duration`` up to the base's as_of date: ``last 30 days``."""

    duration: Duration

    def __post_init__(self) -> None:
        _set(self, "duration", _duration(self.duration))

    def __str__(self) -> str:
        return f"last {self.duration}"

    def __repr__(self) -> str:
        return f"LastWindow({self.duration!r})"

    def to_dict(self) -> dict[str, Any]:
        return {"kind": "last", "duration": self.duration.to_dict()}


@_node
class DateRangeWindow(Window):
    """Events from ``start`` to ``end``, both inclusive (a date covers its whole day)."""

    start: date | datetime
    end: date | datetime

    def __post_init__(self) -> None:
        _set(self, "start", _temporal(self.start, "window start"))
        _set(self, "end", _temporal(self.end, "window end"))

    def __str__(self) -> str:
        return f"between {format_literal(self.start)} and {format_literal(self.end)}"

    def __repr__(self) -> str:
        return f"DateRangeWindow({self.start!r}, {self.end!r})"

    def to_dict(self) -> dict[str, Any]:
        return {"kind": "date_range", "start": _encode(self.start), "end": _encode(self.end)}


def _window(value: Any) -> Window | None:
    if value is None or isinstance(value, Window):
        return value
    if isinstance(value, (Duration, str, tuple)):
        return LastWindow(_duration(value))
    raise ParameterTypeError(f"expected a LastWindow, DateRangeWindow or None, not {value!r}")


def _where(value: Any) -> Rule | None:
    """Check a where-filter: attribute conditions and and/or/not only."""
    if value is None:
        return None
    if not isinstance(value, Rule):
        raise ParameterTypeError(f"a where-filter must be a rule, not {value!r}")
    for node in value.walk():
        if not isinstance(node, _WHERE_KINDS):
            raise RuleBuildError(f"a where-filter may not contain {type(node).__name__} "
                                 f"({node}); only conditions on event properties")
    return value


@_node
class EventSpec:
    """An event type with an optional filter on its properties: ``click where brand = "Nike"``."""

    event_type: str
    where: Rule | None = None

    def __post_init__(self) -> None:
        _set(self, "event_type", _name(self.event_type, "event type"))
        _set(self, "where", _where(self.where))

    def __str__(self) -> str:
        where = f" where {self.where}" if self.where is not None else ""
        return f"{format_name(self.event_type)}{where}"

    def __repr__(self) -> str:
        return f"EventSpec({str(self)!r})"

    def to_dict(self) -> dict[str, Any]:
        return {"event_type": self.event_type, "where": _encode(self.where)}


def _event_spec(value: Any) -> EventSpec:
    if isinstance(value, EventSpec):
        return value
    if isinstance(value, str):
        return EventSpec(value)
    raise ParameterTypeError(f"expected an EventSpec or an event type, not {value!r}")


@_node
class EventAggregate(EventCondition):
    """``func(event_type[.property] [where ...][, window]) op value``.

    ``count`` counts the matching events (a contact without any counts 0) and has no
    ``property``; ``sum``, ``avg``, ``min`` and ``max`` aggregate the numeric ``property``.
    ``performed(...)`` sugar is stored as ``count(...) >= 1`` (or ``<=``/``=`` for
    ``at most``/``exactly N times``).
    """

    func: Literal["count", "sum", "avg", "min", "max"]
    event_type: str
    property: str | None = None
    where: Rule | None = None
    window: Window | None = None
    op: CompareOp = ">="
    value: int | float = 1
    kind: ClassVar[str] = "event_aggregate"

    def __post_init__(self) -> None:
        _set(self, "func", _choice(self.func, AGGREGATE_FUNCS, "aggregate function"))
        _set(self, "event_type", _name(self.event_type, "event type"))
        if self.property is not None:
            _set(self, "property", _name(self.property, "event property"))
        if (self.func == "count") != (self.property is None):
            raise RuleBuildError("count takes no property; sum/avg/min/max need one")
        _set(self, "where", _where(self.where))
        _set(self, "window", _window(self.window))
        _set(self, "op", _choice(self.op, COMPARE_OPS, "comparison operator"))
        _set(self, "value", _number(self.value, "aggregate threshold"))

    @builtins.property  # the field named "property" shadows the builtin in this class body
    def event(self) -> EventSpec:
        """The event type and where-filter, as in the other event conditions."""
        return EventSpec(self.event_type, self.where)

    def _where_rules(self) -> tuple[Rule, ...]:
        return (self.where,) if self.where is not None else ()

    def _text(self) -> str:
        target = format_name(self.event_type)
        if self.property is not None:
            target += "." + format_name(self.property)
        where = f" where {self.where}" if self.where is not None else ""
        window = f", {self.window}" if self.window is not None else ""
        return f"{self.func}({target}{where}{window}) {self.op} {format_literal(self.value)}"


@_node
class NotFollowedBy(EventCondition):
    """``performed(first not followed by then within D[, window])``: the contact has a
    ``first`` event in ``window`` with no ``then`` event in the ``within`` after it."""

    first: EventSpec
    then: EventSpec
    within: Duration
    window: Window | None = None
    kind: ClassVar[str] = "not_followed_by"
    bare_after_not: ClassVar[bool] = True

    def __post_init__(self) -> None:
        _set(self, "first", _event_spec(self.first))
        _set(self, "then", _event_spec(self.then))
        _set(self, "within", _duration(self.within))
        _set(self, "window", _window(self.window))

    def _where_rules(self) -> tuple[Rule, ...]:
        return tuple(s.where for s in (self.first, self.then) if s.where is not None)

    def _text(self) -> str:
        window = f", {self.window}" if self.window is not None else ""
        return f"performed({self.first} not followed by {self.then} within {self.within}{window})"


@_node
class LastPerformed(EventCondition):
    """Recency of the latest matching event: ``last(purchase) more than 30 days ago`` or
    ``last(click where brand = "Nike") within last 7 days``. A contact without any such
    event matches neither (like any condition on a missing value); write
    ``last(purchase) more than 30 days ago or count(purchase) = 0`` to include them."""

    event: EventSpec
    relation: Literal["more than ago", "within last"]
    duration: Duration
    kind: ClassVar[str] = "last_performed"

    def __post_init__(self) -> None:
        _set(self, "event", _event_spec(self.event))
        _set(self, "relation", _choice(self.relation, RELATIONS, "relation"))
        _set(self, "duration", _duration(self.duration))

    def _where_rules(self) -> tuple[Rule, ...]:
        return (self.event.where,) if self.event.where is not None else ()

    def _text(self) -> str:
        if self.relation == "within last":
            return f"last({self.event}) within last {self.duration}"
        return f"last({self.event}) more than {self.duration} ago"


_WHERE_KINDS = (And, Or, Not, Compare, InList, Between, TextMatch, IsMissing, DateCompare,
                Has, WithinLast, MoreThanAgo)
