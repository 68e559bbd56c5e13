"""Profile a contact base (or a segment of it): one row of statistics per attribute.

:func:`profile` describes every contact column and behaviour feature in one pass: missing
values, distinct values, the most frequent values, numeric and date statistics, histogram
bins, the tags of multi-valued columns (interests) and rules worth trying as segments.
Everything is vectorised: categorical counts are a ``bincount`` of the category codes,
numbers and dates are sorted once and every statistic is read off the sorted values.

The helpers that turn a column into codes or numbers (:func:`attribute_kind`,
:func:`categorical_codes`, :func:`numeric_values`, :func:`attribute_table`) are shared with
:mod:`segexplore.analysis.compare`.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from segexplore.io.schema import infer_roles, normalise_name
from segexplore.model.columns import MULTI_VALUE_SEPARATOR
from segexplore.rules import nodes as R

if TYPE_CHECKING:
    pass

__all__ = ["Profile", "profile", "KINDS", "QUANTILES", "is_identifier"]

#: How an attribute is described, whatever its role: see :func:`attribute_kind`.
KINDS = ("categorical", "boolean", "numeric", "date", "multi", "text", "identifier")

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

#: Values read to tell what a column holds (emails, phone numbers): enough, and cheap on 1M.
_CONTENT_SAMPLE = 2000

#: Normalised column names of phone numbers (``Téléphone``, ``N° de tel``, ``mobile_phone``,
#: ``Portable``); their values are checked too, so ``phone_verified`` flags stay flags.
_PHONE_NAME = re.compile(r"phone|(^|_)(tel|telephone|msisdn|fax|gsm)(_|$)"
                         r"|^(mobile|portable|cell|mobile_number|numero_portable)$")

SUMMARY_COLUMNS = ("attribute", "role", "kind", "dtype", "count", "missing", "missing_share",
                   "distinct", "top", "top_count", "top_share", "mean", "std", "min", "p5",
                   "p25", "p50", "p75", "p95", "max")


# -- shared helpers: where the attributes come from and how to read them ----------------------

@dataclass(frozen=True)
class AttributeTable:
    """The columns an analysis can read: contact columns first, then behaviour features."""

    columns: dict[str, pd.Series]
    roles: dict[str, str]
    separators: dict[str, str]
    index: pd.Index
    base: Any = None


def attribute_table(source: Any, *, include_features: bool = True) -> AttributeTable:
    """The contact columns (with their roles) and, for a base, its features (role "feature").

    ``source`` is a :class:`~segexplore.model.base.ContactBase`, a
    :class:`~segexplore.model.segments.Segment` (its base) or a DataFrame (roles inferred).
    """
    from segexplore.model.base import ContactBase
    from segexplore.model.segments import Segment

    if isinstance(source, Segment):
        source = source.base
    if isinstance(source, ContactBase):
        contacts = source.contacts
        roles = dict(source.roles.roles)
        separators = dict(source.roles.separators)
        columns = {str(c): contacts[c] for c in contacts.columns}
        if include_features:
            features = source.features
            for name in features.columns:
                if str(name) not in columns:
                    columns[str(name)] = features[name]
                    roles[str(name)] = "feature"
        return AttributeTable(columns, roles, separators, contacts.index, source)
    if isinstance(source, pd.DataFrame):
        inferred = infer_roles(source)
        return AttributeTable({str(c): source[c] for c in source.columns}, dict(inferred.roles),
                              dict(inferred.separators), source.index, None)
    raise TypeError(
        f"Value of 'base_or_frame' must be a ContactBase, a Segment or a DataFrame but "
        f"received: {type(source).__name__}"
    )


def _sample(series: pd.Series) -> pd.Series:
    """Up to :data:`_CONTENT_SAMPLE` known values (the distinct categories of a category)."""
    if isinstance(series.dtype, pd.CategoricalDtype):
        return pd.Series(series.cat.categories[:_CONTENT_SAMPLE], dtype="object")
    head = series.iloc[:_CONTENT_SAMPLE].dropna()
    return head if len(head) else series.dropna().iloc[:_CONTENT_SAMPLE]


def is_identifier(series: pd.Series, role: str, name: str | None = None) -> bool:
    """Whether a column identifies people, so that no analysis quotes its values.

    True for the ``id`` and ``email`` roles, for columns whose values are mostly email
    addresses (``email_original``, a referrer's email), and for phone columns (named like
    one, with phone-like values: numbers, or texts of six digits or more). Boolean and date
    columns never are; behaviour features (role ``"feature"``) neither. Nearly unique
    free text is told by :func:`profile` from the counts it makes anyway.

    Parameters
    ----------
    series : Series
    role : str
        The column's role (see :mod:`segexplore.io.schema`).
    name : str, optional
        The column's name (phones are told by name and values).

    Examples
    --------
    >>> import pandas as pd
    >>> is_identifier(pd.Series(["ann@x.fr", "bob@y.fr"]), "categorical", "referrer")
    True
    >>> is_identifier(pd.Series(["06 12 34 56 78"]), "text", "Téléphone")
    True
    >>> is_identifier(pd.Series(["no @", "contains a space"]), "text", "email_problem")
    False
    """
    if role in ("id", "email"):
        return True
    dtype = series.dtype
    if role == "feature" or pd.api.types.is_bool_dtype(dtype) \
            or pd.api.types.is_datetime64_any_dtype(dtype):
        return False
    numeric = pd.api.types.is_numeric_dtype(dtype) and not isinstance(dtype, pd.CategoricalDtype)
    phone_name = name is not None and bool(_PHONE_NAME.search(normalise_name(name)))
    if numeric:
        return phone_name and bool(series.notna().any())
    from segexplore.delivery.privacy import (  # lazily: the privacy module loads the export machinery
        EMAIL_SHAPE,
    )

    sample = _sample(series)
    if not len(sample):
        return False
    text = sample.astype("str").str.strip()
    if text.str.fullmatch(EMAIL_SHAPE.pattern).mean() >= 0.5:
        return True
    return phone_name and bool(text.str.count(r"\d").ge(6).mean() >= 0.5)


def attribute_kind(series: pd.Series, role: str, name: str | None = None) -> str:
    """How a column is described: one of :data:`KINDS`.

    The role decides for identifiers, emails, free text and multi-valued columns; otherwise
    the dtype does, except that numbers with a categorical role (postal codes) stay
    categorical and 0/1 numbers with a boolean role are booleans. Columns that identify
    people whatever their role (see :func:`is_identifier`: emails, phones) are identifiers.
    """
    dtype = series.dtype
    if is_identifier(series, role, name):
        return "identifier"
    if role == "text":
        return "text"
    if role == "multi":
        return "multi"
    if pd.api.types.is_bool_dtype(dtype):
        return "boolean"
    if role == "boolean" and pd.api.types.is_numeric_dtype(dtype):
        return "boolean"
    if pd.api.types.is_datetime64_any_dtype(dtype):
        return "date"
    if pd.api.types.is_numeric_dtype(dtype) and not isinstance(dtype, pd.CategoricalDtype):
        return "categorical" if role in ("categorical", "consent") else "numeric"
    return "categorical"


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


def as_python(value: Any) -> Any:
    """A label or statistic as a plain Python value (for rule text and tables)."""
    if isinstance(value, np.generic):
        return value.item()
    return value


def to_timestamp(nanoseconds: float) -> pd.Timestamp:
    """Nanoseconds since the epoch (possibly fractional) as a Timestamp (NaT for NaN),
    rounded to the microsecond, the precision of Python's datetime (and of charts)."""
    if nanoseconds is None or (isinstance(nanoseconds, float) and math.isnan(nanoseconds)):
        return pd.NaT
    return pd.Timestamp(int(round(nanoseconds / 1000)) * 1000)


