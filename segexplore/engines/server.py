"""A contact base whose tables stay where they live: PostgreSQL, Spark or a DuckDB connection.

:func:`connect` opens the user's ``contacts``, ``events`` and ``orders`` tables in place and
returns a :class:`ServerBase`: the behaviour features (the registry's SQL ported to the
engine, :mod:`segexplore.features.sql_dialects`), rule evaluation (compiled for the engine's
dialect by :mod:`segexplore.rules.engines.sql`), sizes, value counts and members run inside
the engine; only counts, small aggregates and the rows asked for travel to Python.

Read-only on the user's tables: what the base computes (the contacts' positions, the
feature tables) lives in temporary tables of the session (PostgreSQL, DuckDB), cached
temporary views (Spark), or tables of a ``scratch`` schema the user names, dropped by
:meth:`ServerBase.close`. Nothing of a connection's credentials is shown: reprs and errors
name the source with its password masked.

The contacts are in ``contact_id`` order (a server keeps no order of rows): ties in the RFM
ranks break by that order, as the pandas engine breaks them by the contacts' order.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import re
from collections.abc import Iterator, Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pandas as pd
from sqlglot import exp

from segexplore.engines.duckdb import ACTIVITY_COLUMNS, DuckDBSchema, activity_types, duckdb_kind
from segexplore.errors import (
    ParameterError,
    ParameterTypeError,
    SchemaError,
    SegexploreError,
    closest_name,
)
from segexplore.features.registry import FEATURES
from segexplore.features.sql import POSITION, as_pandas_features, feature_query
from segexplore.model import hooks
from segexplore.model.base import combined_suppressions, unerased_suppressions
from segexplore.model.erasures import ErasureLedger
from segexplore.rules import nodes as R
from segexplore.rules.engines.sql import compile_rule
from segexplore.rules.parser import parse
from segexplore.rules.walk import saved_rule_of

__all__ = ["CONNECT_FORMS", "ServerBase", "ServerSegment", "connect", "connect_source",
           "masked_source"]

_CANONICAL = {"contacts": ("contact_id",), **ACTIVITY_COLUMNS}
_names = itertools.count(1)


def masked_source(url: str) -> str:
    """``url`` with its password replaced by ``***``, as every message shows it.

    Examples
    --------
    >>> masked_source("postgresql://ana:s3cret@db.example:5432/crm")
    'postgresql://ana:***@db.example:5432/crm'
    >>> masked_source("host=db user=ana password=s3cret dbname=crm")
    'host=db user=ana password=*** dbname=crm'
    """
    if "://" in url:
        parts = urlsplit(url)
        if parts.password is not None:
            host = parts.netloc.rsplit("@", 1)[1]
            netloc = f"{parts.username or ''}:***@{host}"
            parts = parts._replace(netloc=netloc)
        query = re.sub(r"(?i)(password=)[^&]*", r"\1***", parts.query)
        return urlunsplit(parts._replace(query=query))
    return re.sub(r"(?i)(password\s*=\s*)('[^']*'|\S+)", r"\1***", url)


# --- the engines ----------------------------------------------------------------------------

class _Backend:
    """What a base asks of an engine: run a query, read its columns' kinds, keep a result
    aside (and drop it), read rows a batch at a time."""

    dialect = ""
    label = ""
    #: The engine's names of the text and the 64-bit float types.
    text_type = "VARCHAR"
    double_type = "DOUBLE"
    #: ``count(*)`` and an order-free sum of a hash of every row of ``{table} AS t``: what
    #: an export's manifest fingerprints a table by.
    digest_sql = ""

    def __init__(self, scratch: str | None) -> None:
        self.scratch = scratch
        self.made: list[str] = []  # what this base created, dropped by close()
        self.views: set[str] = set()  # those of them that are views

    def table(self, name: str, schema: str | None = None) -> str:
        return exp.table_(name, db=schema, quoted=True).sql(dialect=self.dialect)

    def rows(self, sql: str) -> list[tuple]:
        raise NotImplementedError

    def frame(self, sql: str) -> pd.DataFrame:
        raise NotImplementedError

    def batches(self, sql: str, size: int) -> Iterator[pd.DataFrame]:
        raise NotImplementedError

    def types(self, table: str) -> dict[str, str]:
        """Each column's type, spelt as DuckDB spells it (``BIGINT``, ``DOUBLE``,
        ``TIMESTAMP``, ``VARCHAR``...): what the count tables read to lay a column out as
        the pandas engine would hold it."""
        raise NotImplementedError

    def kinds(self, table: str) -> dict[str, str]:
        """Each column's rule kind (``number``, ``datetime``, ``bool``, ``text``)."""
        return {name: duckdb_kind(kind) for name, kind in self.types(table).items()}

    def keep(self, sql: str) -> str:
        """The result of ``sql`` kept as a new temporary (or scratch) table; its name."""
        name = f"segexplore_{next(_names)}"
        if self.scratch is not None:
            target = self.table(name, self.scratch)
            self._run(f"CREATE TABLE {target} AS {sql}")
        else:
            target = self._temporary(name, sql)
        self.made.append(target)
        return target

    def view(self, sql: str) -> str:
        """``sql`` as a new temporary view of the session (over the user's tables and
        what the base kept: never computed ahead, never written to a schema); its name."""
        target = self.table(f"segexplore_view_{next(_names)}")
        self._run(f"CREATE TEMPORARY VIEW {target} AS {sql}")
        self.made.append(target)
        self.views.add(target)
        return target

    def upload(self, frame: pd.DataFrame, kinds: Mapping[str, str]) -> str:
        """A small frame (a suppression list, erased positions) as a new kept table of
        the columns ``kinds`` names (``"text"`` or ``"number"``: BIGINT); its name."""
        name = f"segexplore_{next(_names)}"
        target = (self.table(name, self.scratch) if self.scratch is not None
                  else self.table(name))
        self._upload(target, frame[list(kinds)], kinds)
        self.made.append(target)
        return target

    def _upload(self, target: str, frame: pd.DataFrame, kinds: Mapping[str, str]) -> None:
        raise NotImplementedError

    def _column_types(self, kinds: Mapping[str, str]) -> str:
        return ", ".join(f"{self.quote(c)} {self.text_type if k == 'text' else 'BIGINT'}"
                         for c, k in kinds.items())

    def quote(self, name: str) -> str:
        return exp.to_identifier(name, quoted=True).sql(dialect=self.dialect)

    def literal(self, text: str) -> str:
        return exp.Literal.string(text).sql(dialect=self.dialect)

    # -- expressions that differ between the engines --------------------------------------
    def epoch_ns(self, expression: str) -> str:
        """Nanoseconds since 1970 of a timestamp or date (how count tables key dates)."""
        return f"epoch_ns(CAST({expression} AS TIMESTAMP_NS))"

    def not_nan(self, expression: str) -> str:
        """A float that is not NaN (NaN is missing to pandas)."""
        return f"NOT isnan({expression})"

    def split_tags(self, text: str, separator: str) -> str:
        """One row per tag of a multi-valued text (a set-returning expression)."""
        return f"unnest(string_split({text}, {self.literal(separator)}))"

    def digest(self, table: str) -> tuple[int, str]:
        """``(rows, content)`` of ``table``: see :attr:`digest_sql`."""
        (count, content), = self.rows(self.digest_sql.format(table=table))
        return int(count), str(content)

    def release(self, target: str) -> None:
        """Drop one kept table now (not waiting for :meth:`close`)."""
        if target in self.made:
            self.made.remove(target)
            self._drop(target)

    def drop_all(self) -> None:
        while self.made:  # the newest first: a view goes before what it reads
            self._drop(self.made.pop())

    def _run(self, sql: str) -> None:
        self.rows(sql)

    def _temporary(self, name: str, sql: str) -> str:
        self._run(f"CREATE TEMPORARY TABLE {self.table(name)} AS {sql}")
        return self.table(name)

    def _drop(self, target: str) -> None:
        kind = "VIEW" if target in self.views else "TABLE"
        self.views.discard(target)
        self._run(f"DROP {kind} IF EXISTS {target}")

    def close(self) -> None:
        self.drop_all()


