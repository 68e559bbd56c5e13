"""Sub-commands that write what may be sent: ``export`` and ``refresh``."""

from __future__ import annotations

import argparse
from pathlib import Path

from segexplore.cli.data import add_data_arguments, load, warn


def _add_data(parser: argparse.ArgumentParser) -> None:
    add_data_arguments(parser, option="--data")
    parser.add_argument("--as-of", dest="as_of", metavar="DATE",
                        help="look at the base on this date (default: the latest activity)")


def add_output_arguments(parser: argparse.ArgumentParser) -> None:
    """``--preset``, ``--excel``, ``--suppressions``, ``--columns``: how a file is written."""
    parser.add_argument("--preset", choices=("mailchimp", "brevo"),
                        help="column names as the platform's import expects")
    parser.add_argument("--excel", action="store_true",
                        help="UTF-8 with BOM and ';' separator, for Excel")
    parser.add_argument("--suppressions", metavar="FILE",
                        help="suppression list (unsubscribes, bounces, complaints)")
    parser.add_argument("--columns", metavar="A,B,...",
                        help="contact columns or features to write (email always is)")


def _base(args: argparse.Namespace):
    base = load(args)
    if args.as_of:
        base = base.at(args.as_of)
    return base


def _columns(args: argparse.Namespace) -> list[str] | None:
    if not args.columns:
        return None
    return [c.strip() for c in args.columns.split(",") if c.strip()]


def _is_catalog(source: str) -> bool:
    return Path(source).suffix.lower() in (".yaml", ".yml") or Path(source).is_file()


def _print_waterfall(waterfall) -> None:
    for rec in waterfall.itertuples(index=False):
        removed = f"  -{rec.removed:,}  {rec.reason}" if rec.removed else ""
        print(f"  {rec.step:<34}{rec.remaining:>10,}{removed}")


def write_segment(args: argparse.Namespace, segment, *, include_unsendable: bool = False,
                  every_column: bool = False):
    """Write ``segment`` to ``args.out`` as ``segexplore export`` does; print the waterfall.

    Parameters
    ----------
    args : argparse.Namespace
        ``out`` and the options of :func:`add_output_arguments` (and ``no_manifest``).
    segment : Segment
    include_unsendable : bool
        Every member, with ``sendable`` and ``excluded_at`` columns: an audit file, with a
        warning on stderr that it is not a list to send to.
    every_column : bool
        Without ``--columns``: every column of :meth:`Segment.members` (contacts and the
        features the rule uses) rather than the preset's.

    Returns
    -------
    ExportResult
    """
    from segexplore.delivery.export import export_segment

    columns = _columns(args)
    if every_column and columns is None:
        columns = list(segment.members().columns)
    result = export_segment(segment, args.out, columns=columns, preset=args.preset,
                            suppressions=args.suppressions, excel=args.excel,
                            include_unsendable=include_unsendable,
                            manifest=not getattr(args, "no_manifest", False))
    print(f"Exported {result.rows:,} contacts of {segment.name!r} to {result.path}"
          + (f" (manifest {result.manifest_path.name})" if result.manifest_path else ""))
    _print_waterfall(result.waterfall)
    if include_unsendable:
        unsendable = result.rows - int(result.waterfall["remaining"].iloc[-1])
        warn(args, f"{result.path} holds every member of {segment.name!r}, "
                   f"{unsendable:,} of whom may not be emailed (see its sendable and "
                   "excluded_at columns): an audit file, NOT a list to send to.")
    return result


def _export(args: argparse.Namespace) -> int:
    base = _base(args)
    try:
        return _export_from(args, base)
    finally:
        _close(base)


def _close(base) -> None:
    """Let go of what an engine holds for the base (a connected base drops the tables it
    made there); a pandas base holds nothing."""
    close = getattr(base, "close", None)
    if callable(close):
        close()


def _export_from(args: argparse.Namespace, base) -> int:
    from segexplore.delivery.catalog import Catalog
    from segexplore.errors import CatalogError

    if _is_catalog(args.source):
        catalog = Catalog.load(args.source)
        if args.segment is None:
            if len(catalog) != 1:
                raise CatalogError(f"--segment: {args.source} holds {len(catalog)} segments; "
                                   f"name one of {catalog.names}")
            name = catalog.names[0]
        else:
            name = catalog[args.segment].name
        segment = catalog.apply(base)[name]
    else:
        segment = base.segment(args.source, name=args.segment or "export")
    write_segment(args, segment, include_unsendable=args.include_unsendable)
    return 0


def _refresh(args: argparse.Namespace) -> int:
    import pandas as pd

    from segexplore.delivery.catalog import Catalog
    from segexplore.delivery.refresh import default_history_path, refresh

    catalog = Catalog.load(args.catalog)
    base = _base(args)
    history = args.history or str(default_history_path(args.catalog))
    options = {}
    if args.export:
        options = {"columns": _columns(args), "preset": args.preset, "excel": args.excel,
                   "suppressions": args.suppressions}
    try:
        report = refresh(catalog, base, history_path=history, export_dir=args.export,
                         jump_threshold=args.threshold, **options)
    finally:
        _close(base)
    print(f"Refreshed {len(report):,} segments as of {base.as_of:%Y-%m-%d}; history: {history}")
    for rec in report.itertuples(index=False):
        moved = ("first run" if pd.isna(rec.previous_size)
                 else f"{rec.change:+.1%}  +{rec.entered:,} / -{rec.left:,}  "
                      f"jaccard {rec.jaccard:.2f}")
        flag = "  <-- jump" if rec.jump else ""
        print(f"  {rec.segment:<40}{rec.size:>10,}  {moved}{flag}")
    jumps = report.attrs["jumps"]
    if jumps:
        print(f"{len(jumps):,} segment(s) changed by more than {args.threshold:.0%}: "
              + ", ".join(jumps))
    return 1 if jumps and args.fail_on_jump else 0


def register(commands) -> None:
    export = commands.add_parser(
        "export", help="write the contacts of a segment who may be emailed to a CSV file")
    export.add_argument("source", metavar="CATALOG_OR_RULE",
                        help="a catalog file (.yaml) or a rule text such as 'city = \"Lyon\"'")
    _add_data(export)
    export.add_argument("--segment", metavar="NAME",
                        help="segment of the catalog to export (or the name given to the rule)")
    export.add_argument("--out", required=True, metavar="FILE", help="CSV file to write")
    add_output_arguments(export)
    export.add_argument("--include-unsendable", action="store_true",
                        help="write every matched contact with why it may not be emailed")
    export.add_argument("--no-manifest", action="store_true",
                        help="do not write FILE.manifest.json")
    export.set_defaults(run=_export)

    refresh_parser = commands.add_parser(
        "refresh", help="re-evaluate a catalog's segments, record their sizes, flag jumps")
    refresh_parser.add_argument("catalog", metavar="CATALOG", help="catalog file (.yaml)")
    _add_data(refresh_parser)
    refresh_parser.add_argument("--history", metavar="PATH",
                                help="size history (.csv or .parquet); default: "
                                     "CATALOG.history.csv")
    refresh_parser.add_argument("--export", metavar="DIR",
                                help="also export every segment to this folder")
    add_output_arguments(refresh_parser)
    refresh_parser.add_argument("--threshold", type=float, default=0.2,
                                help="flag sizes that moved by more than this share (0.2)")
    refresh_parser.add_argument("--fail-on-jump", action="store_true",
                                help="exit with status 1 when a segment jumped")
    refresh_parser.set_defaults(run=_refresh)
