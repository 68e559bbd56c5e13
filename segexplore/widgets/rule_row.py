"""One rule row of the segment builder: ``[not] field operator value [x]``.

Thin glue over :mod:`~segexplore.widgets.state.fields` (which operators fit which field),
:mod:`~segexplore.widgets.editors` (which value widget fits) and
:mod:`~segexplore.widgets.state.rows` (the row as a :class:`~segexplore.widgets.state.rows.RowSpec`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import ipywidgets as W
from traitlets import TraitError

from segexplore.errors import CannotShowError
from segexplore.rules import nodes as R
from segexplore.widgets.editors import FieldData, LiteralEditor, ValueEditor, make_editor
from segexplore.widgets.state.debounce import Quiet
from segexplore.widgets.state.fields import FieldOption, find_option, operators_for
from segexplore.widgets.state.rows import ADVANCED, RowSpec, row_to_rule

__all__ = ["RuleRow", "ADVANCED_KEY"]

#: Field dropdown value of an advanced row.
ADVANCED_KEY = "__advanced__"
_ADVANCED_OPTION = FieldOption(ADVANCED_KEY, "advanced: edit the rule text", "advanced",
                               "Advanced")

_DATE_OPS = {"within last", "more than ago", "before", "after", "anniversary within next"}
_NUMBER_OPS = {"<", "<=", ">", ">=", "in top %"}


def _guess_option(spec: RowSpec) -> FieldOption:
    """A dropdown entry for a field the base does not have (the rule was typed as text)."""
    key, op, value = spec.field or "", spec.op, spec.value
    if key.startswith("event:"):
        return FieldOption(key, key[6:], "event", "Event")
    if key.startswith("segment:"):
        return FieldOption(key, key[8:], "segment", "Segment")
    first = value[0] if isinstance(value, tuple) and value else value
    if op.startswith("has"):
        kind = "multi"
    elif op in _DATE_OPS or (op == "between" and not isinstance(first, (int, float))):
        kind = "date"
    elif op in _NUMBER_OPS or op == "between" or (
            isinstance(first, (int, float)) and not isinstance(first, bool)):
        kind = "numeric"
    elif op in ("is true", "is false"):
        kind = "boolean"
    else:
        kind = "text"
    return FieldOption(key, key, kind, "Unknown field")


class RuleRow(Quiet):
    """The widgets of one row and its :class:`RowSpec`.

    Parameters
    ----------
    data : FieldData
        Values, counts and bounds of the base's fields.
    options : list of FieldOption
        The field dropdown entries.
    on_change : callable
        Called with this row whenever the analyst changes it.
    on_remove : callable
        Called with this row when its remove button is clicked.
    """

    def __init__(self, data: FieldData, options: Sequence[FieldOption],
                 on_change: Callable[[RuleRow], None],
                 on_remove: Callable[[RuleRow], None]) -> None:
        self.data = data
        self.options = list(options)
        self._on_change = on_change
        self.negate = W.Checkbox(description="not", indent=False, layout=W.Layout(width="52px"))
        self.negate.add_class("se-row-not")
        self.field = W.Dropdown(options=self._labels(), layout=W.Layout(width="250px"))
        self.field.add_class("se-row-field")
        self.op = W.Dropdown(layout=W.Layout(width="150px"))
        self.op.add_class("se-row-op")
        self.remove_button = W.Button(description="×", tooltip="Remove this condition",
                                      layout=W.Layout(width="36px"))
        self.remove_button.add_class("se-row-remove")
        self.hint = W.HTML("")
        self.hint.add_class("se-row-hint")
        self.editor: ValueEditor = make_editor(None, ADVANCED, data)
        self.widget = W.HBox(layout=W.Layout(align_items="center", flex_flow="row wrap"))
        self.widget.add_class("se-row")
        self.negate.observe(lambda change: self._changed(), names="value")
        self.field.observe(self._field_changed, names="value")
        self.op.observe(self._op_changed, names="value")
        self.remove_button.on_click(lambda button: on_remove(self))

    # --- state --------------------------------------------------------------------------
    def spec(self) -> RowSpec:
        """The row as a :class:`RowSpec` (the value may be incomplete)."""
        if self.field.value == ADVANCED_KEY:
            return RowSpec(None, ADVANCED, self.editor.get())
        return RowSpec(self.field.value, self.op.value, self.editor.get(), self.negate.value)

    def rule(self) -> R.Rule:
        """The row's rule; raises IncompleteRowError, or another SegexploreError when the
        value does not fit the operator."""
        spec = self.spec()
        return row_to_rule(spec.field, spec.op, spec.value, negated=spec.negated)

    def option(self) -> FieldOption:
        """The selected field option."""
        if self.field.value == ADVANCED_KEY:
            return _ADVANCED_OPTION
        return find_option(self.options, self.field.value) or _ADVANCED_OPTION

    def set_spec(self, spec: RowSpec) -> None:
        """Show ``spec`` without notifying; raise :class:`~segexplore.errors.CannotShowError`
        if no editor fits."""
        with self._quietly():
            if spec.op == ADVANCED:
                self._ensure(_ADVANCED_OPTION)
                self.field.value = ADVANCED_KEY
                self._set_ops((ADVANCED,), ADVANCED)
                self.negate.value = False
                editor = make_editor(None, ADVANCED, self.data)
                editor.set(spec.value)
            else:
                option = find_option(self.options, spec.field) or _guess_option(spec)
                self._ensure(option)
                self.field.value = option.key
                ops = operators_for(option.kind)
                self._set_ops(ops if spec.op in ops else ops + (spec.op,), spec.op)
                self.negate.value = spec.negated
                editor = self._editor_for(option, spec)
            self._install(editor)

    def _editor_for(self, option: FieldOption, spec: RowSpec) -> ValueEditor:
        for make in (lambda: make_editor(option, spec.op, self.data), LiteralEditor):
            editor = make()
            try:
                editor.set(spec.value)
            except (TypeError, ValueError, TraitError):
                continue
            if editor.get() == spec.value or spec.value is None:
                return editor
        raise CannotShowError(f"cannot show {spec.op} {spec.value!r} as a row")

    def start(self, option: FieldOption) -> None:
        """Show ``option`` with its default operator and value, without notifying."""
        with self._quietly():
            self.field.value = option.key
            ops = operators_for(option.kind)
            self._set_ops(ops, ops[0])
            self._install(make_editor(option, ops[0], self.data))

    def reset(self, options: Sequence[FieldOption]) -> None:
        """Forget what the row's earlier condition left (the hint, field entries added for
        fields the base does not have), without notifying: then show another one, as a
        new row would (:meth:`set_spec`, :meth:`start`)."""
        self.show_hint("")
        if self.options != list(options):
            with self._quietly():
                self.options = list(options)
                self.field.options = self._labels()

    def set_options(self, options: Sequence[FieldOption]) -> None:
        """Replace the field dropdown's entries, keeping the selected one."""
        current = self.option()
        self.options = list(options)
        with self._quietly():
            if find_option(self.options, current.key) is None:
                self.options.append(current)
            self.field.options = self._labels()
            self.field.value = current.key

    def show_hint(self, text: str) -> None:
        """A short note next to the row ("choose a value", a value error...)."""
        self.hint.value = (f'<span style="color:#a15c00;font-size:0.9em">{text}</span>'
                           if text else "")

    # --- internals ----------------------------------------------------------------------
    def _labels(self) -> list[tuple[str, str]]:
        return [(option.label, option.key) for option in self.options]

    def _ensure(self, option: FieldOption) -> None:
        if find_option(self.options, option.key) is None:
            self.options.append(option)
            self.field.options = self._labels()

    def _set_ops(self, ops: Sequence[str], value: str) -> None:
        self.op.options = list(ops)
        self.op.value = value

    def _install(self, editor: ValueEditor) -> None:
        self.editor = editor
        editor.observe(self._changed)
        advanced = self.field.value == ADVANCED_KEY
        self.negate.layout.visibility = "hidden" if advanced else "visible"
        self.widget.children = [self.negate, self.field, self.op, editor.widget,
                                self.remove_button, self.hint]


    def _changed(self, *args: Any) -> None:
        if not self._quiet:
            self._on_change(self)

    def _field_changed(self, change: dict[str, Any]) -> None:
        if self._quiet:
            return
        option = self.option()
        if option.key == ADVANCED_KEY:
            return
        self.start(option)
        self._changed()

    def _op_changed(self, change: dict[str, Any]) -> None:
        if self._quiet:
            return
        with self._quietly():
            self._install(make_editor(self.option(), self.op.value, self.data))
        self._changed()
