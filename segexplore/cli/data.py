"""Sub-commands that load data: ``summary``."""

from __future__ import annotations

import argparse


def load(args: argparse.Namespace):
    """The base named by ``args.contacts`` / ``--events`` / ``--orders`` (default: sample)."""
    from ..core.loader import load_sample, read_base

    if getattr(args, "contacts", None):
        return read_base(args.contacts, getattr(args, "events", None),
                         getattr(args, "orders", None))
    return load_sample()


def add_data_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("contacts", nargs="?",
                        help="contacts file (CSV, Parquet, Excel); default: the bundled sample")
    parser.add_argument("--events", help="events file")
    parser.add_argument("--orders", help="orders file")


def _summary(args: argparse.Namespace) -> int:
    base = load(args)
    print(base)
    print()
    print(base.report)
    return 0


def register(commands) -> None:
    summary = commands.add_parser(
        "summary", help="load a base (default: the sample); print its summary and cleaning report")
    add_data_arguments(summary)
    summary.set_defaults(run=_summary)
