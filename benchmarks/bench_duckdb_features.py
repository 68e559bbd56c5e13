"""All 43 features of a large base on the DuckDB engine, beside hand-written DuckDB SQL.

Run: ``python benchmarks/bench_duckdb_features.py --data DIR [--memory-limit 8GB]``, DIR a
folder written by ``segexplore sample --out DIR`` (``contacts/``, ``events/``, ``orders/``
of Parquet parts). Each side runs in a fresh process, so that its peak RSS is its own.

Target (issue 13, 50M contacts / 1B events, ``memory_limit="8GB"``): the features complete
in under 15 minutes at a peak RSS under 10 GB. The baseline computes 3 of the 43 (purchase
count, 30-day opens, last purchase) in one ``GROUP BY`` over the events: a floor, not the
same work.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

OURS = """
import json, resource, sys, time
import segexplore as se
contacts, events, orders, memory_limit = sys.argv[1:5]
t = time.perf_counter()
base = se.read_base(contacts, events, orders, engine="duckdb", memory_limit=memory_limit,
                    threads=2)
opened = time.perf_counter() - t
t = time.perf_counter()
members = base.count('rfm_group = "champions"')
out = {"open": opened, "features": time.perf_counter() - t, "members": members,
       "contacts": base.contact_count,
       "peak_gb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 / 1024}
print(json.dumps(out))
"""

BASELINE = """
import json, resource, sys, time
import duckdb
events, memory_limit = sys.argv[2], sys.argv[4]
con = duckdb.connect()
con.execute(f"SET threads = 2; SET memory_limit = '{memory_limit}'")
as_of = con.execute(f"SELECT max(timestamp) FROM read_parquet('{events}')").fetchall()[0][0]
t = time.perf_counter()
con.execute(f"CREATE TEMP TABLE f AS SELECT contact_id, count(*) FILTER (WHERE event_type = "
            f"'purchase') AS p, count(*) FILTER (WHERE event_type = 'open' AND timestamp > "
            f"TIMESTAMP '{as_of}' - INTERVAL 30 DAY) AS o30, max(timestamp) FILTER (WHERE "
            f"event_type = 'purchase') AS last_p FROM read_parquet('{events}') WHERE "
            f"timestamp <= TIMESTAMP '{as_of}' GROUP BY contact_id")
out = {"features": time.perf_counter() - t,
       "peak_gb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 / 1024}
print(json.dumps(out))
"""


def run(program: str, args: list[str]) -> dict:
    done = subprocess.run([sys.executable, "-c", program, *args], capture_output=True,
                          text=True)
    if done.returncode:
        raise SystemExit(done.stderr[-3000:])
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", type=Path, required=True,
                        help="folder written by `segexplore sample --out DIR`")
    parser.add_argument("--memory-limit", default="8GB")
    args = parser.parse_args()
    paths = [str(args.data / name / "*.parquet") for name in ("contacts", "events", "orders")]
    ours = run(OURS, [*paths, args.memory_limit])
    baseline = run(BASELINE, [*paths, args.memory_limit])
    print(f"{ours['contacts']:,} contacts; memory_limit {args.memory_limit}, 2 threads")
    print(f"{'measure':<40}{'duckdb engine':>15}{'DuckDB SQL (3)':>16}{'ratio':>8}")
    print(f"{'read_base':<40}{ours['open']:14.1f}s")
    print(f"{'all 43 features (first feature rule)':<40}{ours['features']:14.1f}s"
          f"{baseline['features']:15.1f}s{ours['features'] / baseline['features']:7.1f}x")
    print(f"{'peak RSS (GB)':<40}{ours['peak_gb']:15.2f}{baseline['peak_gb']:16.2f}")


if __name__ == "__main__":
    main()
