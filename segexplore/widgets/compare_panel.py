"""The Compare tab: sizes, overlap and what makes saved segments different.

Glue over :func:`segexplore.analysis.compare.compare` and the figures of
:mod:`segexplore.display.charts`. :func:`comparison_parts` gathers the tables and figures as plain
objects (tested without a browser); the tab only lays them out. The same parts make the
read-only stakeholder report (:mod:`segexplore.widgets.report`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from html import escape
from typing import TYPE_CHECKING, Any

import ipywidgets as W
import pandas as pd

from segexplore.display.numbers import check_locale, plotly_separators
from segexplore.widgets.display import error_html, frame_html, message_html
from segexplore.widgets.plot import FigureView
from segexplore.widgets.state.fields import pii_columns
from segexplore.widgets.state.sources import CURRENT, SegmentChoices

if TYPE_CHECKING:
    from segexplore.model.base import ContactBase
    from segexplore.model.segments import Segment

__all__ = ["ComparisonParts", "comparison_parts", "sizes_table", "key_differences",
           "ComparePanel", "parts_widgets", "parts_tables_html", "TABLE_TITLES"]

#: Attributes charted from the top of the differences table.
DISTRIBUTION_CHARTS = 2


@dataclass
class ComparisonParts:
    """Tables and figures of a comparison, and notes on the parts that could not be made."""

    comparison: Any = None
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    figures: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def sizes_table(segments: Sequence[Segment]) -> pd.DataFrame:
    """``segment, rule, contacts, share``: one row per segment (shown when the comparison
    fails)."""
    return pd.DataFrame({
        "segment": [s.name for s in segments],
        "rule": [str(s.effective_rule) for s in segments],
        "contacts": [s.size for s in segments],
        "share": [s.share for s in segments],
    })


def _attempt(parts: ComparisonParts, what: str, make: Callable[[], Any]) -> Any:
    try:
        return make()
    except Exception as error:  # one failed part must not hide the others
        parts.notes.append(f"{what}: {str(error).splitlines()[0] if str(error) else error!r}")
        return None


def comparison_parts(segments: Sequence[Segment], base: ContactBase | None = None, *,
                     differences: int = 5, hidden: frozenset[str] = frozenset(),
                     locale: str = "en", upset: bool = False,
                     waterfalls: bool = False) -> ComparisonParts:
    """Compare segments and collect what the tab and the report show.

    Parameters
    ----------
    segments : list of Segment
    base : ContactBase, optional
    differences : int
        Differences kept per segment in the "what makes it different" table (see
        :func:`key_differences`).
    hidden : set of str
        Attributes left out of the differences and charts (personal data).
    locale : {"en", "fr"}
        How the charts' labels write numbers (:mod:`segexplore.display.numbers`).
    upset : bool
        Add the UpSet chart of the exclusive intersections (``intersections``) when there
        are three segments or more (two overlap in one number: the heatmap says it).
    waterfalls : bool
        Add each segment's sendable-contacts waterfall
        (:func:`~segexplore.delivery.waterfall.sendable_waterfall`) as a table
        ``waterfall:<segment>``.

    Returns
    -------
    ComparisonParts
        ``tables``: ``sizes``, ``overlap``, ``differences``, and ``waterfall:<segment>``
        (those that could be made); ``figures``: ``sizes``, ``overlap``, ``lift``,
        ``intersections`` and ``distribution:<attribute>`` plotly figures; ``notes``:
        what is missing and why.
    """
    # scipy.stats (compare) and plotly (charts): loaded by the first comparison, not at start-up
    from segexplore.analysis.compare import compare
    from segexplore.display import charts

    parts = ComparisonParts()
    comparison = _attempt(parts, "compare", lambda: compare(list(segments), base=base))
    if comparison is None:
        parts.tables["sizes"] = sizes_table(segments)
        return parts
    parts.comparison = comparison
    for name, make in (("sizes", lambda: comparison.sizes),
                       ("overlap", lambda: comparison.overlap_matrix("count")),
                       ("differences", lambda: key_differences(
                           comparison.differences, differences, hidden=hidden))):
        table = _attempt(parts, f"{name} table", make)
        if table is not None:
            parts.tables[name] = table
    if waterfalls:
        from segexplore.delivery.waterfall import sendable_waterfall

        for segment in segments:
            table = _attempt(parts, f"{segment.name} waterfall",
                             lambda s=segment: pd.DataFrame(sendable_waterfall(s)))
            if table is not None:
                parts.tables[f"waterfall:{segment.name}"] = table

    def lift(comparison: Any) -> Any:
        return charts.lift(comparison, findings_only=True)

    def sizes(comparison: Any) -> Any:
        return charts.segment_sizes(comparison, locale=locale)

    def upset_chart(comparison: Any) -> Any:
        return charts.intersections(comparison, locale=locale)

    made = [("sizes", sizes), ("overlap", charts.overlap_heatmap), ("lift", lift)]
    if upset and len(segments) >= 3:
        made.insert(2, ("intersections", upset_chart))
    for name, chart in made:
        figure = _attempt(parts, f"{name} chart", lambda chart=chart: chart(comparison))
        if figure is not None:
            parts.figures[name] = figure
    for attribute in _top_attributes(parts.tables.get("differences")):
        figure = _attempt(parts, f"{attribute} chart",
                          lambda a=attribute: charts.distribution(comparison, a))
        if figure is not None:
            parts.figures[f"distribution:{attribute}"] = figure
    return parts


def key_differences(differences: pd.DataFrame, per_segment: int = 5, *,
                    hidden: frozenset[str] = frozenset(),
                    significant_only: bool = True) -> pd.DataFrame:
    """The strongest findings of each segment: what its rule does not already say.

    Leaves out the attributes of the segment's rule (``in_rule``), those the rule implies
    in the base (``implied``: the department given the region, the 90-day revenue given
    the 90-day purchases; see :mod:`segexplore.analysis.compare`), those in ``hidden``
    (personal data) and, with ``significant_only`` (the default), the differences that are
    not significant after the Benjamini-Hochberg adjustment. Keeps ``segment, attribute``,
    the plain sentence (``finding``, else ``reading``) and ``effect_size`` when present;
    the order of ``differences`` (strongest first) is kept. ``table.attrs["note"]`` says
    what was left out.
    """
    table = differences
    if hidden and "attribute" in table.columns:
        table = table[~table["attribute"].isin(hidden)]
    left_out: list[str] = []
    if "in_rule" in table.columns:
        own = table.loc[table["in_rule"].astype(bool), "attribute"]
        if len(own):
            left_out.append(f"the rules' own attributes ({', '.join(dict.fromkeys(own))})")
        table = table[~table["in_rule"].astype(bool)]
    if "implied" in table.columns:
        implied = table[table["implied"].astype(bool)]
        if len(implied):
            by = implied.groupby(implied.get("implied_by", implied["attribute"]), sort=False)
            groups = [f"{', '.join(dict.fromkeys(rows['attribute']))} given {field}"
                      for field, rows in by]
            left_out.append(f"those they imply in the base ({'; '.join(groups)})")
        table = table[~table["implied"].astype(bool)]
    notes = []
    if significant_only and "significant" in table.columns:
        table = table[table["significant"].fillna(False).astype(bool)]
        notes.append("Significant differences only (Benjamini-Hochberg adjusted p < 0.05), "
                     "largest effects first.")
    if left_out:
        notes.append("Left out: " + " and ".join(left_out) + ".")
    if "segment" in table.columns:
        table = table.groupby("segment", sort=False).head(per_segment)
    text = "finding" if "finding" in table.columns else "reading"
    shown = [c for c in ("segment", "attribute", text, "effect_size") if c in table.columns]
    if not significant_only and "significant" in table.columns:
        shown.append("significant")
    result = table[shown].reset_index(drop=True) if shown else table.reset_index(drop=True)
    result.attrs["note"] = " ".join(notes)
    return result


def _top_attributes(differences: pd.DataFrame | None) -> list[str]:
    if differences is None or "attribute" not in getattr(differences, "columns", ()):
        return []
    return list(dict.fromkeys(differences["attribute"]))[:DISTRIBUTION_CHARTS]


#: Headings of the tables, in the order they are shown.
TABLE_TITLES = {"sizes": "Sizes", "overlap": "Overlap (contacts in both)",
                "differences": "What makes each segment different"}


def _table_title(name: str) -> str | None:
    if name.startswith("waterfall:"):
        return f"Who can be emailed: {name.split(':', 1)[1]}"
    return TABLE_TITLES.get(name)


def parts_tables_html(parts: ComparisonParts, locale: str = "en") -> list[tuple[str, str]]:
    """The tables of ``parts`` as ``(name, html)``, each with its heading and note, in the
    order shown: sizes, overlap, differences, then the waterfalls; numbers written for
    ``locale``."""
    names = [n for n in TABLE_TITLES if n in parts.tables]
    names += [n for n in parts.tables if n.startswith("waterfall:")]
    shown = []
    for name in names:
        table = parts.tables[name]
        note = table.attrs.get("note", "")
        caption = (f'<p class="se-note" style="color:#555;margin:0 0 6px">'
                   f'{escape(note)}</p>' if note else "")
        if name == "differences" and not len(table):
            caption += message_html("No significant difference beyond the rule itself.")
        shown.append((name, f"<h4>{escape(str(_table_title(name)))}</h4>" + caption
                      + frame_html(table, index=name == "overlap", locale=locale)))
    return shown


def parts_widgets(parts: ComparisonParts, locale: str = "en") -> list[W.Widget]:
    """Lay out comparison parts: tables as HTML (numbers written for ``locale``), figures
    as :class:`~segexplore.widgets.plot.FigureView` (one shared copy of plotly.js)."""
    import plotly.graph_objects as go  # plotly: on the first comparison, not at start-up

    children: list[W.Widget] = []
    for name, html in parts_tables_html(parts, locale):
        widget = W.HTML(html)
        widget.add_class(f"se-compare-{name.split(':')[0]}")
        children.append(widget)
    figures = []
    for name, figure in parts.figures.items():
        figure = go.Figure(figure)  # a copy: the parts keep their own size
        figure.update_layout(width=520, height=figure.layout.height or 380,
                             separators=plotly_separators(locale))
        widget = FigureView(figure)
        widget.add_class(f"se-chart-{name.split(':')[0]}")
        figures.append(widget)
    if figures:
        children.append(W.HBox(figures, layout=W.Layout(flex_flow="row wrap")))
    children.extend(W.HTML(note if note.startswith("<") else message_html(note, kind="warning"))
                    for note in parts.notes)
    return children


class ComparePanel(W.VBox):
    """Pick saved segments (and the one being built) and compare them.

    Parameters
    ----------
    base : ContactBase
    current : callable, optional
        Returns the segment being built in the Build tab.
    selected : list of str, optional
        Segment names selected at first.
    mask_pii : bool
        Leave personal-data attributes out of the differences.
    locale : {"en", "fr"}
        How counts and shares are written in the tables and charts
        (:mod:`segexplore.display.numbers`).
    """

    def __init__(self, base: ContactBase, *, current: Callable[[], Segment | None] | None = None,
                 selected: Sequence[str] = (), mask_pii: bool = False,
                 locale: str = "en") -> None:
        super().__init__()
        self.add_class("se-compare")
        self.base = base
        self.locale = check_locale(locale)
        self.hidden = pii_columns(base) if mask_pii else frozenset()
        self.choices = SegmentChoices(base, current)
        self.parts: ComparisonParts | None = None
        options = self.choices.options()
        self.select = W.SelectMultiple(options=options,
                                       value=[n for n in selected if n in options],
                                       rows=6, description="Segments",
                                       layout=W.Layout(width="420px"))
        self.select.add_class("se-compare-select")
        self.run_button = W.Button(description="Compare",
                                   button_style="primary")
        self.run_button.add_class("se-compare-run")
        self.output = W.VBox()
        self.output.add_class("se-compare-output")
        self.children = [W.HBox([self.select, self.run_button]), self.output]
        self.run_button.on_click(lambda button: self.run())

    @property
    def tables(self) -> dict[str, pd.DataFrame]:
        """The tables of the latest comparison (``sizes``, ``overlap``, ``differences``)."""
        return self.parts.tables if self.parts is not None else {}

    def refresh_segments(self) -> None:
        """Re-read the saved segments into the list, keeping the selection."""
        chosen = self.select.value
        self.select.options = self.choices.options()
        self.select.value = [n for n in chosen if n in self.select.options]

    def run(self) -> None:
        """Compare the selected segments and show the result."""
        segments = []
        for choice in self.select.value:
            try:
                segment = self.choices.resolve(choice)
            except Exception as error:  # the segment being built has an error
                self.output.children = [W.HTML(error_html(error))]
                return
            if segment is not None:
                if choice == CURRENT and segment.name == segment.text:
                    segment = self.base.segment(segment.rule, name="segment being built",
                                                parent=segment.parent, save=False)
                segments.append(segment)
        if not segments:
            self.output.children = [W.HTML(message_html(
                "Select one or more saved segments, then click Compare.", kind="warning"))]
            return
        self.parts = comparison_parts(segments, self.base, hidden=self.hidden,
                                      locale=self.locale)
        self.output.children = parts_widgets(self.parts, self.locale)
