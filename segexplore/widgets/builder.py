"""The segment builder: rule rows, the rule's text, the live size and distribution charts.

One source of truth, the :class:`~segexplore.rules.nodes.Rule` in ``builder.rule``:

- changing a row rebuilds the rule from the rows (:func:`~segexplore.widgets.state.rows.rows_to_rule`)
  and rewrites the text box with its canonical text;
- editing the text box (applied when it loses focus) parses the text with
  :func:`segexplore.parse` and rebuilds the rows (:func:`~segexplore.widgets.state.rows.rule_to_rows`);
  a half-typed rule shows its error and the position inline, and the rows stay as they were;
- every change re-counts the segment and shows its size at once (a count is a few
  milliseconds), with a did-you-mean hint for a value that matches nobody
  (:func:`~segexplore.rules.hints.value_hints`); the distribution charts are redrawn
  after ``debounce`` seconds of quiet, or at once when their counts came with the size
  (a DuckDB base: one query counts both, so a burst of changes has nothing to save);
- once the rule differs from the one just saved, the name box clears and the status says
  the rule is unsaved, so nothing (status, legends, Save) passes it off as the saved
  segment; saving a different rule under an existing name asks first (Replace / Cancel).

Examples
--------
>>> import segexplore as se
>>> base = se.load_sample()
>>> builder = SegmentBuilder(base, rule='device = "Android"', debounce=0)
>>> builder.size == base.segment('device = "Android"').size
True
>>> builder.rows[0].op.value = "in"
>>> builder.rows[0].editor.widget.value = ("Android", "iOS")
>>> builder.rule_text.value
'device in ("Android", "iOS")'
"""

from __future__ import annotations

import threading
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from html import escape
from typing import TYPE_CHECKING, Any

import ipywidgets as W
import numpy as np

from segexplore.display.numbers import format_count, resolve_locale
from segexplore.errors import (
    CannotShowError,
    IncompleteRowError,
    RuleSyntaxError,
    RuleValueWarning,
    SegexploreError,
)
from segexplore.rules import nodes as R
from segexplore.rules.parser import parse
from segexplore.widgets.display import error_html, message_html, size_html
from segexplore.widgets.editors import FieldData
from segexplore.widgets.lookup import ContactLookup
from segexplore.widgets.plot import FigureView, distribution_figure, update_distribution_figure
from segexplore.widgets.rule_row import RuleRow
from segexplore.widgets.state.debounce import Debouncer, Quiet
from segexplore.widgets.state.distribution import Breakdowns
from segexplore.widgets.state.fields import (
    FieldOption,
    field_options,
    flat_options,
    pii_columns,
    rule_hints,
)
from segexplore.widgets.state.rows import RowGroup, RowSpec, rule_to_rows

if TYPE_CHECKING:
    from segexplore.model.base import ContactBase
    from segexplore.model.segments import Segment

__all__ = ["SegmentBuilder", "MAX_CHARTS"]

#: At most this many distribution charts under the builder.
MAX_CHARTS = 3

_NO_PARENT = "(whole base)"


