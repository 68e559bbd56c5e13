"""Plotly figures of profiles and segment comparisons.

Every function returns a :class:`plotly.graph_objects.Figure` (it never calls ``.show()``)
and takes the same keyword vocabulary as :mod:`plotly.express`:

``title``
    Figure title (each chart has a sensible default).
``labels``
    ``{name: display text}`` for axis titles and legend entries, e.g.
    ``labels={"size": "Contacts", "share": "Share of the segment"}``.
``color_discrete_map``
    ``{segment name: color}``; other segments take the default palette in order, the
    whole base is grey.
``category_orders``
    ``{"segment": [...], "value": [...]}``: the order of segments and of category values.
``height``, ``width``
    In pixels.

Charts read the tables of a :class:`~segexplore.analysis.compare.Comparison` or
:class:`~segexplore.analysis.profile.Profile`; nothing is recomputed, so the bars are exactly
the numbers in those tables.

Examples
--------
>>> import segexplore as se
>>> from segexplore import charts
>>> from segexplore.analysis.compare import compare
>>> base = se.load_sample()
>>> android = base.segment('device = "Android"', name="Android")
>>> comparison = compare([android], attributes=["language"])
>>> fig = charts.segment_sizes(comparison, title="Android users")
>>> list(fig.data[0].y) == [android.size]
True
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.colors import qualitative
from plotly.subplots import make_subplots

from segexplore.analysis.encoding import MISSING, OTHER, pool_rare, ranked
from segexplore.display.bars import check_attribute, profile_bars
from segexplore.display.numbers import format_count, format_share
from segexplore.errors import ParameterError, ParameterTypeError

__all__ = ["segment_sizes", "overlap_heatmap", "intersections", "distribution", "lift",
           "rfm_grid", "profile_histogram", "size_vs_expected",
           "size_history", "BASE_COLOR"]

#: Color of the whole base in every chart.
BASE_COLOR = "#9e9e9e"
_MEMBER_COLOR = "#2a3f5f"
_BASE_NAME = "all contacts"


# -- the shared vocabulary --------------------------------------------------------------------

def _label(name: str, labels: Mapping[str, str] | None, default: str | None = None) -> str:
    if labels and name in labels:
        return labels[name]
    return default if default is not None else name


def _colors(names: Sequence[str], color_discrete_map: Mapping[str, str] | None
            ) -> dict[str, str]:
    palette = qualitative.Plotly
    chosen = dict(color_discrete_map or {})
    free = iter(c for c in palette * (len(names) // len(palette) + 1))
    return {name: chosen[name] if name in chosen else next(free) for name in names}


def _ordered(names: Sequence[Any], category_orders: Mapping[str, Sequence[Any]] | None,
             key: str) -> list[Any]:
    """``names`` in the order of ``category_orders[key]`` (unlisted names keep theirs, after)."""
    wanted = list((category_orders or {}).get(key, []))
    listed = [n for n in wanted if n in names]
    return listed + [n for n in names if n not in listed]


def _finish(fig: go.Figure, *, title: str | None, default_title: str, height: int | None,
            width: int | None, x_title: str | None = None, y_title: str | None = None
            ) -> go.Figure:
    # no template here: like plotly.express, the session's default template applies
    fig.update_layout(title=title if title is not None else default_title, height=height,
                      width=width)
    if x_title is not None:
        fig.update_xaxes(title_text=x_title)
    if y_title is not None:
        fig.update_yaxes(title_text=y_title)
    return fig


def _text(value: Any) -> str:
    return str(value)


#: Categorical charts show at most this many values, the rest pooled as "other".
TOP_VALUES = 12


def _share_bar(name: str, texts: list[str], shares: list[float], horizontal: bool,
               **style: Any) -> go.Bar:
    """A bar trace of shares: values on the y axis when ``horizontal``, else on x."""
    label, value = ("y", "x") if horizontal else ("x", "y")
    style["hovertemplate"] = style["hovertemplate"].replace(
        "%{label}", f"%{{{label}}}").replace("%{value", f"%{{{value}")
    if horizontal:
        return go.Bar(name=name, y=texts, x=shares, orientation="h", **style)
    return go.Bar(name=name, x=texts, y=shares, **style)


def _bars_height(n_values: int, n_traces: int) -> int:
    """Height of a horizontal bar chart: each bar keeps room for its label."""
    return int(min(1600, max(260, 110 + n_values * (8 * n_traces + 10))))


def _top_values(rows: pd.DataFrame, names: Sequence[str], sizes: pd.Series, n_base: int, *,
                multi: bool, order: Sequence[Any] | None = None
                ) -> tuple[list[Any], list[float], dict[str, list[float]],
                           dict[str, list[int]]]:
    """The values a categorical chart shows: the :data:`TOP_VALUES` most frequent in the base
    (:func:`~segexplore.analysis.encoding.pool_rare`), the others pooled as
    :data:`~segexplore.analysis.encoding.OTHER`, sorted by the base's share with "other"
    and "(missing)" last.

    Tags of a multi-valued attribute are not pooled (a contact holds several): the most
    frequent are kept. Returns the values, the base's shares and, per segment, the shares
    and counts.
    """
    values = list(dict.fromkeys(rows["value"]))
    first = rows[rows["segment"] == names[0]].set_index("value")
    base_counts = np.array([round(float(first.loc[v, "base_share"]) * n_base)
                            for v in values], dtype=np.int64)
    per_segment = np.column_stack([
        rows[rows["segment"] == name].set_index("value")["count"].reindex(values)
        .fillna(0).to_numpy(dtype=np.int64) for name in names])
    if multi:
        kept = ranked(base_counts)[:TOP_VALUES]
        labels = [values[i] for i in kept]
        pooled_base, pooled = base_counts[kept], per_segment[kept]
    else:
        special = [v for v in values if isinstance(v, str) and v in (OTHER, MISSING)]
        known = [i for i, v in enumerate(values) if v not in special]
        extra = {v: values.index(v) for v in special}
        missing_row = extra.get(MISSING)
        base_in = np.r_[base_counts[known],
                        base_counts[missing_row] if missing_row is not None else 0]
        segment_in = np.vstack([per_segment[known],
                                per_segment[missing_row] if missing_row is not None
                                else np.zeros(len(names), dtype=np.int64)])
        labels, pooled_base, pooled = pool_rare(
            np.array([values[i] for i in known], dtype=object), base_in, segment_in,
            TOP_VALUES)
        labels, pooled_base, pooled = list(labels), np.array(pooled_base), np.array(pooled)
        if OTHER in extra:  # already pooled by the comparison: one "other" bar
            if OTHER not in labels:
                labels.insert(len(labels) - 1, OTHER)
                pooled_base = np.insert(pooled_base, len(pooled_base) - 1, 0)
                pooled = np.insert(pooled, len(pooled) - 1, 0, axis=0)
            at = labels.index(OTHER)
            pooled_base[at] += base_counts[extra[OTHER]]
            pooled[at] += per_segment[extra[OTHER]]
    keep = [i for i in range(len(labels)) if pooled_base[i] > 0 or pooled[i].any()]
    special_last = [i for i in keep if isinstance(labels[i], str)
                    and labels[i] in (OTHER, MISSING) and not multi]
    ordinary = sorted((i for i in keep if i not in special_last),
                      key=lambda i: -pooled_base[i])
    if order:
        ordinary = ([i for v in order for i in ordinary if labels[i] == v]
                    + [i for i in ordinary if labels[i] not in list(order)])
    special_last.sort(key=lambda i: labels[i] == MISSING)
    chosen = ordinary + special_last
    shares = {name: [float(pooled[i, s]) / sizes[name] if sizes[name] else math.nan
                     for i in chosen] for s, name in enumerate(names)}
    counts = {name: [int(pooled[i, s]) for i in chosen] for s, name in enumerate(names)}
    base_shares = [float(pooled_base[i]) / n_base if n_base else math.nan for i in chosen]
    return [labels[i] for i in chosen], base_shares, shares, counts


def _log_ticks(low: float, high: float) -> tuple[list[float], list[str]]:
    """Ticks of a log axis at 1, 2, 5, 10, 20, 50... between ``low`` and ``high``, labelled
    as plain numbers (``1k`` for a thousand), not plotly's ``5 100 2 5 1000``."""
    low, high = max(low, 1e-3), max(high, low * 1.0001)
    ticks: list[float] = []
    for power in range(math.floor(math.log10(low)) - 1, math.ceil(math.log10(high)) + 1):
        for step in (1, 2, 5):
            value = step * 10.0 ** power
            if low <= value <= high:
                ticks.append(value)
    if len(ticks) > 9:  # a wide range: the powers of ten only
        ticks = [t for t in ticks if math.log10(t).is_integer()] or ticks
    return ticks, [_plain(t) for t in ticks]


