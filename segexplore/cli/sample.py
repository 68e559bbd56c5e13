"""The ``sample`` sub-command: write a generated base of any size, block by block.

``segexplore sample --contacts N --out DIR`` writes ``contacts.parquet``,
``events.parquet`` and ``orders.parquet`` in DIR (the folder the other sub-commands
read); ``--chunk-contacts C`` writes each table as a folder of parts of C contacts
instead (``DIR/events/part-00000.parquet``...). Memory stays bounded whatever N (0.63 GB
at 10 million contacts: :func:`segexplore.datasets.scale.write_base`), and the base
depends only on the seed, N, ``--as-of`` and ``--events-per-contact``.
"""

from __future__ import annotations

import argparse
import sys


def _count(text: str) -> int:
    """A whole number >= 1; ``10_000_000`` and ``10,000,000`` are read as 10000000."""
    try:
        value = int(text.replace(",", ""))
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a whole number >= 1, not {text}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number >= 1, not {text}")
    return value


def _rate(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number >= 0, not {text}") from None
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"must be a number >= 0, not {text}")
    return value


def _peak_memory_gb() -> float:
    """Peak resident memory of this process so far (``ru_maxrss``: KiB on Linux, bytes on
    macOS)."""
    import resource

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 1e9 if sys.platform == "darwin" else peak * 1024 / 1e9


def _show_progress(done: int, total: int, rows: dict[str, int]) -> None:
    print(f"\r  {done:,} of {total:,} contacts, {rows['events']:,} events", end="",
          file=sys.stderr, flush=True)


def _run(args: argparse.Namespace) -> int:
    import time

    from segexplore.datasets.scale import write_base

    rows: dict[str, int] = {}

    def progress(done: int, total: int, so_far: dict[str, int]) -> None:
        rows.update(so_far)
        if watched:
            _show_progress(done, total, so_far)

    # A progress line only for someone watching: cron logs get no carriage returns.
    watched = sys.stderr.isatty()
    started = time.perf_counter()
    paths = write_base(args.out, args.contacts, seed=args.seed,
                       chunk_contacts=args.chunk_contacts, as_of=args.as_of,
                       events_per_contact=args.events_per_contact, file_format=args.format,
                       progress=progress)
    seconds = time.perf_counter() - started
    if watched:
        print(file=sys.stderr)
    for name, path in paths.items():
        files = 1 if path.is_file() else sum(1 for p in path.glob("part-*") if p.is_file())
        print(f"{name}: {path}  {rows[name]:,} rows in {files:,} file{'s' * (files != 1)}")
    print(f"{rows['contacts']:,} contacts, {rows['events']:,} events, {rows['orders']:,} "
          f"orders (seed {args.seed}) in {seconds:.1f} s, peak memory "
          f"{_peak_memory_gb():.2f} GB")
    return 0


def register(commands) -> None:
    sample = commands.add_parser(
        "sample", help="write a generated contact base of any size (contacts, events, "
                       "orders), block by block in bounded memory",
        description="Write a generated base: contacts.parquet, events.parquet and "
                    "orders.parquet in DIR, or with --chunk-contacts a folder of parts per "
                    "table. Generated 100,000 contacts at a time, in bounded memory (0.6 GB "
                    "at 10 million contacts); the same seed, N, --as-of and --events-per-contact give the "
                    "same base, however it is split into files.")
    sample.add_argument("--contacts", type=_count, required=True, metavar="N",
                        help="number of contacts (10_000_000 or 10,000,000 work too)")
    sample.add_argument("--out", required=True, metavar="DIR", help="folder to write to")
    sample.add_argument("--seed", type=int, default=0, help="random seed >= 0 (default 0)")
    sample.add_argument("--events-per-contact", type=_rate, default=20.0, metavar="K",
                        help="mean events per contact (default 20)")
    sample.add_argument("--chunk-contacts", type=_count, metavar="C",
                        help="write each table as a folder of files of C contacts each "
                             "(DIR/events/part-00000.parquet...); default: one file a table")
    sample.add_argument("--as-of", default="2026-10-31", metavar="DATE",
                        help="end of the generated history (default 2026-10-31)")
    sample.add_argument("--format", choices=("parquet", "csv"), default="parquet",
                        help="file format (default parquet)")
    sample.set_defaults(run=_run)
