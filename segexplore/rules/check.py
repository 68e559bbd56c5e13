"""Check a rule against what a base holds, before any engine runs it: one checker for all.

:func:`check_rule` raises the :class:`~segexplore.errors.RuleEvaluationError` a rule
deserves on a base (an unknown field, event type, property or saved segment, with the
closest valid name and its position in the rule text; a literal of the wrong type; a
segment cycle; ``sum`` of a text property...) and nothing else. It reads only the base's
*schema* (:class:`Schema`: the contact columns and their kinds, the behaviour features of
:data:`~segexplore.features.registry.FEATURES`, the event types and their properties, the
saved segments, ``as_of``), never the rows, so every engine (pandas, SQL in DuckDB or a
warehouse) checks with it first and fails the same way. :class:`BaseSchema` is the schema
of an in-memory :class:`~segexplore.model.base.ContactBase`; a base held elsewhere (DuckDB
tables) gives its own object with the same attributes.

Kinds are those of :func:`~segexplore.model.roles.value_kind`: ``number``, ``bool``,
``datetime``, ``category`` or ``text``.

Examples
--------
>>> import segexplore as se
>>> base = se.load_sample()
>>> check_rule('city = "Lyon" and count(visit, last 30 days) >= 1', BaseSchema(base))
>>> check_rule('citty = "Lyon"', BaseSchema(base))
Traceback (most recent call last):
...
segexplore.errors.RuleEvaluationError: In rule 'citty = "Lyon"': unknown field 'citty' at position 0; did you mean 'city'?
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from typing import TYPE_CHECKING, Any, Protocol

import pandas as pd

from segexplore.errors import RuleEvaluationError, closest_name
from segexplore.features.registry import feature_kind
from segexplore.model.columns import EVENT_TYPES
from segexplore.model.roles import value_kind
from segexplore.rules import nodes as R
from segexplore.rules.events import EventAggregate, LastPerformed, NotFollowedBy
from segexplore.rules.parser import parse
from segexplore.rules.text import format_name, shorten
from segexplore.rules.walk import RuleWalk, depth_guard, field_table, known_fields
from segexplore.rules.windows import follow_up, time_ns

if TYPE_CHECKING:
    from segexplore.model.base import ContactBase

__all__ = ["Schema", "BaseSchema", "RuleCheck", "check_rule", "check_condition", "coerce",
           "unknown_name", "type_error", "position", "format_target", "DESCRIBED"]

#: How an error message names what a field of each kind holds.
DESCRIBED = {"datetime": "a date", "number": "a number", "bool": "true or false",
             "text": "text", "category": "text"}


class Schema(Protocol):
    """What a rule may name in a base, and the kind of each: all :func:`check_rule` reads."""

    #: The date windows end at (``last 30 days``), as the engine will evaluate the rule.
    as_of: pd.Timestamp
    #: Saved segments (name -> Segment or Rule) that ``segment("name")`` refers to.
    segments: Mapping[str, Any]

    @property
    def contact_columns(self) -> Sequence[str]:
        """The contact table's columns, in order (fields are looked up there first)."""

    def contact_kind(self, name: str) -> str:
        """The kind of the contact column ``name``."""

    def feature_kind(self, name: str) -> str:
        """The kind of the behaviour feature ``name`` (a name of ``FEATURES``)."""

    @property
    def event_types(self) -> Sequence[str]:
        """The event types that have at least one event."""

    def property_names(self, event_type: str) -> Sequence[str]:
        """The properties of ``event_type`` events (none for a type without events)."""

    def property_kind(self, event_type: str, name: str) -> str:
        """The kind of the property ``name`` of ``event_type`` events."""


class BaseSchema:
    """The :class:`Schema` of an in-memory :class:`~segexplore.model.base.ContactBase`.

    Kinds come from the dtypes of ``base.contacts``, the feature registry (nothing is
    computed) and the base's activity index (only when a rule names events); they are kept
    until the contacts table is replaced.

    Parameters
    ----------
    base : ContactBase
    segments : mapping, optional
        Default: ``base.segments``.
    as_of : date-like, optional
        Default: ``base.as_of``.
    """

    def __init__(self, base: ContactBase, segments: Mapping[str, Any] | None = None,
                 as_of: Any = None) -> None:
        self.base = base
        self.segments = segments if segments is not None else base.segments
        self.as_of = pd.Timestamp(as_of) if as_of is not None else base.as_of
        # What was read of each table, kept while the base holds the same table object:
        # a dashboard checks a rule at every click.
        self._read: dict[str, tuple[Any, dict[Any, Any]]] = {}

    def _memo(self, table: str, source: Any) -> dict[Any, Any]:
        kept = self._read.get(table)
        if kept is None or kept[0] is not source:  # first use, or the table was replaced
            kept = self._read[table] = (source, {})
        return kept[1]

    @property
    def contact_columns(self) -> Sequence[str]:
        contacts = self.base.contacts
        memo = self._memo("contacts", contacts)
        columns = memo.get(None)
        if columns is None:  # ordered, and a name is found in constant time
            columns = memo[None] = dict.fromkeys(contacts.columns)
        return columns  # type: ignore[return-value]

    def contact_kind(self, name: str) -> str:
        contacts = self.base.contacts
        memo = self._memo("contacts", contacts)
        kind = memo.get(("kind", name))
        if kind is None:
            kind = memo[("kind", name)] = value_kind(contacts[name].dtype)
        return kind

    def feature_kind(self, name: str) -> str:
        return feature_kind(name)  # declared by the registry: nothing is computed

    @property
    def event_types(self) -> Sequence[str]:
        activity = self.base.activity
        memo = self._memo("activity", activity)
        types = memo.get(None)
        if types is None:
            types = memo[None] = activity.event_types
        return types

    def property_names(self, event_type: str) -> Sequence[str]:
        activity = self.base.activity
        memo = self._memo("activity", activity)
        names = memo.get(event_type)
        if names is None:
            names = memo[event_type] = activity.property_names(event_type)
        return names

    def property_kind(self, event_type: str, name: str) -> str:
        activity = self.base.activity
        memo = self._memo("activity", activity)
        kind = memo.get((event_type, name))
        if kind is None:
            kind = memo[(event_type, name)] = value_kind(
                activity.property(event_type, name).dtype)
        return kind


