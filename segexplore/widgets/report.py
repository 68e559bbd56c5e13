"""A read-only report of saved segments for stakeholders: no code, no inputs.

:func:`segment_report` shows, for the saved segments, their rules and sizes, how they
overlap, what makes each of them different from the base, and the charts of
:mod:`segexplore.charts`. It is meant for a Voilà dashboard shared with people who do not
build segments themselves.
"""

from __future__ import annotations

from collections.abc import Mapping
from html import escape
from typing import TYPE_CHECKING, Any

import ipywidgets as W

from .compare_panel import ComparisonParts, comparison_parts, parts_widgets
from .display import message_html

if TYPE_CHECKING:
    from segexplore.core.base import ContactBase
    from segexplore.core.segments import Segment

__all__ = ["SegmentReport", "segment_report", "report_segments"]


def report_segments(base: ContactBase, segments: Any = None) -> list[Segment]:
    """The segments a report covers.

    ``None``: every saved segment; otherwise names of saved segments, Segments, or a
    mapping ``{name: Segment}``.
    """
    if segments is None:
        return list(base.segments.values())
    items = segments.values() if isinstance(segments, Mapping) else segments
    chosen = []
    for item in items:
        if isinstance(item, str):
            if item not in base.segments:
                raise KeyError(f"no saved segment named {item!r}; saved: "
                               f"{', '.join(base.segments) or 'none'}")
            chosen.append(base.segments[item])
        else:
            chosen.append(item)
    return chosen


def _rules_html(segments: list[Segment]) -> str:
    items = "".join(
        f'<li><b>{escape(s.name)}</b>: {s.size:,} contacts ({s.share:.1%} of the base)'
        f"<br><code>{escape(str(s.effective_rule))}</code>"
        + (f"<br><em>{escape(s.description)}</em>" if s.description else "") + "</li>"
        for s in segments)
    return f'<ul class="se-report-segments">{items}</ul>'


class SegmentReport(W.VBox):
    """The report widget; ``parts`` holds its tables and figures.

    Parameters
    ----------
    base : ContactBase
    segments : optional
        See :func:`report_segments`.
    title : str
    """

    def __init__(self, base: ContactBase, segments: Any = None, *,
                 title: str = "Segments") -> None:
        super().__init__()
        self.add_class("se-report")
        self.base = base
        self.segments = report_segments(base, segments)
        self.parts = ComparisonParts()
        heading = W.HTML(f'<h2 class="se-report-title">{escape(title)}</h2>'
                         f"<div>{len(base.contacts):,} contacts as of "
                         f"{base.as_of:%Y-%m-%d}</div>")
        if not self.segments:
            self.children = [heading, W.HTML(message_html(
                "No saved segments yet: save some with base.segment(rule, name=...).",
                kind="warning"))]
            return
        self.parts = comparison_parts(self.segments, base)
        self.children = [heading, W.HTML(_rules_html(self.segments)),
                         *parts_widgets(self.parts)]


def segment_report(base: ContactBase, segments: Any = None, *,
                   title: str = "Segments") -> SegmentReport:
    """A read-only report of saved segments: sizes, overlap, key differences, charts.

    Parameters
    ----------
    base : ContactBase
    segments : list of str or Segment, or mapping, optional
        Default: every segment saved in ``base.segments``.
    title : str
        Heading of the report.

    Returns
    -------
    SegmentReport
        An ``ipywidgets.VBox``; display it.

    Examples
    --------
    >>> import segexplore as se
    >>> base = se.load_sample()
    >>> _ = base.segment('device = "Android"', name="Android")
    >>> report = segment_report(base)
    >>> [s.name for s in report.segments]
    ['Android']
    """
    return SegmentReport(base, segments, title=title)
