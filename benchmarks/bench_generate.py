"""Time :func:`segexplore.datasets.generate.generate_base` on a million contacts.

Plain script: ``python benchmarks/bench_generate.py [n_contacts]``. The target is under
30 s for 1,000,000 contacts (~20 million events) on a 2-core machine.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

try:
    from segexplore.datasets.generate import generate_base
except ModuleNotFoundError:  # run from a checkout without installing the package
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from segexplore.datasets.generate import generate_base


def main(n_contacts: int = 1_000_000) -> float:
    """Generate once, print the timing and table sizes, return the seconds taken."""
    started = time.perf_counter()
    tables = generate_base(n_contacts, seed=0)
    seconds = time.perf_counter() - started
    events = tables["events"]
    memory = sum(t.memory_usage(deep=True).sum() for t in tables.values()) / 1e9
    print(f"generate_base({n_contacts:_}): {seconds:.1f} s")
    print(f"  contacts: {len(tables['contacts']):_}")
    print(f"  events:   {len(events):_} ({len(events) / n_contacts:.1f} per contact)")
    print(f"  orders:   {len(tables['orders']):_}")
    print(f"  memory:   {memory:.2f} GB")
    return seconds


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000)
