"""Regenerate the bundled sample base (and, optionally, the messy raw exports).

Usage (from the repository root)::

    python sample_data/generate.py --contacts 20000 --out segexplore/data --raw sample_data/raw
    python sample_data/generate.py --contacts 1000 --out /tmp/base --format csv --seed 3

A thin command line over :mod:`segexplore.datasets.generate`; see ``sample_data/README.md``.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

try:
    from segexplore.datasets.generate import write_sample
except ModuleNotFoundError:  # run from a checkout without installing the package
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from segexplore.datasets.generate import write_sample


def build_parser() -> argparse.ArgumentParser:
    """Command-line options of the generator."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contacts", type=int, default=20_000, help="number of contacts")
    parser.add_argument("--out", type=Path, default=Path("segexplore/data"),
                        help="directory of contacts/events/orders files")
    parser.add_argument("--raw", type=Path, default=None,
                        help="also write messy *_raw.csv exports of a smaller base here")
    parser.add_argument("--raw-contacts", type=int, default=5_000,
                        help="contacts of the base behind the raw exports")
    parser.add_argument("--seed", type=int, default=0, help="random seed")
    parser.add_argument("--as-of", default="2026-10-31", help="end of the observation window")
    parser.add_argument("--events-per-contact", type=float, default=20.0,
                        help="target mean number of events per contact")
    parser.add_argument("--format", choices=("parquet", "csv"), default="parquet",
                        help="file format of the base")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Generate and write the files; print what was written."""
    args = build_parser().parse_args(argv)
    started = time.perf_counter()
    paths = write_sample(args.out, args.contacts, args.seed, as_of=args.as_of,
                         events_per_contact=args.events_per_contact, file_format=args.format,
                         raw_directory=args.raw, raw_contacts=args.raw_contacts)
    for name, path in paths.items():
        print(f"{name:>13}: {path} ({path.stat().st_size / 1e6:.2f} MB)")
    print(f"done in {time.perf_counter() - started:.1f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
