r"""Read contact, event and order tables from files: detect format, encoding and layout.

Reading follows one product rule: bad input gets a clear :class:`FileFormatError` that
names the file, the line (1-based, as a text editor shows it, header = line 1), the
column and what was expected, never a traceback from deep inside pandas. Rows that
cannot be read are kept with their reason (``on_bad_lines="reject"``), never dropped
in silence.

What :func:`read_table` detects in a CSV file, each overridable by an argument:

* encoding: a byte-order mark (UTF-8, UTF-16, UTF-32); UTF-16 or UTF-32 without one
  (from the pattern of zero bytes); else UTF-8, or ``cp1252`` (Windows French exports)
  when the file really is cp1252 -- most of its non-ASCII bytes are not valid UTF-8 --
  or ``latin-1`` when cp1252 cannot decode a byte. A UTF-8 file with a few invalid
  lines (one pasted from a Windows export, even on the last of a million lines) stays
  UTF-8: only those lines are decoded as cp1252 (pandas then reads a repaired
  temporary copy with its fast strict decoder), each one is listed in
  ``ReadInfo.issues`` with its line number, and a note says so.
* binary content (NUL or control bytes, random bytes): a short :class:`FileFormatError`.
* separator: among ``, ; TAB |``, the one that splits the header into two or more
  fields and gives the most lines with as many fields as the header (quotes honoured);
  when none splits the header, runs of spaces or tabs (``sep=r"\s+"``, as in
  CDNOW_master.txt) if every line then has the same number of fields and some column
  holds numbers.
* header: the first line, unless ``names=`` gives the column names of a file without
  one (as with :func:`pandas.read_csv`); a first line that looks like data is an
  error that says so.
* decimal comma (only when the separator is not ``,``): a column whose sampled values
  are all like ``12,50`` / ``1 234,50`` or integers. Columns with thousands spaces are
  read as text and converted afterwards with :func:`parse_numbers`.
* text columns: postal codes, phones, departments and other codes (by name) and any
  column whose sampled values are digit strings with a leading zero, so ``01000``
  stays ``"01000"``.
* lines with fewer fields than the header: kept, the missing values left empty, and
  each one listed in ``ReadInfo.issues``.

Time-zone-aware datetime columns (Parquet, DataFrames) are converted to ``tz`` (UTC by
default) and stored without zone, with a note; see :func:`parse_datetimes`.

Dates are not parsed while reading; the schema step calls :func:`parse_datetimes` per
column. Row ``i`` (0-based) of a CSV frame is on line ``i + 2`` (``i + 1`` with
``names=``) unless the file has blank lines or quoted line breaks (``ReadInfo.notes`` says when lines were rejected).

This module owns :func:`read_table` and :class:`ReadInfo`: it tells the format and hands
the file to its reader, :mod:`segexplore.io.csv` (built on :mod:`segexplore.io.sniff`) or
:mod:`segexplore.io.excel`. Date and number parsing live in :mod:`segexplore.io.parsing`
(:func:`~segexplore.io.parsing.parse_datetimes`, :func:`~segexplore.io.parsing.parse_numbers`)
and atomic writing in :mod:`segexplore.io.atomic`.
"""

from __future__ import annotations

import codecs
import difflib
import os
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import pandas as pd

from segexplore.errors import FileFormatError, ParameterError
from segexplore.io.csv import _CsvReader, _empty_rejected
from segexplore.io.excel import _read_excel
from segexplore.io.parsing import (
    DEFAULT_TZ,
    check_timezone,
)
from segexplore.io.sniff import WHITESPACE

__all__ = ["ReadInfo", "read_table", "READ_ISSUE_COLUMNS", "PROGRESS_MIN_BYTES"]

CSV_EXTENSIONS = frozenset({".csv", ".txt", ".tsv"})
PARQUET_EXTENSIONS = frozenset({".parquet", ".pq"})
EXCEL_EXTENSIONS = frozenset({".xlsx", ".xlsm", ".xls"})
#: Files larger than this get a progress bar when ``progress=None``.
PROGRESS_MIN_BYTES = 50 * 1024 * 1024
Format = Literal["csv", "parquet", "excel", "dataframe"]


