"""The Export tab: a CSV of a segment, offered as a download link.

A Voilà page cannot write to the analyst's disk, so the file is embedded in the page as a
``data:`` URL in ``<a class="se-download-link" download="<segment>.csv">``.
:func:`export_csv` makes the file's bytes with :func:`segexplore.delivery.export.export_segment`
(which keeps only the contacts who may be emailed and reports the waterfall).
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import ipywidgets as W
import pandas as pd

from segexplore.delivery.csv import PRESETS as DELIVERY_PRESETS
from segexplore.delivery.export import export_segment
from segexplore.display.numbers import check_locale
from segexplore.features.registry import FEATURES
from segexplore.widgets.display import (
    download_link_html,
    error_html,
    frame_html,
    message_html,
    safe_filename,
)
from segexplore.widgets.state.fields import contact_columns
from segexplore.widgets.state.sources import CURRENT, SegmentChoices, is_unnamed

if TYPE_CHECKING:
    from segexplore.model.base import ContactBase
    from segexplore.model.segments import Segment

__all__ = ["ExportedCSV", "export_csv", "export_columns", "ExportPanel", "PRESETS"]

#: Preset choices: column names as each platform's import expects them (the presets of
#: :mod:`segexplore.delivery.csv`, as the CLI's ``--preset``; "plain" is segexplore's names).
PRESETS = ("plain", *sorted(k for k in DELIVERY_PRESETS if k))


@dataclass(frozen=True)
class ExportedCSV:
    """A CSV file in memory: its bytes, rows, the waterfall and its file name."""

    data: bytes
    rows: int
    waterfall: pd.DataFrame
    filename: str


def export_columns(base: ContactBase, segment: Segment | None = None) -> list[str]:
    """Columns offered for export: the contact columns, then the features the rule uses."""
    columns = contact_columns(base)
    if segment is not None:
        used = sorted(f for f in segment.effective_rule.fields()
                      if f in FEATURES and f not in columns)
        columns += used
    return columns


def export_csv(segment: Segment, *, columns: Sequence[str] | None = None,
               preset: str = "plain", filename: str | None = None,
               excel: bool = False) -> ExportedCSV:
    """The CSV export of a segment, in memory.

    Parameters
    ----------
    segment : Segment
    columns : list of str, optional
        Columns to write; default the preset's.
    preset : {"plain", "mailchimp", "brevo"}
    filename : str, optional
        Download name; default ``<segment name>.csv``.
    excel : bool, default False
        For Excel: UTF-8 with a byte-order mark and ``;`` between fields, so that accents
        and columns open right in a French Excel (as the CLI's ``--excel``).

    Returns
    -------
    ExportedCSV
        Only the contacts who may be emailed, and the waterfall of who was removed why.
    """
    if filename is None:
        stem = "segment" if is_unnamed(segment) else safe_filename(segment.name)
        filename = f"{stem}.csv"
    columns = list(columns) if columns else None
    with tempfile.TemporaryDirectory(prefix="segexplore-export-") as directory:
        path = Path(directory) / "export.csv"
        result = export_segment(segment, path, columns=columns,
                                preset=None if preset == "plain" else preset, excel=excel,
                                manifest=False)
        data = path.read_bytes()
    return ExportedCSV(data, result.rows, pd.DataFrame(result.waterfall), filename)


class ExportPanel(W.VBox):
    """Choose a segment, columns and preset; export to a download link.

    Parameters
    ----------
    base : ContactBase
    current : callable, optional
        Returns the segment being built in the Build tab.
    locale : {"en", "fr"}
        How the row count and the waterfall's numbers are written
        (:mod:`segexplore.display.numbers`).
    """

    def __init__(self, base: ContactBase, *,
                 current: Callable[[], Segment | None] | None = None,
                 locale: str = "en") -> None:
        super().__init__()
        self.add_class("se-export")
        self.base = base
        self.locale = check_locale(locale)
        self.choices = SegmentChoices(base, current)
        self.result: ExportedCSV | None = None
        options = self.choices.options()
        self.segment_select = W.Dropdown(description="Segment", options=options,
                                         value=options[0] if options else None,
                                         layout=W.Layout(width="420px"))
        self.segment_select.add_class("se-export-segment")
        self.columns = W.SelectMultiple(description="Columns", options=export_columns(base),
                                        rows=8, layout=W.Layout(width="420px"))
        self.columns.add_class("se-export-columns")
        self.preset = W.Dropdown(description="Preset", options=list(PRESETS), value="plain")
        self.preset.add_class("se-export-preset")
        self.excel = W.Checkbox(value=False, indent=False,
                                description="For Excel (UTF-8 with BOM, ; separated)")
        self.excel.add_class("se-export-excel")
        self.run_button = W.Button(description="Export", button_style="primary")
        self.run_button.add_class("se-export-run")
        self.output = W.HTML("")
        self.output.add_class("se-export-output")
        self.waterfall = W.HTML("")
        self.waterfall.add_class("se-export-waterfall")
        self.children = [
            self.segment_select,
            W.HBox([self.columns, W.HTML("<small>&nbsp;none selected: the preset's columns; "
                                         "email is always written</small>")]),
            W.HBox([self.preset, self.excel], layout=W.Layout(align_items="center")),
            self.run_button, self.output, self.waterfall,
        ]
        self.run_button.on_click(lambda button: self.run())
        self.segment_select.observe(lambda change: self.refresh_columns(), names="value")

    def refresh_segments(self) -> None:
        """Re-read the saved segments into the dropdown."""
        self.choices.refill(self.segment_select)

    def refresh_columns(self) -> None:
        """Offer the features the chosen segment's rule uses, keeping the selection."""
        try:
            segment = self.choices.resolve(self.segment_select.value)
        except Exception:  # the segment being built has an error: keep the list
            return
        options = export_columns(self.base, segment)
        if list(self.columns.options) != options:
            chosen = self.columns.value
            self.columns.options = options
            self.columns.value = [c for c in chosen if c in options]

    def run(self) -> None:
        """Export the chosen segment and show the download link and the waterfall."""
        self.waterfall.value = ""
        try:
            segment = self.choices.resolve(self.segment_select.value)
            if segment is None:
                self.output.value = message_html("Build or save a segment first.", kind="warning")
                return
            filename = None
            if self.segment_select.value == CURRENT and is_unnamed(segment):
                filename = "segment.csv"
            self.result = export_csv(segment, columns=self.columns.value,
                                     preset=self.preset.value, filename=filename,
                                     excel=self.excel.value)
        except Exception as error:  # shown in the page, never as a traceback
            self.output.value = error_html(error)
            return
        self.output.value = download_link_html(self.result.data, self.result.filename,
                                               self.result.rows, self.locale)
        self.waterfall.value = ("<h4>Who may be emailed</h4>"
                                + frame_html(self.result.waterfall, locale=self.locale))
