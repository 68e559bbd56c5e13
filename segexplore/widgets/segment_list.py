"""The explorer's side list: each saved segment, its size, and how its size moved.

One line per segment of ``base.segments``, in the order they were saved: its name (a
button that opens it in the Build tab), its current size on the explorer's base, written
for the base's readers (:mod:`segexplore.display.numbers`), and, when the explorer was
given a refresh history (what :func:`segexplore.delivery.refresh.refresh` writes, read
by :func:`~segexplore.delivery.refresh.read_history`), a sparkline of its size over the
history's runs, oldest first (:func:`segexplore.display.html.svg_sparkline`: inline SVG,
nothing fetched). The list is drawn again when a segment is saved.

:func:`size_history` and :func:`segment_lines` are the plain logic (tested without a
browser); :class:`SegmentList` lays them out.

Examples
--------
>>> import segexplore as se
>>> base = se.load_sample()
>>> _ = base.segment('loyalty_tier = "gold"', name="Gold")
>>> [(line.name, line.size) for line in segment_lines(base, locale="en")]
[('Gold', 510)]
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from html import escape
from pathlib import Path
from typing import TYPE_CHECKING, Any

import ipywidgets as W
import pandas as pd

from segexplore.delivery.refresh import read_history
from segexplore.display.html import svg_sparkline
from segexplore.display.numbers import check_locale, format_count
from segexplore.errors import ParameterError, ParameterTypeError, SegexploreError

if TYPE_CHECKING:
    from segexplore.model.base import ContactBase

__all__ = ["SegmentLine", "SegmentList", "size_history", "segment_lines", "LIST_WIDTH"]

#: Width of the side list (CSS): a name, a size and an 80 px sparkline on one line.
LIST_WIDTH = "250px"

#: Columns of a refresh history the list reads.
_HISTORY_COLUMNS = ("date", "run_at", "segment", "size")


def size_history(history: Any) -> pd.DataFrame | None:
    """A refresh history as the list reads it: ``None``, a path (read with
    :func:`~segexplore.delivery.refresh.read_history`; a file not written yet is an empty
    history) or a DataFrame from it; the rows ordered by run, oldest first.

    Raises
    ------
    ParameterTypeError
        ``history`` is neither a path nor a DataFrame.
    ParameterError
        A DataFrame without the history's columns.

    Examples
    --------
    >>> frame = pd.DataFrame({"date": ["2026-10-01", "2026-09-01"], "segment": ["A", "A"],
    ...                       "run_at": ["2026-10-01T06:00:00Z", "2026-09-01T06:00:00Z"],
    ...                       "size": [120, 100]})
    >>> size_history(frame)["size"].tolist()
    [100, 120]
    """
    if history is None:
        return None
    if isinstance(history, (str, Path)):
        history = read_history(history)
    if not isinstance(history, pd.DataFrame):
        raise ParameterTypeError("history must be the path of a refresh history or the "
                                 "DataFrame read_history returns, not "
                                 f"{type(history).__name__}")
    missing = [c for c in _HISTORY_COLUMNS if c not in history.columns]
    if missing:
        raise ParameterError(f"history has no column {missing[0]!r}: expected the columns "
                             f"of a refresh history {list(_HISTORY_COLUMNS)}, got "
                             f"{list(history.columns)}")
    frame = history.loc[:, list(_HISTORY_COLUMNS)].copy()  # the caller's frame stays as is
    frame["date"] = pd.to_datetime(frame["date"])
    # Runs are ISO times: as text they sort as times. Stable, so equal runs keep file order.
    order = frame["run_at"].astype("str").sort_values(kind="stable").index
    return frame.loc[order].reset_index(drop=True)


@dataclass(frozen=True)
class SegmentLine:
    """One line of the list: the segment's name, its current size (None when it cannot
    be counted, with ``problem`` saying why), its sizes over the history's runs with
    their dates (oldest first; empty without history), and the line's HTML."""

    name: str
    size: int | None
    history_sizes: tuple[int, ...]
    history_dates: tuple[pd.Timestamp, ...]
    html: str
    problem: str = ""


def _sparkline(name: str, sizes: list[int], dates: list[pd.Timestamp], locale: str) -> str:
    if not sizes:
        return ('<span class="se-segment-no-history" style="color:#999" '
                'title="not in the refresh history">–</span>')
    first = f"{format_count(sizes[0], locale)} on {dates[0]:%Y-%m-%d}"
    last = f"{format_count(sizes[-1], locale)} on {dates[-1]:%Y-%m-%d}"
    runs = "1 run" if len(sizes) == 1 else f"{len(sizes)} runs"
    return svg_sparkline(sizes, f"{name}: {first} → {last} ({runs})")