def check_rule(rule: R.Rule | str, schema: Schema, *, text: str | None = None) -> None:
    """Raise the :class:`~segexplore.errors.RuleEvaluationError` ``rule`` gets on a base
    with ``schema``, if any; every engine calls it before running a rule.

    Parameters
    ----------
    rule : Rule or str
    schema : Schema
        What the base holds, e.g. :class:`BaseSchema` ``(base)``.
    text : str, optional
        The rule as the analyst wrote it (messages quote it and give positions in it);
        default: the rule's own text form.
    """
    if isinstance(rule, str):
        text, rule = rule, parse(rule)
    with depth_guard():
        RuleCheck(schema, text if text is not None else str(rule)).visit(rule)


class RuleCheck(RuleWalk[None]):
    """The walk of :func:`check_rule`: every node in the engines' order, checked."""

    def __init__(self, schema: Schema, text: str = "") -> None:
        super().__init__(schema.segments)
        self.schema = schema
        self.text = text
        self._checked: set[str] = set()  # saved segments found valid in this walk
        self._kinds: dict[str, str] = {}  # fields looked up in this walk

    def all_of(self, children: Sequence[R.Rule], stack: tuple[str, ...]) -> None:
        for child in children:
            self.visit(child, stack)

    any_of = all_of

    def negate(self, child: R.Rule, stack: tuple[str, ...]) -> None:
        self.visit(child, stack)

    def saved(self, name: str, stack: tuple[str, ...]) -> None:
        # A segment valid once is valid wherever it is used again: no cycle can lead back
        # to it (that cycle would have been found the first time).
        if name in self._checked and name not in stack:
            return
        super().saved(name, stack)
        self._checked.add(name)

    def unknown(self, what: str, name: str, known: Sequence[str]) -> RuleEvaluationError:
        return unknown_name(what, name, known, self.text)

    # --- names and kinds ----------------------------------------------------------------
    def field_kind(self, name: str) -> str:
        """The kind of a rule's field: a contact column, else a behaviour feature."""
        kind = self._kinds.get(name)
        if kind is not None:
            return kind
        schema = self.schema
        table = field_table(name, schema.contact_columns)
        if table == "contacts":
            kind = schema.contact_kind(name)
        elif table == "features":
            kind = schema.feature_kind(name)
        else:
            raise self.unknown("field", name, known_fields(schema.contact_columns))
        self._kinds[name] = kind
        return kind

    def event_type(self, event_type: str) -> str:
        known = self.schema.event_types
        if event_type in known or event_type in EVENT_TYPES:
            return event_type
        raise self.unknown("event type", event_type, list(known) + list(EVENT_TYPES))

    def property_kind(self, event_type: str, name: str) -> str:
        names = self.schema.property_names(event_type)
        if name not in names:
            raise self.unknown(f"property of {event_type} events", name, list(names))
        return self.schema.property_kind(event_type, name)

    def _has_events(self, event_type: str) -> bool:
        return event_type in self.schema.event_types

    # --- nodes --------------------------------------------------------------------------
    def condition(self, rule: R.Condition) -> None:
        check_condition(rule, self.field_kind(rule.field), self.text)

    def where(self, event_type: str, where: R.Rule | None) -> None:
        """The conditions of a where-filter, on the properties of ``event_type`` events
        (a type without events has no properties to check: every value is missing)."""
        if where is None or not self._has_events(event_type):
            return
        for node in where.walk():
            if isinstance(node, R.Condition):
                check_condition(node, self.property_kind(event_type, node.field), self.text)

    def event(self, rule: R.EventCondition) -> None:
        if isinstance(rule, EventAggregate):
            self.where(self.event_type(rule.event_type), rule.where)
            if rule.func != "count":
                self._numeric_property(rule)
        elif isinstance(rule, NotFollowedBy):
            if rule.within.unit == "months":
                raise RuleEvaluationError(
                    f"In rule {shorten(self.text)!r}: `not followed by ... within` takes "
                    "hours, days or weeks, not months")
            first = self.event_type(rule.first.event_type)
            then = self.event_type(rule.then.event_type)
            self.where(first, rule.first.where)
            self.where(then, rule.then.where)
            follow_up(rule.within, self.schema.as_of, self.text)
        elif isinstance(rule, LastPerformed):
            self.where(self.event_type(rule.event.event_type), rule.event.where)
        else:
            raise self.cannot(rule)

    def _numeric_property(self, rule: EventAggregate) -> None:
        """sum/avg/min/max of a text, date or unknown property: a clear rule error."""
        if not self._has_events(rule.event_type):
            return  # no such event at all: nothing to aggregate, every value is missing
        kind = self.property_kind(rule.event_type, rule.property)
        if kind not in ("number", "bool"):
            raise RuleEvaluationError(
                f"In rule {shorten(self.text)!r}: {rule.func}({format_target(rule)}): "
                f"{rule.property} of {rule.event_type} events holds {DESCRIBED[kind]}; "
                "sum, avg, min and max need numbers (count(...) counts events of any kind)")


