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

This module owns reading and sniffing (:func:`read_table`, :class:`ReadInfo`). Date and
number parsing live in :mod:`segexplore.io.parsing` (:func:`parse_datetimes`,
:class:`DateParseInfo`, :func:`parse_numbers`) and atomic writing in
:mod:`segexplore.io.atomic` (:func:`atomic_write`, :func:`atomic_write_bytes`); all
five are re-exported here, so ``from segexplore.io.read import ...`` keeps working.
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import difflib
import gzip
import io
import os
import re
import tempfile
import threading
import time
import warnings
import zlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Literal, NoReturn

import numpy as np
import pandas as pd

from segexplore.errors import FileFormatError, SchemaError, closest_name
from segexplore.io.atomic import atomic_write, atomic_write_bytes
from segexplore.io.parsing import (
    DEFAULT_TZ,
    DateParseInfo,
    _plural,
    check_timezone,
    parse_datetimes,
    parse_numbers,
)
from segexplore.model.columns import normalise_name

__all__ = [
    "ReadInfo",
    "DateParseInfo",
    "read_table",
    "parse_datetimes",
    "parse_numbers",
    "atomic_write",
    "atomic_write_bytes",
]

CSV_EXTENSIONS = frozenset({".csv", ".txt", ".tsv"})
PARQUET_EXTENSIONS = frozenset({".parquet", ".pq"})
EXCEL_EXTENSIONS = frozenset({".xlsx", ".xlsm", ".xls"})
SEPARATORS = (",", ";", "\t", "|")
#: ``sep`` for fields separated by runs of spaces or tabs (pandas' notation).
WHITESPACE = r"\s+"

#: Bytes of the file head used to detect encoding, separator, decimal and text columns.
SAMPLE_BYTES = 64 * 1024
#: Files larger than this get a progress bar when ``progress=None``.
PROGRESS_MIN_BYTES = 50 * 1024 * 1024
#: At most this many offending lines are named in an error message.
MAX_LINES_IN_MESSAGE = 10

#: Cells read as missing. "NA" is deliberately absent: it is Namibia's country code.
NA_VALUES = ["", "#N/A", "N/A", "NULL", "null", "NaN", "nan"]

#: Normalised column names always read as text (leading zeros, "+33 6 ...", "2A").
TEXT_COLUMN_NAMES = frozenset({
    "postal_code", "code_postal", "codepostal", "postcode", "post_code", "cp", "zip",
    "zipcode", "zip_code", "phone", "phone_number", "telephone", "tel", "mobile",
    "portable", "department", "departement", "dept", "siret", "siren",
})

