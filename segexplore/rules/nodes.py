"""Segment rules: an immutable tree of conditions, its canonical text and its data form.

A rule is a tree of small frozen dataclasses. Leaves are conditions on one contact field
(:class:`Compare`, :class:`InList`, :class:`Between`, ...), references to saved segments
(:class:`SegmentRef`) or conditions on the events table (:mod:`segexplore.rules.events`);
:class:`And`, :class:`Or` and :class:`Not` combine them. Every node is hashable and compares
structurally, so two rules that mean the same thing *and are written the same way* are equal.

Three forms, all lossless:

* text: :func:`segexplore.rules.parser.parse` and ``str(rule)``, the canonical text, with
  ``parse(str(rule)) == rule`` for every rule (the vocabulary is :mod:`segexplore.rules.text`);
* Python: the node classes, the ``& | ~`` operators and the builders of
  :mod:`segexplore.rules.builders` (``field``, ``segment``, ``count``, ``aggregate``);
* data: ``rule.to_dict()``, ``to_json()``, ``to_yaml()`` (the versioned envelope
  ``{"schema": "segexplore.rule/1", "rule": {...}}``), read back by
  :mod:`segexplore.rules.serialize`.

This module only describes rules: evaluating them is the engines' job
(:mod:`segexplore.rules.engines`); ``rule.to_sql()`` calls the SQL engine through the
``to_sql`` hook of :mod:`segexplore.model.hooks`, so the nodes import no engine.

Examples
--------
>>> from segexplore.rules.parser import parse
>>> rule = parse('city = "Lyon" and age >= 30')
>>> rule
Rule('city = "Lyon" and age >= 30')
>>> rule == Compare("city", "=", "Lyon") & Compare("age", ">=", 30)
True
"""

from __future__ import annotations

import dataclasses
import functools
import json
import math
import numbers
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, ClassVar, Literal

from segexplore.errors import ParameterTypeError, RuleBuildError
from segexplore.model import hooks
from segexplore.rules.text import (
    COMPARE_OPS,
    DATE_OPS,
    HAS_MODES,
    OP_ALIASES,
    TEXT_OPS,
    TIME_UNITS,
    CompareOp,
    Scalar,
    format_duration,
    format_literal,
    format_name,
    parse_duration_text,
    unit_of,
)

__all__ = [
    "SCHEMA", "Rule", "Condition", "EventCondition", "And", "Or", "Not", "SegmentRef", "ListRef",
    "Compare", "InList", "Between", "TextMatch", "IsMissing", "DateCompare", "WithinLast",
    "MoreThanAgo", "Anniversary", "Has", "TopPercent", "Duration",
]

#: Version tag of the JSON/YAML envelope written by :meth:`Rule.to_json`.
SCHEMA = "segexplore.rule/1"

# -- value normalisation: done once, on construction, so equality is structural -------------

def _scalar(value: Any, what: str = "value") -> Scalar:
    """Return ``value`` as exactly one of str, bool, int, float, date or naive datetime."""
    if isinstance(value, str):
        return str(value)
    if isinstance(value, bool):
        return value
    if getattr(getattr(value, "dtype", None), "kind", "") == "b":  # numpy.bool_
        return bool(value)
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            raise RuleBuildError(f"{what} {value!r} has a time zone; rules use naive local times")
        return datetime(value.year, value.month, value.day, value.hour, value.minute,
                        value.second, value.microsecond)
    if isinstance(value, date):
        return date(value.year, value.month, value.day)
    if isinstance(value, numbers.Integral):
        if not -_MAX_INTEGER <= value <= _MAX_INTEGER:
            raise RuleBuildError(f"{what} {_digits(int(value))} is too large for a number "
                                 "(above 1.8e308); write it in quotes if it is text")
        return int(value)
    if isinstance(value, numbers.Real):
        number = float(value)
        if not math.isfinite(number):
            raise RuleBuildError(f"{what} must be a finite number, not {number!r}")
        return number
    raise ParameterTypeError(f"{what} must be text, a number, true/false or a date, "
                             f"not {type(value).__name__}")


