"""Real database servers for the engine-parity tests: a throwaway PostgreSQL 15 cluster and a
local Spark session, both session-scoped (imported by the tests that use them: a
``conftest.py`` here would shadow ``tests/conftest.py``, which tests import by name).

Nothing is mocked and nothing is skipped: a missing server binary, Java or driver is an
error (``.ci/run`` installs ``postgresql`` and ``openjdk-17-jre-headless`` from Debian,
``pip install -e .[test]`` psycopg 3 and pyspark).

- ``postgres``: ``initdb`` and ``pg_ctl`` from ``/usr/lib/postgresql/15/bin`` (or
  ``$SEGEXPLORE_PG_BIN``) on a data folder in a private temporary folder (mode 0700),
  run as ``nobody`` when the tests run as root (PostgreSQL refuses root), listening on
  127.0.0.1 only, on a free port, trust authentication for local connections only. The
  cluster's default collation is ICU ``en-US``, as most production databases sort text
  (not byte order, which would hide collation bugs). Stopped and removed at the end of
  the session, also when a test or the start fails.
- ``spark``: a ``SparkSession`` in ``local[2]`` mode, UI off, 4 shuffle partitions,
  session time zone UTC, driver on 127.0.0.1, log4j at ERROR, a 3 GB driver heap; one
  JVM for the session (started by the first module that asks, stopped at exit), and each
  module's cached tables, temporary views and checkpoints released when it ends, so that
  no module runs on a heap the earlier ones filled (the default 1 GB heap, full of
  earlier modules' caches, is the likeliest cause of a CI run that stalled in
  tests/engines/test_server_features.py after the Spark tests of test_connect.py).

``load_postgres`` and ``load_spark`` load DataFrames as tables (COPY; Arrow temp views),
``sql_tables`` gives the tables a compiled rule reads (``rules.engines.sql``): the
contacts, events, orders and the pandas engine's features with their ``contact_id``.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from segexplore.model.roles import value_kind

PG_BIN = Path(os.environ.get("SEGEXPLORE_PG_BIN", "/usr/lib/postgresql/15/bin"))
#: The unprivileged user the cluster runs as when the tests run as root.
PG_OS_USER = "nobody"


# --- the tables a compiled rule reads ------------------------------------------------------

def sql_tables(base: Any) -> dict[str, pd.DataFrame]:
    """``contacts``, ``events``, ``orders`` and ``features`` of a pandas base, as
    ``compile_rule`` expects them (what ``run_duckdb`` registers): a missing events or
    orders table is an empty one with the canonical columns, the features carry the
    contacts' ``contact_id``."""
    ids = base.contacts["contact_id"]
    empty = pd.DataFrame({"contact_id": pd.Series(dtype=ids.dtype),
                          "timestamp": pd.Series(dtype="datetime64[ns]"),
                          "event_type": pd.Series(dtype="str")})
    tables = {"contacts": base.contacts}
    for name in ("events", "orders"):
        table = getattr(base, name)
        tables[name] = empty if table is None else table
    tables["features"] = base.features.assign(contact_id=ids.to_numpy())
    return tables


def _plain(column: pd.Series) -> pd.Series:
    """A column in a type every server holds: categories as their values."""
    if isinstance(column.dtype, pd.CategoricalDtype):
        return column.astype(object).where(column.notna(), None)
    return column


# --- PostgreSQL ------------------------------------------------------------------------------

@dataclass(frozen=True)
class PostgresServer:
    host: str
    port: int
    user: str
    dbname: str

    @property
    def conninfo(self) -> str:
        return f"host={self.host} port={self.port} user={self.user} dbname={self.dbname}"


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _as_cluster_user(command: list[str]) -> list[str]:
    """``command`` run as ``nobody`` when we are root (postgres refuses to run as root)."""
    if os.geteuid() != 0:
        return command
    return ["runuser", "-u", PG_OS_USER, "--", *command]


def _run(command: list[str], what: str, log: Path | None = None) -> None:
    result = subprocess.run(_as_cluster_user(command), capture_output=True, text=True,
                            timeout=120, check=False)
    if result.returncode != 0:
        logged = log.read_text(errors="replace")[-3000:] if log and log.exists() else ""
        raise RuntimeError(f"{what} failed ({result.returncode}): {result.stdout}"
                           f"{result.stderr}{logged}")


