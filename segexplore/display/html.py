"""Light HTML views of profiles and comparisons: what Jupyter shows for them.

``Profile._repr_html_`` and ``Comparison._repr_html_`` are small HTML tables (tens of
kilobytes on the bundled sample): every value escaped, a profile's distributions drawn as
inline SVG bars, no script and no plotly. Charts are plotly figures that display through
plotly's own notebook output, made on request by :mod:`segexplore.display.charts`
(``charts.profile_histogram(profile, attribute)``, ``charts.segment_sizes(comparison)``...);
the standalone, offline reports with every chart are :mod:`segexplore.display.report`
(``profile.to_html(path)``).

Identifier columns (emails, ids, phones, nearly unique text) show their counts only: the
profile never quotes their values, and neither does this view.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from html import escape
from typing import Any

import pandas as pd

from segexplore.display.bars import profile_bars
from segexplore.display.numbers import format_count, format_share
from segexplore.model import hooks

__all__ = ["profile_html", "comparison_html", "profile_table", "comparison_sections",
           "svg_bars", "svg_sparkline", "sparkline_points", "value_text", "cell_text",
           "share_text", "table_html", "STYLE"]

#: CSS of the views (scoped to ``.segexplore``), shared with the standalone reports.
STYLE = """<style>
.segexplore table {border-collapse: collapse; font-size: 12px; margin: 4px 0 12px 0}
.segexplore th, .segexplore td {padding: 2px 8px; border-bottom: 1px solid #eee;
  text-align: left; vertical-align: middle}
