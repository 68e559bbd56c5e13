"""Attributes as codes, and their counts per group of contacts.

A categorical column becomes integer codes and labels (:func:`categorical_codes`), a number
or date column a NumPy array (:func:`numeric_values`); :func:`encode` gives any of them one
code per distinct value (the last code is "missing"), and :class:`Groups` counts the codes
of every segment in one ``bincount``. Profiles, comparisons and their statistics are read
off these counts.

One way of counting a distribution serves the profile, the comparison and the explorer's
charts (:mod:`segexplore.widgets.state.distribution`): values ranked by :func:`ranked`, the
rare ones pooled as :data:`OTHER` by :func:`pool_rare`, missing values named
:data:`MISSING`, tags of multi-valued columns found by :func:`top_tags`, numbers cut at the
edges of :func:`histogram_edges` and coded by :func:`bin_codes`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from segexplore.analysis.attributes import as_python

__all__ = ["categorical_codes", "numeric_values", "sorted_quantiles", "counted_quantiles",
           "Encoded", "encode",
           "Tags", "top_tags", "Groups", "OTHER", "MISSING", "ranked", "pool_rare",
           "histogram_edges", "bin_codes"]

#: Label of the pooled rare values, and of missing values, in every distribution table.
OTHER = "other"
MISSING = "(missing)"


def categorical_codes(series: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Integer codes (``-1`` for missing) and the labels they point to.

    Category dtype reuses its codes (no hashing); booleans give labels ``[False, True]``;
    anything else is factorised once.
    """
    if isinstance(series.dtype, pd.CategoricalDtype):
        codes = series.cat.codes.to_numpy().astype(np.intp)
        return codes, np.asarray(series.cat.categories, dtype=object)
    if pd.api.types.is_bool_dtype(series.dtype) or (
            pd.api.types.is_numeric_dtype(series.dtype) and _is_zero_one(series)):
        missing = series.isna().to_numpy()
        values = series.to_numpy(dtype=bool, na_value=False)
        codes = values.astype(np.intp)
        codes[missing] = -1
        return codes, np.array([False, True], dtype=object)
    codes, labels = pd.factorize(series, use_na_sentinel=True)
    return codes.astype(np.intp, copy=False), np.asarray(labels, dtype=object)


def _is_zero_one(series: pd.Series) -> bool:
    values = series.dropna()
    return bool(len(values)) and bool(values.isin([0, 1]).all())


def numeric_values(series: pd.Series) -> tuple[np.ndarray, np.ndarray, bool]:
    """``(values, known, is_date)``: a NumPy array (float64, or int64 nanoseconds for dates
    and int64 for integer columns) and the boolean mask of non-missing values."""
    dtype = series.dtype
    if pd.api.types.is_datetime64_any_dtype(dtype):
        stamps = series
        if getattr(dtype, "tz", None) is not None:
            stamps = stamps.dt.tz_convert("UTC").dt.tz_localize(None)
        values = stamps.to_numpy(dtype="datetime64[ns]").view(np.int64)
        return values, values != np.iinfo(np.int64).min, True
    if pd.api.types.is_integer_dtype(dtype):
        known = ~series.isna().to_numpy()
        return series.to_numpy(dtype=np.int64, na_value=0), known, False
    values = series.to_numpy(dtype=np.float64, na_value=np.nan)
    return values, ~np.isnan(values), False


def sorted_quantiles(ordered: np.ndarray, quantiles: tuple[float, ...]) -> np.ndarray:
    """:func:`numpy.quantile` (linear method) of already sorted values, without re-sorting.

    Same interpolation as NumPy's, so the results are identical.
    """
    n = len(ordered)
    positions = (n - 1) * np.asarray(quantiles, dtype=np.float64)
    below = np.floor(positions).astype(np.intp)
    above = np.minimum(below + 1, n - 1)
    fraction = positions - below
    low = ordered[below].astype(np.float64)
    high = ordered[above].astype(np.float64)
    step = high - low
    # NumPy interpolates from the nearer end, which keeps the result exact at the edges
    return np.where(fraction >= 0.5, high - step * (1 - fraction), low + step * fraction)


def counted_quantiles(values: np.ndarray, cumulative: np.ndarray,
                      quantiles: Sequence[float]) -> np.ndarray:
    """:func:`sorted_quantiles` of sorted distinct ``values`` held ``cumulative`` times so far.

    The values at the interpolation positions are found by binary search in the cumulative
    counts, so the result is that of the values repeated their count times, exactly, from a
    table of (value, count) pairs (an engine's grouped counts). ``cumulative[-1]`` must be
    positive.
    """
    n = int(cumulative[-1])
    positions = (n - 1) * np.asarray(quantiles, dtype=np.float64)
    below = np.floor(positions).astype(np.int64)
    above = np.minimum(below + 1, n - 1)
    low = values[np.searchsorted(cumulative, below, side="right")].astype(np.float64)
    high = values[np.searchsorted(cumulative, above, side="right")].astype(np.float64)
    fraction = positions - below
    step = high - low
    # NumPy interpolates from the nearer end, which keeps the result exact at the edges
    return np.where(fraction >= 0.5, high - step * (1 - fraction), low + step * fraction)