#: PostgreSQL's type names as DuckDB spells them (any other type reads as text).
_PG_TYPES = {"bool": "BOOLEAN", "int2": "SMALLINT", "int4": "INTEGER", "int8": "BIGINT",
             "float4": "REAL", "float8": "DOUBLE", "numeric": "DECIMAL",
             "timestamp": "TIMESTAMP", "timestamptz": "TIMESTAMP", "date": "DATE"}


class _Postgres(_Backend):
    dialect = "postgres"
    text_type = "TEXT"
    double_type = "DOUBLE PRECISION"
    digest_sql = ("SELECT count(*), CAST(coalesce(sum(hashtextextended(CAST(t AS TEXT), 0)), "
                  "0) AS TEXT) FROM {table} AS t")

    def __init__(self, connection: Any, label: str, owned: bool, scratch: str | None) -> None:
        super().__init__(scratch)
        self.connection, self.label, self.owned = connection, label, owned

    def keep(self, sql: str) -> str:
        target = super().keep(sql)
        # Autovacuum never analyses temporary tables: without statistics the planner
        # guesses their size and may loop over one table for each row of another.
        self._run(f"ANALYZE {target}")
        return target

    def rows(self, sql: str) -> list[tuple]:
        with self.connection.transaction(), self.connection.cursor() as cursor:
            cursor.execute(sql, prepare=False)
            return cursor.fetchall() if cursor.description is not None else []

    def frame(self, sql: str) -> pd.DataFrame:
        with self.connection.transaction(), self.connection.cursor() as cursor:
            cursor.execute(sql, prepare=False)
            return pd.DataFrame(cursor.fetchall(), columns=[c.name for c in cursor.description])

    def batches(self, sql: str, size: int) -> Iterator[pd.DataFrame]:
        # A server-side cursor: the server holds the result, `size` rows come at a time.
        with self.connection.transaction(), self.connection.cursor(
                name=f"segexplore_rows_{next(_names)}") as cursor:
            cursor.execute(sql)
            columns = None
            while rows := cursor.fetchmany(size):
                columns = columns or [c.name for c in cursor.description]
                yield pd.DataFrame(rows, columns=columns)

    def epoch_ns(self, expression: str) -> str:
        # microseconds: what PostgreSQL holds
        return (f"CAST(round(EXTRACT(EPOCH FROM CAST({expression} AS TIMESTAMP)) * 1000000) "
                f"AS BIGINT) * 1000")

    def not_nan(self, expression: str) -> str:
        return f"{expression} <> CAST('NaN' AS {self.double_type})"

    def split_tags(self, text: str, separator: str) -> str:
        return f"unnest(string_to_array({text}, {self.literal(separator)}))"

    def _upload(self, target: str, frame: pd.DataFrame, kinds: Mapping[str, str]) -> None:
        temporary = "" if self.scratch is not None else "TEMPORARY "
        self._run(f"CREATE {temporary}TABLE {target} ({self._column_types(kinds)})")
        names = ", ".join(self.quote(c) for c in kinds)
        with self.connection.transaction(), self.connection.cursor() as cursor, \
                cursor.copy(f"COPY {target} ({names}) FROM STDIN") as loading:
            for row in frame.astype(object).itertuples(index=False):
                loading.write_row([None if pd.isna(v) else v for v in row])
        self._run(f"ANALYZE {target}")  # see keep()

    def types(self, table: str) -> dict[str, str]:
        known = self.connection.adapters.types
        with self.connection.transaction(), self.connection.cursor() as cursor:
            cursor.execute(f"SELECT * FROM {table} LIMIT 0", prepare=False)
            out = {}
            for column in cursor.description:
                info = known.get(column.type_code)
                out[column.name] = _PG_TYPES.get(info.name if info else "", "VARCHAR")
            return out

    def close(self) -> None:
        try:
            if not self.connection.closed:
                super().close()
        finally:
            if self.owned:
                self.connection.close()


