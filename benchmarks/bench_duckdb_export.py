"""Exporting a large segment of a DuckDB base, beside a hand-written DuckDB ``COPY``.

Run: ``python benchmarks/bench_duckdb_export.py --data DIR [--rule TEXT] [--preset brevo]
[--memory-limit 4GB]``, DIR written by ``segexplore sample --contacts N --out DIR
--chunk-contacts 1000000``. Each side runs in a fresh process (a cold base, its own peak
RSS):

- segexplore: ``read_base(engine="duckdb")``, the segment's members, then
  ``segment.to_csv(path, preset=...)``: the waterfall in SQL, the rows fetched and written
  ``ROWS_PER_CHUNK`` at a time through the formula-safe writer, the manifest (whose data
  fingerprint reads the Parquet files' footers,
  :mod:`segexplore.engines.duckdb_fingerprint`: timed on its own too, beside hashing
  every row as ``rows=True`` does);
- baseline: one ``COPY (SELECT ...) TO 'x.csv'`` over the Parquet files doing the same
  steps (rule, valid email, consent, first row per email, file order), without the
  formula guard or a manifest.

Target (issue 13): a 1M-member segment of a 10M-contact base exported in < 30 s, in memory
that does not grow with the segment.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from bench_duckdb import run

#: About half the contacts of a generated base (0.95M of 2M).
RULE = 'device = "Android" or (device = "Desktop" and country = "BE")'
RULE_SQL = "device = 'Android' OR (device = 'Desktop' AND country = 'BE')"

ENGINE = """
import json, resource, sys, time
import segexplore as se
from segexplore.engines.duckdb import DuckDBBase
from segexplore.engines.duckdb_fingerprint import fingerprint_duckdb
contacts, events, orders, memory_limit, rule, preset, out = sys.argv[1:8]
# The fingerprint the manifest records (Parquet footers; what DuckDBBase.fingerprint calls).
DuckDBBase.fingerprint = lambda self: fingerprint_duckdb(self)
out_ = {}
t = time.perf_counter()
base = se.read_base(contacts, events, orders, engine="duckdb", threads=2,
                    memory_limit=memory_limit or None)
segment = base.segment(rule, name="Large segment")
out_["members"] = segment.size
out_["open the base + the segment's members"] = time.perf_counter() - t
t = time.perf_counter()
result = segment.to_csv(out, preset=preset)
out_["export: waterfall, rows, CSV, manifest"] = time.perf_counter() - t
t = time.perf_counter(); fingerprint_duckdb(base)  # the manifest's, timed on its own
out_["  of which the data fingerprint"] = time.perf_counter() - t
t = time.perf_counter(); fingerprint_duckdb(base, rows=True)
out_["data fingerprint hashing every row (rows=True)"] = time.perf_counter() - t
out_["rows"] = result.rows
out_["bytes"] = result.manifest["bytes"]
out_["peak_gb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 / 1024
print(json.dumps(out_))
"""

BASELINE = """
import json, os, resource, sys, time
import duckdb
contacts, events, orders, memory_limit, rule, preset, out = sys.argv[1:8]
con = duckdb.connect()
con.execute("SET threads = 2")
if memory_limit:
    con.execute(f"SET memory_limit = '{memory_limit}'")
out_ = {}
t = time.perf_counter()
members = con.execute(f"SELECT count(*) FROM read_parquet('{contacts}') WHERE {rule}").fetchall()
out_["members"] = members[0][0]
out_["open the base + the segment's members"] = time.perf_counter() - t
t = time.perf_counter()
con.execute(f'''COPY (
    SELECT email AS EMAIL, first_name AS FIRSTNAME, last_name AS LASTNAME,
           contact_id AS EXT_ID
    FROM read_parquet('{contacts}', filename = true, file_row_number = true)
    WHERE ({rule}) AND email IS NOT NULL AND consent = 'given'
    QUALIFY row_number() OVER (PARTITION BY email ORDER BY filename, file_row_number) = 1
    ORDER BY filename, file_row_number) TO '{out}' (HEADER, DELIMITER ',')''')
out_["export: waterfall, rows, CSV, manifest"] = time.perf_counter() - t
out_["  of which the data fingerprint"] = None
out_["data fingerprint hashing every row (rows=True)"] = None
with open(out, "rb") as handle:
    out_["rows"] = sum(1 for _ in handle) - 1
out_["bytes"] = os.path.getsize(out)
out_["peak_gb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 / 1024
print(json.dumps(out_))
"""


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", type=Path, required=True,
                        help="folder written by `segexplore sample`")
    parser.add_argument("--rule", default=RULE, help="the segment (segexplore's rule text)")
    parser.add_argument("--rule-sql", default=RULE_SQL,
                        help="the same rule as a SQL condition, for the baseline")
    parser.add_argument("--preset", default="brevo")
    parser.add_argument("--memory-limit", default="4GB")
    args = parser.parse_args()
    paths = [str(args.data / f"{name}.parquet") if (args.data / f"{name}.parquet").exists()
             else str(args.data / name / "*.parquet")
             for name in ("contacts", "events", "orders")]
    folder = Path(tempfile.mkdtemp(prefix="bench-export-"))
    common = [*paths, args.memory_limit]
    baseline, baseline_peak = run(BASELINE, [*common, args.rule_sql, args.preset,
                                             str(folder / "baseline.csv")])
    ours, ours_peak = run(ENGINE, [*common, args.rule, args.preset, str(folder / "ours.csv")])
    assert ours["members"] == baseline["members"], (ours["members"], baseline["members"])
    print(f"data: {paths[0]} ...; members {ours['members']:,}; exported rows: segexplore "
          f"{ours['rows']:,} ({ours['bytes'] / 1e6:.0f} MB), COPY {baseline['rows']:,} "
          f"({baseline['bytes'] / 1e6:.0f} MB)")
    print(f"{'measure':<46}{'segexplore':>12}{'DuckDB COPY':>13}{'ratio':>8}")
    for name, value in ours.items():
        if name in ("members", "rows", "bytes"):
            continue
        other = baseline.get(name)
        ratio = f"{value / other:7.2f}x" if other else ""
        other_text = f"{other:11.2f} s" if other is not None else " " * 13
        print(f"{name:<46}{value:10.2f} s{other_text}{ratio:>8}")
    print(f"{'peak RSS of the process (GB)':<46}{ours_peak:12.2f}{baseline_peak:13.2f}"
          f"{ours_peak / baseline_peak:7.2f}x")
    for path in folder.iterdir():  # personal data, even generated
        path.unlink()
    folder.rmdir()


if __name__ == "__main__":
    main()