def ranked(counts: np.ndarray) -> np.ndarray:
    """Positions of the non-zero ``counts``, most frequent first (ties keep their order)."""
    order = np.argsort(-counts, kind="stable")
    return order[counts[order] > 0]


def pool_rare(labels: np.ndarray, base: np.ndarray, per_segment: np.ndarray, keep: int
              ) -> tuple[list[Any], np.ndarray, np.ndarray]:
    """Keep the ``keep`` most frequent values, pool the others as :data:`OTHER`, name the
    missing ones :data:`MISSING`.

    ``base`` counts every label in the base and ``per_segment`` (labels x segments) in each
    segment, the last entry being the missing values (:func:`encode`'s codes). Returns the
    labels (as Python values), then the base and segment counts over those labels: the
    labels as they are plus :data:`MISSING` when no more than ``keep`` are present, else the
    ``keep`` most frequent (most frequent first), :data:`OTHER` and :data:`MISSING`.
    """
    names = [as_python(v) for v in labels] + [MISSING]
    known = base[:-1]
    if np.count_nonzero(known) <= keep:
        return names, base, per_segment
    kept = ranked(known)[:keep]
    target = np.full(len(base), keep, dtype=np.intp)  # OTHER by default
    target[kept] = np.arange(keep)
    target[-1] = keep + 1
    pooled_base = np.bincount(target, weights=base, minlength=keep + 2)
    pooled = np.column_stack([np.bincount(target, weights=per_segment[:, s],
                                          minlength=keep + 2)
                              for s in range(per_segment.shape[1])])
    labels_kept = [names[i] for i in kept] + [OTHER, MISSING]
    return labels_kept, pooled_base.astype(np.int64), pooled.astype(np.int64)


def histogram_edges(low: float, high: float, bins: int, integer: bool) -> np.ndarray:
    """Edges of the histogram of values from ``low`` to ``high``: one bin per value for
    integers spanning at most ``bins`` values (and for a single value), else ``bins``
    equal-width bins (as :func:`numpy.histogram`)."""
    if integer and high - low + 1 <= bins:
        return np.arange(low, high + 2, dtype=np.float64) - 0.5  # one bin per value
    if low == high:
        return np.array([low - 0.5, high + 0.5], dtype=np.float64)
    return np.linspace(float(low), float(high), bins + 1)