def _plain(value: float) -> str:
    if value >= 1000:
        return f"{value / 1000:g}k"
    return f"{value:g}"


# -- comparisons ------------------------------------------------------------------------------

def segment_sizes(comparison: Any, *, title: str | None = None,
                  labels: Mapping[str, str] | None = None,
                  color_discrete_map: Mapping[str, str] | None = None,
                  category_orders: Mapping[str, Sequence[Any]] | None = None,
                  height: int | None = None, width: int | None = None,
                  locale: str = "en") -> go.Figure:
    """Bars of the number of contacts in each segment, labelled with their share (written
    for ``locale``: :func:`segexplore.display.numbers.format_share`)."""
    sizes = comparison.sizes.set_index("segment")
    names = _ordered(list(sizes.index), category_orders, "segment")
    colors = _colors(list(comparison.segments), color_discrete_map)
    fig = go.Figure(go.Bar(
        x=names, y=sizes.loc[names, "size"].tolist(),
        text=[format_share(s, locale) for s in sizes.loc[names, "share"]],
        textposition="outside",
        marker_color=[colors[n] for n in names],
        hovertemplate="%{x}<br>%{y:,} contacts (%{text} of the base)<extra></extra>"))
    fig.update_xaxes(type="category")  # names like "2024" stay names
    return _finish(fig, title=title, default_title="Segment sizes", height=height,
                   width=width, x_title=_label("segment", labels),
                   y_title=_label("size", labels, "contacts"))


