"""An attribute's counts from an engine's table of (value, count) pairs.

Both engines hand :func:`~segexplore.analysis.compare.compare` their counts through one
interface, a count source: :class:`FrameCounts` (a pandas base: codes counted by
``bincount``) and :class:`EngineSource` (a DuckDB base or a connected one, on PostgreSQL,
Spark or a DuckDB connection: ``GROUP BY`` queries). Each gives
the columns with their roles, the membership patterns, an attribute's count table, the
joint counts of two codings (:class:`Coding`) and the conversions behind ``expected``; the
comparison reads nothing else, so its statistics are the same code on the same arrays.

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

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from segexplore.analysis.attributes import AttributeTable
from segexplore.analysis.encoding import Encoded, Groups, encode
from segexplore.model.columns import MULTI_VALUE_SEPARATOR

__all__ = ["counted", "laid_out", "category_labels", "Coding", "Patterns", "FrameCounts",
           "EngineSource", "engine_counts"]

#: The layouts whose labels follow the values' first appearance (the others sort them).
_CATEGORY_LAYOUTS = ("categorical", "boolean", "multi")
#: Above this many cells a joint count is sorted instead of counted in a dense table.
_JOINT_CELLS = 1 << 22


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
    encoded, table, _ = laid_out(values, counts, missing, first, kind, dtype, categories,
                                 is_date, n_rows)
    return encoded, table[:, 0].copy(), table[:, 1:]


def laid_out(values: np.ndarray, counts: np.ndarray, missing: np.ndarray, first: np.ndarray,
             kind: str, dtype: Any, categories: tuple[Any, ...] | None, is_date: bool,
             n_rows: int) -> tuple[Encoded, np.ndarray, np.ndarray]:
    """``(encoded, table, bins)``: :func:`counted`'s layout, its whole table (base first) and
    the bin of each given value (what a joint count maps the values to)."""
    if kind in _CATEGORY_LAYOUTS:
        labels, position = category_labels(values, first, dtype, categories)
        table = np.zeros((len(labels) + 1, counts.shape[1]), dtype=np.int64)
        np.add.at(table, position, counts)
        table[-1] = missing
        return Encoded(np.zeros(0, np.intp), len(labels) + 1, labels=labels), table, position
    integer = is_date or (pd.api.types.is_integer_dtype(dtype)
                          and not pd.api.types.is_bool_dtype(dtype))
    plain = values.astype(np.int64 if integer else np.float64)
    order = np.argsort(plain, kind="stable")
    plain, counts = plain[order], counts[order]
    bins = np.empty(len(order), dtype=np.intp)
    bins[order] = np.arange(len(order))
    if not len(plain):
        table = missing[None, :].astype(np.int64)
        return Encoded(np.zeros(0, np.intp), 1, values=plain, is_date=is_date), table, bins
    low, high = plain[0], plain[-1]
    if integer and int(high) - int(low) < 4 * n_rows + 1024:
        # encode's layout of counts, scores, ages: every integer of the range is a bin
        grid = np.arange(low, high + 1, dtype=np.int64)
        table = np.zeros((len(grid) + 1, counts.shape[1]), dtype=np.int64)
        table[plain - low] = counts
        bins[order] = (plain - low).astype(np.intp)
        plain = grid
    else:
        table = np.zeros((len(plain) + 1, counts.shape[1]), dtype=np.int64)
        table[:-1] = counts
    table[-1] = missing
    return (Encoded(np.zeros(0, np.intp), len(plain) + 1, values=plain, is_date=is_date),
            table, bins)


def _layout(kind: str) -> str:
    """How ``kind`` is laid out: a multi-valued or text column is counted per distinct value."""
    return "categorical" if kind in ("multi", "text") else kind


@dataclass
class Coding:
    """Codes over an attribute's bins, or a segment's membership, for a joint count.

    ``lookup[bin]`` is the code of each bin of ``column`` (as its source's ``counts`` lays
    the column out, missing last); with ``column`` None the code is membership of
    ``segment`` (0 or 1). ``per_contact`` holds the codes of every contact when they are at
    hand (the pandas engine), so that a joint count needs no second gather.
    """

    n_codes: int
    column: str | None = None
    kind: str = ""
    lookup: np.ndarray | None = None
    segment: int = -1
    per_contact: np.ndarray | None = None


@dataclass(frozen=True)
class Patterns:
    """Contacts grouped by their pattern of membership, from an engine's counts: the
    ``patterns``, ``pattern_sizes``, ``sizes`` and :meth:`both` of
    :class:`~segexplore.analysis.encoding.Groups`, in its order."""

    patterns: np.ndarray
    pattern_sizes: np.ndarray

    @classmethod
    def ordered(cls, patterns: np.ndarray, sizes: np.ndarray) -> Patterns:
        """The patterns in :class:`~segexplore.analysis.encoding.Groups`' order (by packed
        key up to 20 segments, else rows sorted as :func:`numpy.unique` sorts them): the
        intersections table breaks ties of size in that order."""
        n_segments = patterns.shape[1]
        if n_segments <= 20:
            order = np.argsort((patterns.astype(np.int64) << np.arange(n_segments)).sum(axis=1),
                               kind="stable")
        else:
            order = np.lexsort(patterns.T[::-1])
        return cls(patterns[order], sizes[order].astype(np.int64))

    @property
    def sizes(self) -> np.ndarray:
        return (self.patterns * self.pattern_sizes[:, None]).sum(axis=0).astype(np.int64)

    def both(self) -> np.ndarray:
        """Contacts in both segments, for every pair (diagonal: the sizes)."""
        return ((self.patterns.T * self.pattern_sizes) @ self.patterns).astype(np.int64)


def _sparse(first: np.ndarray, second: np.ndarray, n_first: int, n_second: int
            ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(first code, second code, contacts)`` of the pairs held, from two code arrays."""
    if n_first * n_second <= _JOINT_CELLS:
        cells = np.bincount(first * n_second + second, minlength=n_first * n_second)
        keys = np.flatnonzero(cells)
        counts = cells[keys]
    else:
        keys, counts = np.unique(first.astype(np.int64) * n_second + second,
                                 return_counts=True)
    return keys // n_second, keys % n_second, counts.astype(np.int64)