#: Spark's type names as DuckDB spells them (any other type reads as text).
_SPARK_TYPES = {"boolean": "BOOLEAN", "byte": "TINYINT", "short": "SMALLINT",
                "integer": "INTEGER", "long": "BIGINT", "float": "REAL", "double": "DOUBLE",
                "decimal": "DECIMAL", "timestamp": "TIMESTAMP", "timestamp_ntz": "TIMESTAMP",
                "date": "DATE"}


class _Spark(_Backend):
    dialect = "spark"
    text_type = "STRING"
    digest_sql = ("SELECT count(*), CAST(coalesce(sum(CAST(xxhash64(*) AS DECIMAL(38, 0))), 0) "
                  "AS STRING) FROM {table} AS t")

    def __init__(self, session: Any, scratch: str | None) -> None:
        super().__init__(scratch)
        self.session = session
        self.label = f"Spark {session.version} ({session.sparkContext.master})"

    def table(self, name: str, schema: str | None = None) -> str:
        return ".".join(f"`{part}`" for part in ([schema] if schema else []) + [name])

    def rows(self, sql: str) -> list[tuple]:
        return [tuple(row) for row in self.session.sql(sql).collect()]

    def frame(self, sql: str) -> pd.DataFrame:
        return self.session.sql(sql).toPandas()

    def batches(self, sql: str, size: int) -> Iterator[pd.DataFrame]:
        result = self.session.sql(sql)
        columns = result.columns
        rows = result.toLocalIterator()  # a partition at a time reaches the driver
        while chunk := list(itertools.islice(rows, size)):
            yield pd.DataFrame([tuple(row) for row in chunk], columns=columns)

    def types(self, table: str) -> dict[str, str]:
        schema = self.session.sql(f"SELECT * FROM {table} LIMIT 0").schema
        return {field.name: _SPARK_TYPES.get(field.dataType.typeName(), "VARCHAR")
                for field in schema.fields}

    def epoch_ns(self, expression: str) -> str:
        return f"unix_micros(CAST({expression} AS TIMESTAMP)) * 1000"

    def split_tags(self, text: str, separator: str) -> str:
        # split() reads a Java regular expression: the separator quoted as plain text
        return f"explode(split({text}, {self.literal(chr(92) + 'Q' + separator + chr(92) + 'E')}))"

    def _upload(self, target: str, frame: pd.DataFrame, kinds: Mapping[str, str]) -> None:
        from pyspark.sql import types as T

        schema = T.StructType([T.StructField(c, T.StringType() if k == "text"
                                             else T.LongType()) for c, k in kinds.items()])
        rows = [tuple(None if pd.isna(v) else (str(v) if kinds[c] == "text" else int(v))
                      for c, v in zip(kinds, row, strict=True))
                for row in frame.astype(object).itertuples(index=False)]
        data = self.session.createDataFrame(rows, schema)
        if self.scratch is not None:
            data.write.saveAsTable(target)
        else:
            data.createOrReplaceTempView(target.strip("`"))

    def _temporary(self, name: str, sql: str) -> str:
        # A temporary view of this session only, over the result computed now and kept
        # by the executors (a local checkpoint): later queries neither plan nor run the
        # feature query again (a cached view of it still cost seconds of planning each).
        self.session.sql(sql).localCheckpoint(eager=True).createOrReplaceTempView(name)
        return self.table(name)

    def _drop(self, target: str) -> None:
        self.views.discard(target)
        if self.scratch is not None and target.startswith(f"`{self.scratch}`."):
            self._run(f"DROP TABLE IF EXISTS {target}")
            return
        self.session.catalog.dropTempView(target.strip("`"))