def overlap_heatmap(comparison: Any, kind: str = "jaccard", *, title: str | None = None,
                    labels: Mapping[str, str] | None = None,
                    color_discrete_map: Mapping[str, str] | None = None,
                    category_orders: Mapping[str, Sequence[Any]] | None = None,
                    height: int | None = None, width: int | None = None) -> go.Figure:
    """Heatmap of the overlap of every pair of segments (``kind``: "jaccard", "count" or
    "share" of the row segment)."""
    matrix = comparison.overlap_matrix(kind)
    names = _ordered(list(matrix.index), category_orders, "segment")
    matrix = matrix.loc[names, names]
    template = "%{z:,}" if kind == "count" else "%{z:.0%}"
    fig = go.Figure(go.Heatmap(
        z=matrix.to_numpy().tolist(), x=names, y=names, colorscale="Blues",
        texttemplate=template, hovertemplate="%{y} & %{x}: " + template + "<extra></extra>",
        colorbar_title=_label(kind, labels)))
    fig.update_xaxes(type="category")
    fig.update_yaxes(type="category", autorange="reversed")
    default = {"jaccard": "Overlap (Jaccard: in both / in either)",
               "count": "Contacts in both segments",
               "share": "Share of the row segment also in the column segment"}[kind]
    return _finish(fig, title=title, default_title=default, height=height, width=width,
                   x_title=_label("segment_b", labels, "segment"),
                   y_title=_label("segment_a", labels, "segment"))


