"""Grouped counts of a connected base (:func:`segexplore.connect`): what profile and compare
read, counted inside PostgreSQL, Spark or the DuckDB connection.

:class:`ServerCounts` answers what :class:`~segexplore.engines.duckdb_counts.DuckDBCounts`
answers for a DuckDB base, so that :func:`~segexplore.analysis.profile.profile` and
:func:`~segexplore.analysis.compare.compare` compute every statistic with the same code on
the same arrays. Its SQL is plain and portable (``GROUP BY`` one or two columns, ``SUM(CASE
...)`` per segment, joins on the contacts' ``position``): the engine groups, and only the
count tables, one row per distinct value (per pair of values for a joint count), reach
Python, where NaN becomes missing, times become nanoseconds and values are sorted, as the
DuckDB engine does in SQL.

Membership is a table of the engine (temporary, or in the ``scratch`` schema): every
contact's ``position`` and one 0/1 column per segment, from the segments' compiled rules;
it is dropped on leaving the ``with`` block.

Examples
--------
>>> import duckdb, segexplore as se
>>> sample = se.load_sample()
>>> db = duckdb.connect()
>>> for name in ("contacts", "events", "orders"):
...     db.register(name, getattr(sample, name))
<...>
>>> base = se.connect(db, as_of=sample.as_of)
>>> with ServerCounts(base, [base.sql('device = "iOS"')]) as counts:
...     table = counts.value_counts("device")
>>> dict(zip(table.values, table.counts[:, 1].tolist()))["iOS"] == base.count('device = "iOS"')
True
>>> base.close()
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from sqlglot import exp

from segexplore.engines.duckdb_counts import (
    KIND_SAMPLE,
    ROLE_SAMPLE,
    ColumnDescriptions,
    ColumnInfo,
    ValueCounts,
    as_dtype,
)
from segexplore.errors import ParameterError, SchemaError
from segexplore.features.registry import FEATURES
from segexplore.features.sql import POSITION

__all__ = ["ServerCounts"]

#: One side of a joint count: a segment's number, or (column, codes of its values, the
#: code of a missing value), as :meth:`DuckDBCounts.joint` takes it.
Side = int | tuple[str, pd.DataFrame, int]


class ServerCounts(ColumnDescriptions):
    """Count tables of one connected base and its segments (a context manager: the
    membership table it makes in the engine is dropped on leaving).

    Parameters
    ----------
    base : ServerBase
    members : sequence of str
        One per segment: the engine's query of its members' ``contact_id``
        (:meth:`ServerBase.sql`). Boolean masks are refused: a connected base's contacts
        are not in Python.
    """

    #: Each joint count is one ``GROUP BY`` of two columns: nothing gains from preparing.
    prepares_joints = False

    def __init__(self, base: Any, members: Sequence[Any] = ()) -> None:
        for position, member in enumerate(members):
            if not isinstance(member, str):
                raise ParameterError(
                    f"segments[{position}]: a connected base compares segments of its own "
                    f"rules (base.segment(...)), not masks: its contacts stay in the engine")
        self.base = base
        self.backend = base._store.backend
        self.n_rows = int(base.contact_count)
        self.n_segments = len(members)
        self._members = list(members)
        self.members_table: str | None = None
        self._info: dict[str, ColumnInfo] | None = None
        self._with_features: dict[str, ColumnInfo] | None = None
        self._heads: dict[str, pd.DataFrame] = {}

    # --- lifetime ------------------------------------------------------------------------
    def __enter__(self) -> ServerCounts:
        if self._members:
            joins, flags = [], []
            for s, query in enumerate(self._members):
                joins.append(f" LEFT JOIN ({query}) AS m{s} ON m{s}.contact_id = p.contact_id")
                flags.append(f"CASE WHEN m{s}.contact_id IS NULL THEN 0 ELSE 1 END AS s{s}")
            self.members_table = self.backend.keep(
                f"SELECT p.{POSITION}, {', '.join(flags)} FROM {self.base._positioned()} "
                f"AS p{''.join(joins)}")
        return self

    def __exit__(self, *_: Any) -> None:
        if self.members_table is not None:
            self.backend.release(self.members_table)
            self.members_table = None

    # --- SQL pieces ----------------------------------------------------------------------
    def _quoted(self, name: str) -> str:
        return exp.to_identifier(name, quoted=True).sql(dialect=self.base.engine)

    def _table(self, source: str) -> str:
        return self.base._positioned() if source == "contacts" else self.base.feature_table

    def _expression(self, info: ColumnInfo, alias: str = "t") -> str:
        """A column's values as its count tables key them: dates in nanoseconds since
        1970, NaN as NULL (missing to pandas), others as they are."""
        column = f"{alias}.{self._quoted(info.name)}"
        text = info.duck_type.upper()
        if text.startswith(("TIMESTAMP", "DATE")):
            return self.backend.epoch_ns(column)
        if text in ("DOUBLE", "FLOAT", "REAL") or text.startswith("DECIMAL"):
            number = f"CAST({column} AS {self.backend.double_type})"
            return f"CASE WHEN {self.backend.not_nan(number)} THEN {number} END"
        return column

    def _from(self, info: ColumnInfo) -> str:
        join = (f" JOIN {self.members_table} AS m ON m.{POSITION} = t.{POSITION}"
                if self.members_table else "")
        return f"{self._table(info.source)} AS t{join}"

    def _sums(self, test: str | None = None) -> list[str]:
        """One ``SUM`` per segment of its members (meeting ``test``)."""
        extra = f"{test} AND " if test else ""
        return [f"SUM(CASE WHEN {extra}m.s{s} = 1 THEN 1 ELSE 0 END) AS s{s}"
                for s in range(self.n_segments if self.members_table else 0)]

    # --- what the pandas engine would hold ---------------------------------------------
    def columns(self, include_features: bool = True) -> dict[str, ColumnInfo]:
        """Every contact column (and feature) with its role, pandas dtype and a sample."""
        store = self.base._store
        if self._info is None:
            types = self.backend.types(store.tables["contacts"])
            self._info = {name: self._describe(name, types[name], "contacts")
                          for name in store.contact_columns}
        if include_features and self._with_features is None:
            types = self.backend.types(self.base.feature_table)
            self._with_features = dict(self._info)
            for name in FEATURES:
                if name not in self._with_features:
                    self._with_features[name] = self._describe(name, types[name], "features")
        return dict(self._with_features if include_features else self._info)

    # what ColumnDescriptions asks of an engine
    def _rows(self, sql: str) -> list[tuple[Any, ...]]:
        return self.backend.rows(sql)

    def _source_table(self, source: str) -> str:
        return self._table(source)

    def _quote(self, name: str) -> str:
        return self._quoted(name)

    def _head(self, table: str) -> pd.DataFrame:
        """The first :data:`KIND_SAMPLE` rows of ``table`` in the contacts' order."""
        if table not in self._heads:
            self._heads[table] = self.backend.frame(
                f"SELECT * FROM {table} ORDER BY {POSITION} LIMIT {KIND_SAMPLE}")
        return self._heads[table]

    def _sample(self, table: str, name: str, dtype: Any) -> pd.Series:
        """The first values in the contacts' order (known ones when the first are not)."""
        head = self._head(table)[name].dropna()
        if not len(head):
            column = self._quoted(name)
            head = self.backend.frame(
                f"SELECT {column} AS v FROM {table} WHERE {column} IS NOT NULL "
                f"ORDER BY {POSITION} LIMIT {KIND_SAMPLE}")["v"].dropna()
        return as_dtype(head, dtype)

    def _role_sample(self, table: str, name: str, dtype: Any,
                     categories: tuple[Any, ...] | None = None) -> pd.Series:
        """A stand-in the role inference reads as it reads the whole column (as
        :meth:`DuckDBCounts._role_sample` picks it: the same rows)."""
        column = self._quoted(name)
        if pd.api.types.is_numeric_dtype(dtype) or pd.api.types.is_bool_dtype(dtype):
            values = self.backend.frame(f"SELECT DISTINCT {column} AS v FROM {table} "
                                        f"WHERE {column} IS NOT NULL LIMIT 3")["v"]
            return as_dtype(values, dtype)
        if pd.api.types.is_datetime64_any_dtype(dtype):
            return pd.Series([], dtype=dtype)
        if self.n_rows <= ROLE_SAMPLE:
            values = self.backend.frame(f"SELECT {column} AS v FROM {table} "
                                        f"ORDER BY {POSITION}")["v"]
        else:
            # the rows pandas' ``sample(20_000, random_state=0)`` picks, in its order
            picked = np.random.RandomState(0).permutation(self.n_rows)[:ROLE_SAMPLE]
            rows = self.backend.frame(
                f"SELECT {POSITION} AS k, {column} AS v FROM {table} WHERE {POSITION} IN "
                f"({', '.join(str(int(p)) for p in np.sort(picked))})")
            values = rows.set_index("k")["v"].reindex(picked)
        return as_dtype(values.reset_index(drop=True), dtype)

    # --- values as the DuckDB engine hands them ------------------------------------------
    @staticmethod
    def _plain(info: ColumnInfo, values: pd.Series) -> tuple[np.ndarray, np.ndarray]:
        """``(known, plain)``: which values are known (NaN is missing, as in pandas) and
        the known ones as :class:`ValueCounts` holds them (dates in int64 nanoseconds)."""
        text = info.duck_type.upper()
        if text.startswith(("TIMESTAMP", "DATE")):
            stamps = pd.to_datetime(values)
            if getattr(stamps.dt, "tz", None) is not None:
                stamps = stamps.dt.tz_convert("UTC").dt.tz_localize(None)
            known = stamps.notna().to_numpy()
            plain = stamps[known].astype("datetime64[ns]").to_numpy().astype(np.int64)
            return known, plain
        if text in ("DOUBLE", "FLOAT", "REAL") or text.startswith("DECIMAL"):
            numbers = pd.to_numeric(values, errors="coerce").astype(np.float64).to_numpy()
            known = ~np.isnan(numbers)
            return known, numbers[known]
        known = values.notna().to_numpy()
        plain = values[known].to_numpy()
        if text in ("BIGINT", "INTEGER", "SMALLINT", "TINYINT", "HUGEINT"):
            return known, plain.astype(np.int64)
        if text == "BOOLEAN":
            return known, plain.astype(bool)
        return known, plain.astype(object)

    # --- counts --------------------------------------------------------------------------
    def value_counts(self, name: str, first: bool = True) -> ValueCounts:
        """The distinct values of ``name`` (sorted) and their counts in the base and each
        segment (``first``: where each value is first seen, else zeros)."""
        info = self.columns()[name]
        column = self._quoted(name)
        sums = self._sums()
        rows = self.backend.frame(
            f"SELECT t.{column} AS v, MIN(t.{POSITION}) AS first_seen, COUNT(*) AS n"
            f"{''.join(', ' + s for s in sums)} FROM {self._from(info)} GROUP BY t.{column}")
        known, plain = self._plain(info, rows["v"])
        counts = np.column_stack(
            [rows["n"].to_numpy(np.int64)]
            + [pd.to_numeric(rows[f"s{s}"]).fillna(0).to_numpy(np.int64)
               for s in range(len(sums))]).reshape(len(rows), 1 + len(sums))
        missing = counts[~known].sum(axis=0)
        seen = rows["first_seen"].to_numpy(np.int64)[known] if first \
            else np.zeros(len(plain), dtype=np.int64)
        counts = counts[known]
        order = np.argsort(plain, kind="stable")
        return ValueCounts(plain[order], counts[order], seen[order], missing,
                           info.duck_type.upper().startswith(("TIMESTAMP", "DATE")))

    def distinct(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        """Known values and distinct known values of ``name``, in the base and each segment
        (an identifier's profile: no value leaves the engine)."""
        info = self.columns()[name]
        column = f"t.{self._quoted(name)}"
        parts = [f"COUNT({column})", f"COUNT(DISTINCT {column})"]
        for s in range(self.n_segments if self.members_table else 0):
            held = f"CASE WHEN m.s{s} = 1 THEN {column} END"
            parts += [f"COUNT({held})", f"COUNT(DISTINCT {held})"]
        row, = self.backend.rows(f"SELECT {', '.join(parts)} FROM {self._from(info)}")
        return (np.asarray(row[0::2], dtype=np.int64), np.asarray(row[1::2], dtype=np.int64))

    def patterns(self) -> tuple[np.ndarray, np.ndarray]:
        """``(patterns, sizes)``: each combination of segments some contacts are in exactly
        and how many, sorted as the DuckDB engine sorts them."""
        if not self.n_segments:
            return np.zeros((1, 0), dtype=bool), np.array([self.n_rows], dtype=np.int64)
        keys = ", ".join(f"m.s{s}" for s in range(self.n_segments))
        rows = np.asarray(self.backend.rows(
            f"SELECT {keys}, COUNT(*) AS n FROM {self.members_table} AS m GROUP BY {keys}"),
            dtype=np.int64).reshape(-1, self.n_segments + 1)
        rows = rows[np.lexsort(rows[:, :-1].T[::-1])]
        return rows[:, :-1].astype(bool), rows[:, -1].copy()

    def prepare_joints(self, firsts: Sequence[Side], seconds: Sequence[Side]) -> None:
        """Nothing to prepare: each joint count is one grouped query."""

    def joint(self, first: Side, second: Side) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return self.joints([first], second)[0]

    def joints(self, firsts: Sequence[Side], second: Side
               ) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """``(first code, second code, contacts)`` over the base, the pairs held only, of
        each of ``firsts`` with ``second``: the engine counts the pairs of values, Python
        maps them to codes (the values are never written into the SQL)."""
        return [self._joint(first, second) for first in firsts]

    def _joint(self, first: Side, second: Side) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        infos = self.columns()
        tables: set[str] = set()
        selects = [self._side_sql(side, infos, tables) for side in (first, second)]
        source = f"{self.base._positioned()} AS c"
        if self.members_table and any(not isinstance(s, tuple) for s in (first, second)):
            source += f" JOIN {self.members_table} AS m ON m.{POSITION} = c.{POSITION}"
        if "features" in tables:
            source += f" JOIN {self.base.feature_table} AS f ON f.{POSITION} = c.{POSITION}"
        rows = self.backend.frame(
            f"SELECT {selects[0]} AS a, {selects[1]} AS b, COUNT(*) AS n FROM {source} "
            f"GROUP BY {selects[0]}, {selects[1]}")
        a = self._codes(first, rows["a"], infos)
        b = self._codes(second, rows["b"], infos)
        n = rows["n"].to_numpy(np.int64)
        n_b = max(int(b.max(initial=0)) + 1, 1)
        pairs, inverse = np.unique(a * n_b + b, return_inverse=True)
        held = np.bincount(inverse.reshape(-1), weights=n, minlength=len(pairs))
        return pairs // n_b, pairs % n_b, held.astype(np.int64)

    def _side_sql(self, side: Side, infos: dict[str, ColumnInfo], tables: set[str]) -> str:
        if not isinstance(side, tuple):
            return f"m.s{int(side)}"
        info = infos[side[0]]
        tables.add(info.source)
        return f"{'c' if info.source == 'contacts' else 'f'}.{self._quoted(info.name)}"

    def _codes(self, side: Side, values: pd.Series, infos: dict[str, ColumnInfo]
               ) -> np.ndarray:
        """Each row's code: the segment's 0/1, or the code of its value (``missing`` for
        a missing value or one the codes do not hold, as a left join with coalesce)."""
        if not isinstance(side, tuple):
            return pd.to_numeric(values).to_numpy(np.int64)
        name, codes, missing = side
        known, plain = self._plain(infos[name], values.reset_index(drop=True))
        out = np.full(len(values), int(missing), dtype=np.int64)
        where = pd.Index(codes["v"]).get_indexer(plain)
        code = codes["code"].to_numpy(np.int64)
        found = where >= 0
        slots = np.flatnonzero(known)
        out[slots[found]] = code[where[found]]
        return out

    def mask_conversions(self, mask: np.ndarray) -> tuple[int, np.ndarray]:
        raise ParameterError("rate: on a connected base, name a feature or contact column "
                             "(a boolean Series would be a mask over contacts that stay in "
                             "the engine)")

    def conversions(self, name: str) -> tuple[int, np.ndarray]:
        """Contacts whose ``name`` is true or >= 1: in the base, and in each segment."""
        info = self.columns().get(name)
        if info is None:
            raise SchemaError(f"rate: {name!r} is neither a contact column nor a feature")
        column = f"t.{self._quoted(name)}"
        test = f"{column} = TRUE" if info.duck_type.upper() == "BOOLEAN" else f"{column} >= 1"
        parts = [f"SUM(CASE WHEN {test} THEN 1 ELSE 0 END)", *self._sums(test)]
        row, = self.backend.rows(f"SELECT {', '.join(parts)} FROM {self._from(info)}")
        values = [int(v or 0) for v in row]
        return values[0], np.asarray(values[1:], dtype=np.int64)
