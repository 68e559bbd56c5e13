"""HTML views of profiles and comparisons: notebook output and standalone offline reports.

Everything works without a network connection:

* in a notebook (Jupyter, JupyterLab, Voilà), the first view rendered by a Python session
  carries plotly.js inline (about 4.8 MB) and the next ones reuse it; each chart waits for
  plotly.js, so the order in which outputs load does not matter. If that first output is
  cleared and the page reloaded, call :func:`reset_plotlyjs` and display again;
* a standalone report (:func:`profile_report`, :func:`comparison_report`) embeds plotly.js
  once in its ``<head>``, so the file opens anywhere, offline, with no script loaded from
  a CDN.
"""

from __future__ import annotations

import json
import math
import uuid
from html import escape
from pathlib import Path
from typing import Any

import pandas as pd
import plotly.io as pio
from plotly.offline import get_plotlyjs

from segexplore.display import charts
from segexplore.model import hooks

__all__ = ["profile_html", "profile_report", "comparison_html", "comparison_report",
           "figure_html", "plotlyjs_script", "reset_plotlyjs"]

_sent_plotlyjs = False

_STYLE = """<style>
.segexplore table {border-collapse: collapse; font-size: 12px; margin: 4px 0 12px 0}
.segexplore th, .segexplore td {padding: 2px 8px; border-bottom: 1px solid #eee;
  text-align: left; vertical-align: middle}
.segexplore td.num {text-align: right; font-variant-numeric: tabular-nums}
.segexplore .muted {color: #777}
.segexplore h3, .segexplore h4 {margin: 12px 0 4px 0}
</style>"""

#: Layout of the small charts inside the profile table.
_SPARK = dict(height=70, width=240)


def reset_plotlyjs() -> None:
    """Embed plotly.js again in the next notebook view (after clearing the output that had
    it)."""
    global _sent_plotlyjs
    _sent_plotlyjs = False


def plotlyjs_script() -> str:
    """plotly.js inline in a ``<script>`` element (no ``src``: nothing is fetched)."""
    return f'<script type="text/javascript">{get_plotlyjs()}</script>'


def _notebook_plotlyjs(include_plotlyjs: bool | str) -> str:
    """plotly.js for a notebook view: always, never, or ``"once"`` per Python session."""
    global _sent_plotlyjs
    if include_plotlyjs == "once":
        if _sent_plotlyjs:
            return ""
        _sent_plotlyjs = True
        return plotlyjs_script()
    return plotlyjs_script() if include_plotlyjs else ""


def figure_html(fig: Any, *, static: bool = False) -> str:
    """A figure (or a plain ``{"data", "layout"}`` spec) as a ``<div>`` and the script that
    draws it once plotly.js is there."""
    div_id = f"segexplore-{uuid.uuid4().hex[:12]}"
    if isinstance(fig, dict):
        text = json.dumps(fig, default=_json_default)
        width, height = fig["layout"].get("width"), fig["layout"].get("height") or 450
    else:
        text = pio.to_json(fig, validate=False)
        width, height = fig.layout.width, fig.layout.height or 450
    # "<" escaped so that no text in the figure can close the script element
    spec = text.replace("<", "\\u003c")
    config = json.dumps({"displayModeBar": False, "staticPlot": static, "responsive": True})
    size = f"height:{height}px;" + (f"width:{width}px;" if width else "width:100%;")
    return (
        f'<div id="{div_id}" style="{size}"></div>'
        f'<script type="text/javascript">(function() {{'
        f'var spec = {spec}, tries = 0;'
        f'function draw() {{'
        f'  var el = document.getElementById("{div_id}");'
        f'  if (!el) {{ return; }}'
        f'  if (window.Plotly) {{ window.Plotly.newPlot(el, spec.data, spec.layout, {config}); }}'
        f'  else if (tries++ < 200) {{ setTimeout(draw, 50); }}'
        f'  else {{ el.textContent = "plotly.js is not loaded: run '
        f'segexplore.display.html.reset_plotlyjs() and display this again."; }}'
        f'}}'
        f'draw();'
        f'}})();</script>'
    )


