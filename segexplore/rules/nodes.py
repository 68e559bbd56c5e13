"""Segment rules: an immutable tree of conditions, its canonical text and its JSON/YAML form.

A rule is a tree of small frozen dataclasses. Leaves are conditions on one contact field
(:class:`Compare`, :class:`InList`, :class:`Between`, ...), references to saved segments
(:class:`SegmentRef`) or conditions on the events table (:class:`EventAggregate`,
:class:`NotFollowedBy`, :class:`LastPerformed`); :class:`And`, :class:`Or` and :class:`Not`
combine them. Every node is hashable and compares structurally, so two rules that mean the
same thing *and are written the same way* are equal.

Three forms, all lossless:

* text: ``parse(text)`` (grammar in :mod:`segexplore.rules.parser`) and ``str(rule)``,
  the canonical text, with ``parse(str(rule)) == rule`` for every rule;
* Python: the node classes, the ``& | ~`` operators and the builders :func:`field`,
  :func:`segment`, :func:`count` and :func:`aggregate`;
* data: ``rule.to_dict()`` / :func:`rule_from_dict` and the versioned envelope
  ``{"schema": "segexplore.rule/1", "rule": {...}}`` of ``to_json``/``to_yaml``.

This module owns the node classes, the text helpers shared with the parser and
:func:`parse`. The Python builders live in :mod:`segexplore.rules.builders` and the
dict/JSON/YAML form (with :class:`RuleFormatError`) in :mod:`segexplore.rules.serialize`;
both are re-exported here, so ``from segexplore.rules.nodes import field, rule_from_json``
keeps working. This module only describes rules; evaluating them on a contact base lives
elsewhere.

Examples
--------
>>> rule = parse('city = "Lyon" and count(purchase, last 30 days) >= 3')
>>> rule
Rule('city = "Lyon" and count(purchase, last 30 days) >= 3')
>>> rule == (field("city") == "Lyon") & (count("purchase", last="30 days") >= 3)
True
"""

from __future__ import annotations

import builtins
import dataclasses
import json
import math
import numbers
import re
import sys
import unicodedata
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, ClassVar, Literal

__all__ = [
    "SCHEMA", "Rule", "Condition", "EventCondition", "And", "Or", "Not", "SegmentRef",
    "Compare", "InList", "Between", "TextMatch", "IsMissing", "DateCompare", "WithinLast",
    "MoreThanAgo", "Anniversary", "Has", "TopPercent", "Duration", "Window", "LastWindow",
    "DateRangeWindow", "EventSpec", "EventAggregate", "NotFollowedBy", "LastPerformed",
    "RuleFormatError", "parse", "rule_from_dict", "rule_from_json", "rule_from_yaml",
    "field", "segment", "count", "aggregate",
]

#: Version tag of the JSON/YAML envelope written by :meth:`Rule.to_json`.
SCHEMA = "segexplore.rule/1"

Scalar = str | int | float | bool | date | datetime
CompareOp = Literal["=", "!=", "<", "<=", ">", ">="]
COMPARE_OPS = ("=", "!=", "<", "<=", ">", ">=")
TEXT_OPS = ("contains", "starts with", "ends with")
DATE_OPS = ("before", "after")
HAS_MODES = ("any", "all", "none")
AGGREGATE_FUNCS = ("count", "sum", "avg", "min", "max")
TIME_UNITS = ("hours", "days", "weeks", "months")

#: Every word accepted as a time unit (case and accents ignored) -> the canonical unit.
#: French units are synonyms, so a French-speaking analyst's ``last 90 jours`` means 90
#: days; the canonical text stays English (``last 90 days``). Years are not a unit (12
#: months or 365 days?): the parser says to write months.
UNIT_WORDS: dict[str, str] = {
    "hour": "hours", "hours": "hours", "heure": "hours", "heures": "hours",
    "day": "days", "days": "days", "jour": "days", "jours": "days",
    "week": "weeks", "weeks": "weeks", "semaine": "weeks", "semaines": "weeks",
    "month": "months", "months": "months", "mois": "months",
}