def intersections(comparison: Any, *, max_intersections: int = 20, title: str | None = None,
                  labels: Mapping[str, str] | None = None,
                  color_discrete_map: Mapping[str, str] | None = None,
                  category_orders: Mapping[str, Sequence[Any]] | None = None,
                  height: int | None = None, width: int | None = None,
                  locale: str = "en") -> go.Figure:
    """UpSet chart: sizes of the exclusive intersections above a matrix of member dots.

    ``fig.data[0]`` is the bars (one per combination, largest first), ``fig.data[1]`` every
    cell of the matrix, ``fig.data[2]`` the member cells and ``fig.data[3]`` the lines that
    join the members of a combination. The bars' labels are written for ``locale``
    (:func:`segexplore.display.numbers.format_count`).
    """
    table = comparison.intersections.head(max_intersections)
    names = _ordered(list(comparison.segments), category_orders, "segment")
    combos = [" & ".join(n for n in names if row[n]) for _, row in table.iterrows()]
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, row_heights=[0.62, 0.38],
                        vertical_spacing=0.03)
    fig.add_trace(go.Bar(x=combos, y=table["size"].tolist(), marker_color=_MEMBER_COLOR,
                         text=[format_count(s, locale) for s in table["size"]],
                         textposition="outside",
                         name=_label("size", labels, "contacts"), showlegend=False,
                         hovertemplate="%{x}<br>%{y:,} contacts<extra></extra>"), row=1, col=1)
    cells_x = [c for c in combos for _ in names]
    cells_y = [n for _ in combos for n in names]
    fig.add_trace(go.Scatter(x=cells_x, y=cells_y, mode="markers", showlegend=False,
                             marker=dict(size=12, color="#e0e0e0"), hoverinfo="skip"),
                  row=2, col=1)
    members = [(c, n) for c, (_, row) in zip(combos, table.iterrows(), strict=True) for n in names if row[n]]
    fig.add_trace(go.Scatter(x=[c for c, _ in members], y=[n for _, n in members],
                             mode="markers", showlegend=False, hoverinfo="skip",
                             marker=dict(size=12, color=_MEMBER_COLOR)), row=2, col=1)
    line_x: list[Any] = []
    line_y: list[Any] = []
    for combo, (_, row) in zip(combos, table.iterrows(), strict=True):
        inside = [n for n in names if row[n]]
        if len(inside) > 1:
            line_x += [combo, combo, None]
            line_y += [inside[0], inside[-1], None]
    fig.add_trace(go.Scatter(x=line_x, y=line_y, mode="lines", showlegend=False,
                             line=dict(color=_MEMBER_COLOR, width=3), hoverinfo="skip"),
                  row=2, col=1)
    fig.update_xaxes(type="category", categoryorder="array", categoryarray=combos)
    fig.update_xaxes(showticklabels=False, row=2, col=1)
    fig.update_yaxes(type="category", categoryorder="array", categoryarray=names[::-1],
                     row=2, col=1)
    fig.update_yaxes(title_text=_label("size", labels, "contacts"), row=1, col=1)
    return _finish(fig, title=title, default_title="Contacts in exactly these segments",
                   height=height, width=width)


