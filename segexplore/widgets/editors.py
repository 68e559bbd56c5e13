"""Value editors: the widget in a rule row that holds the row's value.

Each editor wraps one displayed widget (CSS class ``se-row-value``) and offers
``get()`` / ``set(value)`` in the value types of :func:`~segexplore.widgets.state.rows.row_to_rule`,
and ``observe(callback)``. :func:`make_editor` picks the editor that fits a field kind and an
operator: a multi-select of the values with their counts for categories, a range slider
bounded by the data for ``between`` on numbers, a date picker or a duration for dates, the
event-condition editor for events...

``get()`` gives back exactly the value last passed to ``set()`` while the widget still shows
it, so reading the rows of a rule typed as text gives the same rule (``18.0`` stays
``18.0``, a date-time stays a date-time even though the date picker only shows the day).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

import ipywidgets as W

from segexplore.errors import ParameterError, ParameterTypeError, SchemaError
from segexplore.rules import nodes as R
from segexplore.rules.parser import parse
from segexplore.rules.text import TEXT_OPS, format_literal
from segexplore.widgets.state.fields import (
    EVENT_FILTER_PROPERTIES,
    FieldOption,
    choice_label,
    event_property_choices,
    numeric_bounds,
    pii_columns,
    value_choices,
)
from segexplore.widgets.state.rows import ADVANCED, EventValue

if TYPE_CHECKING:
    from segexplore.model.base import ContactBase

__all__ = ["FieldData", "ValueEditor", "make_editor", "default_value"]

_UNSET = object()
_NARROW = W.Layout(width="110px")


class FieldData:
    """Cached facts about the base's fields for the editors: values, counts, bounds.

    Parameters
    ----------
    base : ContactBase
    mask_pii : bool
        Never list the values of personal-data columns (see
        :func:`~segexplore.widgets.state.fields.pii_columns`).
    """

    def __init__(self, base: ContactBase, *, mask_pii: bool = False) -> None:
        self.base = base
        self.masked = pii_columns(base) if mask_pii else frozenset()
        self._choices: dict[str, list[tuple[Any, int]] | None] = {}
        self._bounds: dict[str, tuple[float, float, bool]] = {}
        self._event_choices: dict[tuple[str, str], list[tuple[Any, int]]] = {}

    def choices(self, name: str) -> list[tuple[Any, int]] | None:
        """``[(value, count), ...]`` of a field, or None when its values must not be listed."""
        if name in self.masked:
            return None
        if name not in self._choices:
            try:
                self._choices[name] = value_choices(self.base, name)
            except SchemaError:  # a field typed in the text that the base does not have
                self._choices[name] = None
        return self._choices[name]

    def bounds(self, name: str) -> tuple[float, float, bool]:
        """``(min, max, integer)`` of a numeric field."""
        if name not in self._bounds:
            try:
                self._bounds[name] = numeric_bounds(self.base, name)
            except SchemaError:
                self._bounds[name] = (0, 0, False)
        return self._bounds[name]

    def event_choices(self, event_type: str, prop: str) -> list[tuple[Any, int]]:
        """Values of an event property among events of one type, with counts."""
        key = (event_type, prop)
        if key not in self._event_choices:
            self._event_choices[key] = event_property_choices(self.base, event_type, prop)
        return self._event_choices[key]


def _number(value: Any) -> Any:
    """A float that is a whole number as an int (``20.0`` -> ``20``)."""
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        return int(value)
    return value


class ValueEditor:
    """Base class: one widget showing a row's value.

    Subclasses build ``self.widget`` and the list ``self.inputs`` of widgets whose
    ``value`` changes, and implement ``_read`` and ``_write``.
    """

    def __init__(self, widget: W.Widget, inputs: list[W.Widget]) -> None:
        self.widget = widget
        self.inputs = inputs
        widget.add_class("se-row-value")
        self._given: Any = _UNSET

    def get(self) -> Any:
        """The value shown (exactly the value set, if the widget still shows it)."""
        current = self._read()
        if self._given is not _UNSET and self._same(current, self._given):
            return self._given
        return current

    def set(self, value: Any) -> None:
        """Show ``value``; raise :class:`~segexplore.errors.ParameterTypeError` (or
        ``ParameterError``) if this editor cannot show it."""
        self._write(value)
        self._given = value

    def observe(self, callback: Callable[[], None]) -> None:
        """Call ``callback()`` whenever the analyst changes the value."""
        for widget in self.inputs:
            widget.observe(lambda change: callback(), names="value")

    def _same(self, shown: Any, given: Any) -> bool:
        return type(shown) is type(given) and shown == given or (
            isinstance(shown, (int, float)) and isinstance(given, (int, float))
            and not isinstance(given, bool) and shown == given)

    def _read(self) -> Any:
        return None

    def _write(self, value: Any) -> None:
        pass


class NoValueEditor(ValueEditor):
    """Operators without a value (``is missing``, ``is true``, ``in segment``)."""

    def __init__(self) -> None:
        super().__init__(W.HTML(""), [])


class MultiChoiceEditor(ValueEditor):
    """A multi-select of the values, labelled ``"Lyon (1,234)"``; the value is a tuple."""

    def __init__(self, choices: list[tuple[Any, int]]) -> None:
        self.select = W.SelectMultiple(options=[(choice_label(v, n), v) for v, n in choices],
                                       rows=min(6, max(2, len(choices))),
                                       layout=W.Layout(width="260px"))
        super().__init__(self.select, [self.select])

    def _read(self) -> tuple[Any, ...]:
        return tuple(self.select.value)

    def _write(self, value: Any) -> None:
        values = tuple(value) if isinstance(value, (list, tuple)) else (value,)
        known = {v for _, v in self.select.options}
        missing = [(choice_label(v, 0), v) for v in values if v not in known]
        if missing:
            self.select.options = list(self.select.options) + missing
        self.select.value = values

    def _same(self, shown: Any, given: Any) -> bool:
        return tuple(shown) == tuple(given)


class SingleChoiceEditor(ValueEditor):
    """A dropdown of the values with their counts (for ``=`` and ``!=``)."""

    def __init__(self, choices: list[tuple[Any, int]]) -> None:
        options = [(choice_label(v, n), v) for v, n in choices]
        self.select = W.Dropdown(options=options, value=options[0][1] if options else None,
                                 layout=W.Layout(width="220px"))
        super().__init__(self.select, [self.select])

    def _read(self) -> Any:
        return self.select.value

    def _write(self, value: Any) -> None:
        if value not in {v for _, v in self.select.options}:
            self.select.options = list(self.select.options) + [(choice_label(value, 0), value)]
        self.select.value = value


class TextEditor(ValueEditor):
    """Free text (``contains``, ``starts with``...); updates when the box loses focus."""

    def __init__(self, placeholder: str = "text") -> None:
        self.text = W.Text(placeholder=placeholder, continuous_update=False,
                           layout=W.Layout(width="220px"))
        super().__init__(self.text, [self.text])

    def _read(self) -> str:
        return self.text.value

    def _write(self, value: Any) -> None:
        if not isinstance(value, str):
            raise ParameterTypeError("text expected")
        self.text.value = value


class LiteralEditor(ValueEditor):
    """Any value written as in rules (``"Lyon"``, ``3``, ``2026-01-31``, ``true``).

    With ``many=True`` a list: ``"Lyon", "Paris"``. Used where no better widget fits, and
    for personal-data columns whose values are not listed.
    """

    def __init__(self, *, many: bool = False) -> None:
        self.many = many
        hint = '"a", "b"' if many else 'a value: "text", 3, 2026-01-31, true'
        self.text = W.Text(placeholder=hint, continuous_update=False,
                           layout=W.Layout(width="220px"))
        super().__init__(self.text, [self.text])

    def _read(self) -> Any:
        text = self.text.value.strip()
        if not text:
            return () if self.many else None
        rule = parse(f"x in ({text})" if self.many else f"x = {text}")
        return rule.values if self.many else rule.value

    def _write(self, value: Any) -> None:
        if self.many:
            values = tuple(value) if isinstance(value, (list, tuple)) else (value,)
            self.text.value = ", ".join(format_literal(v) for v in values)
        else:
            self.text.value = format_literal(value)

    def _same(self, shown: Any, given: Any) -> bool:
        if self.many:
            return tuple(shown) == tuple(given)
        return super()._same(shown, given)


class NumberEditor(ValueEditor):
    """A number box (whole numbers come back as ``int``)."""

    def __init__(self, default: float = 0) -> None:
        self.number = W.FloatText(value=default, layout=_NARROW)
        super().__init__(self.number, [self.number])

    def _read(self) -> Any:
        return _number(self.number.value)

    def _write(self, value: Any) -> None:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ParameterTypeError("number expected")
        self.number.value = value


class PercentEditor(NumberEditor):
    """The percentage of ``in top %`` (0-100]."""

    def __init__(self) -> None:
        super().__init__(10)
        self.number.description = "%"
        self.number.style.description_width = "12px"

    def _read(self) -> Any:
        return float(self.number.value)


class RangeEditor(ValueEditor):
    """A range slider whose bounds come from the data; the value is ``(low, high)``."""

    def __init__(self, low: float, high: float, integer: bool) -> None:
        if integer:
            self.slider = W.IntRangeSlider(min=int(low), max=int(high), value=(int(low), int(high)),
                                           continuous_update=False)
        else:
            step = (high - low) / 100 if high > low else 1.0
            self.slider = W.FloatRangeSlider(min=low, max=high, step=step, value=(low, high),
                                             continuous_update=False, readout_format=".4g")
        self.slider.layout = W.Layout(width="320px")
        super().__init__(self.slider, [self.slider])

    def _read(self) -> tuple[Any, Any]:
        low, high = self.slider.value
        return _number(low), _number(high)

    def _write(self, value: Any) -> None:
        low, high = value
        for bound in (low, high):
            if isinstance(bound, bool) or not isinstance(bound, (int, float)):
                raise ParameterTypeError("numbers expected")
        if isinstance(self.slider, W.IntRangeSlider) and not (
                float(low).is_integer() and float(high).is_integer()):
            raise ParameterTypeError("whole numbers expected")
        self.slider.max = max(self.slider.max, high)
        self.slider.min = min(self.slider.min, low)
        self.slider.value = (low, high)

    def _same(self, shown: Any, given: Any) -> bool:
        return tuple(shown) == tuple(given)


class DurationEditor(ValueEditor):
    """``30 days`` as a number and a unit; the value is a :class:`~segexplore.rules.nodes.Duration`."""

    def __init__(self, amount: int = 30) -> None:
        self.amount = W.BoundedIntText(value=amount, min=1, max=100_000, layout=_NARROW)
        self.unit = W.Dropdown(options=["days", "weeks", "months", "hours"], value="days",
                               layout=W.Layout(width="100px"))
        super().__init__(W.HBox([self.amount, self.unit]), [self.amount, self.unit])

    def _read(self) -> R.Duration:
        return R.Duration(self.amount.value, self.unit.value)

    def _write(self, value: Any) -> None:
        duration = value if isinstance(value, R.Duration) else R.Duration(value, "days")
        self.amount.value = duration.amount
        self.unit.value = duration.unit


def _as_date(value: Any) -> date:
    if not isinstance(value, date):
        raise ParameterTypeError("date expected")
    return value.date() if isinstance(value, datetime) else value


def _same_day(shown: Any, given: Any) -> bool:
    return shown is not None and isinstance(given, date) and shown == _as_date(given)


class DateEditor(ValueEditor):
    """An absolute date (``before``/``after``)."""

    def __init__(self) -> None:
        self.picker = W.DatePicker(layout=W.Layout(width="170px"))
        super().__init__(self.picker, [self.picker])

    def _read(self) -> date | None:
        return self.picker.value

    def _write(self, value: Any) -> None:
        self.picker.value = _as_date(value)

    def _same(self, shown: Any, given: Any) -> bool:
        return _same_day(shown, given)


class DateRangeEditor(ValueEditor):
    """Two dates (``between``); the value is ``(start, end)`` or None until both are set."""

    def __init__(self) -> None:
        self.start = W.DatePicker(layout=W.Layout(width="170px"))
        self.end = W.DatePicker(layout=W.Layout(width="170px"))
        super().__init__(W.HBox([self.start, W.HTML("&nbsp;and&nbsp;"), self.end]),
                         [self.start, self.end])

    def _read(self) -> tuple[date, date] | None:
        if self.start.value is None or self.end.value is None:
            return None
        return self.start.value, self.end.value

    def _write(self, value: Any) -> None:
        start, end = value
        self.start.value, self.end.value = _as_date(start), _as_date(end)

    def _same(self, shown: Any, given: Any) -> bool:
        return shown is not None and all(_same_day(s, g) for s, g in zip(shown, given,
                                                                         strict=True))


class DaysEditor(ValueEditor):
    """A number of days from 0 (``anniversary within next``)."""

    def __init__(self, days: int = 7) -> None:
        self.days = W.BoundedIntText(value=days, min=0, max=366, layout=_NARROW,
                                     description="days", style={"description_width": "35px"})
        super().__init__(self.days, [self.days])

    def _read(self) -> int:
        return self.days.value

    def _write(self, value: Any) -> None:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ParameterTypeError("whole number expected")
        self.days.value = value


#: The "any brand" / "any category" choice of an event filter.
_ANY = ""


class EventEditor(ValueEditor):
    """The event condition: count, window in days (0 = all time), brand/category filters.

    The comparison is the row's operator (``count >=``...), the event type its field.
    """

    def __init__(self, data: FieldData, event_type: str) -> None:
        self.count = W.BoundedIntText(value=1, min=0, max=1_000_000, layout=W.Layout(width="80px"))
        self.count.add_class("se-event-count")
        self.days = W.BoundedIntText(value=30, min=0, max=100_000, layout=W.Layout(width="80px"),
                                     tooltip="0 = all time")
        self.days.add_class("se-event-days")
        self.filters: dict[str, W.Dropdown] = {}
        for prop in EVENT_FILTER_PROPERTIES:
            choices = data.event_choices(event_type, prop)
            if choices:
                # "any" is "", not None: a Dropdown whose value is None shows nothing
                dropdown = W.Dropdown(
                    options=[(f"any {prop}", _ANY)] + [(choice_label(v, n), v)
                                                      for v, n in choices],
                    value=_ANY, layout=W.Layout(width="170px"))
                dropdown.add_class(f"se-event-filter-{prop}")
                self.filters[prop] = dropdown
        parts = [self.count, W.HTML("&nbsp;times in the last&nbsp;"), self.days,
                 W.HTML("&nbsp;days (0 = all time)&nbsp;")]
        if self.filters:
            parts += [W.HTML("&nbsp;of&nbsp;"), *self.filters.values()]
        inputs = [self.count, self.days, *self.filters.values()]
        super().__init__(W.HBox(parts), inputs)

    def _read(self) -> EventValue:
        filters = tuple((prop, dropdown.value) for prop, dropdown in self.filters.items()
                        if dropdown.value not in (None, _ANY))
        return EventValue(self.count.value, self.days.value or None, filters)

    def _write(self, value: Any) -> None:
        if not isinstance(value, EventValue):
            raise ParameterTypeError("EventValue expected")
        unknown = [prop for prop, _ in value.filters if prop not in self.filters]
        if unknown:
            raise ParameterError(f"no filter on {unknown[0]!r} for this event type")
        self.count.value = value.count
        self.days.value = value.days or 0
        wanted = dict(value.filters)
        for prop, dropdown in self.filters.items():
            choice = wanted.get(prop)
            if choice is not None and choice not in {v for _, v in dropdown.options}:
                dropdown.options = list(dropdown.options) + [(choice_label(choice, 0), choice)]
            dropdown.value = _ANY if choice is None else choice

    def _same(self, shown: Any, given: Any) -> bool:
        return (shown.count == given.count and shown.days == given.days
                and dict(shown.filters) == dict(given.filters))


class AdvancedEditor(ValueEditor):
    """A part of the rule that rows cannot show: its text, read-only (edit the text box)."""

    def __init__(self) -> None:
        self.text = W.Text(disabled=True, layout=W.Layout(width="420px"))
        super().__init__(self.text, [])

    def _read(self) -> Any:
        return self._given if self._given is not _UNSET else None

    def _write(self, value: Any) -> None:
        if not isinstance(value, R.Rule):
            raise ParameterTypeError("rule expected")
        self.text.value = str(value)


def make_editor(option: FieldOption | None, op: str, data: FieldData) -> ValueEditor:
    """The editor that fits a field and an operator, showing its default value."""
    if op == ADVANCED or option is None:
        return AdvancedEditor()
    kind, name = option.kind, option.name
    if op in ("is missing", "is not missing", "is true", "is false", "in segment"):
        return NoValueEditor()
    if kind == "event":
        return EventEditor(data, name)
    if op in ("in", "not in", "has any", "has all", "has none"):
        choices = data.choices(name) if kind in ("categorical", "multi", "boolean") else None
        return MultiChoiceEditor(choices) if choices is not None else LiteralEditor(many=True)
    if op in TEXT_OPS:
        return TextEditor()
    if op in ("=", "!=") and kind == "categorical":
        choices = data.choices(name)
        return SingleChoiceEditor(choices) if choices else LiteralEditor()
    if op in ("=", "!=") and kind == "text":
        return TextEditor("exact text")
    if kind == "numeric":
        if op == "between":
            return RangeEditor(*data.bounds(name))
        if op == "in top %":
            return PercentEditor()
        if op in ("=", "!=", "<", "<=", ">", ">="):
            return NumberEditor(default_value(data, option, op))
    if kind == "date":
        if op in ("within last", "more than ago"):
            return DurationEditor(30 if op == "within last" else 90)
        if op in ("before", "after"):
            return DateEditor()
        if op == "between":
            return DateRangeEditor()
        if op == "anniversary within next":
            return DaysEditor()
    return LiteralEditor()


def default_value(data: FieldData, option: FieldOption, op: str) -> Any:
    """A sensible starting value: the middle of a numeric field's range for comparisons."""
    if option.kind == "numeric" and op in ("=", "!=", "<", "<=", ">", ">="):
        low, high, integer = data.bounds(option.name)
        middle = (low + high) / 2
        return int(round(middle)) if integer else _number(round(middle, 2))
    return None
