"""Rule rows: the builder's view of a rule as a list of ``field, operator, value`` rows.

A row is a :class:`RowSpec`; a :class:`RowGroup` is the rows and how they combine (all of
them, ``and``, or any of them, ``or``). These functions convert both ways, losslessly:
``rows_to_rule(rule_to_rows(rule)) == rule`` for every rule. A part of a rule that rows
cannot show (a nested ``(a or b)`` inside an ``and`` group, sequences, sums...) becomes an
*advanced* row (``op == "advanced"``) holding that sub-rule: the analyst edits it in the
text box.

Examples
--------
>>> from segexplore.rules.parser import parse
>>> str(row_to_rule("city", "in", ["Lyon", "Paris"]))
'city in ("Lyon", "Paris")'
>>> group = rule_to_rows(parse('city = "Lyon" or count(visit, last 30 days) >= 5'))
>>> group.combine, [row.op for row in group]
('or', ['=', 'count >='])
>>> group[1].value
EventValue(count=5, days=30, filters=())
>>> str(rows_to_rule(group.rows, group.combine))
'city = "Lyon" or count(visit, last 30 days) >= 5'
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from segexplore.errors import IncompleteRowError, ParameterError, ParameterTypeError
from segexplore.rules import nodes as R
from segexplore.rules.events import EventAggregate, LastWindow
from segexplore.rules.parser import parse
from segexplore.rules.text import TEXT_OPS
from segexplore.widgets.state.fields import EVENT_FILTER_PROPERTIES, EVENT_OPERATORS

__all__ = ["RowSpec", "RowGroup", "EventValue", "row_to_rule", "rows_to_rule", "rule_to_rows",
           "ADVANCED"]

#: The operator of a row holding a sub-rule that only the text box can edit.
ADVANCED = "advanced"

_COMPARE = {"=", "!=", "<", "<=", ">", ">="}
_HAS = {"has any": "any", "has all": "all", "has none": "none"}
_EVENT_OPS = {op: op.split()[1] for op in EVENT_OPERATORS}


@dataclass(frozen=True)
class EventValue:
    """The value of an event row: ``count(<event> where <filters>, last <days> days) <op> count``.

    Parameters
    ----------
    count : int
        The threshold compared with the number of events.
    days : int or None
        Window length in days up to the base's as_of date; None for all time.
    filters : tuple of (property, value)
        Event property filters, e.g. ``(("brand", "Nike"),)``, combined with ``and``.
    """

    count: int = 1
    days: int | None = 30
    filters: tuple[tuple[str, Any], ...] = field(default_factory=tuple)


@dataclass(frozen=True)
class RowSpec:
    """One row: ``field`` key, operator, value, and whether the row is negated (``not``).

    ``field`` is a key of :class:`~segexplore.widgets.state.fields.FieldOption` (``"city"``,
    ``"event:purchase"``, ``"segment:VIP"``); it is None for an advanced row, whose
    ``value`` is the sub-rule.
    """

    field: str | None
    op: str
    value: Any = None
    negated: bool = False

    @property
    def advanced(self) -> bool:
        """True for a row only the text box can edit."""
        return self.op == ADVANCED


@dataclass(frozen=True)
class RowGroup:
    """Rows and how they combine (``"and"`` or ``"or"``); iterates over its rows."""

    combine: str = "and"
    rows: tuple[RowSpec, ...] = ()

    def __iter__(self) -> Iterator[RowSpec]:
        return iter(self.rows)

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, index: int) -> RowSpec:
        return self.rows[index]

    @property
    def advanced(self) -> bool:
        """True when some part of the rule can only be edited as text."""
        return any(row.advanced for row in self.rows)


# -- rows -> rule --------------------------------------------------------------------------

def _strip(key: str, prefix: str) -> str:
    return key[len(prefix):] if key.startswith(prefix) else key


def _values(value: Any) -> tuple[Any, ...]:
    if value is None:
        return ()
    if isinstance(value, (str, bytes)) or not isinstance(value, Iterable):
        return (value,)
    return tuple(value)


def _duration(value: Any) -> R.Duration:
    if isinstance(value, R.Duration):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return R.Duration(value, "days")
    if isinstance(value, str):
        return R.Duration.parse(value)
    raise ParameterTypeError(f"expected a number of days or a duration such as '30 days', "
                             f"not {value!r}")


def _where(filters: Sequence[tuple[str, Any]]) -> R.Rule | None:
    conditions = [R.Compare(prop, "=", value) for prop, value in filters
                  if value is not None and value != ""]
    if not conditions:
        return None
    return conditions[0] if len(conditions) == 1 else R.And(*conditions)


def _event_rule(event_type: str, op: str, value: Any) -> R.Rule:
    if not isinstance(value, EventValue):
        value = EventValue(count=value) if isinstance(value, int) else EventValue(**value)
    window = LastWindow(R.Duration(value.days, "days")) if value.days else None
    return EventAggregate("count", event_type, None, _where(value.filters), window,
                            _EVENT_OPS[op], value.count)


def row_to_rule(field: str | None, op: str, value: Any = None, *,
                negated: bool = False) -> R.Rule:
    """The rule node of one row.

    Parameters
    ----------
    field : str
        Field key: a column or feature name, ``"event:<type>"`` or ``"segment:<name>"``.
    op : str
        One of :data:`segexplore.widgets.state.fields.OPERATORS` (for the field's kind), or
        ``"advanced"``.
    value
        Depends on ``op``: a list of values (``in``, ``has any``...), a scalar
        (``=``, ``>=``, ``contains``, ``in top %``...), a pair (``between``), a date
        (``before``/``after``), a number of days or a :class:`~segexplore.rules.nodes.Duration`
        (``within last``, ``more than ago``), an :class:`EventValue` (``count >=``...), the
        sub-rule (``advanced``); ignored by ``is missing``, ``is true``, ``in segment``...
    negated : bool
        Wrap the condition in ``not (...)``.

    Raises
    ------
    IncompleteRowError
        The value is still empty (no value selected, empty text).
    SegexploreError
        The value does not fit the operator (:class:`~segexplore.errors.ParameterError`,
        :class:`~segexplore.errors.ParameterTypeError`, or the rule's own
        :class:`~segexplore.errors.RuleBuildError`).

    Examples
    --------
    >>> str(row_to_rule("signup_date", "within last", 90))
    'signup_date within last 90 days'
    >>> str(row_to_rule("event:purchase", "count >=", EventValue(2, 365, (("brand", "Nike"),))))
    'count(purchase where brand = "Nike", last 365 days) >= 2'
    >>> str(row_to_rule("segment:VIP", "in segment", negated=True))
    'not segment("VIP")'
    """
    rule = _row_rule(field, op, value)
    return R.Not(rule) if negated else rule


def _row_rule(field: str | None, op: str, value: Any) -> R.Rule:
    if op == ADVANCED:
        if not isinstance(value, R.Rule):
            return parse(value) if isinstance(value, str) and value.strip() else _incomplete()
        return value
    if not field:
        raise IncompleteRowError("choose a field")
    if op in _EVENT_OPS:
        return _event_rule(_strip(field, "event:"), op, value)
    if op == "in segment":
        return R.SegmentRef(_strip(field, "segment:"))
    if op in ("is missing", "is not missing"):
        return R.IsMissing(field, negated=op == "is not missing")
    if op in ("is true", "is false"):
        return R.Compare(field, "=", op == "is true")
    if op in ("in", "not in"):
        values = _values(value) or _incomplete()
        return R.InList(field, values, negated=op == "not in")
    if op in _HAS:
        values = _values(value) or _incomplete()
        return R.Has(field, _HAS[op], values)
    if value is None or (isinstance(value, str) and not value):
        _incomplete()
    if op in _COMPARE:
        return R.Compare(field, op, value)
    if op in TEXT_OPS:
        return R.TextMatch(field, op, value)
    if op == "between":
        low, high = value
        return R.Between(field, low, high)
    if op in ("before", "after"):
        return R.DateCompare(field, op, value)
    if op == "within last":
        return R.WithinLast(field, _duration(value))
    if op == "more than ago":
        return R.MoreThanAgo(field, _duration(value))
    if op == "anniversary within next":
        return R.Anniversary(field, value)
    if op == "in top %":
        return R.TopPercent(field, value)
    raise ParameterError(f"unknown operator {op!r}")


def _incomplete() -> Any:
    raise IncompleteRowError("choose a value")


def rows_to_rule(rows: Iterable[RowSpec], combine: str = "and") -> R.Rule | None:
    """The rule of a group of rows; None when no row is complete.

    Incomplete rows (see :class:`~segexplore.errors.IncompleteRowError`) are skipped; other
    errors propagate.
    One complete row gives its own rule; more are joined with ``and`` or ``or``.
    """
    rules = []
    for row in rows:
        try:
            rules.append(row_to_rule(row.field, row.op, row.value, negated=row.negated))
        except IncompleteRowError:
            continue
    if not rules:
        return None
    if len(rules) == 1:
        return rules[0]
    return R.Or(*rules) if combine == "or" else R.And(*rules)


# -- rule -> rows --------------------------------------------------------------------------

def rule_to_rows(rule: R.Rule | None) -> RowGroup:
    """The rows showing a rule; parts rows cannot show become advanced rows.

    An ``and`` (or ``or``) at the top gives one row per child and that combine mode;
    anything else gives a single row. ``rows_to_rule(group.rows, group.combine)`` rebuilds
    the very same rule.
    """
    if rule is None:
        return RowGroup("and", ())
    if isinstance(rule, (R.And, R.Or)):
        combine = "or" if isinstance(rule, R.Or) else "and"
        return RowGroup(combine, tuple(_row_of(child) for child in rule.children))
    return RowGroup("and", (_row_of(rule),))


def _row_of(rule: R.Rule) -> RowSpec:
    if isinstance(rule, R.Not):
        row = _leaf_row(rule.child)
        if row is not None:
            return RowSpec(row.field, row.op, row.value, negated=True)
    else:
        row = _leaf_row(rule)
        if row is not None:
            return row
    return RowSpec(None, ADVANCED, rule)


def _leaf_row(rule: R.Rule) -> RowSpec | None:
    """The row of one condition, or None if rows cannot show it."""
    if isinstance(rule, R.Compare):
        if rule.op == "=" and isinstance(rule.value, bool):
            return RowSpec(rule.field, "is true" if rule.value else "is false")
        return RowSpec(rule.field, rule.op, rule.value)
    if isinstance(rule, R.InList):
        return RowSpec(rule.field, "not in" if rule.negated else "in", rule.values)
    if isinstance(rule, R.Has):
        return RowSpec(rule.field, f"has {rule.mode}", rule.values)
    if isinstance(rule, R.TextMatch):
        return RowSpec(rule.field, rule.op, rule.value)
    if isinstance(rule, R.IsMissing):
        return RowSpec(rule.field, "is not missing" if rule.negated else "is missing")
    if isinstance(rule, R.Between):
        return RowSpec(rule.field, "between", (rule.low, rule.high))
    if isinstance(rule, R.DateCompare):
        return RowSpec(rule.field, rule.op, rule.value)
    if isinstance(rule, R.WithinLast):
        return RowSpec(rule.field, "within last", rule.duration)
    if isinstance(rule, R.MoreThanAgo):
        return RowSpec(rule.field, "more than ago", rule.duration)
    if isinstance(rule, R.Anniversary):
        return RowSpec(rule.field, "anniversary within next", rule.days)
    if isinstance(rule, R.TopPercent):
        return RowSpec(rule.field, "in top %", rule.percent)
    if isinstance(rule, R.SegmentRef):
        return RowSpec(f"segment:{rule.name}", "in segment")
    if isinstance(rule, EventAggregate):
        return _event_row(rule)
    return None


def _event_row(rule: EventAggregate) -> RowSpec | None:
    if rule.func != "count" or isinstance(rule.value, float) or rule.value < 0:
        return None
    if rule.window is None:
        days = None
    elif isinstance(rule.window, LastWindow) and rule.window.duration.unit == "days":
        days = rule.window.duration.amount
    else:
        return None
    filters = _filters_of(rule.where)
    if filters is None:
        return None
    op = next(name for name, symbol in _EVENT_OPS.items() if symbol == rule.op)
    return RowSpec(f"event:{rule.event_type}", op, EventValue(rule.value, days, filters))


def _filters_of(where: R.Rule | None) -> tuple[tuple[str, Any], ...] | None:
    """``brand = "Nike" and category = "shoes"`` -> pairs; None if not that simple shape."""
    if where is None:
        return ()
    conditions = where.children if isinstance(where, R.And) else (where,)
    pairs = []
    for condition in conditions:
        if not (isinstance(condition, R.Compare) and condition.op == "="
                and condition.field in EVENT_FILTER_PROPERTIES
                and isinstance(condition.value, str)):
            return None
        pairs.append((condition.field, condition.value))
    if len({prop for prop, _ in pairs}) != len(pairs):
        return None
    return tuple(pairs)