.segexplore td.num {text-align: right; font-variant-numeric: tabular-nums}
.segexplore .muted {color: #777}
.segexplore h3, .segexplore h4 {margin: 12px 0 4px 0}
.segexplore svg rect {fill: #2a3f5f}
.segexplore svg rect:hover {fill: #5b7bb5}
</style>"""

#: Size of the inline bars of an attribute, in pixels.
SVG_WIDTH, SVG_HEIGHT = 120, 24


# -- formatting -------------------------------------------------------------------------------

def value_text(value: Any) -> str:
    """A value as plain text: dates without a midnight time, numbers with separators."""
    if value is None or value is pd.NaT or value is pd.NA or (
            isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, pd.Timestamp):
        return f"{value:%Y-%m-%d}" if value == value.normalize() else f"{value:%Y-%m-%d %H:%M}"
    if isinstance(value, pd.Timedelta):
        return f"{value / pd.Timedelta(days=1):,.1f} days"
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int):
        return format_count(value)
    if isinstance(value, float):
        return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:,.4g}"
    return str(value)


def cell_text(value: Any) -> str:
    """:func:`value_text`, escaped for HTML."""
    return escape(value_text(value))


def share_text(value: Any) -> str:
    """A share (0..1) as a percentage with one decimal ("" when missing)."""
    return format_share(value)


def table_html(frame: pd.DataFrame, shares: tuple[str, ...] = ()) -> str:
    """A DataFrame as an escaped HTML table (``shares``: columns shown as percentages)."""
    head = "".join(f"<th>{escape(str(c))}</th>" for c in frame.columns)
    rows = []
    for record in frame.itertuples(index=False):
        cells = []
        for column, value in zip(frame.columns, record, strict=True):
            text = share_text(value) if column in shares else cell_text(value)
            numeric = isinstance(value, (int, float)) and not isinstance(value, bool)
            cells.append(f'<td class="num">{text}</td>' if numeric else f"<td>{text}</td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def svg_bars(counts: list[int], labels: list[str], *, width: int = SVG_WIDTH,
             height: int = SVG_HEIGHT) -> str:
    """Bars as an inline ``<svg>``: one ``<rect>`` per count, its label and count as the
    hover title (``labels`` are escaped here)."""
    if not counts or max(counts) <= 0:
        return ""
    top, step = max(counts), width / len(counts)
    gap = 1 if step > 3 else 0
    rects = []
    for position, (count, label) in enumerate(zip(counts, labels, strict=True)):
        tall = round(height * count / top, 1)
        rects.append(f'<rect x="{position * step:.1f}" y="{height - tall:g}" '
                     f'width="{max(step - gap, 0.5):.1f}" height="{tall:g}">'
                     f"<title>{escape(label)}: {count:,}</title></rect>")
    return (f'<svg width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
            f'role="img">{"".join(rects)}</svg>')


#: Size of a sparkline in CSS pixels, and the margin keeping its line off the edges.
SPARKLINE_WIDTH, SPARKLINE_HEIGHT, SPARKLINE_MARGIN = 80, 18, 2


def sparkline_points(values: list[float], *, width: int = SPARKLINE_WIDTH,
                     height: int = SPARKLINE_HEIGHT,
                     margin: int = SPARKLINE_MARGIN) -> list[tuple[float, float]]:
    """Where a sparkline puts each value: ``(x, y)`` in SVG pixels, evenly spaced from left
    to right, the largest value at the top (``y`` grows downwards); all values equal (or
    one value) lie on the middle line.

    Examples
    --------
    >>> sparkline_points([10, 20, 15])
    [(2.0, 16.0), (40.0, 2.0), (78.0, 9.0)]
    """
    if not values:
        return []
    low, high = min(values), max(values)
    step = (width - 2 * margin) / (len(values) - 1) if len(values) > 1 else 0.0
    points = []
    for position, value in enumerate(values):
        x = margin + position * step if len(values) > 1 else width / 2
        y = (height / 2 if high == low
             else margin + (high - value) / (high - low) * (height - 2 * margin))
        points.append((round(x, 1), round(y, 1)))
    return points


def svg_sparkline(values: list[float], title: str, *, width: int = SPARKLINE_WIDTH,
                  height: int = SPARKLINE_HEIGHT) -> str:
    """A small inline ``<svg>`` line of ``values`` (oldest first), with a dot on the last
    one and ``title`` (escaped here) as its hover text and accessible name; ``""`` without
    values. Nothing is fetched: it draws offline.

    Examples
    --------
    >>> svg = svg_sparkline([10, 20, 15], "sizes <10 to 15>")
    >>> 'points="2,16 40,2 78,9"' in svg, "&lt;10 to 15&gt;" in svg
    (True, True)
    """
    points = sparkline_points(values, width=width, height=height)
    if not points:
        return ""
    text = escape(title, quote=True)
    line = " ".join(f"{x:g},{y:g}" for x, y in points)
    last_x, last_y = points[-1]
    return (f'<svg class="se-sparkline" width="{width}" height="{height}" '
            f'viewBox="0 0 {width} {height}" role="img" aria-label="{text}">'
            f"<title>{text}</title>"
            f'<polyline points="{line}" fill="none" stroke="#1a66c2" stroke-width="1.5" '
            'stroke-linejoin="round" stroke-linecap="round"/>'
            f'<circle cx="{last_x:g}" cy="{last_y:g}" r="2" fill="#1a66c2"/></svg>')


def _attribute_svg(profile: Any, attribute: str) -> str:
    bars = profile_bars(profile, attribute)
    if "bins" in bars:
        labels = [f"{value_text(lo)} to {value_text(hi)}" for lo, hi in bars["bins"]]
    else:
        labels = [str(x) for x in bars["x"]]
    return svg_bars([int(y) for y in bars["y"]], labels)


# -- profiles ---------------------------------------------------------------------------------

def _known(value: Any) -> bool:
    return not (value is None or value is pd.NA or value is pd.NaT
                or (isinstance(value, float) and math.isnan(value)))


def profile_table(profile: Any, chart: Callable[[Any, str], str] = _attribute_svg) -> str:
    """The profile as HTML: a heading, one row per attribute with ``chart(profile,
    attribute)`` in its last cell (not for identifiers), then the suggested rules."""
    header = ("<tr><th>attribute</th><th>role</th><th>kind</th><th>missing</th>"
              "<th>distinct</th><th>most frequent / mean</th><th>range</th>"
              "<th>distribution</th></tr>")
    rows = []
    for record in profile.summary.to_dict("records"):
        attribute, kind = record["attribute"], record["kind"]
        typical = span = ""
        if kind in ("numeric", "date"):
            if record["count"] > 0:
                typical = f"mean {cell_text(record['mean'])}, median {cell_text(record['p50'])}"
                span = f"{cell_text(record['min'])} .. {cell_text(record['max'])}"
        elif kind == "boolean":
            typical = f"{share_text(record['mean'])} true" if _known(record["mean"]) else ""
        elif kind != "identifier" and _known(record["top_count"]) and _known(record["top"]):
            typical = f"{cell_text(record['top'])} ({share_text(record['top_share'])})"
        drawn = chart(profile, attribute) if kind != "identifier" and record["count"] > 0 \
            else ""
        rows.append(
            f"<tr><td><strong>{escape(str(attribute))}</strong></td>"
            f"<td class='muted'>{escape(str(record['role']))}</td><td>{escape(str(kind))}</td>"
            f"<td class='num'>{record['missing']:,} ({share_text(record['missing_share'])})"
            f"</td><td class='num'>{record['distinct']:,}</td><td>{typical}</td>"
            f"<td>{span}</td><td>{drawn}</td></tr>")
    suggestions = ""
    if len(profile.suggestions):
        suggestions = ("<details><summary><strong>Suggested rules</strong> "
                       f"({len(profile.suggestions)}): paste into base.segment(...)</summary>"
                       + table_html(profile.suggestions, shares=("share",)) + "</details>")
    title = (f"<h3>Profile of {escape(str(profile.name))}: {profile.n_rows:,} contacts, "
             f"{len(profile.summary)} attributes</h3>")
    return (f"{title}<table><thead>{header}</thead><tbody>{''.join(rows)}</tbody></table>"
            f"{suggestions}")


@hooks.implements("profile_html")
def profile_html(profile: Any) -> str:
    """Notebook view of a profile: the summary table with inline SVG bars per attribute."""
    hint = ('<p class="muted">Charts: <code>segexplore.charts.profile_histogram(profile, '
            '"attribute")</code>; every chart offline in one file: '
            "<code>profile.to_html(path)</code></p>")
    return f'<div class="segexplore">{STYLE}{profile_table(profile)}{hint}</div>'


# -- comparisons ------------------------------------------------------------------------------

def comparison_sections(comparison: Any, figures: dict[str, str] | None = None, *,
                        top: int = 5, intersections: int = 10) -> str:
    """The comparison as HTML: sizes, overlaps, intersections, the largest differences,
    expected conversions and warnings. ``figures`` (HTML by name: ``sizes``, ``overlap``,
    ``intersections``) are put after the table they draw."""
    figures = figures or {}
    parts = [f"<h3>Comparison of {len(comparison.segments)} segments of "
             f"{comparison.n_base:,} contacts</h3>",
             table_html(comparison.sizes, shares=("share",)), figures.get("sizes", "")]
    if len(comparison.segments) > 1:
        counts = comparison.overlap_matrix("count")
        shares = comparison.overlap_matrix("share")
        head = "".join(f"<th>{escape(str(c))}</th>" for c in counts.columns)
        body = "".join(
            f"<tr><th>{escape(str(a))}</th>" + "".join(
                f'<td class="num">{cell_text(int(counts.loc[a, b]))} '
                f'<span class="muted">({share_text(shares.loc[a, b])})</span></td>'
                for b in counts.columns) + "</tr>"
            for a in counts.index)
        parts.append("<h4>Overlap (contacts in both; share of the row segment)</h4>"
                     f"<table><thead><tr><th></th>{head}</tr></thead><tbody>{body}</tbody>"
                     "</table>")
        parts.append(figures.get("overlap", ""))
        combos = comparison.intersections.head(intersections)
        names = list(comparison.segments)
        shown = pd.DataFrame({
            "segments": [" & ".join(n for n in names if row[n]) for _, row in combos.iterrows()],
            "size": combos["size"].tolist(), "share": combos["share"].tolist()})
        parts.append(f"<h4>Contacts in exactly these segments (largest {len(shown)})</h4>"
                     + table_html(shown, shares=("share",)))
        parts.append(figures.get("intersections", ""))
    differences = comparison.differences
    if len(differences):
        parts.append("<h4>What makes each segment different (largest effects first)</h4>")
        keep = ~differences["in_rule"].astype(bool) & differences["significant"].astype(bool)
        if "implied" in differences.columns:
            keep &= ~differences["implied"].astype(bool)
        parts.append(f'<p class="muted">Significant differences only (Benjamini-Hochberg '
                     f'adjusted p &lt; {comparison.alpha:g}); the attributes of each rule and '
                     f'those it implies (<code>in_rule</code>, <code>implied</code>) are left '
                     f'out: every row is in <code>comparison.differences</code>.</p>')
        shown = differences[keep].groupby("segment", sort=False).head(top)
        text = "finding" if "finding" in shown.columns else "reading"
        parts.append(table_html(shown[["segment", "attribute", "effect_name", "effect_size",
                                       "p_adjusted", text]]))
    if len(comparison.expected):
        parts.append("<h4>Expected conversions (historical rate, Wilson interval)</h4>")
        parts.append(table_html(comparison.expected[
            ["segment", "size", "rate", "rate_low", "rate_high", "expected_conversions",
             "lift"]], shares=("rate", "rate_low", "rate_high")))
    if len(comparison.warnings):
        parts.append(f"<details><summary>{len(comparison.warnings)} warnings</summary>"
                     + table_html(comparison.warnings) + "</details>")
    return "".join(parts)


@hooks.implements("comparison_html")
def comparison_html(comparison: Any) -> str:
    """Notebook view of a comparison: sizes, overlaps, top differences, expected conversions
    and warnings, as tables."""
    hint = ('<p class="muted">Charts: <code>segexplore.charts.segment_sizes(comparison)</code>, '
            "<code>overlap_heatmap</code>, <code>intersections</code>, <code>lift</code>, "
            '<code>distribution(comparison, "attribute")</code>; every chart offline in one '
            "file: <code>comparison.to_html(path)</code></p>")
    return f'<div class="segexplore">{STYLE}{comparison_sections(comparison)}{hint}</div>'
