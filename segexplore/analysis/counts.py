"""An attribute's counts from an engine's table of (value, count) pairs.

The pandas engine counts codes (:func:`~segexplore.analysis.encoding.encode`, then
:class:`~segexplore.analysis.encoding.Groups`); an engine whose tables stay elsewhere
(:mod:`segexplore.engines.duckdb_counts`) hands over, per attribute, its distinct values,
how many contacts hold each in the base and in every segment, and where each value is
first seen. :func:`counted` lays such a table out as ``encode`` would lay out the column,
bin for bin (the categories in the column's order, sorted numbers, the whole range of a
small integer range, missing last), so that every statistic is then computed by the one
code that serves both engines, on the same arrays, to the same bits.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from segexplore.analysis.encoding import Encoded

__all__ = ["counted", "category_labels"]


def category_labels(values: np.ndarray, first: np.ndarray, dtype: Any,
                    categories: tuple[Any, ...] | None) -> tuple[np.ndarray, np.ndarray]:
    """``(labels, position of each value among them)``, as
    :func:`~segexplore.analysis.encoding.categorical_codes` labels the column: its
    categories, ``[False, True]`` for booleans and 0/1 numbers, else the values in order of
    first appearance (:func:`pandas.factorize`)."""
    if isinstance(dtype, pd.CategoricalDtype) or categories is not None:
        labels = list(categories or ())
        known = {label: i for i, label in enumerate(labels)}
        extra = [v for v in values[np.argsort(first, kind="stable")] if v not in known]
        labels += extra  # values the first file's dictionary did not hold
        known.update({label: len(known) + i for i, label in enumerate(extra)})
        return np.asarray(labels, dtype=object), np.array([known[v] for v in values],
                                                          dtype=np.intp)
    numeric = pd.api.types.is_numeric_dtype(dtype) and len(values) and bool(
        np.isin(values.astype(np.float64), [0.0, 1.0]).all())
    if pd.api.types.is_bool_dtype(dtype) or numeric:
        return np.array([False, True], dtype=object), values.astype(bool).astype(np.intp)
    order = np.argsort(first, kind="stable")
    position = np.empty(len(values), dtype=np.intp)
    position[order] = np.arange(len(values))
    return np.asarray(values[order], dtype=object), position


def counted(values: np.ndarray, counts: np.ndarray, missing: np.ndarray, first: np.ndarray,
            kind: str, dtype: Any, categories: tuple[Any, ...] | None, is_date: bool,
            n_rows: int) -> tuple[Encoded, np.ndarray, np.ndarray]:
    """``(encoded, base, per_segment)`` as ``encode`` and ``Groups.counts`` give them.

    ``counts`` holds one row per value (base, then each segment), ``missing`` the missing
    values the same way; ``encoded.codes`` is empty (no contact is at hand).
    """
    if kind in ("categorical", "boolean", "multi"):
        labels, position = category_labels(values, first, dtype, categories)
        table = np.zeros((len(labels) + 1, counts.shape[1]), dtype=np.int64)
        np.add.at(table, position, counts)
        table[-1] = missing
        return (Encoded(np.zeros(0, np.intp), len(labels) + 1, labels=labels),
                table[:, 0].copy(), table[:, 1:])
    integer = is_date or (pd.api.types.is_integer_dtype(dtype)
                          and not pd.api.types.is_bool_dtype(dtype))
    plain = values.astype(np.int64 if integer else np.float64)
    order = np.argsort(plain, kind="stable")
    plain, counts = plain[order], counts[order]
    if not len(plain):
        table = missing[None, :].astype(np.int64)
        return Encoded(np.zeros(0, np.intp), 1, values=plain, is_date=is_date), \
            table[:, 0].copy(), table[:, 1:]
    low, high = plain[0], plain[-1]
    if integer and int(high) - int(low) < 4 * n_rows + 1024:
        # encode's layout of counts, scores, ages: every integer of the range is a bin
        grid = np.arange(low, high + 1, dtype=np.int64)
        table = np.zeros((len(grid) + 1, counts.shape[1]), dtype=np.int64)
        table[plain - low] = counts
        plain = grid
    else:
        table = np.zeros((len(plain) + 1, counts.shape[1]), dtype=np.int64)
        table[:-1] = counts
    table[-1] = missing
    return (Encoded(np.zeros(0, np.intp), len(plain) + 1, values=plain, is_date=is_date),
            table[:, 0].copy(), table[:, 1:])
