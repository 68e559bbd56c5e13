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

This module owns the suppression lists, the waterfall, the ESP presets, the CSV writer, the
manifests and their checks, and single and priority exports. A/B/holdout splits
(:func:`split`, :func:`export_split`) live in :mod:`segexplore.delivery.split` and are
re-exported here.
"""

from __future__ import annotations

import csv
import hashlib
import json
import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from html import escape
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from segexplore.errors import SchemaError, SegexploreError, closest_name
from segexplore.io.atomic import StagedFile, stage_bytes, staged_write
from segexplore.io.read import parse_datetimes, read_table

if TYPE_CHECKING:
    from segexplore.model.base import ContactBase
    from segexplore.model.segments import Segment

__all__ = [
    "ExportError", "ExportResult", "Waterfall", "SUPPRESSION_REASONS", "PRESETS",
    "FORMULA_TRIGGERS", "read_suppressions", "register_suppressions",
    "registered_suppressions", "sendable_waterfall", "export_segment", "export_segments",
    "split", "export_split", "data_fingerprint", "verify_export", "neutralise_formula",
]

#: Reasons a suppression list row may give; anything else is read as "other".
SUPPRESSION_REASONS = ("unsubscribe", "bounce", "complaint", "other")
#: First characters that make a spreadsheet run a text cell as a formula (OWASP CSV injection).
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
MANIFEST_SCHEMA = "segexplore.export/1"

_SUPPRESSION_COLUMNS = {
    "email": ("email", "e_mail", "mail", "email_address", "adresse_email", "adresse_mail",
              "courriel"),
    "reason": ("reason", "type", "motif", "raison", "cause", "status"),
    "date": ("date", "timestamp", "ts", "created_at", "suppressed_at", "date_suppression"),
}
_REASON_ALIASES = {
    **dict.fromkeys(["unsubscribe", "unsubscribed", "unsub", "opt-out", "optout", "opt_out",
                     "desabonnement", "désabonnement", "désabonné", "desabonne"], "unsubscribe"),
    **dict.fromkeys(["bounce", "bounced", "hard bounce", "hard_bounce", "hardbounce",
                     "soft bounce", "soft_bounce", "rebond", "npai"], "bounce"),
    **dict.fromkeys(["complaint", "spam", "spam complaint", "spam_complaint", "abuse",
                     "plainte"], "complaint"),
}
#: Where the suppression lists registered on a base are kept (see register_suppressions).
_SUPPRESSIONS_ATTR = "_suppressions"


class ExportError(SegexploreError, ValueError):
    """An export cannot be made as asked (bad option, unknown preset, clashing names...)."""


# ------------------------------------------------------------------------ presets

@dataclass(frozen=True)
class Preset:
    """Column names and value formats an email platform's import expects."""

    name: str
    default_columns: tuple[str, ...]
    names: Mapping[str, str]
    other: str  # how to name a column the preset does not know: "keep", "title" or "upper"
    birthday_format: str | None = None  # strftime layout of birth_date, when special
    tag_separator: str | None = None  # interests "a|b" are written "a,b"

    def column_name(self, column: str) -> str:
        if column in self.names:
            return self.names[column]
        if self.other == "keep":
            return column
        words = column.replace("_", " ").split()
        return " ".join(w.capitalize() for w in words) if self.other == "title" \
            else "_".join(w.upper() for w in words)


PRESETS: dict[str | None, Preset] = {
    None: Preset("plain", ("contact_id", "email", "first_name", "last_name"), {}, "keep"),
    # Mailchimp's import matches these labels to its default audience fields.
    "mailchimp": Preset(
        "mailchimp", ("email", "first_name", "last_name"),
        {"email": "Email Address", "first_name": "First Name", "last_name": "Last Name",
         "phone": "Phone Number", "birth_date": "Birthday", "interests": "Tags",
         "postal_code": "Postal Code"},
        "title", birthday_format="%m/%d", tag_separator=","),
    # Brevo's default contact attributes are upper-case; EXT_ID holds your own id.
    "brevo": Preset(
        "brevo", ("email", "first_name", "last_name", "contact_id"),
        {"email": "EMAIL", "first_name": "FIRSTNAME", "last_name": "LASTNAME", "phone": "SMS",
         "contact_id": "EXT_ID", "birth_date": "BIRTHDAY"},
        "upper"),
}


