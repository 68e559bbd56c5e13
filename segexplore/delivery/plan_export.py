"""Export a variant plan: each variant's sendable contacts, their content, and the plan.

What it builds on, one place for each job: the sendable waterfall and its priority step
(:func:`segexplore.delivery.waterfall._select`, as :func:`~segexplore.delivery.export.export_segments`
runs it with ``overlap="priority"``: a contact an earlier entry matched is "not in a
higher-priority segment", an email exported with an earlier variant is de-duplicated),
the output columns, the formula-safe CSV writer and the manifest of each file
(:mod:`segexplore.delivery.export`, :mod:`segexplore.delivery.csv`), the seeded holdout
(:mod:`segexplore.delivery.split`) and the atomic writer (:mod:`segexplore.io.atomic`).
Erased people and suppression lists are removed by that waterfall, as in every export.

Files, in ``folder`` (``<plan>`` is the plan's name as a file name):

* ``layout="one_file"``: ``<plan>.csv`` with a ``variant`` column;
* ``layout="per_variant"``: ``<plan>_<variant>.csv`` per variant;
* with a holdout, beside each file ``..._holdout.csv``: who must *not* be emailed;
* each CSV with its ``<file>.manifest.json`` (checksum, waterfall: see ``docs/export.md``),
  and ``<plan>.plan.json``, the one manifest of the plan, written last: entries in
  priority order, rules, templates, sizes, waterfalls per variant, fallbacks, files.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from html import escape
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from segexplore.delivery import csv as delivery_csv
from segexplore.delivery.csv import Preset, _frame_chunks, _preset, _write_csv
from segexplore.delivery.export import (
    ExportResult,
    _file_stem,
    _output_columns,
    _publish_export,
    _rows_frame,
    _version,
)
from segexplore.delivery.manifest import _utc_now, data_fingerprint
from segexplore.delivery.split import _check_shares, _split_positions
from segexplore.delivery.suppressions import _prepare_suppressions
from segexplore.delivery.templates import TEMPLATE_KEYS
from segexplore.delivery.waterfall import (
    Waterfall,
    _claim,
    _contact_count,
    _funnel_html,
    _release,
    _select,
    _Selection,
)
from segexplore.errors import ExportError
from segexplore.io.atomic import atomic_write_bytes
from segexplore.model.segments import Segment
from segexplore.rules.nodes import Or

__all__ = ["PLAN_SCHEMA", "LAYOUTS", "PlanExport", "export_plan"]

#: Version tag of the plan manifest ``<plan>.plan.json``.
PLAN_SCHEMA = "segexplore.plan/1"
#: The ways to lay out a plan's files.
LAYOUTS = ("one_file", "per_variant")

_PRIORITY_STEP = "not in a higher-priority segment"  # the step _select names
_HOLDOUT_NOTE = "holdout: do NOT email these contacts"


@dataclass(frozen=True)
class PlanExport:
    """What :func:`export_plan` wrote.

    Attributes
    ----------
    folder : Path
    manifest_path : Path
        ``<plan>.plan.json``.
    manifest : dict
        Its content.
    files : dict
        ``{file name: ExportResult}``, in the order written.
    waterfalls : dict
        ``{variant: Waterfall}``: matched, not in a higher-priority entry, valid email,
        consented, not suppressed, de-duplicated (and not in the holdout), exported.
    """

    folder: Path
    manifest_path: Path
    manifest: dict[str, Any]
    files: dict[str, ExportResult]
    waterfalls: dict[str, Waterfall]

    def __repr__(self) -> str:
        lines = [f"PlanExport {self.manifest['name']!r} -> {self.folder} "
                 f"({self.manifest_path.name})"]
        for entry in self.manifest["entries"]:
            lines.append(f"  {entry['variant']:<16}{entry['assigned']:>10,} assigned"
                         f"{entry['exported']:>10,} exported{entry['holdout']:>8,} holdout")
        lines += [f"  {name}: {result.rows:,} rows" for name, result in self.files.items()]
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        funnels = "".join(f"<details><summary>{escape(variant)}: "
                          f"{int(w['remaining'].iloc[-1]):,} exported</summary>"
                          f"{_funnel_html(w)}</details>" for variant, w in self.waterfalls.items())
        files = "".join(f"<li><code>{escape(name)}</code>: {result.rows:,} rows</li>"
                        for name, result in self.files.items())
        return (f"<div><strong>{escape(self.manifest['name'])}</strong> exported to "
                f"<code>{escape(str(self.folder))}</code> (first match wins; manifest "
                f"<code>{escape(self.manifest_path.name)}</code>)<ul>{files}</ul>{funnels}</div>")


@dataclass
class _Part:
    """One variant's contacts: those to send, and its holdout (None without one)."""

    entry: Any  # a PlanEntry of segexplore.delivery.plan (which imports this module)
    matched: _Selection
    send: _Selection
    holdout: _Selection | None


