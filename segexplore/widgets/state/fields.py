"""What the segment builder can offer for each field: kinds, operators, values and bounds.

Plain functions over a :class:`~segexplore.ContactBase`, without any widget, so they are
tested directly. The builder (:mod:`segexplore.widgets.builder`) turns their answers into
dropdowns, multi-selects and sliders. On a base held in DuckDB
(:class:`~segexplore.engines.duckdb.DuckDBBase`) each function asks
:mod:`segexplore.widgets.state.duckdb_fields` instead, which answers by a query whose result
is small (``GROUP BY ... LIMIT``, ``min``/``max``): the contacts never come into pandas.

A *field option* is one entry of the builder's field dropdown: a contact attribute
(``city``), a behaviour feature (``purchases_30d``), an event type (``purchase``, for
``count(purchase, ...)`` conditions) or a saved segment (for ``segment("name")``). Its
*kind* decides which operators fit and which value widget is shown.

Examples
--------
>>> operators_for("numeric")[:3]
('>=', '<=', 'between')
>>> choice_label("Lyon", 1234)
'Lyon (1,234)'
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from segexplore.analysis.attributes import is_identifier
from segexplore.errors import ParameterError, SchemaError, closest_name
from segexplore.features.registry import FEATURES
from segexplore.features.registry import feature_kind as registry_feature_kind
from segexplore.model.columns import EVENT_TYPE
from segexplore.model.roles import value_kind
from segexplore.rules.hints import value_hints
from segexplore.widgets.state.engine_fields import fields_of, is_duckdb

if TYPE_CHECKING:
    from segexplore.model.base import ContactBase

__all__ = [
    "FieldOption", "KINDS", "OPERATORS", "NO_VALUE_OPERATORS", "EVENT_OPERATORS",
    "EVENT_FILTER_PROPERTIES", "field_options", "flat_options", "find_option",
    "operators_for", "field_kind", "field_values", "value_choices", "choice_label",
    "numeric_bounds", "event_property_choices", "pii_columns", "feature_kind",
    "event_types", "contact_count", "contact_columns", "latest_activity", "rule_hints",
]

#: Kind of each column role; ``id`` columns are not offered as conditions.
_ROLE_KINDS = {"categorical": "categorical", "consent": "categorical", "numeric": "numeric",
               "date": "date", "multi": "multi", "boolean": "boolean", "email": "text",
               "text": "text"}

#: Every kind a field option can have.
KINDS = ("categorical", "text", "numeric", "date", "multi", "boolean", "event", "segment")

#: Operators of the event rows: ``count(event, ...) <op> N``.
EVENT_OPERATORS = ("count >=", "count <=", "count =", "count >", "count <", "count !=")

#: The operators that fit each kind, the most useful first (the first is the default).
OPERATORS: dict[str, tuple[str, ...]] = {
    "categorical": ("in", "not in", "=", "!=", "contains", "starts with",
                    "ends with", "is missing", "is not missing"),
    "text": ("contains", "starts with", "ends with", "=", "!=", "in", "not in",
             "is missing", "is not missing"),
    "numeric": (">=", "<=", "between", "=", "!=", ">", "<", "in top %", "is missing",
                "is not missing"),
    "date": ("within last", "more than ago", "before", "after", "between",
             "anniversary within next", "is missing", "is not missing"),
    "multi": ("has any", "has all", "has none", "is missing", "is not missing"),
    "boolean": ("is true", "is false", "is missing", "is not missing"),
    "event": EVENT_OPERATORS,
    "segment": ("in segment",),
}

#: Operators that take no value.
NO_VALUE_OPERATORS = frozenset({"is missing", "is not missing", "is true", "is false",
                                "in segment"})

#: Event properties offered as the optional filter of an event row.
EVENT_FILTER_PROPERTIES = ("brand", "category")

#: Column names treated as personal data when ``mask_pii`` is on (besides email/text roles).
_PII_NAMES = frozenset({"email", "email_original", "first_name", "last_name", "phone",
                        "mobile", "address", "street", "name", "full_name"})

#: How each kind is named in the field dropdown.
_KIND_WORDS = {"categorical": "category", "text": "text", "numeric": "number", "date": "date",
               "multi": "tags", "boolean": "yes/no", "event": "event count",
               "segment": "saved segment"}

_GROUPS = {"attributes": "Attribute", "features": "Feature", "events": "Event",
           "segments": "Segment"}


@dataclass(frozen=True)
class FieldOption:
    """One entry of the field dropdown.

    Parameters
    ----------
    key : str
        The dropdown value: the column name for attributes and features,
        ``"event:<type>"`` for event types, ``"segment:<name>"`` for saved segments.
    name : str
        The column, event type or segment name as written in rules.
    kind : str
        One of :data:`KINDS`.
    group : str
        ``"Attribute"``, ``"Feature"``, ``"Event"`` or ``"Segment"``.
    """

    key: str
    name: str
    kind: str
    group: str

    @property
    def label(self) -> str:
        """The text shown in the dropdown: the name, then what it is.

        ``"city (category)"``, ``"purchases_30d (feature, number)"``,
        ``"purchase (event count)"``, ``"VIP (saved segment)"``.
        """
        word = _KIND_WORDS.get(self.kind, self.kind)
        if self.group == "Feature":
            return f"{self.name} (feature, {word})"
        if self.group in ("Attribute", "Event", "Segment"):
            return f"{self.name} ({word})"
        if self.group == "Advanced":
            return self.name
        return f"{self.name} ({self.group.lower()})"


_VALUE_KINDS = {"bool": "boolean", "datetime": "date", "number": "numeric"}


def _dtype_kind(series: pd.Series) -> str:
    return _VALUE_KINDS.get(value_kind(series.dtype), "categorical")


def contact_count(base: ContactBase) -> int:
    """Number of contacts of a base, whichever engine holds it."""
    return fields_of(base).n_contacts if is_duckdb(base) else len(base.contacts)


def latest_activity(base: ContactBase) -> pd.Timestamp | None:
    """The latest event or order time of a base held in pandas (how fresh its data is);
    None when it has no activity, or when its tables stay in an engine: there the
    maximum is a scan of every event (seconds on a large base), too slow for a header.

    Examples
    --------
    >>> import segexplore as se
    >>> latest_activity(se.load_sample())
    Timestamp('2026-10-30 23:57:48')
    """
    if is_duckdb(base):
        return None
    latest = [table["timestamp"].max() for table in (base.events, base.orders)
              if table is not None and len(table)]
    latest = [stamp for stamp in latest if pd.notna(stamp)]
    return pd.Timestamp(max(latest)) if latest else None


def contact_columns(base: ContactBase) -> list[str]:
    """The contact columns of a base, in order, whichever engine holds it."""
    return list(base.contact_columns) if is_duckdb(base) else list(base.contacts.columns)


def _attribute_kinds(base: ContactBase) -> dict[str, str | None]:
    """Each contact column's field kind (None: not offered, such as ``id`` columns)."""
    if is_duckdb(base):
        return {column: _ROLE_KINDS.get(info.role) if info.role else _dtype_kind(info.sample)
                for column, info in fields_of(base).columns().items()}
    return {column: (_ROLE_KINDS.get(base.roles.roles[column])
                     if base.roles.roles.get(column) else _dtype_kind(base.contacts[column]))
            for column in base.contacts.columns}


