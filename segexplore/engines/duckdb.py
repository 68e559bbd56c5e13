"""A contact base whose tables stay in DuckDB: for bases larger than memory.

``se.read_base(contacts, events, orders, engine="duckdb")`` reads Parquet or CSV files,
folders of them or globs (hive-partitioned folders too) into a DuckDB database, a file
when ``database=`` is given, a temporary one otherwise, spilling to disk beyond
``memory_limit``. The contacts become a table (with a ``position`` column: the contacts'
order, which every mask follows); events and orders stay views over the files. The
behaviour features are computed by one query (:mod:`segexplore.features.sql`, identical to
the pandas implementation) into a table per ``as_of``, when a rule first needs them; rules
compile to SQL (:mod:`segexplore.rules.engines.sql`) over those tables.

What a :class:`DuckDBBase` offers today: ``as_of``, ``at()``, ``count()``, ``segment()``
(``size``, ``share``, ``mask``, ``members()``, ``on()``, ``profile()``, ``to_csv()``,
``split()``, ``export_split()`` and variant plans, streamed:
:mod:`segexplore.engines.duckdb_rows`), ``profile()`` and ``se.compare`` (from grouped
counts: :mod:`segexplore.engines.duckdb_counts`), ``with_suppressions()``,
``with_contact_columns()`` (scores), ``features`` (as a DataFrame, for bases that fit),
``report`` (with ``clean=True``: :mod:`segexplore.engines.duckdb_clean`),
``fingerprint()`` (:mod:`segexplore.engines.duckdb_fingerprint`), ``contact_count``,
``rule_schema()``, ``forget()`` and ``subject_access()`` (erasure leaves the files as they
are: :mod:`segexplore.engines.duckdb_privacy`); the explorer opens it too (``segexplore
dashboard --engine duckdb``). Not yet: ``explain()``.
"""

from __future__ import annotations

import atexit
import contextlib
import glob
import itertools
import os
import shutil
import tempfile
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from segexplore.engines.duckdb_clean import clean_in_duckdb
from segexplore.engines.duckdb_fingerprint import fingerprint_duckdb
from segexplore.errors import (
    BaseFrozenError,
    FileFormatError,
    ParameterError,
    SchemaError,
    ValidationError,
    closest_name,
)
from segexplore.features.registry import FEATURE_KINDS, FEATURES
from segexplore.features.sql import POSITION, as_pandas_features, build_feature_table
from segexplore.io.parsing import DEFAULT_TZ
from segexplore.model import hooks
from segexplore.model.base import combined_suppressions, unerased_suppressions
from segexplore.model.erasures import ErasureLedger
from segexplore.model.report import CleanReport
from segexplore.model.segments import Segment, new_segment
from segexplore.rules import nodes as R
from segexplore.rules.parser import parse
from segexplore.rules.walk import saved_rule_of

__all__ = ["ACTIVITY_COLUMNS", "DuckDBBase", "DuckDBSchema", "activity_types", "duckdb_kind",
           "read_duckdb"]

#: Contacts whose per-contact aggregates are computed at once when the features are built
#: (about 1.5 GB of DuckDB's memory); a larger base is done in buckets of this size.
BUCKET_CONTACTS = 2_000_000

#: The columns the activity tables must have (the contacts: ``contact_id``).
ACTIVITY_COLUMNS = {"events": ("contact_id", "timestamp", "event_type"),
              "orders": ("contact_id", "timestamp")}


def duckdb_kind(duckdb_type: str) -> str:
    """The rule kind (as :func:`~segexplore.model.roles.value_kind`) of a DuckDB type."""
    text = duckdb_type.upper()
    if text.startswith("ENUM"):
        return "category"
    if text == "BOOLEAN":
        return "bool"
    if text.startswith(("TIMESTAMP", "DATE")):
        return "datetime"
    if text.startswith(("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT",
                        "USMALLINT", "UINTEGER", "UBIGINT", "FLOAT", "DOUBLE", "DECIMAL",
                        "REAL")):
        return "number"
    return "text"


def _source_sql(source: Any, what: str) -> str:
    """``read_parquet([...])`` or ``read_csv([...])`` of a file, a folder or a glob."""
    text = os.fspath(source)
    path = Path(text)
    if path.is_dir():
        files = sorted(glob.glob(str(path / "**" / "*.parquet"), recursive=True))
        hive = any("=" in part for f in files for part in Path(f).relative_to(path).parts[:-1])
        if not files:
            files = sorted(glob.glob(str(path / "**" / "*.csv"), recursive=True))
    else:
        files = sorted(glob.glob(text)) if any(ch in text for ch in "*?[") else (
            [text] if path.exists() else [])
        hive = False
    if not files:
        raise FileFormatError(f"{what}: no Parquet or CSV file at {text!r}; give a file, a "
                              "folder of .parquet/.csv files or a glob such as "
                              "'events/*.parquet'")
    listed = "[" + ", ".join("'" + f.replace("'", "''") + "'" for f in files) + "]"
    if all(f.endswith(".parquet") for f in files):
        return (f"read_parquet({listed}, hive_partitioning = {str(hive).lower()}, "
                f"union_by_name = true)")
    if all(f.endswith((".csv", ".csv.gz", ".tsv")) for f in files):
        return f"read_csv({listed}, union_by_name = true)"
    raise FileFormatError(f"{what}: {text!r} mixes file formats ({', '.join(files[:3])}...); "
                          "give Parquet or CSV files")


