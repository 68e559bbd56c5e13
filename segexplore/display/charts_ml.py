"""Plotly figures for discovery, scores and A/B tests (outside the headless core).

Every function returns a ``plotly.graph_objects.Figure``; display it in a notebook by
leaving it as the last expression of a cell, or in a Voila dashboard with ``go.FigureWidget``.

Examples
--------
>>> import segexplore as se
>>> from segexplore.ml.abtest import ab_test
>>> import pandas as pd
>>> frame = pd.DataFrame({"group": ["A", "A", "B", "B"], "clicked": [True, False, True, True]})
>>> figure = ab_rates(ab_test(frame, "group", "clicked"))
>>> type(figure).__name__
'Figure'
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import plotly.graph_objects as go
from plotly.subplots import make_subplots

if TYPE_CHECKING:
    from segexplore.ml.abtest import ABResult
    from segexplore.ml.discover import Discovery
    from segexplore.ml.score import PropensityModel

__all__ = ["cluster_projection", "gains_chart", "calibration_chart", "ab_rates"]

_LAYOUT = {"template": "plotly_white", "margin": {"l": 60, "r": 30, "t": 60, "b": 50}}


def cluster_projection(discovery: Discovery) -> go.Figure:
    """Scatter of up to 5,000 contacts on the first two principal components, by cluster.

    Examples
    --------
    >>> import segexplore as se
    >>> from segexplore.ml.discover import discover
    >>> figure = cluster_projection(discover(se.load_sample(), k=4))
    >>> len(figure.data)
    4
    """
    points = discovery.projection
    explained = points.attrs.get("explained", [float("nan"), float("nan")])
    figure = go.Figure()
    for cluster, group in points.groupby("cluster", sort=True):
        figure.add_trace(go.Scattergl(
            x=group["pc1"], y=group["pc2"], mode="markers", name=f"{cluster}: {group['name'].iloc[0]}",
            marker={"size": 4, "opacity": 0.6},
            hovertemplate=f"cluster {cluster}<br>{group['name'].iloc[0]}<extra></extra>"))
    figure.update_layout(
        title=f"{discovery.k} clusters ({discovery.method}), 2-D projection",
        xaxis_title=f"component 1 ({explained[0]:.0%} of variance)",
        yaxis_title=f"component 2 ({explained[1]:.0%} of variance)",
        legend_title="cluster", **_LAYOUT)
    return figure


def gains_chart(model: PropensityModel) -> go.Figure:
    """Cumulative gains (share of positives found) and lift per decile, on the validation period.

    Examples
    --------
    >>> import segexplore as se
    >>> from segexplore.ml.score import propensity
    >>> figure = gains_chart(propensity(se.load_sample()))
    >>> [trace.name for trace in figure.data]
    ['lift by decile', 'model', 'random targeting']
    """
    gains = model.gains
    share = [0.0, *gains["contacts_share"].tolist()]
    figure = make_subplots(specs=[[{"secondary_y": True}]])
    figure.add_trace(go.Bar(x=gains["contacts_share"] - 0.05, y=gains["lift"],
                            name="lift by decile", opacity=0.35, width=0.09,
                            hovertemplate="decile %{customdata}<br>lift %{y:.2f}<extra></extra>",
                            customdata=gains["decile"]), secondary_y=True)
    figure.add_trace(go.Scatter(x=share, y=[0.0, *gains["gain"].tolist()], mode="lines+markers",
                                name="model",
                                hovertemplate="top %{x:.0%} of contacts<br>%{y:.0%} of "
                                              "positives<extra></extra>"), secondary_y=False)
    figure.add_trace(go.Scatter(x=[0, 1], y=[0, 1], mode="lines", name="random targeting",
                                line={"dash": "dash", "color": "grey"}), secondary_y=False)
    figure.update_layout(title=f"{model.name}: gains (AUC {model.auc:.3f})", **_LAYOUT)
    figure.update_xaxes(title_text="share of contacts targeted (highest scores first)",
                        tickformat=".0%")
    figure.update_yaxes(title_text="share of positives found", tickformat=".0%",
                        secondary_y=False)
    figure.update_yaxes(title_text="lift", secondary_y=True, showgrid=False)
    return figure


def calibration_chart(model: PropensityModel) -> go.Figure:
    """Predicted probability against observed rate, per decile of prediction.

    Examples
    --------
    >>> import segexplore as se
    >>> from segexplore.ml.score import propensity
    >>> figure = calibration_chart(propensity(se.load_sample()))
    >>> [trace.name for trace in figure.data]
    ['deciles', 'perfect calibration']
    """
    table = model.calibration
    top = float(max(table["predicted"].max(), table["observed"].max()) * 1.05) or 1.0
    figure = go.Figure()
    figure.add_trace(go.Scatter(
        x=table["predicted"], y=table["observed"], mode="markers+lines", name="deciles",
        customdata=table[["decile", "n"]],
        hovertemplate="decile %{customdata[0]} (%{customdata[1]:,} contacts)<br>predicted "
                      "%{x:.1%}<br>observed %{y:.1%}<extra></extra>"))
    figure.add_trace(go.Scatter(x=[0, top], y=[0, top], mode="lines", name="perfect calibration",
                                line={"dash": "dash", "color": "grey"}))
    figure.update_layout(title=f"{model.name}: calibration on the validation period",
                         xaxis_title="mean predicted probability",
                         yaxis_title="observed rate", **_LAYOUT)
    figure.update_xaxes(tickformat=".0%")
    figure.update_yaxes(tickformat=".0%")
    return figure


def ab_rates(result: ABResult) -> go.Figure:
    """Conversion rate of each variant with its confidence interval; the control in grey."""
    table = result.variants
    colours = ["#9e9e9e" if v == result.control else "#1f77b4" for v in table["variant"]]
    figure = go.Figure(go.Bar(
        x=table["variant"], y=table["rate"], marker_color=colours,
        error_y={"type": "data", "symmetric": False,
                 "array": (table["ci_high"] - table["rate"]).tolist(),
                 "arrayminus": (table["rate"] - table["ci_low"]).tolist()},
        customdata=table[["n", "conversions", "ci_low", "ci_high"]],
        hovertemplate="%{x}: %{y:.2%}<br>%{customdata[1]:,} of %{customdata[0]:,}<br>"
                      "interval %{customdata[2]:.2%} to %{customdata[3]:.2%}<extra></extra>"))
    figure.update_layout(title=f"{result.outcome}: rate by variant "
                               f"({1 - result.alpha:.0%} Wilson intervals)",
                         xaxis_title="variant", yaxis_title="rate", **_LAYOUT)
    figure.update_yaxes(tickformat=".1%", rangemode="tozero")
    return figure
