"""The ``segexplore`` command: one sub-command module per job.

Each module in this package defines ``register(commands)`` which adds its sub-commands to
the argparse sub-parser collection; a sub-command's handler returns the exit status.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys

#: Modules that register sub-commands, in the order they are listed in ``--help``.
COMMAND_MODULES = ("data", "tools", "export", "dashboard")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="segexplore",
        description="Explore, segment and export an email contact base.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(f"{__name__}.{name}")
        except ModuleNotFoundError as error:
            if error.name != f"{__name__}.{name}":
                raise
            continue  # that job is not installed in this version
        module.register(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from ..errors import SegexploreError

    try:
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