def mask_array(mask: Any, index: pd.Index, parameter: str = "mask") -> np.ndarray:
    """A boolean NumPy array over ``index`` from a Series (aligned on the index) or array."""
    if isinstance(mask, pd.Series):
        if not mask.index.equals(index):
            missing = index.difference(mask.index)
            if len(missing):
                raise ValueError(
                    f"Value of {parameter!r} must be a boolean Series over the contacts' index; "
                    f"{len(missing):,} contacts (e.g. {missing[0]!r}) are not in it")
            mask = mask.reindex(index)
        if not (pd.api.types.is_bool_dtype(mask.dtype) or mask.isna().all()):
            raise TypeError(f"Value of {parameter!r} must hold booleans but received dtype "
                            f"{mask.dtype}")
        return mask.to_numpy(dtype=bool, na_value=False)
    array = np.asarray(mask)
    if array.dtype != bool or array.shape != (len(index),):
        raise ValueError(
            f"Value of {parameter!r} must be a boolean Series or array of length {len(index):,} "
            f"but received: {array.dtype} array of shape {array.shape}")
    return array


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
        from segexplore.display.html import profile_report  # lazily: the core stays headless

        return profile_report(self, path)

    def _repr_html_(self) -> str:
        from segexplore.display.html import profile_html  # lazily: the core stays headless

        return profile_html(self)

    def __repr__(self) -> str:
        return (f"Profile({self.name!r}: {self.n_rows:,} contacts, {len(self.summary)} "
                f"attributes, {len(self.suggestions)} suggested rules)")


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
        need the numbers and not the people (see :func:`segexplore.delivery.privacy.mask_pii`).

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
        raise ValueError(f"Value of 'bins' must be a whole number >= 1 but received: {bins!r}")
    if not isinstance(top, (int, np.integer)) or isinstance(top, bool) or top < 1:
        raise ValueError(f"Value of 'top' must be a whole number >= 1 but received: {top!r}")
    table = attribute_table(base_or_frame, include_features=include_features)
    # kinds from the real values: masked emails no longer look like emails
    kinds = {column: attribute_kind(series, table.roles.get(column, "text"), column)
             for column, series in table.columns.items()}
    if mask_pii:
        from segexplore.delivery.privacy import PII_COLUMNS
        from segexplore.delivery.privacy import mask_pii as pseudonymise

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
        builder.add(column, role, kinds[column], series, rows,
                    table.separators.get(column, MULTI_VALUE_SEPARATOR))
    return builder.build(name if name is not None else "base")


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

    def add(self, column: str, role: str, kind: str, series: pd.Series,
            rows: np.ndarray | None, separator: str) -> None:
        """Profile ``series`` (only the contacts at positions ``rows`` when given)."""
        codes = None
        if kind == "text":
            codes, labels = categorical_codes(series)  # once: the check and the counts
            if _nearly_unique(codes):
                kind = "identifier"  # a reference or free comments: each value is one contact's
        row: dict[str, Any] = {"attribute": column, "role": role, "kind": kind,
                               "dtype": str(series.dtype)}
        if kind in ("numeric", "date"):
            self._numbers(row, series, rows)
        elif kind == "multi":
            self._multi(row, *_codes(series, rows), separator)
        elif kind == "identifier":
            values = series if rows is None else series.iloc[rows]
            missing = int(values.isna().sum())
            row.update(count=len(values) - missing, missing=missing,
                       distinct=int(values.nunique(dropna=True)))
        elif codes is not None:
            self._categories(row, codes if rows is None else codes[rows], labels, kind)
        else:
            self._categories(row, *_codes(series, rows), kind)
        row["missing_share"] = self.share(row["missing"])
        self.summary.append(row)

    # categorical, boolean, text: counts of codes
    def _categories(self, row: dict[str, Any], codes: np.ndarray, labels: np.ndarray,
                    kind: str) -> None:
        counts = np.bincount(codes + 1, minlength=len(labels) + 1)
        missing, counts = int(counts[0]), counts[1:]
        row.update(count=len(codes) - missing, missing=missing,
                   distinct=int(np.count_nonzero(counts)))
        # most frequent first; ties keep the category (or first-seen) order
        order = np.argsort(-counts, kind="stable")
        order = order[counts[order] > 0]
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

    # numbers and dates: sort once, read everything off the sorted values
    def _numbers(self, row: dict[str, Any], series: pd.Series, rows: np.ndarray | None
                 ) -> None:
        raw, known, is_date = numeric_values(series)
        if rows is not None:
            raw, known = raw[rows], known[rows]
        present = np.sort(raw[known])
        n = len(present)
        row.update(count=n, missing=len(raw) - n)
        if n == 0:
            row["distinct"] = 0
            return
        starts = np.flatnonzero(np.r_[True, present[1:] != present[:-1]])
        run_counts = np.diff(np.r_[starts, n])
        row["distinct"] = len(starts)
        column = row["attribute"]
        convert = to_timestamp if is_date else float
        if is_date:
            offset = int(present[0])
            shifted = (present - offset).astype(np.float64)
            row["mean"] = to_timestamp(offset + shifted.mean())
            row["std"] = (pd.Timedelta(microseconds=round(shifted.std(ddof=1) / 1000))
                          if n > 1 else pd.NaT)
            quantiles = offset + sorted_quantiles(shifted, QUANTILES)
        else:
            floats = present.astype(np.float64, copy=False)
            row["mean"] = float(floats.mean())
            row["std"] = float(floats.std(ddof=1)) if n > 1 else math.nan
            quantiles = sorted_quantiles(floats, QUANTILES)
        row["min"], row["max"] = convert(present[0]), convert(present[-1])
        for q, value in zip(QUANTILES, quantiles, strict=True):
            row[f"p{round(q * 100)}"] = convert(value)
        if len(starts) <= DISCRETE_MAX_DISTINCT:
            order = np.argsort(-run_counts, kind="stable")
            for position in order[:self.top]:
                value = present[starts[position]]
                self.top_values.append((column, convert(value) if is_date else as_python(value),
                                        int(run_counts[position]),
                                        self.share(int(run_counts[position]))))
            best = order[0]
            top_value = present[starts[best]]
            row.update(top=convert(top_value) if is_date else as_python(top_value),
                       top_count=int(run_counts[best]),
                       top_share=self.share(int(run_counts[best])))
        self._histogram(column, present, is_date, series.dtype)
        self._quantile_rules(column, present, quantiles, is_date, series.dtype)

    def _histogram(self, column: str, present: np.ndarray, is_date: bool, dtype: Any) -> None:
        finite = present if is_date or present.dtype.kind == "i" else \
            present[np.isfinite(present)]
        if not len(finite):
            return
        low, high = finite[0], finite[-1]
        integer = pd.api.types.is_integer_dtype(dtype) and not is_date
        if integer and high - low + 1 <= self.bins:
            edges = np.arange(low, high + 2, dtype=np.float64) - 0.5  # one bin per value
        elif low == high:
            edges = np.array([low - 0.5, high + 0.5], dtype=np.float64)
        else:
            edges = np.linspace(float(low), float(high), self.bins + 1)
        # sorted values: a bin count is the gap between two binary searches
        cuts = np.searchsorted(finite, edges[1:-1].astype(finite.dtype) if is_date
                               else edges[1:-1], side="left")
        counts = np.diff(np.r_[0, cuts, len(finite)])
        convert = to_timestamp if is_date else float
        for left, right, count in zip(edges[:-1], edges[1:], counts, strict=True):
            self.histograms.append((column, convert(left), convert(right), int(count)))

    def _quantile_rules(self, column: str, present: np.ndarray, quantiles: np.ndarray,
                        is_date: bool, dtype: Any) -> None:
        """Cut points worth pasting: the top 25% and 5%, the bottom 25%, or 'more than the
        usual value' when most contacts share the lowest value (counts, revenue)."""
        n = len(present)
        integer = pd.api.types.is_integer_dtype(dtype) and not is_date
        p25, p75, p95 = quantiles[1], quantiles[3], quantiles[4]
        lowest = present[0]
        if np.searchsorted(present, lowest, side="right") >= n / 2:
            candidates: list[tuple[str, float]] = [(">", lowest), (">=", p75), (">=", p95)]
        else:
            candidates = [(">=", p75), (">=", p95), ("<=", p25)]
        seen: set[int] = set()  # two rules selecting as many contacts are the same rule here
        for op, cut in candidates:
            node, selected = _cut_rule(column, op, cut, present, is_date, integer)
            if node is not None and 0.01 <= selected / n <= 0.99 and selected not in seen:
                seen.add(selected)
                self.suggestions.append((column, "quantile", str(node), self.share(selected)))

    # multi-valued: count contacts per tag from the distinct joined values only
    def _multi(self, row: dict[str, Any], codes: np.ndarray, labels: np.ndarray,
               separator: str) -> None:
        counts = np.bincount(codes + 1, minlength=len(labels) + 1)
        missing, counts = int(counts[0]), counts[1:]
        tag_counts: dict[str, int] = {}
        for label, count in zip(labels, counts, strict=True):
            if count == 0 or label is None or (isinstance(label, float) and math.isnan(label)):
                continue
            # tags ignore case, as the rule `interests has "sport"` does
            for tag in {t.strip().lower() for t in str(label).split(separator)} - {""}:
                tag_counts[tag] = tag_counts.get(tag, 0) + int(count)
        ranked = sorted(tag_counts.items(), key=lambda item: (-item[1], item[0]))
        column = row["attribute"]
        for tag, count in ranked[:self.top]:
            self.tags.append((column, tag, count, self.share(count)))
        row.update(count=len(codes) - missing, missing=missing, distinct=len(ranked))
        if ranked:
            row.update(top=ranked[0][0], top_count=ranked[0][1],
                       top_share=self.share(ranked[0][1]))

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