def _preset(preset: str | None) -> Preset:
    key = preset.lower() if isinstance(preset, str) else preset
    key = None if key == "plain" else key
    if key not in PRESETS:
        raise ExportError(f"unknown preset {preset!r}; presets are 'mailchimp', 'brevo' or "
                          "None / 'plain' (segexplore's column names)")
    return PRESETS[key]


# --------------------------------------------------------------------- suppressions

def read_suppressions(source: Any, **read_options: Any) -> pd.DataFrame:
    """Read a suppression list (unsubscribes, bounces, complaints) from a file or DataFrame.

    Columns are recognised under common names (``email``/``e-mail``/``mail``,
    ``reason``/``type``/``motif``, ``date``/``timestamp``); emails are normalised like
    the contacts' (trimmed, lower-cased) so ``" Jean@X.fr"`` suppresses ``jean@x.fr``.

    Parameters
    ----------
    source : path or DataFrame
        CSV, Parquet or Excel file (read with :func:`~segexplore.io.read.read_table`),
        or a DataFrame.
    **read_options
        Passed to ``read_table`` (``sep``, ``encoding``, ``sheet_name``...).

    Returns
    -------
    DataFrame
        ``email, reason, date``: ``reason`` is one of :data:`SUPPRESSION_REASONS`
        (unrecognised or missing -> ``"other"``); rows without an email are dropped.

    Raises
    ------
    SchemaError
        No email column; the message lists the columns there are.

    Examples
    --------
    >>> import pandas as pd
    >>> raw = pd.DataFrame({"E-mail": [" Ann@X.fr"], "Motif": ["hard bounce"]})
    >>> read_suppressions(raw)[["email", "reason"]].to_dict("records")
    [{'email': 'ann@x.fr', 'reason': 'bounce'}]
    """
    from segexplore.io.clean.contacts import normalise_emails
    from segexplore.io.schema import normalise_name

    frame, _ = read_table(source, **read_options)
    by_name = {normalise_name(c): c for c in frame.columns}
    found = {}
    for canonical, aliases in _SUPPRESSION_COLUMNS.items():
        found[canonical] = next((by_name[a] for a in aliases if a in by_name), None)
    where = "the DataFrame" if isinstance(source, pd.DataFrame) else str(source)
    if found["email"] is None:
        raise SchemaError(f"suppression list {where}: no email column (looked for "
                          f"email, e-mail, mail...); columns are {list(map(str, frame.columns))}")
    emails = normalise_emails(frame[found["email"]])
    if found["reason"] is not None:
        text = frame[found["reason"]].astype("string").str.strip().str.lower()
        known = text.where(text.isin(SUPPRESSION_REASONS))
        reason = known.fillna(text.map(_REASON_ALIASES)).fillna("other").astype("str")
    else:
        reason = pd.Series("other", index=frame.index, dtype="str")
    if found["date"] is not None:
        date, _ = parse_datetimes(frame[found["date"]], column=str(found["date"]), path=where)
    else:
        date = pd.Series(pd.NaT, index=frame.index, dtype="datetime64[ns]")
    out = pd.DataFrame({"email": emails.to_numpy(), "reason": reason.to_numpy(),
                        "date": date.to_numpy()})
    return out[out["email"].notna()].reset_index(drop=True)