def _combined(parts: Sequence[_Part], selections: Sequence[_Selection],
              n_contacts: int) -> _Selection:
    """The selections of several variants as one (a file of every variant): the contacts
    each variant was assigned, and the waterfall steps summed over the variants."""
    kept = [s.excluded_at != _PRIORITY_STEP for s in selections]
    positions = np.concatenate([s.positions[k] for s, k in zip(selections, kept, strict=True)])
    excluded = np.concatenate([s.excluded_at[k] for s, k in zip(selections, kept, strict=True)])
    out = _Selection(selections[0].base, positions, excluded, [], selections[0].suppressions)
    out.steps.append({"step": "assigned a variant (first match wins)",
                      "remaining": len(positions), "removed": n_contacts - len(positions),
                      "reason": "no entry of the plan matches, or outside its target"})
    names = [s["step"] for s in selections[0].steps
             if s["step"] not in ("matched by the rule", _PRIORITY_STEP)]
    for name in names:
        steps = [(part.entry.variant, step) for part, selection in zip(parts, selections,
                                                                        strict=True)
                 for step in selection.steps if step["step"] == name]
        out.steps.append({
            "step": name, "remaining": sum(s["remaining"] for _, s in steps),
            "removed": sum(s["removed"] for _, s in steps),
            "reason": _reasons([(v, s["reason"]) for v, s in steps if s["removed"]])})
    return out


def _reasons(reasons: Sequence[tuple[str, str]]) -> str:
    """One reason if every variant gives the same, else ``variant: reason`` for each."""
    if len({r for _, r in reasons}) == 1:
        return reasons[0][1]
    return "; ".join(f"{variant}: {reason}" for variant, reason in reasons)


def _file_names(plan: Any, layout: str, holdout: bool) -> dict[tuple[str | None, str], str]:
    """``{(variant or None, "send" | "holdout"): file name}``; an error if two clash."""
    stem = _file_stem(plan.name)
    keys: list[str | None] = ([None] if layout == "one_file"
                              else [e.variant for e in plan.all_entries])
    names = {}
    for variant in keys:
        own = stem if variant is None else f"{stem}_{_file_stem(variant)}"
        names[(variant, "send")] = f"{own}.csv"
        if holdout:
            names[(variant, "holdout")] = f"{own}_holdout.csv"
    every = [*names.values(), f"{stem}.plan.json"]
    for name in every:
        if [n.lower() for n in every].count(name.lower()) > 1:
            raise ExportError(f"two files of plan {plan.name!r} would be named {name}: rename "
                              f"a variant (variants: {[e.variant for e in plan.all_entries]})")
    return names


