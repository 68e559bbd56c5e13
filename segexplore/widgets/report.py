"""A read-only report of saved segments for stakeholders: no code, no inputs.

:func:`segment_report` shows, for the saved segments, their rules and sizes, how they
overlap, what makes each of them different from the base, and the charts of
:mod:`segexplore.display.charts`. It is meant for a Voilà dashboard shared with people who do not
build segments themselves, so it pseudonymises personal data by default (``mask_pii``):
the values its rules compare emails, names, phones or addresses to, email addresses in
rules and descriptions, and it leaves personal-data attributes out of the differences and
charts. ``mask_pii=False`` is the analyst's explicit opt-out.

Numbers are written for the base's readers (``1 334`` and ``6,7 %`` on a French base,
``1,334`` and ``6.7%`` otherwise, or as ``locale=`` says: :mod:`segexplore.display.numbers`).
:meth:`SegmentReport.to_html` saves the report as one printable HTML page that opens
offline: plotly.js inline once, no stylesheet, font or icon fetched, print CSS, personal
data masked as on screen.
"""

from __future__ import annotations

from collections.abc import Mapping
from html import escape
from pathlib import Path
from typing import TYPE_CHECKING, Any

import ipywidgets as W

from segexplore.display.numbers import (
    format_count,
    format_share,
    plotly_separators,
    resolve_locale,
)
from segexplore.errors import ParameterError, SegmentNotFoundError, closest_name
from segexplore.model.pii import mask_emails
from segexplore.rules.mask import mask_rule
from segexplore.widgets.compare_panel import (
    ComparisonParts,
    comparison_parts,
    parts_tables_html,
    parts_widgets,
)
from segexplore.widgets.display import frame_html, message_html
from segexplore.widgets.plan_panel import entries_frame, missing_html, preview_html, summary_html
from segexplore.widgets.state.fields import contact_count, pii_columns

if TYPE_CHECKING:
    from segexplore.delivery.plan import VariantPlan
    from segexplore.model.base import ContactBase
    from segexplore.model.segments import Segment

__all__ = ["SegmentReport", "segment_report", "report_segments", "report_page",
           "plan_section_html", "PRINT_STYLE", "PRINT_WIDTH"]

#: Width of the snapshot's charts in CSS pixels: an A4 page's text width at 15 mm margins.
PRINT_WIDTH = 680

#: The snapshot's own CSS: the browser's own fonts (nothing fetched), and a print layout that
#: keeps each chart and table on one page.
PRINT_STYLE = """<style>
body.se-report-page {color: #222; max-width: 960px; font-size: 14px; line-height: 1.4}
.se-report-page h1 {font-size: 22px; margin: 0 0 4px 0}
.se-report-page h2 {font-size: 17px; margin: 20px 0 6px 0; border-bottom: 1px solid #ddd}
.se-report-page .se-figure {margin: 8px 0}
.se-report-page code {font-family: ui-monospace, Menlo, Consolas, "DejaVu Sans Mono",
  monospace; font-size: 12px}
.se-report-page .se-table th, .se-report-page .se-table td {padding: 3px 12px 3px 0;
  vertical-align: top}
.se-report-page .se-table thead th {border-bottom: 1px solid #ccc}
@media print {
  @page {size: A4; margin: 15mm}
  body.se-report-page {margin: 0 !important; max-width: none; font-size: 10pt}
  .se-report-page h2 {break-after: avoid; page-break-after: avoid}
  .se-report-page .se-figure, .se-report-page table, .se-report-page li
    {break-inside: avoid; page-break-inside: avoid}
  .se-report-page .se-report-part {break-inside: auto}
  .se-report-page a {color: inherit; text-decoration: none}
}
</style>"""


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


def _rules_html(segments: list[Segment], personal: frozenset[str] | None = None,
                locale: str = "en") -> str:
    """The segments' sizes, rules and descriptions; with ``personal`` (the personal-data
    columns) the rules and descriptions are pseudonymised."""
    def rule_text(segment: Segment) -> str:
        rule = segment.effective_rule
        return str(rule if personal is None else mask_rule(rule, personal))

    def description(segment: Segment) -> str:
        return segment.description if personal is None else mask_emails(segment.description)

    items = "".join(
        f"<li><b>{escape(s.name)}</b>: {format_count(s.size, locale)} contacts "
        f"({format_share(s.share, locale)} of the base)"
        f"<br><code>{escape(rule_text(s))}</code>"
        + (f"<br><em>{escape(description(s))}</em>" if s.description else "") + "</li>"
        for s in segments)
    return f'<ul class="se-report-segments">{items}</ul>'


