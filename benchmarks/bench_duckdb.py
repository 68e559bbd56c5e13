"""The DuckDB engine on a large base, beside the pandas engine and hand-written DuckDB SQL.

Run: ``python benchmarks/bench_duckdb.py [--contacts N | --data DIR] [--no-pandas]
[--memory-limit 4GB]``. ``--data`` is a folder written by ``segexplore sample --out DIR``
(``contacts/``, ``events/``, ``orders/`` of Parquet files); otherwise the cached generated
base of N contacts (default 1M). Every measure runs in a fresh process, so a load is cold
and each line's peak RSS is that process's alone.

Targets (issue 13, on 10M contacts / 200M events): read_base(engine="duckdb") + the first
5-condition count < 20 s at peak RSS < 4 GB; a repeated 5-condition count < 50 ms; an
uncached event condition < 2 s; all features < 60 s; profile < 30 s; compare 5 segments
< 30 s; export of a 1M-member segment < 30 s (the baseline's COPY writes the consented
members' rows, without the export's checks, waterfall or manifest).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

from common import HERE, parquet_paths

FIVE = ('region = "Île-de-France" and device = "Android" and language = "fr" '
        'and consent = "given" and loyalty_tier in ("gold", "silver")')
EVENT = 'count(purchase where brand = "Nike", last 60 days) >= 2'
COMPARED = ['device = "Android"', 'device = "iOS"', 'loyalty_tier = "gold"',
            'region = "Flandre"', 'rfm_group = "champions"']
#: About a tenth of the generated contacts (1.0M of 10M).
EXPORTED = 'region = "Flandre"'

# One program for both engines: it prints {"name": seconds, ...} as JSON.
ENGINE = """
import json, resource, sys, time
import segexplore as se
paths, memory_limit, five, event, engine = sys.argv[1:4], sys.argv[4], sys.argv[5], \\
    sys.argv[6], sys.argv[7]
COMPARED, EXPORTED = json.loads(sys.argv[8]), sys.argv[9]
options = ({"engine": "duckdb", "memory_limit": memory_limit or None, "threads": 2}
           if engine == "duckdb" else {"clean": False, "progress": False})
out = {}
t = time.perf_counter()
base = se.read_base(*paths, **options)
first = base.count(five)
out["read_base(engine=duckdb) + first 5-condition count"] = time.perf_counter() - t
t = time.perf_counter(); base.count(five)
out["repeated 5-condition count (kept)"] = time.perf_counter() - t
fresh = se.parse(five + ' and city != "Nowhere"')
t = time.perf_counter(); base.count(fresh)
out["5-condition count, not asked before"] = time.perf_counter() - t
t = time.perf_counter(); base.count(event)
out["uncached event condition"] = time.perf_counter() - t
t = time.perf_counter(); base.count("rfm_group = \\"champions\\"")
out["all features (first feature rule)"] = time.perf_counter() - t
t = time.perf_counter(); base.count("engagement_score >= 50 and inactive = false")
out["a feature rule once the features exist"] = time.perf_counter() - t
t = time.perf_counter(); base.profile()
out["profile of the base (features included)"] = time.perf_counter() - t
segments = [base.segment(rule) for rule in COMPARED]
t = time.perf_counter()
try:
    se.compare(segments, base)
    out["compare 5 segments"] = time.perf_counter() - t
except Exception as error:  # not every engine compares yet: say so, go on
    out["compare 5 segments"] = None
    print(f"compare: {type(error).__name__}: {error}", file=sys.stderr)
import tempfile
with tempfile.TemporaryDirectory() as folder:
    t = time.perf_counter()
    exported = base.segment(EXPORTED, name="Flandre").to_csv(folder + "/flandre.csv")
    out["export of the 1M-member segment"] = time.perf_counter() - t
