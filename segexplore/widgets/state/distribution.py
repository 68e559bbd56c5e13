"""Distribution of an attribute inside a segment against the whole base (the Build charts).

:func:`distribution_table` counts each value (or bin) of an attribute in a segment and in
the base; :func:`segexplore.widgets.plot.distribution_figure` draws it as grouped bars
(share of the segment, share of the base).

Counting is done on integer codes: the first time an attribute is charted, each contact's
value is coded once (category codes, number bins, months...) together with the base-wide
counts; after that a segment's counts are one ``numpy.bincount`` of the codes of its
members. Pass a :class:`DistributionCache` to keep the codes between calls (the builder
keeps one: the base-wide part does not change when the rule does).

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

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from segexplore.widgets.state.fields import field_values

if TYPE_CHECKING:

    from segexplore.model.base import ContactBase

__all__ = ["distribution_table", "DistributionCache", "MISSING", "OTHER"]

#: Bar label of contacts without a value, and of values beyond the ``top`` shown.
MISSING = "(missing)"
OTHER = "(other)"

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
        ``"(other)"``.
    bins : int
        Numbers: equal-width bins over the base's range. Dates are grouped by month, or by
        year when they span more than two years.
    cache : DistributionCache, optional
        Keeps each attribute's coding and base-wide counts between calls.

    Returns
    -------
    DataFrame
        Columns ``value, segment_count, segment_share, base_count, base_share``; ``value``
        holds the values as text (category names, ``"10 – 20"`` bins, ``"2026-01"``
        months); shares are 0..1 of the segment's and the base's contacts (multi-valued
        fields count a contact once per value it holds, so their shares may add up to more
        than 1). Contacts without a value are the ``"(missing)"`` row.
    """
    coding = (cache if cache is not None else DistributionCache()).coding(base, attribute,
                                                                          bins=bins)
    member = np.asarray(mask, dtype=bool)
    if member.shape != (coding.n_contacts,):
        raise ValueError(f"mask has {member.size:,} entries for {coding.n_contacts:,} contacts")
    segment_counts, missing_segment = coding.counts(member)
    return coding.table(segment_counts, missing_segment, int(member.sum()), top)


@dataclass
class _Coding:
    """An attribute coded for counting.

    ``codes`` holds, per contact, ``1 +`` the index of its raw value (0: no value). A raw
    value is one label (``pairs`` is None) or, for multi-valued fields, the labels listed
    in ``pairs``: (raw value index, label index) of each pair, and whether each raw value
    has any label.
    """

    codes: np.ndarray
    labels: list[str]
    order: bool  # True: keep the labels' order (bins, months); False: most frequent first
    pairs: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None  # + has a label
    base_counts: np.ndarray | None = None
    base_missing: int = 0

    @property
    def n_contacts(self) -> int:
        return len(self.codes)

    def counts(self, member: np.ndarray | None) -> tuple[np.ndarray, int]:
        """Contacts per label and contacts without any, among ``member`` (None: all)."""
        codes = self.codes if member is None else self.codes[member]
        n_raw = (len(self.pairs[2]) if self.pairs is not None else len(self.labels))
        raw = np.bincount(codes, minlength=n_raw + 1)
        missing = int(raw[0])
        raw = raw[1:]
        if self.pairs is None:
            return raw.astype(np.int64), missing
        raw_index, label_index, has_label = self.pairs
        per_label = np.bincount(label_index, weights=raw[raw_index],
                                minlength=len(self.labels))
        missing += int(raw[~has_label].sum())
        return np.rint(per_label).astype(np.int64), missing

    def table(self, segment_counts: np.ndarray, missing_segment: int, n_segment: int,
              top: int) -> pd.DataFrame:
        base_counts, n_base = self.base_counts, self.n_contacts
        labels = np.asarray(self.labels, dtype=object)
        if self.order:
            kept, rest = np.arange(len(labels)), np.array([], dtype=np.intp)
        else:
            present = np.flatnonzero(base_counts > 0)
            ranked = present[np.argsort(-base_counts[present], kind="stable")]
            kept, rest = ranked[:top], ranked[top:]
        values = list(labels[kept])
        segment = list(segment_counts[kept])
        everyone = list(base_counts[kept])
        if len(rest):
            values.append(OTHER)
            segment.append(int(segment_counts[rest].sum()))
            everyone.append(int(base_counts[rest].sum()))
        if self.base_missing:
            values.append(MISSING)
            segment.append(missing_segment)
            everyone.append(self.base_missing)
        table = pd.DataFrame({"value": pd.Series(values, dtype=object).astype(str),
                              "segment_count": np.asarray(segment, dtype=np.int64),
                              "base_count": np.asarray(everyone, dtype=np.int64)})
        table["segment_share"] = table["segment_count"] / n_segment if n_segment else 0.0
        table["base_share"] = table["base_count"] / n_base if n_base else 0.0
        return table[_COLUMNS]


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
        coding.base_counts, coding.base_missing = coding.counts(None)
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


