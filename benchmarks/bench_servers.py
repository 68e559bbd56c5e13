"""A connected base (``se.connect``) on PostgreSQL 15 and Spark local[2], beside DuckDB on the
same data in the same run (issue 14).

Run: ``python benchmarks/bench_servers.py [--contacts N | --data DIR]
[--engines postgres,spark,duckdb]``. The generated base of N contacts (default 200,000,
about 20 events each) is cached as Parquet under ``benchmarks/data``; ``--data`` is a
folder written by ``segexplore sample --out DIR --chunk-contacts K`` (``contacts/``,
``events/``, ``orders/`` of Parquet parts: a 10M base); a throwaway PostgreSQL cluster is started for the run
(tests/servers.py: initdb in a temporary folder, stopped at the end) and loaded with
``COPY`` (CSV written by DuckDB from the Parquet files), with the indexes the README
recommends (``events (contact_id, timestamp)``, ``orders (contact_id, timestamp)``, a
unique ``contacts (contact_id)``) and ``ANALYZE``; Spark reads the Parquet files as
temporary views; DuckDB holds them as tables of an in-memory connection (2 threads).

Each engine runs the same steps through ``se.connect``: a 5-condition count (cold: the
first query of the base), a 5-condition count not asked before, an event condition
(``count(purchase where brand = "Nike", last 60 days) >= 2``), all features (the first
feature rule builds the engine's feature table), and the consented export of a tenth of the
contacts (waterfall, manifest with the tables hashed in the engine, rows streamed). The
ratio column is each engine's time over DuckDB's. No absolute target: issue 14 asks for the
ratios, and the README says which indexes and partitioning each engine wants.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from common import HERE, parquet_paths

sys.path.insert(0, str(HERE.parent / "tests"))

FIVE = ('region = "Île-de-France" and device = "Android" and language = "fr" '
        'and consent = "given" and loyalty_tier in ("gold", "silver")')
FRESH = FIVE + ' and city != "Nowhere"'
EVENT = 'count(purchase where brand = "Nike", last 60 days) >= 2'
FEATURES = 'rfm_group = "champions"'
#: About a tenth of the generated contacts.
EXPORTED = 'region = "Flandre"'
TABLES = ("contacts", "events", "orders")
#: The DuckDB types of the generated tables, as PostgreSQL spells them.
PG_TYPES = {"BIGINT": "bigint", "VARCHAR": "text", "TIMESTAMP": "timestamp",
            "DOUBLE": "double precision", "BOOLEAN": "boolean", "INTEGER": "integer"}


def parts(path: Path) -> list[Path]:
    """A table's Parquet files: the file itself, or the parts of a folder."""
    return sorted(path.glob("*.parquet")) if path.is_dir() else [path]


def load_postgres(connection, paths: dict[str, Path]) -> None:
    """Each table's Parquet files COPY'd into a table of the same name (a part at a time,
    as CSV written by DuckDB), then indexed and analysed."""
    import duckdb

    with tempfile.TemporaryDirectory() as folder:
        for name in TABLES:
            files = parts(paths[name])
            described = duckdb.sql(f"DESCRIBE SELECT * FROM '{files[0]}'").fetchall()
            columns = ", ".join(f'"{c}" {PG_TYPES[t]}' for c, t, *_ in described)
            connection.execute(f"DROP TABLE IF EXISTS {name}")
            connection.execute(f"CREATE TABLE {name} ({columns})")
            csv_path = Path(folder) / f"{name}.csv"
            for part in files:
                duckdb.sql(f"COPY (SELECT * FROM '{part}') TO '{csv_path}' (HEADER false)")
                with connection.cursor() as cursor, cursor.copy(
                        f"COPY {name} FROM STDIN WITH (FORMAT csv)") as copy, \
                        open(csv_path, "rb") as handle:
                    while block := handle.read(1 << 20):
                        copy.write(block)
                csv_path.unlink()
    connection.execute("CREATE UNIQUE INDEX ON contacts (contact_id)")
    connection.execute("CREATE INDEX ON events (contact_id, timestamp)")
    connection.execute("CREATE INDEX ON orders (contact_id, timestamp)")
    for name in TABLES:
        connection.execute(f"ANALYZE {name}")