def _with_content(plan: Any, entry: Any, values: pd.DataFrame, wanted: list[str],
                  rendered: list[str]) -> pd.DataFrame:
    """The rows a file holds for ``entry`` out of ``values`` (the output columns and the
    entry's merge fields): the output columns, ``variant`` and the rendered templates."""
    frame = values[wanted].reset_index(drop=True)
    frame["variant"] = pd.Series([entry.variant] * len(frame), dtype="str")
    if rendered:
        content = plan.render_values(entry, values.reset_index(drop=True))
        for column in rendered:
            frame[column] = (content[column] if column in content
                             else pd.Series([None] * len(frame), dtype="object"))
    return frame


def _plan_rows(plan: Any, pairs: Sequence[tuple[Any, _Selection]], wanted: list[str],
               rendered: list[str], chosen: Preset) -> delivery_csv._Chunks:
    """The rows of one file, entry after entry, a chunk at a time: read from DuckDB a
    batch at a time when the members stay there (templates rendered per batch), from the
    tables in pandas."""
    fields = {id(e): [f for f in e.fields if f not in wanted] for e, _ in pairs}
    if any(selection.members is None for _, selection in pairs):
        frame = pd.concat([_with_content(plan, entry, _rows_frame(
            plan.base, selection.sendable_positions(), [*wanted, *fields[id(entry)]]),
            wanted, rendered) for entry, selection in pairs], ignore_index=True)
        return _frame_chunks(frame, chosen)
    sources, whole = [], {}
    for entry, selection in pairs:
        rows = selection.members.rows([*wanted, *fields[id(entry)]])
        for column, flag in rows.whole_days().items():
            if column in wanted:  # a date column is written alike in every entry's rows
                whole[column] = whole.get(column, True) and flag
        sources.append((entry, rows))

    def frames() -> Iterator[pd.DataFrame]:
        for entry, rows in sources:
            for batch in rows.batches(delivery_csv.ROWS_PER_CHUNK):
                yield _with_content(plan, entry, batch, wanted, rendered)

    layouts = {c: delivery_csv._date_layout(c, chosen, flag) for c, flag in whole.items()}
    return delivery_csv._Chunks([*wanted, "variant", *rendered], layouts, frames())


def _write(selection: _Selection, path: Path, rows: delivery_csv._Chunks, *, segment: Segment,
           chosen: Preset, excel: bool, extra: dict[str, Any],
           suppressions: str | None) -> ExportResult:
    """Write one file through the export's CSV writer and manifest."""
    header = [chosen.column_name(c) for c in rows.columns]
    if len(set(header)) != len(header):
        raise ExportError(f"columns: two columns get the same name in the file: {header}")
    staged, written = _write_csv(path, rows, header, chosen, excel)
    try:
        return _publish_export(selection, staged, written, list(rows.columns), header,
                               chosen=chosen, excel=excel, include_unsendable=False,
                               manifest=True, extra=extra, segment=segment,
                               suppressions=suppressions)
    except BaseException:
        staged.discard()
        raise


def _union_segment(plan: Any) -> Segment:
    """Who a file of every variant is drawn from: the target (with a default), or anyone
    some entry matches."""
    if plan.default is not None:
        return plan.default.segment
    rules = [e.segment.effective_rule for e in plan.entries]
    return Segment(plan.base, rules[0] if len(rules) == 1 else Or(*rules), name=plan.name,
                   description=f"the entries of plan {plan.name!r}")


def _options(layout: Any, merge_fields: Any, holdout: Any) -> dict[str, float]:
    if layout not in LAYOUTS:
        raise ExportError(f"layout must be one of {', '.join(map(repr, LAYOUTS))}; not "
                          f"{layout!r}")
    if not isinstance(merge_fields, bool):
        raise ExportError(f"merge_fields must be True or False, not {merge_fields!r}")
    if isinstance(holdout, bool) or not isinstance(holdout, (int, float)) or not 0 <= holdout < 1:
        raise ExportError(f"holdout must be a share in [0, 1), not {holdout!r}")
    return _check_shares({"send": 1 - holdout}, holdout) if holdout > 0 else {}


