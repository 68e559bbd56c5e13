"""Widgets: explore, segment, compare and export a contact base in Jupyter and Voilà.

- :func:`explore` opens the explorer app: tabs Profile, Build, Compare, Export, Plan.
- :class:`SegmentBuilder` is the Build tab on its own: rule rows <-> rule text, live size
  and charts.
- :func:`segment_report` is a read-only report of saved segments for stakeholders.

The logic behind the widgets is in plain functions, tested without a browser:
:func:`field_options`, :func:`operators_for`, :func:`row_to_rule`, :func:`rule_to_rows`,
:func:`rows_to_rule`, :func:`distribution_table`, :func:`export_csv`. The CSS classes the
widgets carry (the DOM contract for browser tests) are listed in ``docs/widgets.md``.
"""

from __future__ import annotations

from segexplore.widgets.app import TAB_TITLES, Explorer, explore
from segexplore.widgets.builder import SegmentBuilder
from segexplore.widgets.compare_panel import ComparePanel, comparison_parts
from segexplore.widgets.export_panel import ExportPanel, export_csv
from segexplore.widgets.plan_panel import PlanPanel
from segexplore.widgets.profile_panel import ProfilePanel
from segexplore.widgets.report import SegmentReport, segment_report
from segexplore.widgets.state.distribution import distribution_table
from segexplore.widgets.state.fields import FieldOption, field_options, operators_for
from segexplore.widgets.state.rows import (
    EventValue,
    RowGroup,
    RowSpec,
    row_to_rule,
    rows_to_rule,
    rule_to_rows,
)

__all__ = [
    "explore", "Explorer", "TAB_TITLES", "SegmentBuilder", "segment_report", "SegmentReport",
    "ProfilePanel", "ComparePanel", "ExportPanel", "PlanPanel", "field_options", "FieldOption",
    "operators_for", "row_to_rule", "rows_to_rule", "rule_to_rows", "RowSpec", "RowGroup",
    "EventValue", "distribution_table", "comparison_parts", "export_csv",
]
