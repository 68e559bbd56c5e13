"""A read-only report of saved segments for stakeholders: no code, no inputs.

:func:`segment_report` shows, for the saved segments, their rules and sizes, how they
overlap, what makes each of them different from the base, and the charts of
:mod:`segexplore.display.charts`. It is meant for a Voilà dashboard shared with people who do not
build segments themselves, so it pseudonymises personal data by default (``mask_pii``):
the values its rules compare emails, names, phones or addresses to, email addresses in
rules and descriptions, and it leaves personal-data attributes out of the differences and
charts. ``mask_pii=False`` is the analyst's explicit opt-out.
"""

from __future__ import annotations

from collections.abc import Mapping
from html import escape
from typing import TYPE_CHECKING, Any

import ipywidgets as W

from segexplore.errors import SegmentNotFoundError, closest_name
from segexplore.model.pii import mask_emails
from segexplore.rules.mask import mask_rule
from segexplore.widgets.compare_panel import ComparisonParts, comparison_parts, parts_widgets
from segexplore.widgets.display import message_html
from segexplore.widgets.state.fields import contact_count, pii_columns

if TYPE_CHECKING:
    from segexplore.model.base import ContactBase
    from segexplore.model.segments import Segment

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
                guess = closest_name(item, base.segments)
                hint = f"; did you mean {guess!r}?" if guess else ""
                raise SegmentNotFoundError(f"no saved segment named {item!r}{hint} (saved: "
                                           f"{', '.join(base.segments) or 'none'})")
            chosen.append(base.segments[item])
        else:
            chosen.append(item)
    return chosen


def _rules_html(segments: list[Segment], personal: frozenset[str] | None = None) -> str:
    """The segments' sizes, rules and descriptions; with ``personal`` (the personal-data
    columns) the rules and descriptions are pseudonymised."""
    def rule_text(segment: Segment) -> str:
        rule = segment.effective_rule
        return str(rule if personal is None else mask_rule(rule, personal))

    def description(segment: Segment) -> str:
        return segment.description if personal is None else mask_emails(segment.description)

    items = "".join(
        f'<li><b>{escape(s.name)}</b>: {s.size:,} contacts ({s.share:.1%} of the base)'
        f"<br><code>{escape(rule_text(s))}</code>"
        + (f"<br><em>{escape(description(s))}</em>" if s.description else "") + "</li>"
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
    mask_pii : bool, default True
        Pseudonymise personal data (see :func:`segment_report`).
    """

    def __init__(self, base: ContactBase, segments: Any = None, *,
                 title: str = "Segments", mask_pii: bool = True) -> None:
        super().__init__()
        self.add_class("se-report")
        self.base = base
        self.mask_pii = bool(mask_pii)
        self.segments = report_segments(base, segments)
        personal = pii_columns(base) if self.mask_pii else None
        self.parts = ComparisonParts()
        heading = W.HTML(f'<h2 class="se-report-title">{escape(title)}</h2>'
                         f"<div>{contact_count(base):,} contacts as of "
                         f"{base.as_of:%Y-%m-%d}</div>")
        if not self.segments:
            self.children = [heading, W.HTML(message_html(
                "No saved segments yet: save some with base.segment(rule, name=...).",
                kind="warning"))]
            return
        self.parts = comparison_parts(self.segments, base, hidden=personal or frozenset())
        self.children = [heading, W.HTML(_rules_html(self.segments, personal)),
                         *parts_widgets(self.parts)]


def segment_report(base: ContactBase, segments: Any = None, *,
                   title: str = "Segments", mask_pii: bool = True) -> SegmentReport:
    """A read-only report of saved segments: sizes, overlap, key differences, charts.

    Parameters
    ----------
    base : ContactBase
    segments : list of str or Segment, or mapping, optional
        Default: every segment saved in ``base.segments``.
    title : str
        Heading of the report.
    mask_pii : bool, default True
        The report is for stakeholders: personal data is pseudonymised as
        :func:`segexplore.model.pii.mask_pii` does. Rules show masked values where they
        compare a personal-data column (:func:`~segexplore.widgets.state.fields.pii_columns`:
        emails, names, phones, addresses, free text) to a value, and masked emails
        wherever they name one, as do descriptions; personal-data attributes are left out
        of the differences and charts. Sizes are those of the real rules. Pass ``False``
        (analysts only) to show the rules as written. Segment names and the title are
        shown as given.

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
    return SegmentReport(base, segments, title=title, mask_pii=mask_pii)
