"""Column roles: what each contact column holds, inferred from its values and name.

A column's *role* says how segexplore treats it: ``id``, ``email``, ``consent``, ``date``,
``categorical``, ``numeric``, ``boolean``, ``multi`` (multi-valued, e.g. interests) or
``text``. Roles are inferred and can be overridden by the analyst, like every other guess
the loader makes. :func:`value_kind` says how a column's values compare in rules.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from segexplore.errors import SchemaError
from segexplore.model.columns import MULTI_VALUE_SEPARATOR, normalise_name

__all__ = ["ROLES", "Roles", "infer_roles", "value_kind", "looks_categorical", "is_text"]


ROLES = ("id", "email", "consent", "date", "categorical", "numeric", "boolean", "multi", "text")


_FIXED_ROLES = {
    "contact_id": "id", "order_id": "id", "email": "email", "consent": "consent",
    "interests": "multi", "birth_date": "date", "signup_date": "date", "consent_date": "date",
    "timestamp": "date", "postal_code": "categorical", "amount": "numeric", "items": "numeric",
    "first_name": "text", "last_name": "text",
}


_DATE_NAME = re.compile(r"(^|_)(date|dt|at|time|timestamp|jour|naissance)($|_)")


@dataclass(frozen=True)
class Roles:
    """The role of every column of a table, and the separator of multi-valued columns.

    Examples
    --------
    >>> roles = Roles({"email": "email", "interests": "multi"}, {"interests": "|"})
    >>> roles.columns("multi")
    ['interests']
    """

    roles: Mapping[str, str]
    separators: Mapping[str, str] = field(default_factory=dict)

    def __getitem__(self, column: str) -> str:
        return self.roles[column]

    def columns(self, role: str) -> list[str]:
        """Names of the columns that have ``role``."""
        return [name for name, r in self.roles.items() if r == role]

    def to_frame(self) -> pd.DataFrame:
        """One row per column: ``column, role, separator``."""
        return pd.DataFrame(
            {"column": list(self.roles), "role": list(self.roles.values()),
             "separator": [self.separators.get(c) for c in self.roles]}
        )


def value_kind(dtype) -> str:
    """How values of ``dtype`` compare in rules: ``category``, ``bool``, ``datetime``,
    ``number`` or ``text`` (the one place the evaluator, the SQL compiler and the widgets
    learn what a column holds).

    Examples
    --------
    >>> value_kind(pd.Series(["a"], dtype="category").dtype), value_kind(np.dtype("int64"))
    ('category', 'number')
    """
    if isinstance(dtype, pd.CategoricalDtype):
        return "category"
    if pd.api.types.is_bool_dtype(dtype):
        return "bool"
    if pd.api.types.is_datetime64_any_dtype(dtype):
        return "datetime"
    if pd.api.types.is_numeric_dtype(dtype):
        return "number"
    return "text"


def infer_roles(
    frame: pd.DataFrame, overrides: Mapping[str, str] | None = None,
    separators: Mapping[str, str] | None = None,
) -> Roles:
    """Infer the role of every column of a (canonically named) table.

    Canonical columns have fixed roles; other columns are ``numeric``, ``boolean``,
    ``date`` (datetime dtype, or a date-like name), ``multi`` (text holding several
    ``|``-separated values), ``categorical`` (text with few distinct values) or ``text``.
    """
    overrides = dict(overrides or {})
    bad = {c: r for c, r in overrides.items() if r not in ROLES}
    if bad:
        column, role = next(iter(bad.items()))
        raise SchemaError(
            f"The role {role!r} given for column {column!r} is not a role; roles are {list(ROLES)}."
        )
    roles: dict[str, str] = {}
    seps: dict[str, str] = dict(separators or {})
    for column in frame.columns:
        name = str(column)
        if name in overrides:
            roles[name] = overrides[name]
        elif name in _FIXED_ROLES:
            roles[name] = _FIXED_ROLES[name]
        else:
            roles[name] = _infer_one(frame[column], name)
        if roles[name] == "multi":
            seps.setdefault(name, MULTI_VALUE_SEPARATOR)
    return Roles(roles, seps)


def _infer_one(values: pd.Series, name: str) -> str:
    dtype = values.dtype
    if pd.api.types.is_bool_dtype(dtype):
        return "boolean"
    if pd.api.types.is_datetime64_any_dtype(dtype):
        return "date"
    if pd.api.types.is_numeric_dtype(dtype):
        non_missing = values.dropna()
        if len(non_missing) and non_missing.isin([0, 1]).all() and non_missing.nunique() == 2:
            return "boolean"
        return "numeric"
    if _DATE_NAME.search(normalise_name(name)):
        return "date"
    # Sample before dropping missing values: a role is inferred from 20,000 rows at most.
    sample = values.sample(20_000, random_state=0) if len(values) > 20_000 else values
    sample = sample.dropna()
    if len(sample) > 5000:
        sample = sample.sample(5000, random_state=0)
    if len(sample) == 0:
        return "text"
    text = sample.astype("string")
    if text.str.contains(MULTI_VALUE_SEPARATOR, regex=False).mean() > 0.2:
        return "multi"
    distinct = text.nunique()
    if distinct <= max(20, int(0.5 * len(text))) and distinct <= 10_000:
        return "categorical"
    return "text"


def looks_categorical(values: pd.Series, max_share: float = 0.5, max_distinct: int = 50_000) -> bool:
    """Whether text values repeat enough for ``category`` dtype to pay off."""
    n = len(values)
    if n == 0:
        return False
    distinct = values.nunique(dropna=True)
    return bool(distinct <= max_distinct and distinct <= max(20, max_share * n))


def is_text(values: pd.Series) -> bool:
    """True for object or string dtype columns (not categoricals)."""
    return pd.api.types.is_string_dtype(values.dtype) and not isinstance(
        values.dtype, pd.CategoricalDtype
    ) or values.dtype == np.dtype(object)
