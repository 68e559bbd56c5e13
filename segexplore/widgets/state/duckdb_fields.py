"""What the explorer's widgets ask of a DuckDB base, answered by small queries.

The widgets ask a base for its fields (columns, their roles and pandas dtypes), a field's
values with their counts, a number's range, the values of an event property, which
columns hold personal data, did-you-mean hints for a rule's values, a segment's size and
the counts of a few attributes inside a segment. On a pandas
:class:`~segexplore.model.base.ContactBase` they are read off the frames
(:mod:`segexplore.widgets.state.fields`, :mod:`segexplore.widgets.state.distribution`); on
a :class:`~segexplore.engines.duckdb.DuckDBBase` :class:`DuckDBFields` answers each with a
query whose result is small (``GROUP BY ... LIMIT``, ``min``/``max``, ``count(*)``,
``GROUPING SETS``), so that no contact row reaches Python whatever the base's size.

The columns are described as :class:`~segexplore.engines.duckdb_counts.DuckDBCounts`
describes them for the profile and the comparison (the same roles and dtypes, so the
explorer's field kinds and the profile agree), by :class:`_Described`, which leaves
out the behaviour features until one is asked for.

Examples
--------
>>> import segexplore as se
>>> big = se.read_base(se.sample_path() / "contacts.parquet", engine="duckdb")
>>> fields = DuckDBFields(big)
>>> fields.columns()["city"].role
'categorical'
>>> dict(fields.value_choices("device"))["iOS"] == big.count('device = "iOS"')
True
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np
import pandas as pd

from segexplore.analysis.attributes import is_identifier
from segexplore.engines.duckdb_counts import (
    ColumnInfo,
    DuckDBCounts,
    ValueCounts,
    _quoted,
)
from segexplore.features.sql import POSITION
from segexplore.model.roles import value_kind
from segexplore.rules import nodes as R
from segexplore.rules.events import EventAggregate, LastPerformed
from segexplore.rules.hints import _HINTED, MAX_DISTINCT, _condition_hints, _Values

if TYPE_CHECKING:
    from segexplore.engines.duckdb import DuckDBBase
    from segexplore.model.segments import Segment

__all__ = ["DuckDBFields", "Counted"]

#: Stands for the selected expressions in a members' query being rewritten.
_SELECTED = "segexplore_selected_values"
#: Most values kept of an event property (the event row's filter dropdowns).
EVENT_CHOICES = 200
#: Breakdown queries whose rows are kept (each a few rows per charted value).
_KEPT_BREAKDOWNS = 64


class Counted(NamedTuple):
    """A segment's counts of a few attributes, and its size."""

    #: Members of the segment (None when no contact column was counted: read off the
    #: contacts' query only, which holds one row per contact).
    size: int | None
    #: Per attribute, the members per distinct value (laid out as
    #: :meth:`DuckDBFields.value_counts`), the members without a value last.
    counts: dict[str, np.ndarray]


class _Described(DuckDBCounts):
    """:class:`DuckDBCounts` that leaves out the behaviour features until one is asked
    for (a minute of DuckDB at 10M contacts), even from value_counts(). Never entered as a
    context manager: it makes no membership table."""

    def __init__(self, base: DuckDBBase) -> None:
        super().__init__(base)
        #: Whether a feature was asked for: until then the features are not computed.
        self.features_wanted = False

    def columns(self, include_features: bool = True) -> dict[str, ColumnInfo]:
        return super().columns(include_features and self.features_wanted)


