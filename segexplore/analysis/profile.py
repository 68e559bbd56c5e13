"""Profile a contact base (or a segment of it): one row of statistics per attribute.

:func:`profile` describes every contact column and behaviour feature in one pass: missing
values, distinct values, the most frequent values, numeric and date statistics, histogram
bins, the tags of multi-valued columns (interests) and rules worth trying as segments.
Everything is vectorised: categorical counts are a ``bincount`` of the category codes,
numbers and dates are sorted once and every statistic is read off the sorted values.

Which attributes there are and what kind each one is comes from
:mod:`segexplore.analysis.attributes`; turning a column into codes or numbers from
:mod:`segexplore.analysis.encoding` (both shared with :mod:`segexplore.analysis.compare`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from segexplore.analysis.attributes import (
    as_python,
    attribute_kind,
    attribute_table,
    mask_array,
    to_timestamp,
)
from segexplore.analysis.encoding import (
    categorical_codes,
    counted_quantiles,
    histogram_edges,
    numeric_values,
    ranked,
    top_tags,
)
from segexplore.analysis.stats import _dot
from segexplore.errors import ParameterError
from segexplore.model import hooks
from segexplore.model.columns import MULTI_VALUE_SEPARATOR
from segexplore.model.pii import PII_COLUMNS
from segexplore.model.pii import mask_pii as pseudonymise
from segexplore.rules import nodes as R

__all__ = ["Profile", "profile", "QUANTILES"]

#: Quantiles reported for numbers and dates (columns ``p5`` ... ``p95`` of the summary).
QUANTILES = (0.05, 0.25, 0.50, 0.75, 0.95)

#: Share of the contacts with a known value that a ``cover_80`` suggestion reaches.
COVER_SHARE = 0.8

#: A ``cover_80`` suggestion needing more values than this is not worth pasting.
COVER_MAX_VALUES = 25

#: Numbers with at most this many distinct values also get top values (counts, scores).
DISCRETE_MAX_DISTINCT = 50

#: A free-text column with at least this many values, nearly all distinct (this share), is
#: a reference (CRM ids, UUIDs, free comments): its profile gives counts, never values.
UNIQUE_TEXT_MIN_COUNT = 20
UNIQUE_TEXT_SHARE = 0.95

SUMMARY_COLUMNS = ("attribute", "role", "kind", "dtype", "count", "missing", "missing_share",
                   "distinct", "top", "top_count", "top_share", "mean", "std", "min", "p5",
                   "p25", "p50", "p75", "p95", "max")


# -- the profile ------------------------------------------------------------------------------

@dataclass(frozen=True, eq=False, repr=False)
class Profile:
    """Statistics of every attribute of a base or segment, as tidy DataFrames.

    Attributes
    ----------
    summary : DataFrame
        One row per attribute: ``attribute, role, kind, dtype, count, missing,
        missing_share, distinct, top, top_count, top_share, mean, std, min, p5, p25, p50,
        p75, p95, max``. Statistics of dates are Timestamps (``std`` a Timedelta), so those
        columns have object dtype. For multi-valued columns ``distinct``/``top`` are about
        tags. Shares are of the ``n_rows`` profiled contacts, missing values included.
    top_values : DataFrame
        ``attribute, value, count, share``: the ``top`` most frequent values of categorical,
        boolean and text columns and of numbers with at most 50 distinct values.
    histograms : DataFrame
        ``attribute, left, right, count``: bins of numbers and dates (the last bin includes
        its right edge, as in :func:`numpy.histogram`).
    tags : DataFrame
        ``attribute, tag, count, share``: contacts holding each tag of a multi-valued column
        (tags compared ignoring case, as ``interests has "sport"`` does).
    suggestions : DataFrame
        ``attribute, kind, text, share``: rules to paste into ``base.segment(...)``; ``kind``
        is ``"quantile"`` (a cut point of a number or date) or ``"cover_80"`` (the fewest
        values covering 80% of the contacts with a known value); ``share`` is the share of
        the profiled contacts the rule selects.
    n_rows : int
        Number of contacts profiled.
    name : str
        What was profiled (``"base"`` or the segment's name).
    """

    summary: pd.DataFrame
    top_values: pd.DataFrame
    histograms: pd.DataFrame
    tags: pd.DataFrame
    suggestions: pd.DataFrame
    n_rows: int
    name: str = "base"

    @property
    def attributes(self) -> list[str]:
        """Names of the profiled attributes, in table order."""
        return self.summary["attribute"].tolist()

    def to_frame(self) -> pd.DataFrame:
        """The summary, one row per attribute, indexed by attribute name (a copy)."""
        return self.summary.set_index("attribute")

    def to_html(self, path: str | Path) -> Path:
        """Write a standalone report that works offline (plotly.js embedded once).

        Returns the path written.
        """
        return hooks.get("profile_report")(self, path)  # display.report

    def _repr_html_(self) -> str:
        return hooks.get("profile_html")(self)  # display.html: a light table

    def __repr__(self) -> str:
        return (f"Profile({self.name!r}: {self.n_rows:,} contacts, {len(self.summary)} "
                f"attributes, {len(self.suggestions)} suggested rules)")


@hooks.implements("profile")
def profile(base_or_frame: Any, *, mask: Any = None, include_features: bool = True,
            bins: int = 20, top: int = 10, name: str | None = None,
            mask_pii: bool = False) -> Profile:
    """Describe every attribute of a base, a segment or a DataFrame.

    Parameters
    ----------
    base_or_frame : ContactBase, Segment or DataFrame
        A base profiles its contact columns and (``include_features``) its behaviour
        features; a segment profiles its members; a DataFrame profiles its columns with
        inferred roles.
    mask : boolean Series or array, optional
        Profile only these contacts (a Series is aligned on the contacts' index).
    include_features : bool, default True
        Also profile the behaviour features of a base (role ``"feature"``).
    bins : int, default 20
        Histogram bins for numbers and dates (integers spanning fewer values get one bin
        per value).
    top : int, default 10
        Most frequent values (and tags) kept per attribute.
    name : str, optional
        Label of the profile; default the segment's name or ``"base"``.
    mask_pii : bool, default False
        Show pseudonymised emails and names (``j***@gmail.com #1a2b3c``, ``J.``) in top
        values, min/max and every other value the profile quotes, for stakeholders who
        need the numbers and not the people (see :func:`segexplore.model.pii.mask_pii`).

    Returns
    -------
    Profile

    Examples
    --------
    >>> import segexplore as se
    >>> from segexplore.analysis.profile import profile
    >>> base = se.load_sample()
    >>> prof = profile(base)
    >>> device = prof.to_frame().loc["device"]
    >>> device["kind"], int(device["distinct"]), device["top"]
    ('categorical', 3, 'Android')
    >>> prof.tags.loc[prof.tags["attribute"] == "interests", "tag"].head(3).tolist()
    ['sport', 'fashion', 'beauty']
    >>> text = prof.suggestions.loc[prof.suggestions["attribute"] == "revenue_365d", "text"]
    >>> base.count(text.iloc[0]) > 0
    True
    """
    from segexplore.model.segments import Segment

    if isinstance(base_or_frame, Segment):
        if mask is None:
            mask = base_or_frame.mask
        name = name if name is not None else base_or_frame.name
    if not isinstance(bins, (int, np.integer)) or isinstance(bins, bool) or bins < 1:
        raise ParameterError(f"Value of 'bins' must be a whole number >= 1 but received: "
                             f"{bins!r}")
    if not isinstance(top, (int, np.integer)) or isinstance(top, bool) or top < 1:
        raise ParameterError(f"Value of 'top' must be a whole number >= 1 but received: "
                             f"{top!r}")
    if _on_duckdb(base_or_frame):
        return _duckdb_profile(base_or_frame, mask, include_features, int(bins), int(top),
                               name, mask_pii)
    table = attribute_table(base_or_frame, include_features=include_features)
    # kinds from the real values: masked emails no longer look like emails
    kinds = {column: attribute_kind(series, table.roles.get(column, "text"), column)
             for column, series in table.columns.items()}
    if mask_pii:
        personal = [c for c in PII_COLUMNS if c in table.columns]
        if personal:
            masked = pseudonymise(pd.DataFrame({c: table.columns[c] for c in personal}), personal)
            table.columns.update({c: masked[c] for c in personal})
    # positions of the profiled contacts: NumPy arrays are subset, not pandas objects
    rows = None if mask is None else np.flatnonzero(mask_array(mask, table.index))
    n_rows = len(table.index) if rows is None else len(rows)
    builder = _Builder(n_rows, int(bins), int(top))
    for column, series in table.columns.items():
        role = table.roles.get(column, "text")
        _add_series(builder, column, role, kinds[column], series, rows,
                    table.separators.get(column, MULTI_VALUE_SEPARATOR))
    return builder.build(name if name is not None else "base")


def _add_series(builder: _Builder, column: str, role: str, kind: str, series: pd.Series,
                rows: np.ndarray | None, separator: str) -> None:
    """Count a pandas column (only the contacts at positions ``rows`` when given) for the
    builder: codes counted by ``bincount``, numbers sorted once into (value, count) runs."""
    dtype = series.dtype
    if kind in ("numeric", "date"):
        raw, known, is_date = numeric_values(series)
        if rows is not None:
            raw, known = raw[rows], known[rows]
        present = np.sort(raw[known])
        starts = np.flatnonzero(np.r_[True, present[1:] != present[:-1]]) if len(present) \
            else np.zeros(0, np.intp)
        builder.numbers(column, role, kind, dtype, present[starts],
                        np.diff(np.r_[starts, len(present)]).astype(np.int64),
                        len(raw) - len(present), is_date)
        return
    if kind == "identifier":
        values = series if rows is None else series.iloc[rows]
        missing = int(values.isna().sum())
        builder.identifier(column, role, dtype, len(values) - missing, missing,
                           int(values.nunique(dropna=True)))
        return
    codes, labels = categorical_codes(series)  # once: the check and the counts
    if kind == "text":
        known = codes[codes >= 0]
        if _nearly_unique(len(known), int(np.count_nonzero(np.bincount(known)))):
            # a reference or free comments: each value is one contact's
            mine = codes if rows is None else codes[rows]
            held = mine[mine >= 0]
            builder.identifier(column, role, dtype, len(held), len(mine) - len(held),
                               int(np.count_nonzero(np.bincount(held))), kind="identifier")
            return
    if rows is not None:
        codes = codes[rows]
    counts = np.bincount(codes + 1, minlength=len(labels) + 1)
    if kind == "multi":
        builder.multi(column, role, dtype, labels, counts[1:], int(counts[0]), separator)
    else:
        builder.categories(column, role, kind, dtype, labels, counts[1:], int(counts[0]))


def _on_duckdb(source: Any) -> bool:
    """Whether ``source`` is (a segment of) a DuckDB base or a connected one: profiled
    from the grouped counts of its engine."""
    from segexplore.engines.duckdb import DuckDBBase
    from segexplore.engines.server import ServerBase, ServerSegment
    from segexplore.model.segments import Segment

    base = source.base if isinstance(source, (Segment, ServerSegment)) else source
    return isinstance(base, (DuckDBBase, ServerBase))


def _duckdb_profile(source: Any, mask: Any, include_features: bool, bins: int, top: int,
                    name: str | None, mask_pii: bool) -> Profile:
    """The profile of a DuckDB base or segment from its grouped counts (see
    :mod:`segexplore.engines.duckdb_counts`): the same statistics as on a pandas base."""
    from segexplore.analysis.counts import counted, engine_counts
    from segexplore.engines.server import ServerSegment
    from segexplore.model.segments import Segment

    base = source.base if isinstance(source, (Segment, ServerSegment)) else source
    members: list[Any] = []
    if mask is not None:
        members = [mask_array(mask, pd.RangeIndex(base.contact_count))]
    elif isinstance(source, ServerSegment):
        members = [base.sql(source.effective_rule)]
    elif isinstance(source, Segment):
        members = [base.evaluator().sql(source.effective_rule)]
    with engine_counts(base, members) as counts:
        n_rows = counts.n_rows
        if members:
            patterns, sizes = counts.patterns()
            n_rows = int(sizes[patterns[:, 0]].sum())
        builder = _Builder(n_rows, bins, top)
        side = 1 if members else 0
        for column, info in counts.columns(include_features).items():
            role = info.role
            kind = attribute_kind(info.sample, role, column)
            if kind == "identifier":
                known, distinct = counts.distinct(column)
                builder.identifier(column, role, info.dtype, int(known[side]),
                                   n_rows - int(known[side]), int(distinct[side]))
                continue
            table = counts.value_counts(column)
            if kind in ("numeric", "date"):
                held = table.counts[:, side] > 0
                # the profiled contacts' values only, sorted, as the pandas engine's runs
                encoded, mine, _ = counted(
                    table.values[held], table.counts[held][:, side:side + 1],
                    table.missing[side:side + 1], table.first[held], kind, info.dtype,
                    None, table.is_date, 0)
                present = mine[:-1] > 0
                builder.numbers(column, role, kind, info.dtype, encoded.values[present],
                                mine[:-1][present], int(mine[-1]), table.is_date)
                continue
            labels_kind = "multi" if kind == "multi" else "categorical"
            encoded, base_counts, per_segment = counted(
                table.values, table.counts, table.missing, table.first,
                labels_kind, info.dtype, info.categories, table.is_date, counts.n_rows)
            labels = encoded.labels
            if mask_pii and column in PII_COLUMNS:
                labels, base_counts, per_segment = _masked(column, labels, base_counts,
                                                           per_segment)
            mine = per_segment[:, 0] if members else base_counts
            if kind == "text" and _nearly_unique(int(base_counts[:-1].sum()),
                                                 int(np.count_nonzero(base_counts[:-1]))):
                builder.identifier(column, role, info.dtype, int(mine[:-1].sum()),
                                   int(mine[-1]), int(np.count_nonzero(mine[:-1])),
                                   kind="identifier")
            elif kind == "multi":
                builder.multi(column, role, info.dtype, labels, mine[:-1], int(mine[-1]),
                              info.separator)
            else:
                builder.categories(column, role, kind, info.dtype, labels, mine[:-1],
                                   int(mine[-1]))
    label = name if name is not None else (
        source.name if isinstance(source, (Segment, ServerSegment)) and mask is None
        else "base")
    return builder.build(label)


def _masked(column: str, labels: np.ndarray, base: np.ndarray, per_segment: np.ndarray
            ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The counts of the pseudonymised labels (two people can share a mask: ``J.``), in
    the order the masked column's values first appear."""
    masked = pseudonymise(pd.DataFrame({column: pd.Series(labels, dtype=object)}),
                          [column])[column]
    codes, names = pd.factorize(masked, use_na_sentinel=True)
    codes = np.where(codes < 0, len(names), codes)
    target = np.r_[codes, len(names)]
    merged_base = np.bincount(target, weights=base, minlength=len(names) + 1).astype(np.int64)
    merged = np.column_stack([np.bincount(target, weights=per_segment[:, s],
                                          minlength=len(names) + 1).astype(np.int64)
                              for s in range(per_segment.shape[1])]) \
        if per_segment.shape[1] else np.zeros((len(names) + 1, 0), np.int64)
    return np.asarray(names, dtype=object), merged_base, merged


class _Builder:
    """Collects the rows of the five tables while walking the columns once."""

    def __init__(self, n_rows: int, bins: int, top: int) -> None:
        self.n_rows, self.bins, self.top = n_rows, bins, top
        self.summary: list[dict[str, Any]] = []
        self.top_values: list[tuple] = []
        self.histograms: list[tuple] = []
        self.tags: list[tuple] = []
        self.suggestions: list[tuple] = []

    def share(self, count: float) -> float:
        return count / self.n_rows if self.n_rows else math.nan

    def _row(self, column: str, role: str, kind: str, dtype: Any, **counts: int
             ) -> dict[str, Any]:
        row: dict[str, Any] = {"attribute": column, "role": role, "kind": kind,
                               "dtype": str(dtype), **counts}
        row["missing_share"] = self.share(row["missing"])
        self.summary.append(row)
        return row

    def identifier(self, column: str, role: str, dtype: Any, count: int, missing: int,
                   distinct: int, kind: str = "identifier") -> None:
        """An identifier: how many values, never which."""
        self._row(column, role, kind, dtype, count=count, missing=missing, distinct=distinct)

    # categorical, boolean, text: counts of codes
    def categories(self, column: str, role: str, kind: str, dtype: Any, labels: np.ndarray,
                   counts: np.ndarray, missing: int) -> None:
        """A column of categories: ``counts[i]`` contacts hold ``labels[i]``."""
        row = self._row(column, role, kind, dtype, count=int(counts.sum()), missing=missing,
                        distinct=int(np.count_nonzero(counts)))
        order = ranked(counts)  # ties keep the category (or first-seen) order
        for position in order[:self.top]:
            self.top_values.append((row["attribute"], as_python(labels[position]),
                                    int(counts[position]), self.share(int(counts[position]))))
        if len(order):
            best = order[0]
            row.update(top=as_python(labels[best]), top_count=int(counts[best]),
                       top_share=self.share(int(counts[best])))
        if kind == "boolean":
            known = row["count"]
            row["mean"] = float(counts[1]) / known if known and len(counts) > 1 else math.nan
        if kind == "categorical" and len(order) > 1:
            self._cover(row["attribute"], labels, counts, order)

    def _cover(self, column: str, labels: np.ndarray, counts: np.ndarray,
               order: np.ndarray) -> None:
        ranked = counts[order]
        needed = int(np.searchsorted(np.cumsum(ranked), COVER_SHARE * ranked.sum())) + 1
        if needed >= len(order) or needed > COVER_MAX_VALUES:
            return  # every value, or too many to paste: no narrowing worth suggesting
        chosen = tuple(_rule_scalar(labels[i]) for i in order[:needed])
        if any(v is None for v in chosen):
            return
        node = R.Compare(column, "=", chosen[0]) if needed == 1 else R.InList(column, chosen)
        self.suggestions.append((column, "cover_80", str(node),
                                 self.share(int(ranked[:needed].sum()))))

    # numbers and dates: every statistic from the (value, count) pairs
    def numbers(self, column: str, role: str, kind: str, dtype: Any, values: np.ndarray,
                counts: np.ndarray, missing: int, is_date: bool) -> None:
        """Numbers or dates: ``counts[i]`` contacts hold ``values[i]`` (sorted, distinct;
        int64 nanoseconds for dates). Sums run over the distinct values, so any engine
        that counts the same pairs gets the same bits."""
        n = int(counts.sum())
        row = self._row(column, role, kind, dtype, count=n, missing=missing,
                        distinct=len(values))
        if n == 0:
            return
        ranks = _Ranks(values, counts)
        convert = to_timestamp if is_date else float
        if is_date:
            offset = int(values[0])
            shifted = (values - offset).astype(np.float64)
            mean = _dot(counts, shifted) / n
            row["mean"] = to_timestamp(offset + mean)
            row["std"] = (pd.Timedelta(microseconds=round(
                math.sqrt(_dot(counts, (shifted - mean) ** 2) / (n - 1)) / 1000))
                if n > 1 else pd.NaT)
            quantiles = offset + counted_quantiles(shifted, ranks.cumulative, QUANTILES)
        else:
            floats = values.astype(np.float64, copy=False)
            mean = _dot(counts, floats) / n
            row["mean"] = float(mean)
            row["std"] = float(np.sqrt(_dot(counts, (floats - mean) ** 2) / (n - 1))) \
                if n > 1 else math.nan
            quantiles = counted_quantiles(floats, ranks.cumulative, QUANTILES)
        row["min"], row["max"] = convert(values[0]), convert(values[-1])
        for q, value in zip(QUANTILES, quantiles, strict=True):
            row[f"p{round(q * 100)}"] = convert(value)
        if len(values) <= DISCRETE_MAX_DISTINCT:
            order = np.argsort(-counts, kind="stable")
            for position in order[:self.top]:
                value = values[position]
                self.top_values.append((column, convert(value) if is_date else as_python(value),
                                        int(counts[position]),
                                        self.share(int(counts[position]))))
            best = order[0]
            row.update(top=convert(values[best]) if is_date else as_python(values[best]),
                       top_count=int(counts[best]), top_share=self.share(int(counts[best])))
        self._histogram(column, ranks, is_date, dtype)
        self._quantile_rules(column, ranks, quantiles, is_date, dtype)

    def _histogram(self, column: str, ranks: _Ranks, is_date: bool, dtype: Any) -> None:
        values = ranks.values
        if not (is_date or values.dtype.kind == "i"):
            ranks = ranks.finite()
            values = ranks.values
        if not len(values):
            return
        integer = pd.api.types.is_integer_dtype(dtype) and not is_date
        edges = histogram_edges(values[0], values[-1], self.bins, integer)
        # the bins of encoding.bin_codes: left edge included, the last bin's right edge too
        cuts = ranks.below(edges[1:-1].astype(values.dtype) if is_date else edges[1:-1],
                           side="left")
        counts = np.diff(np.r_[0, cuts, ranks.n])
        convert = to_timestamp if is_date else float
        for left, right, count in zip(edges[:-1], edges[1:], counts, strict=True):
            self.histograms.append((column, convert(left), convert(right), int(count)))

    def _quantile_rules(self, column: str, ranks: _Ranks, quantiles: np.ndarray,
                        is_date: bool, dtype: Any) -> None:
        """Cut points worth pasting: the top 25% and 5%, the bottom 25%, or 'more than the
        usual value' when most contacts share the lowest value (counts, revenue)."""
        n = ranks.n
        integer = pd.api.types.is_integer_dtype(dtype) and not is_date
        p25, p75, p95 = quantiles[1], quantiles[3], quantiles[4]
        lowest = ranks.values[0]
        if ranks.counts[0] >= n / 2:
            candidates: list[tuple[str, float]] = [(">", lowest), (">=", p75), (">=", p95)]
        else:
            candidates = [(">=", p75), (">=", p95), ("<=", p25)]
        seen: set[int] = set()  # two rules selecting as many contacts are the same rule here
        for op, cut in candidates:
            node, selected = _cut_rule(column, op, cut, ranks, is_date, integer)
            if node is not None and 0.01 <= selected / n <= 0.99 and selected not in seen:
                seen.add(selected)
                self.suggestions.append((column, "quantile", str(node), self.share(selected)))

    # multi-valued: count contacts per tag from the distinct joined values only
    def multi(self, column: str, role: str, dtype: Any, labels: np.ndarray,
              counts: np.ndarray, missing: int, separator: str) -> None:
        """A multi-valued column: ``counts[i]`` contacts hold the combination ``labels[i]``."""
        row = self._row(column, role, "multi", dtype, count=int(counts.sum()),
                        missing=missing)
        # the counts of the distinct values, missing last (encode's order): tags ignore
        # case, as the rule `interests has "sport"` does
        by_value = np.r_[counts, missing]
        tags = top_tags(labels, by_value, separator, self.top)
        tag_counts = (by_value @ tags.indicator).tolist()
        for tag, count in zip(tags.names, tag_counts, strict=True):
            self.tags.append((column, tag, int(count), self.share(int(count))))
        row["distinct"] = len(tags.names) + tags.dropped
        if tags.names:
            row.update(top=tags.names[0], top_count=int(tag_counts[0]),
                       top_share=self.share(int(tag_counts[0])))

    def build(self, name: str) -> Profile:
        summary = pd.DataFrame(self.summary, columns=list(SUMMARY_COLUMNS))
        for column in ("count", "missing", "distinct"):
            summary[column] = summary[column].astype("int64")
        summary["top_count"] = summary["top_count"].astype("Int64")
        for column in ("top", "mean", "std", "min", "p5", "p25", "p50", "p75", "p95", "max"):
            summary[column] = summary[column].astype(object)
        return Profile(
            summary=summary,
            top_values=_frame(self.top_values, ["attribute", "value", "count", "share"],
                              object_columns=("value",)),
            histograms=_frame(self.histograms, ["attribute", "left", "right", "count"],
                              object_columns=("left", "right")),
            tags=_frame(self.tags, ["attribute", "tag", "count", "share"]),
            suggestions=_frame(self.suggestions, ["attribute", "kind", "text", "share"]),
            n_rows=self.n_rows, name=name)


def _nearly_unique(known: int, distinct: int) -> bool:
    """At least :data:`UNIQUE_TEXT_MIN_COUNT` known values, nearly all distinct, in the
    whole column (a segment's profile describes the column as the base's does)."""
    return known >= UNIQUE_TEXT_MIN_COUNT and distinct >= UNIQUE_TEXT_SHARE * known


class _Ranks:
    """Sorted distinct values with their counts: how many values lie below a cut."""

    def __init__(self, values: np.ndarray, counts: np.ndarray) -> None:
        self.values, self.counts = values, counts
        self.cumulative = np.cumsum(counts)
        self.n = int(self.cumulative[-1]) if len(counts) else 0

    def below(self, cut: Any, side: str = "left") -> Any:
        """Values ``< cut`` (``side="left"``) or ``<= cut`` (``"right"``), as
        ``np.searchsorted`` of the values repeated their count times."""
        return np.r_[0, self.cumulative][np.searchsorted(self.values, cut, side=side)]

    def finite(self) -> _Ranks:
        keep = np.isfinite(self.values)
        return self if keep.all() else _Ranks(self.values[keep], self.counts[keep])


def _frame(rows: list[tuple], columns: list[str], object_columns: tuple[str, ...] = ()
           ) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=columns)
    for column in object_columns:
        frame[column] = frame[column].astype(object)  # numbers, text and dates side by side
    if "count" in frame:
        frame["count"] = frame["count"].astype("int64")
    return frame


def _rule_scalar(label: Any) -> Any:
    """A category label as a rule literal (None when a rule cannot hold it)."""
    value = as_python(label)
    if isinstance(value, pd.Timestamp):
        return value.to_pydatetime()
    if isinstance(value, (str, bool, int)) or (isinstance(value, float) and math.isfinite(value)):
        return value
    return None


def _cut_rule(column: str, op: str, cut: float, ranks: _Ranks, is_date: bool,
              integer: bool) -> tuple[R.Rule | None, int]:
    """The rule ``column op cut`` with a readable cut and how many known values it selects."""
    if is_date:
        day = to_timestamp(cut).normalize()
        if op in (">", ">="):
            # 'after' is strict: values from the next midnight on
            node = R.DateCompare(column, "after", day.date())
            selected = ranks.n - ranks.below((day + pd.Timedelta(days=1)).value)
        else:
            node = R.DateCompare(column, "before", (day + pd.Timedelta(days=1)).date())
            selected = ranks.below((day + pd.Timedelta(days=1)).value)
        return node, int(selected)
    if not math.isfinite(cut):
        return None, 0
    if integer:
        value: float | int = int(math.ceil(cut)) if op == ">=" else int(math.floor(cut))
    else:
        value = _round_cut(float(cut))
    if op == ">=":
        selected = ranks.n - ranks.below(value, side="left")
    elif op == ">":
        selected = ranks.n - ranks.below(value, side="right")
    else:
        selected = ranks.below(value, side="right")
    return R.Compare(column, op, value), int(selected)


def _round_cut(value: float) -> float | int:
    """Two decimals (amounts), or three significant digits for small numbers."""
    if value == 0 or abs(value) >= 1:
        rounded = round(value, 2)
    else:
        rounded = round(value, 2 - int(math.floor(math.log10(abs(value)))))
    return int(rounded) if float(rounded).is_integer() else float(rounded)
