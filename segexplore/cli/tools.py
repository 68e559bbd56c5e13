"""Sub-commands for scripts and cron: ``profile`` and ``segment`` (``sample`` is in
:mod:`segexplore.cli.sample`).

``FILE`` is a contacts file (CSV, Parquet, Excel) or a folder holding ``contacts``,
``events`` and ``orders`` files, as ``segexplore sample --out DIR`` writes them; without
it, the bundled sample is used (see :func:`segexplore.cli.data.load`).
"""

from __future__ import annotations

import argparse

from segexplore.cli.data import add_data_arguments, load, warn
from segexplore.cli.export import add_output_arguments, write_segment

#: Columns of the profile summary printed by ``segexplore profile``.
_PROFILE_COLUMNS = ("attribute", "kind", "count", "missing", "distinct", "top", "top_share",
                    "mean", "min", "p50", "max")


def _thousands(value) -> str:
    """``20000`` -> ``20,000``, as every count the command line prints; missing stays empty."""
    import pandas as pd

    return "" if pd.isna(value) else f"{int(value):,}"


def _profile(args: argparse.Namespace) -> int:
    import pandas as pd

    from segexplore.analysis.profile import profile

    result = profile(load(args))
    print(result)
    summary = result.summary
    shown = [c for c in _PROFILE_COLUMNS if c in summary.columns]
    counts = {c: _thousands for c in ("count", "missing", "distinct")
              if c in shown and pd.api.types.is_numeric_dtype(summary[c])}
    with pd.option_context("display.width", 200, "display.max_columns", None,
                           "display.max_colwidth", 30):
        print(summary[shown].to_string(index=False, formatters=counts))
    if args.html:
        result.to_html(args.html)
        print(f"HTML report written to {args.html}")
    return 0


def _segment(args: argparse.Namespace) -> int:
    base = load(args)
    segment = base.segment(args.rule, name=args.name)
    print(f"{segment.size:,} contacts ({segment.share:.1%} of {len(base.contacts):,}) "
          f"as of {base.as_of:%Y-%m-%d}")
    print(f"rule: {segment.rule}")
    if args.out:
        # The file holds what `segexplore export` would write (consent, valid email,
        # suppressions, duplicates): a members file that looks like an export gets sent.
        write_segment(args, segment, include_unsendable=args.all_members,
                      every_column=args.all_members)
    elif args.all_members:
        warn(args, "--all-members does nothing without --out")
    return 0


def register(commands) -> None:
    profile = commands.add_parser(
        "profile", help="print the profile of a base (default: the sample); --html writes "
                        "the offline report")
    add_data_arguments(profile)
    profile.add_argument("--html", metavar="OUT", help="write the HTML report here")
    profile.set_defaults(run=_profile)

    segment = commands.add_parser(
        "segment", help="print the size of a segment; --out writes the members who may be "
                        "emailed, as export does",
        description="Count the contacts a rule selects. --out writes the same file as "
                    "'segexplore export' (only contacts who may be emailed, the waterfall "
                    "printed); --all-members writes every member, for audits.")
    add_data_arguments(segment)
    segment.add_argument("--rule", required=True, metavar="TEXT",
                         help='the rule, e.g. \'city = "Lyon" and device = "Android"\'')
    segment.add_argument("--name", help="segment name (default: the rule)")
    segment.add_argument("--out", metavar="CSV",
                         help="write the members who may be emailed here (and CSV.manifest.json)")
    segment.add_argument("--all-members", action="store_true",
                         help="with --out: write every member, with sendable and excluded_at "
                              "columns (not a list to send to)")
    add_output_arguments(segment)
    segment.add_argument("--no-manifest", action="store_true",
                         help="do not write CSV.manifest.json")
    segment.set_defaults(run=_segment)