def fold_word(word: str) -> str:
    """Lower case without accents: ``"Années"`` -> ``"annees"`` (for unit words)."""
    decomposed = unicodedata.normalize("NFKD", word.lower())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def unit_of(word: Any) -> str | None:
    """The canonical unit of a unit word: ``"Jours"`` -> ``"days"``; None if not a unit."""
    return UNIT_WORDS.get(fold_word(word)) if isinstance(word, str) else None

RELATIONS = ("more than ago", "within last")
_OP_ALIASES = {"==": "=", "<>": "!="}

#: Words of the grammar. A field or event name equal to one of them (ignoring case) is
#: printed in backticks so the text parses back to the same rule.
KEYWORDS = frozenset("""
    and or not in is missing between before after within last next more than ago has any
    all none contains starts ends with true false top anniversary birthday where followed by
    count sum avg min max performed segment at least most exactly times time
    hour hours day days week weeks month months
""".split())


# -- text of names and literals (shared with the parser) ------------------------------------

def is_plain_name(name: str) -> bool:
    """True when ``name`` can be written without backticks: an identifier, not a keyword."""
    return (bool(name) and (name[0].isalpha() or name[0] == "_")
            and all(c.isalnum() or c == "_" for c in name[1:])
            and name.lower() not in KEYWORDS)


def format_name(name: str) -> str:
    """A field or event name as rule text: ``city`` or ```Code postal``` (backticks doubled)."""
    return name if is_plain_name(name) else "`" + name.replace("`", "``") + "`"


_STRING_ESCAPES = str.maketrans({"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r",
                                 "\t": "\\t"})


def format_literal(value: Scalar) -> str:
    """A value as rule text: ``"text"``, ``true``, ``3``, ``2.5`` (exact repr), ``2026-01-31``."""
    if isinstance(value, str):
        return '"' + value.translate(_STRING_ESCAPES) + '"'
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)  # shortest text that reads back to the same float
    if isinstance(value, (int, date)):
        return str(value) if isinstance(value, int) else value.isoformat()
    raise TypeError(f"cannot write {value!r} in a rule")


def format_duration(amount: int, unit: str) -> str:
    """``30 days``, ``1 day``."""
    return f"{amount} {unit[:-1] if amount == 1 else unit}"


_ISO = re.compile(r"(\d{4})-(\d{2})-(\d{2})"
                  r"(?:T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,6}))?)?)?", re.ASCII)


def parse_iso_temporal(text: str) -> date | datetime:
    """``2026-01-31`` -> date, ``2026-01-31T10:00[:00[.123]]`` -> naive datetime."""
    match = _ISO.fullmatch(text)
    if match is None:
        raise ValueError(f"expected a date like 2026-01-31 or 2026-01-31T10:00:00, got {text!r}")
    year, month, day, hour, minute, second, fraction = match.groups()
    try:
        if hour is None:
            return date(int(year), int(month), int(day))
        micro = int((fraction or "0").ljust(6, "0"))
        return datetime(int(year), int(month), int(day), int(hour), int(minute),
                        int(second or 0), micro)
    except ValueError as error:
        raise ValueError(f"invalid date {text!r}: {error}") from None