class DuckDBSchema:
    """The :class:`~segexplore.rules.check.Schema` of a :class:`DuckDBBase`: kinds from the
    DuckDB column types, features from the registry, event types from one query."""

    def __init__(self, base: DuckDBBase, segments: Mapping[str, Any] | None = None,
                 as_of: Any = None) -> None:
        self.base = base
        self.segments = segments if segments is not None else base.segments
        self.as_of = pd.Timestamp(as_of) if as_of is not None else base.as_of
        store = base._store
        self.purchase_table = store.purchase_table
        self.table_kinds = {name: dict(kinds) for name, kinds in store.kinds.items()
                            if name != "contacts"}

    @property
    def contact_columns(self) -> Sequence[str]:
        return self.base._store.contact_columns

    def contact_kind(self, name: str) -> str:
        return self.base._store.kinds["contacts"][name]

    def feature_kind(self, name: str) -> str:
        return FEATURE_KINDS.get(name, "number")

    @property
    def event_types(self) -> Sequence[str]:
        return self.base._store.event_types

    def property_names(self, event_type: str) -> Sequence[str]:
        store = self.base._store
        if event_type not in store.event_types:
            return []
        table = "orders" if (event_type == "purchase" and store.purchase_table == "orders") \
            else "events"
        return [c for c in store.kinds.get(table, {}) if c not in ACTIVITY_COLUMNS[table]]

    def property_kind(self, event_type: str, name: str) -> str:
        store = self.base._store
        table = "orders" if (event_type == "purchase" and store.purchase_table == "orders") \
            else "events"
        return store.kinds[table][name]


class _Store:
    """What every view of one DuckDB base shares: the connection, the table kinds, the
    saved segments and the feature tables made so far (one per ``as_of``)."""

    def __init__(self, connection: Any, n_contacts: int, kinds: dict[str, dict[str, str]],
                 event_types: list[str], purchase_table: str | None, database: str) -> None:
        self.connection = connection
        self.n_contacts = n_contacts
        self.kinds = kinds
        self.contact_columns = [c for c in kinds["contacts"] if c != POSITION]
        self.event_types = event_types
        self.purchase_table = purchase_table
        self.database = database
        self.segments: dict[str, Any] = {}
        self.feature_tables: dict[int, str] = {}
        self.erasures = ErasureLedger()
        #: The contacts table or view of this base (scores added make a view of their own).
        self.contacts_table = "contacts"
        #: The tables or views of the activity: an erasure replaces them by views without
        #: the person (segexplore.engines.duckdb_privacy).
        self.activity_tables = {"events": "events", "orders": "orders"}
        #: The activity tables not given at opening (empty views stand in for them).
        self.absent_tables: frozenset[str] = frozenset()
        self.derived_tables: list[str] = []
        #: This store and those of the bases with scores added to it: an erasure replaces
        #: the tables of every one of them.
        self.family: list[_Store] = [self]
        self.version = 0  # an erasure adds one: what was computed from the tables is stale
        #: The native table of ids and positions (see DuckDBBase._contact_index).
        self.contact_index: str | None = None
        #: Saved segments' member tables: (as_of, name, definitions) -> table.
        self.saved_tables: dict[tuple, str] = {}
        #: What cleaning in SQL did (None: the files were read as they are).
        self.report: CleanReport | None = None