class _DuckDB(_Backend):
    dialect = "duckdb"
    digest_sql = ("SELECT count(*), CAST(coalesce(sum(hash(t)), 0) AS VARCHAR) "
                  "FROM {table} AS t")

    def __init__(self, connection: Any, scratch: str | None) -> None:
        super().__init__(scratch)
        self.connection = connection
        self.label = "DuckDB connection"

    def rows(self, sql: str) -> list[tuple]:
        return self.connection.execute(sql).fetchall()

    def frame(self, sql: str) -> pd.DataFrame:
        return self.connection.execute(sql).df()

    def batches(self, sql: str, size: int) -> Iterator[pd.DataFrame]:
        # On the connection itself: its registered frames and temporary tables are its own
        # (a cursor is another connection); no other query may run before the last batch.
        result = self.connection.execute(sql)
        columns = [c[0] for c in result.description]
        while rows := result.fetchmany(size):
            yield pd.DataFrame(rows, columns=columns)

    def _upload(self, target: str, frame: pd.DataFrame, kinds: Mapping[str, str]) -> None:
        temporary = "" if self.scratch is not None else "TEMPORARY "
        self._run(f"CREATE {temporary}TABLE {target} ({self._column_types(kinds)})")
        if len(frame):
            view = f"segexplore_upload_{next(_names)}"
            self.connection.register(view, frame.astype(object))
            try:
                self._run(f"INSERT INTO {target} SELECT * FROM {view}")
            finally:
                self.connection.unregister(view)

    def types(self, table: str) -> dict[str, str]:
        described = self.connection.execute(f"DESCRIBE SELECT * FROM {table}").fetchall()
        return {row[0]: str(row[1]) for row in described}


def _backend(source: Any, scratch: str | None) -> _Backend:
    if isinstance(source, str):
        if not source.startswith(("postgresql://", "postgres://")):
            raise ParameterError(f"source: a postgresql:// URL, a psycopg connection, a "
                                 f"SparkSession or a DuckDB connection, not "
                                 f"{masked_source(source)!r}")
        import psycopg

        label = masked_source(source)
        try:
            connection = psycopg.connect(source, autocommit=True)
        except psycopg.Error as error:
            # psycopg's message may quote the connection string: name the masked one only.
            reason = masked_source(str(error).strip().splitlines()[0] if str(error) else "")
            raise SegexploreError(f"{label}: cannot connect ({reason})") from None
        return _Postgres(connection, label, owned=True, scratch=scratch)
    kind = f"{type(source).__module__}.{type(source).__qualname__}"
    if kind.startswith("psycopg."):
        info = source.info
        label = f"postgresql://{info.user}@{info.host}:{info.port}/{info.dbname}"
        return _Postgres(source, label, owned=False, scratch=scratch)
    if kind.startswith("pyspark.sql") and hasattr(source, "sparkContext"):
        return _Spark(source, scratch)
    if kind.startswith(("duckdb.", "_duckdb.")):
        return _DuckDB(source, scratch)
    raise ParameterTypeError(f"source: a postgresql:// URL, a psycopg connection, a "
                             f"SparkSession or a DuckDB connection, not {kind}")


# --- the base -------------------------------------------------------------------------------

class _Store:
    """What every date's view of one connected base shares."""

    def __init__(self, backend: _Backend, tables: dict[str, str], kinds: dict[str, dict],
                 n_contacts: int, event_types: list[str], purchase_table: str | None) -> None:
        self.backend = backend
        self.tables = tables  # contacts, events, orders: the user's (read only), or views
        self.source_tables = dict(tables)  # the user's, which an erasure leaves as they are
        self.kinds = kinds
        self.contact_columns = list(kinds["contacts"])
        self.n_contacts = n_contacts
        self.event_types = event_types
        self.purchase_table = purchase_table
        self.segments: dict[str, Any] = {}
        self.positioned: str | None = None  # the contacts with their position
        self.feature_tables: dict[int, str] = {}
        self.counts: dict[tuple, int] = {}
        # The salted hashes of the people erased (segexplore.engines.server_privacy): the
        # views that replace the tables leave them out, and exports check the ledger too.
        self.erasures = ErasureLedger()