def distribution(comparison_or_segments: Any, attribute: str, *, base: Any = None,
                 title: str | None = None, labels: Mapping[str, str] | None = None,
                 color_discrete_map: Mapping[str, str] | None = None,
                 category_orders: Mapping[str, Sequence[Any]] | None = None,
                 height: int | None = None, width: int | None = None) -> go.Figure:
    """One attribute in each segment against the whole base.

    Categories: horizontal bars of the share of each value, side by side (one trace per
    segment, the base last, in grey), for the 12 values most frequent in the base
    (:data:`TOP_VALUES`), the others pooled as ``"other"`` (the pooling of
    :func:`~segexplore.analysis.encoding.pool_rare`); sorted by the base's share, largest at
    the top, ``"other"`` and ``"(missing)"`` last; every label is drawn (the margin fits
    the longest, the height grows with the number of bars). Multi-valued attributes
    (interests): columns of the share holding each of the 12 most frequent tags (a
    contact holds several, so they are not pooled). Numbers and dates: box plots drawn from the comparison's quantiles
    (whiskers at the 5th and 95th percentiles, dashed line at the mean).

    ``comparison_or_segments`` is a Comparison, or segments as accepted by
    :func:`~segexplore.analysis.compare.compare` (compared on this attribute only).
    """
    from segexplore.analysis.compare import Comparison, compare

    comparison = comparison_or_segments
    if not isinstance(comparison, Comparison):
        comparison = compare(comparison, base, attributes=[attribute], rate=None)
    check_attribute(attribute, comparison.attributes["attribute"].tolist(), "comparison")
    names = _ordered(list(comparison.segments), category_orders, "segment")
    colors = _colors(list(comparison.segments), color_discrete_map)
    kind = comparison.attributes.set_index("attribute").loc[attribute, "kind"]
    fig = go.Figure()
    if kind in ("categorical", "boolean", "multi"):
        rows = comparison.distributions[comparison.distributions["attribute"] == attribute]
        sizes = comparison.sizes.set_index("segment")["size"]
        values, base_shares, shares, counts = _top_values(
            rows, names, sizes, comparison.n_base, multi=kind == "multi",
            order=(category_orders or {}).get("value"))
        texts = [_text(v) for v in values]
        horizontal = kind != "multi"
        for name in names:
            fig.add_trace(_share_bar(name, texts, shares[name], horizontal,
                                     marker_color=colors[name], customdata=counts[name],
                                     hovertemplate="%{label}: %{value:.1%} "
                                                   "(%{customdata:,})"))
        fig.add_trace(_share_bar(_label("base", labels, _BASE_NAME), texts, base_shares,
                                 horizontal, marker_color=BASE_COLOR,
                                 hovertemplate="%{label}: %{value:.1%}"))
        fig.update_layout(barmode="group", bargap=0.25, bargroupgap=0.05,
                          legend=dict(orientation="h", yanchor="bottom", y=1.0, x=0))
        x_title = _label("share", labels, "share of contacts")
        y_title = _label(attribute, labels)
        if horizontal:
            # the first value at the top, every label kept (the margin grows to fit it)
            fig.update_layout(margin=dict(l=10, r=20, t=70, b=40))
            fig.update_yaxes(type="category", categoryorder="array", categoryarray=texts,
                             autorange="reversed", automargin=True, tickmode="linear",
                             dtick=1)
            fig.update_xaxes(tickformat=".0%", rangemode="tozero")
            if height is None:
                height = _bars_height(len(values), len(names) + 1)
        else:  # tags: at most 12 columns, most frequent first, labels tilted if need be
            fig.update_xaxes(type="category", automargin=True, tickmode="linear", dtick=1)
            fig.update_yaxes(tickformat=".0%")
            x_title, y_title = y_title, x_title
    else:
        numeric = comparison.numeric[comparison.numeric["attribute"] == attribute]
        numeric = numeric.set_index("segment")
        base_row = comparison.base_numeric.set_index("attribute").loc[attribute]
        groups = [(name, numeric.loc[name], colors[name]) for name in names]
        groups.append((_label("base", labels, _BASE_NAME), base_row, BASE_COLOR))
        for name, row, color in groups:
            fig.add_trace(go.Box(name=name, x=[name], q1=[row["p25"]], median=[row["median"]],
                                 q3=[row["p75"]], lowerfence=[row["p5"]],
                                 upperfence=[row["p95"]], mean=[row["mean"]],
                                 marker_color=color, boxmean=True))
        fig.update_xaxes(type="category", automargin=True)
        fig.update_layout(showlegend=False)  # the x axis names the segments
        if kind == "date":
            fig.update_yaxes(type="date")  # quantiles given as dates are not guessed
        x_title = _label("segment", labels)
        y_title = _label(attribute, labels)
    return _finish(fig, title=title, default_title=f"{attribute} by segment", height=height,
                   width=width, x_title=x_title, y_title=y_title)


