"""Standalone HTML reports of profiles and comparisons, with every chart, working offline.

:func:`profile_report` (``profile.to_html(path)``) and :func:`comparison_report`
(``comparison.to_html(path)``) write one file that embeds plotly.js once in its
``<head>`` and draws the plotly charts of :mod:`segexplore.display.charts`, so it opens
anywhere, offline, with no script loaded from a CDN. The tables are those of the notebook
views (:mod:`segexplore.display.html`).

plotly is imported when a report is written, not when this module is: ``import segexplore``
registers the reports and stays free of plotly.
"""

from __future__ import annotations

import json
import uuid
from html import escape
from pathlib import Path
from typing import Any

from segexplore.display.html import STYLE, comparison_sections, profile_table
from segexplore.model import hooks

__all__ = ["profile_report", "comparison_report", "figure_html", "plotlyjs_script",
           "standalone_page", "write_page"]


def plotlyjs_script() -> str:
    """plotly.js inline in a ``<script>`` element (no ``src``: nothing is fetched)."""
    from plotly.offline import get_plotlyjs  # plotly only when a report is written

    return f'<script type="text/javascript">{get_plotlyjs()}</script>'


def figure_html(fig: Any) -> str:
    """A plotly figure as a ``<div>`` and the script that draws it once plotly.js is
    there."""
    div_id = f"segexplore-{uuid.uuid4().hex[:12]}"
    # "<" escaped so that no text in the figure can close the script element
    spec = fig.to_json(validate=False).replace("<", "\\u003c")
    width, height = fig.layout.width, fig.layout.height or 450
    config = json.dumps({"displayModeBar": False, "responsive": True})
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
        f'  else {{ el.textContent = "plotly.js is not loaded"; }}'
        f'}}'
        f'draw();'
        f'}})();</script>'
    )


def standalone_page(title: str, body: str, *, lang: str = "en", style: str = "",
                    body_class: str = "") -> str:
    """A whole HTML page that opens offline: ``body`` after plotly.js (inline, once), the
    views' :data:`~segexplore.display.html.STYLE` and ``style`` (a ``<style>`` element of
    the caller's: no stylesheet, font or icon is fetched); ``body_class`` is added to the
    body's ``segexplore`` class."""
    classes = escape(f"segexplore {body_class}".strip())
    return (f'<!DOCTYPE html>\n<html lang="{escape(lang)}"><head><meta charset="utf-8">'
            f"<title>{escape(title)}</title>{plotlyjs_script()}{STYLE}{style}</head>"
            f'<body class="{classes}" style="font-family: sans-serif; margin: 24px">'
            f"{body}</body></html>\n")


def write_page(path: str | Path, text: str) -> Path:
    """Write ``text`` to ``path`` in UTF-8 (its folder made if need be); the path back."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text, encoding="utf-8")
    return target


@hooks.implements("profile_report")
def profile_report(profile: Any, path: str | Path) -> Path:
    """Write a standalone, offline HTML report of a profile (plotly.js embedded once, a
    histogram per attribute). Returns the path written."""
    from segexplore.display import charts  # plotly only when a report is written

    def chart(profile: Any, attribute: str) -> str:
        return figure_html(charts.profile_histogram(profile, attribute, title="", height=220,
                                                    width=420))

    body = profile_table(profile, chart)
    return write_page(path, standalone_page(f"Profile of {profile.name}", body))


@hooks.implements("comparison_report")
def comparison_report(comparison: Any, path: str | Path) -> Path:
    """Write a standalone, offline HTML report of a comparison (plotly.js embedded once;
    sizes, overlap and intersection charts). Returns the path written."""
    from segexplore.display import charts  # plotly only when a report is written

    figures = {"sizes": figure_html(charts.segment_sizes(comparison, height=320))}
    if len(comparison.segments) > 1:
        figures["overlap"] = figure_html(charts.overlap_heatmap(comparison, height=360))
        figures["intersections"] = figure_html(charts.intersections(comparison, height=420))
    body = comparison_sections(comparison, figures)
    return write_page(path, standalone_page("Segment comparison", body))