def parse_duration_text(text: str) -> tuple[int, str]:
    """``"30 days"`` -> ``(30, "days")`` (the unit is checked by :class:`Duration`)."""
    parts = text.split() if isinstance(text, str) else []
    if len(parts) != 2 or not (parts[0].isascii() and parts[0].isdigit()):
        raise ValueError(f"expected a duration like '30 days', got {text!r}")
    return int(parts[0]), parts[1]


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
            raise ValueError(f"{what} {value!r} has a time zone; rules use naive local times")
        return datetime(value.year, value.month, value.day, value.hour, value.minute,
                        value.second, value.microsecond)
    if isinstance(value, date):
        return date(value.year, value.month, value.day)
    if isinstance(value, numbers.Integral):
        if not -_MAX_INTEGER <= value <= _MAX_INTEGER:
            raise ValueError(f"{what} {_digits(int(value))} is too large for a number "
                             "(above 1.8e308); write it in quotes if it is text")
        return int(value)
    if isinstance(value, numbers.Real):
        number = float(value)
        if not math.isfinite(number):
            raise ValueError(f"{what} must be a finite number, not {number!r}")
        return number
    raise TypeError(f"{what} must be text, a number, true/false or a date, "
                    f"not {type(value).__name__}")


_MAX_INTEGER = int(sys.float_info.max)  # larger integers cannot be compared as numbers


def _digits(value: int) -> str:
    """A huge integer named by its length (str() of one with 4,301+ digits raises)."""
    digits = len(str(abs(value))) if value.bit_length() < 14_000 else None
    return f"with {digits:,} digits" if digits else "with more than 4,000 digits"


def _number(value: Any, what: str) -> int | float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{what} must be a number, not {value!r}")
    return _scalar(value, what)  # type: ignore[return-value]


def _temporal(value: Any, what: str) -> date | datetime:
    if not isinstance(value, date):
        raise TypeError(f"{what} must be a date or datetime, not {value!r}")
    return _scalar(value, what)  # type: ignore[return-value]


def _name(value: Any, what: str = "field") -> str:
    if not isinstance(value, str) or not value:
        raise TypeError(f"{what} must be a non-empty string, not {value!r}")
    return str(value)


def _choice(value: Any, choices: tuple[str, ...], what: str) -> str:
    key = _OP_ALIASES.get(value, value)
    if isinstance(key, str):
        key = " ".join(key.lower().replace("_", " ").split())
    if key not in choices:
        raise ValueError(f"{what} must be one of {', '.join(choices)}; got {value!r}")
    return key