_MAX_INTEGER = int(sys.float_info.max)  # larger integers cannot be compared as numbers


def _digits(value: int) -> str:
    """A huge integer named by its length (str() of one with 4,301+ digits raises)."""
    digits = len(str(abs(value))) if value.bit_length() < 14_000 else None
    return f"with {digits:,} digits" if digits else "with more than 4,000 digits"


def _number(value: Any, what: str) -> int | float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ParameterTypeError(f"{what} must be a number, not {value!r}")
    return _scalar(value, what)  # type: ignore[return-value]


def _temporal(value: Any, what: str) -> date | datetime:
    if not isinstance(value, date):
        raise ParameterTypeError(f"{what} must be a date or datetime, not {value!r}")
    return _scalar(value, what)  # type: ignore[return-value]


def _name(value: Any, what: str = "field") -> str:
    if not isinstance(value, str) or not value:
        raise ParameterTypeError(f"{what} must be a non-empty string, not {value!r}")
    return str(value)


def _choice(value: Any, choices: tuple[str, ...], what: str) -> str:
    key = OP_ALIASES.get(value, value)
    if isinstance(key, str):
        key = " ".join(key.lower().replace("_", " ").split())
    if key not in choices:
        raise RuleBuildError(f"{what} must be one of {', '.join(choices)}; got {value!r}")
    return key