def register_suppressions(base: ContactBase, source: Any, **read_options: Any) -> pd.DataFrame:
    """Keep a suppression list on ``base``: every later export of it leaves these emails out.

    Returns all the lists registered so far, as one ``email, reason, date`` DataFrame.

    Examples
    --------
    >>> import segexplore as se, pandas as pd
    >>> base = se.load_sample()
    >>> email = base.contacts["email"].iloc[0]
    >>> len(register_suppressions(base, pd.DataFrame({"email": [email]})))
    1
    """
    new = read_suppressions(source, **read_options)
    current = base.__dict__.get(_SUPPRESSIONS_ATTR)
    combined = new if current is None else pd.concat([current, new], ignore_index=True)
    base.__dict__[_SUPPRESSIONS_ATTR] = combined
    return combined


def registered_suppressions(base: ContactBase) -> pd.DataFrame:
    """The suppression lists registered on ``base`` (empty ``email, reason, date`` if none)."""
    current = base.__dict__.get(_SUPPRESSIONS_ATTR)
    if current is None:
        return pd.DataFrame({"email": pd.Series(dtype="str"), "reason": pd.Series(dtype="str"),
                             "date": pd.Series(dtype="datetime64[ns]")})
    return current


def _prepare_suppressions(suppressions: Any) -> tuple[pd.DataFrame | None, str | None]:
    """Read ``suppressions`` once: (``email, reason, date`` frame or None, its source)."""
    if suppressions is None:
        return None, None
    if isinstance(suppressions, (str, Path)):
        return read_suppressions(suppressions), str(suppressions)
    if isinstance(suppressions, pd.DataFrame):
        return read_suppressions(suppressions), "DataFrame"
    if isinstance(suppressions, Iterable):
        return read_suppressions(pd.DataFrame({"email": list(suppressions)})), "list of emails"
    raise ExportError(f"suppressions must be a file, a DataFrame or a list of emails, "
                      f"not {type(suppressions).__name__}")


# ----------------------------------------------------------------------- waterfall

class Waterfall(pd.DataFrame):
    """The sendable-contacts waterfall: ``step, remaining, removed, reason`` per step.

    A plain DataFrame that a notebook shows as a funnel; slicing it gives a DataFrame.
    """

    _metadata: list[str] = []

    @property
    def _constructor(self):  # derived frames are ordinary DataFrames
        return pd.DataFrame

    def _repr_html_(self) -> str:
        return _funnel_html(self)


def _funnel_html(frame: pd.DataFrame) -> str:
    top = max(int(frame["remaining"].iloc[0]), 1) if len(frame) else 1
    rows = []
    for rec in frame.itertuples(index=False):
        width = 100.0 * int(rec.remaining) / top
        removed = f"&minus;{int(rec.removed):,}" if rec.removed else ""
        rows.append(
            f"<tr><td>{escape(str(rec.step))}</td>"
            f"<td style='text-align:right'>{int(rec.remaining):,}</td>"
            f"<td style='width:220px'><div style='background:#4c78a8;height:0.9em;"
            f"width:{width:.1f}%'></div></td>"
            f"<td style='text-align:right;color:#b03a2e'>{removed}</td>"
            f"<td>{escape(str(rec.reason)) if rec.removed else ''}</td></tr>")
    return ("<table><thead><tr><th>step</th><th>remaining</th><th></th><th>removed</th>"
            "<th>why</th></tr></thead><tbody>" + "".join(rows) + "</tbody></table>")


@dataclass
class _Selection:
    """Matched contacts (positions in ``base.contacts``) and where each one was removed."""

    base: Any
    positions: np.ndarray
    excluded_at: np.ndarray  # object: None while sendable, else the step that removed it
    steps: list[dict[str, Any]] = field(default_factory=list)
    suppressions: dict[str, Any] = field(default_factory=dict)

    @property
    def sendable(self) -> np.ndarray:
        return np.array([e is None for e in self.excluded_at], dtype=bool)

    def remove(self, step: str, keep: np.ndarray, reason: str) -> None:
        alive = self.sendable
        gone = alive & ~keep
        self.excluded_at[gone] = step
        self.steps.append({"step": step, "remaining": int((alive & keep).sum()),
                           "removed": int(gone.sum()), "reason": reason})

    def waterfall(self) -> Waterfall:
        final = {"step": "exported", "remaining": int(self.sendable.sum()), "removed": 0,
                 "reason": ""}
        return Waterfall(self.steps + [final], columns=["step", "remaining", "removed", "reason"])