def _json_default(value: Any) -> Any:
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    if hasattr(value, "item"):  # NumPy scalars
        return value.item()
    raise TypeError(f"cannot write {type(value).__name__} in a chart")


def _spark(profile: Any, attribute: str) -> dict[str, Any]:
    """A small bar chart of one attribute, as a plain plotly.js spec (no validation: fast)."""
    bars = charts.profile_bars(profile, attribute)
    trace: dict[str, Any] = {"type": "bar", "x": bars["x"], "y": bars["y"],
                             "marker": {"color": "#2a3f5f"},
                             "hovertemplate": "%{x}: %{y:,}<extra></extra>"}
    if "width" in bars:
        trace["width"] = bars["width"]
        trace["customdata"] = bars["ranges"]
        trace["hovertemplate"] = "%{customdata[0]} to %{customdata[1]}: %{y:,}<extra></extra>"
    axis = {"visible": False, "fixedrange": True,
            "type": {"date": "date", "numeric": "linear"}.get(bars["kind"], "category")}
    return {"data": [trace],
            "layout": {**_SPARK, "margin": {"l": 0, "r": 0, "t": 0, "b": 0}, "bargap": 0.05,
                       "xaxis": axis, "yaxis": {"visible": False, "fixedrange": True},
                       "paper_bgcolor": "rgba(0,0,0,0)", "plot_bgcolor": "rgba(0,0,0,0)"}}


# -- formatting -------------------------------------------------------------------------------

def _cell(value: Any) -> str:
    if value is None or value is pd.NaT or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, pd.Timestamp):
        return f"{value:%Y-%m-%d}" if value == value.normalize() else f"{value:%Y-%m-%d %H:%M}"
    if isinstance(value, pd.Timedelta):
        return f"{value / pd.Timedelta(days=1):,.1f} days"
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:,.4g}"
    return escape(str(value))


def _share(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return f"{value:.1%}"


def _table(frame: pd.DataFrame, shares: tuple[str, ...] = ()) -> str:
    head = "".join(f"<th>{escape(str(c))}</th>" for c in frame.columns)
    rows = []
    for record in frame.itertuples(index=False):
        cells = []
        for column, value in zip(frame.columns, record, strict=True):
            text = _share(value) if column in shares else _cell(value)
            numeric = isinstance(value, (int, float)) and not isinstance(value, bool)
            cells.append(f'<td class="num">{text}</td>' if numeric else f"<td>{text}</td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


# -- profiles ---------------------------------------------------------------------------------

def _profile_body(profile: Any, *, compact: bool) -> str:
    """Summary table with a chart per attribute (small ones when ``compact``), then the
    suggested rules."""
    header = ("<tr><th>attribute</th><th>role</th><th>kind</th><th>missing</th>"
              "<th>distinct</th><th>most frequent / mean</th><th>range</th>"
              "<th>distribution</th></tr>")
    rows = []
    for record in profile.summary.to_dict("records"):
        attribute, kind = record["attribute"], record["kind"]
        if kind in ("numeric", "date"):
            typical = f"mean {_cell(record['mean'])}, median {_cell(record['p50'])}"
            span = f"{_cell(record['min'])} .. {_cell(record['max'])}"
        elif kind == "boolean":
            typical = f"{_share(record['mean'])} true"
            span = ""
        else:
            typical = (f"{_cell(record['top'])} ({_share(record['top_share'])})"
                       if record["top_count"] is not pd.NA and record["top"] is not None
                       and not (isinstance(record["top"], float) and math.isnan(record["top"]))
                       else "")
            span = ""
        chart = ""
        if kind != "identifier" and record["count"] > 0:
            if compact:
                chart = figure_html(_spark(profile, attribute))
            else:
                chart = figure_html(charts.profile_histogram(profile, attribute, title="",
                                                             height=220, width=420))
        rows.append(
            f"<tr><td><strong>{escape(attribute)}</strong></td>"
            f"<td class='muted'>{escape(record['role'])}</td><td>{escape(kind)}</td>"
            f"<td class='num'>{record['missing']:,} ({_share(record['missing_share'])})</td>"
            f"<td class='num'>{record['distinct']:,}</td><td>{typical}</td><td>{span}</td>"
            f"<td>{chart}</td></tr>")
    suggestions = ""
    if len(profile.suggestions):
        suggestions = ("<details><summary><strong>Suggested rules</strong> "
                       f"({len(profile.suggestions)}): paste into base.segment(...)</summary>"
                       + _table(profile.suggestions, shares=("share",)) + "</details>")
    title = (f"<h3>Profile of {escape(str(profile.name))}: {profile.n_rows:,} contacts, "
             f"{len(profile.summary)} attributes</h3>")
    return f"{title}<table><thead>{header}</thead><tbody>{''.join(rows)}</tbody></table>" \
           f"{suggestions}"


@hooks.implements("profile_html")
def profile_html(profile: Any, *, include_plotlyjs: bool | str = "once") -> str:
    """Notebook view of a profile: the summary table with a small chart per attribute.

    ``include_plotlyjs``: ``"once"`` (default: with the first view of the session), True
    or False.
    """
    body = _profile_body(profile, compact=True)
    return (f'<div class="segexplore">{_STYLE}{_notebook_plotlyjs(include_plotlyjs)}'
            f"{body}</div>")


def _standalone(title: str, body: str) -> str:
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f"<title>{escape(title)}</title>{plotlyjs_script()}{_STYLE}</head>"
            f'<body class="segexplore" style="font-family: sans-serif; margin: 24px">'
            f"{body}</body></html>\n")


def _write(path: str | Path, text: str) -> Path:
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text, encoding="utf-8")
    return target