_BINARY_SIGNATURES = (
    (b"\x89PNG", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF8", "a GIF image"),
    (b"%PDF", "a PDF document"),
    (b"PK\x03\x04", "a ZIP archive (an Excel .xlsx workbook is one: rename it to .xlsx)"),
    (b"\xd0\xcf\x11\xe0", "an old Office document (an Excel .xls workbook: rename it to .xls)"),
    (b"SQLite format 3\x00", "an SQLite database"),
    (b"PAR1", "a Parquet file (rename it to .parquet)"),
)

_NUMBER_RE = re.compile(r"^[-+]?\d+(?:[.,]\d+)?$")
_DATE_LIKE_RE = re.compile(r"^\d{1,4}[-/.]\d{1,2}[-/.]\d{1,4}(?:[ T].*)?$")
_EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_INTEGER_RE = re.compile(r"^-?\d+$")
_DECIMAL_COMMA_RE = re.compile(r"^-?\d+(?:[ \u00a0\u202f]?\d{3})*,\d+$")
_DECIMAL_DOT_RE = re.compile(r"^-?\d+\.\d+$")
_PARSER_FIELDS_RE = re.compile(r"Expected (\d+) fields in line (\d+), saw (\d+)")
#: Encodings whose separators, quotes and line breaks are single ASCII bytes.
_ASCII_COMPATIBLE = frozenset({"utf-8", "utf-8-sig", "cp1252", "iso8859-1", "ascii"})
#: Bytes no text file holds (NUL aside): C0 controls but TAB, LF, FF, CR; and DEL.
_CONTROL_BYTES = bytes([*range(0, 9), 11, *range(14, 32), 127])
#: Bytes cp1252 leaves undefined: C1 controls once a file falls back to latin-1.
_CP1252_UNDEFINED = b"\x81\x8d\x8f\x90\x9d"
_PARSER_EOF_RE = re.compile(r"EOF inside string starting at row (\d+)")

Format = Literal["csv", "parquet", "excel", "dataframe"]


def _empty_rejected() -> pd.DataFrame:
    return pd.DataFrame({"line": pd.Series(dtype="int64"), "text": pd.Series(dtype="str"),
                         "reason": pd.Series(dtype="str")})


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
        raise ValueError(f"on_bad_lines must be 'error' or 'reject', not {on_bad_lines!r}")
    if sep is not None and len(sep) != 1 and sep != WHITESPACE:
        raise FileFormatError(f"{Path(source).name}: sep must be one character, or "
                              f"r'\\s+' for runs of spaces or tabs, not {sep!r}", path=source)
    if names is not None:
        names = _check_names(names)
    if encoding is not None:
        try:
            codecs.lookup(encoding)
        except LookupError:
            raise ValueError(f"unknown encoding {encoding!r}") from None
    if decimal is not None and decimal not in (",", "."):
        raise ValueError(f"decimal must be ',' or '.', not {decimal!r}")
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
        raise ValueError(f"names must be a list of non-empty column names, not {names!r}")
    names = [name.strip() for name in names]
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise ValueError(f"names repeats {', '.join(map(repr, repeated))}: give each column "
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


def _describe_binary(head: bytes) -> str:
    for signature, description in _BINARY_SIGNATURES:
        if head.startswith(signature):
            return f"it looks like {description}"
    if len(head) >= 4 and head[1::2].count(0) > len(head) // 4:
        return "it looks like UTF-16 text without byte-order mark: pass encoding='utf-16-le'"
    return "it is not a text file"


# --------------------------------------------------------------------------------- CSV

def _is_text_column_name(name: str) -> bool:
    """Postal codes, phones, departments and other codes: digits that are not numbers."""
    normalised = normalise_name(name)
    return (normalised in TEXT_COLUMN_NAMES or normalised.startswith("code_")
            or normalised.endswith("_code"))


def _looks_like_data(value: str) -> str | None:
    """Say what a header field looks like when it looks like a value, else None."""
    if _NUMBER_RE.match(value):
        return "a number"
    if _DATE_LIKE_RE.match(value):
        return "a date"
    if _EMAIL_RE.match(value):
        return "an email address"
    return None


def _check_header_names(names: list[str], file_name: str, path: Path, *,
                        where: str = "line 1",
                        position_label: Callable[[int], str] = lambda i: str(i + 1)) -> int:
    """Raise on a header that is data, blank or duplicated; return the trailing blank count.

    ``position_label`` turns a 0-based column position into the text shown (a number
    for CSV, a letter for Excel). Blank names at the end are allowed (trailing
    separators); the caller checks that their columns are empty.
    """
    filled = [name for name in names if name]
    data_like = [(name, _looks_like_data(name)) for name in filled]
    if filled and all(kind for _, kind in data_like):
        examples = ", ".join(f"{name!r} ({kind})" for name, kind in data_like[:5])
        line = "row" if "row" in where else "line"
        hint = ("" if line == "row" else
                ", or pass names=[...] with the column names of a file that has none")
        raise FileFormatError(
            f"{file_name}, {where}: this looks like data, not column names: {examples}. "
            f"Add a header {line} with the column names{hint}.", path=path, row=1)
    trailing = len(names) - len(list(_rstrip_blank(names)))
    blank = [i for i, name in enumerate(names[: len(names) - trailing]) if not name]
    if blank:
        listed = ", ".join(position_label(i) for i in blank)
        raise FileFormatError(
            f"{file_name}, {where}: column {listed} has no name (blank header). "
            f"Give every column a name.", path=path, row=1)
    seen: dict[str, int] = {}
    duplicates: list[tuple[str, int, int]] = []
    for i, name in enumerate(names):
        if name and name in seen:
            duplicates.append((name, seen[name], i))
        seen.setdefault(name, i)
    if duplicates:
        listed = ", ".join(f"{name!r} (columns {position_label(first)} and {position_label(i)})"
                           for name, first, i in duplicates)
        raise FileFormatError(
            f"{file_name}, {where}: duplicate column names: {listed}. "
            f"Rename them so that each column has its own name.", path=path, row=1,
            column=duplicates[0][0])
    return trailing


def _rstrip_blank(names: list[str]) -> list[str]:
    end = len(names)
    while end > 1 and not names[end - 1]:
        end -= 1
    return names[:end]


def _first_decode_error(data: bytes, encoding: str, lines_before: int = 0, *,
                        final: bool = False) -> tuple[int, int, bytes] | None:
    """Return (line, byte value, line bytes) of the first undecodable byte, or None.

    Unless ``final``, an incomplete sequence at the very end is not an error (the data
    may be cut there).
    """
    decoder = codecs.getincrementaldecoder(encoding)()
    try:
        decoder.decode(data, final=final)
    except UnicodeDecodeError as error:
        line = lines_before + data.count(b"\n", 0, error.start) + 1
        line_start = data.rfind(b"\n", 0, error.start) + 1
        line_end = data.find(b"\n", error.start)
        return line, data[error.start], data[line_start: None if line_end < 0 else line_end]
    return None


_REPAIR_ERRORS = "segexplore-cp1252-line"


def _decode_as_cp1252(error: UnicodeError) -> tuple[str, int]:
    """Codec error handler: decode the bytes of a UTF-8 text that are not valid UTF-8 as
    cp1252 (latin-1 for the five bytes cp1252 leaves undefined).

    Used to repair the few bad lines of a UTF-8 file (:meth:`_CsvReader._repair_utf8`).
    Not given to pandas: any ``encoding_errors`` but "strict" makes read_csv 4x slower.
    """
    if not isinstance(error, UnicodeDecodeError):
        raise error
    bad = error.object[error.start:error.end]
    return bad.decode("cp1252", errors="ignore") if not any(
        byte in _CP1252_UNDEFINED for byte in bad) else bad.decode("latin-1"), error.end


codecs.register_error(_REPAIR_ERRORS, _decode_as_cp1252)


@dataclass
class _Utf8Check:
    """Lines of some data that are not valid UTF-8, and the evidence that the rest is."""

    bad: list[tuple[int, int, int, int]]  # (line, first bad byte, line start, line end)
    n_bad_bytes: int = 0
    valid_high_bytes: int = 0  # bytes above 127 that belong to valid UTF-8 characters

    @property
    def really_cp1252(self) -> bool:
        """No valid non-ASCII UTF-8 at all, or fewer valid characters than bad bytes
        (a valid accented character takes two bytes or more)."""
        return bool(self.bad) and 2 * self.n_bad_bytes > self.valid_high_bytes

    def add(self, other: _Utf8Check, offset: int) -> None:
        """Append ``other``, found in data starting ``offset`` bytes later."""
        self.bad += [(line, byte, start + offset, end + offset)
                     for line, byte, start, end in other.bad]
        self.n_bad_bytes += other.n_bad_bytes
        self.valid_high_bytes += other.valid_high_bytes


_ASCII_BYTES = bytes(range(128))
#: Past this many bad lines with no valid non-ASCII UTF-8 at all, the data is cp1252.
_CP1252_EVIDENCE_LINES = 10_000


def _check_utf8(data: bytes, lines_before: int = 0, *, final: bool = True) -> _Utf8Check:
    """Find the lines of ``data`` that are not valid UTF-8.

    Strict C decoding from one bad line to the next (a memoryview, no copies): about
    1 GB/s however long the file, a few microseconds more per bad line. Unless
    ``final``, an incomplete sequence at the very end is not an error (the data may be
    cut there).
    """
    high = len(data.translate(None, _ASCII_BYTES))  # the bytes left once ASCII is deleted
    view = memoryview(data)
    bad: list[tuple[int, int, int, int]] = []
    n_bad, position, line, counted = 0, 0, lines_before + 1, 0
    while position < len(data):
        try:
            codecs.utf_8_decode(view[position:], "strict", final)
            break
        except UnicodeDecodeError as error:
            at = position + error.start
        line += data.count(b"\n", counted, at)
        counted = at
        line_start = data.rfind(b"\n", 0, at) + 1
        line_end = data.find(b"\n", at)
        line_end = len(data) if line_end < 0 else line_end
        escaped = data[line_start:line_end].decode("utf-8", "surrogateescape")
        n_bad += sum(1 for ch in escaped if "\udc80" <= ch <= "\udcff")
        bad.append((line, data[at], line_start, line_end))
        position = line_end + 1  # one entry per line
        if len(bad) == _CP1252_EVIDENCE_LINES and n_bad == len(
                data[:position].translate(None, _ASCII_BYTES)):
            # Thousands of bad lines and not one valid accent: cp1252, no need to go on.
            return _Utf8Check(bad, n_bad, 0)
    return _Utf8Check(bad, n_bad, high - n_bad)


def _bomless_unicode(sample: bytes) -> str | None:
    """UTF-16 or UTF-32 without byte-order mark, from where the zero bytes of Latin text
    fall (``a`` is ``61 00`` in UTF-16-LE, ``61 00 00 00`` in UTF-32-LE); else None."""
    usable = len(sample) - len(sample) % 4
    if usable < 8:
        return None
    data = sample[:usable]

    def zeros(offset: int, step: int) -> float:
        part = data[offset::step]
        return part.count(0) / len(part)

    z4 = [zeros(i, 4) for i in range(4)]
    if z4[0] < 0.1 and z4[1] > 0.9 and z4[2] > 0.99 and z4[3] > 0.99:
        return "utf-32-le"
    if z4[0] > 0.99 and z4[1] > 0.99 and z4[2] > 0.9 and z4[3] < 0.1:
        return "utf-32-be"
    if zeros(0, 2) < 0.1 and zeros(1, 2) > 0.9:
        return "utf-16-le"
    if zeros(0, 2) > 0.9 and zeros(1, 2) < 0.1:
        return "utf-16-be"
    return None


def _looks_binary(sample: bytes) -> bool:
    """Control bytes no text holds, or (not UTF-8) mostly bytes above 127: random bytes,
    an image or an archive whose magic bytes are not known. NUL is checked before."""
    controls = sum(sample.count(byte) for byte in _CONTROL_BYTES)
    if controls > 1 + len(sample) // 100:
        return True
    if _check_utf8(sample, final=False).bad:
        controls += sum(sample.count(byte) for byte in _CP1252_UNDEFINED)
        high = sum(1 for byte in sample if byte > 127)
        return controls > 1 + len(sample) // 100 or (len(sample) >= 16
                                                      and high > 0.3 * len(sample))
    return False


def _fallback_encoding(data: bytes) -> str:
    """cp1252 unless the data holds one of the five bytes cp1252 leaves undefined."""
    try:
        data.decode("cp1252")
    except UnicodeDecodeError:
        return "latin-1"
    return "cp1252"


def _lines(text: str) -> io.StringIO:
    """Lines as a file opened with newline="" gives them (str.splitlines also cuts at \\x0c...)."""
    return io.StringIO(text, newline="")


def _split_whitespace(lines: Iterable[str]) -> Iterator[list[str]]:
    """Fields separated by runs of spaces or tabs, like ``csv.reader`` (quotes not honoured)."""
    for line in lines:
        yield line.split()


def _csv_records(lines: Iterable[str], sep: str) -> Iterator[list[str]]:
    r"""``csv.reader``, or the whitespace splitter for ``sep=r"\s+"``."""
    return _split_whitespace(lines) if sep == WHITESPACE else csv.reader(lines, delimiter=sep)


def _iter_records(lines: Iterable[str], sep: str) -> Iterator[tuple[int, list[str]]]:
    """Yield ``(first line number, fields)`` per CSV record, blank lines skipped.

    Line numbers are physical (a quoted line break counts), as a text editor shows them.
    """
    if sep == WHITESPACE:
        for number, line in enumerate(lines, start=1):
            if line.split():
                yield number, line.split()
        return
    reader = csv.reader(lines, delimiter=sep)
    last_line = 0
    for fields in reader:
        first_line, last_line = last_line + 1, reader.line_num
        if fields:
            yield first_line, fields


class _CsvReader:
    """Sniff then read one CSV file; holds the settings used, the notes and rejected lines."""

    def __init__(self, path: Path, compression: str | None, *, sep: str | None,
                 encoding: str | None, decimal: str | None,
                 text_columns: Iterable[str] | None, on_bad_lines: str, progress: bool,
                 notes: list[str], names: list[str] | None = None) -> None:
        self.path = path
        self.name = path.name
        self.explicit_encoding = encoding
        self.explicit_sep = sep
        self.explicit_decimal = decimal
        self.extra_text_columns = list(text_columns or [])
        self.on_bad_lines = on_bad_lines
        self.progress = progress
        self.notes = notes
        self.names = names
        self.has_header = names is None
        self.rejected = _empty_rejected()
        self.issues: list[tuple[int, str | None, str | None, str, str]] = []
        self.short_lines: list[tuple[int, int]] | None = None  # (line, fields), once counted
        self.encoding = "utf-8"
        # What pandas reads: the file, or a copy whose lines not valid UTF-8 were repaired.
        self.data_path = path
        self.data_compression = compression
        self.repair_pending = False  # the sample already showed lines to repair
        self.sample_quoted = False
        self.repaired = False
        self.sep = ","
        self.decimal = "."
        # Set by _sniff from the file head:
        self.raw_names: dict[str, str] = {}  # stripped header name -> name in the file
        self.header_width = 0
        self.header_names: list[str] = []
        self.trailing_blank = 0  # blank names at the end of the header (trailing separators)
        self.first_row_too_long = False  # pandas would shift columns: check every line
        self.comma_columns: list[str] = []  # decimal-comma columns, converted after reading

    # -- sniffing -------------------------------------------------------------------

    def _open_binary(self) -> IO[bytes]:
        if self.data_compression == "gzip":
            return gzip.open(self.data_path, "rb")
        return self.data_path.open("rb")

    def _open_text(self, encoding: str) -> IO[str]:
        return io.TextIOWrapper(self._open_binary(), encoding=encoding, newline="")

    def _sample(self) -> tuple[bytes, bool]:
        """Return the first SAMPLE_BYTES bytes (decompressed) and whether the file is longer."""
        try:
            with self._open_binary() as handle:
                sample = handle.read(SAMPLE_BYTES + 1)
        except (OSError, EOFError, zlib.error) as error:
            raise FileFormatError(f"{self.name}: not a valid gzip file, it may be truncated "
                                  f"or corrupt ({error})", path=self.path) from error
        return sample[:SAMPLE_BYTES], len(sample) > SAMPLE_BYTES

    def _detect_encoding(self, sample: bytes) -> str:
        explicit = self.explicit_encoding
        for boms, name in (((codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE), "utf-32"),
                           ((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE), "utf-16")):
            if sample.startswith(boms):  # UTF-32 first: its LE mark starts like UTF-16's
                if explicit is None:
                    self.notes.append(f"encoding {name} detected (byte-order mark)")
                return explicit or name
        bomless = _bomless_unicode(sample)
        if bomless and explicit is None:
            self.notes.append(f"encoding {bomless} detected (no byte-order mark, from the "
                              f"zero bytes between characters)")
            return bomless
        has_utf8_bom = sample.startswith(codecs.BOM_UTF8)
        if explicit is not None:
            if has_utf8_bom and codecs.lookup(explicit).name == "utf-8":
                return "utf-8-sig"  # else the BOM would stick to the first column name
            return explicit
        if has_utf8_bom:
            self.notes.append("encoding utf-8-sig detected (UTF-8 byte-order mark)")
            return "utf-8-sig"
        check = _check_utf8(sample, final=False)
        if not check.really_cp1252:
            self.repair_pending = bool(check.bad)  # a few bad lines: see _repair_utf8
            return "utf-8"
        fallback = _fallback_encoding(sample)
        self.notes.append(f"encoding {fallback} detected (not valid UTF-8 at line "
                          f"{check.bad[0][0]})")
        return fallback

    def _check_not_empty_or_binary(self, sample: bytes) -> None:
        if not sample.lstrip(codecs.BOM_UTF8).strip():
            raise FileFormatError(f"{self.name}: the file is empty (no header, no data)",
                                  path=self.path)
        explicit = codecs.lookup(self.explicit_encoding).name if self.explicit_encoding else ""
        if explicit.startswith(("utf-16", "utf-32")) or _bomless_unicode(sample) or \
                sample.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
            return  # UTF-16 and UTF-32 hold zero bytes (the UTF-32 marks start like these)
        if b"\x00" in sample[:8192] or _looks_binary(sample[:8192]):
            raise FileFormatError(f"{self.name}: binary content, not a CSV file: "
                                  f"{_describe_binary(sample)}", path=self.path)

    def _sniff_separator(self, text: str) -> str:
        """The separator giving the header 2+ fields and most lines of the header's width.

        csv.Sniffer is not used: it guesses from character frequencies and is thrown
        off by decimal commas in a ';' file.
        """
        best_sep, best_key = ",", (-1.0, 0)
        for candidate in SEPARATORS:
            counts = [len(fields) for _, fields in _iter_records(_lines(text), candidate)]
            if not counts or counts[0] < 2:
                continue
            data = counts[1:]
            consistency = sum(n == counts[0] for n in data) / len(data) if data else 1.0
            key = (consistency, counts[0])
            if key > best_key:
                best_sep, best_key = candidate, key
        if best_key[1] == 0 and self._whitespace_separated(text):
            self.notes.append("separator whitespace (runs of spaces or tabs) detected")
            return WHITESPACE
        if best_key[1] == 0:
            self.notes.append("a single column: no separator found among , ; TAB |")
        elif best_sep != ",":
            label = "TAB" if best_sep == "\t" else repr(best_sep)
            self.notes.append(f"separator {label} detected")
        return best_sep

    @staticmethod
    def _whitespace_separated(text: str) -> bool:
        """Fields separated by runs of spaces (CDNOW_master.txt): every line splits into
        the same 2+ fields and some column holds only numbers, so that a one-column file
        of names with spaces ("Jean Dupont") is not split."""
        rows = [line.split() for line in _lines(text) if line.strip()]
        if not rows or len(rows[0]) < 2 or any(len(row) != len(rows[0]) for row in rows):
            return False
        data = rows[1:] or rows
        return any(all(_NUMBER_RE.match(row[i]) for row in data) for i in range(len(rows[0])))

    def _sniff(self) -> dict[str, Any]:
        """Detect the settings from the file head; return the read_csv keyword arguments."""
        sample, truncated = self._sample()
        self._check_not_empty_or_binary(sample)
        self.encoding = self._detect_encoding(sample)
        errors = _REPAIR_ERRORS if self.repair_pending else "replace"
        text = codecs.getincrementaldecoder(self.encoding)(errors=errors).decode(
            sample, final=not truncated)
        if truncated:  # drop the last, possibly cut, line
            text = text[: text.rfind("\n") + 1] or text
        self.sep = self.explicit_sep or self._sniff_separator(text)
        self.sample_quoted = '"' in text
        records = list(_iter_records(_lines(text), self.sep))
        if truncated and len(records) > 1:
            records.pop()  # may be cut inside a quoted field
        if not records:
            raise FileFormatError(f"{self.name}: the file is empty (no header, no data)",
                                  path=self.path)
        if self.names is None:
            raw_header = records[0][1]
            header = [name.strip() for name in raw_header]
            trailing_blank = _check_header_names(header, self.name, self.path)
            data = records[1:]
        else:  # names=: no header line, every record is data
            raw_header = header = list(self.names)
            trailing_blank, data = 0, records
        self.raw_names = dict(zip(header, raw_header, strict=True))
        self.header_names = header[: len(header) - trailing_blank]
        self.header_width = len(header)
        self.trailing_blank = trailing_blank
        self.first_row_too_long = bool(data) and len(data[0][1]) > len(header)
        dtype = self._text_columns(raw_header, header, data)
        text_positions = [i for i, raw in enumerate(raw_header) if raw in dtype]
        self.decimal, numeric_text = self._detect_decimal(header, data, text_positions)
        dtype.update({raw_header[i]: str for i in numeric_text})
        if self.decimal == self.sep:
            raise ValueError(f"decimal and sep cannot both be {self.sep!r}")
        options = {"sep": self.sep, "decimal": self.decimal, "dtype": dtype or None,
                   "index_col": False, "keep_default_na": False, "na_values": NA_VALUES,
                   "engine": "c", "skip_blank_lines": True}
        if self.names is not None:
            options.update(header=None, names=list(self.names))
        return options

    def _text_columns(self, raw_header: list[str], header: list[str],
                      data: list[tuple[int, list[str]]]) -> dict[str, type]:
        by_name = [i for i, name in enumerate(header) if _is_text_column_name(name)]
        asked = []
        normalised = {normalise_name(name): i for i, name in enumerate(header)}
        for name in self.extra_text_columns:
            position = header.index(name) if name in header else normalised.get(
                normalise_name(name))
            if position is None:
                suggestion = closest_name(name, header)
                hint = f" Did you mean {suggestion!r}?" if suggestion else ""
                raise SchemaError(f"{self.name}: text_columns names {name!r}, which is not "
                                  f"a column of the file.{hint}")
            asked.append(position)
        leading_zero = []
        for i in range(len(header)):
            values = [fields[i].strip() for _, fields in data if len(fields) > i]
            values = [value for value in values if value]
            if (i not in by_name and i not in asked and values
                    and all(value.isdigit() for value in values)
                    and any(len(value) > 1 and value[0] == "0" for value in values)):
                leading_zero.append(i)
        if by_name:
            self.notes.append("read as text by name: " + ", ".join(header[i] for i in by_name))
        if leading_zero:
            self.notes.append("read as text to keep leading zeros: "
                              + ", ".join(header[i] for i in leading_zero))
        return {raw_header[i]: str for i in sorted(set(by_name + asked + leading_zero))}

    def _detect_decimal(self, header: list[str], data: list[tuple[int, list[str]]],
                        text_positions: list[int]) -> tuple[str, list[int]]:
        """Return pandas' decimal and the columns read as text then parsed as numbers."""
        comma, thousands, dot = [], [], []
        if self.sep != ",":
            for i in range(len(header)):
                if i in text_positions:
                    continue
                values = [fields[i].strip() for _, fields in data if len(fields) > i]
                values = [value for value in values if value]
                with_comma = [v for v in values if _DECIMAL_COMMA_RE.match(v)]
                with_dot = [v for v in values if _DECIMAL_DOT_RE.match(v)]
                others = [v for v in values if not _INTEGER_RE.match(v)]
                if with_comma and len(with_comma) == len(others):
                    comma.append(i)
                    if any(not ch.isdigit() and ch not in "-," for v in with_comma for ch in v):
                        thousands.append(i)
                elif with_dot and len(with_dot) == len(others):
                    dot.append(i)
        names = ", ".join(header[i] for i in comma)
        if comma and self.explicit_decimal == ".":
            self.notes.append(f"decimal comma seen in columns {names}, kept as text since "
                              f"decimal='.' was asked")
        elif comma:
            self.comma_columns = [header[i] for i in comma]
            self.notes.append(f"decimal comma detected in columns {names}")
        if self.explicit_decimal is not None:
            return self.explicit_decimal, [i for i in thousands
                                           if self.explicit_decimal == ","]
        if comma and not dot:
            return ",", thousands
        # Mixed '.' and ',' columns: pandas takes one decimal, the comma ones go through text.
        return ".", comma

    # -- reading --------------------------------------------------------------------

    def read(self) -> pd.DataFrame:
        options = self._sniff()
        try:
            if self.repair_pending:
                self._repair_utf8()
            while True:
                attempt = dict(options)  # the slow path adds skiprows/usecols
                try:
                    frame = self._read_with(attempt)
                    break
                except UnicodeDecodeError:
                    # A bad byte after the sample: repair those lines (or the file really
                    # is cp1252), unless an encoding was asked.
                    if (self.explicit_encoding is None and not self.repaired
                            and self.encoding in ("utf-8", "utf-8-sig")):
                        self._repair_utf8()
                    else:
                        self._switch_encoding_after_decode_error()
            frame = self._finish(frame, attempt)
            self._report_short_lines(frame)
        finally:
            if self.data_path != self.path:
                self.data_path.unlink(missing_ok=True)
        return frame

    def _repair_utf8(self) -> None:
        """A UTF-8 file with bytes that are not valid UTF-8: fall back to cp1252 for the
        whole file if it really is cp1252, else decode only the bad lines as cp1252, in a
        temporary copy that pandas reads instead (line numbers unchanged), and list each
        line in the issues.

        One pass over the bytes, by blocks cut at line breaks: a strict decode costs a
        few milliseconds per megabyte and blocks without bad bytes are copied as they are.
        """
        self.repaired = True
        found = _Utf8Check([])
        lines_before, carry, offset = 0, b"", 0
        raw_lines: list[bytes] = []
        with self._open_binary() as handle, tempfile.NamedTemporaryFile(
                "wb", prefix="segexplore-repaired-", suffix=".csv", delete=False) as copy:
            copy_path = Path(copy.name)
            while True:
                block = handle.read(1 << 24)
                data = carry + block
                cut = data.rfind(b"\n") + 1 if block else len(data)
                piece, carry = data[:cut], data[cut:]
                check = _check_utf8(piece, lines_before)
                found.add(check, offset)
                written = 0
                for _, _, start, end in check.bad:  # splice the repaired lines in
                    raw_lines.append(piece[start:end])
                    copy.write(piece[written:start])
                    copy.write(piece[start:end].decode("utf-8", _REPAIR_ERRORS).encode())
                    written = end
                copy.write(piece[written:])
                lines_before += piece.count(b"\n")
                offset += len(piece)
                if not block or found.really_cp1252 and len(found.bad) >= _CP1252_EVIDENCE_LINES:
                    break
        if not found.bad or found.really_cp1252:
            copy_path.unlink()
        else:
            self.data_path, self.data_compression = copy_path, None
        if found.really_cp1252:
            self.encoding = "latin-1" if any(
                byte in line for line in raw_lines for byte in _CP1252_UNDEFINED
            ) else "cp1252"
            self.notes.append(f"encoding {self.encoding} detected (not valid UTF-8 at line "
                              f"{found.bad[0][0]})")
            return
        lines = [line for line, *_ in found.bad]
        self.notes.append(f"{_plural(len(lines), 'line')} not valid UTF-8 "
                          f"({_list_lines(lines)}): decoded as cp1252 for "
                          f"{'this line' if len(lines) == 1 else 'these lines'} only, the "
                          f"rest of the file as UTF-8; see issues")
        for (line, byte, _, _), raw in zip(found.bad, raw_lines, strict=True):
            column, value = self._bad_fields(raw)
            self.issues.append((line, column, value,
                                f"byte 0x{byte:02X} is not valid UTF-8 (the rest of the file is)",
                                "decoded as cp1252 for this line only"))

    def _bad_fields(self, raw: bytes) -> tuple[str | None, str]:
        """The columns of a line holding bytes not valid UTF-8, and their decoded value."""
        repaired = raw.decode("utf-8", errors=_REPAIR_ERRORS).rstrip("\r")
        marked = raw.decode("utf-8", errors="replace").rstrip("\r")
        try:
            fields = next(iter(_csv_records([marked], self.sep)), [])
            values = next(iter(_csv_records([repaired], self.sep)), [])
        except csv.Error:  # a bare carriage return inside the line
            return None, repaired
        bad = [i for i, text in enumerate(fields) if "\ufffd" in text]
        names = self.header_names
        if len(fields) != len(values) or not bad or bad[-1] >= len(names):
            return None, repaired  # a header or a record cut by a quoted line break
        value = values[bad[0]] if len(bad) == 1 else repaired
        return ", ".join(names[i] for i in bad), value

    def _report_short_lines(self, frame: pd.DataFrame) -> None:
        """List every line with fewer fields than the header in ``issues`` (kept, the
        missing values left empty), with an exact count in the notes."""
        width = len(self.header_names)
        if width < 2 or frame.empty:
            return
        if self.short_lines is None:
            if frame.iloc[:, width - 1].notna().all():
                return  # a short line leaves the last column empty: none here
            self.short_lines = self._count_short_lines(width, len(frame))
        short = [(line, n) for line, n in self.short_lines if n < width]
        if not short:
            return
        note = (f"{_plural(len(short), 'line')} with fewer fields than the header "
                f"({_list_lines([line for line, _ in short])}): the missing values are left "
                f"empty")
        if note not in self.notes:
            self.notes.append(note)
        for line, n_fields in short:
            self.issues.append((line, ", ".join(self.header_names[n_fields:]), None,
                                f"{n_fields} fields, expected {width} as in the header",
                                "kept, missing values left empty"))

    def _count_short_lines(self, width: int, n_rows: int) -> list[tuple[int, int]]:
        """(line, fields) of every record with fewer than ``width`` fields.

        numpy counts separators per record on the bytes (quotes honoured, about 0.1 s
        per 50 MB); the csv module reads every record when that count does not find
        pandas' ``n_rows`` records, or for UTF-16/32 files.
        """
        if codecs.lookup(self.encoding).name in _ASCII_COMPATIBLE:
            counted = self._count_fields_on_bytes(n_rows)
            if counted is not None:
                return counted
        short = []
        header_pending = self.has_header
        for _, first_line, _, fields in self._scan():
            if not any(field.strip() for field in fields):
                continue  # blank line
            if header_pending:
                header_pending = False
            elif len(fields) < width:
                short.append((first_line, len(fields)))
        return short

    def _count_fields_on_bytes(self, n_rows: int) -> list[tuple[int, int]] | None:
        """(first line, fields) of the data records with fewer fields than the header,
        counted on bytes with numpy; None when the count disagrees with pandas' ``n_rows``
        (a stray quote inside a value: the csv module must decide)."""
        width = len(self.header_names)
        if self.sep != WHITESPACE and not self.sample_quoted:
            quotes, separators, lines = False, 0, 0
            last = b"\n"
            with self._open_binary() as handle:  # totals first: no copies, no line cutting
                while block := handle.read(1 << 24):
                    quotes = quotes or b'"' in block
                    separators += block.count(self.sep.encode())
                    lines += block.count(b"\n")
                    last = block[-1:]
            lines += last != b"\n"  # a last line without line break
            if not quotes and separators == (self.header_width - 1) * lines:
                # No line has more separators than the header (pandas would have failed),
                # so all have exactly as many: no short line, no blank line.
                return []
        found: list[tuple[int, int]] = []
        lines_before, carry, records = 0, b"", 0
        header_pending = self.has_header
        with self._open_binary() as handle:
            while True:
                block = handle.read(1 << 24)
                data = carry + block
                n_fields, blank, starts, newlines, used = _fields_per_record(
                    data, self.sep, final=not block)
                piece, carry = data[:used], data[used:]
                kept = np.flatnonzero(~blank)
                if header_pending and len(kept):
                    header_pending = False
                    kept = kept[1:]
                records += len(kept)
                short = kept[n_fields[kept] < width]
                first_lines = np.searchsorted(newlines, starts[short]) + 1  # physical lines
                found += [(lines_before + int(line), int(n_fields[i]))
                          for line, i in zip(first_lines, short, strict=True)]
                lines_before += piece.count(b"\n")
                if not block:
                    return found if records == n_rows else None

    def _switch_encoding_after_decode_error(self) -> None:
        """Move to the next encoding (utf-8 -> cp1252 -> latin-1), or raise if it was asked."""
        located = self._locate_decode_error(self.encoding)
        line, byte, line_bytes = located or (None, None, b"")
        fallback = {"utf-8": "cp1252", "utf-8-sig": "cp1252", "cp1252": "latin-1"}.get(
            self.encoding)
        if self.explicit_encoding is not None or fallback is None:
            was_utf8 = codecs.lookup(self.encoding).name.startswith("utf-8")
            suggestion = ("utf-8" if line_bytes and not was_utf8
                          and _first_decode_error(line_bytes, "utf-8") is None
                          else _fallback_encoding(line_bytes))
            byte_text = f"byte 0x{byte:02X}" if byte is not None else "a byte"
            raise FileFormatError(
                f"{self.name}{_at_line(line)}: {byte_text} cannot be decoded as {self.encoding}; "
                f"the file is probably in another encoding, try encoding={suggestion!r}",
                path=self.path, row=line)
        previous, self.encoding = self.encoding, fallback
        label = "UTF-8" if previous.startswith("utf-8") else previous
        self.notes.append(f"encoding {self.encoding} detected (not valid {label} "
                          f"at line {line})")

    def _locate_decode_error(self, encoding: str) -> tuple[int, int, bytes] | None:
        """Scan the file by blocks cut at line breaks for the first undecodable byte."""
        lines_before = 0
        carry = b""
        with self._open_binary() as handle:
            while True:
                block = handle.read(1 << 22)
                data = carry + block
                cut = data.rfind(b"\n") + 1 if block else len(data)
                piece, carry = data[:cut], data[cut:]
                found = _first_decode_error(piece, encoding, lines_before, final=not block)
                if found or not block:
                    return found
                lines_before += piece.count(b"\n")

    def _read_with(self, options: dict[str, Any]) -> pd.DataFrame:
        """Fast path: one pandas call; ragged files go through :meth:`_read_checked`."""
        if self.first_row_too_long:  # pandas would silently shift or drop columns
            return self._read_checked(options)
        try:
            return self._pandas_read(options)
        except pd.errors.ParserError as error:
            if _PARSER_FIELDS_RE.search(str(error)):
                return self._read_checked(options)
            self._raise_parser_error(error)

    def _raise_parser_error(self, error: pd.errors.ParserError) -> NoReturn:
        message = str(error).strip()
        eof = _PARSER_EOF_RE.search(message)
        line = self._record_line(int(eof.group(1))) if eof else None
        if eof:
            raise FileFormatError(
                f"{self.name}{_at_line(line)}: a quoted field starts here but its closing "
                f"quote (\") is never found, so the rest of the file would become one value. "
                f"Check for a stray \" on this line.", path=self.path, row=line) from error
        raise FileFormatError(f"{self.name}: cannot be read as CSV: {message}",
                              path=self.path) from error

    def _pandas_read(self, options: dict[str, Any]) -> pd.DataFrame:
        with warnings.catch_warnings():
            # mixed-type columns are re-read as text by _fix_mixed_columns, with a note
            warnings.simplefilter("ignore", pd.errors.DtypeWarning)
            if not self.progress:
                return pd.read_csv(self.data_path, encoding=self.encoding,
                                   compression=self.data_compression, **options)
            with self.data_path.open("rb") as raw, contextlib.ExitStack() as stack:
                handle = (stack.enter_context(gzip.GzipFile(fileobj=raw, mode="rb"))
                          if self.data_compression else raw)
                # the bar follows the bytes read on disk, compressed or not
                with _progress_monitor(raw, self.data_path.stat().st_size, self.name):
                    return pd.read_csv(handle, encoding=self.encoding, **options)

    def _scan(self) -> Iterator[tuple[int, int, int, list[str]]]:
        """Yield ``(record index, first line, last line, fields)`` for every record.

        The record index counts blank lines and the header like pandas' ``skiprows``
        and error messages do; line numbers are physical, as a text editor shows them.
        """
        with self._open_text(self.encoding) as handle:
            if self.sep == WHITESPACE:  # no quoted line breaks: one record per line
                for index, line in enumerate(handle):
                    yield index, index + 1, index + 1, line.split()
                return
            reader = csv.reader(handle, delimiter=self.sep)
            last_line = 0
            try:
                for index, fields in enumerate(reader):
                    first_line, last_line = last_line + 1, reader.line_num
                    yield index, first_line, last_line, fields
            except csv.Error as error:
                raise FileFormatError(f"{self.name}{_at_line(last_line + 1)}: cannot be read "
                                      f"as CSV: {error}", path=self.path,
                                      row=last_line + 1) from error

    def _record_line(self, record_index: int) -> int | None:
        """Return the first line of the record at 0-based ``record_index`` (pandas' rows)."""
        for index, first_line, _, _ in self._scan():
            if index == record_index:
                return first_line
        return None

    def _read_checked(self, options: dict[str, Any]) -> pd.DataFrame:
        """Slow path for ragged files: count the fields of every record with the csv module.

        Records with non-empty extra fields are rejected (pandas skips them by record
        index); extra empty fields (trailing separators) are dropped by ``usecols``.
        """
        width = self.header_width
        bad: list[tuple[int, int, int, int]] = []  # index, first line, last line, fields
        short: list[tuple[int, int]] = []
        trailing = 0
        header_seen = not self.has_header
        for index, first_line, last_line, fields in self._scan():
            if not fields:  # blank line
                continue
            if not header_seen:
                header_seen = True
            elif len(fields) > width:
                if any(fields[width:]):
                    bad.append((index, first_line, last_line, len(fields)))
                else:
                    trailing += 1
            elif len(fields) < width:
                short.append((first_line, len(fields)))
        if bad and self.on_bad_lines == "error":
            self._raise_ragged(bad)
        self.short_lines = short  # reported with the others by _report_short_lines
        if bad:
            self.rejected = self._rejected_frame(bad)
            self.notes.append(f"{_plural(len(bad), 'line')} rejected: more fields than the "
                              f"header ({_list_lines([b[1] for b in bad])}); see "
                              f"rejected_lines")
        if trailing:
            self.notes.append(f"{_plural(trailing, 'line')} ending with extra empty fields "
                              f"(trailing separators): ignored")
        options.update(skiprows={b[0] for b in bad} or None, usecols=list(range(width)))
        try:
            return self._pandas_read(options)
        except pd.errors.ParserError as error:
            self._raise_parser_error(error)

    def _rejected_frame(self, bad: list[tuple[int, int, int, int]]) -> pd.DataFrame:
        """Collect the raw text of the rejected records with one pass over the lines."""
        wanted = {line: record for record in bad for line in range(record[1], record[2] + 1)}
        texts: dict[int, list[str]] = {record[1]: [] for record in bad}
        with self._open_text(self.encoding) as handle:
            for line_number, line in enumerate(handle, start=1):
                if line_number in wanted:
                    texts[wanted[line_number][1]].append(line)
                if line_number >= bad[-1][2]:
                    break
        width = self.header_width
        return pd.DataFrame({
            "line": pd.Series([b[1] for b in bad], dtype="int64"),
            "text": pd.Series(["".join(texts[b[1]]).rstrip("\r\n") for b in bad], dtype="str"),
            "reason": pd.Series([f"{b[3]} fields, expected {width} as in the header"
                                 for b in bad], dtype="str")})

    def _raise_ragged(self, bad: list[tuple[int, int, int, int]]) -> NoReturn:
        width = self.header_width
        named = ", ".join(f"line {first_line} ({n_fields} fields)"
                          for _, first_line, _, n_fields in bad[:MAX_LINES_IN_MESSAGE])
        more = (f" and {len(bad) - MAX_LINES_IN_MESSAGE} more"
                if len(bad) > MAX_LINES_IN_MESSAGE else "")
        raise FileFormatError(
            f"{self.name}: {_plural(len(bad), 'line')} with more fields than the header "
            f"({width} expected): {named}{more}. A separator inside an unquoted value is "
            f"the usual cause. Fix the file, or pass on_bad_lines='reject' to read the "
            f"other lines and list these in ReadInfo.rejected_lines.",
            path=self.path, row=bad[0][1])

    def _finish(self, frame: pd.DataFrame, options: dict[str, Any]) -> pd.DataFrame:
        stripped = [str(name).strip() for name in frame.columns]
        if self.trailing_blank:
            frame = self._drop_trailing_blank(frame)
            stripped = stripped[: frame.shape[1]]
        if stripped != list(frame.columns):
            frame.columns = stripped
            self.notes.append("spaces around column names removed")
        frame = self._fix_mixed_columns(frame, options)
        return self._convert_numeric_text(frame)

    def _drop_trailing_blank(self, frame: pd.DataFrame) -> pd.DataFrame:
        blank = frame.iloc[:, frame.shape[1] - self.trailing_blank:]
        filled = blank.notna().any()
        if filled.any():
            position = frame.shape[1] - self.trailing_blank + int(np.argmax(filled.to_numpy()))
            first_row = int(np.argmax(frame.iloc[:, position].notna().to_numpy()))
            raise FileFormatError(
                f"{self.name}, line 1: column {position + 1} has no name (blank header) but "
                f"holds values (first at line {self._line_of_data_row(first_row)}). Give "
                f"every column a name.", path=self.path, row=1)
        self.notes.append("the header ends with a separator: the empty unnamed last "
                          "column was ignored")
        return frame.iloc[:, : frame.shape[1] - self.trailing_blank]

    def _fix_mixed_columns(self, frame: pd.DataFrame, options: dict[str, Any]) -> pd.DataFrame:
        """Re-read as text the columns pandas filled with a mix of numbers and strings.

        pandas parses big files by blocks; a column numeric in one block and text in
        another comes out as object with mixed Python types.
        """
        mixed = [name for name in frame.columns if frame[name].dtype == object
                 and pd.api.types.infer_dtype(frame[name], skipna=True).startswith("mixed")]
        if not mixed:
            return frame
        self.notes.append("columns mixing numbers and text read as text: " + ", ".join(mixed))
        as_text = {self.raw_names.get(name, name): str for name in mixed}
        options = {**options, "dtype": {**(options["dtype"] or {}), **as_text}}
        reread = self._pandas_read(options)
        reread.columns = [str(name).strip() for name in reread.columns]
        return reread[list(frame.columns)]

    def _convert_numeric_text(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Parse decimal-comma columns pandas left as text (thousands spaces, mixed decimals)."""
        candidates = [name for name in self.comma_columns
                      if name in frame.columns and not pd.api.types.is_numeric_dtype(frame[name])]
        for name in candidates:
            numbers, failures = parse_numbers(frame[name], decimal=",", column=name,
                                              path=str(self.path))
            if failures.empty:
                frame[name] = numbers
            else:
                first = failures.iloc[0]
                line = self._line_of_data_row(int(first["row"]))
                self.notes.append(
                    f"column {name} looks numeric but not all values are numbers "
                    f"({_plural(len(failures), 'failure')}, e.g. {first['value']!r} at line "
                    f"{line}): kept as text")
        return frame

    def _line_of_data_row(self, row: int) -> int | None:
        """File line of the frame's 0-based ``row`` (blank, header and rejected lines skipped)."""
        rejected = set(self.rejected["line"].tolist())
        record = -1
        for _, first_line, _, fields in self._scan():
            if fields and first_line not in rejected:
                record += 1
                if record == row + self.has_header:  # record 0 is the header, if any
                    return first_line
        return None


def _fields_per_record(data: bytes, sep: str, *, final: bool
                       ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, int]:
    r"""Fields, blankness and start offset of each CSV record of ``data``, the offsets of
    its line breaks, and how many bytes the records use (the rest, a record that may go
    on in the next block, is for the next call; all of it when ``final``).

    Quotes are honoured as the csv module does for well-formed files: a separator or a
    line break is inside a value when an odd number of quotes comes before it (``""``
    inside a value counts twice). Runs of spaces (``sep=r"\s+"``) ignore quotes.
    """
    array = np.frombuffer(data, dtype=np.uint8)
    newlines = np.flatnonzero(array == 10)
    quoted = sep != WHITESPACE and b'"' in data
    if quoted:  # parity of the quotes so far; uint8 wraps at 256, which keeps the parity
        outside = (np.cumsum(array == 34, dtype=np.uint8) & 1) == 0
        ends = newlines[outside[newlines]]
    else:
        ends = newlines
    used = int(ends[-1]) + 1 if len(ends) else 0
    if final and used < len(array):
        ends, used = np.append(ends, len(array)), len(array)  # a last line without break
    starts = np.concatenate([[0], ends[:-1] + 1]).astype(np.int64)
    if sep == WHITESPACE:
        is_field = ~np.isin(array[:used], (9, 10, 13, 32))
        field_starts = np.flatnonzero(is_field & ~np.concatenate([[False], is_field[:-1]]))
        n_fields = np.searchsorted(field_starts, ends) - np.searchsorted(field_starts, starts)
        return n_fields, n_fields == 0, starts, newlines, used
    separators = np.flatnonzero(array[:used] == ord(sep))
    if quoted:
        separators = separators[outside[separators]]
    n_fields = np.searchsorted(separators, ends) - np.searchsorted(separators, starts) + 1
    length = ends - starts
    carriage = np.zeros(len(ends), dtype=bool)
    has_text = length > 0
    carriage[has_text] = array[ends[has_text] - 1] == 13
    return n_fields, (length - carriage) == 0, starts, newlines, used


def _at_line(line: int | None) -> str:
    return f", line {line}" if line else ""


def _list_lines(lines: list[int]) -> str:
    """ "line 5" or "lines 5, 9, 12 and 3 more" (at most MAX_LINES_IN_MESSAGE numbers)."""
    shown = ", ".join(str(line) for line in lines[:MAX_LINES_IN_MESSAGE])
    extra = len(lines) - MAX_LINES_IN_MESSAGE
    return ("line " if len(lines) == 1 else "lines ") + shown + (
        f" and {extra} more" if extra > 0 else "")


@contextlib.contextmanager
def _progress_monitor(handle: IO[bytes], total: int, description: str) -> Iterator[None]:
    """Show a byte progress bar by polling ``handle.tell()`` from a thread.

    pandas keeps parsing in one call (same speed and type inference as without a bar);
    tqdm is imported here only, so importing this module never pulls in widgets.
    """
    from tqdm.auto import tqdm

    bar = tqdm(total=total, unit="B", unit_scale=True, unit_divisor=1024, desc=description)
    stop = threading.Event()

    def poll() -> None:
        while not stop.wait(0.2):
            try:
                position = handle.tell()
            except (OSError, ValueError):  # closed under our feet: the read is over
                return
            bar.update(max(0, position - bar.n))

    thread = threading.Thread(target=poll, name="segexplore-progress", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()
        bar.update(max(0, total - bar.n))
        bar.close()


# ------------------------------------------------------------------- Parquet and Excel

def _read_parquet(path: Path) -> pd.DataFrame:
    try:
        return pd.read_parquet(path)
    except Exception as error:  # pyarrow raises several unrelated types for bad files
        raise FileFormatError(f"{path.name}: not a valid Parquet file, it may be truncated "
                              f"or corrupt ({error})", path=path) from error


def _excel_column_letter(position: int) -> str:
    letters = ""
    position += 1
    while position:
        position, remainder = divmod(position - 1, 26)
        letters = chr(ord("A") + remainder) + letters
    return letters


def _read_excel(path: Path, sheet_name: str | int | None, text_columns: Iterable[str] | None,
                progress: bool, notes: list[str]) -> tuple[pd.DataFrame, str]:
    engine = "xlrd" if path.suffix.lower() == ".xls" else "openpyxl"
    if engine == "xlrd":
        try:
            import xlrd  # noqa: F401
        except ImportError:
            raise FileFormatError(f"{path.name}: old Excel .xls files need the xlrd package "
                                  f"(pip install xlrd); or save the file as .xlsx in Excel",
                                  path=path) from None
    with path.open("rb") as handle, contextlib.ExitStack() as stack:
        # openpyxl warns about styles and data validation it ignores: noise for analysts
        stack.enter_context(warnings.catch_warnings())
        warnings.filterwarnings("ignore", category=UserWarning, module="openpyxl")
        if progress:
            stack.enter_context(_progress_monitor(handle, path.stat().st_size, path.name))
        try:
            book = stack.enter_context(pd.ExcelFile(handle, engine=engine))
        except Exception as error:  # zipfile, openpyxl and xlrd errors alike
            raise FileFormatError(f"{path.name}: not a valid Excel workbook, it may be "
                                  f"corrupt or not really .xlsx ({error})", path=path) from error
        sheets = list(book.sheet_names)
        sheet = _choose_sheet(path, sheets, sheet_name)
        where = f"sheet {sheet!r}, row 1"
        header_row = pd.read_excel(book, sheet_name=sheet, header=None, nrows=1)
        if header_row.empty:
            raise FileFormatError(f"{path.name}: sheet {sheet!r} is empty", path=path)
        raw_names = header_row.iloc[0].tolist()
        names = [_excel_header_text(value) for value in raw_names]
        _check_header_names(names, path.name, path, where=where,
                            position_label=_excel_column_letter)
        wanted = list(text_columns or [])
        missing = [name for name in wanted if name not in names]
        if missing:
            suggestion = closest_name(missing[0], [n for n in names if n])
            hint = f" Did you mean {suggestion!r}?" if suggestion else ""
            raise SchemaError(f"{path.name}: text_columns names {missing[0]!r}, which is not "
                              f"a column of sheet {sheet!r}.{hint}")
        dtype = {raw: str for raw, name in zip(raw_names, names, strict=True)
                 if name and (name in wanted or _is_text_column_name(name))}
        frame = pd.read_excel(book, sheet_name=sheet, dtype=dtype or None,
                              keep_default_na=False, na_values=NA_VALUES)
    # Cells formatted beyond the data give unnamed columns: drop them when they are empty.
    names = (names + [""] * frame.shape[1])[: frame.shape[1]]
    width = len(_rstrip_blank(names)) if any(names) else 0
    extra = frame.iloc[:, width:]
    if extra.notna().to_numpy().any():
        position = width + int(np.argmax(extra.notna().any().to_numpy()))
        raise FileFormatError(f"{path.name}, {where}: column {_excel_column_letter(position)} "
                              f"has no name but holds values. Give every column a name.",
                              path=path, row=1)
    frame = frame.iloc[:, :width]
    frame.columns = names[:width]
    if len(sheets) > 1:
        notes.append(f"sheet {sheet!r} read (workbook sheets: {', '.join(sheets)})")
    return frame, sheet


def _excel_header_text(value: object) -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def _choose_sheet(path: Path, sheets: list[str], sheet_name: str | int | None) -> str:
    listed = ", ".join(repr(name) for name in sheets)
    if sheet_name is None:
        if len(sheets) == 1:
            return sheets[0]
        raise FileFormatError(f"{path.name}: the workbook has {len(sheets)} sheets ({listed}); "
                              f"pick one by name with sheet_name=...", path=path)
    if isinstance(sheet_name, int) and not isinstance(sheet_name, bool):
        if 0 <= sheet_name < len(sheets):
            return sheets[sheet_name]
        raise FileFormatError(f"{path.name}: no sheet number {sheet_name} (0-based); the "
                              f"workbook has {len(sheets)} sheets: {listed}", path=path)
    if sheet_name in sheets:
        return sheet_name
    suggestion = closest_name(str(sheet_name), sheets)
    hint = f" Did you mean {suggestion!r}?" if suggestion else ""
    raise FileFormatError(f"{path.name}: no sheet named {sheet_name!r}; the sheets are "
                          f"{listed}.{hint}", path=path)