def segment_lines(base: ContactBase, history: pd.DataFrame | None = None, *,
                  locale: str = "en") -> list[SegmentLine]:
    """The lines of the list: one per saved segment of ``base``, in the order saved.

    Parameters
    ----------
    base : ContactBase
    history : DataFrame, optional
        A history as :func:`size_history` returns it; segments it does not hold get no
        sparkline, and its rows for segments not saved here are left out.
    locale : {"en", "fr"}

    Examples
    --------
    >>> import segexplore as se
    >>> base = se.load_sample()
    >>> _ = base.segment('loyalty_tier = "gold"', name="Gold")
    >>> segment_lines(base, locale="fr")[0].html.count("510")
    2
    """
    check_locale(locale)
    lines = []
    for name, segment in base.segments.items():
        problem = ""
        try:
            size: int | None = int(segment.size)
        except SegexploreError as error:  # a saved rule this base cannot count any more
            size, problem = None, str(error)
        runs = (history[history["segment"] == name] if history is not None
                else pd.DataFrame(columns=list(_HISTORY_COLUMNS)))
        sizes = [int(s) for s in runs["size"]]
        dates = [pd.Timestamp(d) for d in runs["date"]]
        shown = "?" if size is None else format_count(size, locale)
        # The plain integer beside the formatted one, for tests and custom styling.
        value = "" if size is None else f' data-size="{size}"'
        html = (f'<span class="se-segment-size-text" title="{escape(problem, quote=True)}"'
                f'{value}>{escape(shown)}</span> '
                f"{_sparkline(name, sizes, dates, locale)}")
        lines.append(SegmentLine(name, size, tuple(sizes), tuple(dates), html, problem))
    return lines


class SegmentList(W.VBox):
    """The side list of saved segments (DOM class ``se-segment-list``).

    Parameters
    ----------
    base : ContactBase
    history : str, path or DataFrame, optional
        A refresh history (see :func:`size_history`): each segment it holds gets a
        sparkline of its size over the runs.
    locale : {"en", "fr"}
        How sizes are written.
    on_open : callable, optional
        Called with a segment's name when its name is clicked (the explorer opens it in
        the Build tab).

    Attributes
    ----------
    lines : list of SegmentLine
        What the list shows, one per saved segment.
    buttons : dict of str to ipywidgets.Button
        Each segment's name button.

    Examples
    --------
    >>> import segexplore as se
    >>> base = se.load_sample()
    >>> _ = base.segment('loyalty_tier = "gold"', name="Gold")
    >>> opened = []
    >>> side = SegmentList(base, locale="en", on_open=opened.append)
    >>> side.buttons["Gold"].click()
    >>> opened
    ['Gold']
    """

    def __init__(self, base: ContactBase, *, history: Any = None, locale: str = "en",
                 on_open: Callable[[str], None] | None = None) -> None:
        super().__init__(layout=W.Layout(width=LIST_WIDTH, min_width=LIST_WIDTH,
                                         margin="0 12px 0 0"))
        self.add_class("se-segment-list")
        self.base = base
        self.locale = check_locale(locale)
        self.history = size_history(history)
        self._on_open = on_open
        self.lines: list[SegmentLine] = []
        self.buttons: dict[str, W.Button] = {}
        self.refresh()

    def refresh(self) -> None:
        """Read the saved segments and their sizes again (after a save)."""
        self.lines = segment_lines(self.base, self.history, locale=self.locale)
        self.buttons = {}
        rows: list[W.Widget] = [W.HTML('<div class="se-segment-list-title" style="font-weight:'
                                       f'600;margin:4px 0">Saved segments ({len(self.lines)})'
                                       "</div>")]
        if not self.lines:
            rows.append(W.HTML('<div class="se-segment-list-empty" style="color:#666">None '
                               "yet: save one in Build.</div>"))
        for line in self.lines:
            # A button's description is text, never HTML: a hostile name shows as written.
            button = W.Button(description=line.name, tooltip=f"Open “{line.name}” in Build",
                              layout=W.Layout(width="120px", min_width="120px"))
            button.add_class("se-segment-open")
            button.on_click(lambda _, name=line.name: self._open(name))
            self.buttons[line.name] = button
            size = W.HTML(line.html, layout=W.Layout(margin="0 0 0 6px"))
            size.add_class("se-segment-size")
            row = W.HBox([button, size], layout=W.Layout(align_items="center"))
            row.add_class("se-segment-line")
            rows.append(row)
        self.children = rows

    def _open(self, name: str) -> None:
        if self._on_open is not None:
            self._on_open(name)