@hooks.implements("profile_report")
def profile_report(profile: Any, path: str | Path) -> Path:
    """Write a standalone, offline HTML report of a profile (plotly.js embedded once)."""
    body = _profile_body(profile, compact=False)
    return _write(path, _standalone(f"Profile of {profile.name}", body))


# -- comparisons ------------------------------------------------------------------------------

def _comparison_body(comparison: Any, *, top: int = 5) -> str:
    parts = [f"<h3>Comparison of {len(comparison.segments)} segments of "
             f"{comparison.n_base:,} contacts</h3>",
             _table(comparison.sizes, shares=("share",)),
             figure_html(charts.segment_sizes(comparison, height=320))]
    if len(comparison.segments) > 1:
        parts.append(figure_html(charts.overlap_heatmap(comparison, height=360)))
        parts.append(figure_html(charts.intersections(comparison, height=420)))
    differences = comparison.differences
    if len(differences):
        parts.append("<h4>What makes each segment different (largest effects first)</h4>")
        shown = differences[~differences["in_rule"]].groupby("segment", sort=False).head(top)
        parts.append(_table(shown[["segment", "attribute", "effect_name", "effect_size",
                                   "p_adjusted", "significant", "reading"]]))
    if len(comparison.expected):
        parts.append("<h4>Expected conversions (historical rate, Wilson interval)</h4>")
        parts.append(_table(comparison.expected[
            ["segment", "size", "rate", "rate_low", "rate_high", "expected_conversions",
             "lift"]], shares=("rate", "rate_low", "rate_high")))
    if len(comparison.warnings):
        parts.append(f"<details><summary>{len(comparison.warnings)} warnings</summary>"
                     + _table(comparison.warnings) + "</details>")
    return "".join(parts)


@hooks.implements("comparison_html")
def comparison_html(comparison: Any, *, include_plotlyjs: bool | str = "once") -> str:
    """Notebook view of a comparison: sizes, overlaps, top differences, expected conversions
    and warnings."""
    return (f'<div class="segexplore">{_STYLE}{_notebook_plotlyjs(include_plotlyjs)}'
            f"{_comparison_body(comparison)}</div>")


@hooks.implements("comparison_report")
def comparison_report(comparison: Any, path: str | Path) -> Path:
    """Write a standalone, offline HTML report of a comparison (plotly.js embedded once)."""
    return _write(path, _standalone("Segment comparison", _comparison_body(comparison)))
