"""The Profile tab: statistics of every attribute of the base or of a segment.

Glue over :func:`segexplore.analysis.profile.profile` and
:func:`segexplore.display.charts.profile_histogram`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import ipywidgets as W
import pandas as pd

from segexplore.analysis.profile import profile as make_profile
from segexplore.display.numbers import (
    check_locale,
    format_count,
    format_share,
    plotly_separators,
)
from segexplore.widgets.display import error_html, frame_html, message_html
from segexplore.widgets.plot import FigureView
from segexplore.widgets.state.engine_fields import is_duckdb
from segexplore.widgets.state.fields import contact_count, pii_columns
from segexplore.widgets.state.sources import WHOLE_BASE, SegmentChoices

if TYPE_CHECKING:
    from segexplore.model.base import ContactBase
    from segexplore.model.segments import Segment

__all__ = ["ProfilePanel", "SUMMARY_SHOWN"]

#: Summary columns shown in the tab (the Profile object has more).
SUMMARY_SHOWN = ["attribute", "kind", "missing_share", "distinct", "top", "top_share", "mean",
                 "p50", "min", "max"]


#: How the panel names the engine holding a base.
_ENGINE_NAMES = {"duckdb": "DuckDB", "postgres": "PostgreSQL", "spark": "Spark"}


class ProfilePanel(W.VBox):
    """Profile the whole base, the segment being built, or a saved segment.

    Parameters
    ----------
    base : ContactBase
    current : callable, optional
        Returns the segment being built in the Build tab.
    mask_pii : bool
        Leave personal-data columns (emails, names...) out of the tables.
    on_use_rule : callable, optional
        Called with a suggested rule's text when the analyst clicks "Use in Build".
    run_now : bool
        Profile the whole base at once (default); False waits for :meth:`run` (the
        explorer calls it once the page shows the tab: profiling a large base computes its
        behaviour features and takes seconds).
    locale : {"en", "fr"}
        How counts and shares are written (:mod:`segexplore.display.numbers`).
    """

    def __init__(self, base: ContactBase, *, current: Callable[[], Segment | None] | None = None,
                 mask_pii: bool = False,
                 on_use_rule: Callable[[str], None] | None = None,
                 run_now: bool = True, locale: str = "en") -> None:
        super().__init__()
        self.add_class("se-profile")
        self.base = base
        self.locale = check_locale(locale)
        self.choices = SegmentChoices(base, current, whole_base=True)
        self.hidden = pii_columns(base) if mask_pii else frozenset()
        self.on_use_rule = on_use_rule
        self.profile: Any = None
        self.ran = False
        #: Whether the explorer profiles when the tab is shown (not a DuckDB base's).
        self.auto = self.runs_by_itself(base)
        self.source = W.Dropdown(description="Profile of", options=self.choices.options(),
                                 value=WHOLE_BASE, layout=W.Layout(width="360px"))
        self.source.add_class("se-profile-segment")
        self.run_button = W.Button(description="↻ Refresh")
        self.run_button.add_class("se-profile-run")
        self.heading = W.HTML("")
        self.summary = W.HTML("")
        self.summary.add_class("se-profile-summary")
        self.attribute = W.Dropdown(description="Attribute", layout=W.Layout(width="360px"))
        self.attribute.add_class("se-profile-attribute")
        self.chart = W.Box()
        self.chart.add_class("se-profile-chart")
        self.top_values = W.HTML("")
        self.top_values.add_class("se-profile-top")
        self.suggestion = W.Dropdown(description="Try", layout=W.Layout(width="520px"))
        self.suggestion.add_class("se-profile-suggestion")
        self.use_button = W.Button(description="Use in Build →")
        self.use_button.add_class("se-profile-use")
        self.children = [
            W.HBox([self.source, self.run_button]), self.heading,
            W.HTML("<b>Rules worth trying</b>"), W.HBox([self.suggestion, self.use_button]),
            W.HBox([self.attribute]), W.HBox([self.chart, self.top_values]),
            W.HTML("<b>All attributes</b>"), self.summary,
        ]
        self.source.observe(lambda change: self._source_changed(), names="value")
        self.run_button.on_click(lambda button: self.run())
        self.attribute.observe(lambda change: self._show_attribute(), names="value")
        self.use_button.on_click(lambda button: self._use_rule())
        if run_now:
            self.run()
        elif not self.auto:
            engine = _ENGINE_NAMES.get(getattr(base, "engine", ""), "DuckDB")
            self.heading.value = message_html(
                f"This base is held in {engine}: click ↻ Refresh to profile its "
                f"{format_count(contact_count(base), self.locale)} contacts (grouped "
                f"counts in {engine}, the "
                "behaviour features computed first: about a minute at 10 million "
                "contacts).", kind="info")
        else:
            self.heading.value = message_html(
                f"Profiling {format_count(contact_count(base), self.locale)} contacts…",
                kind="info")

    @staticmethod
    def runs_by_itself(base: ContactBase) -> bool:
        """Whether the tab profiles ``base`` without being asked: a pandas base, not one
        held in DuckDB (whose profile computes the features of millions of contacts)."""
        return not is_duckdb(base)

    def _source_changed(self) -> None:
        if self.auto or self.ran:  # a DuckDB base, once profiled: the choice is a request
            self.run()

    def refresh_segments(self) -> None:
        """Re-read the saved segments into the dropdown."""
        self.choices.refill(self.source)

    def run(self) -> None:
        """Profile the chosen contacts and show the tables and the chart."""
        self.ran = True
        try:
            segment = self.choices.resolve(self.source.value)
            if segment is None and self.source.value != WHOLE_BASE:
                self.heading.value = message_html("Build a segment first (Build tab).",
                                                  kind="warning")
                return
            target = self.base if segment is None else segment
            self.profile = make_profile(target)
        except Exception as error:  # shown in the page, never as a traceback
            self.heading.value = error_html(error)
            return
        profile = self.profile
        profiled = format_count(profile.n_rows, self.locale)
        self.heading.value = (f'<div class="se-profile-heading"><b>{profiled}</b> '
                              f"contacts profiled</div>")
        summary = profile.summary[~profile.summary["attribute"].isin(self.hidden)]
        summary = summary[summary["kind"] != "identifier"]
        shown = [c for c in SUMMARY_SHOWN if c in summary.columns]
        self.summary.value = frame_html(summary[shown], max_rows=200, locale=self.locale)
        suggestions = getattr(profile, "suggestions", pd.DataFrame(columns=["text", "share"]))
        suggestions = suggestions[~suggestions["attribute"].isin(self.hidden)] \
            if "attribute" in suggestions else suggestions
        options = [(f"{text}  ({format_share(share, self.locale, digits=0)} of the "
                    "contacts)", text) for text, share
                   in zip(suggestions["text"], suggestions["share"], strict=True)]
        self.suggestion.options = options
        self.suggestion.value = options[0][1] if options else None
        attributes = list(summary["attribute"])
        current = self.attribute.value
        self.attribute.options = attributes
        personal = pii_columns(self.base)
        plain = [a for a in attributes if a not in personal] or attributes
        if attributes:
            self.attribute.value = current if current in attributes else plain[0]
        self._show_attribute()

    def _show_attribute(self) -> None:
        attribute, profile = self.attribute.value, self.profile
        if profile is None or attribute is None:
            return
        top = profile.top_values[profile.top_values["attribute"] == attribute]
        tags = getattr(profile, "tags", None)
        if top.empty and tags is not None and not tags.empty:
            top = tags[tags["attribute"] == attribute].rename(columns={"tag": "value"})
        self.top_values.value = frame_html(top.drop(columns="attribute"), max_rows=15,
                                           locale=self.locale) \
            if not top.empty else ""
        from segexplore.display import charts  # plotly: on the first chart, not at start-up

        try:
            figure = charts.profile_histogram(profile, attribute)
            figure.update_layout(width=520, height=320,
                                 separators=plotly_separators(self.locale))
            shown = self.chart.children
            if len(shown) == 1 and isinstance(shown[0], FigureView):
                shown[0].show(figure)  # the same view, redrawn
            else:
                self.chart.children = [FigureView(figure)]
        except Exception as error:  # an attribute the chart cannot draw
            self.chart.children = [W.HTML(error_html(error))]

    def _use_rule(self) -> None:
        if self.suggestion.value and self.on_use_rule is not None:
            self.on_use_rule(self.suggestion.value)