def plan_section_html(plan: VariantPlan, *, personal: frozenset[str] | None = None,
                      mask_pii: bool = True, locale: str = "en") -> str:
    """The report's section on a personalisation plan: the overlap waterfall (each entry
    in priority order, its size and what it lost to earlier ones), the templates of each
    variant, the merge fields that fall back and a few rendered rows per variant.

    With ``personal`` (the personal-data columns) rules and emails in the entries are
    pseudonymised; with ``mask_pii`` so are the preview's rows
    (:meth:`~segexplore.delivery.plan.VariantPlan.preview`).
    """
    return ("<h2>The personalisation plan</h2>"
            f'<div class="se-plan-name">Plan <b>{escape(plan.name)}</b> as of '
            f"{plan.base.as_of:%Y-%m-%d}</div>"
            "<h3>Who gets which variant (the first matching entry wins)</h3>"
            + summary_html(plan, locale, personal=personal)
            + "<h3>What each variant says</h3>"
            + frame_html(entries_frame(plan, personal=personal),
                         css_class="se-table se-plan-entries-table", locale=locale)
            + "<h3>Merge fields that fall back</h3>" + missing_html(plan, locale)
            + "<h3>A few contacts of each variant</h3>"
            + preview_html(plan, locale, mask_pii=mask_pii))


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
    locale : {"en", "fr"}, optional
        How numbers are written; default: the base's (see :func:`segment_report`).
    plan : VariantPlan, optional
        A personalisation plan on ``base`` to report (see :func:`segment_report`).

    Attributes
    ----------
    locale : str
        The locale the numbers are written for.
    personal_columns : frozenset of str or None
        The personal-data columns masked (None with ``mask_pii=False``).
    plan_section : str
        The plan's section (:func:`plan_section_html`), masked as the report is; ``""``
        without a plan.
    """

    def __init__(self, base: ContactBase, segments: Any = None, *,
                 title: str = "Segments", mask_pii: bool = True,
                 locale: str | None = None, plan: VariantPlan | None = None) -> None:
        if plan is not None and plan.base is not base:
            raise ParameterError("the plan is on another base than the report: build it with "
                                 "VariantPlan(base) on the base the report shows")
        super().__init__()
        self.add_class("se-report")
        self.base = base
        self.title = title
        self.mask_pii = bool(mask_pii)
        self.locale = resolve_locale(locale, base)
        self.segments = report_segments(base, segments)
        self.personal_columns = pii_columns(base) if self.mask_pii else None
        self.plan = plan
        # Made once, like the comparison's parts: the widget and report_page show it.
        self.plan_section = "" if plan is None else plan_section_html(
            plan, personal=self.personal_columns, mask_pii=self.mask_pii, locale=self.locale)
        self.parts = ComparisonParts()
        heading = W.HTML(self.heading_html())
        plan_part = ([] if plan is None else
                     [W.HTML(f'<div class="se-report-plan">{self.plan_section}</div>')])
        if not self.segments:
            self.children = [heading, W.HTML(message_html(
                "No saved segments yet: save some with base.segment(rule, name=...).",
                kind="warning")), *plan_part]
            return
        self.parts = comparison_parts(self.segments, base,
                                      hidden=self.personal_columns or frozenset(),
                                      locale=self.locale, upset=True, waterfalls=True)
        self.children = [heading, W.HTML(_rules_html(self.segments, self.personal_columns,
                                                     self.locale)),
                         *parts_widgets(self.parts, self.locale), *plan_part]

    def heading_html(self) -> str:
        """The title and the base's size and date."""
        return (f'<h2 class="se-report-title">{escape(self.title)}</h2>'
                f'<div class="se-report-base">{format_count(contact_count(self.base), self.locale)}'
                f" contacts as of {self.base.as_of:%Y-%m-%d}</div>")

    def to_html(self, path: str | Path) -> Path:
        """Save the report as one HTML page that opens offline and prints cleanly.

        The page (:func:`report_page`) holds the segments, their sizes, overlap (the UpSet
        chart for three segments or more), key differences and each segment's export
        waterfall, the plan's section when there is one, with personal data masked as in
        the widget (``mask_pii``). plotly.js is
        inlined once; nothing is fetched from the network.

        Parameters
        ----------
        path : str or Path
            The file to write (its folder is made if need be).

        Returns
        -------
        Path
            The file written.

        Examples
        --------
        >>> import segexplore as se, tempfile, pathlib
        >>> base = se.load_sample()
        >>> _ = base.segment('device = "Android"', name="Android")
        >>> page = segment_report(base).to_html(pathlib.Path(tempfile.mkdtemp()) / "r.html")
        >>> "@media print" in page.read_text(encoding="utf-8")
        True
        """
        from segexplore.display.report import write_page

        return write_page(path, report_page(self))


