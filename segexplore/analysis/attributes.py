"""The attributes an analysis reads: contact columns then behaviour features, and what kind
each one is (categorical, numeric, date, multi-valued, text, or an identifier that no analysis
quotes). :func:`profile` and :func:`compare` both start here."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from segexplore.errors import ParameterError, ParameterTypeError
from segexplore.model.base import ContactBase
from segexplore.model.columns import normalise_name
from segexplore.model.pii import EMAIL_SHAPE
from segexplore.model.roles import infer_roles
from segexplore.model.segments import Segment

__all__ = ["KINDS", "AttributeTable", "attribute_table", "attribute_kind", "is_identifier",
           "mask_array", "as_python", "to_timestamp"]

#: How an attribute is described, whatever its role: see :func:`attribute_kind`.
KINDS = ("categorical", "boolean", "numeric", "date", "multi", "text", "identifier")
#: Values read to tell what a column holds (emails, phone numbers): enough, and cheap on 1M.
_CONTENT_SAMPLE = 2000
#: Normalised column names of phone numbers (``Téléphone``, ``N° de tel``, ``mobile_phone``,
#: ``Portable``); their values are checked too, so ``phone_verified`` flags stay flags.
_PHONE_NAME = re.compile(r"phone|(^|_)(tel|telephone|msisdn|fax|gsm)(_|$)"
                         r"|^(mobile|portable|cell|mobile_number|numero_portable)$")


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
    raise ParameterTypeError(
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
        The column's role (see :mod:`segexplore.model.roles`).
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
                raise ParameterError(
                    f"Value of {parameter!r} must be a boolean Series over the contacts' index; "
                    f"{len(missing):,} contacts (e.g. {missing[0]!r}) are not in it")
            mask = mask.reindex(index)
        if not (pd.api.types.is_bool_dtype(mask.dtype) or mask.isna().all()):
            raise ParameterTypeError(f"Value of {parameter!r} must hold booleans but received "
                                     f"dtype {mask.dtype}")
        return mask.to_numpy(dtype=bool, na_value=False)
    array = np.asarray(mask)
    if array.dtype != bool or array.shape != (len(index),):
        raise ParameterError(
            f"Value of {parameter!r} must be a boolean Series or array of length {len(index):,} "
            f"but received: {array.dtype} array of shape {array.shape}")
    return array
