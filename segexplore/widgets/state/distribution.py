"""Distribution of an attribute inside a segment against the whole base (the Build charts).

:func:`distribution_table` counts each value (or bin) of an attribute in a segment and in
the base; :func:`segexplore.widgets.plot.distribution_figure` draws it as grouped bars
(share of the segment, share of the base).

Counting is done on integer codes: the first time an attribute is charted, each contact's
value is coded once (category codes, number bins, months...) together with the base-wide
counts; after that a segment's counts are one ``numpy.bincount`` of the codes of its
members. Pass a :class:`DistributionCache` to keep the codes between calls (the builder
keeps one: the base-wide part does not change when the rule does).

On a base held in DuckDB the contacts stay there: an attribute is coded once from its
distinct values and their counts over the base (one ``GROUP BY``), and a segment's counts
are one ``GROUPING SETS`` query for all the charted attributes, which gives its size too
(:meth:`~segexplore.widgets.state.duckdb_fields.DuckDBFields.segment_counts`), laid out bin
for bin by the same coding. :class:`Breakdowns` is what the builder asks, on either engine:
a segment's size (with the charted attributes' counts), then its tables.

The counting is the one of the profile and the comparison
(:mod:`segexplore.analysis.encoding`): the same codes (the last one is "missing"), the same
tags of multi-valued fields (ignoring case), the same histogram edges, and the same pooling
of the rarer values as ``"other"``.

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

import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from segexplore.analysis.encoding import (
    MISSING,
    bin_codes,
    encode,
    histogram_edges,
    numeric_values,
    pool_rare,
    top_tags,
)
from segexplore.engines.duckdb_counts import as_dtype
from segexplore.errors import ParameterError, SegexploreError
from segexplore.widgets.state.duckdb_fields import DuckDBFields
from segexplore.widgets.state.engine_fields import fields_of, is_duckdb
from segexplore.widgets.state.fields import contact_count, field_values

if TYPE_CHECKING:

    from segexplore.model.base import ContactBase
    from segexplore.model.segments import Segment

__all__ = ["distribution_table", "DistributionCache", "Breakdowns"]

_COLUMNS = ["value", "segment_count", "segment_share", "base_count", "base_share"]


def distribution_table(base: ContactBase, mask: Any, attribute: str, *, top: int = 10,
                       bins: int = 10, cache: DistributionCache | None = None) -> pd.DataFrame:
    """Counts and shares of each value (or bin) of ``attribute``, in the segment and the base.

    Parameters
    ----------
    base : ContactBase
    mask : boolean array-like
        Segment membership, one entry per contact (by position).
    attribute : str
        Contact column or behaviour feature.
    top : int
        Categories: keep the ``top`` most frequent values in the base, group the rest as
        ``"other"`` (:data:`segexplore.analysis.encoding.OTHER`).
    bins : int
        Numbers: equal-width bins over the base's range (one bar per value for integers
        spanning at most ``bins`` values), as the profile's histograms. Dates are grouped
        by month, or by year when they span more than two years.
    cache : DistributionCache, optional
        Keeps each attribute's coding and base-wide counts between calls.

    Returns
    -------
    DataFrame
        Columns ``value, segment_count, segment_share, base_count, base_share``; ``value``
        holds the values as text (category names, ``"10 – 20"`` bins, ``"2026-01"``
        months); shares are 0..1 of the segment's and the base's contacts (multi-valued
        fields count a contact once per tag it holds, tags ignoring case, so their shares
        may add up to more than 1). Contacts without a value are the ``"(missing)"`` row.
    """
    coding = (cache if cache is not None else DistributionCache()).coding(base, attribute,
                                                                          bins=bins)
    member = np.asarray(mask, dtype=bool)
    if member.shape != (coding.n_contacts,):
        raise ParameterError(f"mask has {member.size:,} entries for {coding.n_contacts:,} contacts")
    return coding.table(coding.counts(member), int(member.sum()), top)


@dataclass
class _Coding:
    """An attribute coded for counting.

    ``codes`` holds, per contact, the code of its value; the last code (``n_bins - 1``) is
    "no value" (:func:`segexplore.analysis.encoding.encode`'s convention). A code stands for
    one label, or, for multi-valued fields, for the tags its row of ``indicator`` holds.
    """

    codes: np.ndarray
    n_bins: int
    labels: list[Any]
    order: bool  # True: keep the labels' order (bins, months); False: most frequent first
    indicator: np.ndarray | None = None  # multi: (code, tag) 0/1
    base_counts: np.ndarray | None = None
    #: Coded from counts (a DuckDB base): ``codes`` holds a code per distinct value, then
    #: the missing one; ``entries`` the row of each value in the engine's count table and
    #: ``n_rows`` the contacts of the base.
    entries: np.ndarray | None = None
    n_rows: int | None = None

    @property
    def n_contacts(self) -> int:
        return self.n_rows if self.n_rows is not None else len(self.codes)

    def counts(self, member: np.ndarray | None) -> np.ndarray:
        """Contacts per label, then contacts without any (last), among ``member`` (None:
        all)."""
        codes = self.codes if member is None else self.codes[member]
        return self._tagged(np.bincount(codes, minlength=self.n_bins).astype(np.int64))

    def counted(self, counts: np.ndarray) -> np.ndarray:
        """Contacts per label, then without any, from an engine's count of each distinct
        value in its table's order, the missing ones last (a coding made from counts)."""
        assert self.entries is not None
        weights = np.r_[np.asarray(counts[:-1])[self.entries], counts[-1]].astype(np.float64)
        raw = np.bincount(self.codes, weights=weights, minlength=self.n_bins)
        return self._tagged(np.rint(raw).astype(np.int64))

    def _tagged(self, raw: np.ndarray) -> np.ndarray:
        if self.indicator is None:
            return raw
        untagged = ~self.indicator.any(axis=1)  # no value, or a value without a tag
        return np.r_[raw @ self.indicator, raw[untagged].sum()]

    def table(self, segment_counts: np.ndarray, n_segment: int, top: int) -> pd.DataFrame:
        base_counts, n_base = self.base_counts, self.n_contacts
        labels = np.asarray(self.labels, dtype=object)
        if self.order:
            values, everyone, segment = list(labels) + [MISSING], base_counts, segment_counts
            shown = np.r_[np.arange(len(labels)), [len(labels)] if base_counts[-1] else []]
        else:
            values, everyone, pooled = pool_rare(labels, base_counts, segment_counts[:, None],
                                                 top)
            segment = pooled[:, 0]
            # "other" (when values were pooled) and "(missing)" come last
            special = 2 if np.count_nonzero(base_counts[:-1]) > top else 1
            known = np.arange(len(values) - special)
            known = known[np.argsort(-everyone[known], kind="stable")]  # most frequent first
            shown = np.r_[known, np.arange(len(values) - special, len(values))]
            shown = shown[everyone[shown] > 0]
        shown = shown.astype(np.intp)
        in_segment = np.asarray(segment, dtype=np.int64)[shown]
        in_base = np.asarray(everyone, dtype=np.int64)[shown]
        # made at once, in the columns' order (a redraw makes five of them)
        return pd.DataFrame({
            "value": pd.Series([values[i] for i in shown], dtype=object).astype(str),
            "segment_count": in_segment,
            "segment_share": in_segment / n_segment if n_segment else np.zeros(len(shown)),
            "base_count": in_base,
            "base_share": in_base / n_base if n_base else np.zeros(len(shown))},
            columns=_COLUMNS)


class DistributionCache:
    """Codes and base-wide counts of the attributes charted so far, per attribute.

    An entry is made again when the attribute's values are no longer the same array (the
    contacts table was replaced, the features were recomputed for another ``as_of``).
    """

    def __init__(self) -> None:
        self._entries: dict[tuple[str, int], tuple[tuple[Any, ...], Any, _Coding]] = {}

    def coding(self, base: ContactBase, attribute: str, *, bins: int = 10) -> _Coding:
        values = field_values(base, attribute)
        role = base.roles.roles.get(attribute)
        separator = base.roles.separators.get(attribute, "|") if role == "multi" else None
        token, keep = _source(values)
        token = (*token, role, separator)
        entry = self._entries.get((attribute, bins))
        if entry is not None and entry[0] == token:
            return entry[2]
        coding = _code(values, separator, bins)
        coding.base_counts = coding.counts(None)
        self._entries[(attribute, bins)] = (token, keep, coding)
        return coding

    def clear(self) -> None:
        """Forget every coding."""
        self._entries.clear()


def _source(values: pd.Series) -> tuple[tuple[Any, ...], Any]:
    """A token naming the array behind ``values``, and the object to keep alive with it."""
    dtype = values.dtype
    if isinstance(dtype, np.dtype):
        array = np.asarray(values)
        pointer = array.__array_interface__["data"][0]
        return ("numpy", pointer, array.shape, array.strides, array.dtype.str), array
    array = values.array
    return ("array", id(array), len(array), str(dtype)), array


def _compact(codes: np.ndarray, n_bins: int) -> np.ndarray:
    """Codes in the smallest integer type that holds them (a segment's gather is faster)."""
    dtype = np.uint8 if n_bins <= 2**8 else np.uint16 if n_bins <= 2**16 else np.intp
    return np.asarray(codes).astype(dtype)


def _code(values: pd.Series, separator: str | None, bins: int,
          weights: np.ndarray | None = None) -> _Coding:
    """``values`` coded for counting; ``weights``: how many contacts each entry stands for
    (the distinct values of a DuckDB base), for the tags' ranking."""
    if separator is not None:
        encoded = encode(values, "categorical")
        base = np.bincount(encoded.codes, weights=weights, minlength=encoded.n_bins)
        base = np.rint(base).astype(np.int64)
        tags = top_tags(encoded.labels, base, separator, sys.maxsize)  # every tag
        return _Coding(_compact(encoded.codes, encoded.n_bins), encoded.n_bins, tags.names,
                       order=False, indicator=tags.indicator)
    if pd.api.types.is_datetime64_any_dtype(values.dtype):
        return _date_coding(values)
    if pd.api.types.is_numeric_dtype(values.dtype) and not pd.api.types.is_bool_dtype(
            values.dtype):
        return _number_coding(values, bins)
    encoded = encode(values, "categorical")  # categories, text, booleans (False, True)
    return _Coding(_compact(encoded.codes, encoded.n_bins), encoded.n_bins,
                   [str(label) for label in encoded.labels], order=False)


def _number_coding(values: pd.Series, bins: int) -> _Coding:
    raw, known, _ = numeric_values(values)
    finite = known & np.isfinite(raw) if raw.dtype.kind == "f" else known
    if not finite.any():
        return _Coding(np.zeros(len(raw), dtype=np.uint8), 1, [], order=True)
    present = raw[finite]
    low, high = present.min(), present.max()
    integer = pd.api.types.is_integer_dtype(values.dtype)
    edges = histogram_edges(low, high, bins, integer)
    n_bins = len(edges)  # the bins, and "missing" last
    if (integer and high - low + 1 <= bins) or low == high:
        text = [_number(left + 0.5) for left in edges[:-1]]  # one bin per value: the value
    else:
        text = [f"{_number(a)} – {_number(b)}" for a, b in zip(edges[:-1], edges[1:],
                                                                strict=True)]
    codes = np.full(len(raw), n_bins - 1, dtype=np.intp)
    codes[finite] = bin_codes(present, edges)
    return _Coding(_compact(codes, n_bins), n_bins, text, order=True)


def _number(value: float) -> str:
    return f"{value:,.0f}" if float(value).is_integer() or abs(value) >= 100 else f"{value:,.3g}"


def _date_coding(values: pd.Series) -> _Coding:
    stamps = pd.to_datetime(values)
    known = stamps.notna().to_numpy()
    if not known.any():
        return _Coding(np.zeros(len(stamps), dtype=np.uint8), 1, [], order=True)
    first, last = stamps[known].min(), stamps[known].max()
    freq = "Y" if (last - first).days > 2 * 366 else "M"
    periods = stamps.dt.to_period(freq)
    start = pd.Period(first, freq=freq).ordinal
    order = pd.period_range(first, last, freq=freq)
    n_bins = len(order) + 1
    codes = np.where(known, periods.array.asi8 - start, n_bins - 1)
    return _Coding(_compact(codes, n_bins), n_bins, [str(p) for p in order], order=True)


def _counted_coding(fields: DuckDBFields, attribute: str, bins: int) -> _Coding:
    """An attribute of a DuckDB base coded from its distinct values and their counts.

    The distinct values, in order of first appearance (what :func:`pandas.factorize` would
    meet), are coded by the very functions that code a pandas column (:func:`_code`), so
    bins, months, labels and tags are the same; the counts then weigh each code.
    """
    table = fields.value_counts(attribute)
    info = fields.info(attribute)
    order = np.argsort(table.first, kind="stable")
    values = table.values[order]
    if table.is_date:
        series = pd.Series(np.asarray(values, dtype=np.int64).astype("datetime64[ns]"))
    elif isinstance(info.dtype, pd.CategoricalDtype):
        categories = list(info.categories or ())
        known = set(categories)
        categories += [v for v in values if v not in known]  # beyond the first file's
        series = pd.Series(pd.Categorical(values, categories=categories))
    else:
        series = as_dtype(pd.Series(values, dtype=object), info.dtype)
    separator = info.separator if info.role == "multi" else None
    coding = _code(series, separator, bins, weights=table.counts[order, 0])
    coding.codes = np.r_[np.asarray(coding.codes, dtype=np.intp), coding.n_bins - 1]
    coding.entries, coding.n_rows = order, fields.n_contacts
    coding.base_counts = coding.counted(np.r_[table.counts[:, 0], table.missing[0]])
    return coding


class Breakdowns:
    """What the builder counts, on either engine: a segment's size, then the distribution
    tables of a few attributes inside it against the base.

    On a pandas base the size is the mask's sum and the tables count its members' codes;
    on a DuckDB base one ``GROUPING SETS`` query counts the charted contact columns and
    the size with them (:meth:`size` with ``attributes``: the tables then read its
    counts), a ``count(*)`` counts a segment with nothing charted, and the base-wide
    codings are kept for both.

    Parameters
    ----------
    base : ContactBase or DuckDBBase

    Examples
    --------
    >>> import segexplore as se
    >>> big = se.read_base(se.sample_path() / "contacts.parquet", engine="duckdb")
    >>> breakdowns = Breakdowns(big)
    >>> android = big.segment('device = "Android"', save=False)
    >>> breakdowns.size(android, ["city", "device"]) == big.count('device = "Android"')
    True
    >>> table = breakdowns.tables(["device"])["device"]  # no second query
    >>> int(table.loc[table["value"] == "Android", "segment_count"].iloc[0]) == android.size
    True
    """

    def __init__(self, base: ContactBase) -> None:
        self.base = base
        self.total = contact_count(base)
        self.duckdb = is_duckdb(base)
        self.cache = DistributionCache()
        self._codings: dict[tuple[str, int], _Coding] = {}
        self._segment: Segment | None = None
        self._mask: np.ndarray | None = None
        self._size = self.total
        #: The latest counted segment's counts per distinct value (DuckDB), by attribute.
        self._counts: dict[str, np.ndarray] = {}

    @property
    def mask(self) -> np.ndarray:
        """The latest counted segment's membership, one boolean per contact (on a DuckDB
        base fetched from DuckDB when asked: the widgets never need it)."""
        if self._mask is None:
            segment = self._segment
            self._mask = (np.ones(self.total, dtype=bool) if segment is None
                          else segment.mask.to_numpy(dtype=bool))
        return self._mask

    def size(self, segment: Segment | None, attributes: Sequence[str] = ()) -> int:
        """Count ``segment`` (None: the whole base); the tables then describe it.

        On a DuckDB base, the contact columns among ``attributes`` (the charts to draw
        next) are counted in the same query as the size, and :meth:`tables` reads those
        counts: a redraw is one scan of the contacts. Features are left to
        :meth:`tables` (counting them may compute the features: never for a size).
        """
        if not self.duckdb:
            mask = (segment.mask.to_numpy(dtype=bool) if segment is not None
                    else np.ones(self.total, dtype=bool))
            self._segment, self._mask, self._size = segment, mask, int(mask.sum())
            return self._size
        fields = fields_of(self.base)
        columns = fields.columns()
        wanted = list(dict.fromkeys(a for a in attributes if a in columns))
        counted = fields.segment_counts(wanted, segment) if wanted else None
        size = counted.size if counted is not None else None
        self._size = size if size is not None else fields.size(segment)
        self._segment, self._mask = segment, None
        self._counts = dict(counted.counts) if counted is not None else {}
        return self._size

    def counted(self, attributes: Sequence[str], *, bins: int = 10) -> bool:
        """True when the tables of ``attributes`` need no more counting: on a DuckDB base,
        their counts came with the size (:meth:`size`), and their codings are made."""
        return self.duckdb and bool(attributes) and all(
            attribute in self._counts and (attribute, bins) in self._codings
            for attribute in attributes)

    def tables(self, attributes: Sequence[str], *, top: int = 10,
               bins: int = 10) -> dict[str, pd.DataFrame | SegexploreError]:
        """The distribution table of each attribute (see :func:`distribution_table`) for
        the segment last counted, or the error that stopped it."""
        out: dict[str, pd.DataFrame | SegexploreError] = {}
        if not self.duckdb:
            for attribute in attributes:
                try:
                    out[attribute] = distribution_table(self.base, self.mask, attribute,
                                                        top=top, bins=bins, cache=self.cache)
                except SegexploreError as error:
                    out[attribute] = error
            return out
        fields = fields_of(self.base)
        codings = {}
        for attribute in attributes:
            try:
                key = (attribute, bins)
                if key not in self._codings:
                    self._codings[key] = _counted_coding(fields, attribute, bins)
                codings[attribute] = self._codings[key]
            except SegexploreError as error:
                out[attribute] = error
        if not codings:
            return out
        missing = [attribute for attribute in codings if attribute not in self._counts]
        if missing:
            self._counts.update(fields.segment_counts(missing, self._segment).counts)
        for attribute, coding in codings.items():
            out[attribute] = coding.table(coding.counted(self._counts[attribute]), self._size,
                                          top)
        return {attribute: out[attribute] for attribute in attributes}
