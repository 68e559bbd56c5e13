"""Time and peak memory of ``segexplore sample`` (the base written block by block).

Run: ``python benchmarks/bench_generate_scale.py [--contacts N] [--chunk-contacts C]
[--out DIR]``. The command runs in a subprocess at ``--contacts`` (default 1,000,000);
beside it, for N up to 1,000,000, the baseline: plain ``generate_base(N)`` and
``DataFrame.to_parquet`` of the three tables, in a subprocess too. Target (issue 13):
peak RSS under 4 GB at any N, so 10M contacts / 200M events and 50M / 1B can be made on
a 2-core / 24 GB machine.

Each subprocess's peak RSS is its own ``ru_maxrss``, read with ``os.wait4`` (what
``getrusage(RUSAGE_CHILDREN)`` reports is the largest of all children waited for, so a
second measurement could not be told from the first). Without ``--out`` the files are
written to a temporary folder and removed.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import report

#: The baseline holds the whole base in memory: beyond this it is not run.
BASELINE_LIMIT = 1_000_000

_BASELINE = """
import sys
from pathlib import Path
from segexplore.datasets.generate import generate_base
out = Path(sys.argv[2])
for name, frame in generate_base(int(sys.argv[1]), seed=0).items():
    frame.to_parquet(out / f"{name}.parquet", compression="zstd", index=False)
"""


def measured(command: list[str]) -> tuple[float, float, str]:
    """Run ``command``; its seconds, its peak RSS in bytes and what it printed."""
    started = time.perf_counter()
    with tempfile.TemporaryFile("w+") as output:
        process = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT, text=True)
        _, status, usage = os.wait4(process.pid, 0)
        seconds = time.perf_counter() - started
        process.returncode = os.waitstatus_to_exitcode(status)
        output.seek(0)
        printed = output.read()
    if process.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed ({process.returncode}):\n{printed}")
    peak = usage.ru_maxrss if sys.platform == "darwin" else usage.ru_maxrss * 1024
    return seconds, float(peak), printed


def folder_size(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def report_memory(rows: list[tuple[str, float, float | None, str]]) -> None:
    """:func:`common.report`'s table for peak memory, in GB."""
    print(f"{'peak RSS':<58}{'ours':>11}{'baseline':>11}{'ratio':>8}  target")
    for name, ours, baseline, target in rows:
        base_text = f"{baseline / 1e9:9.2f}GB" if baseline is not None else " " * 11
        ratio = f"{ours / baseline:7.2f}x" if baseline else " " * 8
        print(f"{name:<58}{ours / 1e9:9.2f}GB{base_text}{ratio}  {target}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--contacts", type=int, default=1_000_000)
    parser.add_argument("--chunk-contacts", type=int, default=None,
                        help="passed to segexplore sample (default: one file a table)")
    parser.add_argument("--out", type=Path, default=None,
                        help="keep the generated base here (default: a temporary folder)")
    args = parser.parse_args()
    n = args.contacts
    work = Path(tempfile.mkdtemp(prefix="bench_generate_scale_"))
    out = args.out if args.out is not None else work / "ours"
    try:
        command = [sys.executable, "-m", "segexplore", "sample", "--contacts", str(n),
                   "--out", str(out), "--seed", "0"]
        if args.chunk_contacts:
            command += ["--chunk-contacts", str(args.chunk_contacts)]
        ours_seconds, ours_peak, printed = measured(command)
        print(printed.rstrip())
        print(f"on disk: {folder_size(out) / 1e9:.2f} GB; "
              f"{n / ours_seconds:,.0f} contacts/s")
        baseline_seconds = baseline_peak = None
        if n <= BASELINE_LIMIT:
            plain = work / "baseline"
            plain.mkdir()
            baseline_seconds, baseline_peak, _ = measured(
                [sys.executable, "-c", _BASELINE, str(n), str(plain)])
        else:
            print(f"baseline not run: generate_base holds the whole base in memory "
                  f"(run it up to {BASELINE_LIMIT:,} contacts)")
        name = f"segexplore sample --contacts {n:,}"
        report([(name, ours_seconds, baseline_seconds,
                 "info; baseline: generate_base + to_parquet")])
        report_memory([(name, ours_peak, baseline_peak, "< 4 GB at any N")])
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