def export_plan(plan: Any, folder: Any, *, preset: str | None = None,
                layout: str = "one_file", merge_fields: bool = True, holdout: float = 0.0,
                seed: int | None = None, columns: Sequence[str] | None = None,
                suppressions: Any = None, excel: bool = False) -> PlanExport:
    """Write the sendable contacts of each variant of ``plan`` (a :class:`~segexplore.delivery.plan.VariantPlan`).

    Each variant's contacts go through the sendable waterfall of every export (valid
    email, consented, not suppressed or erased, one row per email): its first step drops
    the contacts an earlier entry matched (first match wins), and an email exported with
    an earlier variant is not exported again.

    Parameters
    ----------
    plan : VariantPlan
    folder : str or path
        Created if missing; files in it are replaced atomically.
    preset : {None, "mailchimp", "brevo"}
        Column names as the platform's import expects (``variant`` becomes ``Variant`` /
        ``VARIANT``, ``subject`` ``Subject`` / ``SUBJECT``...).
    layout : {"one_file", "per_variant"}
        One file with a ``variant`` column, or one file per variant (which has the column
        too).
    merge_fields : bool, default True
        Write the rendered ``subject``, ``body`` and ``offer`` (those the plan's templates
        define) as columns; ``False``: only ``variant``.
    holdout : float, default 0
        Share of each variant's sendable contacts kept out of the send to measure lift,
        drawn with the seeded split of :func:`segexplore.delivery.split.split` and written
        to ``..._holdout.csv`` (do *not* email them).
    seed : int, optional
        The holdout's seed; default a fresh one, recorded in the manifests.
    columns : list of str, optional
        Contact columns or features to write (``email`` always); default the preset's.
    suppressions : path, DataFrame or list of emails, optional
        Emails never to export, on top of ``base.suppressions``.
    excel : bool, default False
        UTF-8 with BOM and ``;``.

    Returns
    -------
    PlanExport

    Raises
    ------
    ExportError
        An unknown layout or preset, a holdout outside [0, 1), two files or two columns
        with one name.

    Examples
    --------
    >>> import segexplore as se, tempfile
    >>> base = se.load_sample()
    >>> plan = (se.VariantPlan(base, default="standard")
    ...         .add('loyalty_tier = "gold"', variant="gold",
    ...              subject="{first_name|Cher client}, votre offre or"))
    >>> result = export_plan(plan, tempfile.mkdtemp(), layout="per_variant", holdout=0.1,
    ...                      seed=7)
    >>> sorted(result.files)
    ['plan_gold.csv', 'plan_gold_holdout.csv', 'plan_standard.csv', 'plan_standard_holdout.csv']
    >>> [e["variant"] for e in result.manifest["entries"]]
    ['gold', 'standard']
    """
    shares = _options(layout, merge_fields, holdout)
    chosen = _preset(preset)
    base = plan.base
    entries = plan.all_entries
    summary = plan.summary()  # raises for a plan without entries
    overview = plan.to_dict()
    wanted = _output_columns(base, columns, chosen)
    rendered = ([TEMPLATE_KEYS[k] for k in TEMPLATE_KEYS
                 if any(k in e.templates for e in entries)] if merge_fields else [])
    clash = [c for c in ("variant", *rendered) if c in wanted]
    if clash:
        raise ExportError(f"columns: {clash[0]!r} is written by the plan itself; leave it out "
                          "of columns=")
    names = _file_names(plan, layout, bool(shares))
    seed = secrets.randbits(32) if seed is None else int(seed)
    listed, source = _prepare_suppressions(suppressions)
    target = Path(folder)
    target.mkdir(parents=True, exist_ok=True)

    parts: list[_Part] = []
    claimed: dict[str, Any] = {"ids": set(), "emails": set(), "names": []}
    try:
        for entry in entries:
            selection = _select(entry.segment, suppressions=listed,
                                claimed=claimed if claimed["names"] else None)
            _claim(claimed, selection, entry.variant)
            send, held = selection, None
            if shares:
                groups = _split_positions(selection, shares, seed, None).groups
                send = selection.narrow(groups == "send", "not in the holdout",
                                        "kept out of the send to measure lift (holdout)")
                held = selection.narrow(groups == "holdout", "in the holdout",
                                        "sent: not in the holdout")
            parts.append(_Part(entry, selection, send, held))

        stem = _file_stem(plan.name)
        plan_manifest = target / f"{stem}.plan.json"
        holdout_info = None if not shares else {
            "share": float(holdout), "seed": seed, "shares": shares,
            "method": "per variant: numpy default_rng(seed) permutation of its sendable contacts "
                      "sorted by contact_id, largest-remainder group sizes (delivery.split)"}
        results: dict[str, ExportResult] = {}
        files = []
        roles = ["send", "holdout"] if shares else ["send"]
        groups_of = ([(None, parts)] if layout == "one_file"
                     else [(p.entry.variant, [p]) for p in parts])
        for variant, members in groups_of:
            for role in roles:
                selections = [p.send if role == "send" else p.holdout for p in members]
                if variant is None:
                    selection = _combined(members, selections, _contact_count(base))
                    segment = _union_segment(plan)
                else:
                    selection, segment = selections[0], members[0].entry.segment
                rows = _plan_rows(plan, [(p.entry, s) for p, s in
                                         zip(members, selections, strict=True)],
                                  wanted, rendered, chosen)
                name = names[(variant, role)]
                extra = {"plan": {"name": plan.name, "manifest": plan_manifest.name,
                                  "layout": layout, "variant": variant, "role": role,
                                  "overlap": overview["overlap"], "holdout": holdout_info,
                                  "note": _HOLDOUT_NOTE if role == "holdout" else ""}}
                result = _write(selection, target / name, rows, segment=segment, chosen=chosen,
                                excel=excel, extra=extra, suppressions=source)
                results[name] = result
                files.append({"file": name, "manifest": result.manifest_path.name,
                              "variant": variant, "role": role, "rows": result.rows,
                              "sha256": result.manifest["sha256"]})

        waterfalls = {p.entry.variant: p.send.waterfall() for p in parts}
        sizes = summary.set_index("variant")
        described = []
        for part in parts:
            entry = part.entry
            row = sizes.loc[entry.variant]
            described.append({
                **entry.to_dict(), "matched": int(row["matched"]),
                "taken_by_earlier": int(row["taken_by_earlier"]), "taken_by": row["taken_by"],
                "assigned": int(row["assigned"]),
                "sendable": int(part.matched.sendable.sum()),
                "exported": int(part.send.sendable.sum()),
                "holdout": int(part.holdout.sendable.sum()) if part.holdout is not None else 0})
        info = {
            "schema": PLAN_SCHEMA, "name": plan.name, "overlap": overview["overlap"],
            "target": overview["target"], "as_of": base.as_of.isoformat(),
            "data": data_fingerprint(base), "entries": described,
            "sizes": {"target": summary.attrs["target"], "unassigned": summary.attrs["unassigned"],
                      "outside_target": summary.attrs["outside_target"]},
            "layout": layout, "preset": None if chosen.name == "plain" else chosen.name,
            "merge_fields": merge_fields, "rendered_columns": rendered, "excel": excel,
            "holdout": holdout_info, "suppressions": source,
            "missing": plan.missing().to_dict("records"),
            "waterfalls": {v: w.to_dict("records") for v, w in waterfalls.items()},
            "files": files, "created_at": _utc_now(), "segexplore_version": _version()}
        text = json.dumps(info, indent=2, ensure_ascii=False, default=str) + "\n"
        atomic_write_bytes(plan_manifest, text.encode("utf-8"))
        return PlanExport(target, plan_manifest, info, results, waterfalls)
    finally:  # what DuckDB holds of the members is personal data: dropped
        for part in parts:
            for selection in {id(s): s for s in (part.matched, part.send, part.holdout)
                              if s is not None}.values():
                selection.close()
        _release(claimed)