def lift(comparison: Any, segment: str | None = None, *, top: int = 15, min_count: int = 10,
         findings_only: bool = False, title: str | None = None, labels: Mapping[str, str] | None = None,
         color_discrete_map: Mapping[str, str] | None = None,
         category_orders: Mapping[str, Sequence[Any]] | None = None,
         height: int | None = None, width: int | None = None) -> go.Figure:
    """Index of attribute values against the base (100 = as in the base, 150 = 1.5x).

    Shows the ``top`` values furthest from 100 (among values held by at least
    ``min_count`` members) for one segment, or, when ``segment`` is None, the values
    furthest from 100 for each segment in turn (one trace of dots per segment): ``x`` is
    the index on a log scale (so 50 and 200 are as far from 100), ``y`` is
    ``"attribute = value"`` (``"interests has sport"`` for a tag), and a dashed line marks
    100. The log axis is labelled with plain numbers (1, 2, 5, 10, ... 1k); every value is
    labelled (the height grows with them); pooled rare values (``"other"``) are left out.

    With ``findings_only``, each segment's values of the attributes its rule reads or
    implies (``in_rule``, ``implied`` in ``comparison.differences``) are left out too: they
    differ by design.
    """
    names = list(comparison.segments)
    if segment is not None and segment not in names:
        raise ParameterError(f"Value of 'segment' is not a segment of this comparison. "
                             f"Expected one of {names} but received: {segment}")
    shown = [segment] if segment is not None else _ordered(names, category_orders, "segment")
    rows = comparison.distributions[comparison.distributions["segment"].isin(shown)].copy()
    rows = rows[~rows["value"].map(lambda v: isinstance(v, str) and v == OTHER)]
    if findings_only:
        rows = rows[~_by_design(comparison, rows)]
    kinds = comparison.attributes.set_index("attribute")["kind"] if len(
        comparison.attributes) else pd.Series(dtype=object)
    is_tag = rows["attribute"].map(kinds).eq("multi")
    rows["label"] = (rows["attribute"] + np.where(is_tag, " has ", " = ")
                     + rows["value"].map(_text))
    strong = rows[(rows["count"] >= min_count) & (rows["index"] > 0)].copy()
    strong["distance"] = np.abs(np.log(strong["index"] / 100))
    per_segment = max(1, top // len(shown))
    picked = strong.sort_values("distance", ascending=False, kind="stable").groupby(
        "segment", sort=False).head(per_segment)
    furthest = picked.groupby("label", sort=False)["distance"].max().sort_values()
    chosen = list(furthest.index)  # the largest ends up at the top of a horizontal chart
    colors = _colors(names, color_discrete_map)
    fig = go.Figure()
    for name in shown:
        mine = rows[rows["segment"] == name].set_index("label").reindex(chosen)
        # dots, not bars: on a log scale a bar would start at the axis, not at 100
        fig.add_trace(go.Scatter(name=name, mode="markers", y=chosen, x=mine["index"].tolist(),
                                 marker=dict(color=colors[name], size=11),
                                 customdata=mine["share"].tolist(),
                                 hovertemplate="%{y}: index %{x:.0f} (%{customdata:.1%} of "
                                               "the segment)"))
    fig.add_vline(x=100, line_dash="dash", line_color=BASE_COLOR)
    shown_index = [v for v in rows.loc[rows["label"].isin(chosen), "index"] if v > 0]
    tickvals, ticktext = _log_ticks(min(shown_index + [100]) / 1.3,
                                    max(shown_index + [100]) * 1.3)
    fig.update_xaxes(type="log", tickvals=tickvals, ticktext=ticktext, tickangle=0)
    fig.update_yaxes(type="category", categoryorder="array", categoryarray=chosen,
                     automargin=True, tickmode="linear", dtick=1)
    fig.update_layout(showlegend=len(shown) > 1, margin=dict(l=10, r=20, t=80, b=40),
                      legend=dict(orientation="h", yanchor="bottom", y=1.0, x=0))
    if height is None:
        height = int(max(260, 130 + 22 * len(chosen)))
    default = f"What sets {segment} apart" if segment else "Index against the base"
    return _finish(fig, title=title, default_title=default, height=height, width=width,
                   x_title=_label("index", labels, "index (100 = base)"),
                   y_title=_label("value", labels, ""))


def _by_design(comparison: Any, rows: pd.DataFrame) -> pd.Series:
    """Rows of a segment's attributes that its rule reads or implies."""
    differences = comparison.differences
    flags = [c for c in ("in_rule", "implied") if c in differences.columns]
    if not flags or not len(differences):
        return pd.Series(False, index=rows.index)
    marked = differences[differences[flags].astype(bool).any(axis=1)]
    pairs = set(zip(marked["segment"], marked["attribute"], strict=True))
    return pd.Series([(s, a) in pairs for s, a in zip(rows["segment"], rows["attribute"],
                                                       strict=True)], index=rows.index)


def size_vs_expected(comparison: Any, *, title: str | None = None,
                     labels: Mapping[str, str] | None = None,
                     color_discrete_map: Mapping[str, str] | None = None,
                     category_orders: Mapping[str, Sequence[Any]] | None = None,
                     height: int | None = None, width: int | None = None) -> go.Figure:
    """Scatter of segment size against expected conversions (Wilson interval as error bars)."""
    expected = comparison.expected.set_index("segment")
    if not len(expected):
        raise ParameterError("This comparison has no expected conversions: compare with rate=")
    names = _ordered(list(expected.index), category_orders, "segment")
    expected = expected.loc[names]
    colors = _colors(list(comparison.segments), color_discrete_map)
    fig = go.Figure(go.Scatter(
        x=expected["size"].tolist(), y=expected["expected_conversions"].tolist(),
        text=names, mode="markers+text", textposition="top center",
        marker=dict(size=14, color=[colors[n] for n in names]),
        error_y=dict(type="data", symmetric=False,
                     array=(expected["expected_high"] - expected["expected_conversions"]
                            ).tolist(),
                     arrayminus=(expected["expected_conversions"] - expected["expected_low"]
                                 ).tolist()),
        customdata=expected["rate"].tolist(),
        hovertemplate="%{text}: %{x:,} contacts, %{y:,.0f} expected (rate %{customdata:.1%})"
                      "<extra></extra>"))
    return _finish(fig, title=title, default_title="Size against expected conversions",
                   height=height, width=width, x_title=_label("size", labels, "contacts"),
                   y_title=_label("expected_conversions", labels, "expected conversions"))


def size_history(history_frame: pd.DataFrame, *, title: str | None = None,
                 labels: Mapping[str, str] | None = None,
                 color_discrete_map: Mapping[str, str] | None = None,
                 category_orders: Mapping[str, Sequence[Any]] | None = None,
                 height: int | None = None, width: int | None = None) -> go.Figure:
    """Lines of segment size over time: one trace per segment, from columns
    ``date, segment, size``."""
    missing = [c for c in ("date", "segment", "size") if c not in history_frame.columns]
    if missing:
        raise ParameterError(f"Value of 'history_frame' lacks the columns {missing}. Expected "
                             f"columns ['date', 'segment', 'size'] but received: "
                             f"{list(history_frame.columns)}")
    names = _ordered(list(dict.fromkeys(history_frame["segment"])), category_orders,
                     "segment")
    colors = _colors(names, color_discrete_map)
    fig = go.Figure()
    for name in names:
        mine = history_frame[history_frame["segment"] == name].sort_values("date")
        fig.add_trace(go.Scatter(name=str(name), x=mine["date"].tolist(),
                                 y=mine["size"].tolist(), mode="lines+markers",
                                 line_color=colors[name]))
    return _finish(fig, title=title, default_title="Segment size over time", height=height,
                   width=width, x_title=_label("date", labels),
                   y_title=_label("size", labels, "contacts"))


# -- bases and profiles -----------------------------------------------------------------------

def rfm_grid(base_or_features: Any, *, title: str | None = None,
             labels: Mapping[str, str] | None = None,
             color_discrete_map: Mapping[str, str] | None = None,
             category_orders: Mapping[str, Sequence[Any]] | None = None,
             height: int | None = None, width: int | None = None) -> go.Figure:
    """Heatmap of contacts per RFM recency score (rows) and frequency score (columns).

    ``base_or_features`` is a ContactBase, a Segment (its members) or a DataFrame with the
    ``rfm_recency`` and ``rfm_frequency`` features. ``fig.data[0].z[r - 1][f - 1]`` counts
    the contacts with recency ``r`` and frequency ``f``; unscored contacts are left out.
    """
    from segexplore.model.base import ContactBase
    from segexplore.model.segments import Segment

    source = base_or_features
    if isinstance(source, Segment):
        features = source.base.features[source.mask.to_numpy()]
    elif isinstance(source, ContactBase):
        features = source.features
    elif isinstance(source, pd.DataFrame):
        features = source
    else:
        raise ParameterTypeError(f"Value of 'base_or_features' must be a ContactBase, a Segment "
                                 f"or a DataFrame but received: {type(source).__name__}")
    needed = [c for c in ("rfm_recency", "rfm_frequency") if c not in features.columns]
    if needed:
        raise ParameterError(f"Value of 'base_or_features' has no column {needed[0]!r}. "
                             f"Expected the features 'rfm_recency' and 'rfm_frequency' but "
                             f"received columns: {list(features.columns)}")
    recency = features["rfm_recency"].to_numpy(dtype=np.float64, na_value=np.nan)
    frequency = features["rfm_frequency"].to_numpy(dtype=np.float64, na_value=np.nan)
    scored = ~np.isnan(recency) & ~np.isnan(frequency)
    cells = (recency[scored].astype(int) - 1) * 5 + frequency[scored].astype(int) - 1
    grid = np.bincount(cells, minlength=25).reshape(5, 5)
    fig = go.Figure(go.Heatmap(z=grid.tolist(), x=[1, 2, 3, 4, 5], y=[1, 2, 3, 4, 5],
                               colorscale="Blues", texttemplate="%{z:,}",
                               colorbar_title=_label("count", labels, "contacts"),
                               hovertemplate="R=%{y}, F=%{x}: %{z:,} contacts<extra></extra>"))
    fig.update_xaxes(dtick=1)
    fig.update_yaxes(dtick=1)
    return _finish(fig, title=title, default_title="Contacts by RFM recency and frequency",
                   height=height, width=width,
                   x_title=_label("rfm_frequency", labels, "frequency score"),
                   y_title=_label("rfm_recency", labels, "recency score"))


def profile_histogram(profile: Any, attribute: str, *, title: str | None = None,
                      labels: Mapping[str, str] | None = None,
                      color_discrete_map: Mapping[str, str] | None = None,
                      category_orders: Mapping[str, Sequence[Any]] | None = None,
                      height: int | None = None, width: int | None = None) -> go.Figure:
    """One attribute of a profile: histogram bins for numbers and dates, counts of the top
    values for categories and of the tags for multi-valued columns (horizontal bars, the
    most frequent at the top, every label drawn).

    ``color_discrete_map`` may color the bars by the profile's name.
    """
    bars = profile_bars(profile, attribute)
    color = (color_discrete_map or {}).get(profile.name, _MEMBER_COLOR)
    if "width" in bars:
        trace = go.Bar(x=bars["x"], y=bars["y"], width=bars["width"], marker_color=color,
                       customdata=bars["ranges"],
                       hovertemplate="%{customdata[0]} to %{customdata[1]}: %{y:,}"
                                     "<extra></extra>")
    else:
        order = _ordered(bars["x"], category_orders, "value")
        counts = dict(zip(bars["x"], bars["y"], strict=True))
        trace = go.Bar(y=order, x=[counts[v] for v in order], orientation="h",
                       marker_color=color, hovertemplate="%{y}: %{x:,}<extra></extra>")
    fig = go.Figure(trace)
    x_title, y_title = _label(attribute, labels), _label("count", labels, "contacts")
    if "width" in bars:
        fig.update_layout(bargap=0.05)
    else:  # categories: horizontal bars, the most frequent at the top, every label drawn
        fig.update_yaxes(type="category", categoryorder="array", categoryarray=order,
                         autorange="reversed", automargin=True, tickmode="linear", dtick=1)
        fig.update_layout(margin=dict(l=10, r=20, t=60, b=40))
        x_title, y_title = y_title, x_title
        if height is None:
            height = _bars_height(len(order), 1)
    return _finish(fig, title=title, default_title=f"{attribute} ({profile.name})",
                   height=height, width=width, x_title=x_title, y_title=y_title)