#: Columns of :attr:`ReadInfo.issues`.
READ_ISSUE_COLUMNS = ("line", "column", "value", "problem", "action")


def _issue_frame(rows: Iterable[tuple[int, str | None, str | None, str, str]] = ()
                 ) -> pd.DataFrame:
    rows = list(rows)
    columns = list(zip(*rows, strict=True)) if rows else [()] * len(READ_ISSUE_COLUMNS)
    return pd.DataFrame({
        "line": pd.Series(columns[0], dtype="int64"),
        **{name: pd.Series(values, dtype="object")
           for name, values in zip(READ_ISSUE_COLUMNS[1:], columns[1:], strict=True)}})


@dataclass(frozen=True, eq=False, repr=False)
class ReadInfo:
    """What :func:`read_table` read and detected.

    Attributes
    ----------
    path : str or None
        The file read, None for a DataFrame source.
    format : {"csv", "parquet", "excel", "dataframe"}
    encoding, sep, decimal : str or None
        Settings used for a CSV file (None for other formats).
    sheet : str or None
        Excel sheet read.
    n_rows, n_columns : int
        Shape of the frame returned.
    seconds : float
        Wall time of the read.
    notes : tuple of str
        Human-readable sentences on what was detected or fixed.
    rejected_lines : pandas.DataFrame
        Lines not read (``on_bad_lines="reject"``): columns ``line`` (1-based line
        number in the file), ``text`` (raw line) and ``reason``. Empty when none.
    issues : pandas.DataFrame
        Lines read, but not as written: ``line``, ``column`` (the columns concerned,
        when known), ``value``, ``problem`` and ``action`` -- a line with fewer fields
        than the header, a line not valid UTF-8 in a UTF-8 file. :func:`read_base
        <segexplore.read_base>` copies them into ``report.issues``.
    header : bool
        Whether the file's first line holds the column names (False with ``names=``).
    """

    path: str | None
    format: Format
    encoding: str | None = None
    sep: str | None = None
    decimal: str | None = None
    sheet: str | None = None
    n_rows: int = 0
    n_columns: int = 0
    seconds: float = 0.0
    notes: tuple[str, ...] = ()
    rejected_lines: pd.DataFrame = field(default_factory=_empty_rejected)
    issues: pd.DataFrame = field(default_factory=_issue_frame)
    header: bool = True

    def __str__(self) -> str:
        name = Path(self.path).name if self.path else "DataFrame"
        settings = [self.format]
        if self.encoding:
            settings.append(f"encoding {self.encoding}")
        if self.sep:
            settings.append("separator whitespace" if self.sep == WHITESPACE
                            else f"separator {self.sep!r}")
        if self.decimal:
            settings.append(f"decimal {self.decimal!r}")
        if self.sheet:
            settings.append(f"sheet {self.sheet!r}")
        lines = [f"{name}: {self.n_rows:,} rows x {self.n_columns} columns "
                 f"({', '.join(settings)}), read in {self.seconds:.2f} s"]
        lines += [f"  - {note}" for note in self.notes]
        return "\n".join(lines)

    __repr__ = __str__  # readable when a notebook cell shows it


# --------------------------------------------------------------------------- read_table