def _figure_block(name: str, figure: Any, locale: str) -> str:
    import plotly.graph_objects as go  # plotly: only when a snapshot is written

    from segexplore.display.report import figure_html

    sized = go.Figure(figure)  # a copy: the parts keep their own size
    sized.update_layout(width=PRINT_WIDTH, height=sized.layout.height or 380,
                        separators=plotly_separators(locale))
    kind = escape(name.split(":")[0])
    return f'<div class="se-figure se-figure-{kind}">{figure_html(sized)}</div>'


def report_page(report: SegmentReport) -> str:
    """The whole offline HTML page of a report (what :meth:`SegmentReport.to_html` writes).

    Sections: the segments and their rules, sizes, overlap, what makes each segment
    different, who of each can be emailed, the personalisation plan when the report has
    one; each chart after the table it draws, sized
    for print (:data:`PRINT_WIDTH`); notes on what could not be made at the end.

    Examples
    --------
    >>> import segexplore as se
    >>> base = se.load_sample()
    >>> _ = base.segment('device = "Android"', name="Android")
    >>> page = report_page(segment_report(base))
    >>> page.count("<script src=")
    0
    """
    from segexplore.display.report import standalone_page

    parts, locale = report.parts, report.locale
    tables = dict(parts_tables_html(parts, locale))
    charted = {"sizes": ["sizes"], "overlap": ["overlap", "intersections"],
               "differences": ["lift", "distribution"]}
    sections = [f'<header class="se-report-part">{report.heading_html()}</header>']
    if report.segments:
        sections.append('<section class="se-report-part"><h2>The segments and their rules</h2>'
                        f"{_rules_html(report.segments, report.personal_columns, locale)}</section>")
    else:
        sections.append(message_html("No saved segments yet.", kind="warning"))
    for name, kinds in charted.items():
        figures = "".join(_figure_block(key, figure, locale)
                          for key, figure in parts.figures.items()
                          if key.split(":")[0] in kinds)
        if name in tables or figures:
            sections.append(f'<section class="se-report-part se-report-{name}">'
                            f"{tables.get(name, '')}{figures}</section>")
    waterfalls = "".join(html for key, html in tables.items() if key.startswith("waterfall:"))
    if waterfalls:
        sections.append(f'<section class="se-report-part se-report-waterfall">{waterfalls}'
                        "</section>")
    if report.plan is not None:
        sections.append(f'<section class="se-report-part se-report-plan">{report.plan_section}'
                        "</section>")
    sections.extend(message_html(note, kind="warning") for note in parts.notes)
    body = "".join(sections)
    return standalone_page(report.title, body, lang=locale, style=PRINT_STYLE,
                           body_class="se-report-page")


def segment_report(base: ContactBase, segments: Any = None, *,
                   title: str = "Segments", mask_pii: bool = True,
                   locale: str | None = None, plan: VariantPlan | None = None
                   ) -> SegmentReport:
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
    locale : {"en", "fr"}, optional
        How counts and shares are written: ``"en"`` ``1,334`` and ``6.7%``, ``"fr"``
        ``1 334`` and ``6,7 %`` (narrow no-break spaces). Default: French when more than
        half of the contacts read French (:func:`segexplore.display.numbers.base_locale`).
        An explicit value always wins.
    plan : VariantPlan, optional
        A personalisation plan built on ``base``: the report adds a section with its
        entries in priority order, the contacts each variant gets and each entry lost to
        earlier ones, the merge fields that fall back and a few rendered rows per variant
        (pseudonymised with ``mask_pii``). A plan on another base is refused.

    Returns
    -------
    SegmentReport
        An ``ipywidgets.VBox``; display it, or save it as an offline, printable HTML page
        with :meth:`SegmentReport.to_html`.

    Examples
    --------
    >>> import segexplore as se
    >>> base = se.load_sample()
    >>> _ = base.segment('device = "Android"', name="Android")
    >>> report = segment_report(base)
    >>> [s.name for s in report.segments], report.locale
    (['Android'], 'fr')
    """
    return SegmentReport(base, segments, title=title, mask_pii=mask_pii, locale=locale,
                         plan=plan)