def _shifted(codes: np.ndarray) -> np.ndarray:
    """Codes with -1 for "no value" shifted to start at 0, in the smallest integer type."""
    codes = np.asarray(codes)
    top = int(codes.max()) + 1 if len(codes) else 0
    dtype = np.uint8 if top < 2**8 - 1 else np.uint16 if top < 2**16 - 1 else np.int64
    return (codes + 1).astype(dtype)


def _code(values: pd.Series, separator: str | None, bins: int) -> _Coding:
    if separator is not None:
        return _multi_coding(values, separator)
    if pd.api.types.is_bool_dtype(values.dtype):
        codes = np.where(values.isna().to_numpy(), -1,
                         values.fillna(False).to_numpy(dtype=bool).astype(np.int8))
        return _Coding(_shifted(codes), ["False", "True"], order=False)
    if pd.api.types.is_datetime64_any_dtype(values.dtype):
        return _date_coding(values)
    if pd.api.types.is_numeric_dtype(values.dtype):
        return _number_coding(values, bins)
    codes, uniques = _factorize(values)
    return _Coding(_shifted(codes), [str(u) for u in uniques], order=False)


def _factorize(values: pd.Series) -> tuple[np.ndarray, list[Any]]:
    """Integer codes (-1: missing) and the value of each code."""
    if isinstance(values.dtype, pd.CategoricalDtype):
        return values.cat.codes.to_numpy(), list(values.cat.categories)
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    return codes, list(uniques)


def _multi_coding(values: pd.Series, separator: str) -> _Coding:
    """Each distinct text (``"sport|outdoor"``) is split once, not once per contact."""
    codes, texts = _factorize(values)
    labels: dict[str, int] = {}
    raw_index, label_index = [], []
    for position, text in enumerate(texts):
        if text is None or (isinstance(text, float) and np.isnan(text)):
            continue
        seen = set()
        for part in str(text).split(separator):
            part = part.strip()
            if part and part not in seen:
                seen.add(part)
                raw_index.append(position)
                label_index.append(labels.setdefault(part, len(labels)))
    has_label = np.zeros(len(texts), dtype=bool)
    has_label[np.asarray(raw_index, dtype=np.intp)] = True
    pairs = (np.asarray(raw_index, dtype=np.intp), np.asarray(label_index, dtype=np.intp),
             has_label)
    return _Coding(_shifted(codes), list(labels), order=False, pairs=pairs)


def _number_coding(values: pd.Series, bins: int) -> _Coding:
    numbers = pd.to_numeric(values, errors="coerce").astype(float).to_numpy()
    known = ~np.isnan(numbers)
    if not known.any():
        return _Coding(np.zeros(len(numbers), dtype=np.uint8), [], order=True)
    present = numbers[known]
    low, high = float(present.min()), float(present.max())
    integer = pd.api.types.is_integer_dtype(values.dtype)
    codes = np.full(len(numbers), -1, dtype=np.int64)
    if low == high or (integer and high - low + 1 <= bins):
        distinct = np.unique(present)
        codes[known] = np.searchsorted(distinct, present)
        return _Coding(_shifted(codes), [_number(v) for v in distinct], order=True)
    edges = np.histogram_bin_edges(present, bins=bins)
    text = [f"{_number(a)} – {_number(b)}" for a, b in zip(edges[:-1], edges[1:], strict=True)]
    binned = pd.cut(numbers, edges, include_lowest=True, labels=False)
    codes = np.where(np.isnan(binned), -1, np.nan_to_num(binned, nan=-1)).astype(np.int64)
    return _Coding(_shifted(codes), text, order=True)


def _number(value: float) -> str:
    return f"{value:,.0f}" if float(value).is_integer() or abs(value) >= 100 else f"{value:,.3g}"


def _date_coding(values: pd.Series) -> _Coding:
    stamps = pd.to_datetime(values)
    known = stamps.notna().to_numpy()
    if not known.any():
        return _Coding(np.zeros(len(stamps), dtype=np.uint8), [], order=True)
    first, last = stamps[known].min(), stamps[known].max()
    freq = "Y" if (last - first).days > 2 * 366 else "M"
    periods = stamps.dt.to_period(freq)
    start = pd.Period(first, freq=freq).ordinal
    order = pd.period_range(first, last, freq=freq)
    codes = np.where(known, periods.array.asi8 - start, -1)
    return _Coding(_shifted(codes), [str(p) for p in order], order=True)