def read_table(
    source: str | os.PathLike[str] | pd.DataFrame,
    *,
    sep: str | None = None,
    encoding: str | None = None,
    decimal: str | None = None,
    sheet_name: str | int | None = None,
    text_columns: Iterable[str] | None = None,
    on_bad_lines: Literal["error", "reject"] = "error",
    progress: bool | None = None,
    names: Sequence[str] | None = None,
    tz: str = DEFAULT_TZ,
) -> tuple[pd.DataFrame, ReadInfo]:
    r"""Read a contact, event or order table from a CSV, Parquet or Excel file.

    Parameters
    ----------
    source : str, path or pandas.DataFrame
        File to read. A DataFrame is returned as is (not copied, not mutated), unless
        it has time-zone-aware columns: then a shallow copy with them converted.
    sep, encoding, decimal : str, optional
        CSV settings; detected when None (see the module docstring). ``sep`` is one
        character, or ``r"\s+"`` for fields separated by runs of spaces or tabs.
    sheet_name : str or int, optional
        Excel sheet (name or 0-based position). Required when the workbook has
        several sheets.
    text_columns : iterable of str, optional
        Columns read as text on top of the ones detected (postal codes, phones...).
    on_bad_lines : {"error", "reject"}
        What to do with CSV lines that have more fields than the header: raise, or
        read the other lines and list these in ``ReadInfo.rejected_lines``.
    progress : bool, optional
        Show a progress bar: None = only for files over 50 MB.
    names : sequence of str, optional
        Column names of a CSV file that has no header line (as in
        :func:`pandas.read_csv`, the first line is then data, line 1).
    tz : str, default "UTC"
        Time-zone-aware datetime columns are converted to this zone and stored
        without zone (a note names them).

    Returns
    -------
    (pandas.DataFrame, ReadInfo)

    Raises
    ------
    FileFormatError
        The file is missing, empty, binary, without header, ragged, in another
        encoding than the one asked, or a corrupt Parquet/Excel file; or ``sep`` is
        not a separator. ``path``, ``row`` (1-based line) and ``column`` are set where
        they apply.
    SchemaError
        A name in ``text_columns`` is not a column of the file.
    """
    start = time.perf_counter()
    check_timezone(tz)
    if isinstance(source, pd.DataFrame):
        tz_notes: list[str] = []
        frame = _aware_to_zone(source, tz, tz_notes)
        return frame, ReadInfo(path=None, format="dataframe", n_rows=len(frame),
                               n_columns=frame.shape[1], notes=tuple(tz_notes))
    if on_bad_lines not in ("error", "reject"):
        raise ParameterError(f"on_bad_lines must be 'error' or 'reject', not {on_bad_lines!r}")
    if sep is not None and len(sep) != 1 and sep != WHITESPACE:
        raise FileFormatError(f"{Path(source).name}: sep must be one character, or "
                              f"r'\\s+' for runs of spaces or tabs, not {sep!r}", path=source)
    if names is not None:
        names = _check_names(names)
    if encoding is not None:
        try:
            codecs.lookup(encoding)
        except LookupError:
            raise ParameterError(f"unknown encoding {encoding!r}") from None
    if decimal is not None and decimal not in (",", "."):
        raise ParameterError(f"decimal must be ',' or '.', not {decimal!r}")
    path = Path(source)
    _check_exists(path)
    head = _read_prefix(path, 8)
    file_format, compression = _detect_format(path, head)
    notes: list[str] = []
    if compression and path.suffix.lower() != ".gz":
        notes.append("gzip compression detected")
    size = path.stat().st_size
    show_progress = progress if progress is not None else size > PROGRESS_MIN_BYTES
    if file_format == "parquet":
        frame = _read_parquet(path)
        settings: dict[str, Any] = {}
    elif file_format == "excel":
        frame, sheet = _read_excel(path, sheet_name, text_columns, show_progress, notes)
        settings = {"sheet": sheet}
    else:
        reader = _CsvReader(path, compression, sep=sep, encoding=encoding, decimal=decimal,
                            text_columns=text_columns, on_bad_lines=on_bad_lines,
                            progress=show_progress, notes=notes, names=names)
        frame = reader.read()
        settings = {"encoding": reader.encoding, "sep": reader.sep, "decimal": reader.decimal,
                    "rejected_lines": reader.rejected, "issues": _issue_frame(reader.issues),
                    "header": names is None}
    frame = _aware_to_zone(frame, tz, notes)
    if file_format != "csv" and (sep or encoding or decimal or names):
        notes.append(f"sep/encoding/decimal/names ignored: the file is {file_format}, not CSV")
    if file_format != "excel" and sheet_name is not None:
        notes.append(f"sheet_name ignored: the file is {file_format}, not Excel")
    if len(frame) == 0:
        notes.append("no data rows (header only)")
    info = ReadInfo(path=str(path), format=file_format, n_rows=len(frame),
                    n_columns=frame.shape[1], seconds=time.perf_counter() - start,
                    notes=tuple(notes), **settings)
    return frame, info