class _Evaluator:
    """Rules on a DuckDB base as of one date: compiled to SQL, run in DuckDB, the counts
    and masks of rules already asked kept (a dashboard asks the same rule again)."""

    def __init__(self, base: DuckDBBase) -> None:
        self.base = base
        self.as_of = base.as_of
        self.version = base._store.version  # the tables' version its results are of
        self._positions: dict[tuple, np.ndarray] = {}

    def sql(self, rule: R.Rule, *, text: str | None = None, select: str = POSITION) -> str:
        """The query selecting the members' ``position`` (or another contacts column)."""
        base = self.base
        needs: dict[str, bool] = {}
        to_sql = hooks.get("to_sql")
        store = base._store
        named = {"contacts": store.contacts_table, **store.activity_tables}
        # The whole rule is checked first (unknown names, cycles between segments).
        to_sql(rule, base, needs=needs, tables=named)
        saved = self._saved_tables(rule)
        if saved:  # what the rule reads once the saved segments are tables
            to_sql(rule, base, needs=needs, tables=named, saved_tables=saved)
        # A rule on events or features alone reads the narrow native table of ids and
        # positions, not every column of the contacts' files.
        tables = {**named, "contacts": store.contacts_table if needs["contacts"]
                  else base._contact_index()}
        if needs["features"]:  # this date's feature table, computed the first time
            tables["features"] = base._feature_table()
        return to_sql(rule, base, tables=tables, select=select, saved_tables=saved)

    def _definitions(self) -> tuple:
        """What every saved segment means now (a saved segment saved anew is another
        rule, and so is every rule using it)."""
        return tuple((name, str(saved_rule_of(segment)))
                     for name, segment in self.base.segments.items())

    def _saved_tables(self, rule: R.Rule) -> dict[str, str]:
        """The saved segments ``rule`` names, each materialised once per date and
        definition into a table of its members' ids: joined, not pasted into every query."""
        store = self.base._store
        out = {}
        for name in sorted({node.name for node in rule.walk() if isinstance(node, R.SegmentRef)}):
            key = (int(self.as_of.value), name, self._definitions())
            table = store.saved_tables.get(key)
            if table is None:
                table = f"saved_segment_{len(store.saved_tables) + 1}"
                members = self.sql(saved_rule_of(self.base.segments[name]), select="contact_id")
                store.connection.execute(f"CREATE OR REPLACE TEMP TABLE {table} AS {members}")
                store.saved_tables[key] = table
            out[name] = table
        return out

    def positions(self, rule: R.Rule, *, text: str | None = None) -> np.ndarray:
        key = (str(rule), self._definitions())
        held = self._positions.get(key)
        if held is None:
            rows = self.base._store.connection.execute(self.sql(rule, text=text)).fetchnumpy()
            held = np.sort(np.asarray(rows[POSITION], dtype=np.int64))
            if len(self._positions) > 256:
                self._positions.clear()
            self._positions[key] = held
        return held

    def array(self, rule: R.Rule, *, text: str | None = None) -> np.ndarray:
        member = np.zeros(self.base._store.n_contacts, dtype=bool)
        member[self.positions(rule, text=text)] = True
        return member

    def mask(self, rule: R.Rule | str, *, text: str | None = None) -> pd.Series:
        if isinstance(rule, str):
            text, rule = rule, parse(rule)
        return pd.Series(self.array(rule, text=text), name="member")