def field_options(base: ContactBase) -> dict[str, list[FieldOption]]:
    """The fields a rule row can use, grouped: attributes, features, events, segments.

    Parameters
    ----------
    base : ContactBase

    Returns
    -------
    dict
        ``{"attributes": [...], "features": [...], "events": [...], "segments": [...]}``,
        each a list of :class:`FieldOption`. Attributes keep the contacts' column order
        (``id`` columns left out) and take their kind from ``base.roles``; features follow
        :data:`segexplore.features.registry.FEATURES` with their kind (:func:`feature_kind`:
        listing them does not compute them); events are the event types of the base
        (:func:`event_types`), sorted; segments are ``base.segments`` in saving order.
    """
    kinds = _attribute_kinds(base)
    attributes = [FieldOption(column, column, kind, _GROUPS["attributes"])
                  for column, kind in kinds.items() if kind is not None]
    features = [FieldOption(name, name, feature_kind(base, name), _GROUPS["features"])
                for name in FEATURES if name not in kinds]
    events = [FieldOption(f"event:{name}", name, "event", _GROUPS["events"])
              for name in event_types(base)]
    segments = [FieldOption(f"segment:{name}", name, "segment", _GROUPS["segments"])
                for name in base.segments]
    return {"attributes": attributes, "features": features, "events": events,
            "segments": segments}