def _count(value: Any, what: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ValueError(f"{what} must be a whole number >= {minimum}, not {value!r}")
    return int(value)


def _set(obj: object, name: str, value: object) -> None:
    object.__setattr__(obj, name, value)  # the only way to normalise a frozen dataclass


def _values(values: Any, what: str, only_text: bool = False) -> tuple[Scalar, ...]:
    if isinstance(values, (str, bytes)) or not isinstance(values, Iterable):
        raise TypeError(f"{what} must be a list or tuple of values, not {values!r}")
    result = tuple(_scalar(v, what) for v in values)
    if not result:
        raise ValueError(f"{what} must not be empty")
    if only_text and not all(isinstance(v, str) for v in result):
        raise TypeError(f"{what} must all be text, got {result!r}")
    return result


_node = dataclass(frozen=True, slots=True, repr=False)


# -- base classes --------------------------------------------------------------------------

class Rule:
    """Base class of every rule node; combine rules with ``&`` (and), ``|`` (or), ``~`` (not).

    ``str(rule)`` is the canonical text and ``repr(rule)`` shows it as ``Rule('...')``.
    """

    __slots__ = ()
    kind: ClassVar[str] = ""

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

        return yaml.dump({"schema": SCHEMA, "rule": self.to_dict()}, Dumper=_yaml_dumper(),
                         sort_keys=False, allow_unicode=True)

    def to_sql(self, dialect: str = "duckdb", *, base: Any = None, as_of: Any = None) -> str:
        """SQL selecting the ``contact_id`` of matching contacts, built with sqlglot.

        See :func:`segexplore.rules.engines.sql.compile_rule`; ``dialect`` is one of ``duckdb``,
        ``postgres``, ``bigquery``, ``snowflake`` or ``spark``.
        """
        from segexplore.rules.engines.sql import compile_rule  # lazily: sqlglot is only needed here

        return compile_rule(self, base, dialect=dialect, as_of=as_of)

    @staticmethod
    def from_dict(data: Mapping[str, Any]) -> Rule:
        """Same as :func:`rule_from_dict`."""
        return rule_from_dict(data)

    @staticmethod
    def from_json(text: str) -> Rule:
        """Same as :func:`rule_from_json`."""
        return rule_from_json(text)

    @staticmethod
    def from_yaml(text: str) -> Rule:
        """Same as :func:`rule_from_yaml`."""
        return rule_from_yaml(text)


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
            raise TypeError(f"{cls.__name__} combines rules, not {rule!r}")
        flat.extend(rule.children if type(rule) is cls else (rule,))
    if len(flat) < 2:
        raise ValueError(f"{cls.__name__} needs at least two rules, got {len(flat)}")
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

    def __post_init__(self) -> None:
        if not isinstance(self.child, Rule):
            raise TypeError(f"Not negates a rule, not {self.child!r}")

    @property
    def children(self) -> tuple[Rule, ...]:
        return (self.child,)

    def _subrules(self) -> tuple[Rule, ...]:
        return (self.child,)

    def _text(self) -> str:
        atomic = isinstance(self.child, (Not, SegmentRef, NotFollowedBy))
        return f"not {self.child}" if atomic else f"not ({self.child})"


@_node
class SegmentRef(Rule):
    """Contacts of the saved segment ``name``: ``segment("Clients groupe A")``."""

    name: str
    kind: ClassVar[str] = "segment"

    def __post_init__(self) -> None:
        _set(self, "name", _name(self.name, "segment name"))

    def _text(self) -> str:
        return f"segment({format_literal(self.name)})"


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
        raise TypeError(f"{what} must be true or false, not {value!r}")
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
            raise TypeError("between bounds must both be numbers or both be dates")

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
            raise TypeError(f"{self.op} needs text, not {self.value!r}")
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
    raise TypeError(f"expected a Duration such as '30 days', not {value!r}")


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
            raise ValueError(f"top percent must be in (0, 100], not {percent!r}")
        _set(self, "percent", percent)

    def _text(self) -> str:
        shown = int(self.percent) if self.percent.is_integer() else self.percent
        return f"{format_name(self.field)} in top {format_literal(shown)}%"


# -- event conditions ----------------------------------------------------------------------

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
    raise TypeError(f"expected a LastWindow, DateRangeWindow or None, not {value!r}")


def _where(value: Any) -> Rule | None:
    """Check a where-filter: attribute conditions and and/or/not only."""
    if value is None:
        return None
    if not isinstance(value, Rule):
        raise TypeError(f"a where-filter must be a rule, not {value!r}")
    for node in value.walk():
        if not isinstance(node, _WHERE_KINDS):
            raise ValueError(f"a where-filter may not contain {type(node).__name__} "
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
    raise TypeError(f"expected an EventSpec or an event type, not {value!r}")


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
            raise ValueError("count takes no property; sum/avg/min/max need one")
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


def parse(text: str) -> Rule:
    """Parse rule text; see :func:`segexplore.rules.parser.parse`."""
    from segexplore.rules.parser import parse as parse_text

    return parse_text(text)


# -- re-exports ----------------------------------------------------------------------------
# The builders and the data form live in their own modules, which import the node classes
# above from this one; so they are imported last, once every class exists. The methods that
# serialise (Rule.to_dict/to_yaml/from_*, DateRangeWindow and EventSpec.to_dict) look these
# names up when called. EventMeasure, Field and _KINDS are re-exported for existing imports.
from segexplore.rules.builders import (  # noqa: E402,F401
    EventMeasure,
    Field,
    aggregate,
    count,
    field,
    segment,
)
from segexplore.rules.serialize import (
    _KINDS,
    RuleFormatError,
    _encode,
    _yaml_dumper,
    rule_from_dict,
    rule_from_json,
    rule_from_yaml,
)