def _check_names(names: Sequence[str]) -> list[str]:
    """``names=``: non-empty, distinct column names (as text)."""
    if isinstance(names, str) or not all(isinstance(name, str) and name.strip()
                                         for name in names):
        raise ParameterError(f"names must be a list of non-empty column names, not {names!r}")
    names = [name.strip() for name in names]
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise ParameterError(f"names repeats {', '.join(map(repr, repeated))}: give each column "
                             f"its own name")
    return names


def _aware_to_zone(frame: pd.DataFrame, tz: str, notes: list[str]) -> pd.DataFrame:
    """Convert time-zone-aware datetime columns to naive wall times in ``tz``.

    The rest of segexplore compares naive timestamps; the instant is kept (10:00+02:00
    is 08:00 in UTC). ``frame`` is not mutated: a shallow copy is returned when a
    column changes, ``frame`` itself otherwise.
    """
    aware = [name for name in frame.columns
             if isinstance(frame[name].dtype, pd.DatetimeTZDtype)]
    if not aware:
        return frame
    frame = frame.copy(deep=False)
    for name in aware:
        zone = frame[name].dt.tz
        frame[name] = frame[name].dt.tz_convert(tz).dt.tz_localize(None)
        notes.append(f"column {name}: time zone {zone} converted to {tz}, stored without zone")
    return frame


def _check_exists(path: Path) -> None:
    if path.is_file():
        return
    if path.is_dir():
        raise FileFormatError(f"{path.name}: is a folder, not a file ({path})", path=path)
    folder = path.parent
    if not folder.is_dir():
        raise FileFormatError(f"{path.name}: file not found, the folder {folder} does not exist",
                              path=path)
    names = sorted(entry.name for entry in folder.iterdir() if entry.is_file())
    close = difflib.get_close_matches(path.name, names, n=3, cutoff=0.6)
    hint = f" Did you mean {' or '.join(close)}?" if close else ""
    raise FileFormatError(f"{path.name}: file not found in {folder}.{hint}", path=path)


def _read_prefix(path: Path, n_bytes: int) -> bytes:
    try:
        with path.open("rb") as handle:
            return handle.read(n_bytes)
    except OSError as error:
        raise FileFormatError(f"{path.name}: cannot be opened ({error.strerror})",
                              path=path) from error


def _detect_format(path: Path, head: bytes) -> tuple[Format, str | None]:
    """Return the format and the compression ("gzip" or None) from extension or magic bytes."""
    extension = path.suffix.lower()
    if extension == ".gz":
        return "csv", "gzip"
    if extension in PARQUET_EXTENSIONS:
        return "parquet", None
    if extension in EXCEL_EXTENSIONS:
        return "excel", None
    if head.startswith(b"\x1f\x8b"):  # a gzipped CSV, whatever its name
        return "csv", "gzip"
    if extension in CSV_EXTENSIONS:
        return "csv", None
    if head.startswith(b"PAR1"):
        return "parquet", None
    if head.startswith((b"PK\x03\x04", b"\xd0\xcf\x11\xe0")):
        return "excel", None
    return "csv", None


def _read_parquet(path: Path) -> pd.DataFrame:
    try:
        return pd.read_parquet(path)
    except Exception as error:  # pyarrow raises several unrelated types for bad files
        raise FileFormatError(f"{path.name}: not a valid Parquet file, it may be truncated "
                              f"or corrupt ({error})", path=path) from error


