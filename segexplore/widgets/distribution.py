"""Distribution of an attribute inside a segment against the whole base (the Build charts).

:func:`distribution_table` is plain pandas; :func:`distribution_figure` and
:func:`update_distribution_figure` draw it as grouped bars (share of the segment, share of
the base) in a ``go.FigureWidget`` that is updated in place when the rule changes.

Examples
--------
>>> import segexplore as se
>>> base = se.load_sample()
>>> android = base.segment('device = "Android"', save=False)
>>> table = distribution_table(base, android.mask, "device")
>>> int(table.loc[table["value"] == "Android", "segment_count"].iloc[0]) == android.size
True
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from .fields import _split_multi, field_values

if TYPE_CHECKING:
    import plotly.graph_objects as go

    from segexplore.core.base import ContactBase

__all__ = ["distribution_table", "distribution_figure", "update_distribution_figure",
           "MISSING", "OTHER"]

#: Bar label of contacts without a value, and of values beyond the ``top`` shown.
MISSING = "(missing)"
OTHER = "(other)"

_COLUMNS = ["value", "segment_count", "segment_share", "base_count", "base_share"]


def distribution_table(base: ContactBase, mask: Any, attribute: str, *, top: int = 10,
                       bins: int = 10) -> pd.DataFrame:
    """Counts and shares of each value (or bin) of ``attribute``, in the segment and the base.

    Parameters
    ----------
    base : ContactBase
    mask : boolean array-like
        Segment membership, one entry per contact.
    attribute : str
        Contact column or behaviour feature.
    top : int
        Categories: keep the ``top`` most frequent values in the base, group the rest as
        ``"(other)"``.
    bins : int
        Numbers: equal-width bins over the base's range. Dates are grouped by month, or by
        year when they span more than two years.

    Returns
    -------
    DataFrame
        Columns ``value, segment_count, segment_share, base_count, base_share``; shares are
        0..1 of the segment's and the base's contacts (multi-valued fields count a contact
        once per value it holds, so their shares may add up to more than 1). Contacts
        without a value are the ``"(missing)"`` row.
    """
    values = field_values(base, attribute)
    member = pd.Series(np.asarray(mask, dtype=bool), index=values.index)
    if base.roles.roles.get(attribute) == "multi":
        exploded = _split_multi(values, base.roles.separators.get(attribute, "|"))
        pairs = pd.DataFrame({"contact": exploded.index, "value": exploded.to_numpy()})
        pairs = pairs.drop_duplicates()  # a contact counts once per value
        labels = pd.Series(pairs["value"].to_numpy(), index=pairs["contact"].to_numpy())
        order = None
    elif pd.api.types.is_bool_dtype(values.dtype):
        labels, order = values.map({True: "True", False: "False"}), None
    elif pd.api.types.is_datetime64_any_dtype(values.dtype):
        labels, order = _date_labels(values)
    elif pd.api.types.is_numeric_dtype(values.dtype):
        labels, order = _number_labels(values, bins)
    else:
        labels, order = values.astype(object), None
    return _count(labels, member, order, top, n_base=len(values), n_segment=int(member.sum()))


def _count(labels: pd.Series, member: pd.Series, order: list[str] | None, top: int,
           n_base: int, n_segment: int) -> pd.DataFrame:
    labels = labels.astype(object)
    in_segment = member.reindex(labels.index).to_numpy(dtype=bool)
    base_counts = labels.value_counts(dropna=True)
    segment_counts = labels[in_segment].value_counts(dropna=True)
    missing_base = n_base - int(pd.Index(labels.dropna().index).nunique())
    missing_segment = n_segment - int(pd.Index(labels[in_segment].dropna().index).nunique())
    if order is None:
        kept = list(base_counts.index[:top])
        rest = base_counts.index[top:]
        rows = [(value, segment_counts.get(value, 0), base_counts[value]) for value in kept]
        if len(rest):
            rows.append((OTHER, int(segment_counts.reindex(rest).fillna(0).sum()),
                         int(base_counts[rest].sum())))
    else:
        rows = [(value, segment_counts.get(value, 0), base_counts.get(value, 0))
                for value in order]
    if missing_base:
        rows.append((MISSING, missing_segment, missing_base))
    table = pd.DataFrame(rows, columns=["value", "segment_count", "base_count"])
    table["value"] = table["value"].astype(str)
    table[["segment_count", "base_count"]] = table[["segment_count", "base_count"]].astype(int)
    table["segment_share"] = table["segment_count"] / n_segment if n_segment else 0.0
    table["base_share"] = table["base_count"] / n_base if n_base else 0.0
    return table[_COLUMNS]


def _number_labels(values: pd.Series, bins: int) -> tuple[pd.Series, list[str]]:
    numbers = pd.to_numeric(values, errors="coerce").astype(float)
    present = numbers.dropna()
    if present.empty:
        return pd.Series(np.nan, index=values.index, dtype=object), []
    low, high = float(present.min()), float(present.max())
    integer = pd.api.types.is_integer_dtype(values.dtype)
    if low == high or (integer and high - low + 1 <= bins):
        distinct = sorted(present.unique())
        text = [_number(v) for v in distinct]
        mapping = dict(zip(distinct, text, strict=True))
        return numbers.map(mapping).astype(object), text
    edges = np.histogram_bin_edges(present.to_numpy(), bins=bins)
    text = [f"{_number(a)} – {_number(b)}" for a, b in zip(edges[:-1], edges[1:], strict=True)]
    codes = pd.cut(numbers, edges, include_lowest=True, labels=False)
    labels = pd.Series(np.array(text, dtype=object)[codes.fillna(0).astype(int)],
                       index=values.index, dtype=object).where(codes.notna())
    return labels, text


def _number(value: float) -> str:
    return f"{value:,.0f}" if float(value).is_integer() or abs(value) >= 100 else f"{value:,.3g}"


def _date_labels(values: pd.Series) -> tuple[pd.Series, list[str]]:
    stamps = pd.to_datetime(values)
    present = stamps.dropna()
    if present.empty:
        return pd.Series(np.nan, index=values.index, dtype=object), []
    span_days = (present.max() - present.min()).days
    freq = "Y" if span_days > 2 * 366 else "M"
    periods = stamps.dt.to_period(freq)
    order = [str(p) for p in pd.period_range(present.min(), present.max(), freq=freq)]
    return periods.astype(str).where(stamps.notna()).astype(object), order


# -- figures (plotly) ----------------------------------------------------------------------

_HOVER = "%{x}<br>%{y:.1f}% (%{customdata:,} contacts)<extra>%{fullData.name}</extra>"


def _traces(table: pd.DataFrame, segment_label: str) -> list[dict[str, Any]]:
    values = list(table["value"])
    return [dict(x=values, y=list(table["segment_share"] * 100),
                 customdata=list(table["segment_count"]), name=segment_label),
            dict(x=values, y=list(table["base_share"] * 100),
                 customdata=list(table["base_count"]), name="whole base")]


def _title(attribute: str) -> dict[str, Any]:
    return dict(text=attribute, x=0.01, font=dict(size=14))


def distribution_figure(table: pd.DataFrame, attribute: str, *,
                        segment_label: str = "segment") -> go.FigureWidget:
    """Grouped bars of :func:`distribution_table`: share of the segment and of the base (%).

    The figure is built with its data (not filled in afterwards): a ``FigureWidget``
    renders from the state it was created with, later changes travel as updates.
    """
    import plotly.graph_objects as go

    colours = ("#2a6fdb", "#b8c4d6")
    return go.FigureWidget(
        data=[go.Bar(**trace, marker_color=colour, hovertemplate=_HOVER)
              for trace, colour in zip(_traces(table, segment_label), colours, strict=True)],
        layout=dict(barmode="group", height=300, width=420, title=_title(attribute),
                    margin=dict(l=50, r=10, t=40, b=80),
                    xaxis=dict(type="category"),
                    yaxis=dict(title="% of contacts", ticksuffix="%"),
                    legend=dict(orientation="h", y=1.12, x=1, xanchor="right")))


def update_distribution_figure(figure: go.FigureWidget, table: pd.DataFrame, attribute: str,
                               *, segment_label: str = "segment") -> None:
    """Put a new :func:`distribution_table` into a figure made by :func:`distribution_figure`."""
    with figure.batch_update():
        figure.layout.title = _title(attribute)
        for trace, values in zip(figure.data, _traces(table, segment_label), strict=True):
            trace.update(**values)
