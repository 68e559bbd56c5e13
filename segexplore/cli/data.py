"""Sub-commands that load data: ``summary``; and how every sub-command reads its data.

Every sub-command that reads a base takes the same data arguments: a contacts file, or a
folder holding ``contacts``, ``events`` and ``orders`` files (as ``segexplore sample --out
DIR`` writes them); ``--events`` / ``--orders`` add or replace those tables. Without any,
the bundled sample is loaded. ``export`` and ``refresh`` also take ``--connect SOURCE``
(with ``--schema`` and ``--tables``): the tables stay in PostgreSQL or a DuckDB database
file (:func:`segexplore.connect`).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

#: Columns of the issues table printed by ``segexplore summary --issues``.
_ISSUE_COLUMNS = ("table", "file", "row", "column", "value", "problem", "action")
#: Leading columns of the rejected rows printed by ``segexplore summary --issues``.
_REJECT_COLUMNS = ("table", "file", "row", "reason")


def load(args: argparse.Namespace):
    """The base named by ``args.contacts`` (file or folder) / ``--events`` / ``--orders``.

    Without a contacts file or folder the bundled sample is loaded; ``--events`` or
    ``--orders`` alone are refused (they would be silently ignored otherwise).
    """
    from segexplore.datasets.sample import load_sample
    from segexplore.io.load import read_base

    source = getattr(args, "contacts", None)
    extra = {t: getattr(args, t, None) for t in ("events", "orders")}
    if getattr(args, "connect", None):
        given = [f"--{t}" for t, path in {"data": source, **extra}.items() if path]
        if given:
            _usage_error(args, f"--connect reads the tables where they are: drop "
                               f"{' and '.join(given)} (name the tables with --tables)")
        from segexplore.engines.server import connect_source

        return connect_source(args.connect, tables=args.tables, schema=args.schema)
    if not source:
        given = [f"--{t}" for t, path in extra.items() if path]
        if given:
            verb = "needs" if len(given) == 1 else "need"
            _usage_error(args, f"{' and '.join(given)} {verb} the contacts file or folder "
                               "too (without it the bundled sample is loaded)")
        return load_sample()
    from segexplore.dashboards import find_tables

    tables = find_tables(source)
    for table, path in extra.items():
        if path:
            tables[table] = Path(path)
    # A progress bar only for someone watching: cron logs get no carriage returns.
    progress = None if sys.stderr.isatty() else False
    return read_base(tables["contacts"], tables.get("events"), tables.get("orders"),
                     progress=progress)


def _usage_error(args: argparse.Namespace, message: str) -> None:
    parser = getattr(args, "parser", None)
    if parser is None:  # called without the parser (from code): a plain usage error
        raise SystemExit(f"segexplore: {message}")
    parser.error(message)


def add_data_arguments(parser: argparse.ArgumentParser, *, option: str | None = None) -> None:
    """``[FILE] [--events PATH] [--orders PATH]``, read by :func:`load`; with ``option``
    (e.g. ``"--data"``) the contacts are named by that option instead of a positional FILE."""
    where = ("contacts file (CSV, Parquet, Excel), or a folder of contacts/events/orders "
             "files; default: the bundled sample")
    if option is None:
        parser.add_argument("contacts", nargs="?", metavar="FILE", help=where)
    else:
        parser.add_argument(option, dest="contacts", metavar="PATH", help=where)
    parser.add_argument("--events", metavar="PATH", help="events file")
    parser.add_argument("--orders", metavar="PATH", help="orders file")
    if option is not None:
        add_connect_arguments(parser)
    parser.set_defaults(parser=parser)


def add_connect_arguments(parser: argparse.ArgumentParser) -> None:
    """``--connect SOURCE [--schema NAME] [--tables CONTACTS,EVENTS[,ORDERS]]``: a base whose
    tables stay where they live (:func:`segexplore.engines.server.connect_source`)."""
    from segexplore.engines.server import CONNECT_FORMS

    parser.add_argument("--connect", metavar="SOURCE",
                        help="read the tables where they live, without copying them: "
                             + CONNECT_FORMS)
    parser.add_argument("--schema", metavar="NAME", help="with --connect: their schema")
    parser.add_argument("--tables", metavar="CONTACTS,EVENTS[,ORDERS]",
                        help="with --connect: the tables' names "
                             "(default contacts,events,orders)")


def warn(args: argparse.Namespace, message: str) -> None:
    """Print ``message`` as a warning of this sub-command on stderr."""
    print(f"segexplore {args.command}: warning: {message}", file=sys.stderr)


def issues_tables(report: Any) -> list[tuple[str, Any]]:
    """``(title, table)`` pairs for ``summary --issues``: cell-level issues, rejected rows."""
    import pandas as pd

    tables = []
    issues = report.issues
    if len(issues):
        shown = [c for c in _ISSUE_COLUMNS if c in issues.columns]
        tables.append((f"{len(issues):,} cell-level issues (the rows are kept)",
                       issues[shown]))
    rejects = [frame for frame in report.rejects.values() if len(frame)]
    if rejects:
        frame = pd.concat(rejects, ignore_index=True)
        shown = [c for c in _REJECT_COLUMNS if c in frame.columns]
        tables.append((f"{len(frame):,} rejected rows (kept in base.rejects)", frame[shown]))
    return tables


def _summary(args: argparse.Namespace) -> int:
    base = load(args)
    print(base)
    print()
    print(base.report)
    if args.issues:
        tables = issues_tables(base.report)
        if not tables:
            print("\nNo cell-level issue and no rejected row.")
        for title, table in tables:
            print(f"\n{title}:")
            print_table(table)
    return 0


def print_table(frame: Any, *, cut: tuple[str, ...] = ("value",), max_width: int = 60,
                chunk: int = 10_000) -> None:
    """Print ``frame`` as aligned columns, one line per row, without its index.

    Numbers are aligned right, text left. Cells stay on one line (a line break shows as
    ``\\n``); those of the ``cut`` columns (raw values from the file, which may be
    anything) are cut at ``max_width`` characters. Rows are written ``chunk`` at a time,
    so 200,000 issues start printing at once and ``| head`` stops the work early
    (``DataFrame.to_string`` takes 7 s on them, this 2 s).

    Examples
    --------
    >>> import pandas as pd
    >>> print_table(pd.DataFrame({"row": [2, 10], "value": ["a\\nb", None]}))
    row value
      2 a\\nb
     10
    """
    import pandas as pd

    cells, right = {}, {}
    for column in frame.columns:
        values = frame[column]
        right[column] = pd.api.types.is_numeric_dtype(values.dtype)
        values = values.astype("object")
        text = values.where(values.notna(), "").astype(str)
        text = text.str.replace("\r", "\\r").str.replace("\n", "\\n")
        if column in cut:
            text = text.where(text.str.len() <= max_width, text.str[:max_width - 1] + "…")
        cells[column] = text
    widths = {c: max(len(str(c)), int(v.str.len().max()) if len(v) else 0)
              for c, v in cells.items()}

    def align(text, column):
        width = widths[column]
        if isinstance(text, str):
            return text.rjust(width) if right[column] else text.ljust(width)
        return text.str.rjust(width) if right[column] else text.str.ljust(width)

    print(" ".join(align(str(c), c) for c in cells).rstrip())
    for start in range(0, len(frame), chunk):
        lines = None
        for column, text in cells.items():
            part = align(text.iloc[start:start + chunk], column)
            lines = part if lines is None else lines + " " + part
        if lines is not None:
            print("\n".join(lines.str.rstrip()))


def register(commands) -> None:
    summary = commands.add_parser(
        "summary", help="load a base (default: the sample); print its summary and cleaning "
                        "report; --issues lists every cell-level issue and rejected row")
    add_data_arguments(summary)
    summary.add_argument("--issues", action="store_true",
                         help="also print every cell-level issue (table, file, row, column, "
                              "value, problem, action) and every rejected row")
    summary.set_defaults(run=_summary)