class _Lazy(Sequence):
    """``[make(item) for item in items]``, each made when first read."""

    def __init__(self, make: Any, items: Sequence[Any]) -> None:
        self.make, self.items, self.made = make, items, {}

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, i: Any) -> Any:
        if i not in self.made:
            self.made[i] = self.make(self.items[i])
        return self.made[i]


class FrameCounts:
    """The count source of a pandas base or DataFrame and a (contacts x segments) matrix."""

    def __init__(self, table: AttributeTable, members: np.ndarray) -> None:
        self.table, self.members = table, members
        self.n_base = len(table.index)
        self.groups = Groups(members)
        self._kept: dict[tuple[str, str], tuple[Encoded, np.ndarray, np.ndarray]] = {}

    def __enter__(self) -> FrameCounts:
        return self

    def __exit__(self, *_: Any) -> None:
        self._kept.clear()

    def columns(self) -> dict[str, tuple[pd.Series, str, str]]:
        """``{column: (values for telling its kind, role, separator)}``."""
        table = self.table
        return {c: (s, table.roles.get(c, ""), table.separators.get(c, MULTI_VALUE_SEPARATOR))
                for c, s in table.columns.items()}

    def patterns(self) -> Groups:
        return self.groups

    def counts(self, column: str, kind: str, keep: bool = False
               ) -> tuple[Encoded, np.ndarray, np.ndarray]:
        """``(encoded, base, per_segment)`` of ``column``; ``keep`` holds them for asking
        again (a rule's field is counted for the implied attributes, then compared)."""
        key = (column, _layout(kind))
        if key in self._kept:
            return self._kept[key]
        encoded = encode(self.table.columns[column], key[1])
        base, per_segment = self.groups.counts(encoded.codes, encoded.n_bins)
        if keep:
            self._kept[key] = (encoded, base, per_segment)
        return encoded, base, per_segment

    def _codes(self, coding: Coding) -> np.ndarray:
        if coding.per_contact is not None:
            return coding.per_contact
        if coding.column is None:
            return self.members[:, coding.segment].astype(np.intp)
        assert coding.lookup is not None
        return coding.lookup[self.counts(coding.column, coding.kind, keep=True)[0].codes]

    #: Joint counts are bincounts of codes at hand: nothing gains from preparing them.
    prepares_joints = False

    def joints(self, firsts: Sequence[Coding], second: Coding
               ) -> Sequence[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """``(first code, second code, contacts)`` over the base, the pairs held only, of
        each of ``firsts`` with ``second``: counted when read (the comparison stops at the
        first field implying an attribute)."""
        return _Lazy(lambda first: _sparse(self._codes(first), self._codes(second),
                                           first.n_codes, second.n_codes), firsts)

    def conversions(self, column: str | None, mask: np.ndarray | None = None
                    ) -> tuple[int, np.ndarray]:
        """Contacts converted (``column`` true or >= 1, or ``mask``), in the base and in
        each segment."""
        if mask is None:
            values = self.table.columns[column]
            mask = (values.to_numpy(dtype=bool, na_value=False)
                    if pd.api.types.is_bool_dtype(values.dtype)
                    else (values.to_numpy(dtype=np.float64, na_value=np.nan) >= 1))
        converted = np.count_nonzero(self.members & mask[:, None], axis=0)
        return int(np.count_nonzero(mask)), converted.astype(np.int64)


def engine_counts(base: Any, members: Sequence[Any]) -> Any:
    """The counter of an engine's base: :class:`~segexplore.engines.duckdb_counts.DuckDBCounts`
    for a DuckDB base, :class:`~segexplore.engines.server_counts.ServerCounts` for a
    connected one (:func:`segexplore.connect`). Both answer the same questions."""
    from segexplore.engines.server import ServerBase

    if isinstance(base, ServerBase):
        from segexplore.engines.server_counts import ServerCounts

        return ServerCounts(base, members)
    from segexplore.engines.duckdb_counts import DuckDBCounts

    return DuckDBCounts(base, members)


class EngineSource:
    """The count source of a DuckDB base (see :mod:`segexplore.engines.duckdb_counts`) or a
    connected one (:mod:`segexplore.engines.server_counts`): only count tables leave the
    engine.

    ``members`` holds one query of the members (positions on a DuckDB base, contact ids on
    a connected one) or, on a DuckDB base, one boolean array per segment.
    """

    #: Each joint count would scan the base: :meth:`prepare_joints` codes it once.
    prepares_joints = True

    def __init__(self, base: Any, members: Sequence[Any]) -> None:
        self.counter = engine_counts(base, members)
        self.prepares_joints = self.counter.prepares_joints
        self.n_base = self.counter.n_rows
        self._columns: dict[str, Any] | None = None
        self._kept: dict[tuple[str, str], tuple[Encoded, np.ndarray, np.ndarray]] = {}
        self._values: dict[tuple[str, str], tuple[np.ndarray, np.ndarray]] = {}

    def __enter__(self) -> EngineSource:
        self.counter.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.counter.__exit__(*exc)

    def _infos(self) -> dict[str, Any]:
        if self._columns is None:
            self._columns = self.counter.columns(include_features=True)
        return self._columns

    def columns(self) -> dict[str, tuple[pd.Series, str, str]]:
        return {c: (i.sample, i.role, i.separator) for c, i in self._infos().items()}

    def patterns(self) -> Patterns:
        return Patterns.ordered(*self.counter.patterns())

    def counts(self, column: str, kind: str, keep: bool = False
               ) -> tuple[Encoded, np.ndarray, np.ndarray]:
        """As :meth:`FrameCounts.counts` (kept whatever ``keep``: the tables are small)."""
        key = (column, _layout(kind))
        if key not in self._kept:
            info = self._infos()[column]
            table = self.counter.value_counts(column, first=key[1] in _CATEGORY_LAYOUTS)
            encoded, counts, bins = laid_out(table.values, table.counts, table.missing,
                                             table.first, key[1], info.dtype,
                                             info.categories, table.is_date, self.n_base)
            self._kept[key] = (encoded, counts[:, 0].copy(), counts[:, 1:])
            self._values[key] = (table.values, bins)
        return self._kept[key]

    def _side(self, coding: Coding) -> int | tuple[str, pd.DataFrame, int]:
        if coding.column is None:
            return coding.segment
        assert coding.lookup is not None
        self.counts(coding.column, coding.kind)
        values, bins = self._values[(coding.column, _layout(coding.kind))]
        codes = pd.DataFrame({"v": values, "code": coding.lookup[bins].astype(np.int64)})
        return coding.column, codes, int(coding.lookup[-1])

    def prepare_joints(self, firsts: Sequence[Coding], seconds: Sequence[Coding]) -> None:
        """Code the contacts once for every joint count of ``firsts`` with ``seconds`` that
        :meth:`joints` will be asked (each would otherwise scan the base)."""
        self.counter.prepare_joints([self._side(f) for f in firsts],
                                    [self._side(s) for s in seconds])

    def joints(self, firsts: Sequence[Coding], second: Coding
               ) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        return self.counter.joints([self._side(f) for f in firsts], self._side(second))

    def conversions(self, column: str | None, mask: np.ndarray | None = None
                    ) -> tuple[int, np.ndarray]:
        if mask is None:
            return self.counter.conversions(column)
        return self.counter.mask_conversions(mask)