out["members"] = first
out["peak_gb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 / 1024
print(json.dumps(out))
"""

# The open and the first count alone, in a process of their own: the peak RSS the target
# names (the whole run's peak also holds the features, profile and compare).
OPEN = """
import json, resource, sys, time
import segexplore as se
t = time.perf_counter()
base = se.read_base(*sys.argv[1:4], engine="duckdb", memory_limit=sys.argv[4] or None,
                    threads=2)
members = base.count(sys.argv[5])
out = {"seconds": time.perf_counter() - t, "members": members}
out["peak_gb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 / 1024
print(json.dumps(out))
"""

# The same work written by hand in DuckDB SQL straight over the files.
BASELINE = """
import json, sys, time
import duckdb
contacts, events, memory_limit = sys.argv[1], sys.argv[2], sys.argv[4]
con = duckdb.connect()
con.execute("SET threads = 2")
if memory_limit:
    con.execute(f"SET memory_limit = '{memory_limit}'")
out = {}
five = ("SELECT count(*) FROM read_parquet('{c}') WHERE region = 'Île-de-France' AND "
        "device = 'Android' AND language = 'fr' AND consent = 'given' AND "
        "loyalty_tier IN ('gold', 'silver')").format(c=contacts)
t = time.perf_counter(); first = con.execute(five).fetchall()[0][0]
out["read_base(engine=duckdb) + first 5-condition count"] = time.perf_counter() - t
t = time.perf_counter(); con.execute(five).fetchall()
out["repeated 5-condition count (kept)"] = time.perf_counter() - t
out["5-condition count, not asked before"] = out["repeated 5-condition count (kept)"]
as_of = con.execute(f"SELECT max(timestamp) FROM read_parquet('{events}')").fetchall()[0][0]
event = (f"SELECT count(*) FROM (SELECT contact_id FROM read_parquet('{events}') WHERE "
         f"event_type = 'purchase' AND brand = 'Nike' AND timestamp > TIMESTAMP '{as_of}' "
         f"- INTERVAL 60 DAY AND timestamp <= TIMESTAMP '{as_of}' GROUP BY contact_id "
         f"HAVING count(*) >= 2)")
t = time.perf_counter(); con.execute(event).fetchall()
out["uncached event condition"] = time.perf_counter() - t
features = (f"SELECT contact_id, count(*) FILTER (WHERE event_type = 'purchase') AS p, "
            f"count(*) FILTER (WHERE event_type = 'open' AND timestamp > TIMESTAMP "
            f"'{as_of}' - INTERVAL 30 DAY) AS o30, max(timestamp) FILTER (WHERE event_type "
            f"= 'purchase') AS last_p FROM read_parquet('{events}') WHERE timestamp <= "
            f"TIMESTAMP '{as_of}' GROUP BY contact_id")
t = time.perf_counter(); con.execute(f"CREATE TEMP TABLE f AS {features}")
out["all features (first feature rule)"] = time.perf_counter() - t
out["a feature rule once the features exist"] = None
out["profile of the base (features included)"] = None
out["compare 5 segments"] = None
import os, tempfile
with tempfile.TemporaryDirectory() as folder:
    t = time.perf_counter()
    con.execute(f"COPY (SELECT * FROM read_parquet('{contacts}') WHERE region = 'Flandre' "
                f"AND consent = 'given') TO '{folder}/flandre.csv' (HEADER)")
    out["export of the 1M-member segment"] = time.perf_counter() - t
out["members"] = first
import resource
out["peak_gb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 / 1024
print(json.dumps(out))
"""


def run(program: str, args: list[str]) -> tuple[dict, float]:
    """Run ``program`` in a fresh process: its JSON and its own peak RSS in GB."""
    done = subprocess.run([sys.executable, "-c", program, *args], capture_output=True,
                          text=True, cwd=HERE)
    if done.returncode:
        raise SystemExit(done.stderr[-3000:])
    out = json.loads(done.stdout.strip().splitlines()[-1])
    return out, out.pop("peak_gb")


def _ms(seconds: float | None, width: int) -> str:
    return f"{seconds * 1000:{width - 2}.1f}ms" if seconds is not None else f"{'-':>{width}}"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--contacts", type=int, default=1_000_000)
    parser.add_argument("--data", type=Path, help="folder written by `segexplore sample`")
    parser.add_argument("--no-pandas", action="store_true",
                        help="skip the pandas engine (it does not fit beyond ~5M contacts)")
    parser.add_argument("--memory-limit", default="4GB")
    args = parser.parse_args()
    if args.data is not None:  # DIR/events.parquet, or DIR/events/ with --chunk-contacts
        paths = [str(args.data / f"{name}.parquet") if (args.data / f"{name}.parquet").exists()
                 else str(args.data / name / "*.parquet")
                 for name in ("contacts", "events", "orders")]
    else:
        found = parquet_paths(args.contacts)
        paths = [str(found[name]) for name in ("contacts", "events", "orders")]
    common_args = [*paths, args.memory_limit, FIVE, EVENT]
    engine_args = [json.dumps(COMPARED), EXPORTED]
    started = time.perf_counter()
    baseline, baseline_peak = run(BASELINE, common_args)
    opened, opened_peak = run(OPEN, common_args)
    ours, ours_peak = run(ENGINE, [*common_args, "duckdb", *engine_args])
    pandas, pandas_peak = ((None, None) if args.no_pandas
                           else run(ENGINE, [*common_args, "pandas", *engine_args]))
    assert ours["members"] == baseline["members"] == opened["members"], (
        ours["members"], baseline["members"], opened["members"])
    if pandas is not None:
        assert ours["members"] == pandas["members"], (ours["members"], pandas["members"])
    print(f"data: {paths[0]} ...; 5-condition members: {ours['members']:,}; "
          f"{time.perf_counter() - started:.0f} s in all")
    header = f"{'measure':<56}{'duckdb engine':>14}{'DuckDB SQL':>12}{'ratio':>8}"
    print(header + (f"{'pandas engine':>15}" if pandas else ""))
    for name, value in ours.items():
        if name in ("members",):
            continue
        base_value = baseline.get(name)
        ratio = f"{value / base_value:7.2f}x" if base_value and value else " " * 8
        line = f"{name:<56}{_ms(value, 14)}{_ms(base_value, 12)}{ratio}"
        if pandas:
            line += _ms(pandas[name], 15)
        print(line)
    print(f"{'read_base + first count alone, fresh process (s)':<56}{opened['seconds']:14.2f}")
    print(f"{'peak RSS of read_base + first count alone (GB)':<56}{opened_peak:14.2f}")
    print(f"{'peak RSS of the process (GB)':<56}{ours_peak:14.2f}"
          f"{baseline_peak:12.2f}" + (f"{'':>8}{pandas_peak:15.2f}" if pandas else ""))


if __name__ == "__main__":
    main()