class SegmentBuilder(Quiet, W.VBox):
    """Build a segment from rule rows or rule text, and see its size and profile live.

    Parameters
    ----------
    base : ContactBase
    rule : Rule or str, optional
        The rule to start from.
    mask_pii : bool
        Never list values of personal-data columns (names, emails...) in the value widgets.
    debounce : float
        Seconds of quiet before redrawing the charts (0: at once, as tests use). The size
        is always updated at once, and so are the charts whose counts came with it (on a
        DuckDB base).
    chart_attributes : list of str, optional
        The attributes charted at first (default: two categorical attributes of the base).
    draw_charts : bool
        False: draw no chart until :meth:`show_charts` is called (the explorer calls it
        when its Build tab is first opened, so a hidden tab costs nothing).
    max_charts : int
        At most this many charts (default :data:`MAX_CHARTS`).
    locale : {"en", "fr"}, optional
        How the size is written (``1,334`` / ``6.7%`` or ``1 334`` / ``6,7 %``); default:
        French when the base is French (:func:`segexplore.display.numbers.base_locale`).

    Attributes
    ----------
    rule : Rule or None
        The current rule (None when no row is complete and the text is empty).
    rows : list of RuleRow
    lookup : ContactLookup
        The "Why is this contact in?" box: the rule explained for one contact.
    size : int
        Members of the current segment after the latest count.
    mask : numpy.ndarray
        Their membership, one boolean per contact (on a DuckDB base fetched when read:
        the builder itself counts in DuckDB).
    """

    def __init__(self, base: ContactBase, *, rule: R.Rule | str | None = None,
                 mask_pii: bool = False, debounce: float = 0.15,
                 chart_attributes: list[str] | None = None, draw_charts: bool = True,
                 max_charts: int = MAX_CHARTS, locale: str | None = None) -> None:
        super().__init__()
        self.add_class("se-builder")
        self.base = base
        self.locale = resolve_locale(locale, base)
        self.max_charts = max_charts
        self.data = FieldData(base, mask_pii=mask_pii)
        self.rule: R.Rule | None = None
        self.rows: list[RuleRow] = []
        #: Sizes and distribution tables, counted by the base's engine.
        self._breakdowns = Breakdowns(base)
        self.size = self._breakdowns.total
        self._options = flat_options(field_options(base))
        self._listeners: list[Callable[[SegmentBuilder], None]] = []
        self._saved_listeners: list[Callable[[Segment], None]] = []
        self._lock = threading.RLock()
        self._text_error: Exception | None = None
        #: The segment last saved from here: while the rule is still its rule, the name box
        #: and the status show it; once the rule differs, they say the rule is unsaved.
        self._saved: Segment | None = None
        #: The name a Replace click would save over (the question being asked), or None.
        self._pending_replace: str | None = None
        self._figures: dict[str, Any] = {}
        self._draw_charts = draw_charts
        self._build_widgets(chart_attributes)
        self._debouncer = Debouncer(debounce, self._update_charts)
        if rule is not None:
            self.set_text(rule if isinstance(rule, str) else str(rule))
        if not self.rows:  # no rule, or a rule text with an error
            self.add_row()
            self._evaluate()

    # --- layout -------------------------------------------------------------------------
    def _build_widgets(self, chart_attributes: list[str] | None) -> None:
        self.parent_select = W.Dropdown(description="Inside", options=self._parent_options(),
                                        value=_NO_PARENT, layout=W.Layout(width="320px"))
        self.parent_select.add_class("se-parent")
        self.combine = W.ToggleButtons(options=[("AND", "and"), ("OR", "or")], value="and",
                                       tooltips=["contacts matching all the conditions",
                                                 "contacts matching any condition"],
                                       style={"button_width": "60px"})
        self.combine.add_class("se-combine")
        self.rows_box = W.VBox()
        self.rows_box.add_class("se-rows")
        self.add_button = W.Button(description="+ Add condition")
        self.add_button.add_class("se-add-row")
        self.advanced_note = W.HTML("")
        self.advanced_note.add_class("se-advanced-note")
        self.rule_text = W.Textarea(placeholder='e.g. city = "Lyon" and count(visit, last 30 '
                                                'days) >= 5', continuous_update=False,
                                    layout=W.Layout(width="100%", height="70px"))
        self.rule_text.add_class("se-rule-text")
        self.apply_button = W.Button(description="Apply text", tooltip="Read the rule text")
        self.apply_button.add_class("se-rule-apply")
        self.error = W.HTML("")
        self.error.add_class("se-error")
        self.size_display = W.HTML("")
        self.size_display.add_class("se-size")
        self.name = W.Text(placeholder="segment name", layout=W.Layout(width="260px"))
        self.name.add_class("se-segment-name")
        self.save_button = W.Button(description="Save segment",
                                    button_style="primary")
        self.save_button.add_class("se-save")
        self.save_status = W.HTML("")
        self.save_status.add_class("se-save-status")
        self.confirm_text = W.HTML("")
        self.confirm_text.add_class("se-save-confirm-text")
        self.replace_button = W.Button(description="Replace", button_style="warning",
                                       tooltip="Save this rule under the name, replacing "
                                               "the saved segment")
        self.replace_button.add_class("se-save-replace")
        self.cancel_button = W.Button(description="Cancel", tooltip="Keep the saved segment")
        self.cancel_button.add_class("se-save-cancel")
        self.confirm_box = W.HBox([self.confirm_text, self.replace_button, self.cancel_button],
                                  layout=W.Layout(display="none", align_items="center"))
        self.confirm_box.add_class("se-save-confirm")
        self.value_hints = W.HTML("")
        self.value_hints.add_class("se-value-hints")
        self.lookup = ContactLookup(self.checked_segment, personal=self.data.masked,
                                    locale=self.locale)
        self.on_change(lambda builder: self.lookup.rule_changed())
        chartable = [o.name for o in self._options if o.group in ("Attribute", "Feature")
                     and o.kind != "text" and o.name not in self.data.masked]
        chosen = [a for a in (chart_attributes or self._default_charts()) if a in chartable]
        self.chart_fields = W.SelectMultiple(options=chartable, value=chosen[:self.max_charts],
                                             rows=5, description="Charts",
                                             layout=W.Layout(width="320px"))
        self.chart_fields.add_class("se-build-chart-fields")
        # the list shows 5 rows: say which fields are charted, even when scrolled out of view
        self.charted = W.HTML(self._charted_text())
        self.charted.add_class("se-build-charted")
        self.charts = W.HBox(layout=W.Layout(flex_flow="row wrap"))
        self.charts.add_class("se-build-charts")
        self.children = [
            W.HBox([self.parent_select, W.HTML("&nbsp;&nbsp;match&nbsp;"), self.combine]),
            self.rows_box, W.HBox([self.add_button]), self.advanced_note,
            W.HTML("<b>Rule</b> (edit the text and click outside the box, or Apply)"),
            self.rule_text, self.apply_button, self.error, self.size_display,
            self.value_hints,
            W.HBox([self.name, self.save_button, self.save_status]), self.confirm_box,
            W.HTML("<b>Why is this contact in?</b> (an email or a contact id)"), self.lookup,
            W.HTML("<b>Distribution inside the segment vs the whole base</b> "
                   f"(pick up to {self.max_charts})"),
            W.HBox([self.chart_fields, self.charted], layout=W.Layout(align_items="center")),
            self.charts,
        ]
        self.add_button.on_click(lambda button: self.add_row())
        self.apply_button.on_click(lambda button: self._apply_text(self.rule_text.value))
        self.rule_text.observe(self._text_changed, names="value")
        self.combine.observe(lambda change: self._rows_changed(), names="value")
        self.parent_select.observe(lambda change: self._parent_changed(), names="value")
        self.save_button.on_click(lambda button: self.save())
        self.replace_button.on_click(lambda button: self._replace())
        self.cancel_button.on_click(lambda button: self._cancel_replace())
        self.name.observe(lambda change: self._hide_question(), names="value")
        self.chart_fields.observe(lambda change: self._update_charts(), names="value")
        self.chart_fields.observe(
            lambda change: setattr(self.charted, "value", self._charted_text()), names="value")

    def _charted_text(self) -> str:
        shown = list(self.chart_fields.value)[:self.max_charts]
        names = ", ".join(f"<b>{escape(name)}</b>" for name in shown) or "none"
        return f'<span style="color:#555">&nbsp;&nbsp;Charted: {names}</span>'

    def _default_charts(self) -> list[str]:
        personal = pii_columns(self.base)
        picks = []
        for option in self._options:
            if option.group == "Attribute" and option.kind == "categorical" \
                    and option.name not in personal:
                choices = self.data.choices(option.name) or []
                if 2 <= len(choices) <= 40:
                    picks.append(option.name)
                    if len(picks) == 2:
                        break
        return picks

    def _parent_options(self) -> list[str]:
        return [_NO_PARENT, *self.base.segments]

    # --- rows ---------------------------------------------------------------------------
    def add_row(self, spec: RowSpec | None = None) -> RuleRow:
        """Add a row (a fresh one, or showing ``spec``) and return it."""
        row = self._showing(None, spec)
        self.rows.append(row)
        self.rows_box.children = [r.widget for r in self.rows]
        return row

    def _showing(self, row: RuleRow | None, spec: RowSpec | None) -> RuleRow:
        """``row`` (a new one when None) showing ``spec`` (None: the first field, no value)."""
        if row is None:
            row = RuleRow(self.data, self._options, self._row_changed, self.remove_row)
        else:
            row.reset(self._options)
        if spec is None:
            row.start(self._first_option())
            row.show_hint("choose a value")
        else:
            try:
                row.set_spec(spec)
            except CannotShowError:
                from segexplore.widgets.state.rows import row_to_rule

                rule = row_to_rule(spec.field, spec.op, spec.value, negated=spec.negated)
                row.set_spec(RowSpec(None, "advanced", rule))
        return row

    def _first_option(self) -> FieldOption:
        personal = pii_columns(self.base)
        for option in self._options:
            if option.group == "Attribute" and option.kind == "categorical" \
                    and option.name not in personal:
                return option
        return self._options[0]

    def remove_row(self, row: RuleRow) -> None:
        """Remove a row and update the rule."""
        if row in self.rows:
            self.rows.remove(row)
            self.rows_box.children = [r.widget for r in self.rows]
            self._rows_changed()

    def _row_changed(self, row: RuleRow) -> None:
        self._rows_changed()

    def _rows_changed(self) -> None:
        if self._quiet:
            return
        rules = []
        for row in self.rows:
            try:
                rules.append(row.rule())
                row.show_hint("")
            except IncompleteRowError as incomplete:
                row.show_hint(str(incomplete))
            except SegexploreError as problem:
                row.show_hint(str(problem).split("\n", 1)[0])
        if not rules:
            rule = None
        elif len(rules) == 1:
            rule = rules[0]
        else:
            rule = R.Or(*rules) if self.combine.value == "or" else R.And(*rules)
        self._text_error = None
        self._set_text_quietly(str(rule) if rule is not None else "")
        self._set_rule(rule)

    def _show_rows(self, group: RowGroup) -> None:
        with self._quietly():
            # the rows shown show the new rule's (their widgets kept: a rule typed as text
            # rebuilds no row), then new rows for the rest
            shown = self.rows
            self.rows = [self._showing(shown[i] if i < len(shown) else None, spec)
                         for i, spec in enumerate(group)]
            self.rows_box.children = [r.widget for r in self.rows]
            if len(group) > 1:
                self.combine.value = group.combine
        self.advanced_note.value = (message_html(
            "Part of this rule cannot be shown as rows: edit it in the text box.",
            kind="warning") if group.advanced else "")

    # --- text ---------------------------------------------------------------------------
    def set_text(self, text: str) -> None:
        """Put ``text`` in the rule box and apply it (as if the analyst typed it)."""
        if self.rule_text.value == text:
            self._apply_text(text)
        else:
            self.rule_text.value = text

    def open_segment(self, name: str) -> None:
        """Show the saved segment ``name`` to edit: its parent, its own rule and its name
        (saving it again unchanged keeps it; a changed rule asks before replacing it)."""
        segment = self.base.segments[name]
        self._saved = segment  # so the status line says it is the saved one
        parent = segment.parent.name if segment.parent is not None else _NO_PARENT
        self.parent_select.value = parent
        self.name.value = name
        self.set_text(str(segment.rule))

    def _text_changed(self, change: dict[str, Any]) -> None:
        if not self._quiet:
            self._apply_text(change["new"])

    def _apply_text(self, text: str) -> None:
        if not text.strip():
            rule = None
        else:
            try:
                rule = parse(text)
            except RuleSyntaxError as error:
                self._text_error = error
                self.error.value = error_html(error)
                self.size_display.value = size_html(self.size, self._breakdowns.total,
                                                    stale=True, locale=self.locale)
                return
        self._text_error = None
        self._show_rows(rule_to_rows(rule))
        self._set_text_quietly(str(rule) if rule is not None else "")
        self._set_rule(rule)

    def _set_text_quietly(self, text: str) -> None:
        with self._quietly():
            self.rule_text.value = text


    # --- evaluation ---------------------------------------------------------------------
    def _set_rule(self, rule: R.Rule | None) -> None:
        self.rule = rule
        self._rule_edited()
        self._schedule()

    def _parent_changed(self) -> None:
        self._rule_edited()
        self._schedule()

    def _rule_edited(self) -> None:
        """After the rule or the parent changed: say whether this is the saved segment.

        Runs before the count and the chart redraw, so the legends read the name box as
        it is for the new rule.
        """
        self._hide_question()
        saved = self._saved
        if saved is None:
            return
        if self.base.segments.get(saved.name) is not saved:  # replaced or removed since
            self._saved = None
            return
        if self._is_saved_as(saved):
            if not self.name.value.strip():
                self.name.value = saved.name
            if self.name.value.strip() == saved.name:
                self.save_status.value = _saved_html(saved, self.locale)
            return
        if self.name.value.strip() == saved.name:
            self.name.value = ""
        self.save_status.value = message_html(
            f"Unsaved rule: “{saved.name}” is kept as saved ({_size_of(saved, self.locale)}). "
            "Name this rule to save it.", kind="info")

    def _is_saved_as(self, segment: Segment) -> bool:
        """True when the rule and parent being edited are ``segment``'s."""
        parent = segment.parent.name if segment.parent is not None else _NO_PARENT
        return self.rule is not None and self.rule == segment.rule \
            and self.parent_select.value == parent

    def _schedule(self) -> None:
        if self._count():
            if self._breakdowns.counted(self._charted_fields()):
                # the charts' counts came with the size: nothing left to wait for
                self._debouncer.cancel()
                self._update_charts()
            else:
                self._debouncer()

    def flush(self) -> None:
        """Redraw the charts now if a (debounced) redraw is pending."""
        self._debouncer.flush()

    def show_charts(self) -> None:
        """Start drawing the charts (at once), if they were held back (``draw_charts``)."""
        if not self._draw_charts:
            self._draw_charts = True
            self._update_charts()

    def parent(self) -> Segment | None:
        """The saved segment chosen as parent, or None."""
        name = self.parent_select.value
        return self.base.segments.get(name) if name and name != _NO_PARENT else None

    def segment(self) -> Segment | None:
        """The current segment (not saved), or the parent / None when there is no rule."""
        parent = self.parent()
        if self.rule is None:
            return parent
        name = self.name.value.strip() or None
        with _no_value_warnings():
            return self.base.segment(self.rule, name=name, parent=parent, save=False)

    def checked_segment(self) -> Segment | None:
        """:meth:`segment`, or the rule text's error raised while the text has one (the
        rows then still hold the rule before it)."""
        if self._text_error is not None:
            raise self._text_error
        return self.segment()

    def _evaluate(self) -> None:
        """Count the current segment and redraw the charts, now."""
        if self._count():
            self._debouncer.cancel()
            self._update_charts()

    def _count(self) -> bool:
        """Count the current segment and show its size; False when it cannot be counted."""
        with self._lock:
            total = self._breakdowns.total
            try:
                segment = self.segment()
                # the charts' counts come with the size (one query on DuckDB)
                size = self._breakdowns.size(segment, self._charted_fields())
            except SegexploreError as error:
                self.error.value = error_html(error)
                self.size_display.value = size_html(self.size, total, stale=True,
                                                    locale=self.locale)
                return False
            except Exception as error:  # never a traceback in the page
                self.error.value = error_html(f"unexpected error: {error}")
                return False
            self.size = size
            if self._text_error is None:
                self.error.value = ""
            self.value_hints.value = self._hints_html(segment)
            parent = self.parent()
            self.size_display.value = size_html(
                self.size, total, parent=parent.name if parent is not None else None,
                parent_size=parent.size if parent is not None else None, locale=self.locale)
            for listener in list(self._listeners):
                listener(self)
            return True

    def _hints_html(self, segment: Segment | None) -> str:
        """Did-you-mean warnings for the rule's values that match nobody ("" when none)."""
        if segment is None or self.rule is None:
            return ""
        try:
            hints = rule_hints(segment.effective_rule, self.base)
        except Exception:  # a hint is a courtesy: it never stops the count
            return ""
        return "".join(message_html(hint, kind="warning") for hint in hints)

    def _update_charts(self) -> None:
        """Redraw the distribution charts of the latest count (figures updated in place)."""
        if not self._draw_charts:
            return
        with self._lock:
            label = self.name.value.strip() or "segment"
            figures = []
            try:
                tables = self._breakdowns.tables(self._charted_fields())
            except SegexploreError as error:  # the rule cannot be counted: say so, no charts
                self.error.value = error_html(error)
                tables = {}
            for attribute, table in tables.items():
                if isinstance(table, SegexploreError):
                    continue
                figure = self._figures.get(attribute)
                if figure is None:
                    figure = self._figures[attribute] = FigureView(
                        distribution_figure(table, attribute, segment_label=label))
                else:
                    update_distribution_figure(figure, table, attribute, segment_label=label)
                figures.append(figure)
            if list(self.charts.children) != figures:
                self.charts.children = figures

    def _charted_fields(self) -> list[str]:
        """The attributes charted now (none while the charts are held back)."""
        return list(self.chart_fields.value)[:self.max_charts] if self._draw_charts else []

    @property
    def mask(self) -> np.ndarray:
        """Membership of the latest counted segment, one boolean per contact."""
        return self._breakdowns.mask

    def on_change(self, callback: Callable[[SegmentBuilder], None]) -> None:
        """Call ``callback(builder)`` after every count of the current segment."""
        self._listeners.append(callback)

    def on_saved(self, callback: Callable[[Segment], None]) -> None:
        """Call ``callback(segment)`` after a segment is saved."""
        self._saved_listeners.append(callback)

    # --- saving -------------------------------------------------------------------------
    def save(self, name: str | None = None, *, replace: bool = False) -> Segment | None:
        """Register the current rule as a saved segment in ``base.segments``.

        Parameters
        ----------
        name : str, optional
            Default: the name box.
        replace : bool, default False
            Save over a saved segment of that name with a different rule (or parent).
            Without it, the builder asks first (Replace / Cancel under the name box) and
            saves nothing, so a new rule never silently takes an existing name.

        Returns
        -------
        Segment or None
            None (with the reason in the status line) when there is no name, no rule, the
            rule cannot be counted, or the name is taken by another rule and ``replace`` is
            False.
        """
        name = (name if name is not None else self.name.value).strip()
        self._hide_question()
        if not name:
            self.save_status.value = message_html("Give the segment a name first.", kind="warning")
            return None
        if self.rule is None:
            self.save_status.value = message_html("Add a condition first.", kind="warning")
            return None
        if name in self.rule.segment_refs():
            self.save_status.value = message_html(
                f"A segment cannot refer to itself: rename it or remove segment({name!r}).",
                kind="warning")
            return None
        try:
            with _no_value_warnings():
                trial = self.base.segment(self.rule, name=name, parent=self.parent(),
                                          save=False)
                size = trial.size  # counts it: a rule that cannot be counted is not saved
                existing = self.base.segments.get(name)
                if existing is not None and not replace and not self._is_saved_as(existing):
                    self._ask_replace(name, existing, size)
                    return None
                segment = self.base.segment(self.rule, name=name, parent=self.parent())
        except SegexploreError as error:
            self.save_status.value = error_html(error)
            return None
        self._saved = segment
        self.save_status.value = _saved_html(segment, self.locale)
        self.refresh_fields()
        self._update_charts()  # the legends now carry the saved name
        for listener in list(self._saved_listeners):
            listener(segment)
        return segment

    def _ask_replace(self, name: str, existing: Segment, size: int) -> None:
        self._pending_replace = name
        self.confirm_text.value = message_html(
            f"Replace “{name}” ({_size_of(existing, self.locale)}) with this rule "
            f"({format_count(size, self.locale)} {'contact' if size == 1 else 'contacts'})?",
            kind="warning")
        self.confirm_box.layout.display = "flex"
        self.save_status.value = ""

    def _replace(self) -> None:
        name = self._pending_replace
        if name is not None:
            self.save(name, replace=True)

    def _cancel_replace(self) -> None:
        name = self._pending_replace
        self._hide_question()
        existing = self.base.segments.get(name) if name is not None else None
        if existing is not None:
            self.save_status.value = message_html(
                f"Not saved: “{name}” keeps its rule ({_size_of(existing, self.locale)}).",
                kind="info")

    def _hide_question(self) -> None:
        """Withdraw the Replace / Cancel question (it was about another rule or name)."""
        if self._pending_replace is not None:
            self._pending_replace = None
            self.confirm_box.layout.display = "none"
            self.confirm_text.value = ""

    def refresh_fields(self) -> None:
        """Re-read the saved segments into the field and parent dropdowns."""
        self._options = flat_options(field_options(self.base))
        for row in self.rows:
            row.set_options(self._options)
        with self._quietly():
            current = self.parent_select.value
            self.parent_select.options = self._parent_options()
            self.parent_select.value = current if current in self.base.segments else _NO_PARENT


@contextmanager
def _no_value_warnings() -> Iterator[None]:
    """Silence :class:`RuleValueWarning` while the builder makes segments: it shows the same
    hints beside the size (:meth:`SegmentBuilder._hints_html`), once, not as a warning
    printed on every keystroke into the kernel's log."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=RuleValueWarning)
        yield


def _size_of(segment: Segment, locale: str) -> str:
    """``"1,334 contacts"`` (``"1 334 contacts"`` in French), or ``"size unknown"`` when
    the saved rule no longer counts."""
    try:
        size = segment.size
    except SegexploreError:
        return "size unknown"
    return f"{format_count(size, locale)} {'contact' if size == 1 else 'contacts'}"


def _saved_html(segment: Segment, locale: str) -> str:
    return message_html(f"Saved “{segment.name}”: {_size_of(segment, locale)}.",
                        kind="success")