def _fresh_mask(segment: Segment) -> np.ndarray:
    """The segment's mask, evaluated again if the contacts table was replaced since."""
    contacts = segment.base.contacts
    node = segment
    while node is not None:  # a cached mask over a replaced table (forget) is stale
        cached = node.__dict__.get("mask")
        if cached is not None and not cached.index.equals(contacts.index):
            node.__dict__.pop("mask", None)
        node = node.parent
    return segment.mask.to_numpy(dtype=bool)


def _counts(values: pd.Series) -> str:
    counts = values.astype("object").fillna("missing").value_counts()
    ordered = sorted(counts.items(), key=lambda kv: (-kv[1], str(kv[0])))  # stable text
    return ", ".join(f"{k} {v:,}" for k, v in ordered)


def _select(segment: Segment, *, suppressions: pd.DataFrame | None = None,
            claimed: Mapping[str, Any] | None = None) -> _Selection:
    """Run the waterfall up to (not including) the final "exported" step."""
    from segexplore.delivery.privacy import forgotten_mask

    base = segment.base
    contacts = base.contacts
    matched = _fresh_mask(segment)
    selection = _Selection(base, np.flatnonzero(matched),
                           np.full(int(matched.sum()), None, dtype=object))
    rows = contacts.iloc[selection.positions]
    selection.steps.append({"step": "matched by the rule", "remaining": len(rows),
                            "removed": len(contacts) - len(rows),
                            "reason": f"not in segment {segment.name!r}"})
    if claimed is not None:
        taken = rows["contact_id"].isin(list(claimed["ids"])).to_numpy()
        selection.remove("not in a higher-priority segment", ~taken,
                         f"matched first by {', '.join(map(repr, claimed['names']))}")
    emails = rows["email"] if "email" in rows.columns else pd.Series(pd.NA, index=rows.index)
    valid = emails.notna().to_numpy()
    if "email_valid" in rows.columns:
        valid = valid & rows["email_valid"].fillna(False).to_numpy(dtype=bool)
    selection.remove("valid email", valid, "invalid or missing email")
    if "consent" in rows.columns:
        consent = rows["consent"].astype("object")
        given = (consent == "given").to_numpy(dtype=bool)
        lost = consent[selection.sendable & ~given]
        reason = f"consent not given ({_counts(lost)})" if len(lost) else "consent not given"
    else:
        given = np.zeros(len(rows), dtype=bool)
        reason = "the contacts table has no consent column"
    selection.remove("consented", given, reason)
    listed = pd.concat([registered_suppressions(base), suppressions], ignore_index=True) \
        if suppressions is not None else registered_suppressions(base)
    selection.suppressions = {"registered_on_base": len(registered_suppressions(base)),
                              "emails": int(listed["email"].nunique())}
    by_email = listed.drop_duplicates("email").set_index("email")["reason"]
    why = emails.map(by_email)
    suppressed = why.notna().to_numpy()
    erased = forgotten_mask(base, emails, rows["contact_id"])
    lost = why[selection.sendable & suppressed]
    parts = [_counts(lost)] if len(lost) else []
    if (selection.sendable & erased & ~suppressed).any():
        parts.append(f"erased {int((selection.sendable & erased & ~suppressed).sum()):,}")
    selection.remove("not suppressed", ~(suppressed | erased),
                     "on a suppression list" + (f" ({', '.join(parts)})" if parts else ""))
    alive = selection.sendable
    duplicate = np.zeros(len(rows), dtype=bool)
    duplicate[alive] = emails[alive].duplicated(keep="first").to_numpy()
    if claimed is not None:
        duplicate = duplicate | alive & emails.isin(list(claimed["emails"])).to_numpy()
    selection.remove("de-duplicated", ~duplicate, "same email as a contact already exported")
    return selection


