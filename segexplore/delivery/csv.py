"""Safe CSV files for email platforms: ESP presets and formula-proof cells.

A :class:`Preset` names the columns and formats a platform's import expects
(``"mailchimp"``, ``"brevo"``, or segexplore's own names). Every *text* cell that a
spreadsheet would run as a formula (first character ``= + - @``, tab or carriage return) is
prefixed with a single quote (:func:`neutralise_formula`).
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from segexplore.errors import ExportError
from segexplore.io.atomic import StagedFile, staged_write

__all__ = ["FORMULA_TRIGGERS", "PRESETS", "Preset", "neutralise_formula"]



#: First characters that make a spreadsheet run a text cell as a formula (OWASP CSV injection).
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


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


def neutralise_formula(text: str) -> str:
    """Prefix ``text`` with ``'`` when a spreadsheet would run it as a formula.

    Examples
    --------
    >>> [neutralise_formula(t) for t in ["=1+1", "+33 6 12", "Anne", "-5"]]
    ["'=1+1", "'+33 6 12", 'Anne', "'-5"]
    """
    return "'" + text if text[:1] in FORMULA_TRIGGERS and text else text


#: Rows converted and written at a time: bounds the cells held in memory, whatever the
#: engine (the DuckDB engine fetches this many rows per batch). Tests set it small.
ROWS_PER_CHUNK = 65_536


def _date_layout(column: str, preset: Preset, whole_days: bool) -> str:
    """How a datetime column is written: the preset's birthday layout, a date when every
    value of the column (over all the rows written, not one chunk) is at midnight, or a
    date and time."""
    if column == "birth_date" and preset.birthday_format:
        return preset.birthday_format
    return "%Y-%m-%d" if whole_days else "%Y-%m-%d %H:%M:%S"


@dataclass(frozen=True)
class _Chunks:
    """The rows of a CSV file, a chunk at a time.

    ``columns`` are the chunks' columns in order, ``layouts`` the strftime layout of each
    datetime column, decided over every row beforehand (see :func:`_date_layout`) so that
    every chunk writes a column alike, and ``frames`` the DataFrames, read once.
    """

    columns: list[str]
    layouts: Mapping[str, str]
    frames: Iterable[pd.DataFrame]


def _frame_chunks(frame: pd.DataFrame, preset: Preset,
                  rows_per_chunk: int | None = None) -> _Chunks:
    """A DataFrame held in memory (the pandas engine's rows), as :class:`_Chunks`."""
    size = max(1, rows_per_chunk or ROWS_PER_CHUNK)
    layouts = {}
    for column in frame.columns:
        if pd.api.types.is_datetime64_any_dtype(frame[column].dtype):
            stamps = frame[column].dropna()
            layouts[column] = _date_layout(column, preset,
                                           bool((stamps == stamps.dt.normalize()).all()))
    frames = (frame.iloc[start:start + size] for start in range(0, len(frame), size))
    return _Chunks(list(frame.columns), layouts, frames)


def _cells(values: pd.Series, column: str, preset: Preset,
           layout: str | None) -> tuple[list[Any], int]:
    """Python values for the csv writer (None = empty cell) and the count neutralised.

    Whole columns at a time (a million rows is a few vector operations, not a million
    Python steps); an object column mixing text and other values goes cell by cell.
    """
    dtype = values.dtype
    missing = values.isna().to_numpy(dtype=bool)
    if pd.api.types.is_bool_dtype(dtype):
        truth = values.fillna(False).to_numpy(dtype=bool)
        out = np.where(truth, "true", "false").astype(object)
        out[missing] = None
        return out.tolist(), 0
    if pd.api.types.is_numeric_dtype(dtype) and not isinstance(dtype, pd.CategoricalDtype):
        # Numbers stay numbers (Python ints and floats): a spreadsheet never runs -5 as a
        # formula.
        return values.to_numpy(dtype=object, na_value=None).tolist(), 0
    if pd.api.types.is_datetime64_any_dtype(dtype):
        if layout is None:  # a caller's bug: chunks would write the column differently
            raise ExportError(f"columns: no date layout decided for {column!r}")
        out = values.dt.strftime(layout).to_numpy(dtype=object)
        out[missing] = None
        return out.tolist(), 0
    if pd.api.types.infer_dtype(values, skipna=True) not in ("string", "empty"):
        return _mixed_cells(values, column, preset)
    text = values.astype("string")
    if column == "interests" and preset.tag_separator:
        text = text.str.replace("|", preset.tag_separator, regex=False)
    risky = text.str.slice(0, 1).isin(FORMULA_TRIGGERS).to_numpy(dtype=bool) & ~missing
    out = text.to_numpy(dtype=object, na_value=None)
    out[risky] = "'" + text[risky].to_numpy(dtype=object)
    return out.tolist(), int(risky.sum())


def _mixed_cells(values: pd.Series, column: str, preset: Preset) -> tuple[list[Any], int]:
    """An object column of text and other values: the text guarded, numbers kept."""
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


def _write_csv(path: Path, rows: _Chunks, header: list[str], preset: Preset,
               excel: bool) -> tuple[StagedFile, dict[str, Any]]:
    """Stage the CSV beside ``path`` (not yet in place), a chunk of rows at a time, and
    describe what was written.

    The one writer of every export, whatever the engine: the formula guard, quoting,
    encoding, BOM and separator are decided here only.
    """
    neutralised = dict.fromkeys(rows.columns, 0)
    written_rows = 0
    encoding, sep = ("utf-8-sig", ";") if excel else ("utf-8", ",")
    frames = iter(rows.frames)
    with contextlib.closing(frames) if hasattr(frames, "close") else contextlib.nullcontext(), \
            staged_write(path, "w", encoding=encoding, newline="") as (handle, staged):
        writer = _row_writer(handle, delimiter=sep)
        writer.writerow([neutralise_formula(h) for h in header])
        for frame in frames:
            if list(frame.columns) != rows.columns:
                raise ExportError(f"columns: a chunk has columns {list(frame.columns)}, "
                                  f"not {rows.columns}")
            columns = []
            for column in rows.columns:
                cells, count = _cells(frame[column], column, preset, rows.layouts.get(column))
                columns.append(cells)
                neutralised[column] += count
            for row in zip(*columns, strict=True):
                writer.writerow(row)
            written_rows += len(frame)
    digest = hashlib.sha256()
    with open(staged.temporary, "rb") as staged_file:  # read back in blocks: bounded memory
        for block in iter(lambda: staged_file.read(1 << 20), b""):
            digest.update(block)
    return staged, {"sha256": digest.hexdigest(), "bytes": staged.temporary.stat().st_size,
                    "rows": written_rows, "encoding": encoding, "separator": sep,
                    "neutralised_cells": {c: n for c, n in neutralised.items() if n}}


#: The csv writer factory; a module attribute so tests can interrupt a write half way.
_row_writer = csv.writer
