"""Sub-commands for scripts and cron: ``profile``, ``segment`` and ``sample``.

``FILE`` is a contacts file (CSV, Parquet, Excel) or a folder holding ``contacts``,
``events`` and ``orders`` files, as ``segexplore sample --out DIR`` writes them.
"""

from __future__ import annotations

import argparse
from pathlib import Path


def load_file(args: argparse.Namespace):
    """The base named by ``args.file`` (file or folder) and ``--events`` / ``--orders``."""
    from ..core.loader import read_base
    from ..dashboards import find_tables

    tables = find_tables(args.file)
    for table in ("events", "orders"):
        if getattr(args, table, None):
            tables[table] = Path(getattr(args, table))
    return read_base(tables["contacts"], tables.get("events"), tables.get("orders"),
                     progress=False)


def _add_file_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", metavar="FILE",
                        help="contacts file, or a folder of contacts/events/orders files")
    parser.add_argument("--events", metavar="PATH", help="events file")
    parser.add_argument("--orders", metavar="PATH", help="orders file")


#: Columns of the profile summary printed by ``segexplore profile``.
_PROFILE_COLUMNS = ("attribute", "kind", "count", "missing", "distinct", "top", "top_share",
                    "mean", "min", "p50", "max")


def _profile(args: argparse.Namespace) -> int:
    import pandas as pd

    from ..core.profile import profile

    result = profile(load_file(args))
    print(result)
    shown = [c for c in _PROFILE_COLUMNS if c in result.summary.columns]
    with pd.option_context("display.width", 200, "display.max_columns", None,
                           "display.max_colwidth", 30):
        print(result.summary[shown].to_string(index=False))
    if args.html:
        result.to_html(args.html)
        print(f"HTML report written to {args.html}")
    return 0


def _segment(args: argparse.Namespace) -> int:
    from ..core.io import atomic_write

    base = load_file(args)
    segment = base.segment(args.rule, name=args.name)
    print(f"{segment.size} contacts ({segment.share:.1%} of {len(base.contacts):,}) "
          f"as of {base.as_of:%Y-%m-%d}")
    print(f"rule: {segment.rule}")
    if args.out:
        members = segment.members()
        with atomic_write(args.out) as handle:
            members.to_csv(handle, index=False)
        print(f"{len(members):,} members written to {args.out}")
    return 0


def _sample(args: argparse.Namespace) -> int:
    from ..core.sample import write_sample

    paths = write_sample(args.out, n_contacts=args.contacts, seed=args.seed,
                         file_format=args.format)
    for name, path in paths.items():
        print(f"{name}: {path}")
    return 0


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number >= 1, not {text}")
    return value


def register(commands) -> None:
    profile = commands.add_parser(
        "profile", help="print the profile of a base; --html writes the offline report")
    _add_file_arguments(profile)
    profile.add_argument("--html", metavar="OUT", help="write the HTML report here")
    profile.set_defaults(run=_profile)

    segment = commands.add_parser(
        "segment", help="print the size of a segment; --out writes its members as CSV")
    _add_file_arguments(segment)
    segment.add_argument("--rule", required=True, metavar="TEXT",
                         help='the rule, e.g. \'city = "Lyon" and device = "Android"\'')
    segment.add_argument("--name", help="segment name (default: the rule)")
    segment.add_argument("--out", metavar="CSV", help="write the members here")
    segment.set_defaults(run=_segment)

    sample = commands.add_parser(
        "sample", help="write a generated contact base (contacts, events, orders)")
    sample.add_argument("--contacts", type=_positive, required=True, metavar="N",
                        help="number of contacts")
    sample.add_argument("--out", required=True, metavar="DIR", help="folder to write to")
    sample.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    sample.add_argument("--format", choices=("parquet", "csv"), default="parquet",
                        help="file format (default parquet)")
    sample.set_defaults(run=_sample)