def sendable_waterfall(segment: Segment, *, suppressions: Any = None) -> Waterfall:
    """The waterfall of :func:`export_segment` without writing anything.

    Examples
    --------
    >>> import segexplore as se
    >>> base = se.load_sample()
    >>> seg = base.segment('language = "nl"', name="Dutch")
    >>> steps = sendable_waterfall(seg)
    >>> steps["step"].tolist()[1:]
    ['valid email', 'consented', 'not suppressed', 'de-duplicated', 'exported']
    >>> int(steps["remaining"].iloc[-1]) <= seg.size
    True
    """
    listed, _ = _prepare_suppressions(suppressions)
    return _select(segment, suppressions=listed).waterfall()


# ------------------------------------------------------------------------- writing

def neutralise_formula(text: str) -> str:
    """Prefix ``text`` with ``'`` when a spreadsheet would run it as a formula.

    Examples
    --------
    >>> [neutralise_formula(t) for t in ["=1+1", "+33 6 12", "Anne", "-5"]]
    ["'=1+1", "'+33 6 12", 'Anne', "'-5"]
    """
    return "'" + text if text[:1] in FORMULA_TRIGGERS and text else text


def _cells(values: pd.Series, column: str, preset: Preset) -> tuple[list[Any], int]:
    """Python values for the csv writer (None = empty cell) and the count neutralised."""
    dtype = values.dtype
    if pd.api.types.is_bool_dtype(dtype):
        return [None if pd.isna(v) else ("true" if v else "false") for v in values], 0
    if pd.api.types.is_numeric_dtype(dtype) and not isinstance(dtype, pd.CategoricalDtype):
        # Numbers stay numbers: a spreadsheet never runs -5 as a formula.
        return [None if pd.isna(v) else v.item() if hasattr(v, "item") else v
                for v in values], 0
    if pd.api.types.is_datetime64_any_dtype(dtype):
        if column == "birth_date" and preset.birthday_format:
            layout = preset.birthday_format
        else:
            stamps = values.dropna()
            layout = "%Y-%m-%d" if (stamps == stamps.dt.normalize()).all() else \
                "%Y-%m-%d %H:%M:%S"
        return [None if pd.isna(v) else v.strftime(layout) for v in values], 0
    out: list[Any] = []
    neutralised = 0
    for value in values.astype("object"):
        if value is None or (not isinstance(value, str) and pd.isna(value)):
            out.append(None)
            continue
        if not isinstance(value, str):
            out.append(value)  # a number inside an object column is still a number
            continue
        if column == "interests" and preset.tag_separator:
            value = value.replace("|", preset.tag_separator)
        safe = neutralise_formula(value)
        neutralised += safe is not value
        out.append(safe)
    return out, neutralised


#: The csv writer factory; a module attribute so tests can interrupt a write half way.
_row_writer = csv.writer


def _write_csv(path: Path, frame: pd.DataFrame, header: list[str], preset: Preset,
               excel: bool) -> tuple[StagedFile, dict[str, Any]]:
    """Stage the CSV beside ``path`` (not yet in place) and describe what was written."""
    columns, neutralised = [], {}
    for column in frame.columns:
        cells, count = _cells(frame[column], column, preset)
        columns.append(cells)
        if count:
            neutralised[column] = count
    encoding, sep = ("utf-8-sig", ";") if excel else ("utf-8", ",")
    with staged_write(path, "w", encoding=encoding, newline="") as (handle, staged):
        writer = _row_writer(handle, delimiter=sep)
        writer.writerow([neutralise_formula(h) for h in header])
        for row in zip(*columns, strict=True):
            writer.writerow(row)
    digest = hashlib.sha256(staged.temporary.read_bytes()).hexdigest()
    return staged, {"sha256": digest, "bytes": staged.temporary.stat().st_size,
                    "encoding": encoding, "separator": sep, "neutralised_cells": neutralised}


