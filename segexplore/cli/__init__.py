"""The ``segexplore`` command: one sub-command module per job.

Each module in this package defines ``register(commands)`` which adds its sub-commands to
the argparse sub-parser collection; a sub-command's handler returns the exit status.
"""

from __future__ import annotations

import argparse
import os
import sys
import warnings


def build_parser() -> argparse.ArgumentParser:
    # Each sub-command module is imported when the command line is parsed, not when
    # segexplore.cli is: `segexplore export` need not import Voilà's launcher.
    from segexplore.cli import dashboard, data, export, sample, tools

    parser = argparse.ArgumentParser(
        prog="segexplore",
        description="Explore, segment and export an email contact base.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in (data, tools, export, dashboard, sample):  # the order of --help
        module.register(commands)
    return parser


def _print_warnings(command: str):
    """A ``warnings.showwarning`` that prints segexplore's warnings as one line each,
    ``segexplore COMMAND: warning: ...`` on stderr, and leaves others to Python."""
    from segexplore.errors import SegexploreWarning

    python_way = warnings.showwarning

    def show(message, category, filename, lineno, file=None, line=None):
        if issubclass(category, SegexploreWarning):
            # `<frozen runpy>:88: RuleValueWarning: ...` tells a command-line user nothing.
            sys.stdout.flush()  # after what was printed before it, in a terminal too
            print(f"segexplore {command}: warning: {message}", file=sys.stderr)
        else:
            python_way(message, category, filename, lineno, file, line)

    return show


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from segexplore.errors import SegexploreError, SegexploreWarning

    try:
        with warnings.catch_warnings():
            # Each warning once per run (e.g. RuleValueWarning: a rule value that matches
            # nobody but looks like a typo), however the caller set the filters.
            warnings.simplefilter("default", SegexploreWarning)
            warnings.showwarning = _print_warnings(args.command)
            return int(args.run(args) or 0)
    except SegexploreError as error:
        # Users of the command line get the message, not a traceback.
        print(f"segexplore {args.command}: {error}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        # `segexplore summary | head`: the reader left; stop quietly, as Unix tools do.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


if __name__ == "__main__":
    sys.exit(main())