def _count(value: Any, what: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise RuleBuildError(f"{what} must be a whole number >= {minimum}, not {value!r}")
    return int(value)


def _set(obj: object, name: str, value: object) -> None:
    object.__setattr__(obj, name, value)  # the only way to normalise a frozen dataclass


def _values(values: Any, what: str, only_text: bool = False) -> tuple[Scalar, ...]:
    if isinstance(values, (str, bytes)) or not isinstance(values, Iterable):
        raise ParameterTypeError(f"{what} must be a list or tuple of values, not {values!r}")
    result = tuple(_scalar(v, what) for v in values)
    if not result:
        raise RuleBuildError(f"{what} must not be empty")
    if only_text and not all(isinstance(v, str) for v in result):
        raise ParameterTypeError(f"{what} must all be text, got {result!r}")
    return result


_node = dataclass(frozen=True, slots=True, repr=False)


# -- base classes --------------------------------------------------------------------------

class Rule:
    """Base class of every rule node; combine rules with ``&`` (and), ``|`` (or), ``~`` (not).

    ``str(rule)`` is the canonical text and ``repr(rule)`` shows it as ``Rule('...')``.
    """

    __slots__ = ()
    kind: ClassVar[str] = ""
    #: Whether ``not`` is written before this node's text without parentheses.
    bare_after_not: ClassVar[bool] = False

    def __and__(self, other: object) -> Rule:
        return And(self, other) if isinstance(other, Rule) else NotImplemented

    def __or__(self, other: object) -> Rule:
        return Or(self, other) if isinstance(other, Rule) else NotImplemented

    def __invert__(self) -> Rule:
        return Not(self)

    def __str__(self) -> str:
        return self._text()

    def __repr__(self) -> str:
        return f"Rule({self._text()!r})"

    def _text(self) -> str:
        raise NotImplementedError

    def _subrules(self) -> tuple[Rule, ...]:
        """Contact-level sub-rules (children of and/or/not)."""
        return ()

    def _where_rules(self) -> tuple[Rule, ...]:
        """Event-property filters held by event conditions."""
        return ()

    def walk(self, *, include_where: bool = False) -> Iterator[Rule]:
        """Yield this node and every node below it, depth first, parents before children.

        Parameters
        ----------
        include_where
            Also descend into the where-filters of event conditions, whose conditions are on
            event properties (brand, amount...) rather than on contact fields.
        """
        yield self
        subrules = self._subrules() + (self._where_rules() if include_where else ())
        for sub in subrules:
            yield from sub.walk(include_where=include_where)

    def fields(self) -> frozenset[str]:
        """Contact-level fields this rule reads (not event properties inside where-filters)."""
        return frozenset(n.field for n in self.walk() if isinstance(n, Condition))

    def segment_refs(self) -> frozenset[str]:
        """Names of the saved segments this rule refers to."""
        return frozenset(n.name for n in self.walk() if isinstance(n, SegmentRef))

    def event_conditions(self) -> tuple[EventCondition, ...]:
        """Event-level nodes (aggregates, sequences, recency), in text order, without repeats."""
        found = (n for n in self.walk() if isinstance(n, EventCondition))
        return tuple(dict.fromkeys(found))

    def to_dict(self) -> dict[str, Any]:
        """This node as plain JSON-compatible data ``{"kind": ..., <field>: ...}``."""
        out: dict[str, Any] = {"kind": self.kind}
        for f in dataclasses.fields(self):  # type: ignore[arg-type]
            out[f.name] = _encode(getattr(self, f.name))
        return out

    def to_json(self, indent: int | None = None) -> str:
        """The rule in the versioned envelope ``{"schema": SCHEMA, "rule": {...}}`` as JSON."""
        return json.dumps({"schema": SCHEMA, "rule": self.to_dict()}, indent=indent,
                          ensure_ascii=False)

    def to_yaml(self) -> str:
        """The rule in the versioned envelope as YAML (keys in schema order)."""
        import yaml  # lazily: only needed here

        return yaml.dump({"schema": SCHEMA, "rule": self.to_dict()}, Dumper=yaml_dumper(),
                         sort_keys=False, allow_unicode=True)

    def to_sql(self, dialect: str = "duckdb", *, base: Any = None, as_of: Any = None) -> str:
        """SQL selecting the ``contact_id`` of matching contacts, built with sqlglot.

        See :func:`segexplore.rules.engines.sql.compile_rule` (the SQL engine registers it
        as the ``to_sql`` hook); ``dialect`` is one of ``duckdb``, ``postgres``,
        ``bigquery``, ``snowflake`` or ``spark``.
        """
        return hooks.get("to_sql")(self, base, dialect=dialect, as_of=as_of)


class Condition(Rule):
    """A condition on one contact field (or, inside a where-filter, one event property)."""

    __slots__ = ()
    field: str


class EventCondition(Rule):
    """A condition on a contact's events: aggregates, sequences and recency."""

    __slots__ = ()


# -- logical nodes -------------------------------------------------------------------------

def _flatten(cls: type, rules: tuple[Any, ...], children: Any) -> tuple[Rule, ...]:
    if children is not None:
        rules = rules + tuple(children)
    elif len(rules) == 1 and not isinstance(rules[0], Rule):
        rules = tuple(rules[0])  # And([a, b]) as well as And(a, b)
    flat: list[Rule] = []
    for rule in rules:
        if not isinstance(rule, Rule):
            raise ParameterTypeError(f"{cls.__name__} combines rules, not {rule!r}")
        flat.extend(rule.children if type(rule) is cls else (rule,))
    if len(flat) < 2:
        raise RuleBuildError(f"{cls.__name__} needs at least two rules, got {len(flat)}")
    return tuple(flat)


@dataclass(frozen=True, slots=True, repr=False, init=False)
class And(Rule):
    """All ``children`` hold. Nested ``And`` children are flattened; at least two children."""

    children: tuple[Rule, ...]
    kind: ClassVar[str] = "and"

    def __init__(self, *rules: Rule | Iterable[Rule], children: Iterable[Rule] | None = None):
        _set(self, "children", _flatten(And, rules, children))

    def _subrules(self) -> tuple[Rule, ...]:
        return self.children

    def _text(self) -> str:
        # "and" binds tighter than "or", so only or-children need parentheses
        return " and ".join(f"({c})" if isinstance(c, Or) else str(c) for c in self.children)


@dataclass(frozen=True, slots=True, repr=False, init=False)
class Or(Rule):
    """At least one of ``children`` holds. Nested ``Or`` children are flattened."""

    children: tuple[Rule, ...]
    kind: ClassVar[str] = "or"

    def __init__(self, *rules: Rule | Iterable[Rule], children: Iterable[Rule] | None = None):
        _set(self, "children", _flatten(Or, rules, children))

    def _subrules(self) -> tuple[Rule, ...]:
        return self.children

    def _text(self) -> str:
        return " or ".join(str(c) for c in self.children)


@_node
class Not(Rule):
    """``child`` does not hold. Printed ``not (child)``, without parentheses for atoms."""

    child: Rule
    kind: ClassVar[str] = "not"
    bare_after_not: ClassVar[bool] = True

    def __post_init__(self) -> None:
        if not isinstance(self.child, Rule):
            raise ParameterTypeError(f"Not negates a rule, not {self.child!r}")

    @property
    def children(self) -> tuple[Rule, ...]:
        return (self.child,)

    def _subrules(self) -> tuple[Rule, ...]:
        return (self.child,)

    def _text(self) -> str:
        return f"not {self.child}" if self.child.bare_after_not else f"not ({self.child})"


@_node
class SegmentRef(Rule):
    """Contacts of the saved segment ``name``: ``segment("Clients groupe A")``."""

    name: str
    kind: ClassVar[str] = "segment"
    bare_after_not: ClassVar[bool] = True

    def __post_init__(self) -> None:
        _set(self, "name", _name(self.name, "segment name"))

    def _text(self) -> str:
        return f"segment({format_literal(self.name)})"


@_node
class ListRef(SegmentRef):
    """Contacts of the list (a static segment) ``name``: ``in_list("VIP salon")``; a list
    is a saved segment whose members are fixed ids (``se.read_list``, ``freeze``)."""

    kind: ClassVar[str] = "list"

    def _text(self) -> str:
        return f"in_list({format_literal(self.name)})"


# -- conditions on one field ---------------------------------------------------------------

@_node
class Compare(Condition):
    """``field op value``; ``op`` is one of ``= != < <= > >=`` (``==``/``<>`` normalised)."""

    field: str
    op: CompareOp
    value: Scalar
    kind: ClassVar[str] = "compare"

    def __post_init__(self) -> None:
        _set(self, "field", _name(self.field))
        _set(self, "op", _choice(self.op, COMPARE_OPS, "comparison operator"))
        _set(self, "value", _scalar(self.value))

    def _text(self) -> str:
        return f"{format_name(self.field)} {self.op} {format_literal(self.value)}"


@_node
class InList(Condition):
    """``field in (v1, v2, ...)``, or ``not in`` when ``negated``; ``values`` is non-empty."""

    field: str
    values: tuple[Scalar, ...]
    negated: bool = False
    kind: ClassVar[str] = "in"

    def __post_init__(self) -> None:
        _set(self, "field", _name(self.field))
        _set(self, "values", _values(self.values, "in-list values"))
        _set(self, "negated", _bool(self.negated, "negated"))

    def _text(self) -> str:
        values = ", ".join(format_literal(v) for v in self.values)
        return f"{format_name(self.field)} {'not in' if self.negated else 'in'} ({values})"


def _bool(value: Any, what: str) -> bool:
    if not isinstance(value, bool):
        raise ParameterTypeError(f"{what} must be true or false, not {value!r}")
    return value


@_node
class Between(Condition):
    """``low <= field <= high`` (inclusive); bounds are both numbers or both dates/datetimes."""

    field: str
    low: int | float | date | datetime
    high: int | float | date | datetime
    kind: ClassVar[str] = "between"

    def __post_init__(self) -> None:
        _set(self, "field", _name(self.field))
        _set(self, "low", _bound(self.low, "between lower bound"))
        _set(self, "high", _bound(self.high, "between upper bound"))
        if isinstance(self.low, date) != isinstance(self.high, date):
            raise ParameterTypeError("between bounds must both be numbers or both be dates")

    def _text(self) -> str:
        low, high = format_literal(self.low), format_literal(self.high)
        return f"{format_name(self.field)} between {low} and {high}"


def _bound(value: Any, what: str) -> int | float | date | datetime:
    return _temporal(value, what) if isinstance(value, date) else _number(value, what)


@_node
class TextMatch(Condition):
    """``field contains | starts with | ends with "text"``, ignoring case."""

    field: str
    op: Literal["contains", "starts with", "ends with"]
    value: str
    kind: ClassVar[str] = "text_match"

    def __post_init__(self) -> None:
        _set(self, "field", _name(self.field))
        _set(self, "op", _choice(self.op, TEXT_OPS, "text operator"))
        if not isinstance(self.value, str):
            raise ParameterTypeError(f"{self.op} needs text, not {self.value!r}")
        _set(self, "value", str(self.value))

    def _text(self) -> str:
        return f"{format_name(self.field)} {self.op} {format_literal(self.value)}"


@_node
class IsMissing(Condition):
    """``field is missing`` (empty/null), or ``is not missing`` when ``negated``."""

    field: str
    negated: bool = False
    kind: ClassVar[str] = "is_missing"

    def __post_init__(self) -> None:
        _set(self, "field", _name(self.field))
        _set(self, "negated", _bool(self.negated, "negated"))

    def _text(self) -> str:
        return f"{format_name(self.field)} is {'not ' if self.negated else ''}missing"


@_node
class DateCompare(Condition):
    """``field before DATE`` (strictly earlier) or ``field after DATE`` (strictly later)."""

    field: str
    op: Literal["before", "after"]
    value: date | datetime
    kind: ClassVar[str] = "date_compare"

    def __post_init__(self) -> None:
        _set(self, "field", _name(self.field))
        _set(self, "op", _choice(self.op, DATE_OPS, "date operator"))
        _set(self, "value", _temporal(self.value, f"'{self.op}' value"))

    def _text(self) -> str:
        return f"{format_name(self.field)} {self.op} {format_literal(self.value)}"


@_node
class Duration:
    """A positive whole ``amount`` of ``unit`` (hours, days, weeks or months); ``30 days``.

    ``unit`` also accepts the singular and the French words of :data:`UNIT_WORDS`:
    ``Duration(90, "jours") == Duration(90, "days")``.
    """

    amount: int
    unit: Literal["hours", "days", "weeks", "months"]

    def __post_init__(self) -> None:
        _set(self, "amount", _count(self.amount, "duration amount", 1))
        unit = unit_of(self.unit)  # singular and French words too (see UNIT_WORDS)
        _set(self, "unit", _choice(unit or self.unit, TIME_UNITS, "duration unit"))

    @classmethod
    def parse(cls, text: str) -> Duration:
        """``Duration.parse("30 days") == Duration(30, "days")``."""
        return cls(*parse_duration_text(text))

    def __str__(self) -> str:
        return format_duration(self.amount, self.unit)

    def __repr__(self) -> str:
        return f"Duration({self.amount!r}, {self.unit!r})"

    def to_dict(self) -> dict[str, Any]:
        return {"amount": self.amount, "unit": self.unit}


def _duration(value: Any) -> Duration:
    if isinstance(value, Duration):
        return value
    if isinstance(value, str):
        return Duration.parse(value)
    if isinstance(value, tuple) and len(value) == 2:
        return Duration(*value)
    raise ParameterTypeError(f"expected a Duration such as '30 days', not {value!r}")


@_node
class WithinLast(Condition):
    """``field within last 30 days``: the date is in the ``duration`` before the base's as_of."""

    field: str
    duration: Duration
    kind: ClassVar[str] = "within_last"

    def __post_init__(self) -> None:
        _set(self, "field", _name(self.field))
        _set(self, "duration", _duration(self.duration))

    def _text(self) -> str:
        return f"{format_name(self.field)} within last {self.duration}"


@_node
class MoreThanAgo(Condition):
    """``field more than 90 days ago``: the date is earlier than as_of minus ``duration``."""

    field: str
    duration: Duration
    kind: ClassVar[str] = "more_than_ago"

    def __post_init__(self) -> None:
        _set(self, "field", _name(self.field))
        _set(self, "duration", _duration(self.duration))

    def _text(self) -> str:
        return f"{format_name(self.field)} more than {self.duration} ago"


@_node
class Anniversary(Condition):
    """``birth_date anniversary within next 7 days``: the day and month of ``field`` fall in
    ``[as_of, as_of + days]`` (``days=0`` is today). ``birthday within next 7 days`` is sugar
    for ``field="birth_date"``."""

    field: str
    days: int
    kind: ClassVar[str] = "anniversary"

    def __post_init__(self) -> None:
        _set(self, "field", _name(self.field))
        _set(self, "days", _count(self.days, "anniversary days", 0))

    def _text(self) -> str:
        days = format_duration(self.days, "days")
        return f"{format_name(self.field)} anniversary within next {days}"


@_node
class Has(Condition):
    """A multi-valued field (interests) holds ``any``, ``all`` or ``none`` of ``values``.

    ``interests has "sport"`` is ``Has("interests", "any", ("sport",))`` and prints back so.
    """

    field: str
    mode: Literal["any", "all", "none"]
    values: tuple[str, ...]
    kind: ClassVar[str] = "has"

    def __post_init__(self) -> None:
        _set(self, "field", _name(self.field))
        _set(self, "mode", _choice(self.mode, HAS_MODES, "has mode"))
        values = (self.values,) if isinstance(self.values, str) else self.values
        _set(self, "values", _values(values, "has values", only_text=True))

    def _text(self) -> str:
        if self.mode == "any" and len(self.values) == 1:
            return f"{format_name(self.field)} has {format_literal(self.values[0])}"
        values = ", ".join(format_literal(v) for v in self.values)
        return f"{format_name(self.field)} has {self.mode} ({values})"


@_node
class TopPercent(Condition):
    """``field in top 10%``: the contacts whose ``field`` ranks in the highest ``percent``."""

    field: str
    percent: float
    kind: ClassVar[str] = "top_percent"

    def __post_init__(self) -> None:
        _set(self, "field", _name(self.field))
        percent = float(_number(self.percent, "top percent"))
        if not 0 < percent <= 100:
            raise RuleBuildError(f"top percent must be in (0, 100], not {percent!r}")
        _set(self, "percent", percent)

    def _text(self) -> str:
        shown = int(self.percent) if self.percent.is_integer() else self.percent
        return f"{format_name(self.field)} in top {format_literal(shown)}%"


def _encode(value: Any) -> Any:
    """A field value as JSON-compatible data (nodes, durations, windows: their to_dict)."""
    if value is None or isinstance(value, (str, bool, int, float)):
        return value
    if hasattr(value, "to_dict"):  # a Rule, Duration, Window or EventSpec
        return value.to_dict()
    if isinstance(value, tuple):
        return [_encode(v) for v in value]
    if isinstance(value, datetime):
        return {"datetime": value.isoformat()}
    return {"date": value.isoformat()}


@functools.cache
def yaml_dumper() -> type:
    """The YAML dumper of rules and catalogs (safe; strings with YAML line breaks quoted)."""
    import yaml

    class Dumper(yaml.SafeDumper):
        """Double-quote strings with YAML line breaks, which plain style would mangle."""

    def represent_str(dumper: yaml.SafeDumper, text: str) -> Any:
        style = '"' if any(c in text for c in "\x85\u2028\u2029") else None
        return dumper.represent_scalar("tag:yaml.org,2002:str", text, style=style)

    Dumper.add_representer(str, represent_str)
    return Dumper