def _nearly_unique(codes: np.ndarray) -> bool:
    """At least :data:`UNIQUE_TEXT_MIN_COUNT` known values, nearly all distinct, in the
    whole column's ``codes`` (a segment's profile describes the column as the base's does)."""
    known = codes[codes >= 0]
    if len(known) < UNIQUE_TEXT_MIN_COUNT:
        return False
    return np.count_nonzero(np.bincount(known)) >= UNIQUE_TEXT_SHARE * len(known)


def _codes(series: pd.Series, rows: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """Category codes and labels of a column, restricted to positions ``rows``."""
    codes, labels = categorical_codes(series)
    return (codes if rows is None else codes[rows]), labels


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


def _cut_rule(column: str, op: str, cut: float, present: np.ndarray, is_date: bool,
              integer: bool) -> tuple[R.Rule | None, int]:
    """The rule ``column op cut`` with a readable cut and how many known values it selects."""
    if is_date:
        day = to_timestamp(cut).normalize()
        if op in (">", ">="):
            # 'after' is strict: values from the next midnight on
            node = R.DateCompare(column, "after", day.date())
            selected = len(present) - np.searchsorted(present, (day + pd.Timedelta(days=1)).value,
                                                      side="left")
        else:
            node = R.DateCompare(column, "before", (day + pd.Timedelta(days=1)).date())
            selected = np.searchsorted(present, (day + pd.Timedelta(days=1)).value, side="left")
        return node, int(selected)
    if not math.isfinite(cut):
        return None, 0
    if integer:
        value: float | int = int(math.ceil(cut)) if op == ">=" else int(math.floor(cut))
    else:
        value = _round_cut(float(cut))
    if op == ">=":
        selected = len(present) - np.searchsorted(present, value, side="left")
    elif op == ">":
        selected = len(present) - np.searchsorted(present, value, side="right")
    else:
        selected = np.searchsorted(present, value, side="right")
    return R.Compare(column, op, value), int(selected)


def _round_cut(value: float) -> float | int:
    """Two decimals (amounts), or three significant digits for small numbers."""
    if value == 0 or abs(value) >= 1:
        rounded = round(value, 2)
    else:
        rounded = round(value, 2 - int(math.floor(math.log10(abs(value)))))
    return int(rounded) if float(rounded).is_integer() else float(rounded)