def measure(source, label: str) -> dict[str, float]:
    """The steps of the module docstring on ``source``, in seconds."""
    import segexplore as se

    out: dict[str, float] = {}
    started = time.perf_counter()
    base = se.connect(source)
    members = base.count(FIVE)
    out["connect + first 5-condition count"] = time.perf_counter() - started
    for name, rule in (("5-condition count, not asked before", FRESH),
                       ("event condition (last 60 days, brand)", EVENT),
                       ("all features (first feature rule)", FEATURES)):
        started = time.perf_counter()
        base.count(rule)
        out[name] = time.perf_counter() - started
    with tempfile.TemporaryDirectory() as folder:
        started = time.perf_counter()
        result = base.segment(EXPORTED, name="Flandre").to_csv(Path(folder) / "f.csv")
        out[f"export of a tenth ({result.rows:,} rows written)"] = \
            time.perf_counter() - started
    base.close()
    print(f"  {label}: done ({members:,} members of the 5-condition segment)", flush=True)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contacts", type=int, default=200_000)
    parser.add_argument("--data", type=Path, help="a folder of contacts/, events/, orders/ "
                                                  "Parquet parts (segexplore sample --out)")
    parser.add_argument("--engines", default="postgres,spark,duckdb")
    args = parser.parse_args()
    engines = [e.strip() for e in args.engines.split(",")]
    started = time.perf_counter()
    if args.data is not None:
        paths = {name: args.data / name for name in TABLES}
        if not all(p.exists() for p in paths.values()):
            parser.error(f"--data {args.data}: expected contacts/, events/ and orders/ there")
    else:
        paths = parquet_paths(args.contacts)
    print(f"base ready in {time.perf_counter() - started:.1f} s")
    results: dict[str, dict[str, float]] = {}
    setup: dict[str, float] = {}
    if "duckdb" in engines:
        import duckdb

        started = time.perf_counter()
        db = duckdb.connect(config={"threads": 2})
        for name in TABLES:
            files = ", ".join(f"'{p}'" for p in parts(paths[name]))
            db.execute(f"CREATE TABLE {name} AS SELECT * FROM read_parquet([{files}])")
        setup["duckdb"] = time.perf_counter() - started
        results["duckdb"] = measure(db, "duckdb")
        db.close()
    if "postgres" in engines:
        import psycopg
        from servers import postgres_cluster

        with postgres_cluster() as server, psycopg.connect(server.conninfo,
                                                           autocommit=True) as connection:
            started = time.perf_counter()
            load_postgres(connection, paths)
            setup["postgres"] = time.perf_counter() - started
            results["postgres"] = measure(connection, "postgres")
    if "spark" in engines:
        from servers import spark_session

        with spark_session() as spark:
            started = time.perf_counter()
            for name in TABLES:
                spark.read.parquet(*map(str, parts(paths[name]))).createOrReplaceTempView(name)
            setup["spark"] = time.perf_counter() - started
            results["spark"] = measure(spark, "spark")
    print(f"\nse.connect on {args.data or f'{args.contacts:,} contacts'}; setup (load, not "
          f"ours): "
          + ", ".join(f"{e} {s:.1f} s" for e, s in setup.items()))
    names = list(next(iter(results.values())))
    header = "".join(f"{e:>12}" for e in results)
    ratios = "".join(f"{e + '/duckdb':>17}" for e in results if e != "duckdb")
    print(f"{'measure':<46}{header}{ratios if 'duckdb' in results else ''}")
    for index, name in enumerate(names):
        cells = [list(r.values())[index] for r in results.values()]
        line = f"{name[:45]:<46}" + "".join(f"{c:>11.2f}s" for c in cells)
        if "duckdb" in results:
            reference = list(results["duckdb"].values())[index]
            line += "".join(f"{list(results[e].values())[index] / reference:>16.1f}x"
                            for e in results if e != "duckdb")
        print(line)


if __name__ == "__main__":
    main()