@contextlib.contextmanager
def postgres_cluster() -> Iterator[PostgresServer]:
    """A PostgreSQL cluster for the duration of the block, then stopped and deleted."""
    for tool in ("initdb", "pg_ctl"):
        if not (PG_BIN / tool).exists():
            raise RuntimeError(f"{PG_BIN / tool} is missing: apt-get install postgresql "
                               "(PostgreSQL 15), or set SEGEXPLORE_PG_BIN")
    folder = Path(tempfile.mkdtemp(prefix="segexplore-pg-"))  # mode 0700
    data, log = folder / "data", folder / "server.log"
    started = False
    try:
        if os.geteuid() == 0:
            account = pwd.getpwnam(PG_OS_USER)
            os.chown(folder, account.pw_uid, account.pw_gid)
        _run([str(PG_BIN / "initdb"), "-D", str(data), "-U", "postgres", "-A", "trust",
              "-E", "UTF8", "--locale=C.UTF-8", "--locale-provider=icu",
              "--icu-locale=en-US", "--no-sync", "--no-instructions"], "initdb")
        # Local only: TCP on 127.0.0.1, the Unix socket in the private folder.
        with open(data / "postgresql.conf", "a", encoding="utf-8") as conf:
            conf.write("listen_addresses = '127.0.0.1'\n"
                       f"unix_socket_directories = '{folder}'\n"
                       "fsync = off\nsynchronous_commit = off\nfull_page_writes = off\n")
        (data / "pg_hba.conf").write_text(
            "local all all trust\nhost all all 127.0.0.1/32 trust\n", encoding="utf-8")
        for attempt in range(5):
            port = _free_port()
            try:
                _run([str(PG_BIN / "pg_ctl"), "-D", str(data), "-l", str(log), "-w",
                      "-t", "60", "-o", f"-p {port}", "start"], "pg_ctl start", log)
                started = True
                break
            except RuntimeError:
                if attempt == 4:  # the port was taken between the probe and the start
                    raise
                time.sleep(0.2)
        yield PostgresServer("127.0.0.1", port, "postgres", "postgres")
    finally:
        if started:
            with contextlib.suppress(Exception):
                _run([str(PG_BIN / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w",
                      "stop"], "pg_ctl stop")
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    with postgres_cluster() as server:
        yield server


@pytest.fixture(scope="session")
def postgres(postgres_server) -> Iterator[Any]:
    """A psycopg 3 connection (autocommit) to the throwaway cluster."""
    import psycopg

    with psycopg.connect(postgres_server.conninfo, autocommit=True) as connection:
        yield connection


def _kind(column: pd.Series) -> str:
    """``bool``, ``integer``, ``float``, ``datetime`` or ``text`` (categories too)."""
    kind = value_kind(column.dtype)
    if kind == "number":
        return "integer" if pd.api.types.is_integer_dtype(column.dtype) else "float"
    return "text" if kind == "category" else kind


_PG_TYPES = {"bool": "BOOLEAN", "integer": "BIGINT", "float": "DOUBLE PRECISION",
             "datetime": "TIMESTAMP", "text": "TEXT"}


def _python_values(column: pd.Series) -> list:
    """The column's values as Python objects, missing ones as None."""
    if pd.api.types.is_datetime64_any_dtype(column.dtype):
        return [None if pd.isna(v) else v.to_pydatetime() for v in column]
    values = _plain(column).astype(object)
    return values.where(values.notna(), None).tolist()


def load_postgres(connection: Any, tables: Mapping[str, pd.DataFrame], *,
                  prefix: str = "") -> dict[str, str]:
    """Each DataFrame COPY'd into a new table ``prefix + name``; the names by table."""
    from psycopg import sql

    names = {}
    for name, frame in tables.items():
        target = prefix + name
        columns = [str(c) for c in frame.columns]
        definition = sql.SQL(", ").join(
            sql.SQL("{} {}").format(sql.Identifier(c), sql.SQL(_PG_TYPES[_kind(frame[c])]))
            for c in columns)
        connection.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(sql.Identifier(target)))
        connection.execute(sql.SQL("CREATE TABLE {} ({})").format(sql.Identifier(target),
                                                                  definition))
        rows = zip(*[_python_values(frame[c]) for c in columns], strict=True)
        copy = sql.SQL("COPY {} ({}) FROM STDIN").format(
            sql.Identifier(target), sql.SQL(", ").join(map(sql.Identifier, columns)))
        with connection.cursor() as cursor, cursor.copy(copy) as loading:
            for row in rows:
                loading.write_row(row)
        connection.execute(sql.SQL("ANALYZE {}").format(sql.Identifier(target)))
        names[name] = target
    return names


# --- Spark -----------------------------------------------------------------------------------

_LOG4J = """\
rootLogger.level = error
rootLogger.appenderRef.stderr.ref = console
appender.console.type = Console
appender.console.name = console
appender.console.target = SYSTEM_ERR
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = %d{HH:mm:ss} %p %c{1}: %m%n
"""