def connect(source: Any, contacts: str = "contacts", events: str = "events",
            orders: str | None = "orders", *, schema: str | None = None,
            scratch: str | None = None, as_of: Any = None) -> ServerBase:
    """Open a contact base in the engine that holds it, without copying it out.

    Parameters
    ----------
    source : str or connection
        A ``postgresql://`` URL, a psycopg 3 connection, a ``pyspark.sql.SparkSession`` or
        a DuckDB connection.
    contacts, events, orders : str
        The tables, in the canonical columns (``contact_id``; ``contact_id``, ``timestamp``,
        ``event_type``; ``contact_id``, ``timestamp``). ``orders=None``: there are none.
    schema : str, optional
        The schema (database, in Spark) of the tables.
    scratch : str, optional
        A schema the base may create tables in (dropped by :meth:`ServerBase.close`);
        without it, temporary tables of the session, which need no right to write.
    as_of : date-like, optional
        Default: the latest event or order.

    Examples
    --------
    >>> import duckdb, segexplore as se
    >>> sample = se.load_sample()
    >>> db = duckdb.connect()
    >>> for name in ("contacts", "events"):
    ...     db.register(name, getattr(sample, name))
    <...>
    >>> with se.connect(db, orders=None, as_of=sample.as_of) as base:
    ...     base.segment('city = "Lyon"').size == sample.segment('city = "Lyon"').size
    True
    """
    backend = _backend(source, scratch)
    try:
        names = {"contacts": contacts, "events": events, "orders": orders}
        tables = {key: backend.table(name, schema) for key, name in names.items()
                  if name is not None}
        kinds = {}
        for key, table in tables.items():
            try:
                kinds[key] = backend.kinds(table)
            except Exception as error:  # the engine's own error, its message masked
                raise SchemaError(f"{backend.label}: cannot read the {key} table {table} "
                                  f"({masked_source(str(error).splitlines()[0])})") from None
            missing = [c for c in _CANONICAL[key] if c not in kinds[key]]
            if missing:
                raise SchemaError(f"{backend.label}: the {key} table {table} has no column "
                                  f"{missing[0]!r} (expected {list(_CANONICAL[key])})")
        if POSITION in kinds["contacts"]:
            raise SchemaError(f"{backend.label}: the contacts table {tables['contacts']} has "
                              f"a column {POSITION!r}, the name segexplore gives the "
                              "contacts' order; rename it in a view")
        (total, distinct), = backend.rows(
            f"SELECT count(*), count(DISTINCT contact_id) FROM {tables['contacts']}")
        if total != distinct:
            raise SchemaError(f"{backend.label}: contact_id of {tables['contacts']} is not "
                              f"unique ({total - distinct:,} rows repeat an id): de-duplicate "
                              "it first, so that nobody is counted twice")
        types, purchase_table = activity_types(None, tables["events"], tables.get("orders"),
                                               rows=backend.rows)
        store = _Store(backend, tables, kinds, int(total), types, purchase_table)
        if as_of is None:
            latest = [f"SELECT max(timestamp) AS t FROM {tables[key]}"
                      for key in ("events", "orders") if key in tables]
            (stamp,), = backend.rows(f"SELECT max(t) FROM ({' UNION ALL '.join(latest)}) AS x")
            as_of = stamp if stamp is not None else pd.Timestamp.now().normalize()
        return ServerBase(store, as_of)
    except BaseException:
        backend.close()
        raise


#: The form of ``--connect SOURCE``, for the messages.
CONNECT_FORMS = ("postgresql://USER@HOST:PORT/DATABASE (the password from PGPASSWORD or "
                 "~/.pgpass, not the command line), env:VARIABLE (the URL in that "
                 "environment variable) or duckdb:PATH (a DuckDB database file, read only)")


def connect_source(source: str, *, tables: str | None = None,
                   schema: str | None = None) -> ServerBase:
    """The connected base a text names (``segexplore ... --connect SOURCE``, a dashboard's
    ``SEGEXPLORE_CONNECT``; see :data:`CONNECT_FORMS`); ``tables``:
    ``CONTACTS,EVENTS[,ORDERS]`` (default ``contacts,events,orders``).

    Examples
    --------
    >>> connect_source("mysql://u:secret@h/db")
    Traceback (most recent call last):
    ...
    segexplore.errors.ParameterError: --connect: expected postgresql://USER@HOST:PORT/DATABASE (the password from PGPASSWORD or ~/.pgpass, not the command line), env:VARIABLE (the URL in that environment variable) or duckdb:PATH (a DuckDB database file, read only), not 'mysql://u:***@h/db'
    """
    import os
    from pathlib import Path

    names = [t.strip() for t in (tables or "contacts,events,orders").split(",")]
    if len(names) not in (2, 3) or not all(names):
        raise ParameterError(f"--tables: CONTACTS,EVENTS or CONTACTS,EVENTS,ORDERS, not "
                             f"{tables!r}")
    if source.startswith("env:"):
        variable = source[len("env:"):]
        if not os.environ.get(variable):
            raise ParameterError(f"--connect {source}: the environment variable "
                                 f"{variable!r} is not set")
        source = os.environ[variable]
    if source.startswith("duckdb:"):
        import duckdb

        path = Path(source[len("duckdb:"):])
        if not path.is_file():
            raise ParameterError(f"--connect: no DuckDB database file {path}")
        target: Any = duckdb.connect(str(path), read_only=True)
    elif source.startswith(("postgresql://", "postgres://")):
        target = source
    else:
        raise ParameterError(f"--connect: expected {CONNECT_FORMS}, not "
                             f"{masked_source(source)!r}")
    return connect(target, names[0], names[1], names[2] if len(names) == 3 else None,
                   schema=schema)