def _output_columns(base: ContactBase, columns: Sequence[str] | None, preset: Preset) -> list[str]:
    contacts = base.contacts
    if columns is None:
        wanted = [c for c in preset.default_columns if c in contacts.columns]
    else:
        wanted = list(dict.fromkeys(columns))
    if "email" not in wanted:
        wanted.insert(0, "email")  # an email export without the address is no export
    from segexplore.features.registry import FEATURES

    unknown = [c for c in wanted if c not in contacts.columns and c not in FEATURES]
    if unknown:
        known = list(contacts.columns) + list(FEATURES)
        guess = closest_name(unknown[0], known)
        hint = f"; did you mean {guess!r}?" if guess else ""
        raise SchemaError(f"columns: {unknown[0]!r} is neither a contact column nor a "
                          f"feature{hint}")
    return wanted


def _rows_frame(base: ContactBase, positions: np.ndarray, columns: list[str]) -> pd.DataFrame:
    contacts = base.contacts.iloc[positions]
    parts = {}
    for column in columns:
        parts[column] = (contacts[column] if column in contacts.columns
                         else base.features[column].iloc[positions])
    return pd.DataFrame({c: s.reset_index(drop=True) for c, s in parts.items()})


# ------------------------------------------------------------------------ manifest

def _hash_frame(frame: pd.DataFrame | None) -> dict[str, Any] | None:
    if frame is None:
        return None
    digest = hashlib.sha256()
    digest.update(json.dumps([[str(c), str(t)] for c, t in frame.dtypes.items()]).encode())
    try:
        hashed = pd.util.hash_pandas_object(frame, index=False).to_numpy()
    except TypeError:  # unhashable cells (lists): hash their text instead
        hashed = pd.util.hash_pandas_object(frame.astype("str"), index=False).to_numpy()
    digest.update(hashed.tobytes())
    return {"rows": len(frame), "columns": frame.shape[1], "sha256": digest.hexdigest()}


def data_fingerprint(base: ContactBase) -> dict[str, Any]:
    """A fingerprint of the data an export was computed from: rows and sha256 per table.

    Each table is hashed row by row with ``pandas.util.hash_pandas_object(index=False)``
    (values and column order, not the index) and the row hashes, column names and dtypes
    go through sha256; ``sha256`` combines the three tables and ``as_of``. Cached per
    table object, so exporting ten segments hashes the data once.

    Examples
    --------
    >>> import segexplore as se
    >>> base = se.load_sample()
    >>> fingerprint = data_fingerprint(base)
    >>> fingerprint["contacts"]["rows"] == len(base.contacts)
    True
    >>> len(fingerprint["sha256"])
    64
    """
    tables = {"contacts": base.contacts, "events": base.events, "orders": base.orders}
    cache = base.__dict__.setdefault("_fingerprints", {})
    out: dict[str, Any] = {"method": "sha256 over pandas.util.hash_pandas_object(index=False), "
                                     "column names and dtypes, per table"}
    combined = hashlib.sha256()
    for name, table in tables.items():
        held = cache.get(name)
        if held is None or held[0] is not table:
            held = cache[name] = (table, _hash_frame(table))
        out[name] = held[1]
        combined.update(json.dumps(held[1]).encode())
    combined.update(str(base.as_of).encode())
    out["sha256"] = combined.hexdigest()
    return out


def _utc_now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


def _segment_info(segment: Segment) -> dict[str, Any]:
    return {"name": segment.name, "description": segment.description,
            "rule": segment.text, "rule_json": segment.rule.to_dict(),
            "effective_rule": str(segment.effective_rule),
            "parent": segment.parent.name if segment.parent is not None else None}