@contextlib.contextmanager
def spark_session() -> Iterator[Any]:
    """A local[2] SparkSession for the duration of the block, then stopped."""
    from pyspark.sql import SparkSession

    if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        raise RuntimeError("Spark needs Java: apt-get install openjdk-17-jre-headless")
    folder = Path(tempfile.mkdtemp(prefix="segexplore-spark-"))
    (folder / "log4j2.properties").write_text(_LOG4J, encoding="utf-8")
    java_options = (f"-Dlog4j2.configurationFile=file:{folder / 'log4j2.properties'} "
                    f"-Dderby.system.home={folder}")
    session = None
    try:
        session = (SparkSession.builder.master("local[2]").appName("segexplore-parity")
                   .config("spark.ui.enabled", "false")
                   .config("spark.ui.showConsoleProgress", "false")
                   .config("spark.sql.shuffle.partitions", "4")
                   .config("spark.default.parallelism", "2")
                   .config("spark.sql.session.timeZone", "UTC")
                   .config("spark.driver.host", "127.0.0.1")
                   .config("spark.driver.bindAddress", "127.0.0.1")
                   .config("spark.sql.warehouse.dir", str(folder / "warehouse"))
                   .config("spark.local.dir", str(folder / "local"))
                   .config("spark.driver.extraJavaOptions", java_options)
                   .config("spark.sql.execution.arrow.pyspark.enabled", "true")
                   .config("spark.driver.memory", "3g")
                   # blocks of dropped checkpoints go when the JVM collects them: often
                   .config("spark.cleaner.periodicGC.interval", "1min")
                   .getOrCreate())
        session.sparkContext.setLogLevel("ERROR")
        yield session
    finally:
        if session is not None:
            session.stop()
        shutil.rmtree(folder, ignore_errors=True)


_spark_sessions: contextlib.ExitStack = contextlib.ExitStack()
atexit.register(_spark_sessions.close)


@pytest.fixture(scope="module")
def spark() -> Iterator[Any]:
    """The tests' SparkSession (one JVM for the whole run), left clean for the next module:
    its cached tables and temporary views dropped, the JVM's garbage collected."""
    global _spark
    if _spark is None:
        _spark = _spark_sessions.enter_context(spark_session())
    yield _spark
    _spark.catalog.clearCache()
    for table in _spark.catalog.listTables():
        if table.isTemporary:
            _spark.catalog.dropTempView(table.name)
    _spark.sparkContext._jvm.System.gc()  # the cleaner frees unreachable checkpoints


_spark: Any = None


def _arrow(frame: pd.DataFrame) -> Any:
    """The frame as an Arrow table Spark reads: categories as plain values, times in
    microseconds (Spark's precision), nullable integers as int64."""
    import pyarrow as pa

    types = {"bool": pa.bool_(), "integer": pa.int64(), "float": pa.float64(),
             "datetime": pa.timestamp("us"), "text": pa.string()}
    arrays, names = [], []
    for name in frame.columns:
        column, kind = frame[name], _kind(frame[name])
        if kind == "datetime":
            array = pa.array(column.astype("datetime64[us]"), type=types[kind])
        elif kind == "float":
            array = pa.array(column, type=types[kind], from_pandas=True)
        else:
            array = pa.array(_python_values(column), type=types[kind])
        arrays.append(array)
        names.append(str(name))
    return pa.Table.from_arrays(arrays, names=names)


def load_spark(session: Any, tables: Mapping[str, pd.DataFrame], *,
               prefix: str = "") -> dict[str, str]:
    """Each DataFrame as a temporary view ``prefix + name`` (cached); names by table."""
    names = {}
    for name, frame in tables.items():
        view = session.createDataFrame(_arrow(frame))
        view.cache().createOrReplaceTempView(prefix + name)
        names[name] = prefix + name
    return names


# --- any engine ------------------------------------------------------------------------------

def connected_base(request: Any, engine: str, tables: Mapping[str, pd.DataFrame], *,
                   prefix: str, as_of: Any) -> Any:
    """``tables`` loaded into ``engine`` (``"postgres"``, ``"spark"`` or ``"duckdb"``, a new
    DuckDB connection) as ``prefix + name``, opened with ``se.connect``: the test's
    ``request`` gives the server fixtures."""
    import duckdb

    import segexplore as se

    if engine == "postgres":
        source = request.getfixturevalue("postgres")
        names = load_postgres(source, tables, prefix=prefix)
    elif engine == "spark":
        source = request.getfixturevalue("spark")
        names = load_spark(source, tables, prefix=prefix)
    else:
        source = duckdb.connect()
        for name, frame in tables.items():
            source.register(prefix + name, frame)
        names = {name: prefix + name for name in tables}
    return se.connect(source, names["contacts"], names["events"], names.get("orders"),
                      as_of=as_of)

