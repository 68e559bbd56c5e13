"""Grouped counts of a DuckDB base: what profile and compare read, without the contacts.

:func:`segexplore.analysis.profile.profile` and :func:`segexplore.analysis.compare.compare`
compute every statistic from, per attribute, its distinct values and how many contacts
hold each one, in the base and in each segment. On a :class:`DuckDBBase` those tables are
``GROUP BY`` queries with one ``count(*) FILTER`` per segment; membership is a temporary
table made in DuckDB from the rules' SQL (or from the positions of a given mask), so only
the count tables, a few thousand rows per attribute, reach Python whatever the base's size.

:class:`DuckDBCounts` also says what the pandas engine would hold for each column on the
same files, so that both engines describe a column alike: its role (inferred from the rows
:func:`~segexplore.model.roles.infer_roles` would sample), its pandas dtype, the order of
its categories (a Parquet dictionary's order, the registry's order for the features, first
appearance for text) and a few values for telling its kind.

Examples
--------
>>> import segexplore as se
>>> big = se.read_base(se.sample_path() / "contacts.parquet", engine="duckdb")
>>> with DuckDBCounts(big, [big.evaluator().sql(se.parse('device = "iOS"'))]) as counts:
...     table = counts.value_counts("device")
>>> dict(zip(table.values, table.counts[:, 1].tolist()))["iOS"] == big.count('device = "iOS"')
True
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from segexplore.engines.duckdb import DuckDBBase
from segexplore.errors import ParameterError
from segexplore.features.registry import (
    FEATURES,
    LIFECYCLE_STAGES,
    RFM_GROUPS,
    RFM_SCORES,
    WEEKDAYS,
)
from segexplore.features.sql import POSITION
from segexplore.model.columns import MULTI_VALUE_SEPARATOR
from segexplore.model.roles import infer_roles

__all__ = ["DuckDBCounts", "ColumnDescriptions", "ValueCounts", "ColumnInfo", "FEATURE_DTYPES", "FEATURE_CATEGORIES",
           "KIND_SAMPLE", "ROLE_SAMPLE", "pandas_dtype_of", "as_dtype"]

#: The pandas dtype of each feature that its DuckDB type does not tell (the pandas
#: implementation's nullable integers and categoricals); tests check it against
#: :func:`~segexplore.features.compute.compute_features`.
FEATURE_DTYPES = {"rfm_recency": "Int8", "rfm_frequency": "Int8", "rfm_monetary": "Int8",
                  "age": "Int16", "days_to_birthday": "Int16", "rfm_score": "category",
                  "rfm_group": "category", "lifecycle_stage": "category",
                  "preferred_brand": "category", "preferred_category": "category",
                  "preferred_send_hour": "Int8", "preferred_send_weekday": "category",
                  "last_abandoned_cart_brand": "category",
                  "last_abandoned_cart_category": "category"}
#: Categories of the categorical features, in the pandas implementation's order (None:
#: the brands or categories present, sorted, as a union of pandas indexes gives them).
FEATURE_CATEGORIES: dict[str, tuple[str, ...] | None] = {
    "rfm_score": RFM_SCORES, "rfm_group": RFM_GROUPS, "lifecycle_stage": LIFECYCLE_STAGES,
    "preferred_brand": None, "preferred_category": None, "preferred_send_weekday": WEEKDAYS,
    "last_abandoned_cart_brand": None, "last_abandoned_cart_category": None}
#: Values read to tell a column's kind (as :mod:`segexplore.analysis.attributes` reads).
KIND_SAMPLE = 2000
#: Rows :func:`~segexplore.model.roles.infer_roles` samples from a text column.
ROLE_SAMPLE = 20_000
#: Up to this many segments, the membership table holds each contact's pattern of
#: membership as the bits of one number (``p``), which the counts group by.
_PATTERN_BITS = 63
_names = itertools.count(1)


@dataclass(frozen=True)
class ColumnInfo:
    """A column as the pandas engine would hold it, known without reading its values.

    ``sample`` is a short Series of that dtype, enough for telling the kind: the first
    known values in the contacts' order (the categories of a categorical column).
    """

    name: str
    role: str
    dtype: Any
    separator: str
    sample: pd.Series
    source: str  # "contacts" or "features"
    duck_type: str
    categories: tuple[Any, ...] | None = None


@dataclass(frozen=True)
class ValueCounts:
    """One attribute's known distinct values and how many contacts hold each.

    ``counts[:, 0]`` counts the base, ``counts[:, 1 + s]`` segment ``s``; ``missing`` the
    contacts without a value the same way; ``first`` is the position of the first contact
    holding each value. Dates are int64 nanoseconds. ``values`` come sorted.
    """

    values: np.ndarray
    counts: np.ndarray
    first: np.ndarray
    missing: np.ndarray
    is_date: bool


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def pandas_dtype_of(duck_type: str, name: str, source: str, dictionary: bool,
                    has_missing: bool) -> Any:
    """The dtype the pandas engine gives a column of this DuckDB type."""
    text = duck_type.upper()
    if source == "features" and name in FEATURE_DTYPES:
        return pd.api.types.pandas_dtype(FEATURE_DTYPES[name]) \
            if FEATURE_DTYPES[name] != "category" else pd.CategoricalDtype()
    if dictionary:
        return pd.CategoricalDtype()
    if text == '"NULL"':  # a Parquet column of nulls only: pandas reads objects
        return np.dtype(object)
    if text == "BOOLEAN":
        return np.dtype(object) if has_missing else np.dtype(bool)
    if text.startswith(("TIMESTAMP", "DATE")):
        return np.dtype("datetime64[ns]")
    integers = {"TINYINT": "int8", "SMALLINT": "int16", "INTEGER": "int32", "BIGINT": "int64",
                "UTINYINT": "uint8", "USMALLINT": "uint16", "UINTEGER": "uint32",
                "UBIGINT": "uint64"}
    if text in integers:
        # pyarrow hands pandas an integer column with nulls as float64
        return np.dtype("float64") if has_missing and source == "contacts" \
            else np.dtype(integers[text])
    if text in ("FLOAT", "REAL"):
        return np.dtype("float32")
    if text.startswith(("DOUBLE", "DECIMAL")):
        return np.dtype("float64")
    return pd.api.types.pandas_dtype("str")


class ColumnDescriptions:
    """How a counter tells each column's role, pandas dtype, categories and sample from
    SQL alone, as the pandas engine would have them (one place for the DuckDB and the
    connected counters).

    The counter provides ``n_rows``, ``_rows(sql)`` (a list of tuples), ``_source_table
    (source)``, ``_quote(name)``, ``_sample(table, name, dtype)`` and ``_role_sample(table,
    name, dtype, categories)``.
    """

    n_rows: int

    def _describe(self, name: str, duck_type: str, source: str,
                  dictionary: tuple[Any, ...] | None = None) -> ColumnInfo:
        table, column = self._source_table(source), self._quote(name)
        (known,), = self._rows(f"SELECT count({column}) FROM {table}")
        dtype = pandas_dtype_of(duck_type, name, source, dictionary is not None,
                                int(known) < self.n_rows)
        categories = dictionary
        if source == "features" and name in FEATURE_CATEGORIES:
            categories = FEATURE_CATEGORIES[name] or tuple(sorted(
                str(v) for (v,) in self._rows(
                    f"SELECT DISTINCT {column} FROM {table} WHERE {column} IS NOT NULL")))
        if isinstance(dtype, pd.CategoricalDtype):
            sample = pd.Series(pd.Categorical([], categories=list(categories or ())))
        else:
            sample = self._sample(table, name, dtype)
        role, separator = "feature", MULTI_VALUE_SEPARATOR
        if source == "contacts":
            inferred = infer_roles(pd.DataFrame({name: self._role_sample(
                table, name, dtype, categories)}))
            role = inferred.roles[name]
            separator = inferred.separators.get(name, MULTI_VALUE_SEPARATOR)
        return ColumnInfo(name, role, dtype, separator, sample, source, duck_type, categories)

    # provided by the counter
    def _rows(self, sql: str) -> list[tuple[Any, ...]]:
        raise NotImplementedError

    def _source_table(self, source: str) -> str:
        raise NotImplementedError

    def _quote(self, name: str) -> str:
        raise NotImplementedError

    def _sample(self, table: str, name: str, dtype: Any) -> pd.Series:
        raise NotImplementedError

    def _role_sample(self, table: str, name: str, dtype: Any,
                     categories: tuple[Any, ...] | None) -> pd.Series:
        raise NotImplementedError


class DuckDBCounts(ColumnDescriptions):
    """Count tables of one DuckDB base and its segments (a context manager: the membership
    table it makes in DuckDB is dropped on leaving).

    Parameters
    ----------
    base : DuckDBBase
    members : sequence of str or numpy array
        One per segment: a query selecting the members' ``position`` (such as
        ``base.evaluator().sql(rule)``), or a boolean array in the contacts' order (its
        members' positions are handed to DuckDB).
    """

    #: Each joint count would scan the base: :meth:`prepare_joints` codes the contacts once.
    prepares_joints = True

    def __init__(self, base: DuckDBBase, members: Sequence[Any] = ()) -> None:
        self.base = base
        self.store = base._store
        self.connection = self.store.connection
        self.n_rows = int(self.store.n_contacts)
        self.n_segments = len(members)
        self._members = list(members)
        self._made: list[str] = []
        self.members_table: str | None = None
        self._features: str | None = None
        self._info: dict[str, ColumnInfo] | None = None
        self._with_features: dict[str, ColumnInfo] | None = None
        self._joint: _JointTable | None = None
        #: per table, the rows every column's samples are read from (one query each)
        self._heads: dict[str, pd.DataFrame] = {}
        self._picked: dict[str, pd.DataFrame] = {}
        #: per table, whether its rows pair with its membership table's (POSITIONAL JOIN)
        self._aligned: dict[str, bool] = {}
        self._ordered: dict[str, str] = {}
        self._member_positions: list[np.ndarray] = []

    # --- lifetime ------------------------------------------------------------------------
    def __enter__(self) -> DuckDBCounts:
        if self._members:
            self.members_table = self._membership(self._members)
        return self

    def __exit__(self, *_: Any) -> None:
        for table in self._made:
            self.connection.execute(f"DROP TABLE IF EXISTS {table}")
        self._made.clear()
        self._member_positions.clear()

    def _temporary(self, kind: str, query: str) -> str:
        """A new temporary table ``_segexplore_{kind}_{n}`` of ``query``'s rows, dropped on
        leaving."""
        table = f"_segexplore_{kind}_{next(_names)}"
        self.connection.execute(f"CREATE TEMP TABLE {table} AS {query}")
        self._made.append(table)
        return table

    def _membership(self, members: Sequence[Any], over: str | None = None) -> str:
        """A temporary table ``(position, p)`` (``p``: the bits of the segments the contact
        is in; ``s0, s1, ...`` beyond :data:`_PATTERN_BITS` segments) over every contact, its
        rows in the order of ``over`` (default the contacts table), so that the two pair by
        a ``POSITIONAL JOIN`` (checked, see :meth:`_rows_pair`), several times cheaper than
        joining ten million positions (0.37 s against 0.7 s a count at 10M)."""
        over = over or self.store.contacts_table
        held = self._positions(members)  # the rules, with all threads
        # ``over``'s rows in the order a scan meets them: a scan of two threads hands them
        # over out of that order (a Parquet view's join does); the bits are then set in
        # numpy (a semi-join per segment in one thread took 3 s at 10M)
        (threads,), = self.connection.execute("SELECT current_setting('threads')").fetchall()
        self.connection.execute("SET threads = 1")
        try:
            order = self._positions_of(f"SELECT {POSITION} FROM {over}")
        finally:
            self.connection.execute(f"SET threads = {int(threads)}")
        size = max([int(order.max(initial=-1)), *(int(h.max(initial=-1)) for h in held)]) + 1
        if len(members) <= _PATTERN_BITS:
            # every segment's bit in one number: a count per (value, pattern) is one
            # aggregate where a count per segment is one filter each (2x faster)
            bits = np.zeros(size, dtype=np.uint64)
            for s, positions in enumerate(held):
                bits[positions] |= np.uint64(1 << s)
            columns: dict[str, np.ndarray] = {"p": bits[order]}
        else:
            columns = {}
            for s, positions in enumerate(held):
                member = np.zeros(size, dtype=bool)
                member[positions] = True
                columns[f"s{s}"] = member[order]
        name = f"_segexplore_frame_{next(_names)}"
        self.connection.register(name, pd.DataFrame({POSITION: order, **columns}))
        try:
            table = self._temporary("membership", f"SELECT * FROM {name}")
        finally:
            self.connection.unregister(name)
        self._aligned[over] = self._rows_pair(over, table)
        return table

    def _positions_of(self, query: str) -> np.ndarray:
        """The ``position`` of ``query``'s rows, in their order."""
        rows = self.connection.execute(query).fetchnumpy()
        return np.ma.getdata(rows[POSITION]).astype(np.int64, copy=False)

    def _positions(self, members: Sequence[Any]) -> list[np.ndarray]:
        """The positions of each segment's members (its rule run once, however many tables
        the membership is laid out over)."""
        if not self._member_positions:
            for member in members:
                if isinstance(member, str):
                    positions = self._positions_of(f"SELECT {POSITION} FROM ({member})")
                else:
                    array = np.asarray(member, dtype=bool)
                    if array.shape != (self.n_rows,):
                        raise ParameterError(f"a mask must hold one boolean per contact "
                                             f"({self.n_rows:,}), not shape {array.shape}")
                    positions = np.flatnonzero(array).astype(np.int64)
                self._member_positions.append(positions)
        return self._member_positions

    def _rows_pair(self, table: str, members: str) -> bool:
        """Whether row i of ``table`` is row i of ``members`` (the order a scan keeps with
        ``preserve_insertion_order``), checked on every row: a mismatch joins by position."""
        (mismatches,), = self.connection.execute(
            f"SELECT count(*) FILTER (WHERE t.{POSITION} IS DISTINCT FROM m.{POSITION}) "
            f"FROM {table} AS t POSITIONAL JOIN {members} AS m").fetchall()
        return mismatches == 0

    def _members_of(self, table: str) -> str:
        """The membership table in the order of ``table`` (the features are in another)."""
        assert self.members_table is not None
        if table == self.store.contacts_table:
            return self.members_table
        if table not in self._ordered:
            self._ordered[table] = self._membership(self._members, over=table)
        return self._ordered[table]

    def _join_members(self, table: str, alias: str) -> str:
        """`` JOIN`` of the membership (as ``m``) to ``table`` (as ``alias``), by row when
        their rows pair, else by position."""
        members = self._members_of(table)
        if self._aligned.get(table):
            return f" POSITIONAL JOIN {members} AS m"
        return f" JOIN {members} AS m ON m.{POSITION} = {alias}.{POSITION}"

    # --- what the pandas engine would hold ---------------------------------------------
    def columns(self, include_features: bool = True) -> dict[str, ColumnInfo]:
        """Every contact column (and feature) with its role, pandas dtype and a sample."""
        if self._info is None:
            self._info = {}
            kinds = self.store.kinds["contacts"]
            types = dict(self.connection.execute(
                "SELECT column_name, data_type FROM information_schema.columns WHERE "
                "table_name = ? ORDER BY ordinal_position",
                [self.store.contacts_table]).fetchall())
            dictionaries = self._parquet_dictionaries()
            for name in self.store.contact_columns:
                self._info[name] = self._describe(name, types.get(name, kinds[name]),
                                                  "contacts", dictionaries.get(name))
        if include_features and self._with_features is None:
            self._with_features = dict(self._info)
            table = self.features_table()
            types = dict(self.connection.execute(
                "SELECT column_name, data_type FROM information_schema.columns WHERE "
                "table_name = ?", [table]).fetchall())
            for name in FEATURES:
                if name not in self._with_features:
                    self._with_features[name] = self._describe(name, types[name], "features",
                                                                None)
        return dict(self._with_features if include_features else self._info)

    def features_table(self) -> str:
        if self._features is None:
            self._features = self.base._feature_table()
        return self._features

    def _parquet_dictionaries(self) -> dict[str, tuple[Any, ...]]:
        """Categories of the dictionary (categorical) columns of the first contacts file,
        as pandas reads them: one row is read, the dictionary comes with it."""
        try:
            first = self.connection.execute(
                "SELECT filename FROM contact_files ORDER BY first_row LIMIT 1").fetchall()
        except Exception:  # CSV contacts: no file table, no dictionary
            return {}
        if not first:
            return {}
        import pyarrow as pa
        import pyarrow.parquet as pq

        handle = pq.ParquetFile(first[0][0])
        names = [f.name for f in handle.schema_arrow if pa.types.is_dictionary(f.type)]
        if not names:
            return {}
        batch = next(handle.iter_batches(batch_size=1, columns=names), None)
        if batch is None:
            return {}
        return {name: tuple(batch.column(i).dictionary.to_pylist())
                for i, name in enumerate(names)}

    # what ColumnDescriptions asks of an engine
    def _rows(self, sql: str) -> list[tuple[Any, ...]]:
        return self.connection.execute(sql).fetchall()

    def _source_table(self, source: str) -> str:
        return self.store.contacts_table if source == "contacts" else self.features_table()

    _quote = staticmethod(_quoted)

    def _head(self, table: str) -> pd.DataFrame:
        """The first :data:`KIND_SAMPLE` rows of ``table`` in the contacts' order, every
        column at once (read once: the columns' kind samples come from it)."""
        if table not in self._heads:
            self._heads[table] = self.connection.execute(
                f"SELECT * FROM {table} ORDER BY {POSITION} LIMIT {KIND_SAMPLE}").df()
        return self._heads[table]

    def _picked_rows(self, table: str) -> pd.DataFrame:
        """The rows role inference reads (all of them up to :data:`ROLE_SAMPLE`), every
        column at once."""
        if table not in self._picked:
            if self.n_rows <= ROLE_SAMPLE:
                frame = self.connection.execute(
                    f"SELECT * FROM {table} ORDER BY {POSITION}").df()
            else:
                # the rows pandas' ``sample(20_000, random_state=0)`` picks, in its order
                picked = np.random.RandomState(0).permutation(self.n_rows)[:ROLE_SAMPLE]
                name = f"_segexplore_sample_{next(_names)}"
                self.connection.register(name, pd.DataFrame(
                    {POSITION: picked.astype(np.int64), "k": np.arange(ROLE_SAMPLE)}))
                try:
                    frame = self.connection.execute(
                        f"SELECT t.* FROM {table} AS t JOIN {name} AS s "
                        f"ON s.{POSITION} = t.{POSITION} ORDER BY s.k").df()
                finally:
                    self.connection.unregister(name)
            self._picked[table] = frame
        return self._picked[table]

    def _sample(self, table: str, name: str, dtype: Any) -> pd.Series:
        """The first values in the contacts' order (known ones when the first are not)."""
        head = self._head(table)[name].dropna()
        if not len(head):
            column = _quoted(name)
            head = self.connection.execute(
                f"SELECT {column} AS v FROM {table} WHERE {column} IS NOT NULL "
                f"ORDER BY {POSITION} LIMIT {KIND_SAMPLE}").df()["v"].dropna()
        return as_dtype(head, dtype)

    def _role_sample(self, table: str, name: str, dtype: Any,
                     categories: tuple[Any, ...] | None) -> pd.Series:
        """A stand-in the role inference reads as it reads the whole column."""
        if pd.api.types.is_numeric_dtype(dtype) or pd.api.types.is_bool_dtype(dtype):
            # numbers: 0/1 with both values is boolean; three distinct values tell it all
            column = _quoted(name)
            values = self.connection.execute(
                f"SELECT DISTINCT {column} AS v FROM {table} WHERE {column} IS NOT NULL "
                f"LIMIT 3").df()["v"]
            return as_dtype(values, dtype)
        if pd.api.types.is_datetime64_any_dtype(dtype):
            return pd.Series([], dtype=dtype)
        values = self._picked_rows(table)[name]
        if categories is not None:
            return pd.Series(pd.Categorical(values, categories=list(categories)))
        return as_dtype(values, dtype)

    # --- counts --------------------------------------------------------------------------
    def _expression(self, info: ColumnInfo, alias: str = "t") -> str:
        column = f"{alias}.{_quoted(info.name)}"
        text = info.duck_type.upper()
        if text.startswith(("TIMESTAMP", "DATE")):
            return f"epoch_ns(CAST({column} AS TIMESTAMP_NS))"
        if text in ("DOUBLE", "FLOAT", "REAL") or text.startswith("DECIMAL"):
            # NaN is missing to pandas
            return f"CASE WHEN isnan(CAST({column} AS DOUBLE)) THEN NULL " \
                   f"ELSE CAST({column} AS DOUBLE) END"
        return column

    def _from(self, info: ColumnInfo) -> str:
        table = self.store.contacts_table if info.source == "contacts" \
            else self.features_table()
        join = self._join_members(table, "t") if self.members_table else ""
        return f"{table} AS t{join}"

    def _member(self, segment: int) -> str:
        """Whether the contact ``m`` is a member of ``segment``, in SQL."""
        if self._by_pattern():
            return f"(m.p >> {int(segment)}) & 1 = 1"
        return f"m.s{int(segment)}"

    def _filters(self) -> str:
        return "".join(f", count(*) FILTER (WHERE {self._member(s)}) AS s{s}"
                       for s in range(self.n_segments))

    def value_counts(self, name: str, first: bool = True) -> ValueCounts:
        """The distinct values of ``name`` (sorted) and their counts in the base and each
        segment; ``first=False`` leaves out where each value is first seen (only the
        categories' order needs it: zeros instead)."""
        info = self.columns()[name]
        by_pattern = self._by_pattern()
        pattern = ", m.p" if by_pattern else ""
        filters = "" if by_pattern or not self.members_table else self._filters()
        seen = f", min(t.{POSITION}) AS first" if first else ""
        # sorted in SQL, so that numpy adds up the (value, pattern) rows of each value by
        # runs; adding them up in SQL instead hashes a million-value column twice (2.1 s
        # against 1.3 s at 10M)
        rows = self.connection.execute(
            f"SELECT {self._expression(info)} AS v{pattern}{seen}, count(*) AS n{filters} "
            f"FROM {self._from(info)} GROUP BY ALL ORDER BY v NULLS LAST").fetchnumpy()
        values = rows["v"]
        known = ~np.ma.getmaskarray(values)
        n = np.ma.getdata(rows["n"]).astype(np.int64)
        if by_pattern:
            columns = [n, *_by_segment(np.ma.getdata(rows["p"]), n, self.n_segments)]
        else:
            columns = [n] + [np.ma.getdata(rows[f"s{s}"]).astype(np.int64)
                             for s in range(self.n_segments)]
        counts = np.column_stack(columns).reshape(len(n), len(columns))
        missing = counts[~known].sum(axis=0)
        plain = np.ma.getdata(values)[known]
        if plain.dtype.kind in "OU":
            plain = plain.astype(object)
        seen_at = np.ma.getdata(rows["first"]).astype(np.int64)[known] if first \
            else np.zeros(len(plain), dtype=np.int64)
        counts = counts[known]
        if by_pattern and len(plain):  # one row per (value, pattern): add up each run
            starts = np.flatnonzero(np.r_[True, plain[1:] != plain[:-1]])
            plain, counts = plain[starts], np.add.reduceat(counts, starts, axis=0)
            seen_at = np.minimum.reduceat(seen_at, starts)
        return ValueCounts(plain, counts, seen_at, missing,
                           info.duck_type.upper().startswith(("TIMESTAMP", "DATE")))

    def _by_pattern(self) -> bool:
        """Whether counts group by the membership pattern (see :data:`_PATTERN_BITS`)."""
        return self.members_table is not None and self.n_segments <= _PATTERN_BITS

    def distinct(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        """Known values and distinct known values of ``name``, in the base and each segment
        (an identifier's profile: no value leaves DuckDB)."""
        info = self.columns()[name]
        column = self._expression(info)
        parts = [f"count({column}), count(DISTINCT {column})"]
        parts += [f"count({column}) FILTER (WHERE {self._member(s)}), "
                  f"count(DISTINCT {column}) FILTER (WHERE {self._member(s)})"
                  for s in range(self.n_segments)]
        row = self.connection.execute(
            f"SELECT {', '.join(parts)} FROM {self._from(info)}").fetchall()[0]
        return np.asarray(row[0::2], dtype=np.int64), np.asarray(row[1::2], dtype=np.int64)

    def patterns(self) -> tuple[np.ndarray, np.ndarray]:
        """``(patterns, sizes)``: each combination of segments some contacts are in exactly
        (one boolean row per combination, no contact in no row twice) and how many."""
        if not self.n_segments:
            return np.zeros((1, 0), dtype=bool), np.array([self.n_rows], dtype=np.int64)
        keys = ", ".join(f"{self._member(s)} AS s{s}" for s in range(self.n_segments))
        rows = self.connection.execute(
            f"SELECT {keys}, count(*) AS n FROM {self.members_table} AS m GROUP BY ALL "
            f"ORDER BY ALL").fetchnumpy()
        patterns = np.column_stack([np.asarray(rows[f"s{s}"], dtype=bool)
                                    for s in range(self.n_segments)])
        return patterns, np.asarray(rows["n"], dtype=np.int64)

    def joint(self, first: int | tuple[str, pd.DataFrame, int],
              second: int | tuple[str, pd.DataFrame, int]
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(first code, second code, contacts)``: the contacts of the base per pair of
        codes held (no empty pair, so that two fine codings stay small).

        Each side is a segment's number (code 1 for its members, else 0) or ``(column,
        codes, missing code)``: ``codes`` maps each known value (column ``v``, as
        :meth:`value_counts` returns them: dates in nanoseconds) to a code (column
        ``code``); the values are joined, never written into the SQL.
        """
        return self.joints([first], second)[0]

    def prepare_joints(self, firsts: Sequence[Side], seconds: Sequence[Side]) -> None:
        """Code every contact once for the joint counts of each of ``firsts`` with each of
        ``seconds`` (sides as :meth:`joint` takes them), so that :meth:`joints` then reads
        one narrow table per second instead of scanning the base with every code join.

        One number per contact stands for all of ``firsts`` together (their codes in mixed
        radix: a few thousand combinations in practice), in a table ``(position, combo)``.
        Each table of the seconds (the contacts, the features) is then coded in one scan
        joined to that narrow table: a table of ``combo`` and each second's code (numbers
        and dates binned by comparisons with their bins' edges, categories joined). Joining
        the contacts to the features instead would carry every column through one wide
        hash join (17 s at 10M contacts). Nothing is prepared when the combinations could
        overflow 62 bits.
        """
        radix = [_n_codes(side) for side in firsts]
        if (not firsts or not seconds or math.prod(radix) >= 1 << 62
                or not all(isinstance(side, tuple) for side in seconds)):
            return
        infos = self.columns()
        weights = [math.prod(radix[:i]) for i in range(len(radix))]
        registered: list[str] = []
        try:
            selects, joins, tables = [], [], set()
            for slot, side in enumerate(firsts):
                expression = self._code_of(side, f"a{slot}", infos, joins, tables, registered)
                selects.append(f"CAST({expression} AS BIGINT) * {weights[slot]}")
            combos = self._temporary(
                "combo", f"SELECT c.{POSITION}, ({' + '.join(selects)}) AS combo "
                         f"FROM {self._source(tables)} {' '.join(joins)}")
            placed: dict[Any, tuple[str, int]] = {}
            for source in ("contacts", "features"):
                mine = [(slot, side) for slot, side in enumerate(seconds)
                        if infos[side[0]].source == source]
                if mine:
                    table = self._coded(source, combos, mine, infos, registered)
                    placed.update({_side_key(side): (table, slot) for slot, side in mine})
        finally:
            for name in registered:
                self.connection.unregister(name)
        self._joint = _JointTable({_side_key(side): i for i, side in enumerate(firsts)},
                                  radix, weights, placed)

    def _coded(self, source: str, combos: str, seconds: list[tuple[int, Side]],
               infos: dict[str, ColumnInfo], registered: list[str]) -> str:
        """A table ``(combo, b{slot}, ...)``: the codes of ``seconds``, all of one table
        (``source``), beside each contact's ``combo`` (from the table ``combos``)."""
        alias = "c" if source == "contacts" else "f"
        origin = self.store.contacts_table if source == "contacts" else self.features_table()
        # the values binned are worked out once a row, in an inner query (x_b...), not once
        # a comparison with an edge
        inner, outer, joins = ["k.combo"], ["combo"], []
        for slot, side in seconds:
            expression = self._code_of(side, f"b{slot}", infos, joins, set(), registered,
                                       binned=inner)
            if f"x_b{slot}" in expression:
                outer.append(f"CAST({expression} AS INTEGER) AS b{slot}")
            else:
                inner.append(f"CAST({expression} AS INTEGER) AS b{slot}")
                outer.append(f"b{slot}")
        return self._temporary(
            "joint", f"SELECT {', '.join(outer)} FROM (SELECT {', '.join(inner)} FROM "
                     f"{origin} AS {alias} JOIN {combos} AS k ON k.{POSITION} = "
                     f"{alias}.{POSITION} {' '.join(joins)})")

    def _code_of(self, side: Side, slot: str, infos: dict[str, ColumnInfo], joins: list[str],
                 tables: set[str], registered: list[str], binned: list[str] | None = None
                 ) -> str:
        """The SQL of one side's code per contact (see :meth:`joint`), adding its join.

        With ``binned`` (the columns of an inner query), numbers and dates are binned by
        their edges: the value becomes the inner column ``x_{slot}`` and the code, read from
        it, is for the query around it."""
        if not isinstance(side, tuple):
            return f"CAST({self._member(side)} AS INTEGER)"
        name, codes, missing = side
        info = infos[name]
        tables.add(info.source)
        value = self._expression(info, "c" if info.source == "contacts" else "f")
        if binned is not None and codes["v"].dtype.kind in "iuf":
            edges = _edges(codes)
            if edges is not None:
                binned.append(f"{value} AS x_{slot}")
                cases = [f"WHEN x_{slot} IS NULL THEN {int(missing)}"]
                cases += [f"WHEN x_{slot} < {_number(edge)} THEN {code}"
                          for edge, code in edges[:-1]]
                return f"CASE {' '.join(cases)} ELSE {edges[-1][1]} END"
        table = f"_segexplore_codes_{next(_names)}"
        self.connection.register(table, codes)
        registered.append(table)
        joins.append(f"LEFT JOIN {table} AS k_{slot} ON k_{slot}.v = {value}")
        return f"coalesce(k_{slot}.code, {int(missing)})"

    def _source(self, tables: set[str]) -> str:
        """The contacts, with the features and the membership when needed, as ``c``/``f``/``m``."""
        contacts = self.store.contacts_table
        source = f"{contacts} AS c"
        if self.members_table:
            source += self._join_members(contacts, "c")
        if "features" in tables:
            source += f" JOIN {self.features_table()} AS f ON f.{POSITION} = c.{POSITION}"
        return source

    def _prepared(self, firsts: Sequence[Side], second: Side
                  ) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]] | None:
        """:meth:`joints` read off the prepared table, or None when it does not serve."""
        joint = self._joint
        if joint is None:
            return None
        placed = joint.seconds.get(_side_key(second))
        keys = [_side_key(side) for side in firsts]
        if placed is None or any(key not in joint.firsts for key in keys):
            return None
        if placed not in joint.counted:
            table, slot = placed
            rows = self.connection.execute(
                f"SELECT combo, b{slot} AS b, count(*) AS n FROM {table} "
                f"GROUP BY ALL").fetchnumpy()
            joint.counted[placed] = tuple(np.asarray(rows[k], np.int64)
                                          for k in ("combo", "b", "n"))
        combo, b, n = joint.counted[placed]
        n_b = int(b.max()) + 1 if len(b) else 1
        found = []
        for key in keys:
            i = joint.firsts[key]
            a = combo // joint.weights[i] % joint.radix[i]
            pairs, inverse = np.unique(a * n_b + b, return_inverse=True)
            held = np.bincount(inverse.reshape(-1), weights=n, minlength=len(pairs))
            found.append((pairs // n_b, pairs % n_b, held.astype(np.int64)))
        return found

    def joints(self, firsts: Sequence[Side], second: Side
               ) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """:meth:`joint` of each of ``firsts`` with ``second``: read off the table
        :meth:`prepare_joints` made when it holds them, else in one scan of the base
        (``GROUPING SETS``)."""
        if not firsts:
            return []
        prepared = self._prepared(firsts, second)
        if prepared is not None:
            return prepared
        infos = self.columns()
        selects, joins, tables, registered = [], [], set(), []
        for slot, side in enumerate([*firsts, second]):
            alias = f"a{slot}" if slot < len(firsts) else "b"
            expression = self._code_of(side, alias, infos, joins, tables, registered)
            selects.append(f"CAST({expression} AS BIGINT) AS {alias}")
        keys = [f"a{slot}" for slot in range(len(firsts))]
        sets = ", ".join(f"({key}, b)" for key in keys)
        try:
            rows = self.connection.execute(
                f"SELECT {', '.join(keys)}, b, count(*) AS n FROM (SELECT "
                f"{', '.join(selects)} FROM {self._source(tables)} {' '.join(joins)}) "
                f"GROUP BY GROUPING SETS ({sets})").fetchnumpy()
        finally:
            for table in registered:
                self.connection.unregister(table)
        b, n = np.asarray(rows["b"], np.int64), np.asarray(rows["n"], np.int64)
        found = []
        for key in keys:
            # every code is known (coalesce): a row is of the set whose key is not null
            mine = ~np.ma.getmaskarray(rows[key])
            found.append((np.ma.getdata(rows[key])[mine].astype(np.int64), b[mine], n[mine]))
        return found

    def mask_conversions(self, mask: np.ndarray) -> tuple[int, np.ndarray]:
        """Contacts of a boolean array over the contacts, in the base and in each segment."""
        array = np.asarray(mask, dtype=bool)
        name = f"_segexplore_outcome_{next(_names)}"
        self.connection.register(name, pd.DataFrame(
            {POSITION: np.flatnonzero(array).astype(np.int64)}))
        try:
            parts = ["count(*)"] + [f"count(*) FILTER (WHERE {self._member(s)})"
                                    for s in range(self.n_segments)]
            row = self.connection.execute(
                f"SELECT {', '.join(parts)} FROM {self.members_table} AS m "
                f"WHERE m.{POSITION} IN (SELECT {POSITION} FROM {name})").fetchall()[0]
        finally:
            self.connection.unregister(name)
        return int(row[0]), np.asarray(row[1:], dtype=np.int64)

    def conversions(self, name: str) -> tuple[int, np.ndarray]:
        """Contacts whose ``name`` is true or >= 1: in the base, and in each segment."""
        info = self.columns()[name]
        column = f"t.{_quoted(info.name)}"
        test = column if info.duck_type.upper() == "BOOLEAN" \
            else f"CAST({column} AS DOUBLE) >= 1"
        if self._by_pattern():
            rows = self.connection.execute(
                f"SELECT m.p, count(*) AS n FROM {self._from(info)} WHERE {test} "
                f"GROUP BY ALL").fetchnumpy()
            n = np.asarray(rows["n"], dtype=np.int64)
            return int(n.sum()), _by_segment(rows["p"], n, self.n_segments).sum(axis=1)
        parts = [f"count(*) FILTER (WHERE {test})"] + [
            f"count(*) FILTER (WHERE {test} AND {self._member(s)})"
            for s in range(self.n_segments)]
        row = self.connection.execute(
            f"SELECT {', '.join(parts)} FROM {self._from(info)}").fetchall()[0]
        return int(row[0]), np.asarray(row[1:], dtype=np.int64)


def _by_segment(patterns: Any, n: np.ndarray, n_segments: int) -> np.ndarray:
    """``(segments, rows)``: ``n`` where a row's membership pattern holds the segment."""
    bits = np.asarray(patterns, dtype=np.uint64)
    out = np.zeros((n_segments, len(n)), dtype=np.int64)
    for s in range(n_segments):
        out[s] = np.where((bits >> np.uint64(s)) & np.uint64(1), n, 0)
    return out


#: One side of a joint count (see :meth:`DuckDBCounts.joint`).
Side = int | tuple[str, pd.DataFrame, int]


@dataclass
class _JointTable:
    """The tables :meth:`DuckDBCounts.prepare_joints` made, and how to read them."""

    firsts: dict[Any, int]  # each first's key -> its digit in ``combo``
    radix: list[int]
    weights: list[int]
    seconds: dict[Any, tuple[str, int]]  # each second's key -> (its table, its slot)
    counted: dict[tuple[str, int], tuple[np.ndarray, np.ndarray, np.ndarray]] = field(
        default_factory=dict)


def _side_key(side: Side) -> Any:
    """What identifies a side: its segment, or its column with its codes."""
    if not isinstance(side, tuple):
        return ("segment", int(side))
    name, codes, missing = side
    return (name, codes["code"].to_numpy(np.int64).tobytes(), int(missing))


def _n_codes(side: Side) -> int:
    if not isinstance(side, tuple):
        return 2
    _, codes, missing = side
    return max([int(missing), *codes["code"].tolist()]) + 1


def _edges(codes: pd.DataFrame) -> list[tuple[Any, int]] | None:
    """``[(first value of the next run, code), ...]`` of each run of codes over the sorted
    values (None for the last run), when the codes never decrease with the value (numbers
    and dates cut into bins), else None: a value below the next run's first is this run's."""
    values = codes["v"].to_numpy()
    order = np.argsort(values, kind="stable")  # numbers: numpy's sort, not pandas' nargsort
    values, code = values[order], codes["code"].to_numpy(np.int64)[order]
    if not len(code) or (np.diff(code) < 0).any():
        return None
    starts = np.flatnonzero(np.r_[True, np.diff(code) != 0])
    return [(values[starts[i + 1]] if i + 1 < len(starts) else None, int(code[s]))
            for i, s in enumerate(starts)]


def _number(value: Any) -> str:
    """A number as an exact SQL literal (a double through its shortest round-trip text)."""
    if isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_)):
        return str(int(value))
    return f"CAST('{float(value)!r}' AS DOUBLE)"


def as_dtype(values: pd.Series, dtype: Any) -> pd.Series:
    """``values`` (read from an engine) in the pandas engine's ``dtype``, when they fit it."""
    values = values.reset_index(drop=True)
    if pd.api.types.is_datetime64_any_dtype(dtype):
        return pd.to_datetime(values).astype(dtype)
    try:
        return values.astype(dtype)
    except (TypeError, ValueError):  # a nullable column sampled with its missing values
        return values