class ServerBase:
    """A contact base whose tables stay in the engine that holds them (see :func:`connect`).

    ``segment(rule)`` gives a :class:`ServerSegment` (size, share, members); ``count``,
    ``value_counts`` and ``features`` run in the engine too. Close it (or use ``with``) to
    drop what it created.
    """

    def __init__(self, store: _Store, as_of: Any,
                 suppressions: pd.DataFrame | None = None) -> None:
        self._store = store
        self._suppressions = suppressions
        stamp = pd.Timestamp(as_of)
        self._as_of = stamp.tz_convert("UTC").tz_localize(None) if stamp.tzinfo else stamp

    # -- what the rule compiler and the segments ask --------------------------------------
    @property
    def engine(self) -> str:
        """The engine's dialect: ``"postgres"``, ``"spark"`` or ``"duckdb"``."""
        return self._store.backend.dialect

    @property
    def as_of(self) -> pd.Timestamp:
        return self._as_of

    @property
    def segments(self) -> dict[str, Any]:
        return self._store.segments

    @property
    def contact_columns(self) -> list[str]:
        return list(self._store.contact_columns)

    @property
    def contact_count(self) -> int:
        return self._store.n_contacts

    def at(self, as_of: Any) -> ServerBase:
        """The same tables as of another date (features and counts of that date)."""
        return ServerBase(self._store, as_of, self._suppressions)

    # -- what an export asks ---------------------------------------------------------------
    @property
    def suppressions(self) -> pd.DataFrame:
        """The suppression lists of this base (``email, reason, date``), one row per email
        listed (see :meth:`with_suppressions`); people erased since are not in it."""
        return unerased_suppressions(self._suppressions, self.erasures)

    def with_suppressions(self, source: Any, **read_options: Any) -> ServerBase:
        """The same base with a suppression list added (a file, a DataFrame or a list of
        emails, read by :func:`segexplore.delivery.suppressions.read_suppressions`): every
        export and waterfall of the new base leaves these emails out."""
        combined = combined_suppressions(
            self._suppressions, hooks.get("read_suppressions")(source, **read_options))
        return ServerBase(self._store, self.as_of, combined)

    @property
    def erasures(self) -> ErasureLedger:
        """Salted hashes of the people erased from this base (by
        :func:`~segexplore.delivery.privacy.forget`, which leaves the user's tables as
        they are: see :mod:`segexplore.engines.server_privacy`)."""
        return self._store.erasures

    @property
    def report(self) -> None:
        """None: a connected base is read as its tables are, without a cleaning report."""
        return None

    @property
    def _tables(self) -> _Store:
        # what a manifest's data fingerprint is cached by (one per base and date)
        return self._store

    def fingerprint(self) -> dict[str, Any]:
        """What an export's manifest records of the data: per table ``rows``, ``columns``,
        ``method`` and ``sha256`` (of the rows counted and hashed in the engine: an edited
        value changes it), and ``sha256`` combining them and ``as_of``."""
        store = self._store
        backend = store.backend
        method = f"{backend.label}: count(*) and a sum of row hashes per table, column " \
                 "names and kinds, through sha256"
        out: dict[str, Any] = {"method": method}
        combined = hashlib.sha256()
        for name in ("contacts", "events", "orders"):
            if name not in store.tables:
                continue
            count, content = backend.digest(store.tables[name])
            kinds = list(store.kinds[name].items())
            digest = hashlib.sha256(json.dumps([kinds, count, content]).encode()).hexdigest()
            out[name] = {"rows": count, "columns": len(kinds), "method": "rows",
                         "sha256": digest}
            combined.update(digest.encode())
        combined.update(str(self.as_of).encode())
        out["sha256"] = combined.hexdigest()
        return out

    def rule_schema(self, segments: Mapping[str, Any] | None = None,
                    as_of: Any = None) -> DuckDBSchema:
        """What :func:`~segexplore.rules.check.check_rule` checks a rule against."""
        return DuckDBSchema(self, segments, as_of)

    # -- rules ---------------------------------------------------------------------------
    def sql(self, rule: Any, *, select: str = "contact_id") -> str:
        """The engine's query selecting the members' ``contact_id``."""
        rule = parse(rule) if isinstance(rule, str) else rule
        store = self._store
        needs: dict[str, bool] = {}
        tables = {key: self._named(target) for key, target in store.tables.items()}
        compile_rule(rule, self, dialect=self.engine, tables=tables, needs=needs)
        if needs["features"]:
            tables["features"] = self._named(self.feature_table)
        return compile_rule(rule, self, dialect=self.engine, tables=tables, select=select)

    def count(self, rule: Any) -> int:
        """How many contacts ``rule`` selects: counted in the engine (kept for the date)."""
        rule = parse(rule) if isinstance(rule, str) else rule
        definitions = tuple((name, str(saved_rule_of(segment)))
                            for name, segment in self.segments.items())
        key = (int(self.as_of.value), str(rule), definitions)
        counts = self._store.counts
        if key not in counts:
            (n,), = self._store.backend.rows(f"SELECT count(*) FROM ({self.sql(rule)}) AS m")
            counts[key] = int(n)
        return counts[key]

    def segment(self, rule: Any, *, name: str | None = None, description: str = "",
                parent: Any = None, save: bool = True) -> ServerSegment:
        """The contacts ``rule`` selects, evaluated in the engine; saved under ``name``
        (unless ``save=False``).

        ``parent``: a segment (or the name of one saved on this base) whose members this
        one is taken from (its effective rule is the parent's AND ``rule``)."""
        text = rule if isinstance(rule, str) else None
        parsed = parse(rule) if isinstance(rule, str) else rule
        if not isinstance(parsed, R.Rule):
            raise ParameterTypeError(f"rule: a rule or its text, not {type(rule).__name__}")
        if isinstance(parent, str):
            if parent not in self.segments:
                raise SchemaError(f"parent: no segment {parent!r} is saved on this base "
                                  f"(saved: {sorted(self.segments)})")
            parent = self.segments[parent]
        if parent is not None and not isinstance(parent, ServerSegment):
            raise ParameterTypeError(f"parent: a segment of this base or its name, not "
                                     f"{type(parent).__name__}")
        text = text or str(parsed)
        # unnamed: named by its rule text, as on a pandas base (not saved)
        segment = ServerSegment(self, parsed, name=name if name is not None else text,
                                description=description, text=text, parent=parent)
        self.sql(segment.effective_rule)  # checked now: an unknown column fails here
        if name is not None and save:
            self._store.segments[name] = segment
        return segment

    def table_of(self, name: str) -> str:
        """The engine's table holding a contact column (the contacts with their position)
        or a feature (this date's feature table, computed the first time)."""
        if name in self._store.kinds["contacts"]:
            return self._positioned()
        if name in FEATURES:
            return self.feature_table
        guess = closest_name(name, [*self._store.kinds["contacts"], *FEATURES])
        hint = f"; did you mean {guess!r}?" if guess else ""
        raise SchemaError(f"{name!r} is neither a contact column nor a feature{hint}")

    def event_table(self, event_type: str) -> str:
        """The engine's table of ``event_type``'s events: the orders for purchases read
        from them, else the events."""
        store = self._store
        if event_type == "purchase" and store.purchase_table == "orders":
            return store.tables["orders"]
        return store.tables["events"]

    def segment_ids(self, segment: ServerSegment) -> pd.Series:
        """The contact ids of ``segment``'s members, in ``contact_id`` order (streamed)."""
        frames = list(self.member_batches(segment.effective_rule, ["contact_id"],
                                          size=1_000_000))
        return (pd.concat(frames, ignore_index=True)["contact_id"] if frames
                else pd.Series([], dtype=object, name="contact_id"))

    # -- features ------------------------------------------------------------------------
    @property
    def feature_table(self) -> str:
        """The engine's table of this date's features (computed the first time)."""
        store = self._store
        key = int(self.as_of.value)
        if key not in store.feature_tables:
            columns = {name: list(kinds) for name, kinds in store.kinds.items()}
            columns["contacts"] = [*columns["contacts"], POSITION]
            tables = {key: self._named(target) for key, target in
                      {**store.tables, "contacts": self._positioned()}.items()}
            query = feature_query(self.as_of, columns=columns, tables=tables,
                                  purchases_from=store.purchase_table, dialect=self.engine)
            store.feature_tables[key] = store.backend.keep(query)
        return store.feature_tables[key]

    def _named(self, target: str) -> str:
        """A table's name as the compiler and the feature query read it: sqlglot's own
        dialect (``"schema"."name"``), which they write out in the engine's."""
        return exp.to_table(target, dialect=self.engine).sql()

    def _positioned(self) -> str:
        """The contacts with their ``position``: their rank by ``contact_id``, from 0."""
        store = self._store
        if store.positioned is None:
            store.positioned = store.backend.keep(
                f"SELECT c.*, row_number() OVER (ORDER BY c.contact_id) - 1 AS {POSITION} "
                f"FROM {store.tables['contacts']} AS c")
        return store.positioned

    @property
    def features(self) -> pd.DataFrame:
        """Every contact's features as a DataFrame, in ``contact_id`` order: the whole
        table travels, so for bases that fit in memory; rules read them in the engine."""
        raw = self._store.backend.frame(f"SELECT * FROM {self.feature_table} "
                                        f"ORDER BY {POSITION}")
        return as_pandas_features(raw)

    # -- aggregates and rows -------------------------------------------------------------
    def value_counts(self, column: str, rule: Any = None) -> pd.Series:
        """How many contacts (of ``rule``'s members, or all) have each value of a contact
        column or a feature: grouped in the engine, sorted by value (missing last)."""
        store = self._store
        if column in store.kinds["contacts"]:
            source = store.tables["contacts"]
        elif column in FEATURES:
            source = self.feature_table
        else:
            raise SchemaError(f"column: {column!r} is neither a contact column nor a feature")
        name = exp.to_identifier(column, quoted=True).sql(dialect=self.engine)
        where = (f" WHERE t.contact_id IN ({self.sql(rule)})" if rule is not None else "")
        rows = store.backend.rows(f"SELECT t.{name}, count(*) FROM {source} AS t{where} "
                                  f"GROUP BY t.{name}")
        counts = pd.Series({value: int(n) for value, n in rows}, name="count", dtype="int64")
        known = counts[[v is not None for v in counts.index]].sort_index()
        return pd.concat([known, counts[[v is None for v in counts.index]]])

    def members(self, rule: Any, columns: Sequence[str] | None = None,
                limit: int | None = None) -> pd.DataFrame:
        """The members' contact columns and features, in ``contact_id`` order."""
        return pd.concat(list(self.member_batches(rule, columns, limit=limit)) or
                         [pd.DataFrame(columns=self._columns(columns))], ignore_index=True)

    def member_batches(self, rule: Any, columns: Sequence[str] | None = None, *,
                       size: int = 100_000, limit: int | None = None
                       ) -> Iterator[pd.DataFrame]:
        """The members' rows ``size`` at a time, streamed from the engine (a server-side
        cursor on PostgreSQL, ``toLocalIterator`` on Spark): for exports of any size."""
        wanted = self._columns(columns)
        store, dialect = self._store, self.engine
        quoted = {c: exp.to_identifier(c, quoted=True).sql(dialect=dialect) for c in wanted}
        picked = [f"c.{quoted[c]}" if c in store.kinds["contacts"] else f"f.{quoted[c]}"
                  for c in wanted]
        join = ""
        if any(c not in store.kinds["contacts"] for c in wanted):
            join = f" LEFT JOIN {self.feature_table} AS f ON f.contact_id = c.contact_id"
        sql = (f"SELECT {', '.join(picked)} FROM {store.tables['contacts']} AS c{join} "
               f"WHERE c.contact_id IN ({self.sql(rule)}) ORDER BY c.contact_id"
               + (f" LIMIT {int(limit)}" if limit is not None else ""))
        yield from store.backend.batches(sql, size)

    def _columns(self, columns: Sequence[str] | None) -> list[str]:
        known = self._store.kinds["contacts"]
        wanted = list(dict.fromkeys(columns)) if columns is not None else list(known)
        unknown = [c for c in wanted if c not in known and c not in FEATURES]
        if unknown:
            raise SchemaError(f"columns: {unknown[0]!r} is neither a contact column nor a "
                              "feature")
        return wanted

    def profile(self, **options: Any):
        """A :class:`~segexplore.analysis.profile.Profile` of every contact column and
        feature, from counts grouped in the engine (the pandas engine's numbers)."""
        return hooks.get("profile")(self, **options)

    # -- life ----------------------------------------------------------------------------
    def close(self) -> None:
        """Drop what the base created (positions, feature tables); close a connection it
        opened from a URL."""
        store = self._store
        store.backend.close()
        store.positioned = None
        store.feature_tables.clear()
        store.counts.clear()

    def __enter__(self) -> ServerBase:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        store = self._store
        tables = ", ".join(f"{k} {v}" for k, v in store.tables.items())
        return (f"ServerBase on {store.backend.label} as of {self.as_of:%Y-%m-%d %H:%M}: "
                f"{store.n_contacts:,} contacts ({tables})")