# --- messages -------------------------------------------------------------------------------

def unknown_name(what: str, name: str, known: Sequence[str], text: str) -> RuleEvaluationError:
    """The error for an unknown field, event type, property or segment ``name`` of the rule
    ``text``: where it stands in the text, and the closest of the ``known`` names.

    Examples
    --------
    >>> print(unknown_name("field", "citty", ["city", "age"], 'citty = "Lyon"'))
    In rule 'citty = "Lyon"': unknown field 'citty' at position 0; did you mean 'city'?
    """
    guess = closest_name(name, known)
    hint = f"; did you mean {guess!r}?" if guess else ""
    return RuleEvaluationError(
        f"In rule {shorten(text)!r}: unknown {what} {name!r}{position(name, text)}{hint}")


def position(name: str, text: str) -> str:
    """`` at position N``: where ``name`` first appears in the rule text, if it does."""
    if not name:
        return ""
    match = re.search(rf"(?<![\w`]){re.escape(name)}(?![\w`])|`{re.escape(name)}`", text)
    return f" at position {match.start()}" if match else ""


def format_target(rule: EventAggregate) -> str:
    """``purchase.amount`` as written in the rule."""
    target = format_name(rule.event_type)
    return target + ("." + format_name(rule.property) if rule.property else "")


def type_error(field: str, kind: str, value: Any, text: str) -> RuleEvaluationError:
    """``type mismatch: <field> holds <kind>, but is compared with <value>``."""
    return RuleEvaluationError(
        f"In rule {shorten(text)!r}: type mismatch: {field} holds {DESCRIBED[kind]}, "
        f"but is compared with {value!r}{position(field, text)}")


# --- literals against a field's kind ---------------------------------------------------------

def coerce(value: Any, kind: str, field: str, text: str) -> Any:
    """The literal as a field of ``kind`` holds it, or a clear type-mismatch error.

    Dates and times become exact integer nanoseconds
    (:func:`~segexplore.rules.windows.time_ns`), which compare without wrapping dates
    beyond 1677-2262; an integer compared with text becomes text (``postal_code = 75001``
    means ``"75001"``).
    """
    if kind == "datetime":
        if isinstance(value, (date, datetime)):
            return time_ns(value)
        raise type_error(field, kind, value, text)
    if kind in ("number", "bool"):
        if isinstance(value, (bool, int, float)) and not isinstance(value, (date, datetime)):
            return value
        raise type_error(field, kind, value, text)
    if isinstance(value, str):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)  # postal_code = 75001 means the text "75001"
    raise type_error(field, kind, value, text)


def check_condition(node: R.Rule, kind: str, text: str = "") -> None:
    """Raise the type-mismatch error a condition ``node`` gets on a field of ``kind``; the
    one type check of every engine."""
    name = getattr(node, "field", "")
    if isinstance(node, R.Compare):
        coerce(node.value, kind, name, text)
    elif isinstance(node, R.InList):
        for value in node.values:
            coerce(value, kind, name, text)
    elif isinstance(node, R.Between):
        coerce(node.low, kind, name, text)
        coerce(node.high, kind, name, text)
    elif isinstance(node, R.DateCompare):
        if kind != "datetime":
            raise type_error(name, kind, node.value, text)
    elif isinstance(node, R.TextMatch):
        if kind not in ("category", "text"):
            raise type_error(name, kind, node.value, text)
    elif isinstance(node, R.Has):
        if kind not in ("category", "text"):
            raise type_error(name, kind, node.values[0], text)
    elif isinstance(node, (R.WithinLast, R.MoreThanAgo)):
        if kind != "datetime":
            raise type_error(name, kind, str(node.duration), text)
    elif isinstance(node, R.Anniversary):
        if kind != "datetime":
            raise type_error(name, kind, f"{node.days} days", text)
    elif isinstance(node, R.TopPercent):
        if kind not in ("number", "bool"):
            raise type_error(name, kind, f"top {node.percent}%", text)
    elif not isinstance(node, R.IsMissing):
        raise RuleEvaluationError(f"cannot evaluate {type(node).__name__} ({node})")
