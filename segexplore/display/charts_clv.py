"""Plotly figures of a customer-value model (outside the headless core).

* :func:`p_alive_matrix`: probability of being alive against recency and frequency (the
  classic matrix of the BG/NBD paper);
* :func:`holdout_chart`: mean repeat purchases in the holdout per calibration frequency,
  actual against the model and the naive baseline (the calibration/holdout plot);
* :func:`clv_by_segment`: distribution of the predicted CLV in each segment.

Every function takes a :class:`~segexplore.ml.clv.CustomerValue` and returns a
``plotly.graph_objects.Figure``; the numbers drawn are those of the model's tables
(``p_alive_matrix()``, ``by_frequency``, ``scores``), nothing else is recomputed.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from segexplore.errors import ParameterError, ParameterTypeError, SchemaError, closest_name
from segexplore.features.registry import FEATURES

if TYPE_CHECKING:
    from segexplore.ml.clv import CustomerValue

__all__ = ["p_alive_matrix", "holdout_chart", "clv_by_segment"]

_LAYOUT = {"template": "plotly_white", "margin": {"l": 60, "r": 30, "t": 60, "b": 50}}


def p_alive_matrix(model: CustomerValue, **grid: Any) -> go.Figure:
    """Heatmap of P(alive) by frequency (rows) and recency (columns) at the largest ``T``.

    ``grid`` goes to :meth:`CustomerValue.p_alive_matrix` (``max_frequency``,
    ``max_recency``, ``T``, ``points``). High frequency with an old last purchase is the
    dark corner: customers who used to buy often and stopped.
    """
    matrix = model.p_alive_matrix(**grid)
    unit = model.time_unit
    figure = go.Figure(go.Heatmap(
        z=matrix.to_numpy(), x=matrix.columns.to_numpy(dtype=float),
        y=matrix.index.to_numpy(), zmin=0, zmax=1, colorscale="Viridis",
        colorbar={"title": "P(alive)"},
        hovertemplate=f"frequency %{{y}}<br>recency %{{x:.1f}} {unit}<br>P(alive) "
                      f"%{{z:.2f}}<extra></extra>"))
    figure.update_layout(
        title=f"Probability of being alive (T = {matrix.attrs['T']:.1f} {unit})",
        xaxis_title=f"recency: time from first to last purchase ({unit})",
        yaxis_title="frequency: repeat purchase days", **_LAYOUT)
    return figure


def holdout_chart(model: CustomerValue) -> go.Figure:
    """Actual, predicted (model) and naive repeat purchases in the holdout, per frequency.

    Customers are grouped by their number of repeat purchase days in the calibration
    period (the last group gathers the highest); each line is the group's mean number of
    repeat purchase days in ``(calibration_end, as_of]``.
    """
    table = model.by_frequency
    figure = go.Figure()
    styles = {"actual": {"color": "#2a3f5f", "width": 3},
              "model": {"color": "#1f77b4", "dash": "dash"},
              "naive": {"color": "#9e9e9e", "dash": "dot"}}
    names = {"actual": "actual", "model": model.model_name,
             "naive": "naive: past rate carried forward"}
    for column, line in styles.items():
        figure.add_trace(go.Scatter(
            x=table["frequency"], y=table[column], mode="lines+markers", name=names[column],
            line=line, customdata=table["customers"],
            hovertemplate=f"{names[column]}<br>frequency %{{x}} (%{{customdata:,}} "
                          f"customers)<br>%{{y:.2f}} purchase days<extra></extra>"))
    figure.update_layout(
        title=f"Holdout {model.calibration_end:%Y-%m-%d} to {model.as_of:%Y-%m-%d}: "
              f"repeat purchases by calibration frequency",
        xaxis_title="repeat purchase days in the calibration period",
        yaxis_title="mean repeat purchase days in the holdout", **_LAYOUT)
    figure.update_xaxes(type="category")
    figure.update_yaxes(rangemode="tozero")
    return figure


def _segment_masks(model: CustomerValue, segments: Any) -> dict[str, np.ndarray]:
    """``{name: boolean array over the contacts}`` from a column name or a mapping."""
    from segexplore.ml.score import add_scores  # scikit-learn: only when drawn

    contacts = model.base.contacts
    if isinstance(segments, str):
        scored = add_scores(model.base, model.scores)
        known = [*scored.contacts.columns, *FEATURES]
        if segments not in known:
            guess = closest_name(segments, known)
            hint = f"; did you mean {guess!r}?" if guess else ""
            raise SchemaError(f"no contact column or feature {segments!r} to group by{hint}")
        values = scored.evaluator().column(segments)
        return {str(v): (values == v).to_numpy(dtype=bool)
                for v in pd.unique(values.dropna())}
    if not isinstance(segments, Mapping):
        raise ParameterTypeError("segments must be a column name or a mapping of name to a "
                                 "Segment, a rule text or a boolean mask")
    scored = None
    masks = {}
    for name, segment in segments.items():
        if isinstance(segment, str):
            if scored is None:  # rules may use the scores themselves
                scored = add_scores(model.base, model.scores)
            mask = scored.segment(segment, save=False).mask
        else:
            mask = getattr(segment, "mask", segment)
        mask = np.asarray(mask, dtype=bool)
        if len(mask) != len(contacts):
            raise ParameterError(f"segment {name!r} has {len(mask):,} rows, the base "
                                 f"{len(contacts):,}")
        masks[str(name)] = mask
    return masks


def clv_by_segment(model: CustomerValue, segments: Any) -> go.Figure:
    """Box plot of the predicted CLV of the scored customers of each segment.

    Parameters
    ----------
    model : CustomerValue
    segments : str or mapping
        A contact column or feature (``"loyalty_tier"``, ``"rfm_group"``): one box per
        value; or ``{name: Segment, rule text or boolean mask}``. Rule texts may use the
        scores (``"p_alive < 0.3"``). Contacts without a score (never bought) are left out.
    """
    column = model.clv_column
    if column not in model.scores:
        raise ParameterError("the model has no CLV score (fitted with spend=None)")
    values = model.scores[column].to_numpy()
    scored = ~np.isnan(values)
    figure = go.Figure()
    for name, mask in _segment_masks(model, segments).items():
        chosen = values[mask & scored]
        figure.add_trace(go.Box(y=chosen, name=f"{name} ({len(chosen):,})", boxmean=True,
                                boxpoints=False))
    figure.update_layout(title=f"{column} by segment (mean dashed)",
                         yaxis_title=f"{column} (currency of the orders)", showlegend=False,
                         **_LAYOUT)
    return figure