class ServerSegment:
    """The contacts a rule selects on a :class:`ServerBase`: counted and read in the engine."""

    def __init__(self, base: ServerBase, rule: R.Rule, *, name: str | None,
                 description: str, text: str, parent: ServerSegment | None = None) -> None:
        self.base, self.rule, self.name, self.parent = base, rule, name, parent
        self.description, self.text = description, text

    @property
    def effective_rule(self) -> R.Rule:
        """The parent's effective rule AND this rule (what ``segment("name")`` of another
        rule stands for)."""
        return self.rule if self.parent is None else self.parent.effective_rule & self.rule

    @property
    def sql(self) -> str:
        """The engine's query of the members' ids."""
        return self.base.sql(self.effective_rule)

    @property
    def size(self) -> int:
        return self.base.count(self.effective_rule)

    @property
    def share(self) -> float:
        total = self.base.contact_count
        return self.size / total if total else 0.0

    def members(self, columns: Sequence[str] | None = None,
                limit: int | None = None) -> pd.DataFrame:
        return self.base.members(self.effective_rule, columns, limit=limit)

    def profile(self, **options: Any):
        """A :class:`~segexplore.analysis.profile.Profile` of the members, from counts
        grouped in the engine."""
        return hooks.get("profile")(self, **options)

    def value_counts(self, column: str) -> pd.Series:
        return self.base.value_counts(column, self.effective_rule)

    def explain(self, contact: Any) -> pd.DataFrame:
        """Why one contact (email or contact_id) is in this segment or not: one row per
        condition of the rule, asked of the engine (see
        :func:`segexplore.rules.explain.explain`)."""
        return hooks.get("explain")(self, self.base, contact)

    def freeze(self, name: str, *, folder: Any = None, description: str = ""):
        """Fix the members now, as a static segment ``name`` saved on the base (see
        :mod:`segexplore.delivery.lists`): their ids are read from the engine."""
        return hooks.get("freeze")(self, name, folder=folder, description=description)

    def waterfall(self, **options: Any):
        """Valid email -> consented -> not suppressed -> de-duplicated -> exported, counted
        in the engine (see :func:`~segexplore.delivery.waterfall.sendable_waterfall`)."""
        return hooks.get("sendable_waterfall")(self, **options)

    def to_csv(self, path: Any, **options: Any):
        """Write the members who may be emailed, with a manifest: the rows stream from the
        engine (see :func:`segexplore.delivery.export.export_segment` for the options)."""
        return hooks.get("export_segment")(self, path, **options)

    def split(self, **options: Any) -> pd.DataFrame:
        """Seeded random A/B/holdout split of the sendable members (see
        :func:`segexplore.delivery.split.split`): their ids and strata come from the
        engine."""
        return hooks.get("split")(self, **options)

    def export_split(self, directory: Any, **options: Any):
        """One file per split group, the split in each manifest (see
        :func:`segexplore.delivery.split.export_split`)."""
        return hooks.get("export_split")(self, directory, **options)

    def __repr__(self) -> str:
        label = f"Segment {self.name!r}" if self.name != self.text else "Segment"
        return (f"{label}: {self.size:,} contacts ({self.share:.1%} of the base) in "
                f"{self.base.engine}, as of {self.base.as_of:%Y-%m-%d}\n  rule: {self.text}")
