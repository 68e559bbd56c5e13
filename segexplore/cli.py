"""The ``segexplore`` command."""

from __future__ import annotations

import argparse
import sys


def _summary(args: argparse.Namespace) -> int:
    from .core.loader import load_sample, read_base

    if args.contacts:
        base = read_base(args.contacts, args.events, args.orders)
    else:
        base = load_sample()
    print(base)
    print()
    print(base.report)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="segexplore", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    summary = commands.add_parser("summary", help="load a base (default: the sample) and "
                                  "print its summary and cleaning report")
    summary.add_argument("contacts", nargs="?", help="contacts file (CSV, Parquet, Excel)")
    summary.add_argument("--events", help="events file")
    summary.add_argument("--orders", help="orders file")
    summary.set_defaults(run=_summary)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