#: The widgets' name for each kind the feature registry declares
#: (:func:`segexplore.features.registry.feature_kind`): the field list knows a feature's
#: kind without computing the features.
_REGISTRY_KINDS = {"datetime": "date", "category": "categorical", "bool": "boolean",
                   "number": "numeric"}


def feature_kind(base: ContactBase, name: str) -> str:
    """The kind of a behaviour feature, without computing the features.

    From the computed column's dtype once ``base.features`` exists, else from the kind
    the feature registry declares.
    """
    computed = getattr(base, "_features", None)
    if computed is not None and name in computed.columns:
        return _dtype_kind(computed[name])
    return _REGISTRY_KINDS[registry_feature_kind(name)]


def event_types(base: ContactBase) -> list[str]:
    """The event types of a base, sorted, without building its activity index.

    Once ``base.activity`` exists, its event types (those with a usable event); before,
    the types found in the events table, and ``purchase`` when orders stand for the
    purchases (building the index of a large base takes a while, and listing the fields
    should not wait for it).
    """
    if is_duckdb(base):
        return fields_of(base).event_types()
    built = base.derived("activity")
    if built is not None:
        return sorted(built.event_types)
    names: set[str] = set()
    events = base.events
    if events is not None and len(events) and EVENT_TYPE in events.columns:
        column = events[EVENT_TYPE]
        if isinstance(column.dtype, pd.CategoricalDtype):
            codes, categories = column.cat.codes.to_numpy(), column.cat.categories
            if len(categories) <= 32:  # a few comparisons beat hashing every event
                present = [code for code in range(len(categories)) if (codes == code).any()]
            else:
                present = [code for code in pd.unique(codes) if code >= 0]
            names.update(str(categories[code]) for code in present)
        else:
            names.update(str(v) for v in column.dropna().unique())
    orders = base.orders
    if "purchase" not in names and orders is not None and len(orders):
        names.add("purchase")
    return sorted(names)


def flat_options(groups: Mapping[str, list[FieldOption]]) -> list[FieldOption]:
    """All options of :func:`field_options` in dropdown order."""
    return [option for options in groups.values() for option in options]


def find_option(options: Iterable[FieldOption], key: str) -> FieldOption | None:
    """The option whose key is ``key`` (or, failing that, whose name is), or None."""
    options = list(options)
    for option in options:
        if option.key == key:
            return option
    for option in options:
        if option.name == key and option.group in ("Attribute", "Feature"):
            return option
    return None


def operators_for(kind: str) -> tuple[str, ...]:
    """The operators that fit a field kind, the default first.

    Examples
    --------
    >>> operators_for("multi")
    ('has any', 'has all', 'has none', 'is missing', 'is not missing')
    >>> operators_for("event")[0]
    'count >='
    """
    try:
        return OPERATORS[kind]
    except KeyError:
        raise ParameterError(f"unknown field kind {kind!r}; known kinds: {', '.join(KINDS)}") \
            from None


def field_kind(base: ContactBase, key: str) -> str:
    """The kind of a field key (see :class:`FieldOption`); ParameterError if unknown."""
    options = flat_options(field_options(base))
    option = find_option(options, key)
    if option is None:
        guess = closest_name(str(key), [o.key for o in options])
        hint = f"; did you mean {guess!r}?" if guess else ""
        raise ParameterError(f"unknown field {key!r}{hint}")
    return option.kind


def field_values(base: ContactBase, name: str) -> pd.Series:
    """The values of a contact column or behaviour feature, one per contact (a pandas
    base: a DuckDB base's are counted in DuckDB, see :mod:`.duckdb_fields`)."""
    if is_duckdb(base):
        raise ParameterError(f"the values of {name!r} stay in DuckDB on this base: count "
                             "them with value_choices() or a segment's profile()")
    if name in base.contacts.columns:
        return base.contacts[name]
    if name in base.features.columns:
        return base.features[name]
    guess = closest_name(name, [*base.contacts.columns, *base.features.columns])
    hint = f"; did you mean {guess!r}?" if guess else ""
    raise SchemaError(f"no contact column or feature named {name!r}{hint}")


def rule_hints(rule: Any, base: ContactBase) -> list[str]:
    """Did-you-mean messages for the values of ``rule`` that match nobody (see
    :func:`segexplore.rules.hints.value_hints`), on either engine."""
    if is_duckdb(base):
        return fields_of(base).hints(rule)
    return value_hints(rule, base)


