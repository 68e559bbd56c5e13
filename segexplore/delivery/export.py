"""Export who may be emailed: the sendable-contacts waterfall, ESP presets, safe CSV files.

A segment export keeps, by default, only contacts that may be emailed. Each step of the
*waterfall* removes contacts for one reason, and the counts travel with the file:

1. matched by the rule (the segment's members)
2. valid email (syntax checked at load; missing emails fail too)
3. consented (``consent == "given"``; withdrawn, pending and unknown are removed)
4. not suppressed (suppression lists, and people erased with :func:`~.privacy.forget`)
5. de-duplicated (one row per email address)
6. exported

Files are written atomically (a crash leaves the previous file, never half a file), as
UTF-8 (``excel=True``: UTF-8 with BOM and ``;``), with every *text* cell that a
spreadsheet would run as a formula (first character ``= + - @``, tab or carriage return)
prefixed with a single quote. Numbers written as numbers (``-5`` in a numeric column) are
not text cells and stay as they are: a spreadsheet reads them as numbers, never formulas.
A manifest ``<file>.manifest.json`` beside each file records the rule, the data it was
computed on, the waterfall and a checksum of the file (see ``docs/export.md``).

This module writes single and priority exports. What it builds on: the suppression lists
(:mod:`segexplore.delivery.suppressions`), the waterfall (:mod:`segexplore.delivery.waterfall`),
the ESP presets and the CSV writer (:mod:`segexplore.delivery.csv`), the manifests and their
checks (:mod:`segexplore.delivery.manifest`). A/B/holdout splits are
:mod:`segexplore.delivery.split`.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from html import escape
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from segexplore.delivery import csv as delivery_csv
from segexplore.delivery.csv import (
    Preset,
    _Chunks,
    _date_layout,
    _frame_chunks,
    _preset,
    _write_csv,
)
from segexplore.delivery.manifest import (
    MANIFEST_SCHEMA,
    _manifest_path,
    _segment_info,
    _utc_now,
    data_fingerprint,
)
from segexplore.delivery.suppressions import _prepare_suppressions
from segexplore.delivery.waterfall import (
    Waterfall,
    _claim,
    _funnel_html,
    _release,
    _select,
    _Selection,
)
from segexplore.errors import ExportError, SchemaError, closest_name
from segexplore.io.atomic import StagedFile, stage_bytes
from segexplore.model import hooks

if TYPE_CHECKING:
    from segexplore.model.base import ContactBase
    from segexplore.model.segments import Segment

__all__ = ["ExportResult", "export_segment", "export_segments"]

def _output_columns(base: ContactBase, columns: Sequence[str] | None, preset: Preset) -> list[str]:
    contact_columns = base.contact_columns
    if columns is None:
        wanted = [c for c in preset.default_columns if c in contact_columns]
    else:
        wanted = list(dict.fromkeys(columns))
    if "email" not in wanted:
        wanted.insert(0, "email")  # an email export without the address is no export
    from segexplore.features.registry import FEATURES

    unknown = [c for c in wanted if c not in contact_columns and c not in FEATURES]
    if unknown:
        known = list(contact_columns) + list(FEATURES)
        guess = closest_name(unknown[0], known)
        hint = f"; did you mean {guess!r}?" if guess else ""
        raise SchemaError(f"columns: {unknown[0]!r} is neither a contact column nor a "
                          f"feature{hint}")
    return wanted


def _rows_frame(base: ContactBase, positions: np.ndarray, columns: list[str]) -> pd.DataFrame:
    if base.engine != "pandas":  # read from the engine, for these rows only
        mask = np.zeros(base.contact_count, dtype=bool)
        mask[positions] = True
        frame = base._member_rows(pd.Series(mask), list(columns), [])
        return frame[list(columns)].reset_index(drop=True)
    contacts = base.contacts.iloc[positions]
    parts = {}
    for column in columns:
        parts[column] = (contacts[column] if column in contacts.columns
                         else base.features[column].iloc[positions])
    return pd.DataFrame({c: s.reset_index(drop=True) for c, s in parts.items()})


@dataclass(frozen=True)
class ExportResult:
    """What :func:`export_segment` wrote: the file, its manifest and the waterfall."""

    path: Path
    manifest_path: Path | None
    rows: int
    waterfall: Waterfall
    manifest: dict[str, Any]

    def __repr__(self) -> str:
        lines = [f"ExportResult: {self.rows:,} rows -> {self.path}"]
        for rec in self.waterfall.itertuples(index=False):
            removed = f"  -{rec.removed:,} {rec.reason}" if rec.removed else ""
            lines.append(f"  {rec.step:<34}{rec.remaining:>10,}{removed}")
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        manifest = (f" &middot; manifest <code>{escape(self.manifest_path.name)}</code>"
                    if self.manifest_path is not None else "")
        return (f"<div><strong>{self.rows:,}</strong> contacts exported to "
                f"<code>{escape(str(self.path))}</code>{manifest}"
                f"{_funnel_html(self.waterfall)}</div>")


#: The two columns ``include_unsendable=True`` adds: may the contact be emailed, and if
#: not, the waterfall step that removed it.
AUDIT_COLUMNS = ("sendable", "excluded_at")


def _export_rows(selection: _Selection, wanted: list[str], include_unsendable: bool,
                 chosen: Preset) -> _Chunks:
    """The rows of an export, a chunk at a time: read from the engine a batch at a time
    when the members stay there (DuckDB), sliced from a DataFrame in pandas."""
    if selection.members is not None:
        rows = selection.members.rows(wanted, audit=AUDIT_COLUMNS if include_unsendable
                                      else None, sendable_only=not include_unsendable)
        layouts = {c: _date_layout(c, chosen, whole) for c, whole in rows.whole_days().items()}
        return _Chunks(rows.columns, layouts, rows.batches(delivery_csv.ROWS_PER_CHUNK))
    if include_unsendable:
        keep = np.ones(len(selection.positions), dtype=bool)
    else:
        keep = selection.sendable
    frame = _rows_frame(selection.base, selection.positions[keep], wanted)
    if include_unsendable:
        frame[AUDIT_COLUMNS[0]] = selection.sendable
        frame[AUDIT_COLUMNS[1]] = pd.Series(selection.excluded_at, dtype="object")
    return _frame_chunks(frame, chosen)


def _write_export(selection: _Selection, path: Any, *, columns: Sequence[str] | None,
                  preset: str | None, excel: bool, include_unsendable: bool, manifest: bool,
                  extra: Mapping[str, Any], segment: Segment,
                  suppressions: str | None) -> ExportResult:
    base = selection.base
    chosen = _preset(preset)
    path = Path(path)
    if not path.parent.is_dir():
        raise ExportError(f"path: the folder {path.parent} of {path.name} does not exist")
    wanted = _output_columns(base, columns, chosen)
    written_columns = [*wanted, *(AUDIT_COLUMNS if include_unsendable else ())]
    header = [chosen.column_name(c) for c in written_columns]
    if len(set(header)) != len(header):
        raise ExportError(f"columns: two columns get the same name in the file: {header}")
    rows = _export_rows(selection, wanted, include_unsendable, chosen)
    staged_csv, written = _write_csv(path, rows, header, chosen, excel)
    try:
        return _publish_export(selection, staged_csv, written, rows.columns, header,
                               chosen=chosen, excel=excel, include_unsendable=include_unsendable,
                               manifest=manifest, extra=extra, segment=segment,
                               suppressions=suppressions)
    except BaseException:
        staged_csv.discard()
        raise


def _publish_export(selection: _Selection, staged_csv: StagedFile, written: dict[str, Any],
                    columns: list[str], header: list[str], *, chosen: Preset, excel: bool,
                    include_unsendable: bool, manifest: bool, extra: Mapping[str, Any],
                    segment: Segment, suppressions: str | None) -> ExportResult:
    """Build the manifest from the staged CSV, then put both in place, manifest last: a
    crash in between leaves a CSV that does not match its manifest, which
    :func:`verify_export` reports as unfinished."""
    base = selection.base
    path = staged_csv.target
    waterfall = selection.waterfall()
    info: dict[str, Any] = {
        "schema": MANIFEST_SCHEMA,
        "file": path.name,
        "segment": _segment_info(segment),
        "as_of": base.as_of.isoformat(),
        "data": data_fingerprint(base),
        "waterfall": waterfall.to_dict("records"),
        "rows": written["rows"],
        "sha256": written["sha256"],
        "bytes": written["bytes"],
        "created_at": _utc_now(),
        "segexplore_version": _version(),
        "preset": None if chosen.name == "plain" else chosen.name,
        "options": {"columns": list(columns), "header": header, "excel": excel,
                    "encoding": written["encoding"], "separator": written["separator"],
                    "include_unsendable": include_unsendable,
                    "suppressions": {"source": suppressions, **selection.suppressions},
                    "formula_neutralisation": "text cells starting with = + - @ tab or CR "
                                              "are prefixed with '"},
        "neutralised_cells": written["neutralised_cells"],
        **extra,
    }
    manifest_path = _manifest_path(path) if manifest else None
    staged_manifest = None
    if manifest_path is not None:
        text = json.dumps(info, indent=2, ensure_ascii=False, default=str) + "\n"
        staged_manifest = stage_bytes(manifest_path, text.encode("utf-8"))
    try:
        staged_csv.publish()
        if staged_manifest is not None:
            staged_manifest.publish()
    except BaseException:
        if staged_manifest is not None:
            staged_manifest.discard()
        raise
    return ExportResult(path, manifest_path, written["rows"], waterfall, info)


def _version() -> str:
    from segexplore._version import __version__

    return __version__


@hooks.implements("export_segment")
def export_segment(segment: Segment, path: Any, *, columns: Sequence[str] | None = None,
                   preset: str | None = None, suppressions: Any = None, excel: bool = False,
                   include_unsendable: bool = False, manifest: bool = True) -> ExportResult:
    """Write the contacts of ``segment`` that may be emailed to a CSV file.

    Parameters
    ----------
    segment : Segment
    path : str or path
        The CSV file; replaced atomically if it exists.
    columns : list of str, optional
        Contact columns or features to write (``email`` is always written). Default:
        the preset's (plain: ``contact_id, email, first_name, last_name`` when present).
    preset : {None, "mailchimp", "brevo"}
        Column names as the platform's import expects (``Email Address``...; ``EMAIL``...).
    suppressions : path, DataFrame or list of emails, optional
        Emails never to export, on top of the base's own (``base.suppressions``, see
        ``base.with_suppressions``).
    excel : bool, default False
        UTF-8 with BOM and ``;`` separator, as French-locale Excel opens directly.
    include_unsendable : bool, default False
        Write every matched contact, with ``sendable`` and ``excluded_at`` (the waterfall
        step that removed it) columns: for audits, never for sending.
    manifest : bool, default True
        Write ``<file>.manifest.json`` beside the file.

    Returns
    -------
    ExportResult

    Examples
    --------
    >>> import segexplore as se, tempfile, pathlib
    >>> base = se.load_sample()
    >>> seg = base.segment('language = "nl"', name="Dutch")
    >>> out = pathlib.Path(tempfile.mkdtemp()) / "dutch.csv"
    >>> result = export_segment(seg, out, preset="mailchimp")
    >>> result.rows == int(result.waterfall["remaining"].iloc[-1])
    True
    >>> out.read_text(encoding="utf-8").splitlines()[0]
    'Email Address,First Name,Last Name'
    """
    listed, source = _prepare_suppressions(suppressions)
    selection = _select(segment, suppressions=listed)
    try:
        return _write_export(selection, path, columns=columns, preset=preset, excel=excel,
                             include_unsendable=include_unsendable, manifest=manifest,
                             extra={}, segment=segment, suppressions=source)
    finally:
        selection.close()


def _file_stem(name: str) -> str:
    text = unicodedata.normalize("NFKD", name)
    text = "".join(c for c in text if not unicodedata.combining(c))
    return re.sub(r"[^A-Za-z0-9_-]+", "_", text).strip("_") or "segment"


def export_segments(segments: Iterable[Segment] | Mapping[str, Segment], directory: Any, *,
                    overlap: str = "allow", columns: Sequence[str] | None = None,
                    preset: str | None = None, suppressions: Any = None, excel: bool = False,
                    include_unsendable: bool = False,
                    manifest: bool = True) -> dict[str, ExportResult]:
    """Export several segments, one file each (``<segment name>.csv``) in ``directory``.

    Parameters
    ----------
    segments : iterable of Segment, or {name: Segment}
        In priority order when ``overlap="priority"``.
    directory : str or path
        Created if missing.
    overlap : {"allow", "priority"}
        ``"allow"``: a contact matched by several segments is in several files.
        ``"priority"``: each contact goes to the first segment (in the given order) that
        matches it; the waterfall of later segments has a step "not in a higher-priority
        segment" and each manifest says so.
    columns, preset, suppressions, excel, include_unsendable, manifest
        As in :func:`export_segment`.

    Returns
    -------
    dict
        ``{segment name: ExportResult}`` in the given order.

    Examples
    --------
    >>> import segexplore as se, tempfile
    >>> base = se.load_sample()
    >>> a = base.segment('country = "BE"', name="Belgium")
    >>> b = base.segment('language = "nl"', name="Dutch")
    >>> results = export_segments([a, b], tempfile.mkdtemp(), overlap="priority")
    >>> int(results["Dutch"].waterfall.set_index("step").loc[
    ...     "not in a higher-priority segment", "removed"]) > 0
    True
    """
    if overlap not in ("allow", "priority"):
        raise ExportError(f"overlap must be 'allow' or 'priority', not {overlap!r}")
    items = list(segments.values() if isinstance(segments, Mapping) else segments)
    names = [s.name for s in items]
    if len({n.lower() for n in names}) != len(names):
        raise ExportError(f"segments: two segments share a name: {names}")
    stems = [_file_stem(n) for n in names]
    for stem in stems:
        if stems.count(stem) > 1:
            raise ExportError(f"segments {[n for n, s in zip(names, stems, strict=True) if s == stem]} "
                              f"would be written to the same file {stem}.csv; rename one")
    listed, source = _prepare_suppressions(suppressions)
    folder = Path(directory)
    folder.mkdir(parents=True, exist_ok=True)
    results: dict[str, ExportResult] = {}
    claimed: dict[str, Any] = {"ids": set(), "emails": set(), "names": []}
    try:
        for segment, stem in zip(items, stems, strict=True):
            priority = overlap == "priority" and bool(claimed["names"])
            selection = _select(segment, suppressions=listed,
                                claimed=claimed if priority else None)
            extra = {"overlap": {"mode": overlap, "priority": names.index(segment.name) + 1,
                                 "order": names,
                                 "note": ("each contact is exported only with the first "
                                          "segment of 'order' that matches it")
                                 if overlap == "priority"
                                 else "a contact may be in several of these files"}}
            try:
                results[segment.name] = _write_export(
                    selection, folder / f"{stem}.csv", columns=columns, preset=preset,
                    excel=excel, include_unsendable=include_unsendable, manifest=manifest,
                    extra=extra, segment=segment, suppressions=source)
                if overlap == "priority":
                    _claim(claimed, selection, segment.name)
            finally:
                selection.close()
    finally:
        _release(claimed)
    return results