def _manifest_path(path: Path) -> Path:
    return path.with_name(path.name + ".manifest.json")


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
    if include_unsendable:
        keep = np.ones(len(selection.positions), dtype=bool)
    else:
        keep = selection.sendable
    frame = _rows_frame(base, selection.positions[keep], wanted)
    if include_unsendable:
        frame["sendable"] = selection.sendable
        frame["excluded_at"] = pd.Series(selection.excluded_at, dtype="object")
    header = [chosen.column_name(c) for c in frame.columns]
    if len(set(header)) != len(header):
        raise ExportError(f"columns: two columns get the same name in the file: {header}")
    staged_csv, written = _write_csv(path, frame, header, chosen, excel)
    try:
        return _publish_export(selection, staged_csv, written, frame, header,
                               chosen=chosen, excel=excel, include_unsendable=include_unsendable,
                               manifest=manifest, extra=extra, segment=segment,
                               suppressions=suppressions)
    except BaseException:
        staged_csv.discard()
        raise


def _publish_export(selection: _Selection, staged_csv: StagedFile, written: dict[str, Any],
                    frame: pd.DataFrame, header: list[str], *, chosen: Preset, excel: bool,
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
        "rows": len(frame),
        "sha256": written["sha256"],
        "bytes": written["bytes"],
        "created_at": _utc_now(),
        "segexplore_version": _version(),
        "preset": None if chosen.name == "plain" else chosen.name,
        "options": {"columns": list(frame.columns), "header": header, "excel": excel,
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
    return ExportResult(path, manifest_path, len(frame), waterfall, info)


def _version() -> str:
    from segexplore._version import __version__

    return __version__


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
        Emails never to export, on top of those registered with
        :func:`register_suppressions`.
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
    return _write_export(selection, path, columns=columns, preset=preset, excel=excel,
                         include_unsendable=include_unsendable, manifest=manifest, extra={},
                         segment=segment, suppressions=source)


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
    for segment, stem in zip(items, stems, strict=True):
        priority = overlap == "priority" and bool(claimed["names"])
        selection = _select(segment, suppressions=listed,
                            claimed=claimed if priority else None)
        extra = {"overlap": {"mode": overlap, "priority": names.index(segment.name) + 1,
                             "order": names,
                             "note": ("each contact is exported only with the first segment "
                                      "of 'order' that matches it") if overlap == "priority"
                             else "a contact may be in several of these files"}}
        results[segment.name] = _write_export(
            selection, folder / f"{stem}.csv", columns=columns, preset=preset, excel=excel,
            include_unsendable=include_unsendable, manifest=manifest, extra=extra,
            segment=segment, suppressions=source)
        if overlap == "priority":
            rows = segment.base.contacts.iloc[selection.positions]
            claimed["ids"].update(rows["contact_id"].tolist())
            claimed["emails"].update(rows["email"][selection.sendable].dropna().tolist())
            claimed["names"].append(segment.name)
    return results


# ------------------------------------------------------------------------- checking

def verify_export(path: Any) -> dict[str, Any]:
    """Check a file against its manifest (checksum and row count); return the manifest.

    Raises
    ------
    ExportError
        The manifest is missing, or the file changed since it was written.
    """
    path = Path(path)
    manifest_path = _manifest_path(path)
    if not manifest_path.exists():
        raise ExportError(f"{path}: no manifest {manifest_path.name} beside the file: an "
                          "unfinished export (interrupted before its manifest was written) "
                          "or not an export of segexplore")
    info = json.loads(manifest_path.read_text(encoding="utf-8"))
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if digest != info.get("sha256"):
        raise ExportError(f"{path}: the file does not match its manifest (sha256 differs): "
                          "an unfinished export (interrupted before its manifest was "
                          "written), or it was changed or replaced after the export")
    return info


# Splits live in core/split.py, which builds on this module's selection and writer: imported
# last, once everything it needs here is defined, and re-exported so that
# ``from segexplore.delivery.export import split, export_split`` keeps working.
from segexplore.delivery.split import export_split, split  # noqa: E402