def _split_multi(series: pd.Series, separator: str) -> pd.Series:
    """One row per (contact, value) of a multi-valued column; contact index kept."""
    text = series.dropna().astype(str)
    return text.str.split(separator, regex=False).explode().str.strip().loc[lambda s: s != ""]


def value_choices(base: ContactBase, name: str, *, mask: Any = None,
                  limit: int = 1000) -> list[tuple[Any, int]]:
    """The values of a field with their number of contacts, most frequent first.

    Parameters
    ----------
    base : ContactBase
    name : str
        Contact column or feature. Multi-valued columns (role ``multi``) are split, so
        ``"sport|outdoor"`` counts once for ``sport`` and once for ``outdoor``.
    mask : boolean array-like, optional
        Count only these contacts.
    limit : int
        Keep at most this many values.

    Returns
    -------
    list of (value, count)
        Missing values left out; ties sorted by value text.
    """
    if is_duckdb(base):
        if mask is not None:
            raise ParameterError("value_choices(mask=...) counts a pandas base's contacts; "
                                 "a DuckDB base's values are counted over the whole base")
        return fields_of(base).value_choices(name, limit)
    series = field_values(base, name)
    if mask is not None:
        series = series[np.asarray(mask, dtype=bool)]
    if base.roles.roles.get(name) == "multi":
        separator = base.roles.separators.get(name, "|")
        series = _split_multi(series, separator)
    counts = series.value_counts(dropna=True, sort=False)
    counts = counts[counts > 0]
    pairs = [(_plain(value), int(count)) for value, count in counts.items()]
    pairs.sort(key=lambda pair: (-pair[1], str(pair[0])))
    return pairs[:limit]


def _plain(value: Any) -> Any:
    """numpy/pandas scalars as Python values (so rules and widgets accept them)."""
    if isinstance(value, pd.Timestamp):
        return value.to_pydatetime()
    if isinstance(value, np.generic):
        return value.item()
    return value


def choice_label(value: Any, count: int) -> str:
    """The option label of a value: ``"Lyon (1,234)"``."""
    return f"{value} ({count:,})"


def numeric_bounds(base: ContactBase, name: str) -> tuple[float, float, bool]:
    """``(minimum, maximum, integer)`` of a numeric field; ``(0, 0, True)`` when all missing.

    ``integer`` is true when the dtype is an integer type, so a slider can step by 1.
    """
    if is_duckdb(base):
        return fields_of(base).bounds(name)
    series = field_values(base, name)
    integer = pd.api.types.is_integer_dtype(series.dtype)
    values = pd.to_numeric(series, errors="coerce").dropna()
    if values.empty:
        return 0, 0, True
    low, high = _plain(values.min()), _plain(values.max())
    if integer:
        return int(low), int(high), True
    return float(low), float(high), False


def event_property_choices(base: ContactBase, event_type: str, prop: str, *,
                           limit: int = 200) -> list[tuple[Any, int]]:
    """Values of an event property (``brand``...) among events of one type, with counts.

    Empty when the base has no such events or property.
    """
    if is_duckdb(base):
        return fields_of(base).event_choices(event_type, prop, limit)
    activity = base.activity
    if event_type not in activity.event_types or prop not in activity.property_names(event_type):
        return []
    values = activity.property(event_type, prop)
    counts = values.value_counts(dropna=True, sort=False)
    counts = counts[counts > 0]
    pairs = [(_plain(value), int(count)) for value, count in counts.items()]
    pairs.sort(key=lambda pair: (-pair[1], str(pair[0])))
    return pairs[:limit]


def pii_columns(base: ContactBase) -> frozenset[str]:
    """Contact columns holding personal data: email and free-text roles, names, phones,
    addresses, and every column that identifies people whatever its role or name (emails
    in a "referrer" column, a numeric ``Téléphone``: see
    :func:`segexplore.analysis.profile.is_identifier`).

    With ``mask_pii`` the builder never lists their values (it offers a text box instead),
    tables leave them out and the stakeholder report masks the values rules compare them to.
    """
    if is_duckdb(base):
        return fields_of(base).personal(_PII_NAMES)
    roles = base.roles.roles
    contacts = base.contacts
    return frozenset(column for column in contacts.columns
                     if roles.get(column) in ("email", "text") or column in _PII_NAMES
                     or is_identifier(contacts[column], roles.get(column, "text"), column))