class DuckDBBase:
    """A contact base held in DuckDB (see the module docstring); made by
    :func:`read_duckdb` or ``se.read_base(..., engine="duckdb")``.

    Examples
    --------
    >>> import segexplore as se
    >>> folder = se.sample_path()
    >>> big = se.read_base(folder / "contacts.parquet", folder / "events.parquet",
    ...                    folder / "orders.parquet", engine="duckdb")
    >>> small = se.load_sample(clean=False)
    >>> rule = 'city = "Lyon" and count(purchase, last 90 days) >= 1'
    >>> big.count(rule) == small.count(rule)
    True
    """

    engine = "duckdb"

    def __init__(self, store: _Store, as_of: Any,
                 suppressions: pd.DataFrame | None = None) -> None:
        object.__setattr__(self, "_store", store)
        object.__setattr__(self, "_as_of", pd.Timestamp(as_of))
        object.__setattr__(self, "_evaluator", None)
        object.__setattr__(self, "_suppressions", suppressions)

    def __setattr__(self, name: str, value: Any) -> None:
        raise BaseFrozenError(f"a DuckDBBase does not change once made (setting {name!r}): "
                              "base.at('2026-06-30') gives it on another date")

    # --- what the model's Segment asks of a base --------------------------------------
    @property
    def as_of(self) -> pd.Timestamp:
        """The date windows are measured from; see :meth:`at`."""
        return self._as_of

    @property
    def segments(self) -> dict[str, Any]:
        """The saved segments (name -> Segment), shared by every view of the base."""
        return self._store.segments

    @property
    def _tables(self) -> _Store:  # a Segment's cache asks for the tables' version
        return self._store

    @property
    def contact_columns(self) -> list[str]:
        """The columns of the contacts table, in order."""
        return list(self._store.contact_columns)

    @property
    def suppressions(self) -> pd.DataFrame:
        """The suppression lists of this base (``email, reason, date``), one row per email
        listed (see :meth:`with_suppressions`); people erased since are not in it."""
        return unerased_suppressions(self._suppressions, self.erasures)

    def with_suppressions(self, source: Any, **read_options: Any) -> DuckDBBase:
        """The same base with a suppression list (unsubscribes, bounces, complaints) added:
        every export and waterfall of the new base leaves these emails out (see
        :meth:`ContactBase.with_suppressions
        <segexplore.model.base.ContactBase.with_suppressions>`; the list is small: it is
        held in pandas, and joined to the members in DuckDB at export).

        Examples
        --------
        >>> import segexplore as se
        >>> big = se.read_base(se.sample_path() / "contacts.parquet", engine="duckdb")
        >>> quiet = big.with_suppressions(["nobody@example.com"])
        >>> len(quiet.suppressions), len(big.suppressions)
        (1, 0)
        """
        combined = combined_suppressions(
            self._suppressions, hooks.get("read_suppressions")(source, **read_options))
        return DuckDBBase(self._store, self._as_of, combined)

    @property
    def report(self) -> CleanReport | None:
        """What cleaning did (``read_base(..., engine="duckdb", clean=True)``): steps,
        issues, rejects and merges, as the pandas engine reports them; None when the files
        were read as they are."""
        return self._store.report

    @property
    def erasures(self) -> ErasureLedger:
        """Salted hashes of the people erased from this base (see :meth:`forget`), shared
        by every view of it."""
        return self._store.erasures

    def forget(self, email_or_id: Any, **options: Any):
        """Erase one person from every table, as on a pandas base: the files stay as they
        are, the base's tables become views without them
        (:mod:`segexplore.engines.duckdb_privacy`); later exports cannot contain them.

        See :func:`segexplore.delivery.privacy.forget` (the erasure log holds no personal
        data).

        Examples
        --------
        >>> import segexplore as se
        >>> folder = se.sample_path()
        >>> big = se.read_base(folder / "contacts.parquet", folder / "events.parquet",
        ...                    engine="duckdb")
        >>> before = big.contact_count
        >>> report = big.forget(int(big.contact_ids[0]))
        >>> report.removed["contacts"], big.contact_count == before - 1
        (1, True)
        """
        return hooks.get("forget")(self, email_or_id, **options)

    def subject_access(self, email_or_id: Any) -> dict:
        """Everything held about one person, as JSON-ready data (GDPR access/portability):
        the pandas engine's answer (:func:`segexplore.delivery.privacy.subject_access`)."""
        return hooks.get("subject_access")(self, email_or_id)

    def fingerprint(self) -> dict[str, Any]:
        """What an export's manifest records of the data: per table ``rows``, ``columns``,
        ``method`` and ``sha256``; views over Parquet files from the files' identities and
        footers, tables held in DuckDB by their rows
        (:func:`~segexplore.engines.duckdb_fingerprint.fingerprint_duckdb`)."""
        return fingerprint_duckdb(self)

    @property
    def contact_ids(self) -> pd.Index:
        """The contact ids in the contacts' order (what a mask's positions refer to)."""
        rows = self._store.connection.execute(
            f"SELECT contact_id FROM {self._store.contacts_table} ORDER BY {POSITION}"
        ).fetchnumpy()
        return pd.Index(rows["contact_id"], name="contact_id")

    @property
    def contact_count(self) -> int:
        """Number of contacts."""
        return self._store.n_contacts

    @property
    def connection(self) -> Any:
        """The DuckDB connection holding the tables (``contacts``, ``events``, ``orders``)."""
        return self._store.connection

    def at(self, as_of: Any) -> DuckDBBase:
        """The same base as of another date (the tables are shared)."""
        return DuckDBBase(self._store, as_of, self._suppressions)

    def with_contact_columns(self, columns: Mapping[str, Any], *,
                             roles: Any = None) -> DuckDBBase:
        """The same base with columns added to the contacts (scores, say), in the contacts'
        order: a table of them joined to the contacts in a view of the new base's own; the
        events, orders, features, saved segments and ledger are shared. ``roles`` is
        accepted for the pandas base's signature; kinds come from the values' types.

        Examples
        --------
        >>> import numpy as np, segexplore as se
        >>> folder = se.sample_path()
        >>> big = se.read_base(folder / "contacts.parquet", engine="duckdb", as_of="2026-10-30")
        >>> scored = big.with_contact_columns({"score_x": np.arange(big.contact_count) % 10})
        >>> scored.count("score_x >= 8") == 2 * big.contact_count // 10
        True
        """
        store = self._store
        clash = [c for c in columns if c in store.kinds["contacts"] or c in FEATURES]
        if clash:
            raise ParameterError(f"{clash[0]!r} is already a contact column or a feature; "
                                 "name the column differently")
        frame = pd.DataFrame({POSITION: np.arange(store.n_contacts, dtype=np.int64)})
        for name, values in columns.items():
            values = np.asarray(values)
            if values.shape != (store.n_contacts,):
                raise ParameterError(f"column {name!r} has {values.shape[0]:,} values for "
                                     f"{store.n_contacts:,} contacts (one per contact, in "
                                     "the contacts' order)")
            frame[name] = values
        number = len(store.derived_tables) + 1  # the list only grows: names never repeat
        table, view = f"scores_{number}", f"contacts_{number}"
        store.derived_tables.append(table)
        connection = store.connection
        connection.register("_new_scores", frame)
        try:
            connection.execute(f"CREATE OR REPLACE TEMP TABLE {table} AS "
                               f"SELECT * FROM _new_scores")
        finally:
            connection.unregister("_new_scores")
        added = ", ".join(f's."{c}"' for c in columns)
        connection.execute(f"CREATE OR REPLACE TEMP VIEW {view} AS SELECT c.*, {added} FROM "
                           f"{store.contacts_table} AS c JOIN {table} AS s "
                           f"ON s.{POSITION} = c.{POSITION}")
        kinds = {name: dict(k) for name, k in store.kinds.items()}
        kinds["contacts"] = {column: duckdb_kind(kind) for column, kind in connection.execute(
            f"SELECT column_name, data_type FROM information_schema.columns WHERE "
            f"table_name = '{view}' ORDER BY ordinal_position").fetchall()}
        new = _Store(connection, store.n_contacts, kinds, store.event_types,
                     store.purchase_table, store.database)
        new.contacts_table = view
        new.segments, new.feature_tables = store.segments, store.feature_tables
        new.erasures, new.derived_tables = store.erasures, store.derived_tables
        new.report, new.contact_index = store.report, store.contact_index
        new.saved_tables = store.saved_tables
        new.activity_tables, new.absent_tables = store.activity_tables, store.absent_tables
        new.family = store.family
        store.family.append(new)
        return DuckDBBase(new, self._as_of, self._suppressions)

    def evaluator(self) -> _Evaluator:
        """The rule evaluator of this base (its results are kept)."""
        held = self._evaluator
        if held is None or held.version != self._store.version:  # an erasure since
            object.__setattr__(self, "_evaluator", _Evaluator(self))
        return self._evaluator

    def rule_schema(self, segments: Mapping[str, Any] | None = None,
                    as_of: Any = None) -> DuckDBSchema:
        """What a rule may name here (see :mod:`segexplore.rules.check`)."""
        return DuckDBSchema(self, segments, as_of)

    def segment(self, rule: Any, *, name: str | None = None, description: str = "",
                parent: Any = None, save: bool = True) -> Segment:
        """A :class:`~segexplore.model.segments.Segment` of this base (see
        :meth:`ContactBase.segment <segexplore.model.base.ContactBase.segment>`)."""
        return new_segment(self, rule, name=name, description=description, parent=parent,
                           save=save)

    def count(self, rule: Any) -> int:
        """Number of contacts matching ``rule`` (text or Rule)."""
        rule = parse(rule) if isinstance(rule, str) else rule
        return int(len(self.evaluator().positions(rule)))

    def size_of(self, rule: Any) -> int:
        """Number of contacts matching ``rule`` (text or Rule), counted in DuckDB.

        The same number as :meth:`count`, without fetching the members' positions into
        Python: a live count (the explorer's, on every edit of a rule) costs one
        ``count(*)`` of the rule's query, not a transfer of millions of positions. A rule
        whose positions are already kept is answered from them.

        Examples
        --------
        >>> import segexplore as se
        >>> big = se.read_base(se.sample_path() / "contacts.parquet", engine="duckdb")
        >>> big.size_of('device = "iOS"') == big.count('device = "iOS"')
        True
        """
        rule = parse(rule) if isinstance(rule, str) else rule
        evaluator = self.evaluator()
        held = evaluator._positions.get((str(rule), evaluator._definitions()))
        if held is not None:
            return int(len(held))
        (size,), = self._store.connection.execute(
            f"SELECT count(*) FROM ({evaluator.sql(rule)})").fetchall()
        return int(size)

    def table_of(self, name: str) -> str:
        """The DuckDB table or view holding a contact column or a behaviour feature (this
        date's feature table, computed on first use), with the contacts' ``position``.

        Raises
        ------
        SchemaError
            ``name`` is neither, with the closest name.
        """
        store = self._store
        if name in store.kinds["contacts"]:
            return store.contacts_table
        if name in FEATURES:
            return self._feature_table()
        guess = closest_name(name, [*store.contact_columns, *FEATURES])
        hint = f"; did you mean {guess!r}?" if guess else ""
        raise SchemaError(f"no contact column or feature named {name!r}{hint}")

    def event_table(self, event_type: str) -> str:
        """The table holding the events of ``event_type``: ``orders`` for purchases read
        from the orders, else ``events``."""
        store = self._store
        return store.activity_tables["orders" if (
            event_type == "purchase" and store.purchase_table == "orders") else "events"]

    def profile(self, **options: Any):
        """A :class:`~segexplore.analysis.profile.Profile` of every attribute and feature,
        from grouped counts in DuckDB (the same numbers as the pandas engine's).

        Examples
        --------
        >>> import segexplore as se
        >>> folder = se.sample_path()
        >>> big = se.read_base(folder / "contacts.parquet", engine="duckdb")
        >>> int(big.profile(include_features=False).summary.set_index("attribute")
        ...     .loc["city", "missing"])
        0
        """
        return hooks.get("profile")(self, **options)

    # --- tables ----------------------------------------------------------------------
    def _feature_table(self) -> str:
        """The table of this date's features, computed on first use."""
        store = self._store
        key = int(self._as_of.value)
        name = store.feature_tables.get(key)
        if name is None:
            # a table of the database, not a temporary one: DuckDB compresses it (4.5x at
            # 10M contacts), so that it stays in memory where a temporary one spills
            name = f"{_FEATURES_PREFIX}{os.getpid()}_{next(_feature_numbers)}"
            build_feature_table(store.connection, name, self._as_of, columns=store.kinds,
                                purchases_from=store.purchase_table or "none",
                                tables={"contacts": store.contacts_table,
                                        **store.activity_tables},
                                buckets=-(-store.n_contacts // BUCKET_CONTACTS),
                                temporary=False)
            store.feature_tables[key] = name
        return name

    def _contact_index(self) -> str:
        """A native table of the contacts' ids and positions, made on first use."""
        store = self._store
        if store.contact_index is None:
            store.connection.execute(
                f"CREATE OR REPLACE TEMP TABLE contact_index AS SELECT contact_id, {POSITION} "
                f"FROM {store.contacts_table}")
            store.contact_index = "contact_index"
        return store.contact_index

    @property
    def features(self) -> pd.DataFrame:
        """The behaviour features as of :attr:`as_of`, as a DataFrame in the contacts' order
        (for a base that fits in memory; rules read them in DuckDB)."""
        table = self._feature_table()
        return as_pandas_features(self._store.connection.execute(
            f"SELECT * FROM {table} ORDER BY {POSITION}").df())

    def _member_rows(self, mask: pd.Series, columns: list[str] | None,
                     features_used: Sequence[str]) -> pd.DataFrame:
        """The members' contact columns (and the features the rule uses), from DuckDB."""
        store = self._store
        positions = np.flatnonzero(mask.to_numpy())
        wanted = (["contact_id"] + [c for c in columns if c != "contact_id"]
                  if columns is not None else list(store.contact_columns))
        from_contacts = [c for c in wanted if c in store.kinds["contacts"]]
        features = ([c for c in wanted if c not in store.kinds["contacts"]]
                    if columns is not None else [f for f in features_used
                                                 if f not in store.kinds["contacts"]])
        select = ", ".join([f'c."{c}"' for c in from_contacts]
                           + [f'f."{c}"' for c in features])
        join = (f" JOIN {self._feature_table()} AS f ON f.{POSITION} = c.{POSITION}"
                if features else "")
        store.connection.register("_wanted_positions",
                                  pd.DataFrame({POSITION: positions}))
        try:
            frame = store.connection.execute(
                f"SELECT {select} FROM {store.contacts_table} AS c{join} "
                f"JOIN _wanted_positions AS w "
                f"ON w.{POSITION} = c.{POSITION} ORDER BY c.{POSITION}").df()
        finally:
            store.connection.unregister("_wanted_positions")
        frame.index = positions
        return frame

    def __repr__(self) -> str:
        store = self._store
        return (f"DuckDBBase as of {self._as_of:%Y-%m-%d %H:%M}\n"
                f"  contacts {store.n_contacts:>12,}  (DuckDB, {store.database})\n"
                f"  events, orders: views over the files; purchases from "
                f"{store.purchase_table or 'nowhere'}")


@hooks.implements("read_duckdb")
def read_duckdb(contacts: Any, events: Any = None, orders: Any = None, *,
                database: Any = None, memory_limit: str | None = None,
                threads: int | None = None, as_of: Any = None, clean: bool = False,
                now: Any = None, tz: str = DEFAULT_TZ) -> DuckDBBase:
    """Open Parquet or CSV files (files, folders, globs) as a :class:`DuckDBBase`.

    Parameters
    ----------
    contacts, events, orders : path or glob
        The tables, in the canonical columns (``contact_id`` unique in contacts;
        ``contact_id, timestamp, event_type`` in events; ``contact_id, timestamp`` in
        orders).
    database : path, optional
        A DuckDB database file to hold the tables; default: a temporary file, removed
        when the process ends.
    memory_limit : str, optional
        DuckDB's memory limit (``"4GB"``); beyond it DuckDB spills to disk.
    threads : int, optional
        DuckDB's threads (default: all cores).
    as_of : date-like, optional
        Default: the latest event or order time.
    clean : bool, default False
        Clean the tables in SQL with the pandas engine's policy
        (:func:`~segexplore.engines.duckdb_clean.clean_in_duckdb`): the cleaned tables
        are copied into the database, the rejects kept as tables and the base's
        ``report`` tells every step. Default: read the files as they are.
    now, tz
        As for :func:`~segexplore.io.load.read_base` (with ``clean=True``).

    Raises
    ------
    FileFormatError
        A path holds no Parquet or CSV file.
    ValidationError
        ``contact_id`` is not unique, or a table lacks a canonical column.
    """
    import duckdb

    temporary = database is None
    if temporary:
        _remove_orphans()
        folder = tempfile.mkdtemp(prefix=_TEMPORARY_PREFIX)  # private: mode 0700
        Path(folder, _OWNER_FILE).write_text(str(os.getpid()), encoding="ascii")
        database = os.path.join(folder, "base.duckdb")
    connection = duckdb.connect(os.fspath(database))
    if temporary:  # the contacts are personal data: nothing stays behind
        atexit.register(_remove_temporary, connection, folder)
    else:  # nor the features (personal data too) of this session or of a crashed one
        _drop_features(connection, ours=False)
        atexit.register(_drop_features, connection, ours=True)
    settings = {"preserve_insertion_order": "true"}
    if memory_limit is not None:
        settings["memory_limit"] = f"'{_checked_size(memory_limit)}'"
    if threads is not None:
        if not isinstance(threads, int) or threads < 1:
            raise ParameterError(f"threads must be a whole number >= 1, not {threads!r}")
        settings["threads"] = str(threads)
    for key, value in settings.items():
        connection.execute(f"SET {key} = {value}")
    report = None
    if clean:
        files = {}
        for name, source in (("contacts", contacts), ("events", events), ("orders", orders)):
            if source is not None:
                connection.execute(f"CREATE OR REPLACE VIEW {name}_raw AS SELECT * FROM "
                                   f"{_source_sql(source, name)}")
                files[name] = Path(os.fspath(source)).name
        report = clean_in_duckdb(connection, events="events_raw" if events is not None
                                 else None, orders="orders_raw" if orders is not None
                                 else None, now=now, tz=tz, files=files)
    else:
        _contacts_view(connection, _source_sql(contacts, "contacts"))
    kinds: dict[str, dict[str, str]] = {}
    for name, source in (("events", events), ("orders", orders)):
        if clean and source is not None:
            continue  # cleaned: the table exists
        if source is None:
            # No contact_id (contacts not in the canonical columns): checked just below,
            # with a message that says so.
            found = connection.execute(
                "SELECT data_type FROM information_schema.columns WHERE table_name = "
                "'contacts' AND column_name = 'contact_id'").fetchall()
            id_type = found[0][0] if found else "VARCHAR"
            extra = ", CAST(NULL AS VARCHAR) AS event_type" if name == "events" else ""
            connection.execute(f"CREATE OR REPLACE VIEW {name} AS SELECT CAST(NULL AS "
                               f"{id_type}) AS contact_id, CAST(NULL AS TIMESTAMP) AS "
                               f"timestamp{extra} WHERE FALSE")
        else:
            connection.execute(f"CREATE OR REPLACE VIEW {name} AS SELECT * FROM "
                               f"{_source_sql(source, name)}")
    for name in ("contacts", "events", "orders"):
        kinds[name] = {column: duckdb_kind(kind) for column, kind in connection.execute(
            f"SELECT column_name, data_type FROM information_schema.columns WHERE "
            f"table_name = '{name}' ORDER BY ordinal_position").fetchall()}
    sources = {"contacts": contacts, "events": events, "orders": orders}
    for name, needed in (("contacts", ("contact_id",)), *ACTIVITY_COLUMNS.items()):
        missing = [c for c in needed if c not in kinds[name]]
        if missing:
            where = (f" ({os.fspath(sources[name])})"
                     if isinstance(sources[name], (str, os.PathLike)) else "")
            hint = ("" if clean else "; without clean=True the DuckDB engine reads the "
                    "canonical columns as they are (clean=True recognises common column "
                    "names and numbers contacts that have no id, as the pandas engine does)")
            found = [c for c in kinds[name] if c != POSITION][:12]
            raise ValidationError(f"{name}{where}: no column {missing[0]!r}, expected "
                                  f"{', '.join(needed)}; found {found}{hint}")
    n_contacts, n_ids = connection.execute(
        "SELECT count(*), count(DISTINCT contact_id) FROM contacts").fetchall()[0]
    if n_ids != n_contacts:
        raise ValidationError(f"contacts: contact_id is not unique ({n_contacts - n_ids:,} "
                              "repeated); clean=True merges duplicates by the cleaning "
                              "policy, or de-duplicate the file first")
    types, purchase_table = activity_types(connection)
    if as_of is None:
        latest = connection.execute(
            "SELECT max(t) FROM (SELECT max(timestamp) AS t FROM events UNION ALL "
            "SELECT max(timestamp) FROM orders)").fetchall()[0][0]
        as_of = pd.Timestamp(latest) if latest is not None else pd.Timestamp.now().normalize()
    store = _Store(connection, int(n_contacts), kinds, types, purchase_table,
                   os.fspath(database))
    store.report = report
    store.absent_tables = frozenset(name for name, source in (("events", events),
                                                              ("orders", orders))
                                    if source is None)
    base = DuckDBBase(store, as_of)
    base._contact_index()  # now, not in the first interactive count on events (1 s at 10M)
    return base


def activity_types(connection: Any, events: str = "events", orders: str | None = "orders",
                   *, rows: Callable[[str], list[tuple]] | None = None
                   ) -> tuple[list[str], str | None]:
    """The event types present (sorted) and where purchases come from: the events when they
    hold purchase rows, else the orders when they hold any, else nowhere (None).

    ``rows`` runs a query in another engine (a connected base's), instead of
    ``connection``; ``orders=None``: there are no orders.
    """
    run = rows or (lambda sql: connection.execute(sql).fetchall())
    # Not joined to the contacts: on 200M events the join costs 10 s, and a type only
    # unknown contacts have is then known, with no member.
    counted = run(f"SELECT event_type, count(*) FROM {events} WHERE timestamp IS NOT NULL "
                  f"GROUP BY event_type")
    types = {str(t) for t, n in counted if t is not None and n}
    purchase_table = "events" if "purchase" in types else None
    if purchase_table is None and orders is not None:
        (has_orders,), = run(f"SELECT count(*) FROM {orders} WHERE timestamp IS NOT NULL")
        if has_orders:
            purchase_table = "orders"
            types.add("purchase")
    return sorted(types), purchase_table


def _contacts_view(connection: Any, source: str) -> None:
    """``contacts``: the rows of the files, with ``position`` their order (file by file,
    in name order, then row by row).

    Parquet stays where it is: a view numbers the rows from ``file_row_number`` and a
    small table of where each file starts, so opening 10 million contacts reads only the
    files' footers. CSV has no row numbers to read back: it is copied into a table, whose
    ``rowid`` follows the file order.
    """
    if source.startswith("read_parquet("):
        numbered = source[:-1] + ", filename = true, file_row_number = true)"
        connection.execute(
            f"CREATE OR REPLACE TABLE contact_files AS SELECT filename, CAST(coalesce(sum("
            f"count(*)) OVER (ORDER BY filename ROWS BETWEEN UNBOUNDED PRECEDING AND 1 "
            f"PRECEDING), 0) AS BIGINT) AS first_row FROM {numbered} GROUP BY filename")
        connection.execute(
            f"CREATE OR REPLACE VIEW contacts AS SELECT p.* EXCLUDE (filename, "
            f"file_row_number), CAST(f.first_row + p.file_row_number AS BIGINT) AS {POSITION} "
            f"FROM {numbered} AS p JOIN contact_files AS f ON f.filename = p.filename")
        return
    connection.execute(f"CREATE OR REPLACE TABLE contacts_rows AS SELECT * FROM {source}")
    connection.execute(f"CREATE OR REPLACE VIEW contacts AS SELECT *, CAST(rowid AS BIGINT) "
                       f"AS {POSITION} FROM contacts_rows")


#: The feature tables kept in a database: ``<prefix><process id>_<number>``.
_FEATURES_PREFIX = "_segexplore_features_"
_feature_numbers = itertools.count(1)


def _drop_features(connection: Any, *, ours: bool) -> None:
    """Drop the feature tables kept in the database: this process's (``ours``: at exit), or
    every other process's (at opening: a crashed one's; DuckDB lets one process at a time
    write a file, so none of them is in use). Another base of this process on the same
    file keeps its own."""
    mine = f"{_FEATURES_PREFIX}{os.getpid()}_"
    with contextlib.suppress(Exception):  # at exit the connection may be closed
        for (name,) in connection.execute(
                "SELECT table_name FROM duckdb_tables() WHERE NOT temporary AND "
                "starts_with(table_name, ?)", [_FEATURES_PREFIX]).fetchall():
            if name.startswith(mine) == ours:
                connection.execute(f'DROP TABLE IF EXISTS "{name}"')


#: The temporary databases' folders (``<tmp>/segexplore-duckdb-XXXX``), and the file in
#: each that names the process owning it.
_TEMPORARY_PREFIX = "segexplore-duckdb-"
_OWNER_FILE = "owner.pid"


def _remove_temporary(connection: Any, folder: str) -> None:
    with contextlib.suppress(Exception):
        connection.close()
    shutil.rmtree(folder, ignore_errors=True)


def _remove_orphans() -> None:
    """Remove the temporary databases of processes that died without their exit handler
    (SIGKILL, or a SIGTERM such as a dashboard kernel culled): they hold the contacts'
    features, personal data. A folder whose owner still runs, or that names no owner, or
    that belongs to another user, is left alone. POSIX only (``os.kill(pid, 0)`` asks
    whether a process runs there; on Windows it would end it)."""
    if os.name != "posix":
        return
    for folder in Path(tempfile.gettempdir()).glob(f"{_TEMPORARY_PREFIX}*"):
        with contextlib.suppress(OSError, ValueError):
            if folder.stat().st_uid != os.getuid():
                continue
            owner = int((folder / _OWNER_FILE).read_text(encoding="ascii"))
            if not _running(owner):
                shutil.rmtree(folder, ignore_errors=True)


def _running(pid: int) -> bool:
    """Whether a process ``pid`` exists (a reused pid counts: the folder is then kept)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _checked_size(text: str) -> str:
    import re

    if not isinstance(text, str) or not re.fullmatch(r"\s*\d+(\.\d+)?\s*(KB|MB|GB|TB|KiB|MiB|"
                                                      r"GiB|TiB)\s*", text, re.IGNORECASE):
        raise ParameterError(f"memory_limit must be a size such as '4GB', not {text!r}")
    return text.strip()