class DuckDBFields:
    """The explorer's questions about a DuckDB base, each answered by a query (kept).

    Parameters
    ----------
    base : DuckDBBase
    """

    def __init__(self, base: DuckDBBase) -> None:
        self.base = base
        self.connection = getattr(base, "connection", None)  # a DuckDB base's
        self.counts = self._describer(base)
        self._choices: dict[str, list[tuple[Any, int]]] = {}
        self._distinct: dict[str, list[str] | None] = {}
        self._bounds: dict[str, tuple[float, float, bool]] = {}
        self._events: dict[tuple[str, str], list[tuple[Any, int]] | None] = {}
        self._value_counts: dict[str, ValueCounts] = {}
        self._breakdowns: dict[str, dict[str, Any]] = {}

    # --- what the engine answers (ServerFields answers them in another engine) ------
    def _describer(self, base: Any) -> Any:
        return _Described(base)

    def _rows(self, sql: str) -> list[tuple[Any, ...]]:
        return self.connection.execute(sql).fetchall()

    def _numpy(self, sql: str) -> dict[str, Any]:
        """The columns of the result as NumPy arrays, masked where NULL."""
        return self.connection.execute(sql).fetchnumpy()

    _quote = staticmethod(_quoted)

    def _literal(self, text: str) -> str:
        return "'" + text.replace("'", "''") + "'"

    def _text(self, expression: str) -> str:
        return f"CAST({expression} AS VARCHAR)"

    def _not_nan(self, column: str) -> str:
        return f"NOT isnan({column})"

    def _tags(self, column: str, separator: str, table: str, known: str) -> str:
        """The query of a multi-valued column's tags (``v``), one row per tag."""
        return (f"SELECT trim(tag) AS v FROM (SELECT unnest(string_split("
                f"{self._text(column)}, {self._literal(separator)})) AS tag FROM {table} "
                f"WHERE {known}) AS tags WHERE trim(tag) <> ''")

    # --- the fields ------------------------------------------------------------------
    @property
    def n_contacts(self) -> int:
        """Number of contacts."""
        return int(self.base.contact_count)

    def columns(self) -> dict[str, ColumnInfo]:
        """The contact columns, described as the pandas engine would hold them."""
        return self.counts.columns(include_features=False)

    def info(self, name: str) -> ColumnInfo:
        """A contact column's or feature's description (a feature's computes the features).

        Raises
        ------
        SchemaError
            Neither a contact column nor a feature (with the closest name).
        """
        columns = self.columns()
        if name in columns:
            return columns[name]
        self.base.table_of(name)  # SchemaError with a suggestion for an unknown name
        self.counts.features_wanted = True
        return self.counts.columns(include_features=True)[name]

    def personal(self, names: frozenset[str]) -> frozenset[str]:
        """Contact columns holding personal data: email and free-text roles, the columns
        named in ``names`` (names, phones...) and those whose values identify people
        (:func:`~segexplore.analysis.attributes.is_identifier` on the column's sample, as
        the DuckDB profile tells identifiers)."""
        return frozenset(name for name, info in self.columns().items()
                         if info.role in ("email", "text") or name in names
                         or is_identifier(info.sample, info.role, name))

    def event_types(self) -> list[str]:
        """The event types of the base, sorted (``purchase`` too when orders hold them)."""
        return sorted(self.base.rule_schema().event_types)

    # --- values ------------------------------------------------------------------------
    def _source(self, name: str) -> tuple[str, str, ColumnInfo]:
        """``(table, known-value condition, info)`` of a contact column or feature."""
        info = self.info(name)
        column = self._quote(name)
        known = f"{column} IS NOT NULL"
        if info.duck_type.upper() in ("DOUBLE", "FLOAT", "REAL"):
            known += f" AND {self._not_nan(column)}"  # NaN is missing to pandas
        return self.base.table_of(name), known, info

    def value_choices(self, name: str, limit: int = 1000) -> list[tuple[Any, int]]:
        """``[(value, contacts), ...]`` of a field, most frequent first, ties by value
        text; multi-valued columns split into their tags (one GROUP BY, kept)."""
        if name not in self._choices:
            table, known, info = self._source(name)
            column = self._quote(name)
            if info.role == "multi":
                values = self._tags(column, info.separator, table, known)
            else:
                values = f"SELECT {column} AS v FROM {table} WHERE {known}"
            rows = self._rows(f"SELECT v, count(*) AS n FROM ({values}) AS q GROUP BY v")
            floats = isinstance(info.dtype, np.dtype) and info.dtype.kind == "f"
            pairs = [(float(v) if floats else v, int(n)) for v, n in rows]
            pairs.sort(key=lambda pair: (-pair[1], str(pair[0])))  # Python's order of text
            self._choices[name] = pairs
        return self._choices[name][:limit]

    def distinct(self, name: str) -> list[str] | None:
        """The distinct values of a field as text (a multi-valued column's whole values,
        not its tags), or None beyond :data:`~segexplore.rules.hints.MAX_DISTINCT`."""
        if name not in self._distinct:
            table, known, info = self._source(name)
            if info.role == "multi":
                rows = self._rows(f"SELECT DISTINCT {self._text(self._quote(name))} FROM "
                                  f"{table} WHERE {known} LIMIT {MAX_DISTINCT + 1}")
                values = [v for (v,) in rows]
            else:  # the value list counts them anyway
                values = [str(v) for v, _ in self.value_choices(name, MAX_DISTINCT + 1)]
            self._distinct[name] = values if len(values) <= MAX_DISTINCT else None
        return self._distinct[name]

    def bounds(self, name: str) -> tuple[float, float, bool]:
        """``(minimum, maximum, integer)`` of a numeric field; ``(0, 0, True)`` when it
        holds no value."""
        if name not in self._bounds:
            table, known, info = self._source(name)
            column = self._quote(name)
            (low, high), = self._rows(
                f"SELECT min({column}), max({column}) FROM {table} WHERE {known}")
            integer = pd.api.types.is_integer_dtype(info.dtype)
            if low is None:
                self._bounds[name] = (0, 0, True)
            elif integer:
                self._bounds[name] = (int(low), int(high), True)
            else:
                self._bounds[name] = (float(low), float(high), False)
        return self._bounds[name]

    def event_choices(self, event_type: str, prop: str,
                      limit: int = EVENT_CHOICES) -> list[tuple[Any, int]]:
        """Values of an event property among events of one type, with their number of
        events, most frequent first; empty when there is no such event or property."""
        pairs = self._event_values(event_type, prop)
        return (pairs or [])[:limit]

    def _event_values(self, event_type: str, prop: str) -> list[tuple[Any, int]] | None:
        key = (event_type, prop)
        if key not in self._events:
            schema = self.base.rule_schema()
            if event_type not in schema.event_types \
                    or prop not in schema.property_names(event_type):
                self._events[key] = None
                return None
            table, of_type = self._event_table(event_type)
            column = self._quote(prop)
            where = f"{column} IS NOT NULL AND timestamp IS NOT NULL"
            if of_type:
                where += f" AND {self._text('event_type')} = {self._literal(event_type)}"
            rows = self._rows(f"SELECT {column} AS v, count(*) AS n FROM {table} "
                              f"WHERE {where} GROUP BY {column}")
            pairs = [(v, int(n)) for v, n in rows]
            pairs.sort(key=lambda pair: (-pair[1], str(pair[0])))
            self._events[key] = pairs
        return self._events[key]

    def _event_table(self, event_type: str) -> tuple[str, bool]:
        """The table of ``event_type``'s events, and whether it holds other types too."""
        table = self.base.event_table(event_type)
        return table, table == "events"

    # --- did you mean ----------------------------------------------------------------
    def hints(self, rule: R.Rule) -> list[str]:
        """Did-you-mean messages for the rule's text values that match nobody (see
        :func:`segexplore.rules.hints.value_hints`), from the fields' distinct values."""
        out: list[str] = []
        for node in rule.walk():
            if isinstance(node, _HINTED):
                values = self._field_values(node.field)
                if values is not None:
                    out += _condition_hints(node, values, "", "contact")
            elif isinstance(node, R.EventCondition):
                out += self._event_hints(node)
        return list(dict.fromkeys(out))

    def _field_values(self, name: str) -> _Values | None:
        try:
            info = self.info(name)
        except Exception:  # an unknown field: the count says so, with a suggestion
            return None
        if value_kind(info.dtype) not in ("category", "text") or info.role in ("id", "email"):
            return None
        distinct = self.distinct(name)
        if distinct is None:
            return None
        return _Values(pd.Series(distinct, dtype=object))

    def _event_hints(self, node: R.EventCondition) -> list[str]:
        """Hints for the where-filters of an event condition, from the events' values."""
        filtered = [spec for spec in ([node.event] if isinstance(
            node, (EventAggregate, LastPerformed)) else [node.first, node.then])
            if spec.where is not None]
        return [hint for spec in filtered for leaf in spec.where.walk()
                if isinstance(leaf, _HINTED)
                for hint in self._property_hints(spec.event_type, leaf)]

    def _property_hints(self, event_type: str, leaf: R.Rule) -> list[str]:
        pairs = self._event_values(event_type, leaf.field)
        if not pairs or len(pairs) > MAX_DISTINCT \
                or not all(isinstance(v, str) for v, _ in pairs):
            return []  # no such property, too many values to be a category, or not text
        values = _Values(pd.Series([v for v, _ in pairs], dtype=object))
        return _condition_hints(leaf, values, f"{event_type} where ", "event")

    # --- sizes and counts --------------------------------------------------------------
    def members_sql(self, segment: Segment) -> str:
        """The query selecting the members' ``position``."""
        return self.base.evaluator().sql(segment.effective_rule)

    def size(self, segment: Segment | None) -> int:
        """Members of ``segment`` (None: the whole base), counted in DuckDB."""
        if segment is None:
            return self.n_contacts
        return self.base.size_of(segment.effective_rule)

    def value_counts(self, name: str) -> ValueCounts:
        """The distinct values of ``name`` over the whole base and how many contacts hold
        each (:meth:`DuckDBCounts.value_counts`, kept: it does not change with the rule)."""
        if name not in self._value_counts:
            self.info(name)
            self._value_counts[name] = self.counts.value_counts(name)
        return self._value_counts[name]

    def _members_values(self, segment: Segment, table: str,
                        expressions: list[str]) -> str | None:
        """The members' query selecting ``expressions`` of the contacts (as ``c``) instead
        of their position: one scan of the contacts, filtered by the rule, where
        ``position IN (members)`` scans them twice and joins millions of positions.

        The rule is compiled with a placeholder selected, and the placeholder and the
        table it is read from replaced as text, so no SQL is parsed again. The members'
        query reads ``c`` from the contacts or, for a rule on events or features alone,
        from their narrow index of ids and positions: either holds one row per contact
        with the same ``contact_id`` and ``position``, so reading the contacts there
        selects the same members. None when ``table`` is not the contacts' (the features)
        or the text is not the expected ``SELECT "c".<placeholder> FROM <table> AS c``.
        """
        contacts = self.base.table_of("contact_id")
        if table != contacts:
            return None
        text = self.base.evaluator().sql(segment.effective_rule, select=_SELECTED)
        selected = f'SELECT "c"."{_SELECTED}" FROM '
        head, found, tail = text.partition(selected)
        if not found or _SELECTED in tail or _SELECTED in head:
            return None
        source, found, rest = tail.partition(" AS c")
        if not found or not source or " " in source or rest[:1] not in ("", " "):
            return None
        return f"{head}SELECT {', '.join(expressions)} FROM {contacts} AS c{rest}"

    def segment_counts(self, names: Sequence[str], segment: Segment | None) -> Counted:
        """Per attribute, its members' counts laid out as :meth:`value_counts`' values,
        the missing ones last, and the segment's size: one ``GROUPING SETS`` query per
        table (contacts, features), whatever the number of attributes, and no
        ``count(*)`` of its own (every contact is one row of its table, so the counts of
        any attribute add up to the size). The whole base (None) reads the kept counts.
        """
        out: dict[str, np.ndarray] = {}
        if segment is None:
            for name in names:
                table = self.value_counts(name)
                out[name] = np.r_[table.counts[:, 0], table.missing[0]]
            return Counted(self.n_contacts, out)
        by_table: dict[str, list[str]] = {}
        for name in names:
            by_table.setdefault(self.base.table_of(name), []).append(name)
        contacts = self.base.table_of("contact_id")
        size = None
        members = None
        for table, group in by_table.items():
            infos = [self.info(name) for name in group]
            values = self._members_values(segment, table, [
                f"{self.counts._expression(info, 'c')} AS v{i}"
                for i, info in enumerate(infos)])
            if values is None:
                members = members or self.members_sql(segment)
                expressions = ", ".join(f"{self.counts._expression(info)} AS v{i}"
                                        for i, info in enumerate(infos))
                values = (f"SELECT {expressions} FROM {table} AS t WHERE t.{POSITION} IN "
                          f"(SELECT {POSITION} FROM ({members}) AS m)")
            columns = ", ".join(f"v{i}" for i in range(len(group)))
            flags = ", ".join(f"GROUPING(v{i}) AS g{i}" for i in range(len(group)))
            sets = ", ".join(f"(v{i})" for i in range(len(group)))
            rows = self._grouped(f"SELECT {flags}, {columns}, count(*) AS n FROM ({values}) "
                                 f"AS q GROUP BY GROUPING SETS ({sets})")
            n = np.asarray(rows["n"], dtype=np.int64)
            for i, name in enumerate(group):
                mine = np.asarray(rows[f"g{i}"]) == 0
                out[name] = self._laid_out(name, rows[f"v{i}"][mine], n[mine])
                if size is None and table == contacts:
                    size = int(n[mine].sum())
        return Counted(size, out)

    def _grouped(self, query: str) -> dict[str, Any]:
        """The rows of a breakdown query, kept by its text (a rule asked again, an undo, a
        parent chosen back: no scan). The text names everything its answer depends on:
        the rule's values, this date's feature table, each saved segment's table for its
        definition; the tables of a DuckDB base never change."""
        rows = self._breakdowns.get(query)
        if rows is None:
            rows = self._numpy(query)
            if len(self._breakdowns) >= _KEPT_BREAKDOWNS:
                self._breakdowns.pop(next(iter(self._breakdowns)))  # the oldest
            self._breakdowns[query] = rows
        return rows

    def _laid_out(self, name: str, values: Any, n: np.ndarray) -> np.ndarray:
        """Counts of ``values`` in :meth:`value_counts`' order, the missing ones last."""
        null = np.ma.getmaskarray(values)
        known = self.value_counts(name)
        slots = pd.Index(known.values).get_indexer(
            np.ma.getdata(values)[~null].astype(known.values.dtype, copy=False))
        counts = np.zeros(len(known.values) + 1, dtype=np.int64)
        np.add.at(counts, slots, n[~null])
        counts[-1] = n[null].sum()
        return counts