def bin_codes(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """The bin of each value: bins include their left edge, the last one its right edge too
    (as :func:`numpy.histogram`, and the profile's histograms)."""
    return np.searchsorted(edges[1:-1], values, side="right")


#: Above this many (value, membership pattern) cells, counts are taken segment by segment.
_PATTERN_CELLS = 1 << 20


@dataclass(frozen=True)
class Encoded:
    """An attribute as codes: categories (labels) or sorted distinct numbers (values).

    The last code (``n_bins - 1``) is "missing".
    """

    codes: np.ndarray
    n_bins: int
    labels: np.ndarray | None = None
    values: np.ndarray | None = None
    is_date: bool = False


def encode(series: pd.Series, kind: str) -> Encoded:
    if kind in ("categorical", "boolean"):
        codes, labels = categorical_codes(series)
        missing = len(labels)
        return Encoded(np.where(codes < 0, missing, codes), missing + 1, labels=labels)
    raw, known, is_date = numeric_values(series)
    complete = bool(known.all())
    present = raw if complete else raw[known]
    if not len(present):
        return Encoded(np.zeros(len(raw), np.intp), 1, values=present[:0], is_date=is_date)
    low, high = present.min(), present.max()
    if raw.dtype.kind == "i" and int(high) - int(low) < 4 * len(raw) + 1024:  # no overflow
        # counts, scores, ages: the value minus the minimum is already a code
        values = np.arange(low, high + 1, dtype=np.int64)
        inverse = (present - low).astype(np.intp, copy=False)
        if complete:
            return Encoded(inverse, len(values) + 1, values=values, is_date=is_date)
    elif _mostly_distinct(present):
        values, inverse = np.unique(present, return_inverse=True)  # one argsort
    else:
        # many ties (amounts, dates of days): hashing then sorting the few values is faster
        first_seen, found = pd.factorize(present)
        order = np.argsort(found)
        rank = np.empty(len(order), dtype=np.intp)
        rank[order] = np.arange(len(order))
        values, inverse = found[order], rank[first_seen]
    codes = np.full(len(raw), len(values), dtype=np.intp)
    codes[known] = inverse
    return Encoded(codes, len(values) + 1, values=values, is_date=is_date)


def _mostly_distinct(values: np.ndarray, sample: int = 10_000) -> bool:
    """Whether most values are distinct, judged on an evenly spaced sample."""
    if len(values) <= sample:
        return True
    picked = values[:: len(values) // sample]
    return len(np.unique(picked)) > 0.5 * len(picked)


@dataclass(frozen=True)
class Tags:
    """The tags of a multi-valued attribute kept for the tests.

    ``indicator[code, t]`` is 1 when the distinct value (combination of tags) with that code
    holds tag ``names[t]``; the last row (missing) holds none.
    """

    names: list[str]
    indicator: np.ndarray
    dropped: int


def top_tags(labels: np.ndarray, base: np.ndarray, separator: str, limit: int) -> Tags:
    """The ``limit`` most frequent tags (ignoring case, as ``interests has "sport"``) from the
    distinct values and their counts in the base (the last count is "missing")."""
    found: dict[str, int] = {}
    rows: list[int] = []
    columns: list[int] = []
    for position, label in enumerate(labels):
        if not base[position]:
            continue
        for tag in {t.strip().lower() for t in str(label).split(separator)} - {""}:
            rows.append(position)
            columns.append(found.setdefault(tag, len(found)))
    names = list(found)
    rows_array, columns_array = np.asarray(rows, np.intp), np.asarray(columns, np.intp)
    counts = np.bincount(columns_array, weights=base[rows_array], minlength=len(names))
    # most frequent first, ties by name (as the profile's tags table)
    order = sorted(range(len(names)), key=lambda t: (-counts[t], names[t]))[:limit]
    position = np.full(len(names), -1, dtype=np.intp)
    position[order] = np.arange(len(order))
    indicator = np.zeros((len(base), len(order)), dtype=np.int64)
    kept = position[columns_array] >= 0
    indicator[rows_array[kept], position[columns_array[kept]]] = 1
    return Tags([names[t] for t in order], indicator, len(names) - len(order))


class Groups:
    """Contacts grouped by their pattern of membership (in A only, in A and B, ...)."""

    def __init__(self, members: np.ndarray) -> None:
        self.members = members
        self.sizes = members.sum(axis=0).astype(np.int64)
        n_segments = members.shape[1]
        if n_segments <= 20:
            # a pattern is a small integer: count them directly, no sort needed
            packed = np.zeros(len(members), dtype=np.intp)
            for s in range(n_segments):
                packed |= members[:, s].astype(np.intp) << s
            counts = np.bincount(packed, minlength=1 << n_segments)
            keys = np.flatnonzero(counts)
            position = np.zeros(len(counts), dtype=np.intp)
            position[keys] = np.arange(len(keys))
            self.ids, self.pattern_sizes = position[packed], counts[keys]
            self.patterns = ((keys[:, None] >> np.arange(n_segments)) & 1).astype(bool)
        else:
            self.patterns, self.ids, self.pattern_sizes = np.unique(
                members, axis=0, return_inverse=True, return_counts=True)
        self.ids = self.ids.reshape(-1).astype(np.intp)
        self._rows: list[np.ndarray] | None = None

    @property
    def rows(self) -> list[np.ndarray]:
        """Positions of each segment's members (gathering by position beats a mask)."""
        if self._rows is None:
            self._rows = [np.flatnonzero(self.members[:, s])
                          for s in range(self.members.shape[1])]
        return self._rows

    def both(self) -> np.ndarray:
        """Contacts in both segments, for every pair (diagonal: the sizes)."""
        weighted = self.patterns.T * self.pattern_sizes
        return (weighted @ self.patterns).astype(np.int64)

    def counts(self, codes: np.ndarray, n_bins: int) -> tuple[np.ndarray, np.ndarray]:
        """``(base, per_segment)``: counts of every code in the base and in each segment."""
        n_patterns = len(self.pattern_sizes)
        if n_bins * n_patterns <= _PATTERN_CELLS:
            cells = np.bincount(codes * n_patterns + self.ids, minlength=n_bins * n_patterns)
            cells = cells.reshape(n_bins, n_patterns)
            per_segment = np.empty((n_bins, self.patterns.shape[1]), dtype=np.int64, order="F")
            for s in range(self.patterns.shape[1]):
                per_segment[:, s] = cells[:, self.patterns[:, s]].sum(axis=1)
            return cells.sum(axis=1), per_segment
        base = np.bincount(codes, minlength=n_bins)
        per_segment = np.empty((n_bins, len(self.rows)), dtype=np.int64, order="F")
        for s, rows in enumerate(self.rows):
            per_segment[:, s] = np.bincount(codes[rows], minlength=n_bins)
        return base, per_segment
